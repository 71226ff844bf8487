package rewrite

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
)

// pathological is a page shaped to make a rewriter do more than linear
// work, built at about n bytes. testdata/pathological/README.md says what
// each stresses.
type pathological struct {
	name string
	page func(n int) []byte
}

// repeat builds a page of about n bytes: head, then body repeated, then
// tail repeated as many times as body was (the end tags of nested
// openings).
func repeat(n int, head, body, tail string) []byte {
	k := max(1, (n-len(head))/(len(body)+len(tail)))
	var b bytes.Buffer
	b.Grow(len(head) + k*(len(body)+len(tail)))
	b.WriteString(head)
	for i := 0; i < k; i++ {
		b.WriteString(body)
	}
	for i := 0; i < k; i++ {
		b.WriteString(tail)
	}
	return b.Bytes()
}

// pathologicalPages are the pages; the nested ones stay within the
// rewriter's memory bound at the sizes the tests use (a rewrite that stops
// does no work, which would hide what it costs).
var pathologicalPages = []pathological{
	{"deep-divs", func(n int) []byte {
		// Selectors with descendant combinators over deep nesting.
		return repeat(n, "<section>", "<div>", "</div>")
	}},
	{"deep-divs-links", func(n int) []byte {
		// Deep nesting, with many links deep inside: "section > div div a".
		var b bytes.Buffer
		b.WriteString("<section>")
		depth := n / 40
		for i := 0; i < depth; i++ {
			b.WriteString("<div>")
		}
		for i := 0; b.Len() < n-depth*6; i++ {
			if i%100 == 0 {
				b.WriteString(`<a class=hit href="/x">link</a>`)
			} else {
				b.WriteString(`<a href="/x">link</a>`)
			}
		}
		for i := 0; i < depth; i++ {
			b.WriteString("</div>")
		}
		return b.Bytes()
	}},
	{"long-tag", func(n int) []byte {
		// One start tag as long as the page, with many attributes.
		return append(repeat(n-16, "<div", " a", ""), ">x</div>"...)
	}},
	{"long-quoted-value", func(n int) []byte {
		// A quoted value holding '>' and '<' all the way.
		return append(repeat(n-16, `<div title="`, "a>b<c ", ""), `">x</div>`...)
	}},
	{"long-tag-name", func(n int) []byte {
		return append(repeat(n-16, "<x", "abcdefgh", ""), ">x"...)
	}},
	{"many-attributes", func(n int) []byte {
		// Many tags with many attributes, which selectors ask about.
		return repeat(n, "<main>", `<p a=1 b="2" c='3' d e=5 f=6 g=7 h=8 data-x=9 class="x y z">t</p>`, "")
	}},
	{"script-escape", func(n int) []byte {
		// Script data escaped by "<!--" and never unescaped, full of '<'.
		return repeat(n, "<script><!--", "<a<b<<c", "")
	}},
	{"script-almost-end", func(n int) []byte {
		// Script data full of what almost ends it.
		return append(repeat(n-16, "<script>", "</scrip </scriptx <!- <scrip ", ""), "</script>"...)
	}},
	{"long-comment", func(n int) []byte {
		// A comment full of what almost ends it.
		return repeat(n, "<!--", "-- -!> --! ->", "")
	}},
	{"bogus-comments", func(n int) []byte {
		// A doctype, a processing instruction and an end tag that never
		// end.
		third := n / 3
		return append(append(repeat(third, "<!DOCTYPE ", "x", ""), repeat(third, "<?", "y", "")...), repeat(third, "</ ", "z", "")...)
	}},
	{"cdata", func(n int) []byte {
		return repeat(n, "<svg><![CDATA[", "]] ]> <a>", "")
	}},
	{"stray-end-tags", func(n int) []byte {
		// Deep inline nesting, then end tags that close nothing: each
		// looks for an element of its name below a special one.
		half := n / 2
		return append(repeat(half, "<div>", "<span>", ""), repeat(half, "", "</b></x-y></q>", "")...)
	}},
	{"list-items-deep", func(n int) []byte {
		// <li> under deep nesting: each looks for an open li to close.
		half := n / 2
		return append(repeat(half, "<ul>", "<div>", ""), repeat(half, "", "<li>x</li>", "")...)
	}},
	{"p-in-button-scope", func(n int) []byte {
		// An open p that a button hides, deep inline nesting, and blocks
		// that look for the p.
		half := n / 2
		return append(repeat(half, "<p><button>", "<span>", ""), repeat(half, "", "<div></div>", "")...)
	}},
	{"misnested-formatting", func(n int) []byte {
		// Formatting elements cut by blocks: the adoption agency.
		return repeat(n, "<main>", "<b><i><div>x</b>y</i>z</div>", "")
	}},
	{"reopened-formatting", func(n int) []byte {
		// Formatting elements that blocks close and text reopens.
		return repeat(n, "<main>", `<p><b class="a"><i>x<p>y`, "")
	}},
	{"adoption-wide", func(n int) []byte {
		// An open a, many elements, a block, and an a that makes the
		// adoption agency close them all: maxAdoptWalk steps a tag.
		return repeat(n, "<main>", "<a>"+strings.Repeat("<span>", maxAdoptWalk-1)+"<p><a>x", "")
	}},
	{"adoption-deep", func(n int) []byte {
		// Many formatting elements, deep blocks, and their end tags.
		half := n / 2
		return append(repeat(half, "<main>", "<b><div>", ""), repeat(half, "", "</b>", "")...)
	}},
	{"table-parts", func(n int) []byte {
		// Table parts outside tables, and rows with text where it is
		// moved out.
		return repeat(n, "<table>", "<td>a</td><th>b<caption>c</caption><tr>d<div>e</div>", "")
	}},
	{"unknown-tags", func(n int) []byte {
		// Many distinct unknown tag names (up to the limit), nested and
		// as siblings.
		var b bytes.Buffer
		b.WriteString("<div>")
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "<x-%d><y-%d></y-%d></x-%d>", i%500, i%300, i%300, i%500)
		}
		return b.Bytes()
	}},
	{"many-siblings", func(n int) []byte {
		// Many siblings of many types under one parent, for :nth-child
		// and :nth-of-type.
		var b bytes.Buffer
		b.WriteString("<ul>")
		tags := []string{"li", "p", "span", "em", "i", "b", "u", "s"}
		for i := 0; b.Len() < n; i++ {
			t := tags[i%len(tags)]
			fmt.Fprintf(&b, "<%s>x</%s>", t, t)
		}
		return b.Bytes()
	}},
	{"nested-list-items", func(n int) []byte {
		// Items of list edits nested in items, each region holding what
		// follows it.
		return repeat(n, "<div class=item>", `<div class=item id=s1>a</div><div class=item id=k>`, "</div>")
	}},
	{"foreign-deep", func(n int) []byte {
		// Deep svg content, then HTML that leaves it and end tags that
		// look for svg elements.
		half := n / 2
		return append(repeat(half, "<svg>", "<g>", ""), repeat(half, "", "</x></g2>", "")...)
	}},
}

