package rewrite

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// changeAfterBody returns page with what its <body> start tag is
// followed by replaced: the first cut bytes dropped and ins written
// instead.
func changeAfterBody(page []byte, cut int, ins string) []byte {
	at := bytes.Index(page, []byte("<body"))
	at += bytes.IndexByte(page[at:], '>') + 1
	return bytes.Join([][]byte{page[:at], []byte(ins), page[at+cut:]}, nil)
}

// TestSpliceResumes: a page that differs from its map's near the top
// is handed back to the map once it is the map's page again and the
// Rewriter that took over is in the state the map's rewrite was in: the
// Rewriter reads a block or two past the change, not the page, and the
// output, Applied and SeenSet calls are still the Rewriter's. Where the
// change leaves the rewrite in another state (an element left open, a
// child more for :nth-of-type), the page is rewritten to its end.
func TestSpliceResumes(t *testing.T) {
	shop := shopPage(t)
	stamp := func(s string) string { return `<p class="served-by">` + s + `</p>` }
	digits := func(n int) string {
		var b strings.Builder
		for range 6 {
			fmt.Fprintf(&b, "<x%d>%d</x%d>", n%10, n%10, n%10)
			n /= 10
		}
		return b.String()
	}
	sels := []string{".listing-head h1", "#promo-strip a", "body", "#listing", "li.card", "main p"}
	hide := []Edit{
		{Selector: 4, Op: HideSeen, Attr: "data-item-id", N: 4},
		{Selector: 0, Op: SetInner, Content: []byte("Hello")},
		{Selector: 2, Op: AddClass, Attr: "class", Value: "v"},
		{Selector: 5, Op: Append, Content: []byte("<b>!</b>")},
	}
	tests := []struct {
		name       string
		sels       []string
		map_, page []byte
		edits      []Edit
		resume     bool
	}{
		{"elements of a request number, in a paragraph", sels,
			changeAfterBody(shop, 0, stamp(digits(123456))), changeAfterBody(shop, 0, stamp(digits(654321))), hide, true},
		{"elements of a request number, in the body", sels,
			changeAfterBody(shop, 0, digits(123456)), changeAfterBody(shop, 0, digits(654321)), hide, true},
		{"a greeting that grew", sels,
			changeAfterBody(shop, 0, stamp("Hello, Ann")), changeAfterBody(shop, 0, stamp("Hello, Bartholomew, welcome back")), hide, true},
		{"a greeting that shrank, where no edit selects anything", append(sels[:6:6], "#nowhere"),
			changeAfterBody(shop, 0, stamp("Hello, Bartholomew")), changeAfterBody(shop, 0, stamp("Hi")),
			[]Edit{{Selector: 6, Op: Remove}}, true},
		{"an element left open", sels,
			shop, changeAfterBody(shop, 0, "<div class=banner>"), hide, false},
		{"a child more, for :nth-of-type", append(sels[:5:5], "body > p:nth-of-type(2)"),
			changeAfterBody(shop, 0, stamp("a")), changeAfterBody(shop, 0, stamp("a")+stamp("b")), hide, false},
		{"a child more, no :nth-of-type", sels,
			changeAfterBody(shop, 0, stamp("a")), changeAfterBody(shop, 0, stamp("a")+stamp("b")), hide, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(tt.sels...)
			rng := rand.New(rand.NewPCG(5, 6))
			m := recordMap(rng, p, tt.map_, false)
			if m == nil {
				t.Fatal("no map")
			}
			for _, direct := range []bool{false, true} {
				salt := rng.Uint32()
				var got, written bytes.Buffer
				gs := &logSeen{salt: salt}
				sp := p.NewSplicer(&written, m, tt.edits, Options{Seen: seenFor(gs), Direct: direct})
				drain := func() {
					got.Write(sp.Take())
					got.Write(written.Bytes())
					written.Reset()
				}
				c := chunking(rng, len(tt.page))
				if err := spliced(rng, sp, tt.page, c, drain); err != nil {
					t.Fatal(err)
				}
				fell, resumed, feeds := sp.FellBack(), sp.Resumed(), append([]int(nil), sp.feeds...)
				sp.Release()
				if fell < 0 {
					t.Fatal("the page did not stop matching its map")
				}
				if resumed != tt.resume {
					t.Fatalf("resumed %v, want %v (fell back at %d, the Rewriter read to %v)", resumed, tt.resume, fell, feeds)
				}
				if resumed && feeds[len(feeds)-1] > fell+4*SpliceBlock {
					t.Errorf("the Rewriter read the page to %d; it stopped matching at %d", feeds[len(feeds)-1], fell)
				}
				var want bytes.Buffer
				ws := &logSeen{salt: salt}
				rw := p.NewRewriter(&want, tt.edits, Options{Seen: seenFor(ws)})
				if err := chunked(rw, tt.page, []int{len(tt.page)}); err != nil {
					t.Fatal(err)
				}
				rw.Release()
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					i := 0
					for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
						i++
					}
					t.Fatalf("direct %v: output differs at %d:\nwant %q\n got %q", direct, i,
						want.Bytes()[max(0, i-60):min(want.Len(), i+60)], got.Bytes()[max(0, i-60):min(got.Len(), i+60)])
				}
				if strings.Join(gs.log, "\n") != strings.Join(ws.log, "\n") {
					t.Fatalf("direct %v: SeenSet calls differ", direct)
				}
			}
		})
	}
}

// TestSpliceResumesRealPages: on the public corpus's pages, with
// selectors derived from each page and random edits, a map made from the
// page with one request number as elements after <body> and the page
// served with another: the Splicer's output, Applied and SeenSet calls
// are the Rewriter's, and most pages are handed back to their map (a
// page's own structure may keep it from being: an element its first
// bytes leave open to its end).
func TestSpliceResumesRealPages(t *testing.T) {
	pages := realPages(t)
	names, s := realPageSample(t, pages, 8)
	rng := rand.New(rand.NewPCG(s, 11))
	stamp := func(n int) string { return fmt.Sprintf(`<p class="served-by"><x%d>%d</x%d></p>`, n, n, n) }
	fell, resumed := 0, 0
	for _, name := range names {
		page := pages[name]
		if !bytes.Contains(page, []byte("<body")) || len(page) > 400<<10 || len(page) < 4*SpliceBlock {
			continue
		}
		sels := pageSelectors(t, string(page), s, 12, true)
		if len(sels) == 0 {
			continue
		}
		p := mustCompile(sels...)
		m := recordMap(rng, p, changeAfterBody(page, 0, stamp(1)), false)
		if m == nil {
			continue
		}
		for round := range 3 {
			before := spliceResumed
			_, at := spliceCase(t, rng, p, m, changeAfterBody(page, 0, stamp(2+round)), randomEdits(rng, len(sels)), 0,
				fmt.Sprintf("%s round %d (seed %d)", name, round, s))
			if at >= 0 {
				fell++
			}
			resumed += spliceResumed - before
		}
	}
	t.Logf("%d pages fell back, %d of them resumed", fell, resumed)
	if fell == 0 || resumed*2 < fell {
		t.Fatalf("%d pages fell back and %d resumed: fewer than half", fell, resumed)
	}
}
