package rewrite

// The differential test of the rewriter's element tree against a DOM
// reference: golang.org/x/net/html builds the tree a browser builds, and
// github.com/andybalholm/cascadia matches selectors on it.
//
// For a page, the rewriter's tree is read by marking every element it
// sees (a marker before its start tag and one after its end), and the
// browser's by parsing the page with each of those start tags annotated
// with the element's number. The two trees must agree, except where a
// by-design difference (designDiffs) explains where they differ. Then, for
// each selector of browserSelectors, the elements the rewriter selects (it
// sets an attribute on them) must be those cascadia selects on the
// rewriter's tree, and may differ from those cascadia selects on the
// browser's tree only for elements whose place in the tree (ancestors and
// position among siblings) a by-design difference changed.

import (
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
)

const (
	markOpen  = "\uE000"
	markClose = "\uE001"
	annotAttr = "data-bsk"
	hitAttr   = "data-bsk-hit"
)

// browserSelectors are the selectors the differential test compares:
// types, classes, ids and attributes, child and descendant combinators
// across the elements the tree builder treats specially, positions, and
// negations.
var browserSelectors = []string{
	"*", "div", "p", "span", "a", "b", "li", "td", "tr", "table", "body", "html", "head", "form",
	"option", "select", "template", "svg", "math", "title", "input", "img", "br", "col", "caption",
	"div p", "div > p", "body > *", "body > div", "html > body", "table tr", "table > tr", "tr > td",
	"table td", "tbody > tr", "ul > li", "li li", "li > p", "p > b", "b > p", "b p", "a div", "i b",
	"dialog p", "template div", "template > td", "template td", "form input", "form > *", "select option",
	"select > *", "svg *", "svg > *", "math *", "p:nth-child(2)", "li:first-child",
	"div:nth-of-type(2)", "*:nth-child(3)", ":first-child > :first-child", ".x", "#a", "[data-k]",
	"[data-k=v]", "div.x > p", ".y span", "section > div div div", "div :not(p)", ":not(div) > p",
	"div:not(.x) *", "td > *", "caption *", "ruby > rt", "dl > dd", "h1, h2 > p", "button p",
	"object p", "x-card > *", "head > *", "nav a", "p p", "div div", "span div", "table > *",
	":not(table) > tr", "td:nth-child(2)", "tr:nth-of-type(2) > td",
	"[class]", "[class~=x]", `[class*="a&b"]`, "[id]", "[id^=a]", "div[class|=x]",
}

// relem is an element of the rewriter's tree.
type relem struct {
	parent     int // -1: the document
	start, end int // its start tag, input[start:end]
	close      int // where it ends in the input (its end tag's start, or what ends it)
	name       string
	attrs      []html.Attribute
}

var (
	markerProgram = sync.OnceValue(func() *Program { return mustCompile("*") })
	markerEdits   = []Edit{{Op: InsertBefore, Content: []byte(markOpen)}, {Op: InsertAfter, Content: []byte(markClose)}}
)

func mustCompile(sels ...string) *Program {
	p, err := CompileStrings(sels)
	if err != nil {
		panic(err)
	}
	return p
}

// rewriteAll rewrites in, written whole.
func rewriteAll(prog *Program, edits []Edit, in string) string {
	out, _ := rewriteAllCut(prog, edits, in)
	return out
}

// cuts are where, in a page, the differential tests stop comparing
// trees (-1: nowhere): adopt, the first tag whose adoption agency went
// past maxAdoptWalk; drop, the first whose adoption agency took a
// formatting element out of its list past the third step of its inner
// loop (see Rewriter.dropCut); and frameset, not a cut, where a
// <frameset> replaced the body (see Rewriter.framesetAt).
type cuts struct{ adopt, drop, frameset int }

// rewriteAllCut is rewriteAll, and the page's cuts.
func rewriteAllCut(prog *Program, edits []Edit, in string) (string, cuts) {
	return rewriteWith(prog, edits, in, Options{MaxBuffer: 64 << 20})
}

// markedTree is the page's output with markers before and after every
// element (markerEdits), which give the rewriter's tree, and its cuts:
// without the end tags the page leaves out, which edits write, so that
// the page is the output without the markers.
func markedTree(in string) (string, cuts) {
	return rewriteWith(markerProgram(), markerEdits, in, Options{MaxBuffer: 64 << 20, leftOut: true})
}

func rewriteWith(prog *Program, edits []Edit, in string, opt Options) (string, cuts) {
	var out strings.Builder
	rw := prog.NewRewriter(&out, edits, opt)
	rw.Write([]byte(in))
	rw.Close()
	c := cuts{adopt: rw.adoptCut, drop: rw.dropCut, frameset: rw.framesetAt}
	rw.Release()
	return out.String(), c
}

// rewriterTree reads the rewriter's tree of in: elements in the order of
// their start tags; and the page's cuts.
func rewriterTree(in string) ([]relem, cuts, error) {
	out, cut := markedTree(in)
	var elems []relem
	var stack []int
	var rebuilt strings.Builder
	for i := 0; i < len(out); {
		switch {
		case strings.HasPrefix(out[i:], markOpen):
			parent := -1
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			stack = append(stack, len(elems))
			elems = append(elems, relem{parent: parent, start: rebuilt.Len()})
			i += len(markOpen)
		case strings.HasPrefix(out[i:], markClose):
			if len(stack) == 0 {
				return nil, cut, fmt.Errorf("an element ends that did not start, at output byte %d", i)
			}
			elems[stack[len(stack)-1]].close = rebuilt.Len()
			stack = stack[:len(stack)-1]
			i += len(markClose)
		default:
			rebuilt.WriteByte(out[i])
			i++
		}
	}
	if rebuilt.String() != in {
		return nil, cut, fmt.Errorf("without its markers, the output is not the input:\n%s", short(rebuilt.String()))
	}
	if len(stack) != 0 {
		return nil, cut, fmt.Errorf("%d elements never end", len(stack))
	}
	for k := range elems {
		e := &elems[k]
		z := html.NewTokenizer(strings.NewReader(in[e.start:]))
		if tt := z.Next(); tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			return nil, cut, fmt.Errorf("the rewriter has an element at byte %d, where the tokenizer reads %v %q", e.start, tt, in[e.start:min(len(in), e.start+30)])
		}
		e.end = e.start + len(z.Raw())
		tok := z.Token()
		e.name, e.attrs = tok.Data, tok.Attr
	}
	return elems, cut, nil
}

// annotateEnds inserts annotAttr="k" after the name of element k's start
// tag, and returns where each start tag ends in the annotated page.
func annotateEnds(in string, elems []relem) (string, []int) {
	var b strings.Builder
	ends := make([]int, len(elems))
	last := 0
	for k, e := range elems {
		i := e.start + 1
		for i < len(in) && !strings.ContainsRune(" \t\n\r\f/>", rune(in[i])) {
			i++
		}
		b.WriteString(in[last:i])
		fmt.Fprintf(&b, ` %s="%d"`, annotAttr, k)
		ends[k] = b.Len() + len(in) - i // none: the page's end
		var t tagFacts
		if gt := scanAttrs([]byte(in[e.start:]), i-e.start, &t, nil); gt >= 0 {
			ends[k] = b.Len() + e.start + gt + 1 - i
		}
		last = i
	}
	b.WriteString(in[last:])
	return b.String(), ends
}

// bnode is an element of the browser's tree.
type bnode struct {
	n     *html.Node
	id    int  // the rewriter's element it comes from, or -1: the tree builder made it
	clone bool // a copy of a formatting element (the first is the original)
}

// btree is the browser's tree of a page.
type btree struct {
	doc    *html.Node
	nodes  map[*html.Node]*bnode
	orig   map[int]*html.Node // by the rewriter's element number
	clones map[int]int        // clones per element
}

