// Package fragment checks the markup an html: action puts into a page: it
// must be a fragment that stays where it is put. An html: is written into
// the page as it is, and a browser reads the page's bytes after it in
// whatever state the fragment left its tokenizer and tree builder: a tag
// without its '>' takes the page's next tag for its attributes, an
// unclosed comment or <textarea> turns the rest of the page into a
// comment or text, an unclosed <div> takes in the page's content after it,
// and a stray </div> closes the page's element around it. One typo hides
// or breaks the page for every visitor the rule selects, and only a
// browser shows it; the rule checker refuses it instead, with where it is.
//
// The reference is golang.org/x/net/html, which implements the HTML
// standard's tokenizer and tree construction: Check reads the fragment
// with its tokenizer, followed by text and a tag of its own that must
// come out as they went in, and parses it inside a <div> between two
// marker elements that must come out as siblings, children of that div.
// Optional end tags (</li>, </p>, </option>) are asked for: what the page
// holds after the fragment decides whether a browser would close them,
// and the fragment cannot know it; CheckContent knows it for markup that
// ends an element of a known type, which that element's end tag follows.
// TestChromiumAgrees asks headless Chromium the same questions.
package fragment

import (
	"fmt"
	"io"
	"slices"
	"strings"

	nethtml "golang.org/x/net/html"
)

// Problem is why a fragment does not stay where it is put.
type Problem struct {
	// Off is the byte offset in the fragment of what is at fault.
	Off int
	// Msg says what is wrong and what it would do to the page; Hint how
	// to fix it.
	Msg, Hint string
	// Open is the element the markup leaves open, when that is the
	// problem.
	Open string
}

func (p *Problem) Error() string { return p.Msg + "; " + p.Hint }

// The marker tag is one no page or fragment holds; the letter before it
// continues a "<" or "</" the fragment ends with, as the page's text
// would, into a tag that swallows the marker.
const (
	endName = "bespoke-fragment-end"
	endMark = "x<" + endName + ">"
)

// rawText lists the elements whose content the tokenizer reads as text up
// to their own end tag (x/net/html's list, with scripting on).
var rawText = map[string]bool{
	"iframe": true, "noembed": true, "noframes": true, "noscript": true, "plaintext": true,
	"script": true, "style": true, "textarea": true, "title": true, "xmp": true,
}

// void lists the HTML elements that have no content and no end tag.
var void = map[string]bool{
	"area": true, "base": true, "basefont": true, "bgsound": true, "br": true, "col": true,
	"embed": true, "frame": true, "hr": true, "img": true, "input": true, "keygen": true,
	"link": true, "meta": true, "param": true, "source": true, "track": true, "wbr": true,
}

// formatting lists the elements the HTML parser opens again when an end
// tag closed them out of order.
var formatting = map[string]bool{
	"a": true, "b": true, "big": true, "code": true, "em": true, "font": true, "i": true, "nobr": true,
	"s": true, "small": true, "strike": true, "strong": true, "tt": true, "u": true,
}

// open is an element the fragment opened and has not closed.
type open struct {
	name      string
	off       int
	selfClose bool // written <name/>, which HTML elements ignore
	foreign   bool // an svg or math element, or inside one
}

// Check reports the first thing in src, the markup of an html: (with
// values from the request already replaced by text), that would change
// how a browser reads the page around it; nil when there is none.
func Check(src string) *Problem {
	stack, prob := tokens(src)
	if prob != nil {
		return prob
	}
	return tree(src, "", stack)
}

// CheckContent is Check for markup that ends an element named elem: the
// whole content set_inner gives it, or what append adds at its end. There
// the element's end tag follows the markup, and closes what HTML lets it
// close (<ul>'s end tag the last <li>, <select>'s the last <option>). An
// elem that is not a plain name of an element that may stand in a <div>
// is checked as Check does.
func CheckContent(src, elem string) *Problem {
	stack, prob := tokens(src)
	if prob != nil {
		return prob
	}
	elem = strings.ToLower(elem)
	if !contentContext(elem) {
		elem = ""
	}
	return tree(src, elem, stack)
}

