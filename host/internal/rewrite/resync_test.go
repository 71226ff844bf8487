package rewrite

import (
	"bytes"
	"fmt"
	"io"
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

// pageProgram is a public page and a program of selectors derived from
// it.
type pageProgram struct {
	name string
	page []byte
	p    *Program
	sels []string
}

// publicPagePrograms returns a sample of the public corpus's pages (see
// realPageSample) that have a <body> and from minLen bytes to 400 KiB,
// each with a program of up to 12 selectors derived from it, and the
// sample's seed.
func publicPagePrograms(t testing.TB, every uint64, minLen int) ([]pageProgram, uint64) {
	pages := realPages(t)
	names, s := realPageSample(t, pages, every)
	var out []pageProgram
	for _, name := range names {
		page := pages[name]
		if !bytes.Contains(page, []byte("<body")) || len(page) > 400<<10 || len(page) < minLen {
			continue
		}
		if sels := pageSelectors(t, string(page), s, 12, true); len(sels) > 0 {
			out = append(out, pageProgram{name, page, mustCompile(sels...), sels})
		}
	}
	return out, s
}

// TestSpliceResumesRealPages: on the public corpus's pages, with
// selectors derived from each page and random edits, a map made from the
// page with one request number as elements after <body> and the page
// served with another: the Splicer's output, Applied and SeenSet calls
// are the Rewriter's, and most pages are handed back to their map (a
// page's own structure may keep it from being: an element its first
// bytes leave open to its end).
func TestSpliceResumesRealPages(t *testing.T) {
	cases, s := publicPagePrograms(t, 8, 4*SpliceBlock)
	rng := rand.New(rand.NewPCG(s, 11))
	stamp := func(n int) string { return fmt.Sprintf(`<p class="served-by"><x%d>%d</x%d></p>`, n, n, n) }
	fell, resumed := 0, 0
	for _, c := range cases {
		name, page, p, sels := c.name, c.page, c.p, c.sels
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

// changedThroughout returns page with the case of a text's first letter
// flipped about every every bytes: a relative time or a count on every
// card, a page that differs from its map all through.
func changedThroughout(page []byte, every int) []byte {
	p := bytes.Clone(page)
	for at := 0; at < len(p); at += every {
		for i := at; i+1 < len(p) && i < at+every; i++ {
			if c := p[i+1] | 0x20; p[i] == '>' && c >= 'a' && c <= 'z' {
				p[i+1] ^= 0x20
				break
			}
		}
	}
	return p
}

// TestSpliceSeekingPaysItsWay: looking for the map's bytes, and handing
// pages back to a map they stop matching again, are bounded by what they
// save. On an indented page whose every card differs, the looking costs
// at most its budget, though eight spaces are found everywhere. On
// public pages that differ here and there all through, a map whose
// pages it took up kept falling back (each time a Rewriter reads the page
// again from its start) stops taking them up after its first pages, and
// they cost one rewrite; a map whose pages differ only near their top
// keeps taking them up. The output is the Rewriter's throughout.
func TestSpliceSeekingPaysItsWay(t *testing.T) {
	t.Run("indented page", func(t *testing.T) {
		page := func(stamp string) []byte {
			var b bytes.Buffer
			b.WriteString("<!DOCTYPE html>\n<html>\n<head><title>t</title></head>\n<body>\n<ul class=list>\n")
			pad := strings.Repeat(" ", 128)
			for i := 0; b.Len() < 400<<10; i++ {
				fmt.Fprintf(&b, "%s<li class=item data-item-id=s%d>\n%s<span>%s</span>\n%s</li>\n", pad, i, pad, stamp, pad)
			}
			b.WriteString("</ul>\n</body>\n</html>\n")
			return b.Bytes()
		}
		p := mustCompile("li.item", "span", "h1")
		rng := rand.New(rand.NewPCG(7, 8))
		m := recordMap(rng, p, page("updated 12:00:01"), false)
		served := page("updated 12:00:02")
		edits := []Edit{{Selector: 2, Op: AddClass, Attr: "class", Value: "hit"}}
		spliceCase(t, rng, p, m, served, edits, 0, "indented")
		sp := p.NewSplicer(io.Discard, m, edits, Options{})
		sp.Write(served)
		sp.Close()
		work, fell := sp.work, sp.FellBack()
		sp.Release()
		// (Hashing the page three times over costs a tenth of its
		// rewrite.)
		if limit := 3 * len(served); fell < 0 || work > limit {
			t.Errorf("fell back at %d; looking for the map cost %d bytes, more than %d", fell, work, limit)
		}
	})
	t.Run("public pages", func(t *testing.T) {
		every := uint64(4)
		if raceEnabled {
			every = 12
		}
		cases, s := publicPagePrograms(t, every, 8*SpliceBlock)
		rng := rand.New(rand.NewPCG(s, 12))
		tookUp, stopped, stillGreeting := 0, 0, 0
		sampled, extended := len(cases), false
		for i := 0; ; i++ {
			if i == sampled && !extended && (tookUp == 0 || stopped == 0) {
				// The sample (one page in every, under the race
				// detector) held no page whose hand-backs stop paying:
				// the other pages are read too, until one does.
				extended = true
				done := map[string]bool{}
				for _, c := range cases {
					done[c.name] = true
				}
				more, _ := publicPagePrograms(t, 1, 8*SpliceBlock)
				for _, c := range more {
					if !done[c.name] {
						cases = append(cases, c)
					}
				}
			}
			if i >= len(cases) || i >= sampled && tookUp > 0 && stopped > 0 {
				break
			}
			c := cases[i]
			name, page, p, sels := c.name, c.page, c.p, c.sels
			m := recordMap(rng, p, page, false)
			if m == nil {
				continue
			}
			served := changedThroughout(page, 2048)
			// Rounds until the hand-backs have cost more than they saved
			// and one more round is served without any (how many depends
			// on the page: a sample may hold none that gets there in a
			// few rounds).
			for round := range 16 {
				before, spent := spliceTookUp, m.resumes.spent.Load()
				over := spent > m.resumes.saved.Load()+int64(m.length)
				spliceCase(t, rng, p, m, served, randomEdits(rng, len(sels)), 0, fmt.Sprintf("%s round %d (seed %d)", name, round, s))
				tookUp += spliceTookUp - before
				if over && (spliceTookUp != before || m.resumes.spent.Load() != spent) {
					t.Errorf("%s round %d: hand-backs had spent %d bytes and saved %d, and the page was handed back", name, round, spent, m.resumes.saved.Load())
				}
				if over {
					stopped++
					break
				}
			}
			// The same map, for pages that differ near their top only.
			g := recordMap(rng, p, changeAfterBody(page, 0, "<p>Hello, Ann</p>"), false)
			for round := range 6 {
				before := spliceResumed
				spliceCase(t, rng, p, g, changeAfterBody(page, 0, fmt.Sprintf("<p>Hello, %*s</p>", 3+round, "Bob")), randomEdits(rng, len(sels)), 0,
					fmt.Sprintf("%s greeting %d (seed %d)", name, round, s))
				if round >= 4 {
					stillGreeting += spliceResumed - before
				}
			}
		}
		t.Logf("pages changed throughout: %d hand-backs, %d maps no longer handing back within 16 rounds; greetings resumed in the last two rounds: %d", tookUp, stopped, stillGreeting)
		if tookUp == 0 || stopped == 0 {
			t.Errorf("%d hand-backs, %d maps that stopped handing pages back: not exercised", tookUp, stopped)
		}
		if stillGreeting == 0 {
			t.Error("no greeting page resumed in the last two rounds")
		}
	})
}
