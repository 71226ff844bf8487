package escape

import (
	"strings"

	nethtml "golang.org/x/net/html"
)

// Piece is a part of a template as these checks see it: literal text, or
// a value from the request.
type Piece struct {
	// Text is the literal text; for a value, the default it falls back to
	// (the rule author's text) when the request has none.
	Text string
	// Value says the piece is a value.
	Value bool
}

// In is where a piece of an html: template lands (SplitHTML).
type In uint8

const (
	// InMarkup is literal markup, written as it is.
	InMarkup In = iota
	// InText is a value in text, or in a quoted ordinary attribute value:
	// it is HTML-escaped.
	InText
	// InAttrURL is a piece of the value of a URL attribute that holds a
	// value: the pieces of one attribute value share a Group, and are
	// rendered together as that URL (literal pieces carry the markup as
	// written; the URL text is what a browser decodes from it).
	InAttrURL
)

// HTMLPiece is a piece of an html: template, with where it lands.
type HTMLPiece struct {
	Piece
	In In
	// Kind is the attribute's kind (URL, URLs or SrcSet), for InAttrURL.
	Kind Kind
	// Group numbers the URL attribute values, from 0, for InAttrURL.
	Group int
	// Source is the index of the piece of the template this one is (part
	// of).
	Source int
}

// htmlState is a state of the HTML standard's tokenizer, for the few
// states a template's markup can leave it in.
type htmlState uint8

const (
	hData htmlState = iota
	hRCDATA
	hRawText
	hPlainText
	hTagOpen
	hEndTagOpen
	hTagName
	hBeforeAttrName
	hAttrName
	hAfterAttrName
	hBeforeAttrValue
	hAttrValueDQ
	hAttrValueSQ
	hAttrValueUQ
	hAfterAttrValueQ
	hSelfClosing
	hMarkupDecl
	hComment
	hBogusComment
)

// htmlScanner follows the tokenizer over the literal markup of a
// template, piece by piece, to tell where each value lands.
type htmlScanner struct {
	st     htmlState
	endTag bool   // the tag being read is an end tag
	tag    string // the tag's name, lower case
	attr   string // the attribute being read, lower case
	raw    string // the element whose text is being read (hRCDATA, hRawText)
	// comment counts the bytes of the comment read so far; tail holds
	// its last three.
	comment int
	tail    [3]byte
	decl    []byte // what follows "<!" so far
	// unsure says why values can no longer be placed: what came before
	// is parsed in ways this scanner does not follow.
	unsure string
	// Per start tag: whether it has http-equiv, and the piece (+1) of a
	// value in its content attribute. metaBad is such a piece, found
	// when a <meta http-equiv> tag ended.
	httpEquiv    bool
	contentValue int
	metaBad      int
}

// rcdata and rawtext are the elements whose content the tokenizer reads
// as text up to their end tag.
var (
	rcdata  = map[string]bool{"title": true, "textarea": true}
	rawtext = map[string]bool{"style": true, "xmp": true, "iframe": true, "noembed": true, "noframes": true, "noscript": true, "script": true}
)