// CheckTable is Check for markup that stands among the children of a
// table's row group or of a row: ctx is "tbody", "thead" or "tfoot"
// (where rows go: what append or set_inner puts in a tbody, what
// insert_before puts before a tr) or "tr" (where cells go). There a
// browser's parser moves out of the table, before it, whatever is not a
// row or a cell (text, a <div>): the markup must be rows or cells, and
// close what it opens inside them. Another ctx is checked as Check does.
func CheckTable(src, ctx string) *Problem {
	ctx = strings.ToLower(ctx)
	var outer []string
	switch ctx {
	case "tbody", "thead", "tfoot":
		outer = []string{"table", ctx}
	case "tr":
		outer = []string{"table", "tbody", "tr"}
	default:
		return Check(src)
	}
	stack, prob := tokensIn(src, outer)
	if prob != nil {
		return prob
	}
	return treeTable(src, ctx, stack)
}

// treeTable is tree for CheckTable: the markup between two markers of
// the kind ctx holds (rows, or cells), in a table.
func treeTable(src, ctx string, stack []open) *Problem {
	open, closing, marker, what := "<table id=bespoke-table><"+ctx+" id=bespoke-elem>", "</"+ctx+"></table>", "tr", "rows: <tr><td>…</td></tr>"
	if ctx == "tr" {
		open, closing, marker, what = "<table id=bespoke-table><tbody><tr id=bespoke-elem>", "</tr></tbody></table>", "td", "cells: <td>…</td>"
	}
	page := `<!DOCTYPE html><html><head></head><body><div id=bespoke-parent>` + open +
		`<` + marker + ` id=` + markerBefore + `></` + marker + `>` + src + `<` + marker + ` id=` + markerAfter + `></` + marker + `>` +
		closing + `<x-bespoke id=` + markerOut + `></x-bespoke></div></body></html>`
	ids, err := parseMarked(page, func(*nethtml.Node) bool { return true })
	if err != nil {
		return &Problem{Off: 0, Msg: "the html cannot be read: " + err.Error(), Hint: "write plain markup"}
	}
	parent, table, elem, after, out := ids["bespoke-parent"], ids["bespoke-table"], ids["bespoke-elem"], ids[markerAfter], ids[markerOut]
	if parent == nil || table == nil || elem == nil || after == nil || out == nil {
		return &Problem{Off: 0, Msg: "the html hides the page's content after it", Hint: "close every element it opens"}
	}
	// What the parser moved out of the table stands before it.
	for n := parent.FirstChild; n != nil && n != table; n = n.NextSibling {
		switch {
		case n.Type == nethtml.TextNode && strings.TrimSpace(n.Data) != "":
			return &Problem{Off: max(strings.Index(src, strings.TrimSpace(n.Data)), 0),
				Msg:  fmt.Sprintf("text cannot stand in a <%s>: browsers move it out of the table, before it", ctx),
				Hint: "write " + what}
		case n.Type == nethtml.ElementNode:
			return &Problem{Off: max(firstTag(src, n.Data), 0),
				Msg:  fmt.Sprintf("a <%s> cannot stand in a <%s>: browsers move it out of the table, before it", n.Data, ctx),
				Hint: "write " + what + ", and put the <" + n.Data + "> inside a cell"}
		}
	}
	if after.Parent == elem && table.Parent == parent && out.Parent == parent {
		return nil
	}
	// The outermost element between elem and the marker is the one the
	// fragment left open.
	var culprit *nethtml.Node
	for n := after.Parent; n != nil && n != elem && n != parent; n = n.Parent {
		culprit = n
	}
	if culprit == table || culprit == nil {
		// Not an element of the markup's: it ended the one it is put in
		// (a <tr> in a <tr>, a <tbody> in a <tbody>).
		return &Problem{Off: 0, Msg: fmt.Sprintf("the html ends the <%s> it is put in: what follows it in the page would land elsewhere", ctx),
			Hint: "write only " + what}
	}
	at := 0
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].name == culprit.Data {
			at = stack[i].off
			break
		}
	}
	return &Problem{Off: at, Msg: fmt.Sprintf("<%s> is not closed: the page's content after the html would go inside it", culprit.Data),
		Hint: fmt.Sprintf("close it with </%s>", culprit.Data), Open: culprit.Data}
}