// newBTree indexes the browser's tree. Of the nodes that carry one
// element's number (a formatting element and its copies), the original is
// the one whose parent, past formatting elements, is the rewriter's
// parent, or else the first.
func newBTree(doc *html.Node, elems []relem, annotated string, ends []int) *btree {
	t := &btree{doc: doc, nodes: map[*html.Node]*bnode{}, orig: map[int]*html.Node{}, clones: map[int]int{}}
	byID := map[int][]*bnode{}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		bn := &bnode{n: n, id: -1}
		if v := attrOf(n, annotAttr); v != "" {
			bn.id, _ = strconv.Atoi(v)
			byID[bn.id] = append(byID[bn.id], bn)
		}
		t.nodes[n] = bn
	}
	// Parents first: an element's number is above its parent's.
	ids := make([]int, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		ns := byID[id]
		// The original is the copy whose ancestors are those the
		// element had when its start tag was read (the adoption agency
		// moves copies and the blocks they hold, and a formatting
		// element only as the child of such a block, into a copy of
		// another): the page up to that tag, parsed, says which.
		pick := ns[0]
		if len(ns) > 1 {
			if want := creationAncestors(annotated[:ends[id]], id); want != nil {
				best := -1
				for _, bn := range ns {
					have := annotatedAncestors(bn.n)
					// The adoption agency moves the furthest block's
					// children, an original among them, into a copy of
					// another formatting element: past the copies the
					// element is where it was made. Of two that match as
					// well, the first is the original (copies are made
					// later, and further down the page).
					n := max(commonPrefix(have, want), commonPrefix(t.withoutCopies(bn.n), want))
					if n > best {
						pick, best = bn, n
					}
				}
			}
		}
		for _, bn := range ns {
			bn.clone = bn != pick
		}
		t.orig[id] = pick.n
		t.clones[id] = len(ns) - 1
	}
	return t
}

// commonPrefix returns how many leading numbers a and b share.
func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// withoutCopies returns n's annotated ancestors (see annotatedAncestors)
// but those already known to be copies.
func (t *btree) withoutCopies(n *html.Node) []int {
	var out []int
	for p := n.Parent; p != nil && p.Type == html.ElementNode; p = p.Parent {
		bn := t.nodes[p]
		if bn.id >= 0 && bn.clone {
			continue
		}
		out = append(out, bn.id)
	}
	return out
}

// browserParse parses page as a browser does once it has decoded it:
// its decoder drops a UTF-8 byte order mark, which html.Parse, given
// text already decoded, would take for text.
func browserParse(page string) (*html.Node, error) {
	return html.Parse(strings.NewReader(specDoctype(strings.TrimPrefix(page, "\uFEFF"))))
}

// specDoctype returns page with its doctype (the first token but
// comments and space) written so that x/net/html reads the mode the
// standard gives it. x/net/html compares the name with "html" before it
// lower-cases it (<!DOCTYPE HTML>), takes a public identifier without a
// system one (<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN">)
// and anything after the system one for quirks; the standard
// lower-cases the name, ignores what follows the system identifier and
// reads a public one alone by its family, where a missing system
// identifier counts for HTML 4.01 frameset and transitional alone. A
// doctype that sets force-quirks (an identifier not quoted, a quote
// left open, a keyword without its identifier) is left: x/net/html
// takes it for quirks too.
func specDoctype(page string) string {
	const space = " \t\n\r\f"
	z := html.NewTokenizer(strings.NewReader(page))
	off := 0
	for {
		tt := z.Next()
		raw := len(z.Raw())
		if tt == html.CommentToken || tt == html.TextToken && strings.Trim(string(z.Raw()), space) == "" {
			off += raw
			continue
		}
		if tt != html.DoctypeToken {
			return page
		}
		s := strings.TrimLeft(z.Token().Data, space)
		name := s
		if i := strings.IndexAny(s, space); i >= 0 {
			name, s = s[:i], strings.TrimLeft(s[i:], space)
		} else {
			s = ""
		}
		name = strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, name)
		d := "<!DOCTYPE " + name
		if s != "" {
			if len(s) < 6 {
				return page
			}
			kw, rest := strings.ToLower(s[:6]), s[6:]
			n := map[string]int{"public": 2, "system": 1}[kw]
			var ids []string
			for len(ids) < n {
				rest = strings.TrimLeft(rest, space)
				if rest == "" {
					break
				}
				q := rest[0]
				end := strings.IndexByte(rest[1:], q)
				if q != '"' && q != '\'' || end < 0 {
					return page
				}
				ids, rest = append(ids, rest[:end+2]), rest[end+2:]
			}
			if len(ids) == 0 || kw == "public" && len(ids) == 1 && strings.TrimLeft(rest, space) != "" {
				return page
			}
			d += " " + strings.ToUpper(kw) + " " + strings.Join(ids, " ")
			pub := strings.ToLower(ids[0])
			if kw == "public" && len(ids) == 1 && !strings.HasPrefix(pub, `"-//w3c//dtd html 4.01 frameset//`) && !strings.HasPrefix(pub, `"-//w3c//dtd html 4.01 transitional//`) &&
				!strings.HasPrefix(pub, `'-//w3c//dtd html 4.01 frameset//`) && !strings.HasPrefix(pub, `'-//w3c//dtd html 4.01 transitional//`) {
				d += ` ""`
			}
		}
		return page[:off] + d + ">" + page[off+raw:]
	}
}

// creationAncestors returns the annotated ancestors (see
// annotatedAncestors) element id has in the page prefix, which ends with
// its start tag; nil if the prefix does not hold it once.
func creationAncestors(prefix string, id int) []int {
	doc, err := browserParse(prefix)
	if err != nil {
		return nil
	}
	var found *html.Node
	v := strconv.Itoa(id)
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && attrOf(n, annotAttr) == v {
			if found != nil {
				return nil
			}
			found = n
		}
	}
	if found == nil {
		return nil
	}
	return annotatedAncestors(found)
}

// annotatedAncestors returns the numbers of n's ancestors, nearest first
// (-1 for those the tree builder made).
func annotatedAncestors(n *html.Node) []int {
	var out []int
	for p := n.Parent; p != nil && p.Type == html.ElementNode; p = p.Parent {
		id := -1
		if v := attrOf(p, annotAttr); v != "" {
			id, _ = strconv.Atoi(v)
		}
		out = append(out, id)
	}
	return out
}

// parent returns the nearest ancestor of k that is an original source
// element, or -1.
func (t *btree) parent(k int) int {
	for p := t.orig[k].Parent; p != nil; p = p.Parent {
		if bn := t.nodes[p]; bn != nil && bn.id >= 0 && !bn.clone {
			return bn.id
		}
	}
	return -1
}

// sameShape reports whether two parses have the same elements in the same
// places, whatever their attributes.
func sameShape(a, b *html.Node) bool {
	ea, eb := elementsOf(a), elementsOf(b)
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		x, y := ea[i], eb[i]
		if x.Data != y.Data || x.Namespace != y.Namespace || depthOf(x) != depthOf(y) {
			return false
		}
	}
	return true
}

func elementsOf(n *html.Node) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode {
			out = append(out, d)
		}
	}
	return out
}

func depthOf(n *html.Node) int {
	d := 0
	for ; n != nil; n = n.Parent {
		d++
	}
	return d
}

// formatting are the elements the adoption agency and the reconstruction
// of active formatting elements work on.
var formatting = map[string]bool{"a": true, "b": true, "big": true, "code": true, "em": true, "font": true, "i": true,
	"nobr": true, "s": true, "small": true, "strike": true, "strong": true, "tt": true, "u": true}

var tableParts = map[string]bool{"table": true, "tbody": true, "thead": true, "tfoot": true, "tr": true}

// A designDiff is a way the rewriter's tree differs from the browser's by
// design, with why; SYNTAX.md lists them too.
type designDiff struct {
	name, why string
}