// text advances the scanner over literal markup s, calling step (when
// not nil) after each byte j with the state before it.
func (z *htmlScanner) text(s string, step func(j int, before htmlState)) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		before := z.st
		switch z.st {
		case hData:
			if c == '<' {
				z.st = hTagOpen
			}
		case hRCDATA, hRawText:
			if c != '<' {
				break
			}
			if z.raw == "script" && strings.HasPrefix(s[i:], "<!--") {
				z.unsure = "a value after a <script> holding <!--, whose end only a full HTML parser finds"
			}
			j := i + 2 + len(z.raw)
			if j < len(s) && s[i+1] == '/' && strings.EqualFold(s[i+2:j], z.raw) && (isHTMLSpace(s[j]) || s[j] == '/' || s[j] == '>') {
				z.st, z.endTag, z.tag, z.raw = hBeforeAttrName, true, "", ""
				if step != nil {
					for k := i; k < j-1; k++ {
						step(k, before)
					}
				}
				i = j - 1
			}
		case hPlainText:
		case hTagOpen:
			switch {
			case isLetter(c):
				z.st, z.endTag, z.tag = hTagName, false, string(lowerASCII(c))
				z.httpEquiv, z.contentValue = false, 0
			case c == '/':
				z.st = hEndTagOpen
			case c == '!':
				z.st, z.decl = hMarkupDecl, z.decl[:0]
			case c == '?':
				z.st = hBogusComment
			default:
				z.st = hData
				i--
				continue
			}
		case hEndTagOpen:
			switch {
			case isLetter(c):
				z.st, z.endTag, z.tag = hTagName, true, string(lowerASCII(c))
			case c == '>':
				z.st = hData
			default:
				z.st = hBogusComment
			}
		case hTagName:
			switch {
			case isHTMLSpace(c):
				z.st = hBeforeAttrName
			case c == '/':
				z.st = hSelfClosing
			case c == '>':
				z.emit()
			default:
				z.tag += string(lowerASCII(c))
			}
		case hBeforeAttrName:
			switch {
			case isHTMLSpace(c):
			case c == '/' || c == '>':
				z.st = hAfterAttrName
				i--
				continue
			default:
				z.st, z.attr = hAttrName, string(lowerASCII(c))
			}
		case hAttrName:
			switch {
			case isHTMLSpace(c):
				z.st = hAfterAttrName
			case c == '/':
				z.st = hSelfClosing
			case c == '=':
				z.st = hBeforeAttrValue
			case c == '>':
				z.noteAttr()
				z.emit()
			default:
				z.attr += string(lowerASCII(c))
			}
			if z.st != hAttrName {
				z.noteAttr()
			}
		case hAfterAttrName:
			switch {
			case isHTMLSpace(c):
			case c == '/':
				z.st = hSelfClosing
			case c == '=':
				z.st = hBeforeAttrValue
			case c == '>':
				z.emit()
			default:
				z.st, z.attr = hAttrName, string(lowerASCII(c))
			}
		case hBeforeAttrValue:
			switch {
			case isHTMLSpace(c):
			case c == '"':
				z.st = hAttrValueDQ
			case c == '\'':
				z.st = hAttrValueSQ
			case c == '>':
				z.emit()
			default:
				z.st = hAttrValueUQ
			}
		case hAttrValueDQ:
			if c == '"' {
				z.st = hAfterAttrValueQ
			}
		case hAttrValueSQ:
			if c == '\'' {
				z.st = hAfterAttrValueQ
			}
		case hAttrValueUQ:
			switch {
			case isHTMLSpace(c):
				z.st = hBeforeAttrName
			case c == '>':
				z.emit()
			}
		case hAfterAttrValueQ:
			switch {
			case isHTMLSpace(c):
				z.st = hBeforeAttrName
			case c == '/':
				z.st = hSelfClosing
			case c == '>':
				z.emit()
			default:
				z.st = hBeforeAttrName
				i--
				continue
			}
		case hSelfClosing:
			if c != '>' {
				z.st = hBeforeAttrName
				i--
				continue
			}
			z.emit()
		case hMarkupDecl:
			// "<!--" opens a comment; anything else ("<!DOCTYPE",
			// "<![CDATA[" outside foreign content) is a bogus comment.
			z.decl = append(z.decl, c)
			switch string(z.decl) {
			case "-":
			case "--":
				z.st, z.comment, z.tail = hComment, 0, [3]byte{}
			default:
				z.st = hBogusComment
				i--
				continue
			}
		case hComment:
			// It ends at "-->" or "--!>", and at once in "<!-->" and
			// "<!--->".
			t := z.tail
			if c == '>' && (z.comment == 0 ||
				z.comment == 1 && t[2] == '-' ||
				z.comment >= 2 && t[1] == '-' && t[2] == '-' ||
				z.comment >= 3 && t[0] == '-' && t[1] == '-' && t[2] == '!') {
				z.st = hData
				break
			}
			z.comment++
			z.tail = [3]byte{t[1], t[2], c}
		case hBogusComment:
			if c == '>' {
				z.st = hData
			}
		}
		if step != nil {
			step(i, before)
		}
	}
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// noteAttr notes what the attribute name just read says of its tag.
func (z *htmlScanner) noteAttr() {
	if z.attr == "http-equiv" && !z.endTag {
		z.httpEquiv = true
	}
}