// contentContext reports whether elem can hold the markers and the
// markup inside a <div>, as it holds them in a page.
func contentContext(elem string) bool {
	if elem == "" || void[elem] || rawText[elem] {
		return false
	}
	for i, c := range elem {
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	switch elem {
	case "tr", "td", "th", "tbody", "thead", "tfoot", "caption", "colgroup", "col",
		"html", "head", "body", "frameset", "frame", "template":
		return false
	}
	return true
}

// tokens reads src with the tokenizer and reports a construct it leaves
// open (a tag, a comment, a raw text element), an end tag of an element
// it did not open, or a tag that changes the page's own html, head or
// body. It returns the elements left open, in the order they opened.
func tokens(src string) ([]open, *Problem) {
	return tokensIn(src, nil)
}

// tokensIn is tokens for markup that stands inside the elements ctx
// (outermost first): they are open when it starts, and its end tags
// cannot close them. The stack returned holds the fragment's own.
func tokensIn(src string, ctx []string) ([]open, *Problem) {
	z := nethtml.NewTokenizer(strings.NewReader(src + endMark))
	var stack []open
	for _, name := range ctx {
		stack = append(stack, open{name: name, off: -1})
	}
	base := len(ctx)
	off := 0
	for {
		foreign := inForeign(stack)
		z.AllowCDATA(foreign)
		tt := z.Next()
		if tt == nethtml.ErrorToken {
			if z.Err() != io.EOF {
				return nil, &Problem{Off: len(src), Msg: "the html cannot be read: " + z.Err().Error(), Hint: "write plain markup"}
			}
			// The marker never came: the last token swallowed it.
			return nil, unfinished(src, off, stack)
		}
		start := off
		off += len(z.Raw())
		if start >= len(src) {
			if tt == nethtml.StartTagToken && start == len(src)+1 {
				return stack[base:], nil
			}
			if tt == nethtml.TextToken && start == len(src) && off == len(src)+1 {
				// The marker's text, read on its own: the fragment ended
				// on a token's end.
				continue
			}
			return nil, unfinished(src, min(start, len(src)), stack)
		}
		if off > len(src)+1 {
			// This token runs past the fragment into the marker.
			return nil, unfinished(src, start, stack)
		}
		name, hasAttr := z.TagName()
		tag := string(name)
		switch tt {
		case nethtml.DoctypeToken:
			return nil, &Problem{Off: start, Msg: "a <!DOCTYPE> inside a page is ignored", Hint: "remove it: an html: is a piece of a page, not a document"}
		case nethtml.StartTagToken, nethtml.SelfClosingTagToken:
			if v := slashInValue(z.Raw()); v != "" {
				// x/net/html reads the tag as closing itself; browsers
				// read the '/' as the value's, as the standard does.
				return nil, &Problem{Off: start, Msg: fmt.Sprintf("the unquoted value `%s` takes the / of />: browsers read it as part of the value, and the tag does not close itself", v),
					Hint: "quote the value, or put a space before />"}
			}
			switch tag {
			case "html", "head", "body", "frameset":
				return nil, &Problem{Off: start, Msg: fmt.Sprintf("a <%s> tag inside a page adds its attributes to the page's own <%s>", tag, tag),
					Hint: fmt.Sprintf("remove the <%s> tag and keep what it holds; to change the page's <%s>, select it and use set_attr or add_class", tag, tag)}
			}
			if foreign && (breakout[tag] || tag == "font" && hasAttr && fontBreaksOut(z)) {
				// An HTML tag in svg or math content closes it.
				for len(stack) > 0 && inForeign(stack) {
					stack = stack[:len(stack)-1]
				}
				foreign = false
			}
			f := foreign || tag == "svg" || tag == "math"
			if f {
				// The tokenizer does not know that <title> or <style> in
				// svg are not raw text; the tree builder tells it.
				z.NextIsNotRawText()
			}
			if f && tt == nethtml.SelfClosingTagToken {
				continue // <path/> ends itself in svg and math
			}
			if !f && tablePart[tag] && !opened(stack, "table", "template") {
				// Outside a table the parser drops it; in a table's
				// cell, which a selector such as #price may name, it
				// ends that cell (and a <tr>, the row), and what
				// follows lands in new ones. Either way it does not do
				// what it says. (CheckTable reads rows and cells where
				// the selector names where they go.)
				return nil, &Problem{Off: start, Msg: fmt.Sprintf("a <%s> outside a <table> of the html's own: browsers drop it, or, in a table's cell, end that cell there and put what follows in new cells", tag),
					Hint: "wrap it in its own <table>, or select the table element it goes in by its tag name (#sizes tbody for rows, #sizes tr for cells), where the html is checked as rows or cells"}
			}
			if !f && void[tag] {
				continue
			}
			stack = append(stack, open{name: tag, off: start, selfClose: tt == nethtml.SelfClosingTagToken, foreign: f})
		case nethtml.EndTagToken:
			i := len(stack) - 1
			for i >= base && stack[i].name != tag {
				i--
			}
			if i < base {
				if slices.Contains(ctx, tag) {
					return nil, &Problem{Off: start, Msg: fmt.Sprintf("</%s> closes an element this html did not open", tag),
						Hint: fmt.Sprintf("remove it: in the page, it would close the <%s> the html is put in", tag)}
				}
				i = -1
			}
			if i < 0 && walled(stack, tag) {
				continue // the parser ignores it: it cannot reach the page's elements
			}
			if i < 0 && void[tag] {
				hint := "remove it"
				if tag == "br" {
					hint = "write <br> (browsers read </br> as one)"
				}
				return nil, &Problem{Off: start, Msg: fmt.Sprintf("</%s> is not a tag: <%s> has no end tag", tag, tag), Hint: hint}
			}
			if i < 0 {
				hint := fmt.Sprintf("remove it: in the page, it would close the <%s> the html is put in, or one around it", tag)
				if tag == "p" {
					hint = "remove it: in the page, it would close a <p> around the html, or add an empty paragraph"
				}
				return nil, &Problem{Off: start, Msg: fmt.Sprintf("</%s> closes an element this html did not open", tag), Hint: hint}
			}
			// What it leaves open inside is closed with it, as browsers
			// do, but for formatting elements, which browsers open again
			// after it (<b><i>x</b></i> closes an <i>); the tree check
			// below says whether the result stays put.
			kept := stack[:i]
			for _, o := range stack[i+1:] {
				if formatting[o.name] && !o.foreign {
					kept = append(kept, o)
				}
			}
			stack = kept
		}
	}
}

// slashInValue returns the value of the last attribute of the tag raw
// when it is unquoted and runs into the tag's closing "/>" (<img
// src=a.png/>: the value is "a.png/"), else "".
func slashInValue(raw []byte) string {
	if len(raw) < 3 || raw[len(raw)-2] != '/' || raw[len(raw)-1] != '>' {
		return ""
	}
	// Walk the tag as the tokenizer does, to the '/' before the '>'.
	const (
		name = iota
		beforeAttr
		attr
		afterAttr
		beforeValue
		quoted
		unquoted
	)
	st, q, valStart := name, byte(0), 0
	end := len(raw) - 2
	for i := 1; i < end; i++ {
		c := raw[i]
		space := c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
		switch st {
		case name, attr:
			switch {
			case space && st == name:
				st = beforeAttr
			case space:
				st = afterAttr
			case c == '=' && st == attr:
				st = beforeValue
			case c == '/':
				st = beforeAttr
			}
		case beforeAttr, afterAttr:
			switch {
			case space, c == '/':
			case c == '=' && st == afterAttr:
				st = beforeValue
			default:
				st = attr
			}
		case beforeValue:
			switch {
			case space:
			case c == '"' || c == '\'':
				st, q = quoted, c
			default:
				st, valStart = unquoted, i
			}
		case quoted:
			if c == q {
				st = beforeAttr
			}
		case unquoted:
			if space {
				st = beforeAttr
			}
		}
	}
	switch st {
	case unquoted:
		return string(raw[valStart:end]) + "/"
	case beforeValue:
		return "/" // <a b=/>: the value is the slash
	}
	return ""
}

// inForeign reports whether the fragment's tokens are in svg or math
// content: an svg or math element is open, and the innermost is not one
// that holds HTML.
func inForeign(stack []open) bool {
	if len(stack) == 0 {
		return false
	}
	top := stack[len(stack)-1]
	return top.foreign && !integration[top.name]
}

// integration lists the svg and math elements whose content is HTML
// (the HTML standard's integration points, annotation-xml taken as one).
var integration = map[string]bool{
	"foreignobject": true, "desc": true, "title": true, "annotation-xml": true,
	"mi": true, "mo": true, "mn": true, "ms": true, "mtext": true,
}

// breakout lists the start tags that end svg or math content.
var breakout = map[string]bool{
	"b": true, "big": true, "blockquote": true, "body": true, "br": true, "center": true, "code": true,
	"dd": true, "div": true, "dl": true, "dt": true, "em": true, "embed": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "head": true, "hr": true, "i": true, "img": true,
	"li": true, "listing": true, "menu": true, "meta": true, "nobr": true, "ol": true, "p": true,
	"pre": true, "ruby": true, "s": true, "small": true, "span": true, "strong": true, "strike": true,
	"sub": true, "sup": true, "table": true, "tt": true, "u": true, "ul": true, "var": true,
}

// fontBreaksOut reports whether the <font> tag z read has a color, face
// or size attribute, which makes it end svg or math content.
func fontBreaksOut(z *nethtml.Tokenizer) bool {
	for {
		key, _, more := z.TagAttr()
		switch string(key) {
		case "color", "face", "size":
			return true
		}
		if !more {
			return false
		}
	}
}

// tablePart lists the start tags the parser ignores outside a table.
var tablePart = map[string]bool{
	"caption": true, "col": true, "colgroup": true, "tbody": true, "td": true, "tfoot": true,
	"th": true, "thead": true, "tr": true,
}

// opened reports whether the fragment has an HTML element of one of the
// names open.
func opened(stack []open, names ...string) bool {
	for _, o := range stack {
		if !o.foreign && slices.Contains(names, o.name) {
			return true
		}
	}
	return false
}

// walled reports whether the fragment has an element open that an end
// tag named tag, of no element the fragment opened, cannot see past: a
// <select>, in which browsers ignore every end tag but its own and its
// options'; or an element that bounds the scope the parser looks for
// the element to close in (a <table>, a cell, an <object>, a <template>,
// an svg or math element that holds HTML, and for </p> a <button>).
func walled(stack []open, tag string) bool {
	for _, o := range stack {
		if o.foreign {
			if integration[o.name] {
				return true
			}
			continue
		}
		switch o.name {
		case "select", "applet", "caption", "table", "td", "th", "marquee", "object", "template":
			return true
		case "button":
			if tag == "p" {
				return true
			}
		}
	}
	return false
}

// unfinished reports the construct that starts at src[at:] and runs past
// the fragment's end.
func unfinished(src string, at int, stack []open) *Problem {
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		if rawText[top.name] && !top.foreign {
			what := "text"
			if top.name == "script" || top.name == "style" {
				what = "its " + top.name
			}
			if top.name == "plaintext" {
				return &Problem{Off: top.off, Msg: "<plaintext> makes the rest of the page plain text", Hint: "remove it; it has no end tag"}
			}
			return &Problem{Off: top.off, Msg: fmt.Sprintf("<%s> is not closed: the rest of the page would be read as %s", top.name, what),
				Hint: fmt.Sprintf("close it with </%s>", top.name)}
		}
	}
	rest := src[at:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		return &Problem{Off: at, Msg: "the comment is not closed: the rest of the page would be part of it", Hint: "end it with -->"}
	case strings.HasPrefix(rest, "<![CDATA["):
		return &Problem{Off: at, Msg: "the CDATA section is not closed: the rest of the page would be part of it", Hint: "end it with ]]>"}
	case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?"):
		return &Problem{Off: at, Msg: fmt.Sprintf("`%s` is not closed: the page's next tag would be part of it", short(rest)), Hint: "end it with >, or write &lt; for a literal <"}
	case rest == "<" || rest == "</":
		return &Problem{Off: at, Msg: fmt.Sprintf("the html ends with `%s`, which the page's next text would continue into a tag", rest), Hint: "write &lt; for the character, or remove it"}
	case strings.HasPrefix(rest, "<"):
		hint := "end it with >"
		if q := openQuote(rest); q != 0 {
			hint = fmt.Sprintf("close the value's %c quote, and end the tag with >", q)
		}
		return &Problem{Off: at, Msg: fmt.Sprintf("the tag `%s` is not closed: it would take the page's next tag for its attributes", short(rest)), Hint: hint}
	}
	return &Problem{Off: at, Msg: "the html ends inside markup", Hint: "close what it opens"}
}