var (
	diffImplied  = designDiff{"implied", "the browser creates elements the page has no start tag for (html, head, body, tbody, tr, colgroup; p for a stray </p>, br for </br>); bespoke's tree has the elements whose start tags are in the page"}
	diffClone    = designDiff{"copy", "the browser reopens formatting elements (a, b, i, font, …) that a block cut, as copies with the same attributes; bespoke edits the element whose tags are in the page, never the copies"}
	diffFormat   = designDiff{"formatting", "misnested formatting elements: when one ends while a block inside it is still open (<b><p>x</b>), the browser moves the block out of it (the adoption agency), and an end tag can close a copy (and what is open in it) or an element a block already closed; bespoke leaves each element where its tags are"}
	diffFoster   = designDiff{"foster", "content that is not part of a table but written inside one (<table><div>) is moved by the browser before the table (foster parenting); bespoke leaves it where it is written"}
	diffMerge    = designDiff{"merged-attributes", "a second <html> or <body> tag is not an element: the browser adds its attributes to the first, bespoke ignores it"}
	diffBody     = designDiff{"body-start", "content the browser puts in a body it starts without a tag (an iframe or text in the head) is in the body the page's later <body> tag gives its attributes to; bespoke's body starts at that tag"}
	diffHead     = designDiff{"after-head", "elements of the head (link, meta, script, style, title, base, template) written after </head> and before the body are moved into the head by the browser; bespoke leaves them where they are"}
	diffFrameset = designDiff{"frameset", "a <frameset> in a page with no <body> tag, before any text, image, form field, table, list item or template, replaces the body the browser started, with the elements in it; bespoke has written them, and ends them at the frameset"}
	diffAdoption = designDiff{"adoption-bound", "when more than 64 elements lie between a misnested formatting element and the block it cuts, the browser closes them all (the adoption agency), bespoke leaves them open, as it bounds the copies it reopens; the rest of the page is not compared"}
	// Not a design choice: where the reference parser, x/net/html, builds
	// another tree than browsers do (see explain).
	diffChromium  = designDiff{"chromium", "where Chromium parts from the standard, which x/net/html and bespoke follow (in a template: a form in a table part, table parts after a base, a title or a noframes, a </form> that ends no p or block; a form in a form, after which it ends both; the end tag of an HTML element named like a mixed-case svg one, foreignObject, with svg content open in it; text of U+FFFD, as &#0; decodes to, which leaves the frameset-ok flag on), the rest of the page is not compared"}
	diffReference = designDiff{"reference", "where x/net/html parts from browsers (an HTML <template> inside svg or math; a template holding a column group, then raw text; an svg or math tag taken as self-closing; svg or math elements named like table parts, template, head, body or html, or like the elements implied end tags close (p, li, rb, ...); a th in a caption; a formatting element the adoption agency takes out of its list past the third step of its inner loop, which x/net/html leaves open; in or after a frameset, the start tag of a raw text element, which its tokenizer takes for one though its parser ignores it; a numeric character reference of one digit and no ';' or past 2^31, and one in CDATA, which it decodes otherwise; a script whose data escapes twice, which its tokenizer ends early), the rest of the page is not compared"}
)

// designDiffs lists the by-design differences.
var designDiffs = []designDiff{diffImplied, diffClone, diffFormat, diffFoster, diffMerge, diffBody, diffHead, diffFrameset, diffAdoption}

// treeDiff compares the rewriter's tree of one page with the browser's.
type treeDiff struct {
	in         string
	elems      []relem
	b          *btree
	t          *html.Node          // the rewriter's tree, as html.Nodes
	tnodes     []*html.Node        // by element number
	why        map[int]*designDiff // why element k is not where the rewriter has it, or not in the browser's tree
	attrs      map[int]bool        // element k has attributes in the browser's tree its start tag does not
	bwhy       map[*html.Node]*designDiff
	cut        int            // the elements from cut on are not compared (see diffReference); len(elems) if none
	cutSet     bool           // a cut was made (at len(elems) too: after the last element's start tag)
	madeEnd    int            // where, in annotated, the compared part ends for afterCut, when not at the cut element's start tag's end
	adoptCut   int            // where the tag is past which the rewriter's adoption agency stopped (see diffAdoption); -1 if none
	dropCut    int            // where the tag is whose adoption agency x/net/html leaves an element open at (see diffReference); -1 if none
	framesetAt int            // where the <frameset> is that replaced the body (see diffFrameset); -1 if none
	exact      bool           // the browser's tree is a browser's, not x/net/html's: nothing is cut for diffReference
	made       map[string]int // by name, the elements the browser made in the page up to the cut (see afterCut)
	annotated  string
	ends       []int
	errs       []string
	stats      map[string]int
	quirks     bool // cascadia is given the selectors' ids and classes as case-insensitive attribute selectors (see compiledSel)
}

// compareTrees builds both trees of in and explains where they differ.
// It returns nil when the browser's parser refuses the page (nesting
// deeper than it allows).
func compareTrees(in string) (*treeDiff, error) {
	return compareTreesWith(in, browserParse, false)
}

// compareTreesWith is compareTrees with parse as the browser's parser
// (the page is parsed as it is, and with the marks of where each of the
// rewriter's elements starts). exact says the parser is a browser's:
// the places where x/net/html parts from browsers are compared too.
func compareTreesWith(in string, parse func(string) (*html.Node, error), exact bool) (*treeDiff, error) {
	if strings.Contains(in, markOpen) || strings.Contains(in, markClose) || strings.Contains(in, annotAttr) {
		return nil, nil // the page holds what the test marks elements with
	}
	elems, cut, err := rewriterTree(in)
	if err != nil {
		return nil, err
	}
	plain, err := parse(in)
	if err != nil || plain == nil {
		return nil, nil
	}
	annotated, ends := annotateEnds(in, elems)
	doc, err := parse(annotated)
	if err != nil || doc == nil {
		return nil, nil
	}
	if !sameShape(plain, doc) {
		if noahsArkMayApply(in) {
			// The annotations make alike formatting elements unlike,
			// and the clause then applies to none (TestNoahsArk checks
			// these pages).
			return nil, nil
		}
		return nil, fmt.Errorf("the annotations change how the browser parses the page")
	}
	d := &treeDiff{in: in, elems: elems, b: newBTree(doc, elems, annotated, ends), annotated: annotated, ends: ends, why: map[int]*designDiff{}, attrs: map[int]bool{},
		bwhy: map[*html.Node]*designDiff{}, stats: map[string]int{}, cut: len(elems), adoptCut: cut.adopt, dropCut: cut.drop, framesetAt: cut.frameset, exact: exact}
	d.buildT()
	d.explain()
	d.quirks = quirksMode(in)
	return d, nil
}

// noahsArkMayApply reports whether page has four start tags of a
// formatting element with the same attributes: the list of active
// formatting elements keeps three alike (its Noah's Ark clause), which
// the attributes the differential marks elements with defeat.
func noahsArkMayApply(page string) bool {
	seen := map[string]int{}
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if !formatting[tok.Data] {
				continue
			}
			attrs := make([]string, 0, len(tok.Attr))
			for _, a := range tok.Attr {
				attrs = append(attrs, a.Key+"="+a.Val)
			}
			slices.Sort(attrs)
			k := tok.Data + "\x00" + strings.Join(attrs, "\x00")
			if seen[k]++; seen[k] >= 4 {
				return true
			}
		}
	}
}

// quirksMode reports whether the rewriter reads page in quirks mode (no
// doctype, or an old one).
func quirksMode(page string) bool {
	rw := mustCompile("*").NewRewriter(io.Discard, []Edit{{Op: SetAttr, Attr: hitAttr, Value: "1"}}, Options{})
	rw.Write([]byte(page))
	rw.Close()
	q := rw.quirks
	rw.Release()
	return q
}

// buildT builds the rewriter's tree as html.Nodes, for cascadia.
func (d *treeDiff) buildT() {
	d.t = &html.Node{Type: html.DocumentNode}
	d.tnodes = make([]*html.Node, len(d.elems))
	for k, e := range d.elems {
		attrs := append(slices.Clone(e.attrs), html.Attribute{Key: annotAttr, Val: strconv.Itoa(k)})
		name := e.name
		if b := d.b.orig[k]; b != nil {
			name = strings.ToLower(b.Data) // <image> is an img, to both
		}
		n := &html.Node{Type: html.ElementNode, Data: name, Attr: attrs}
		d.tnodes[k] = n
		if e.parent < 0 {
			d.t.AppendChild(n)
		} else {
			d.tnodes[e.parent].AppendChild(n)
		}
	}
}

func (d *treeDiff) errorf(format string, args ...any) {
	d.errs = append(d.errs, fmt.Sprintf(format, args...))
}

// rAncestors returns the rewriter's ancestors of k, nearest first.
func (d *treeDiff) rAncestors(k int) []int {
	var out []int
	for p := d.elems[k].parent; p >= 0; p = d.elems[p].parent {
		out = append(out, p)
	}
	return out
}

// bAncestors returns the browser's source-element ancestors of k, nearest
// first.
func (d *treeDiff) bAncestors(k int) []int {
	var out []int
	for p := d.b.parent(k); p >= 0; p = d.b.parent(p) {
		out = append(out, p)
	}
	return out
}