// pathologicalSelectors are the selectors the pathological pages are
// rewritten with: the shop page's five edits, and the selectors each page
// targets. Those end with a class few elements have (.hit), so that what
// is measured is what matching costs, not what edits to every element
// cost: the ancestors and positions are still worked out for each.
var pathologicalSelectors = []string{
	".listing-head h1", "#promo-strip a", "body", "#listing", "#legacy-promo",
	"section > div div div.hit", "section > div div a.hit", "div :not(p) span.hit", "li:nth-of-type(2).hit",
	"[data-x=hit]", "ul > :nth-child(2n).hit", "div.item", "svg g.hit", "b p.hit, i div.hit",
}

var pathologicalEdits = []Edit{
	{Selector: 0, Op: SetInner, Content: []byte("Équipez-vous")},
	{Selector: 1, Op: SetAttr, Attr: "href", Value: "/fr/soldes"},
	{Selector: 2, Op: AddClass, Attr: "lang-fr"},
	{Selector: 3, Op: InsertBefore, Content: []byte(`<div class="app-banner">Get the app</div>`)},
	{Selector: 4, Op: Remove},
	{Selector: 5, Op: AddClass, Attr: "deep"},
	{Selector: 6, Op: SetAttr, Attr: "rel", Value: "nofollow"},
	{Selector: 7, Op: InsertAfter, Content: []byte("!")},
	{Selector: 8, Op: AddClass, Attr: "second"},
	{Selector: 9, Op: RemoveAttr, Attr: "data-x"},
	{Selector: 10, Op: Append, Content: []byte("+")},
	{Selector: 11, Op: HideSeen, Attr: "id", N: 1},
	{Selector: 12, Op: AddClass, Attr: "g"},
	{Selector: 13, Op: Prepend, Content: []byte("*")},
}