// emit ends the tag being read.
func (z *htmlScanner) emit() {
	z.st = hData
	if z.endTag {
		return
	}
	if z.tag == "meta" && z.httpEquiv && z.contentValue != 0 && z.metaBad == 0 {
		z.metaBad = z.contentValue
	}
	switch {
	case z.tag == "svg" || z.tag == "math":
		z.unsure = "a value after <svg> or <math>, which browsers parse as foreign content"
	case z.tag == "plaintext":
		z.st = hPlainText
	case rcdata[z.tag]:
		z.st, z.raw = hRCDATA, z.tag
	case rawtext[z.tag]:
		z.st, z.raw = hRawText, z.tag
	}
}

// SplitHTML says where each value of an html: template lands, splitting
// its literal pieces where a URL attribute's value starts and ends. A
// value may go in text, or in a quoted attribute value; in a URL
// attribute it is part of that URL (see Locate and SameOrigins). A
// Problem names the first value that lands where no escaping makes it
// safe: inside a tag but not in a quoted value, in a comment, in the text
// of <script>, <style> or another element whose text is not markup, in a
// code attribute (on*, style, srcdoc ...), in the address of a script,
// style sheet or base, in a <meta http-equiv>'s content, after an <svg>
// or <math> (whose parsing differs), or in a template that ends inside a
// tag or comment. A template without values is markup, as written: it
// is the rule author's.
func SplitHTML(pieces []Piece) ([]HTMLPiece, *Problem) {
	hasValue := false
	for _, p := range pieces {
		hasValue = hasValue || p.Value
	}
	if !hasValue {
		out := make([]HTMLPiece, len(pieces))
		for i, p := range pieces {
			out[i] = HTMLPiece{Piece: p, Source: i}
		}
		return out, nil
	}
	var (
		z       htmlScanner
		out     []HTMLPiece
		group   = -1 // the URL group of the attribute value being read
		groups  int
		attrOut = -1 // len(out) when the quoted value being read opened
	)
	for i, p := range pieces {
		if !p.Value {
			// Split the text where a quoted value opens (a later value
			// may make it a URL group) and where a URL group closes.
			s := p.Text
			start := 0
			z.text(s, func(j int, before htmlState) {
				switch {
				case (before == hAttrValueDQ || before == hAttrValueSQ) && z.st == hAfterAttrValueQ:
					if group >= 0 {
						if j > start {
							out = append(out, HTMLPiece{Piece: Piece{Text: s[start:j]}, In: InAttrURL, Kind: out[len(out)-1].Kind, Group: group, Source: i})
						}
						start, group = j, -1
					}
					attrOut = -1
				case (z.st == hAttrValueDQ || z.st == hAttrValueSQ) && before == hBeforeAttrValue:
					out = append(out, HTMLPiece{Piece: Piece{Text: s[start : j+1]}, In: InMarkup, Source: i})
					start = j + 1
					attrOut = len(out)
				}
			})
			if start < len(s) {
				hp := HTMLPiece{Piece: Piece{Text: s[start:]}, In: InMarkup, Source: i}
				if group >= 0 {
					hp.In, hp.Kind, hp.Group = InAttrURL, out[len(out)-1].Kind, group
				}
				out = append(out, hp)
			}
			continue
		}
		if prob := z.value(i); prob != nil {
			return nil, prob
		}
		if z.st == hData {
			out = append(out, HTMLPiece{Piece: p, In: InText, Source: i})
			continue
		}
		kind, _ := AttrKind(z.attr)
		if kind == Text {
			if MetaContent(z.tag, z.attr) && z.contentValue == 0 {
				z.contentValue = i + 1
			}
			out = append(out, HTMLPiece{Piece: p, In: InText, Source: i})
			continue
		}
		if group < 0 {
			// The attribute becomes a URL group, with the literal text
			// since its opening quote.
			group, groups = groups, groups+1
			for k := attrOut; k >= 0 && k < len(out); k++ {
				out[k].In, out[k].Kind, out[k].Group = InAttrURL, kind, group
			}
		}
		out = append(out, HTMLPiece{Piece: p, In: InAttrURL, Kind: kind, Group: group, Source: i})
	}
	if z.metaBad != 0 {
		return nil, metaProblem(z.metaBad - 1)
	}
	switch z.st {
	case hData, hRCDATA, hRawText, hPlainText:
	default:
		if z.tag == "meta" && z.httpEquiv && z.contentValue != 0 {
			return nil, metaProblem(z.contentValue - 1)
		}
		return nil, &Problem{Piece: len(pieces) - 1, Msg: "the markup ends inside a tag or comment, which the page's own markup would then continue", Hint: "close the tag or the comment"}
	}
	return merge(out), nil
}