// explain classifies every difference between the trees, or records an
// error for one no designDiff explains.
func (d *treeDiff) explain() {
	// Where x/net/html parts from browsers, the rest of the page is not
	// compared: at an HTML template inside svg or math (it ignores the
	// rest of the page); at a th in a caption (it ignores it); in a
	// template whose content is a column group
	// (it ignores raw-text start tags there, as browsers do, but its
	// tokenizer still reads what follows as raw text); at an svg or math
	// element whose tag ends in "/>" after an unquoted value and a
	// repeated attribute (it takes the tag as self-closing); after an svg
	// or math element named like a table part, template, head, body or
	// html (it takes it for an HTML one when it resets the insertion mode
	// or clears the stack back to a table), or like an element implied
	// end tags close (it closes it with them).
	for k, e := range d.elems {
		if d.exact {
			break
		}
		switch {
		case e.name == "template" && d.b.orig[k] == nil && d.inForeign(k):
			// From its outermost ancestor x/net/html lost with it (the
			// adoption agency can move it, and lose them).
			for p := e.parent; p >= 0 && d.b.orig[p] == nil; p = d.elems[p].parent {
				k = p
			}
		case e.name == "col" && e.parent >= 0 && d.elems[e.parent].name == "template" && d.firstInTemplate(k):
			k++
		case (d.b.orig[k] != nil && d.b.orig[k].Namespace != "" || d.b.orig[k] == nil && (e.name == "svg" || e.name == "math" || d.inForeign(k))) && d.selfClosingQuirk(e):
			// (Not in x/net/html's tree at all when what followed the
			// tag it took as self-closing removed it: a frameset that
			// replaced the body, and what was in the body before the
			// tag too. Then nothing is compared.)
			d.madeEnd = d.ends[k] // what follows the tag differs
			k++
			if strings.Contains(strings.ToLower(d.in[e.start:]), "<frameset") {
				k = 0
			}
		case d.b.orig[k] != nil && d.b.orig[k].Namespace != "" && modeNames[e.name]:
			// x/net/html finds the insertion mode from any open element
			// of these names, svg and math ones too.
			k++
		case d.b.orig[k] != nil && d.b.orig[k].Namespace != "" && impliedEndNames[e.name]:
			// x/net/html's implied end tags close svg and math elements
			// of these names too.
			k++
		case e.name == "th" && d.b.orig[k] == nil && d.inCaption(k):
			// x/net/html ignores a th in a caption, where the standard
			// and browsers end the caption and go on in the table (its
			// list of the table parts that do so lacks th).
		default:
			continue
		}
		d.cut, d.cutSet = k, true
		d.stats[diffReference.name]++
		break
	}
	// Chromium parts from the standard in template contents, where
	// x/net/html and the rewriter follow it (TestChromiumDifferential):
	// it makes an element of a form in a table part, ignores table parts
	// after a base, a title or a noframes, and takes a </form> for an end tag it
	// looks for an open element of that name for (so that it ends no p
	// and no block). From the first template with such tags in it, the
	// page is not compared.
	if d.exact {
		for k, e := range d.elems[:d.cut] {
			if svgMixedCase[e.name] && d.b.orig[k] != nil && d.b.orig[k].Namespace == "" {
				// An HTML element named as an svg one SVG spells in mixed
				// case: Chromium reads its end tag, when svg content is
				// open in it, as the svg name, which it is not.
				d.cut, d.cutSet = k, true
				d.stats[diffChromium.name]++
				break
			}
			if e.name == "form" && d.formIn(k) {
				// A form in a form (a </form> in a table dropped the first
				// from the form element pointer, without ending it): what
				// follows its end is in the outer form, where Chromium has
				// it after it.
				d.cut, d.cutSet = k, true
				d.stats[diffChromium.name]++
				break
			}
			if e.name != "template" {
				continue
			}
			end := len(d.in)
			for j := k + 1; j < len(d.elems); j++ {
				if !d.descends(j, k) {
					end = d.elems[j].start
					break
				}
			}
			content := strings.ToLower(d.in[e.start:end])
			if strings.Contains(content, "<form") || strings.Contains(content, "</form") || strings.Contains(content, "<base") || strings.Contains(content, "<title") || strings.Contains(content, "<noframes") {
				d.cut, d.cutSet = k, true
				d.stats[diffChromium.name]++
				break
			}
		}
	}
	// Chromium (as WebKit) leaves the frameset-ok flag on at text of
	// U+FFFD alone, where the standard sets it off, as at any other
	// character but space: a page with such text before a <frameset>,
	// which may replace its body and what was in it, is not compared.
	if at := replacementAt(d.in); d.exact && at >= 0 && strings.Contains(strings.ToLower(d.in[at:]), "<frameset") && d.cut > 0 {
		d.cut, d.cutSet = 0, true
		d.stats[diffChromium.name]++
	}
	// In a frameset and after one, the parser ignores the start tags of
	// raw text elements (style, textarea, ...), as browsers do, but
	// x/net/html's tokenizer still reads what follows them as raw text:
	// the page is compared up to the first.
	if at := d.ignoredRawText(); at >= 0 && !d.exact {
		k := 0
		for k < d.cut && d.elems[k].start < at {
			k++
		}
		if k < d.cut || !d.cutSet {
			d.cut, d.cutSet = k, true
			d.stats[diffReference.name]++
		}
	}
	// x/net/html's decoder reads some numeric character references
	// otherwise than browsers (unescapeQuirk), and decodes those in
	// CDATA, which browsers leave as they are: text it takes for space
	// may not be, which decides where the body starts and whether a
	// frameset replaces it. Its tokenizer ends a script whose data
	// escapes twice where browsers read on (scriptEscapes). The page is
	// compared up to the first, from the first element open there.
	if !d.exact {
		at := scriptEscapes(d.in)
		for _, re := range []*regexp.Regexp{unescapeQuirk, cdataRef} {
			if loc := re.FindStringIndex(d.in); loc != nil && (at < 0 || loc[0] < at) {
				at = loc[0]
			}
		}
		for k, e := range d.elems[:d.cut] {
			if at >= 0 && (e.start >= at || e.close > at) {
				d.cut, d.cutSet = k, true
				d.stats[diffReference.name]++
				break
			}
		}
	}
	// x/net/html leaves open a formatting element its adoption agency
	// takes out of the list past the third step of the inner loop, where
	// browsers close it (HTML's "adoption agency algorithm", inner loop,
	// steps 4.4 and 4.5; Chromium agrees, TestTreesChromium): what
	// follows may go into it, and the agency itself places what it
	// moves by the stack it leaves.
	if d.dropCut >= 0 && !d.exact {
		// From the first element still open there: the same adoption
		// agency may move it, or what it holds.
		for k, e := range d.elems[:d.cut] {
			if e.start >= d.dropCut || e.close > d.dropCut {
				d.cut, d.cutSet = k, true
				d.stats[diffReference.name]++
				break
			}
		}
	}
	// Past a tag whose adoption agency went beyond its bound, the
	// rewriter keeps open what browsers close: not compared either.
	if d.adoptCut >= 0 {
		for k, e := range d.elems[:d.cut] {
			if e.start >= d.adoptCut {
				d.cut, d.cutSet = k, true
				d.stats[diffAdoption.name]++
				break
			}
		}
	}
	// Elements the browser made.
	for n, bn := range d.b.nodes {
		switch {
		case bn.clone:
			if !formatting[n.Data] {
				d.errorf("the browser copied <%s> #%d, which is not a formatting element", n.Data, bn.id)
			}
			d.bwhy[n] = &diffClone
		case bn.id < 0:
			if d.afterCut(n) {
				continue
			}
			if why := d.impliedWhy(n); why != nil {
				d.bwhy[n] = why
			} else {
				d.errorf("the browser has a <%s> (in <%s>) the rewriter does not see", n.Data, n.Parent.Data)
			}
		}
	}
	// Elements the rewriter has: missing from the browser's tree, or
	// elsewhere in it.
	for k, e := range d.elems[:d.cut] {
		if d.b.orig[k] == nil {
			if why := d.ignoredWhy(k); why != nil {
				d.why[k] = why
			} else {
				d.errorf("#%d <%s> at byte %d is an element to the rewriter, not to the browser", k, e.name, e.start)
			}
			continue
		}
		if !sameAttrs(e.attrs, d.b.orig[k].Attr) {
			d.attrs[k] = true // a later tag's attributes, merged
			if e.name != "html" && e.name != "body" {
				d.errorf("#%d <%s> at byte %d has other attributes in the browser's tree", k, e.name, e.start)
			}
		}
		if pr, pb := e.parent, d.b.parent(k); pr != pb {
			if pb >= d.cut {
				// The browser's parent comes past the cut (x/net/html
				// merged a later <html> tag into the root, say).
				d.why[k] = &diffReference
				continue
			}
			if why := d.movedWhy(k); why != nil {
				d.why[k] = why
			} else {
				d.errorf("#%d <%s> at byte %d: parent %s in the rewriter's tree, %s in the browser's", k, e.name, e.start, d.label(pr), d.label(pb))
			}
		}
	}
}