// pathologicalProgram compiles pathologicalSelectors (once, after the
// package's tag tables are built: not in a variable's initializer).
var pathologicalProgram = sync.OnceValue(func() *Program { return mustCompile(pathologicalSelectors...) })

// hideEverySeen reports seen the items whose ids start with "s": in
// nested-list-items, the first item of each level goes, and the next,
// which holds the rest of the page, moves up.
type hideEverySeen struct{}

func (hideEverySeen) Recency(id string) int {
	if strings.HasPrefix(id, "s") {
		return 1
	}
	return 0
}
func (hideEverySeen) Shown(string) {}

// rewriteWork rewrites page in writes of chunk bytes (0: one write) and
// returns the work the rewriter counted.
func rewriteWork(page []byte, chunk int) int {
	var out bytes.Buffer
	rw := pathologicalProgram().NewRewriter(&out, pathologicalEdits, Options{MaxBuffer: 16 << 20, Seen: hideEverySeen{}})
	if chunk <= 0 {
		chunk = len(page)
	}
	for i := 0; i < len(page); i += chunk {
		rw.Write(page[i:min(i+chunk, len(page))])
	}
	rw.Close()
	w := rw.work
	rw.Release()
	return w
}

// TestLinearWork checks, without timing, that the rewriter's work grows
// linearly with the page: for each pathological page at n and 2n bytes,
// written whole and in small writes, the steps its loops count (bytes
// scanned, stack entries visited, selector positions and list entries
// computed) at most about double. It needs the counting build:
// go test -tags rewritework.
func TestLinearWork(t *testing.T) {
	if !trackWork {
		if os.Getenv("CI") == "true" {
			t.Fatal("the work counter is off: run with -tags rewritework")
		}
		t.Skip("the work counter is off: run with -tags rewritework (make test does)")
	}
	const n = 64 << 10
	for _, p := range pathologicalPages {
		for _, chunk := range []int{0, 61, 1} {
			name := fmt.Sprintf("%s/chunk=%d", p.name, chunk)
			if chunk == 1 && testing.Short() {
				continue
			}
			t.Run(name, func(t *testing.T) {
				small, large := p.page(n), p.page(2*n)
				w1, w2 := rewriteWork(small, chunk), rewriteWork(large, chunk)
				ratio := float64(w2) / float64(w1) * float64(len(small)) / float64(len(large)) * 2
				t.Logf("%d bytes: %d steps (%.1f a byte); %d bytes: %d steps (%.1f a byte)",
					len(small), w1, float64(w1)/float64(len(small)), len(large), w2, float64(w2)/float64(len(large)))
				if w1 < len(small)/2 {
					t.Errorf("%d steps for %d bytes: the counter misses work", w1, len(small))
				}
				if ratio > 2.2 {
					t.Errorf("twice the page costs %.2f times the work (%d, then %d steps)", ratio, w1, w2)
				}
			})
		}
	}
}