func metaProblem(piece int) *Problem {
	return &Problem{Piece: piece, Msg: "a value in the content of a <meta http-equiv>, which acts as a header such as refresh", Hint: "write the content out, or use set_header"}
}

// value checks the state a value at piece i lands in.
func (z *htmlScanner) value(i int) *Problem {
	if z.unsure != "" {
		return &Problem{Piece: i, Msg: z.unsure, Hint: "insert the value with set_inner or set_attr on the page's own elements"}
	}
	switch z.st {
	case hData:
		return nil
	case hRCDATA, hRawText, hPlainText:
		if RawTextCode(z.raw) {
			return &Problem{Piece: i, Msg: "a value inside <" + z.raw + "> would be code", Hint: "put the value in a data- attribute and read it from the script"}
		}
		return &Problem{Piece: i, Msg: "a value inside <" + z.raw + ">, whose text is not markup", Hint: "place the value outside it"}
	case hComment, hBogusComment, hMarkupDecl:
		return &Problem{Piece: i, Msg: "a value inside an HTML comment or declaration", Hint: "place the value outside it"}
	case hAttrValueDQ, hAttrValueSQ:
		if z.endTag {
			return &Problem{Piece: i, Msg: "a value inside an end tag", Hint: "place the value in a start tag's attribute or in text"}
		}
		kind, why := AttrKind(z.attr)
		switch {
		case kind == Code:
			return &Problem{Piece: i, Msg: "a value in the " + z.attr + " attribute: " + why, Hint: "put the value in a data- attribute and read it from the page's script"}
		case TagAttrCode(z.tag, z.attr) != "":
			return &Problem{Piece: i, Msg: "a value in the " + z.attr + " of <" + z.tag + ">: " + TagAttrCode(z.tag, z.attr), Hint: "write the value out"}
		}
		return nil
	}
	return &Problem{Piece: i, Msg: "a value inside a tag but not in a quoted attribute value", Hint: `quote the attribute's value: title="{{ … }}"`}
}

// merge joins adjacent markup pieces.
func merge(ps []HTMLPiece) []HTMLPiece {
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && p.In == InMarkup && out[n-1].In == InMarkup {
			out[n-1].Text += p.Text
			continue
		}
		if p.In == InMarkup && p.Text == "" {
			continue
		}
		out = append(out, p)
	}
	return out
}

// DecodeAttr decodes the character references of a quoted attribute
// value as a browser does (which differs from text: "?a=1&copy=2" keeps
// "&copy"), with x/net/html's tokenizer.
func DecodeAttr(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	z := nethtml.NewTokenizer(strings.NewReader(`<a x="` + strings.ReplaceAll(s, `"`, "&quot;") + `">`))
	if z.Next() != nethtml.StartTagToken {
		return s
	}
	_, v, _ := z.TagAttr()
	return string(v)
}