// svgMixedCase are the svg element names that the HTML standard's
// parser gives their mixed case (foreignObject), lower-cased.
var svgMixedCase = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`altglyph altglyphdef altglyphitem animatecolor animatemotion animatetransform
		clippath feblend fecolormatrix fecomponenttransfer fecomposite feconvolvematrix fediffuselighting
		fedisplacementmap fedistantlight fedropshadow feflood fefunca fefuncb fefuncg fefuncr fegaussianblur
		feimage femerge femergenode femorphology feoffset fepointlight fespecularlighting fespotlight fetile
		feturbulence foreignobject glyphref lineargradient radialgradient textpath`) {
		svgMixedCase[n] = true
	}
}

// formIn reports whether element k of the rewriter's tree is in a form,
// and no template is between them.
func (d *treeDiff) formIn(k int) bool {
	for p := d.elems[k].parent; p >= 0; p = d.elems[p].parent {
		switch d.elems[p].name {
		case "form":
			return true
		case "template":
			return false
		}
	}
	return false
}

// descends reports whether element j of the rewriter's tree is in
// element k.
func (d *treeDiff) descends(j, k int) bool {
	for p := d.elems[j].parent; p >= 0; p = d.elems[p].parent {
		if p == k {
			return true
		}
	}
	return false
}

// inCaption reports whether element k of the rewriter's tree starts in
// a caption: the nearest caption before it holds every element between
// them.
func (d *treeDiff) inCaption(k int) bool {
	for j := k - 1; j >= 0; j-- {
		if d.elems[j].name == "caption" {
			return true
		}
		p := d.elems[j].parent
		for p >= 0 && d.elems[p].name != "caption" {
			p = d.elems[p].parent
		}
		if p < 0 {
			return false
		}
	}
	return false
}

func (d *treeDiff) label(k int) string {
	if k < 0 {
		return "the document"
	}
	return fmt.Sprintf("#%d <%s>", k, d.elems[k].name)
}

// afterCut reports whether node n, an element the browser made, comes
// after an element past the cut, in document order; or, as the browser
// can lose every element past the cut (an HTML template in svg or math,
// and what it holds), whether the page up to the cut has fewer elements
// of its name the browser made than the page has up to n.
func (d *treeDiff) afterCut(n *html.Node) bool {
	if !d.cutSet || len(d.elems) == 0 {
		return false
	}
	key := n.Namespace + ":" + n.Data
	seen := 0
	for m := range d.b.doc.Descendants() {
		if m.Type != html.ElementNode {
			continue
		}
		v := attrOf(m, annotAttr)
		if v == "" && m.Namespace+":"+m.Data == key {
			seen++
		}
		if m == n {
			break
		}
		if v != "" {
			if k, _ := strconv.Atoi(v); k >= d.cut {
				return true
			}
		}
	}
	if d.made == nil {
		d.made = map[string]int{}
		end := d.madeEnd
		if end == 0 {
			end = d.ends[min(d.cut, len(d.ends)-1)]
		}
		if doc, err := browserParse(d.annotated[:end]); err == nil {
			for m := range doc.Descendants() {
				if m.Type == html.ElementNode && attrOf(m, annotAttr) == "" {
					d.made[m.Namespace+":"+m.Data]++
				}
			}
		}
	}
	return seen > d.made[key]
}

// selfClosingQuirk reports whether x/net/html's tokenizer and the
// standard disagree on whether e's start tag is self-closing.
func (d *treeDiff) selfClosingQuirk(e relem) bool {
	raw := d.in[e.start:e.end]
	z := html.NewTokenizer(strings.NewReader(raw))
	ref := z.Next() == html.SelfClosingTagToken
	i, _ := scanName([]byte(raw), 1)
	var t tagFacts
	scanAttrs([]byte(raw), i, &t, nil)
	return ref != t.selfClose
}

// inForeign reports whether element k is in svg or math content, as the
// rewriter has it: an svg or math element is its ancestor, and no HTML
// integration point comes between.
func (d *treeDiff) inForeign(k int) bool {
	for _, a := range d.rAncestors(k) {
		switch d.elems[a].name {
		case "svg", "math":
			return true
		}
	}
	return false
}

// sameAttrs reports whether the browser's attributes b (but the
// annotation) are those of the start tag, a (the first of each name).
// (Attribute names are compared as the tokenizer gives them, but for
// the case and the namespace prefix the parser gives svg and MathML ones:
// viewBox, xlink:href.)
func sameAttrs(a, b []html.Attribute) bool {
	seen := map[string]bool{}
	n := 0
	for _, x := range a {
		if k := asciiLower(x.Key); !seen[k] {
			seen[k] = true
			n++
		}
	}
	m := 0
	for _, y := range b {
		if y.Key == annotAttr {
			continue
		}
		m++
		k := y.Key
		if y.Namespace != "" {
			k = y.Namespace + ":" + k
		}
		if !seen[asciiLower(k)] {
			return false
		}
	}
	return n == m
}

// impliedWhy explains an element of the browser's tree that has no start
// tag in the page.
func (d *treeDiff) impliedWhy(n *html.Node) *designDiff {
	switch n.Data {
	case "html", "head", "body", "tbody", "tr", "colgroup":
		return &diffImplied
	case "p", "br":
		if n.FirstChild == nil { // made for a stray </p> or </br>
			return &diffImplied
		}
	}
	return nil
}

// rawTextTag finds the start tags of the raw text elements whose content
// x/net/html's tokenizer reads as raw text, whether its parser makes an
// element of them or not.
var rawTextTag = regexp.MustCompile(`(?i)<(style|textarea|title|xmp|iframe|noembed|noscript|script|plaintext)[\t\n\f\r />]`)

// numericRefRE finds numeric character references; the value is the first
// group's (hexadecimal) or the second's.
var numericRefRE = regexp.MustCompile(`&#(?:[xX]([0-9a-fA-F]+)|([0-9]+))`)

// replacementAt returns where the page first holds U+FFFD, written or as
// a numeric character reference decodes to it (0, a surrogate, past
// U+10FFFF), or -1.
func replacementAt(page string) int {
	at := strings.Index(page, "\uFFFD")
	for _, m := range numericRefRE.FindAllStringSubmatchIndex(page, -1) {
		if at >= 0 && m[0] >= at {
			break
		}
		var v uint64
		var err error
		if m[2] >= 0 {
			v, err = strconv.ParseUint(page[m[2]:m[3]], 16, 64)
		} else {
			v, err = strconv.ParseUint(page[m[4]:m[5]], 10, 64)
		}
		if err != nil || v == 0 || v >= 0xD800 && v <= 0xDFFF || v > 0x10FFFF {
			return m[0]
		}
	}
	return at
}

// scriptEscapes returns where the first script start tag is whose data
// has a "<!--" and, before a "-->", "<script" twice, or -1. Browsers
// (and the standard) go back into the double escaped state at the second
// <script>, so that the "</script>" after it does not end the script;
// x/net/html's tokenizer ends it there.
func scriptEscapes(page string) int {
	low := strings.ToLower(page)
	for at := 0; ; {
		i := strings.Index(low[at:], "<script")
		if i < 0 {
			return -1
		}
		i += at
		rest := low[i+len("<script"):]
		if j := strings.Index(rest, "<!--"); j >= 0 {
			esc := rest[j:]
			if end := strings.Index(esc, "-->"); end >= 0 {
				esc = esc[:end]
			}
			if strings.Count(esc, "<script") >= 2 {
				return i
			}
		}
		at = i + len("<script")
	}
}

// cdataRef finds a CDATA section with a '&' in it (what may be a
// character reference, which x/net/html decodes there).
var cdataRef = regexp.MustCompile(`<!\[CDATA\[([^\]]|\][^\]])*&`)

