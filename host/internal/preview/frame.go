package preview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	nethtml "golang.org/x/net/html"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
)

// How the frames show what changed: the page is rewritten by the plugin's
// own rewriter, with edits added that only mark elements (add_class never
// conflicts with anything):
//
//   - after: each element a rule changed gets the classes bsk-edit and
//     bsk-r<rule index>; inserted content is wrapped in a <bespoke-edit>
//     element (an unknown element, which HTML parsers leave where it is);
//   - before: each element a rule targets gets bsk-target (or bsk-removed
//     when the rule removes or replaces it) and bsk-r<rule index>;
//   - both: each item of a list a rule limits, reorders or filters by
//     what the visitor has seen gets bsk-list and bsk-r<rule index> (and
//     bsk-key-<attribute> naming the items' id attribute, when the edit
//     has one); the preview page matches the items of the two frames by
//     it and marks those the visitor does not get (bsk-gone, before) and
//     those that moved (bsk-moved, after).
//
// The frames are sandboxed without scripts; the preview page reads the
// marks to name each element's rules and to focus a rule's elements.

// frameSandbox is what a frame may do: keep the preview's origin, so that
// the page can read its marks, and nothing else (no scripts, forms,
// pop-ups or navigating the page). The page's iframes have it as their
// sandbox attribute, and /frame sends it as a Content-Security-Policy
// sandbox: the origin's page, scripts included, is served on the
// preview's origin, and opened on its own (a link, the address bar)
// rather than in the page's iframe it would otherwise run them there,
// where they could read the rules and have the origin fetched.
const frameSandbox = "allow-same-origin"

// frameStyle is added to both frames' heads. The frames run no script
// (frameSandbox), so a <noscript> would show what visitors, whose
// browsers run the page's scripts, never see: it is hidden.
const frameStyle = `<style id="bespoke-preview-style">
noscript{display:none!important}
.bsk-edit{outline:3px solid #e6007e!important;outline-offset:2px}
bespoke-edit,.bsk-ins{outline:3px dashed #e6007e;outline-offset:2px}
bespoke-edit.bsk-block{display:block}
.bsk-target{outline:3px solid #1f6feb!important;outline-offset:2px}
.bsk-removed{outline:3px dashed #6e7781!important;opacity:.55}
.bsk-list{outline:2px dotted #8250df!important;outline-offset:2px}
.bsk-gone{outline:3px dashed #8250df!important;opacity:.45}
.bsk-moved{outline:3px solid #8250df!important}
.bsk-focus{outline-width:5px!important;box-shadow:0 0 0 9999px rgba(255,255,255,.35)}
</style>`

// blockTag matches content that starts with a block-level element, which
// its highlight wrapper must not put inside a line. Spaces and comments
// before it do not count, as the parser does not count them.
var blockTag = regexp.MustCompile(`(?is)^(?:\s|<!--.*?-->)*<(div|p|section|aside|header|footer|nav|ul|ol|li|table|form|h[1-6]|figure|article|main|blockquote|pre|hr|details|dl)\b`)