// openQuote returns the quote of the attribute value tag (a tag without
// its '>') leaves open, or 0.
func openQuote(tag string) byte {
	var q byte
	afterEq := false
	for i := 1; i < len(tag); i++ {
		c := tag[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '=':
			afterEq = true
			continue
		case afterEq && (c == '"' || c == '\''):
			q = c
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			continue
		}
		afterEq = false
	}
	return q
}

// short returns the start of s, for a message.
func short(s string) string {
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// The ids of the marker elements tree puts around the fragment.
const (
	markerBefore = "bespoke-before"
	markerAfter  = "bespoke-after"
	markerOut    = "bespoke-outside"
)

// tree parses src inside a <div> between two markers (with elem, inside
// an elem in the div, the second marker after its end tag), and reports
// the element that takes in the marker after it, or that comes back
// after the div. stack is what the tokens left open, to say where it
// opened.
func tree(src, elem string, stack []open) *Problem {
	// The markers are custom elements: a tag such as <i> would leave the
	// svg or math element a fragment leaves open, where the page's next
	// tag, if it is not one of those, would not.
	start, end := "", ""
	if elem != "" {
		start, end = "<"+elem+" id=bespoke-elem>", "</"+elem+">"
	}
	page := `<!DOCTYPE html><html><head></head><body><div id=bespoke-parent>` + start + `<x-bespoke id=` + markerBefore + `></x-bespoke>` +
		src + end + `<x-bespoke id=` + markerAfter + `></x-bespoke></div><x-bespoke id=` + markerOut + `></x-bespoke></body></html>`
	ids, err := parseMarked(page, func(n *nethtml.Node) bool { return n.Data == "x-bespoke" || n.Data == "div" || n.Data == elem })
	if err != nil {
		return &Problem{Off: 0, Msg: "the html cannot be read: " + err.Error(), Hint: "write plain markup"}
	}
	parent, after, out := ids["bespoke-parent"], ids[markerAfter], ids[markerOut]
	if parent == nil || after == nil || out == nil {
		return &Problem{Off: 0, Msg: "the html hides the page's content after it", Hint: "close every element it opens"}
	}
	in := ids["bespoke-elem"]
	if after.Parent == parent && out.Parent == parent.Parent && parent.Parent != nil && parent.Parent.Data == "body" &&
		(elem == "" || in != nil && in.Parent == parent) {
		if elem != "" {
			return escaped(src, elem, in, after)
		}
		return nil
	}
	// The outermost element between the div (or elem) and the marker is
	// the one the fragment left open.
	var culprit *nethtml.Node
	for n := after.Parent; n != nil && n != parent && (in == nil || n != in); n = n.Parent {
		culprit = n
	}
	if culprit == nil {
		for n := out.Parent; n != nil && n.Data != "body"; n = n.Parent {
			culprit = n
		}
	}
	if culprit == nil {
		return &Problem{Off: 0, Msg: "the html moves the page's content after it", Hint: "close every element it opens, and only those"}
	}
	name := culprit.Data
	at, self := 0, false
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].name == name {
			at, self = stack[i].off, stack[i].selfClose
			break
		}
	}
	hint := fmt.Sprintf("close it with </%s>", name)
	switch {
	case self:
		hint = fmt.Sprintf("<%s/> does not end an HTML element: write <%s></%s>", name, name, name)
	case optionalEnd[name]:
		hint = fmt.Sprintf("close it with </%s>: a page may leave it out, but what follows the html on the page decides whether a browser closes it", name)
	}
	return &Problem{Off: at, Msg: fmt.Sprintf("<%s> is not closed: the page's content after the html would go inside it", name), Hint: hint, Open: name}
}