// ignoredRawText returns where, in the page, the first start tag of a raw
// text element comes that the rewriter saw in a frameset or after one
// (and ignored, as browsers do), or -1.
func (d *treeDiff) ignoredRawText() int {
	for _, e := range d.elems {
		if e.name == "frameset" {
			if loc := rawTextTag.FindStringIndex(d.in[e.start:]); loc != nil {
				return e.start + loc[0]
			}
			return -1
		}
	}
	return -1
}

// ignoredWhy explains an element of the rewriter that the browser's tree
// does not have.
func (d *treeDiff) ignoredWhy(k int) *designDiff {
	if d.framesetAt >= 0 && d.elems[k].start < d.framesetAt {
		return &diffFrameset // in the body the frameset replaced
	}
	return nil
}

// movedWhy explains an element whose parent differs: every ancestor one
// tree has and the other does not must be explained.
func (d *treeDiff) movedWhy(k int) *designDiff {
	// The browser moved a head element written after </head> into it.
	if pb := d.b.parent(k); pb >= 0 && d.elems[pb].name == "head" && d.elems[k].parent == d.elems[pb].parent && headElements[d.elems[k].name] {
		return &diffHead
	}
	ar, ab := d.rAncestors(k), d.bAncestors(k)
	var why *designDiff
	for _, x := range without(ab, ar) {
		if x >= d.cut {
			why = &diffReference // past the cut: see explain
			continue
		}
		if d.elems[x].name == "body" && d.elems[k].start < d.elems[x].start {
			// The body the browser started before the page's <body> tag,
			// at content bespoke leaves outside it.
			if why == nil {
				why = &diffBody
			}
			continue
		}
		if d.elems[x].name == "head" && d.headAbove(x, ar) {
			// The head the browser moved an ancestor of k into.
			if why == nil {
				why = &diffHead
			}
			continue
		}
		// Otherwise formatting elements explain x: one the browser kept
		// open where bespoke closed it, or moved around k; one x is in;
		// one the browser copied that x is under. (An element that a
		// copy of a formatting element kept open, as the current node
		// where a heading would have ended it, is not explained: the
		// rewriter knows where the copies are, and that excuse hid a
		// second doctype taken for the first.)
		if !formatting[d.elems[x].name] && !d.inFormatting(x, ar, ab) && !d.underCopied(x) {
			return nil
		}
		why = &diffFormat
	}
	for _, x := range without(ar, ab) {
		switch name := d.elems[x].name; {
		case formatting[name] || d.b.orig[x] != nil && d.inCopy(d.b.orig[x]) || d.inFormatting(x, ar, ab):
			// The browser moved k out of a formatting element (and what
			// was opened in it), or closed x with the copy of one it was
			// in.
			why = &diffFormat
		case name == "form" && (d.aboveFormatting(x, ar, ab) || d.blockIn(k, x) && len(without(ab, ar)) == 0):
			// A form that </form> took off the stack while what it held
			// stayed open: the browser moves k past it too (k, or a
			// furthest block of the adoption agency k was in a copy of a
			// formatting element in, or is in).
			why = &diffFormat
		case d.copiedAbove(x) && d.inCopy(d.b.orig[k]):
			// x is in a formatting element the browser copied, and k is
			// in a copy: the adoption agency moved k (or an ancestor)
			// out of x.
			why = &diffFormat
		case d.adopted(k, ar, ab) && len(without(ab, ar)) == 0:
			// k was a furthest block: the adoption agency moved it up,
			// past x (an element between the formatting element and k).
			why = &diffFormat
		case d.adoptedFrom(k, x) && len(without(ab, ar)) == 0:
			// k was a furthest block, and x lay between it and the
			// formatting element (or a copy of it) in the browser's
			// tree: the adoption agency moved k up, out of x.
			why = &diffFormat
		case tableParts[name] && !tableCells[d.elems[k].name]:
			// The browser moved k (or an ancestor) out of the table it
			// is written in (before the table, or into the template the
			// table part is in).
			if why == nil {
				why = &diffFoster
			}
		case d.b.orig[x] == nil && d.why[x] != nil:
			// x is not an element to the browser.
			if why == nil {
				why = d.why[x]
			}
		default:
			return nil
		}
	}
	return why
}

// inFormatting reports whether a formatting element that only one of
// k's ancestor lists (ar, ab) has is an ancestor of x in the rewriter's
// tree.
func (d *treeDiff) inFormatting(x int, ar, ab []int) bool {
	for _, a := range d.rAncestors(x) {
		if formatting[d.elems[a].name] && slices.Contains(ar, a) != slices.Contains(ab, a) {
			return true
		}
	}
	return false
}

// headAbove reports whether the browser moved one of the rewriter's
// ancestors ar into head x, by design (diffHead).
func (d *treeDiff) headAbove(x int, ar []int) bool {
	for _, a := range ar {
		if d.why[a] == &diffHead && d.b.parent(a) == x {
			return true
		}
	}
	return false
}

// firstInTemplate reports whether element k is the first child of its
// template parent but elements of the head (which leave the template's
// content as it was).
func (d *treeDiff) firstInTemplate(k int) bool {
	p := d.elems[k].parent
	for j := p + 1; j < k; j++ {
		if d.elems[j].parent == p && !headElements[d.elems[j].name] {
			return false
		}
	}
	return true
}

// hasCopy reports whether k has a copy of a formatting element as a
// child in the browser's tree.
func (d *treeDiff) hasCopy(k int) bool {
	for c := d.b.orig[k].FirstChild; c != nil; c = c.NextSibling {
		if bn := d.b.nodes[c]; bn != nil && bn.clone {
			return true
		}
	}
	return false
}

// underCopied reports whether x is, in the rewriter's tree, in a
// formatting element of a tag the browser made copies of: an end tag of
// that tag can close a copy in the browser and the element in bespoke.
func (d *treeDiff) underCopied(x int) bool {
	copied := map[string]bool{}
	for id, n := range d.b.clones {
		if n > 0 {
			copied[d.elems[id].name] = true
		}
	}
	for _, a := range d.rAncestors(x) {
		if formatting[d.elems[a].name] && copied[d.elems[a].name] {
			return true
		}
	}
	return false
}

// aboveFormatting reports whether x is, in the rewriter's tree, an
// ancestor of a formatting element that only one of k's ancestor lists
// (ar, ab) has.
func (d *treeDiff) aboveFormatting(x int, ar, ab []int) bool {
	for _, a := range ar {
		moved := formatting[d.elems[a].name] || d.b.orig[a] != nil && d.inCopy(d.b.orig[a])
		if moved && !slices.Contains(ab, a) && slices.Contains(d.rAncestors(a), x) {
			return true
		}
	}
	return false
}

// adopted reports whether k was a furthest block of the adoption agency
// in the browser's tree: a formatting element that is k's ancestor in the
// rewriter's tree (in ar) is not in the browser's (not in ab), and k has a
// copy of it as a child there (the agency moves k out of it, and k's
// children into that copy).
func (d *treeDiff) adopted(k int, ar, ab []int) bool {
	for c := d.b.orig[k].FirstChild; c != nil; c = c.NextSibling {
		bn := d.b.nodes[c]
		if bn == nil || !bn.clone || !formatting[c.Data] {
			continue
		}
		if slices.Contains(ar, bn.id) && !slices.Contains(ab, bn.id) {
			return true
		}
	}
	return false
}

// adoptedFrom reports whether the adoption agency moved k, as a furthest
// block, out of x in the browser's tree: k has a copy of a formatting
// element as a child there, and x is in an element with that number (the
// formatting element or a copy; which of them is the original does not
// matter, as the agency can move an original into a new copy).
func (d *treeDiff) adoptedFrom(k, x int) bool {
	bx := d.b.orig[x]
	if bx == nil {
		return false
	}
	for c := d.b.orig[k].FirstChild; c != nil; c = c.NextSibling {
		bn := d.b.nodes[c]
		if bn == nil || !bn.clone || !formatting[c.Data] {
			continue
		}
		for p := bx.Parent; p != nil; p = p.Parent {
			if pn := d.b.nodes[p]; pn != nil && pn.id == bn.id {
				return true
			}
		}
	}
	return false
}