// TestPathologicalPages checks that each pathological page comes out as
// the same bytes whole and in small writes, and that a program whose
// selectors match nothing leaves it byte for byte (the pages are also
// where a super-linear rewriter would time out).
func TestPathologicalPages(t *testing.T) {
	none := mustCompile("#never", ".never p", "x-never > y")
	for _, p := range pathologicalPages {
		t.Run(p.name, func(t *testing.T) {
			page := p.page(16 << 10)
			whole, _ := rewrite(t, pathologicalProgram(), pathologicalEdits, Options{MaxBuffer: 16 << 20, Seen: hideEverySeen{}}, string(page), chunker(len(page)+1, nil))
			for _, size := range []int{1, 7, 61} {
				got, _ := rewrite(t, pathologicalProgram(), pathologicalEdits, Options{MaxBuffer: 16 << 20, Seen: hideEverySeen{}}, string(page), chunker(size, nil))
				if got != whole {
					t.Fatalf("in writes of %d bytes the output differs", size)
				}
			}
			got, _ := rewrite(t, none, []Edit{{Op: Remove}, {Selector: 1, Op: AddClass, Attr: "c"}, {Selector: 2, Op: Limit}}, Options{MaxBuffer: 16 << 20}, string(page), chunker(61, nil))
			if got != string(page) {
				t.Fatalf("no edit matches, yet the page changed")
			}
		})
	}
}

// TestPathologicalDump writes the pathological pages (at 64 KiB) to the
// directory in $BESPOKE_PATHOLOGICAL, to look at them or feed them to
// other tools.
func TestPathologicalDump(t *testing.T) {
	dir := os.Getenv("BESPOKE_PATHOLOGICAL")
	if dir == "" {
		t.Skip("set BESPOKE_PATHOLOGICAL to a directory")
	}
	for _, p := range pathologicalPages {
		if err := os.WriteFile(filepath.Join(dir, p.name+".html"), p.page(64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// shopPage is the saved shop page, the one the load tests serve.
func shopPage(b testing.TB) []byte {
	page, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", "shop.html"))
	if err != nil {
		b.Fatal(err)
	}
	return page
}

// countTags returns the start and end tags of page as x/net/html's
// tokenizer reads them: what a rewriter's cost is counted in, outside
// the text it copies.
func countTags(page []byte) int {
	z := html.NewTokenizer(bytes.NewReader(page))
	n := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return n
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			n++
		}
	}
}

// BenchmarkPathological rewrites each pathological page (256 KiB) and
// the shop page with the same program, in one write and in writes of 512
// bytes, and reports ns/byte and, for the pages made of tags, ns/tag.
// The goal is a pathological page's ns/byte at most 3 times the shop
// page's; bench/ takes that ratio, the worst page's, from the medians of
// each sub-benchmark's runs (-count), and the same per tag: as the pages
// hold a tag every 4 to 12 bytes, where the shop page holds one every 37,
// the ratio per byte is mostly their density of tags, and the ratio per
// tag says what each of their tags costs against one of the shop page's.
//
// The benchmark takes no ratio itself: go test runs each sub-benchmark's
// -count runs back to back, so every run of the shop page ends before the
// first of any other page, and a ratio made here would divide all the
// runs of a page by the shop page's last run alone, minutes before.
func BenchmarkPathological(b *testing.B) {
	pages := []struct {
		name string
		page []byte
	}{{"shop", shopPage(b)}}
	for _, p := range pathologicalPages {
		pages = append(pages, struct {
			name string
			page []byte
		}{p.name, p.page(256 << 10)})
	}
	for _, p := range pages {
		for _, w := range []struct {
			name  string
			chunk int
		}{{"whole", 0}, {"chunked", 512}} {
			b.Run(p.name+"/"+w.name, func(b *testing.B) {
				page := p.page
				tags := max(1, countTags(page))
				chunk := w.chunk
				if chunk == 0 {
					chunk = len(page)
				}
				var out bytes.Buffer
				out.Grow(2 * len(page))
				rewriteOnce := func() {
					out.Reset()
					rw := pathologicalProgram().NewRewriter(&out, pathologicalEdits, Options{MaxBuffer: 16 << 20, Seen: hideEverySeen{}})
					for i := 0; i < len(page); i += chunk {
						rw.Write(page[i:min(i+chunk, len(page))])
					}
					rw.Close()
					rw.Release()
				}
				warm(rewriteOnce)
				b.SetBytes(int64(len(page)))
				b.ReportAllocs()
				for b.Loop() {
					rewriteOnce()
				}
				perByte := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(len(page))
				perTag := perByte * float64(len(page)) / float64(tags)
				// Per tag only where the page is made of tags: one long
				// tag or comment costs by its bytes.
				dense := tags*64 >= len(page)
				b.ReportMetric(perByte, "ns/byte")
				if dense {
					b.ReportMetric(perTag, "ns/tag")
				}
			})
		}
	}
}

// TestPathologicalREADME checks that the README of testdata/pathological
// describes every page, and no other.
func TestPathologicalREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pathological", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			if i := strings.IndexByte(name, '`'); i > 0 {
				names = append(names, name[:i])
			}
		}
	}
	want := map[string]bool{}
	for _, p := range pathologicalPages {
		want[p.name] = true
	}
	for _, n := range names {
		if !want[n] {
			t.Errorf("README describes %q, which is not a page", n)
		}
		delete(want, n)
	}
	for n := range want {
		t.Errorf("README does not describe %q", n)
	}
}