// parseMarked parses page and returns its elements with a bespoke- id,
// of those keep accepts, by id. The wrappers come before the markup, the
// markers after it: a copy of a wrapper's id in the markup does not take
// its place, and a copy of a marker's does not either, the page's own
// marker coming last.
func parseMarked(page string, keep func(*nethtml.Node) bool) (map[string]*nethtml.Node, error) {
	doc, err := nethtml.Parse(strings.NewReader(page))
	if err != nil {
		return nil, err
	}
	ids := map[string]*nethtml.Node{}
	var walk func(n *nethtml.Node)
	walk = func(n *nethtml.Node) {
		if n.Type == nethtml.ElementNode && keep(n) {
			for _, a := range n.Attr {
				if a.Key != "id" || !strings.HasPrefix(a.Val, "bespoke-") {
					continue
				}
				if _, seen := ids[a.Val]; !seen || a.Val == markerAfter || a.Val == markerOut {
					ids[a.Val] = n
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return ids, nil
}

// escaped reports markup that a browser moves out of the element elem
// (in, in the parsed page) it is the content of: a <div> in a <p>, an <a>
// in an <a>, a <p> in a <p>, which close the element before them, so
// that what the rule writes lands after the element instead, and the
// element's end tag may add an empty one. Then something other than the
// marker after follows in.
func escaped(src, elem string, in, after *nethtml.Node) *Problem {
	n := in.NextSibling
	for n != nil && n.Type == nethtml.TextNode && strings.TrimSpace(n.Data) == "" {
		n = n.NextSibling
	}
	if n == after {
		return nil
	}
	for m := n; m != nil && m != after; m = m.NextSibling {
		if m.Type == nethtml.ElementNode && (m.Data != elem || firstTag(src, m.Data) >= 0) {
			hint := fmt.Sprintf("use an element a <%s> can hold, or select the element around it", elem)
			if elem == "p" {
				hint = "use an element a <p> can hold (a <span> for a <div>), or select the element around it"
			}
			return &Problem{Off: max(firstTag(src, m.Data), 0),
				Msg:  fmt.Sprintf("a <%s> cannot be inside a <%s>: browsers close the <%s> before it, and the html lands after the element", m.Data, elem, elem),
				Hint: hint}
		}
	}
	return &Problem{Off: 0, Msg: fmt.Sprintf("part of the html cannot be inside a <%s>: browsers move it after the element", elem),
		Hint: fmt.Sprintf("write only what a <%s> can hold", elem)}
}

// firstTag returns the offset of the first start tag named name in src,
// or -1.
func firstTag(src, name string) int {
	z := nethtml.NewTokenizer(strings.NewReader(src))
	off := 0
	for {
		tt := z.Next()
		if tt == nethtml.ErrorToken {
			return -1
		}
		if tt == nethtml.StartTagToken || tt == nethtml.SelfClosingTagToken {
			if t, _ := z.TagName(); string(t) == name {
				return off
			}
		}
		off += len(z.Raw())
	}
}

// ImpliedEnd reports whether the parser closes an element named name by
// itself when the end tag of an element around it comes (the HTML
// standard's "generate implied end tags": a list's <li>, a select's
// <option>, a <p>): CheckContent accepts markup that leaves one open.
func ImpliedEnd(name string) bool {
	switch name {
	case "dd", "dt", "li", "optgroup", "option", "p", "rb", "rp", "rt", "rtc":
		return true
	}
	return false
}

// optionalEnd lists the elements whose end tag HTML lets a page leave out.
var optionalEnd = map[string]bool{
	"li": true, "dt": true, "dd": true, "p": true, "rt": true, "rp": true, "rb": true, "rtc": true,
	"optgroup": true, "option": true, "colgroup": true, "caption": true, "thead": true, "tbody": true,
	"tfoot": true, "tr": true, "td": true, "th": true,
}