// copiedAbove reports whether a formatting element the browser copied is
// an ancestor of x in the rewriter's tree.
func (d *treeDiff) copiedAbove(x int) bool {
	for _, a := range d.rAncestors(x) {
		if formatting[d.elems[a].name] && d.b.clones[a] > 0 {
			return true
		}
	}
	return false
}

// blockIn reports whether element k of the rewriter's tree, or one of
// its ancestors below x, holds a copy of a formatting element in the
// browser's tree: the adoption agency made it a furthest block.
func (d *treeDiff) blockIn(k, x int) bool {
	for a := k; a >= 0 && a != x; a = d.elems[a].parent {
		if d.b.orig[a] != nil && d.hasCopy(a) {
			return true
		}
	}
	return false
}

// inCopy reports whether n is in a copy of a formatting element.
func (d *treeDiff) inCopy(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if bn := d.b.nodes[p]; bn != nil && bn.clone {
			return true
		}
	}
	return false
}

// tableCells are the table parts that foster parenting never moves.
var tableCells = map[string]bool{"caption": true, "col": true, "colgroup": true, "tbody": true, "td": true, "tfoot": true,
	"th": true, "thead": true, "tr": true}

// impliedEndNames are the HTML elements whose end tags can be left out,
// which an end tag that generates implied end tags closes.
var impliedEndNames = map[string]bool{"dd": true, "dt": true, "li": true, "optgroup": true, "option": true, "p": true,
	"rb": true, "rp": true, "rt": true, "rtc": true}

var modeNames = map[string]bool{"td": true, "th": true, "tr": true, "tbody": true, "thead": true, "tfoot": true,
	"caption": true, "colgroup": true, "table": true, "template": true, "head": true, "body": true, "frameset": true, "html": true}

var headElements = map[string]bool{"base": true, "basefont": true, "bgsound": true, "link": true, "meta": true,
	"noframes": true, "script": true, "style": true, "template": true, "title": true}