// markAfter returns the plan's edits with inserted content wrapped and
// marks added on the elements that change.
func markAfter(edits []rewrite.Edit, rules []int) []rewrite.Edit {
	out := make([]rewrite.Edit, 0, 3*len(edits))
	var marks []rewrite.Edit
	for i, e := range edits {
		r := rules[i]
		if r < 0 {
			out = append(out, e)
			continue
		}
		switch e.Op {
		case rewrite.InsertBefore, rewrite.InsertAfter, rewrite.Prepend, rewrite.Append, rewrite.Replace:
			e.Content = wrap(e.Content, r)
		}
		out = append(out, e)
		switch e.Op {
		case rewrite.Remove, rewrite.RemoveKeepContent, rewrite.Replace, rewrite.InsertBefore, rewrite.InsertAfter:
		case rewrite.Limit, rewrite.Reorder, rewrite.HideSeen:
			// The items kept, in their new order, get a lighter mark:
			// set beside the before frame's, it shows which went and
			// which moved.
			marks = append(marks, listMarks(e, r)...)
		default:
			marks = append(marks,
				rewrite.Edit{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-edit"},
				rewrite.Edit{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-r" + strconv.Itoa(r)})
		}
	}
	return append(out, marks...)
}

// markBefore returns only marks: on every element the plan's edits target.
func markBefore(edits []rewrite.Edit, rules []int) []rewrite.Edit {
	var out []rewrite.Edit
	for i, e := range edits {
		r := rules[i]
		if r < 0 {
			continue
		}
		class := "bsk-target"
		switch e.Op {
		case rewrite.Remove, rewrite.Replace, rewrite.RemoveKeepContent:
			class = "bsk-removed"
		case rewrite.Limit, rewrite.Reorder, rewrite.HideSeen:
			out = append(out, listMarks(e, r)...)
			continue
		}
		out = append(out,
			rewrite.Edit{Selector: e.Selector, Op: rewrite.AddClass, Attr: class},
			rewrite.Edit{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-r" + strconv.Itoa(r)})
	}
	return out
}

// listMarks are the marks of the items of a list edit e of rule r:
// bsk-list, the rule, and for an edit that names the items' id
// attribute, bsk-key-<attribute>, by which the preview page matches the
// items of the two frames (those gone, those moved).
func listMarks(e rewrite.Edit, r int) []rewrite.Edit {
	out := []rewrite.Edit{
		{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-list"},
		{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-r" + strconv.Itoa(r)},
	}
	if e.Attr != "" && (e.Op == rewrite.HideSeen || e.Op == rewrite.Reorder) {
		out = append(out, rewrite.Edit{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-key-" + e.Attr})
	}
	return out
}

// ownPlaceTag matches content that starts with an element only some
// parents hold (a row, a cell, a list item, an option), or that names
// its parent as its first child (a fieldset's legend, a details'
// summary, a figure's caption): a wrapper around it would be moved out
// of a table, break the list's `ul > li` (screen readers no longer read
// a list), or take the name away from its parent (a details shown
// closed under the browser's "Details"). Spaces and comments before it
// do not count, as the parser does not count them.
var ownPlaceTag = regexp.MustCompile(`(?is)^(?:\s|<!--.*?-->)*<(tr|td|th|tbody|thead|tfoot|caption|colgroup|col|li|option|optgroup|dt|dd|legend|summary|figcaption)\b`)

// wrap marks inserted content: in a <bespoke-edit> around it, or, for
// content whose elements must stay where they are (ownPlaceTag), with
// the classes on its top-level elements.
func wrap(content []byte, rule int) []byte {
	class := "bsk-ins bsk-r" + strconv.Itoa(rule)
	if ownPlaceTag.Match(content) {
		return markTop(content, class)
	}
	if blockTag.Match(content) {
		class += " bsk-block"
	}
	var b bytes.Buffer
	b.WriteString(`<bespoke-edit class="` + class + `">`)
	b.Write(content)
	b.WriteString(`</bespoke-edit>`)
	return b.Bytes()
}

// markTop adds class to the top-level start tags of content, and leaves
// the rest as it is.
func markTop(content []byte, class string) []byte {
	z := nethtml.NewTokenizer(bytes.NewReader(content))
	var b bytes.Buffer
	depth := 0
	for {
		tt := z.Next()
		if tt == nethtml.ErrorToken {
			return b.Bytes()
		}
		raw := append([]byte(nil), z.Raw()...)
		switch tt {
		case nethtml.StartTagToken, nethtml.SelfClosingTagToken:
			tok := z.Token()
			if depth > 0 {
				b.Write(raw)
			} else {
				found := false
				for i, a := range tok.Attr {
					if a.Key == "class" {
						tok.Attr[i].Val, found = a.Val+" "+class, true
					}
				}
				if !found {
					tok.Attr = append(tok.Attr, nethtml.Attribute{Key: "class", Val: class})
				}
				b.WriteString(tok.String())
			}
			if tt == nethtml.StartTagToken && !voidElement[tok.Data] {
				depth++
			}
		case nethtml.EndTagToken:
			depth = max(depth-1, 0)
			b.Write(raw)
		default:
			b.Write(raw)
		}
	}
}

// voidElement lists the HTML elements without an end tag.
var voidElement = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

var (
	headOpen = regexp.MustCompile(`(?i)<head(\s[^>]*)?>`)
	// pageBase finds the href of the page's first <base> (in one of its
	// three quotings).
	pageBase = regexp.MustCompile(`(?i)<base\s[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	// prolog is what may come before a page's <head>: a byte order mark,
	// comments, the doctype and <html>. A <head> written before the
	// doctype would put the browser in quirks mode.
	prolog = regexp.MustCompile(`(?is)^(\x{FEFF}|\s+|<!--.*?-->|<!doctype[^>]*>|<html(\s[^>]*)?>)*`)
)

// inject puts the preview's base URL and style at the start of the page's
// head, so that the page's own links load from the origin, resolved as
// against the page's own URL.
func inject(body []byte, base string) []byte {
	// The page's own <base href> counts, read against the page's address
	// at the origin: the browser takes the first <base>, which is ours.
	if m := pageBase.FindSubmatch(body); m != nil {
		own := string(bytes.Join(m[1:], nil))
		if b, err := url.Parse(base); err == nil {
			if o, err := b.Parse(strings.TrimSpace(html.UnescapeString(own))); err == nil && (o.Scheme == "http" || o.Scheme == "https") {
				base = o.String()
			}
		}
	}
	add := []byte(`<base href="` + html.EscapeString(base) + `">` + frameStyle)
	at := 0
	if loc := headOpen.FindIndex(body); loc != nil {
		at = loc[1]
	} else {
		at = len(prolog.Find(body))
		add = append(append([]byte("<head>"), add...), "</head>"...)
	}
	out := make([]byte, 0, len(body)+len(add))
	out = append(out, body[:at]...)
	out = append(out, add...)
	return append(out, body[at:]...)
}

// frame serves one side of the comparison: ?side=before or after, and the
// context's query.
func (s *Server) frame(w http.ResponseWriter, r *http.Request) {
	// Every answer, the messages too, is sandboxed: it is HTML on the
	// preview's origin.
	w.Header().Set("Content-Security-Policy", "sandbox "+frameSandbox)
	// The frame's address holds the visitor's cookies and headers, which
	// an editor may have copied from a real session: no request of the
	// page tells a third party of them. (A page that sets its own policy
	// in a <meta> overrides this one.)
	w.Header().Set("Referrer-Policy", "no-referrer")
	vr := s.decide(r)
	defer vr.release()
	w.Header().Set("Cache-Control", "no-store")
	side := r.URL.Query().Get("side")
	switch {
	case vr.good == nil:
		message(w, "The rule file has never compiled", "Fix the errors shown above; this frame fills in as soon as it compiles.")
		return
	case vr.err != nil:
		message(w, "This visitor cannot be simulated", vr.err.Error())
		return
	}
	rd := vr.res.Plan.Redirect
	if rd != nil && side == "after" {
		message(w, fmt.Sprintf("Redirected (%d)", rd.Status), "This visitor is sent to "+rd.Location+" without the origin being asked.")
		return
	}
	page, err := s.fetch(r.Context(), vr)
	if err != nil {
		message(w, "The origin did not answer", err.Error())
		return
	}
	if st := page.Status; st >= 300 && st < 400 {
		// A redirect's body is for browsers that do not follow it,
		// not the page.
		message(w, fmt.Sprintf("The origin redirects (%d %s)", st, http.StatusText(st)), "to "+page.Header.Get("Location")+", as the proxy passes it on.")
		return
	}
	if page.JSON {
		s.jsonFrame(w, vr, page, side)
		return
	}
	body := page.Body
	if rd == nil {
		// A redirect's plan rewrites no page: before it, the page is
		// the origin's as it is.
		rules := vr.res.Plan.EditRules
		var out *visit.Output
		if side == "before" {
			out, err = vr.res.RenderWith(page, func(e []rewrite.Edit) []rewrite.Edit { return markBefore(e, rules) })
		} else {
			out, err = vr.res.RenderWith(page, func(e []rewrite.Edit) []rewrite.Edit { return markAfter(e, rules) })
		}
		if err != nil {
			message(w, "The page could not be rewritten", err.Error())
			return
		}
		if out.Untouched == visit.UntouchedType {
			// Not a page: shown as what it is (an image, a style
			// sheet), in the sandbox.
			w.Header().Set("Content-Type", page.Header.Get("Content-Type"))
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Write(page.Body)
			return
		}
		body = out.Body
	}
	ct := htmlType(page.Header.Get("Content-Type"))
	if enc := utf16Page(page.Header.Get("Content-Type"), body); enc != nil {
		// The base and style injected are ASCII, which a UTF-16 page
		// does not read as markup: the page (which the proxy leaves
		// alone) is shown decoded.
		if b, err := enc.NewDecoder().Bytes(body); err == nil {
			body, ct = b, "text/html; charset=utf-8"
		}
	}
	w.Header().Set("Content-Type", ct)
	w.Write(inject(body, vr.pageURL()))
}

// utf16Page returns the UTF-16 encoding a page is in, as the browser
// finds it (a byte order mark, else the Content-Type's charset), or nil.
func utf16Page(ct string, body []byte) encoding.Encoding {
	switch {
	case bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}):
		return nil
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil
	}
	e, err := htmlindex.Get(params["charset"])
	if err != nil {
		return nil
	}
	switch name, _ := htmlindex.Name(e); name {
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return nil
}

// htmlType is the Content-Type of a frame of a page the origin sent as
// ct: HTML in the page's own charset, as the proxy passes it on (an
// ISO-8859-1 page read as UTF-8 comes out garbled). Without a charset,
// the browser finds it as it would behind the proxy (a <meta charset>).
func htmlType(ct string) string {
	if _, params, err := mime.ParseMediaType(ct); err == nil && params["charset"] != "" {
		return mime.FormatMediaType("text/html", map[string]string{"charset": params["charset"]})
	}
	return "text/html"
}

// jsonFrame shows a JSON response, indented, before or after its edits.
func (s *Server) jsonFrame(w http.ResponseWriter, vr *visitResult, page *visit.Page, side string) {
	body := page.Body
	if side != "before" {
		out, err := vr.res.Render(page)
		if err != nil {
			message(w, "The JSON could not be rewritten", err.Error())
			return
		}
		body = out.Body
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if json.Indent(&b, body, "", "  ") != nil {
		b.Reset()
		b.Write(body)
	}
	// A document of its own, in the frame or opened alone: its language
	// and title are said, as screen readers need them (the JSON's
	// language is not known, and its names and punctuation are read as
	// English).
	fmt.Fprintf(w, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>%s</head><body><pre class=\"bsk-json\">%s</pre></body></html>",
		html.EscapeString(vr.pageURL()), frameStyle, html.EscapeString(b.String()))
}

// message answers a frame with a page that says what went wrong: title,
// its heading and the page's title, and text. Its language and title
// are said, as screen readers need them.
func message(w http.ResponseWriter, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title><style>body{font:15px system-ui,sans-serif;color:#333;padding:2em}h1{font-size:18px}</style></head><body><h1 class="bsk-message">%s</h1><p>%s</p></body></html>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}
