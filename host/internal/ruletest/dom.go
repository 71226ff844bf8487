package ruletest

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// A page expectation is checked against the document a browser builds
// from the rewritten page (x/net/html implements the HTML parsing
// algorithm browsers use), with the selector language of the rules,
// matched here on the whole tree.

// parseDoc parses an HTML page into its document, decoded from the
// encoding a browser reads it in (its byte order mark or <meta>, else
// UTF-8 when it is valid UTF-8): a windows-1252 page's "Caf\xe9" is
// "Café".
func parseDoc(b []byte) (*html.Node, error) {
	r, err := charset.NewReader(bytes.NewReader(b), "text/html")
	if err != nil {
		return nil, err
	}
	return html.Parse(r)
}

// queryAll returns the elements of doc that sel matches, in document
// order.
func queryAll(doc *html.Node, sel selector.List) []*html.Node {
	var out []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode {
				if matchList(c, sel) {
					out = append(out, c)
				}
			}
			walk(c)
		}
	}
	walk(doc)
	return out
}

func matchList(n *html.Node, l selector.List) bool {
	for i := range l {
		if matchComplex(n, &l[i], len(l[i].Compounds)-1) {
			return true
		}
	}
	return false
}

// matchComplex reports whether n matches compound i of c, and the
// compounds before it relate to n's ancestors as c's combinators say.
func matchComplex(n *html.Node, c *selector.Complex, i int) bool {
	if !matchCompound(n, &c.Compounds[i]) {
		return false
	}
	if i == 0 {
		return true
	}
	switch c.Combinators[i-1] {
	case selector.Child:
		p := parentElement(n)
		return p != nil && matchComplex(p, c, i-1)
	case selector.Descendant:
		for p := parentElement(n); p != nil; p = parentElement(p) {
			if matchComplex(p, c, i-1) {
				return true
			}
		}
	}
	return false
}

func parentElement(n *html.Node) *html.Node {
	p := n.Parent
	if p == nil || p.Type != html.ElementNode {
		return nil
	}
	return p
}

func matchCompound(n *html.Node, c *selector.Compound) bool {
	if c.Type != "" && !strings.EqualFold(n.Data, c.Type) {
		return false
	}
	for _, id := range c.IDs {
		if v, ok := attr(n, "id"); !ok || v != id {
			return false
		}
	}
	for _, cl := range c.Classes {
		if !hasClass(n, cl) {
			return false
		}
	}
	for i := range c.Attrs {
		a := &c.Attrs[i]
		v, ok := attr(n, a.Name)
		if !ok || !a.Matches(v) {
			return false
		}
	}
	for _, p := range c.Pseudos {
		switch p.Kind {
		case selector.NthChild:
			if !p.Nth.Matches(position(n, false)) {
				return false
			}
		case selector.NthOfType:
			if !p.Nth.Matches(position(n, true)) {
				return false
			}
		case selector.Not:
			if matchList(n, p.Not) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// position is n's 1-based position among its element siblings, or among
// those of its type.
func position(n *html.Node, ofType bool) int {
	pos := 1
	for s := n.PrevSibling; s != nil; s = s.PrevSibling {
		if s.Type == html.ElementNode && (!ofType || s.Data == n.Data) {
			pos++
		}
	}
	return pos
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, name) {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	for _, f := range strings.Fields(v) {
		if f == class {
			return true
		}
	}
	return false
}

// text returns the text of n as a reader sees it: its text nodes joined,
// runs of white space collapsed to one space, trimmed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			switch n.Data {
			case "script", "style", "template":
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// describe shows an element briefly in a failure: <a class="cta" href="/fr/">.
func describe(n *html.Node) string {
	var b strings.Builder
	b.WriteString("<" + n.Data)
	for _, a := range n.Attr {
		v := a.Val
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		b.WriteString(" " + a.Key + "=\"" + v + "\"")
	}
	b.WriteString(">")
	return b.String()
}