// without returns the elements of a not in b.
func without(a, b []int) []int {
	var out []int
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// context describes where node n sits: for it and each ancestor, its
// identity and its position among its element siblings, in all and of its
// type.
func context(n *html.Node) string {
	var b strings.Builder
	for ; n != nil && n.Type == html.ElementNode; n = n.Parent {
		id := "?" + n.Data
		for _, a := range n.Attr {
			if a.Key == annotAttr {
				id = a.Val
			}
		}
		all, typ := 1, 1
		for s := n.PrevSibling; s != nil; s = s.PrevSibling {
			if s.Type == html.ElementNode {
				all++
				if s.Data == n.Data {
					typ++
				}
			}
		}
		fmt.Fprintf(&b, "%s:%d:%d/", id, all, typ)
	}
	return b.String()
}

// reasons returns the design differences that change where the browser
// has element k (node bn) from where the rewriter has it (node tn): those
// of the elements among its and its ancestors' earlier siblings, and of
// its ancestors, in either tree.
func (d *treeDiff) reasons(bn, tn *html.Node) []string {
	var out []string
	add := func(w *designDiff) {
		if w != nil && !slices.Contains(out, w.name) {
			out = append(out, w.name)
		}
	}
	for _, n := range []*html.Node{bn, tn} {
		for ; n != nil && n.Type == html.ElementNode; n = n.Parent {
			for s := n; s != nil; s = s.PrevSibling {
				if s.Type != html.ElementNode {
					continue
				}
				add(d.bwhy[s])
				if id := attrOf(s, annotAttr); id != "" {
					k, _ := strconv.Atoi(id)
					add(d.why[k])
					if d.attrs[k] {
						add(&diffMerge)
					}
				}
			}
		}
	}
	return out
}

// compareSelector checks one selector on the page.
func (d *treeDiff) compareSelector(t testing.TB, sel string) {
	c := compiled(t, sel)
	out := rewriteAll(c.prog, []Edit{{Op: InsertBefore, Content: []byte(markOpen)}, {Selector: 1, Op: SetAttr, Attr: hitAttr, Value: "1"}}, d.in)
	parts := strings.Split(out, markOpen)[1:]
	if len(parts) != len(d.elems) {
		d.errorf("%s: %d elements marked, %d in the tree", sel, len(parts), len(d.elems))
		return
	}
	// The rewriter marks a start tag by adding the attribute to it: it is
	// within the tag's length and the attribute's from the marker.
	rw := make([]bool, len(d.elems))
	for k, p := range parts {
		n := d.elems[k].end - d.elems[k].start + len(hitAttr) + 6
		rw[k] = strings.Contains(p[:min(n, len(p))], hitAttr)
	}
	cs := c.sel
	if d.quirks {
		cs = c.quirks
	}
	// The matcher: on the rewriter's own tree, cascadia must agree.
	inT := make([]bool, len(d.elems))
	for _, n := range cs.MatchAll(d.t) {
		k, _ := strconv.Atoi(attrOf(n, annotAttr))
		inT[k] = true
	}
	for k := range d.elems[:d.cut] {
		if rw[k] != inT[k] {
			d.errorf("%s: the rewriter %s #%d <%s> at byte %d; cascadia on the rewriter's tree %s", sel, verb(rw[k]), k, d.elems[k].name, d.elems[k].start, verb(inT[k]))
		}
	}
	// The tree: on the browser's tree, differences only where a design
	// difference moved the element or its ancestors.
	inB := make([]bool, len(d.elems))
	for _, n := range cs.MatchAll(d.b.doc) {
		bn := d.b.nodes[n]
		if bn.id < 0 || bn.clone {
			if w := d.bwhy[n]; w != nil {
				d.stats[w.name]++
			}
			continue
		}
		if bn.id < d.cut {
			inB[bn.id] = true
		}
	}
	for k := range d.elems[:d.cut] {
		if rw[k] == inB[k] {
			continue
		}
		if d.attrs[k] {
			d.stats[diffMerge.name]++
			continue
		}
		if w := d.why[k]; w != nil && d.b.orig[k] == nil {
			d.stats[w.name]++
			continue
		}
		bn, tn := d.b.orig[k], d.tnodes[k]
		if context(bn) == context(tn) {
			d.errorf("%s: the rewriter %s #%d <%s> at byte %d, the browser %s, and it is in the same place in both trees", sel, verb(rw[k]), k, d.elems[k].name, d.elems[k].start, verb(inB[k]))
			continue
		}
		rs := d.reasons(bn, tn)
		if len(rs) == 0 {
			d.errorf("%s: the rewriter %s #%d <%s> at byte %d, the browser %s; its place differs (%s, %s) for no known reason", sel, verb(rw[k]), k, d.elems[k].name, d.elems[k].start, verb(inB[k]), context(tn), context(bn))
			continue
		}
		for _, r := range rs {
			d.stats[r]++
		}
	}
}

// compiledSel is a selector compiled for both sides.
type compiledSel struct {
	prog *Program // "*" and the selector
	sel  cascadia.Selector
	// In quirks mode, id and class selectors match ASCII
	// case-insensitively (the rewriter does, as browsers do); cascadia
	// does not. Written as attribute selectors with the i flag, they do
	// (and attribute selectors on class and id still do not).
	quirks cascadia.Selector
}

var compiledSels sync.Map

func compiled(t testing.TB, sel string) *compiledSel {
	if c, ok := compiledSels.Load(sel); ok {
		return c.(*compiledSel)
	}
	prog, err := CompileStrings([]string{"*", sel})
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	c := &compiledSel{prog: prog, sel: cascadia.MustCompile(sel), quirks: cascadia.MustCompile(quirksSelector(sel))}
	compiledSels.Store(sel, c)
	return c
}

// quirksSelector writes sel's id and class selectors (after a '.' or
// '#' outside brackets and strings) as attribute selectors that compare
// case-insensitively: .Foo as [class~="Foo" i], #Foo as [id="Foo" i].
// The name is copied as written: an escape reads the same in a string.
func quirksSelector(sel string) string {
	var b strings.Builder
	var quote byte
	bracket := false
	for i := 0; i < len(sel); i++ {
		c := sel[i]
		switch {
		case c == '\\':
			b.WriteByte(c)
			if i+1 < len(sel) {
				i++
				b.WriteByte(sel[i])
			}
			continue
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			bracket = true
		case c == ']':
			bracket = false
		case !bracket && (c == '.' || c == '#'):
			j := identEnd(sel, i+1)
			if j == i+1 {
				break
			}
			if c == '.' {
				fmt.Fprintf(&b, `[class~="%s" i]`, sel[i+1:j])
			} else {
				fmt.Fprintf(&b, `[id="%s" i]`, sel[i+1:j])
			}
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// identEnd returns where the CSS name that starts at s[i] ends.
func identEnd(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; {
		case c == '\\':
			// The escaped byte, or up to six hex digits and a space.
			j := i + 1
			for j < len(s) && j < i+7 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			if j == i+1 {
				j++
			} else if j < len(s) && s[j] == ' ' {
				j++
			}
			i = min(j, len(s))
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c >= 0x80:
			i++
		default:
			return i
		}
	}
	return i
}

func verb(selected bool) string {
	if selected {
		return "selects"
	}
	return "does not select"
}

func attrOf(n *html.Node, key string) string { return attrValue(n.Attr, key) }

// differentialCorpus returns the pages of the differential test: the
// hand-written cases, n generated pages, and the saved real-world pages.
func differentialCorpus(t testing.TB, n int, seed uint64) []string {
	corpus := slices.Concat(malformedCases, treePages())
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < n; i++ {
		corpus = append(corpus, malformedPage(rng))
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "pages", "*.html"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus = append(corpus, string(b))
	}
	return corpus
}

// checkPage runs the differential check on one page and returns its
// statistics, or fails t and returns nil.
func checkPage(t testing.TB, in string) map[string]int {
	t.Helper()
	return checkPageWith(t, in, nil)
}

// checkPageWith is checkPage with more selectors: extra, besides
// browserSelectors.
func checkPageWith(t testing.TB, in string, extra []string) map[string]int {
	t.Helper()
	return checkPageBy(t, in, extra, compareTrees)
}

// checkPageBy is checkPageWith with compare building and comparing the
// trees.
func checkPageBy(t testing.TB, in string, extra []string, compare func(string) (*treeDiff, error)) map[string]int {
	t.Helper()
	d, err := compare(in)
	if err != nil {
		t.Fatalf("%v\npage: %s", err, short(in))
	}
	if d == nil {
		return map[string]int{}
	}
	if len(d.errs) == 0 {
		for _, sel := range slices.Concat(browserSelectors, extra) {
			d.compareSelector(t, sel)
		}
	}
	if len(d.errs) > 0 {
		if len(d.errs) > 8 {
			d.errs = append(d.errs[:8], fmt.Sprintf("... and %d more", len(d.errs)-8))
		}
		page := short(in)
		if len(in) < 3000 {
			page = fmt.Sprintf("%q", in)
		}
		if dir := os.Getenv("BESPOKE_DIFF_OUT"); dir != "" {
			// Kept for TestBrowserTree (BESPOKE_TREE=@file).
			f := filepath.Join(dir, fmt.Sprintf("page-%x.html", crc32.ChecksumIEEE([]byte(in))))
			if err := os.WriteFile(f, []byte(in), 0o644); err == nil {
				page += " (saved as " + f + ")"
			}
		}
		t.Errorf("page %s\n  %s", page, strings.Join(d.errs, "\n  "))
		return nil
	}
	return d.stats
}

// TestBrowserDifferential compares the rewriter's element tree, and what
// selectors select in it, with the browser's (x/net/html and cascadia) on
// the hand-written malformed pages, generated ones (seeded by
// $BESPOKE_SEED when set; $BESPOKE_DIFF_PAGES of them, 1,500 by default,
// 300 with -short or the race detector) and the saved real-world pages.
func TestBrowserDifferential(t *testing.T) {
	corpus, n, s := sizedCorpus(t)
	stats := checkCorpus(t, corpus, s, compareTrees)
	for _, d := range append(designDiffs, diffReference) {
		t.Logf("%s: %d selections differ (%s)", d.name, stats[d.name], d.why)
	}
	t.Logf("%d pages (%d hand-written, %d generated with BESPOKE_SEED=%d, the saved pages), %d selectors", len(corpus), len(malformedCases)+len(treePages()), n, s, len(browserSelectors))
}

// sizedCorpus returns the pages of a differential test (differentialCorpus),
// with $BESPOKE_DIFF_PAGES generated pages (1,500 by default, 300 with
// -short or the race detector), how many, and the seed.
func sizedCorpus(t *testing.T) ([]string, int, uint64) {
	n := 1500
	if testing.Short() || raceEnabled {
		n = 300
	}
	if v := os.Getenv("BESPOKE_DIFF_PAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("BESPOKE_DIFF_PAGES=%q: %v", v, err)
		}
	}
	s := seed(t)
	return differentialCorpus(t, n, s), n, s
}

// checkCorpus checks every page of corpus with compare (checkPageBy),
// stops after 20 failing pages, and returns the statistics.
func checkCorpus(t *testing.T, corpus []string, s uint64, compare func(string) (*treeDiff, error)) map[string]int {
	stats := map[string]int{}
	failed := 0
	for i, page := range corpus {
		st := checkPageBy(t, page, nil, compare)
		for k, v := range st {
			stats[k] += v
		}
		if st == nil {
			if failed++; failed > 20 {
				t.Fatalf("stopping after 20 failing pages (BESPOKE_SEED=%d, page %d)", s, i)
			}
		}
	}
	return stats
}

// TestBrowserTree prints the rewriter's tree and the browser's of the page
// in $BESPOKE_TREE, to study a difference the differential test reports:
//
//	BESPOKE_TREE='<b><p>x</b>y' go test -run TestBrowserTree -v ./host/internal/rewrite/
func TestBrowserTree(t *testing.T) {
	in := os.Getenv("BESPOKE_TREE")
	if in == "" {
		t.Skip("set BESPOKE_TREE to a page, or to @file")
	}
	if f, ok := strings.CutPrefix(in, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in = string(b)
	}
	d, err := compareTrees(in)
	if err != nil || d == nil {
		t.Fatalf("%v", err)
	}
	var rw, br strings.Builder
	var dump func(b *strings.Builder, n *html.Node, depth int)
	dump = func(b *strings.Builder, n *html.Node, depth int) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			id := attrOf(c, annotAttr)
			if id == "" {
				id = "implied"
			} else if bn := d.b.nodes[c]; bn != nil && bn.clone {
				id += " (copy)"
			}
			ns := ""
			if c.Namespace != "" {
				ns = c.Namespace + ":"
			}
			fmt.Fprintf(b, "%s<%s%s> #%s\n", strings.Repeat("  ", depth), ns, c.Data, id)
			dump(b, c, depth+1)
		}
	}
	dump(&rw, d.t, 0)
	dump(&br, d.b.doc, 0)
	t.Logf("the rewriter's tree:\n%s\nthe browser's tree:\n%s", rw.String(), br.String())
	if len(d.errs) == 0 {
		for _, sel := range browserSelectors {
			d.compareSelector(t, sel)
		}
	}
	for _, e := range d.errs {
		t.Log(e)
	}
}

// TestQuirksSelector: the oracle's quirks-mode selectors compare the
// names of id and class selectors case-insensitively, and nothing else
// differently.
func TestQuirksSelector(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{".lightboxOverlay", `[class~="lightboxOverlay" i]`},
		{"#Main > DIV.Card", `[id="Main" i] > DIV[class~="Card" i]`},
		{`.md\:Flex`, `[class~="md\:Flex" i]`},
		{`[class="Foo"].Bar`, `[class="Foo"][class~="Bar" i]`},
		{`a[title='x.Y'] #Z`, `a[title='x.Y'] [id="Z" i]`},
		{`:not(.A, #B) [data-X=".C"]`, `:not([class~="A" i], [id="B" i]) [data-X=".C"]`},
		{`.\31 Col`, `[class~="\31 Col" i]`},
	} {
		if got := quirksSelector(c.in); got != c.want {
			t.Errorf("quirksSelector(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	doc, _ := html.Parse(strings.NewReader(`<div class="A b" id="X">`))
	for _, sel := range []string{".a", ".B", "#x", "div.a#X"} {
		if len(cascadia.MustCompile(quirksSelector(sel)).MatchAll(doc)) != 1 {
			t.Errorf("%s (%s) does not select the div", sel, quirksSelector(sel))
		}
	}
	if n := len(cascadia.MustCompile(quirksSelector(`[class~="a"]`)).MatchAll(doc)); n != 0 {
		t.Errorf(`[class~="a"] selects %d elements, want none`, n)
	}
}