// TestWorkFlatInSelectors checks, without timing, that many selectors of
// one kind cost what one does where they are looked up: classes and ids
// (in a page with a doctype, one without, in quirks mode, and values
// with character references), classes with a tag, and an attribute's
// values. The rewriter's
// steps for the shop page with 400 such selectors, none of which
// matches, are within a fifth of those with 10. It needs the counting
// build: go test -tags rewritework.
func TestWorkFlatInSelectors(t *testing.T) {
	if !trackWork {
		if os.Getenv("CI") == "true" {
			t.Fatal("the work counter is off: run with -tags rewritework")
		}
		t.Skip("the work counter is off: run with -tags rewritework (make test does)")
	}
	shop := shopPage(t)
	quirks := doctypeRE.ReplaceAll(shop, nil)
	refs := bytes.ReplaceAll(shop, []byte(`class="product-card`), []byte(`class="product&#45;card`))
	work := func(page []byte, format string, k int) int {
		sels := make([]string, k)
		edits := make([]Edit, k)
		for i := range sels {
			sels[i] = fmt.Sprintf(format, i)
			edits[i] = Edit{Selector: i, Op: AddClass, Attr: "class", Value: "hit"}
		}
		rw := mustCompile(sels...).NewRewriter(io.Discard, edits, Options{})
		rw.Write(page)
		rw.Close()
		w := rw.work
		rw.Release()
		return w
	}
	for _, c := range []struct {
		name, format string
		page         []byte
	}{
		{"classes", ".promo-%d", shop},
		{"classes, quirks mode", ".Promo-%d", quirks},
		{"classes with references", ".promo-%d", refs},
		{"ids, quirks mode", "#Hero-%d", quirks},
		{"classes with a tag", "li.promo-%d", shop},
		{"classes with a tag, quirks mode", "li.Promo-%d", quirks},
		{"attribute values", `[data-item-id="x-%d"]`, shop},
		{"attribute values, i flag", `[data-item-id="X-%d" i]`, shop},
		{"ids, then a class", "#promo-%d .price", shop},
		{"ids, then a class's child", "#promo-%d > .price", shop},
		{"classes with a tag, then a tag", "li.promo-%d span", shop},
		{"attribute values, then a class", `[data-item-id="x-%d"] .price`, shop},
		{":not() with a tag", "section:not(.s-%d)", shop},
		{":not() with an id, then a tag", "#hero-%d:not(.x) span", shop},
	} {
		t.Run(c.name, func(t *testing.T) {
			few, many := work(c.page, c.format, 10), work(c.page, c.format, 400)
			t.Logf("10 selectors: %d steps; 400: %d", few, many)
			if float64(many) > 1.2*float64(few) {
				t.Errorf("400 selectors cost %d steps, 10 cost %d", many, few)
			}
		})
	}
}
