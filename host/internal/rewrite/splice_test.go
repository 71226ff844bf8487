package rewrite

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
)

// spliceSelectors are the selectors of the splice tests' program: those
// of the pathological pages and the saved pages, and some that select
// much of any page.
var spliceSelectors = append(append([]string{}, pathologicalSelectors...),
	"li", "p", "div", "*", "td:nth-child(2)", "ul > li:not(.x)", "a[href]", "svg *", "body", "ul.cards > li.card",
	"li.card", "article.teaser", "li.related-post", "#hero .hero-title", "#hero .cta", "#hero", "#promo",
	"script", "style", "head", "html", "title", "table tr", "template *", "select option", "[id]", "b, i", "h1, h2, h3",
	"main section", "header nav a", "img[src]", "link[href]", "meta[http-equiv]",
)

var spliceProgram = sync.OnceValue(func() *Program {
	p := mustCompile(spliceSelectors...)
	p.ReadAttrs("data-item-id") // the ids randomEdits' list edits read
	return p
})

// sparseSelectors select few elements of a page, as most programs' do:
// with spliceSelectors ("*" among them) every element is in the map, and
// what the map does between its elements is not exercised.
var sparseSelectors = []string{"li.card", "#hero", "[id]", ".hit", "p.lead", "ul.cards > li.card", "a.cta", "main .card", "div.promo"}

var sparseProgram = sync.OnceValue(func() *Program {
	p := mustCompile(sparseSelectors...)
	p.ReadAttrs("data-item-id")
	return p
})

// splicePrograms are the programs the random splice tests draw from.
func splicePrograms() []struct {
	p    *Program
	nsel int
} {
	return []struct {
		p    *Program
		nsel int
	}{{spliceProgram(), len(spliceSelectors)}, {sparseProgram(), len(sparseSelectors)}}
}

// randomEdits returns between 1 and 12 edits of every kind, on random
// selectors of the program, in random priority.
func randomEdits(rng *rand.Rand, nsel int) []Edit {
	contents := []string{"", "x", "<b>new</b>", "Équipez-vous", "<li data-item-id=z>z</li>", "</div>", "<!--", strings.Repeat("long ", 40)}
	attrs := []string{"class", "href", "id", "data-item-id", "data-x", "rel", "src", "content", "title", "bad name", "http-equiv", "type"}
	classes := []string{"hit", "card", "new", "x", "lang-fr"}
	n := 1 + rng.IntN(12)
	edits := make([]Edit, n)
	for i := range edits {
		e := Edit{Selector: rng.IntN(nsel + 1), Op: Op(1 + rng.IntN(int(HideSeen)))}
		if rng.IntN(20) == 0 {
			e.Selector = -1
		}
		e.Content = []byte(contents[rng.IntN(len(contents))])
		switch e.Op {
		case AddClass, RemoveClass:
			e.Attr = classes[rng.IntN(len(classes))]
		case Reorder, HideSeen:
			e.Attr = []string{"data-item-id", "id", "class"}[rng.IntN(3)]
		default:
			e.Attr = attrs[rng.IntN(len(attrs))]
		}
		e.Value = []string{"v", `"&<`, "/fr/soldes", ""}[rng.IntN(4)]
		e.Interpolated = rng.IntN(3) == 0
		e.N = rng.IntN(4) - 1
		e.Order = []string{"sku-1003", "b", "a", "s1"}[:rng.IntN(5)]
		e.Demote = rng.IntN(4) == 0
		e.MarkFirst = rng.IntN(3)
		e.NoMark = rng.IntN(5) == 0
		edits[i] = e
	}
	return edits
}

// logSeen answers Recency from a hash of the id and logs every call.
type logSeen struct {
	salt uint32
	log  []string
}

func (s *logSeen) Recency(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	v := int((h.Sum32() ^ s.salt) % 4)
	if v == 3 {
		v = 0
	}
	s.log = append(s.log, "r "+id+" "+strconv.Itoa(v))
	return v
}

func (s *logSeen) Shown(id string) { s.log = append(s.log, "s "+id) }

// rankSeen is a logSeen that also ranks (SeenRanker): an item of recency
// 2 gets 2 to 4 by a hash of its id, and every call is logged.
type rankSeen struct{ *logSeen }

func (s rankSeen) Rank(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	v := int((h.Sum32() ^ s.salt) % 4)
	switch v {
	case 3:
		v = 0
	case 2:
		v += int(h.Sum32()>>8) % 3
	}
	s.log = append(s.log, "k "+id+" "+strconv.Itoa(v))
	return v
}

// listSeen is a logSeen that answers for lists (SeenLister), logging
// each member as a call for it alone would: its logs must be a logSeen's.
type listSeen struct{ *logSeen }

func (s listSeen) Recencies(ids []string, out []int32) {
	for i, id := range ids {
		out[i] = int32(s.Recency(id))
	}
}

func (s listSeen) ShownAll(ids []string) {
	for _, id := range ids {
		s.Shown(id)
	}
}

// rankListSeen ranks and answers for lists.
type rankListSeen struct {
	rankSeen
	listSeen
}

func (s rankListSeen) Recency(id string) int { return s.rankSeen.Recency(id) }
func (s rankListSeen) Shown(id string)       { s.rankSeen.Shown(id) }

// seenFor is a logSeen with salt, which ranks when salt is odd and
// answers for lists (SeenLister) when salt's second bit is set.
func seenFor(l *logSeen) SeenSet {
	switch l.salt % 4 {
	case 1:
		return rankSeen{l}
	case 2:
		return listSeen{l}
	case 3:
		return rankListSeen{rankSeen{l}, listSeen{l}}
	}
	return l
}

// genPage builds a random page of about n bytes from the constructs the
// tree builder and the selectors care about.
func genPage(rng *rand.Rand, n int) []byte {
	tags := []string{"div", "p", "ul", "li", "table", "tr", "td", "span", "a", "b", "i", "section", "svg", "g",
		"script", "template", "select", "option", "body", "html", "head", "title", "form", "input", "img", "br",
		"article", "main", "h1", "style", "textarea", "x-card", "math", "meta", "link"}
	var b bytes.Buffer
	if rng.IntN(2) == 0 {
		b.WriteString("<!DOCTYPE html>")
	}
	for b.Len() < n {
		switch k := rng.IntN(20); {
		case k < 8:
			t := tags[rng.IntN(len(tags))]
			b.WriteString("<" + t)
			for range rng.IntN(4) {
				switch rng.IntN(11) {
				case 0:
					fmt.Fprintf(&b, ` id="i%d"`, rng.IntN(20))
				case 1:
					b.WriteString(` class="` + []string{"hit", "card", "x", "item", "hit card"}[rng.IntN(5)] + `"`)
				case 2:
					fmt.Fprintf(&b, " data-item-id=s%d", rng.IntN(10))
				case 3:
					b.WriteString(" data-x=hit")
				case 4:
					b.WriteString(` href='/a?b=1&amp;c'`)
				case 5:
					b.WriteString(" hidden")
				case 6:
					b.WriteString(" /")
				case 7:
					// Values a later response may change (volatile.go).
					fmt.Fprintf(&b, ` nonce="n-%08d"`, rng.IntN(1e8))
				case 8:
					fmt.Fprintf(&b, ` data-token='%016x'`, rng.Uint64())
				case 9:
					// What makes an attribute code (Edit.Interpolated).
					b.WriteString(" http-equiv=refresh")
				case 10:
					b.WriteString(` type="text/plain"`)
				}
			}
			b.WriteString(">")
		case k < 13:
			b.WriteString("</" + tags[rng.IntN(len(tags))] + ">")
		case k < 17:
			b.WriteString([]string{"text ", "  \n", "a<b", "&amp;", "é", "x"}[rng.IntN(6)])
		case k < 18:
			b.WriteString("<!-- c -->")
		default:
			b.WriteString([]string{"</body>", "</html>", "<![CDATA[x]]>", "<?pi?>", "</>"}[rng.IntN(5)])
		}
	}
	return b.Bytes()
}

// splicePages returns the pages of the splice tests: the fuzz seeds, the
// benchmark page, the saved pages, the pathological pages and generated
// ones.
func splicePages(t testing.TB) map[string][]byte {
	pages := map[string][]byte{"bench": benchPage()}
	for i, s := range fuzzSeeds {
		pages["seed"+strconv.Itoa(i)] = []byte(s)
	}
	for _, name := range []string{"shop", "news", "article"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", name+".html"))
		if err != nil {
			t.Fatal(err)
		}
		pages[name] = b
	}
	for _, p := range pathologicalPages {
		pages["path-"+p.name] = p.page(12 << 10)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		pages["gen"+strconv.Itoa(i)] = genPage(rng, 200+rng.IntN(20<<10))
	}
	return pages
}

// mutate returns page changed as a later response of the same page might
// be: unchanged, a byte changed (anywhere, in a tag, in a list item, just
// past a block's boundary), bytes inserted (attributes among them) or
// removed, cut short or extended.
func mutate(rng *rand.Rand, page []byte) ([]byte, string) {
	p := append([]byte(nil), page...)
	if len(p) == 0 {
		return append(p, "<p>"...), "extend"
	}
	at := func() int {
		switch rng.IntN(5) {
		case 3:
			// Just past a block's boundary, often in a tag across it.
			if len(p) > SpliceBlock {
				return min(len(p)-1, SpliceBlock*(1+rng.IntN(len(p)/SpliceBlock))+rng.IntN(8))
			}
		case 0:
			return rng.IntN(min(len(p), SpliceBlock))
		case 1:
			if len(p) > SpliceBlock {
				return SpliceBlock + rng.IntN(len(p)-SpliceBlock)
			}
		case 2:
			// In a tag or list item.
			for range 8 {
				i := rng.IntN(len(p))
				if j := bytes.IndexAny(p[i:], "<="); j >= 0 {
					return min(len(p)-1, i+j+1)
				}
			}
		}
		return rng.IntN(len(p))
	}
	switch rng.IntN(9) {
	case 8:
		// Attributes added to a tag across a block's boundary, past it:
		// the tag may become selected (as may its parent's end, should
		// the tag's name change).
		for range 16 {
			if len(p) <= SpliceBlock {
				break
			}
			b := SpliceBlock * (1 + rng.IntN(len(p)/SpliceBlock))
			lt := bytes.LastIndexByte(p[:b], '<')
			if lt < 0 || lt+1 >= len(p) || !isAlpha(p[lt+1]) || bytes.IndexByte(p[lt:b], '>') >= 0 {
				continue
			}
			i := b + rng.IntN(4)
			return append(p[:i], append([]byte(` id=x class="card hit" `), page[i:]...)...), "across " + strconv.Itoa(i)
		}
		return p, "same"
	case 0, 1, 2:
		return p, "same"
	case 3:
		i := at()
		p[i] ^= byte(1 + rng.IntN(255))
		return p, "byte " + strconv.Itoa(i)
	case 4:
		i := at()
		ins := []string{"<p>", "</li>", "x", `"`, "<!--", "<li class=card data-item-id=new>", ` id=x class="card hit" `}[rng.IntN(7)]
		return append(p[:i], append([]byte(ins), page[i:]...)...), "insert " + strconv.Itoa(i)
	case 5:
		i := at()
		j := min(len(p), i+1+rng.IntN(32))
		return append(p[:i], page[j:]...), "delete " + strconv.Itoa(i)
	case 6:
		i := at()
		return p[:i], "truncate " + strconv.Itoa(i)
	default:
		return append(p, []string{"<p>more", "</body>x", " "}[rng.IntN(3)]...), "extend"
	}
}

// chunking returns random write sizes for a page of n bytes.
func chunking(rng *rand.Rand, n int) []int {
	sizes := []int{1, 7, 61, 512, 4096, 32 << 10, 1 << 20}
	var c []int
	for n > 0 {
		k := min(n, 1+rng.IntN(sizes[rng.IntN(len(sizes))]))
		c = append(c, k)
		n -= k
	}
	return c
}

// chunked writes in to w in writes of the sizes c, then closes it.
func chunked(w interface {
	Write([]byte) (int, error)
	Close() error
}, in []byte, c []int) error {
	for _, n := range c {
		if k, err := w.Write(in[:n]); k != n || err != nil {
			return fmt.Errorf("Write: %d, %v", k, err)
		}
		in = in[n:]
	}
	return w.Close()
}

// spliced writes in to s in writes of the sizes c, as chunked does, each
// at random either from in or from the room Spare gives (as the proxy
// reads the origin into it), then closes it; drain runs after each write
// and after Close.
func spliced(rng *rand.Rand, s *Splicer, in []byte, c []int, drain func()) error {
	defer drain()
	for _, n := range c {
		p := in[:n]
		if rng.IntN(2) == 0 {
			if room := s.Spare(n); room != nil {
				copy(room, p)
				p = room
			}
		}
		if k, err := s.Write(p); k != n || err != nil {
			return fmt.Errorf("Write: %d, %v", k, err)
		}
		drain()
		in = in[n:]
	}
	return s.Close()
}

// TestSpliceSpare: a page read into the room Spare gives is spliced as
// one written from elsewhere, and, once the pools are warm, without an
// allocation: the Splicer keeps the page where it was read.
func TestSpliceSpare(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", "shop.html"))
	if err != nil {
		t.Fatal(err)
	}
	sp := savedPages[0]
	p := mustCompile(sp.edits...)
	mb := p.NewMapBuilder(1 << 20)
	mb.Write(page)
	m := mb.Close()
	mb.Release()
	var want, got bytes.Buffer
	rw := p.NewRewriter(&want, fiveEdits, Options{})
	rw.Write(page)
	rw.Close()
	rw.Release()
	splice := func() {
		got.Reset()
		s := p.NewSplicer(&got, m, fiveEdits, Options{})
		for in := page; len(in) > 0; {
			room := s.Spare(64 << 10)
			n := copy(room, in)
			s.Write(room[:n])
			in = in[n:]
		}
		s.Close()
		if !s.Used() || s.FellBack() >= 0 {
			t.Fatalf("the map was not used (used %v, fell back at %d)", s.Used(), s.FellBack())
		}
		s.Release()
	}
	splice()
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("the page read into Spare's room is spliced otherwise than the Rewriter writes it")
	}
	if raceEnabled {
		return // sync.Pool drops items at random under the race detector
	}
	if allocs := testing.AllocsPerRun(20, splice); allocs != 0 {
		t.Errorf("splicing a page read into Spare's room costs %.1f allocations, want 0", allocs)
	}
}

// rechunkAt returns writes that end at each offset of feeds, then at
// c's ends past the last of them.
func rechunkAt(c []int, feeds []int) []int {
	var out []int
	at := 0
	for _, f := range feeds {
		out = append(out, f-at)
		at = f
	}
	sum := 0
	for _, n := range c {
		sum += n
		if sum > at {
			out = append(out, sum-at)
			at = sum
		}
	}
	return out
}

// buildMap records the edit map of page, written in random writes; half
// the time the map looks for volatile values.
func buildMap(rng *rand.Rand, p *Program, page []byte) *EditMap {
	return recordMap(rng, p, page, rng.IntN(2) == 0)
}

// recordMap records the edit map of page, written in random writes,
// looking for volatile values when look is set.
func recordMap(rng *rand.Rand, p *Program, page []byte, look bool) *EditMap {
	b := p.NewMapBuilder(4 << 20)
	defer b.Release()
	if look {
		b.LookForVolatile()
	}
	for in := page; len(in) > 0; {
		n := min(len(in), 1+rng.IntN(40000))
		b.Write(in[:n])
		in = in[n:]
	}
	return b.Close()
}

// spliceCase rewrites served with the Rewriter and with a Splicer using
// cached's map, and fails when their output, Applied or SeenSet calls
// differ.
func spliceCase(t *testing.T, rng *rand.Rand, p *Program, m *EditMap, served []byte, edits []Edit, maxBuf int, what string) (used bool, fell int) {
	t.Helper()
	salt := rng.Uint32()
	c := chunking(rng, len(served))
	var got, written bytes.Buffer
	gs := &logSeen{salt: salt}
	// Half the time the caller asks to take the page itself (as the proxy
	// does when it writes to the visitor): what it takes goes before what
	// the Splicer wrote since, as the proxy writes them.
	direct := rng.IntN(2) == 0
	sp := p.NewSplicer(&written, m, edits, Options{MaxBuffer: maxBuf, Seen: seenFor(gs), Direct: direct})
	if sp.Direct() && !direct {
		t.Fatal("direct without asking")
	}
	// doneAt is how many items were recorded when SeenDone first
	// reported true, after the drains-th write (-1: it did not).
	doneAt, drains, early := -1, 0, false
	drain := func() {
		got.Write(sp.Take())
		got.Write(written.Bytes())
		written.Reset()
		drains++
		if doneAt < 0 && sp.SeenDone() {
			doneAt, early = shownCalls(gs.log), drains <= len(c)
		}
	}
	if err := spliced(rng, sp, served, c, drain); err != nil {
		t.Fatal(err)
	}
	if n := shownCalls(gs.log); sp.Recorded() != n && sp.Used() {
		t.Fatalf("%s: Recorded %d, %d calls to Shown", what, sp.Recorded(), n)
	}
	if sp.Used() && sp.FellBack() < 0 && doneAt >= 0 {
		// A page that matched its map records nothing once SeenDone.
		if n := shownCalls(gs.log); n != doneAt {
			t.Fatalf("%s: %d items recorded when SeenDone, %d in the end\nedits %+v", what, doneAt, n, edits)
		}
		if early && doneAt > 0 {
			spliceSeenEarly++
		}
	}
	gotApplied, gotRefused := sp.Applied(), sp.Refused()
	if n := sp.RefusedTotal(); n != sum(gotRefused) {
		t.Fatalf("%s: RefusedTotal %d, Refused %v", what, n, gotRefused)
	}
	used, fell = sp.Used(), sp.FellBack()
	dbg := fmt.Sprintf("taken up %d times", sp.TookUp())
	if fell >= 0 {
		// The Rewriter that took over read the page in the writes feeds
		// holds, then in the caller's: at its memory bound, where a
		// rewrite stops depends on its writes.
		c = rechunkAt(c, sp.feeds)
		if sp.TookUp() > 0 {
			spliceTookUp++
			if sp.Resumed() {
				spliceResumed++
			}
		}
	}
	sp.Release()

	var want bytes.Buffer
	ws := &logSeen{salt: salt}
	rw := p.NewRewriter(&want, edits, Options{MaxBuffer: maxBuf, Seen: seenFor(ws)})
	if err := chunked(rw, served, c); err != nil {
		t.Fatal(err)
	}
	wantApplied, wantRefused := rw.Applied(), rw.Refused()
	rw.Release()
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		i := 0
		for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
			i++
		}
		lo := max(0, i-80)
		t.Fatalf("%s (used %v, fell back at %d, %s): output differs at %d:\nwant %q\n got %q\nedits %+v", what, used, fell, dbg, i,
			want.Bytes()[lo:min(want.Len(), i+80)], got.Bytes()[lo:min(got.Len(), i+80)], edits)
	}
	if fmt.Sprint(gotApplied) != fmt.Sprint(wantApplied) {
		t.Fatalf("%s: Applied %v, want %v\nedits %+v", what, gotApplied, wantApplied, edits)
	}
	if fmt.Sprint(gotRefused) != fmt.Sprint(wantRefused) {
		t.Fatalf("%s: Refused %v, want %v\nedits %+v", what, gotRefused, wantRefused, edits)
	}
	if sum(wantRefused) > 0 {
		spliceRefused++
	}
	if strings.Join(gs.log, "\n") != strings.Join(ws.log, "\n") {
		t.Fatalf("%s: SeenSet calls\n%v\nwant\n%v", what, gs.log, ws.log)
	}
	if used && fell < 0 && !bytes.Equal(got.Bytes(), served) {
		spliceChanged++
	}
	return used, fell
}

// shownCalls counts the calls to Shown in a logSeen's log.
func shownCalls(log []string) int {
	n := 0
	for _, l := range log {
		if strings.HasPrefix(l, "s ") {
			n++
		}
	}
	return n
}

// spliceSeenEarly counts the pages spliced whole that recorded items and
// whose SeenDone reported true before their end.
var spliceSeenEarly int

// spliceChanged counts the pages spliced whole that some edit changed;
// spliceRefused the cases where an edit was refused somewhere;
// spliceTookUp those that stopped matching their map and were handed back
// to it, spliceResumed those of them that ended spliced.
var spliceChanged, spliceRefused, spliceTookUp, spliceResumed int

func sum(s []int) int {
	n := 0
	for _, k := range s {
		n += k
	}
	return n
}

// TestSpliceDifferential: for every page, random writes, random changes
// between the page the map was made from and the page served, and random
// edits of every kind, the Splicer's output, Applied and SeenSet calls
// are the Rewriter's. BESPOKE_SPLICE_SEED picks another seed; -short
// runs fewer cases.
func TestSpliceDifferential(t *testing.T) {
	seed := uint64(7)
	if s := os.Getenv("BESPOKE_SPLICE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	pages := splicePages(t)
	names := slices.Sorted(maps.Keys(pages))
	hits, fells, many := 0, 0, 0
	defer func(n int) { manyEdits = n }(manyEdits)
	for k, pr := range splicePrograms() {
		for _, name := range names {
			page := pages[name]
			rng := rand.New(rand.NewPCG(seed, uint64(len(name)+k<<20)))
			m := buildMap(rng, pr.p, page)
			if m == nil {
				t.Logf("%s: no map", name)
				continue
			}
			for i := range rounds {
				served, how := mutate(rng, page)
				max := 0
				if rng.IntN(8) == 0 {
					max = 256 + rng.IntN(64<<10)
				}
				what := fmt.Sprintf("program %d, %s round %d (%s, seed %d)", k, name, i, how, seed)
				// Half the rounds find the edits from the selectors, as
				// with many edits (see manyEdits), in the splice and in
				// the rewrite it is compared with.
				manyEdits = 16
				if i%2 == 1 {
					manyEdits = 0
					many++
				}
				used, fell := spliceCase(t, rng, pr.p, m, served, randomEdits(rng, pr.nsel), max, what)
				if used && fell < 0 {
					hits++
				}
				if fell >= 0 {
					fells++
				}
			}
		}
	}
	if hits == 0 || fells == 0 {
		t.Fatalf("%d spliced pages, %d fell back: the test does not exercise both", hits, fells)
	}
	if spliceChanged == 0 {
		t.Fatal("no page spliced whole was changed by an edit")
	}
	if spliceRefused == 0 {
		t.Fatal("no edit was refused: values as code are not exercised")
	}
	if spliceResumed == 0 {
		t.Fatal("no page that stopped matching its map ended spliced: taking the map up again is not exercised")
	}
	if spliceSeenEarly == 0 {
		t.Fatal("no page that recorded items was done recording before its end: SeenDone is not exercised")
	}
	t.Logf("%d spliced whole (%d changed, %d done recording before their end), %d fell back (%d handed back to the map, %d of them to the end), %d with refusals; %d rounds with the edits found from the selectors",
		hits, spliceChanged, spliceSeenEarly, fells, spliceTookUp, spliceResumed, spliceRefused, many)
}

// TestSpliceSavedPages: the saved pages and the benchmark page with the
// benchmark's edits and a HideSeen over their cards, spliced whole, are
// what the Rewriter writes, with the same items hidden and recorded.
func TestSpliceSavedPages(t *testing.T) {
	pages := splicePages(t)
	for _, sp := range append(savedPages, struct {
		name  string
		edits []string
		card  string
	}{"bench", editSelectors, "ul.cards > li.card"}) {
		page := pages[sp.name]
		sels := append(append([]string{}, sp.edits...), sp.card)
		p := mustCompile(sels...)
		edits := append(append([]Edit{}, fiveEdits...),
			Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 4},
			Edit{Selector: 5, Op: Limit, N: 30},
			Edit{Selector: 5, Op: Reorder, Attr: "data-item-id", Order: []string{"sku-1003", "sku-1001"}})
		rng := rand.New(rand.NewPCG(3, 4))
		m := buildMap(rng, p, page)
		if m == nil {
			t.Fatalf("%s: no map", sp.name)
		}
		for i := range 10 {
			used, fell := spliceCase(t, rng, p, m, page, edits, 0, fmt.Sprintf("%s round %d", sp.name, i))
			if !used || fell >= 0 {
				t.Fatalf("%s: used %v, fell back at %d", sp.name, used, fell)
			}
		}
	}
}

// TestSpliceSeenDone: on the saved pages, whose lists of cards end
// before the page does, a splice written 4 KiB at a time is done
// recording once it has read past the last card's list, before the
// page's end, and not before the last card; it records nothing after.
// A page with no card is done from its first write.
func TestSpliceSeenDone(t *testing.T) {
	pages := splicePages(t)
	for _, sp := range savedPages {
		page := pages[sp.name]
		p := mustCompile(sp.card, "#no-such-list > li")
		for _, c := range []struct {
			sel  int
			last int // the start of the last element sel selects, -1: none
		}{{0, lastStartTag(page, sp.card)}, {1, -1}} {
			edits := []Edit{{Selector: c.sel, Op: HideSeen, Attr: "data-item-id", N: 2}}
			m := buildMap(rand.New(rand.NewPCG(5, 6)), p, page)
			gs := &logSeen{salt: 1}
			var out bytes.Buffer
			s := p.NewSplicer(&out, m, edits, Options{Seen: gs})
			doneAt, shown := -1, 0
			for at := 0; at < len(page); at += 4 << 10 {
				s.Write(page[at:min(at+4<<10, len(page))])
				if doneAt < 0 && s.SeenDone() {
					doneAt, shown = min(at+4<<10, len(page)), shownCalls(gs.log)
				}
			}
			s.Close()
			s.Release()
			switch {
			case c.last < 0 && doneAt != 4<<10:
				t.Errorf("%s, no list: done after %d bytes, want from the first write", sp.name, doneAt)
			case c.last >= 0 && (doneAt < 0 || doneAt <= c.last || doneAt >= len(page)):
				t.Errorf("%s: done after %d bytes of %d, the last card at %d", sp.name, doneAt, len(page), c.last)
			case shownCalls(gs.log) != shown:
				t.Errorf("%s: %d items recorded when done, %d in the end", sp.name, shown, shownCalls(gs.log))
			}
		}
	}
}

// lastStartTag returns where the last start tag of page that sel
// ("tag.class") names starts, as x/net/html's tokenizer reads it.
func lastStartTag(page []byte, sel string) int {
	tag, class, _ := strings.Cut(sel, ".")
	z := html.NewTokenizer(bytes.NewReader(page))
	last, at := -1, 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return last
		}
		if tt == html.StartTagToken {
			if tok := z.Token(); tok.Data == tag {
				for _, a := range tok.Attr {
					if a.Key == "class" && slices.Contains(strings.Fields(a.Val), class) {
						last = at
					}
				}
			}
		}
		at += len(z.Raw())
	}
}

// FuzzSplice: for arbitrary pages, changes (volatile values among them)
// and writes, the Splicer with the map of the page before the change
// writes what the Rewriter writes, with the same Applied and SeenSet
// calls.
func FuzzSplice(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint64(i), uint16(0))
	}
	f.Add(benchPage(), uint64(1), uint16(5))
	programs := splicePrograms()
	defer func(n int) { manyEdits = n }(manyEdits)
	f.Fuzz(func(t *testing.T, page []byte, seed uint64, edit uint16) {
		if len(page) > 256<<10 {
			return
		}
		manyEdits = 16 * int(seed&1) // half the edits found from the selectors
		rng := rand.New(rand.NewPCG(seed, uint64(edit)))
		pr := programs[int(edit>>8)%len(programs)]
		p := pr.p
		m := buildMap(rng, p, page)
		if m == nil {
			return
		}
		served := page
		switch {
		case edit%4 == 3 && len(m.vol) > 0:
			served = revalue(rng, page, m, rng.IntN(4) == 0)
		case edit != 0:
			served, _ = mutate(rng, page)
		}
		maxBuf := 0
		if rng.IntN(4) == 0 {
			maxBuf = 64 + rng.IntN(16<<10)
		}
		spliceCase(t, rng, p, m, served, randomEdits(rng, pr.nsel), maxBuf, "fuzz")
	})
}

// BenchmarkSplice compares, on the saved shop page (testdata/pages) with
// the benchmark's five edits and a HideSeen over its cards, a Splicer
// using the page's map (hit: the page is the one the map was made from)
// with the Rewriter doing the same rewrite, both fed the page in 32 KiB
// writes as the proxy reads it, and what making the map costs.
func BenchmarkSplice(b *testing.B) {
	page, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", "shop.html"))
	if err != nil {
		b.Fatal(err)
	}
	sp := savedPages[0]
	sels := append(append([]string{}, sp.edits...), sp.card)
	p := mustCompile(sels...)
	run := func(b *testing.B, page []byte, w func(out *bytes.Buffer, seen SeenSet) pageWriter) {
		var out bytes.Buffer
		out.Grow(2 * len(page))
		seen := &benchSeen{}
		writeOnce := func() {
			out.Reset()
			rw := w(&out, seen)
			for i := 0; i < len(page); i += 32 << 10 {
				rw.Write(page[i:min(i+32<<10, len(page))])
			}
			rw.Close()
			rw.Release()
		}
		warm(writeOnce)
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			writeOnce()
		}
	}
	for _, c := range []struct {
		name  string
		edits []Edit
	}{
		{"edits", fiveEdits},
		{"hideseen", append(append([]Edit{}, fiveEdits...), Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 4})},
	} {
		mb := p.NewMapBuilder(1 << 20)
		mb.Write(page)
		m := mb.Close()
		mb.Release()
		if m == nil {
			b.Fatal("no map")
		}
		b.Run(c.name+"/rewrite", func(b *testing.B) {
			run(b, page, func(out *bytes.Buffer, seen SeenSet) pageWriter {
				return p.NewRewriter(out, c.edits, Options{Seen: seen})
			})
		})
		b.Run(c.name+"/splice", func(b *testing.B) {
			run(b, page, func(out *bytes.Buffer, seen SeenSet) pageWriter {
				s := p.NewSplicer(out, m, c.edits, Options{Seen: seen})
				if !s.Used() {
					b.Fatal("the map is not used")
				}
				return s
			})
		})
	}
	// A page whose text near its top changes with every response (a
	// request number, of the same length or three digits longer), spliced
	// with the map of an earlier response that looked for volatile values.
	// (A hide_seen's ids must be read for a map to take anything for
	// volatile: the proxy's programs read them.)
	edits := append(append([]Edit{}, fiveEdits...), Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 4})
	p = mustCompile(sels...)
	p.ReadAttrs("data-item-id")
	mb := p.NewMapBuilder(1 << 20)
	mb.LookForVolatile()
	mb.Write(page)
	m := mb.Close()
	mb.Release()
	at := bytes.Index(page, []byte("<body"))
	var text volRange
	for _, v := range m.vol {
		if v.quote == '<' && int(v.lo) > at && page[v.lo-1] == '>' {
			text = v
			break
		}
	}
	for _, grow := range []int{0, 3} {
		stamp := bytes.Repeat([]byte("7"), int(text.n)+grow)
		served := slices.Concat(page[:text.lo], stamp, page[text.hi():])
		name := "hideseen/splice-text"
		if grow > 0 {
			name += "-longer"
		}
		b.Run(name, func(b *testing.B) {
			run(b, served, func(out *bytes.Buffer, seen SeenSet) pageWriter {
				s := p.NewSplicer(out, m, edits, Options{Seen: seen})
				if !s.Used() {
					b.Fatal("the map is not used")
				}
				return s
			})
			if s := p.NewSplicer(io.Discard, m, edits, Options{Seen: &benchSeen{}}); true {
				s.Write(served)
				s.Close()
				if s.FellBack() >= 0 || s.Volatile() == 0 {
					b.Fatalf("the page with new text fell back at %d (%d blocks volatile)", s.FellBack(), s.Volatile())
				}
				s.Release()
			}
		})
	}
	// A page whose markup near its top changes with every response (a
	// request number as elements), spliced with the map of an earlier
	// response: rewritten in full until the map is found again (resume);
	// and one whose change leaves an element open to its end, so that
	// the map is never found again (fallback): what looking for it costs
	// over a rewrite.
	pm := mustCompile(sels...)
	earlier := changeAfterBody(page, 0, `<p class="served-by"><x1>1</x1><x2>2</x2></p>`)
	mb = pm.NewMapBuilder(1 << 20)
	mb.Write(earlier)
	m = mb.Close()
	mb.Release()
	for _, c := range []struct {
		name   string
		served []byte
		resume bool
	}{
		{"resume", changeAfterBody(page, 0, `<p class="served-by"><x3>3</x3><x4>4</x4></p>`), true},
		{"fallback", changeAfterBody(page, 0, `<p class="served-by"><x3>3</x3><x4>4</x4><div class=open>`), false},
	} {
		b.Run("hideseen/"+c.name, func(b *testing.B) {
			s := pm.NewSplicer(io.Discard, m, edits, Options{Seen: &benchSeen{}})
			s.Write(c.served)
			s.Close()
			if s.FellBack() < 0 || s.Resumed() != c.resume {
				b.Fatalf("fell back at %d, resumed %v", s.FellBack(), s.Resumed())

			}
			s.Release()
			run(b, c.served, func(out *bytes.Buffer, seen SeenSet) pageWriter {
				return pm.NewSplicer(out, m, edits, Options{Seen: seen})
			})
		})
	}
	// A page whose text changes all through (a letter's case, about
	// every 2 KB): the map is looked for, bounded (see seekBudget), and
	// never found; or, on pages where it is and the page then stops
	// matching again, no longer handed back once that cost more than it
	// saved (see worthSeeking). After the map's first pages it costs
	// what its rewrite costs (compare hideseen/rewrite).
	b.Run("hideseen/changing", func(b *testing.B) {
		served := changedThroughout(page, 2048)
		mb := pm.NewMapBuilder(1 << 20)
		mb.Write(page)
		m := mb.Close()
		mb.Release()
		for range 8 {
			s := pm.NewSplicer(io.Discard, m, edits, Options{Seen: &benchSeen{}})
			s.Write(served)
			s.Close()
			if s.FellBack() < 0 || s.Resumed() {
				b.Fatalf("fell back at %d, resumed %v", s.FellBack(), s.Resumed())
			}
			s.Release()
		}
		run(b, served, func(out *bytes.Buffer, seen SeenSet) pageWriter {
			return pm.NewSplicer(out, m, edits, Options{Seen: seen})
		})
	})
	b.Run("build", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			mb := p.NewMapBuilder(1 << 20)
			for i := 0; i < len(page); i += 32 << 10 {
				mb.Write(page[i:min(i+32<<10, len(page))])
			}
			mb.Close()
			mb.Release()
		}
	})
}

// pageWriter is what the benchmark feeds: a Rewriter or a Splicer.
type pageWriter interface {
	Write([]byte) (int, error)
	Close() error
	Release()
}

// TestSpliceHammer: goroutines splicing with one map at once, and
// building maps, through the pools, write what the Rewriter writes (run
// with -race).
func TestSpliceHammer(t *testing.T) {
	p := spliceProgram()
	page := benchPage()
	m := buildMap(rand.New(rand.NewPCG(5, 6)), p, page)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 10 {
				edits := randomEdits(rng, len(spliceSelectors))
				served, _ := mutate(rng, page)
				var want, got bytes.Buffer
				rw := p.NewRewriter(&want, edits, Options{})
				rw.Write(served)
				rw.Close()
				rw.Release()
				sp := p.NewSplicer(&got, m, edits, Options{})
				chunked(sp, served, chunking(rng, len(served)))
				sp.Release()
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					errs <- "spliced output differs"
					return
				}
				if buildMap(rng, p, page) == nil {
					errs <- "no map"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestSpliceStreams: the Splicer writes a block's output once the block
// has matched, before the page ends, and what it wrote is the start of
// the Rewriter's output.
func TestSpliceStreams(t *testing.T) {
	p := mustCompile(editSelectors...)
	page := benchPage()
	m := buildMap(rand.New(rand.NewPCG(1, 1)), p, page)
	var want bytes.Buffer
	rw := p.NewRewriter(&want, fiveEdits, Options{})
	rw.Write(page)
	rw.Close()
	rw.Release()

	var got bytes.Buffer
	sp := p.NewSplicer(&got, m, fiveEdits, Options{})
	defer sp.Release()
	prev := 0
	for i := 0; i < len(page); i += SpliceBlock {
		sp.Write(page[i:min(i+SpliceBlock, len(page))])
		if i+SpliceBlock < len(page) && got.Len() <= prev && i > 2*SpliceBlock {
			t.Fatalf("after %d bytes, nothing more written (%d)", i+SpliceBlock, got.Len())
		}
		if !bytes.HasPrefix(want.Bytes(), got.Bytes()) {
			t.Fatalf("after %d bytes, the output is not the start of the Rewriter's", i+SpliceBlock)
		}
		prev = got.Len()
	}
	if prev == 0 {
		t.Fatal("nothing written before Close")
	}
	sp.Close()
	if !bytes.Equal(got.Bytes(), want.Bytes()) || sp.FellBack() >= 0 {
		t.Fatalf("fell back at %d, or the output differs", sp.FellBack())
	}
}

// TestSpliceAcrossBlocks: a construct across the boundary of two blocks
// that the next block's bytes change (a start tag that becomes selected,
// one that becomes another and ends a selected element) is not written
// before that block matched; an edit written at its start then lands
// where the Rewriter writes it. Every op, with the boundary at every byte
// of the construct, with the page written by the Splicer or taken by the
// caller.
func TestSpliceAcrossBlocks(t *testing.T) {
	p := mustCompile("div.promo", "p.lead")
	cases := []struct {
		name           string
		cached, served string // around the boundary, which falls in the middle
		sel            int
	}{
		{"class", `<div class="a             xxxxx">in</div>`, `<div class="a             promo">in</div>`, 0},
		{"attribute added", `<div data-x="1" zz-zzzzzzzzzzz>in</div>`, `<div data-x="1" class="promo">in</div>`, 0},
		{"name", `<div class="promo">in</dvi><abbr title="t">x</abbr>`, `<div class="promo">in</div><main title="t">x</main>`, 0},
		{"implied end", `<p class="lead">text<abbr title="t">x</abbr>`, `<p class="lead">text<main title="t">x</main>`, 1},
	}
	for _, c := range cases {
		for op := SetInner; op <= RemoveClass; op++ {
			for at := 1; at < len(c.cached); at++ {
				// The boundary falls at c.cached[at].
				pre := "<!doctype html><html><body><p>" + strings.Repeat("a", SpliceBlock-at-30) + "</p>"
				pre = pre[:SpliceBlock-at]
				cached := []byte(pre + c.cached + "</body></html>")
				served := []byte(pre + c.served + "</body></html>")
				edits := []Edit{{Selector: c.sel, Op: op, Content: []byte("<b>NEW</b>"), Attr: "data-x", Value: "2"}}
				if op == AddClass || op == RemoveClass {
					edits[0].Attr = "promo"
				}
				m := recordMap(rand.New(rand.NewPCG(1, uint64(at))), p, cached, false)
				var want, got bytes.Buffer
				r := p.NewRewriter(&want, edits, Options{})
				r.Write(served)
				r.Close()
				// Taking the page (Options.Direct), only when no edit
				// selects an element of the cached page: what is taken
				// goes before what the Splicer wrote.
				var written bytes.Buffer
				s := p.NewSplicer(&written, m, edits, Options{Direct: at%2 == 0})
				s.Write(served)
				got.Write(s.Take())
				got.Write(written.Bytes())
				written.Reset()
				s.Close()
				got.Write(s.Take())
				got.Write(written.Bytes())
				if !bytes.Equal(want.Bytes(), got.Bytes()) {
					i := 0
					for i < min(want.Len(), got.Len()) && want.Bytes()[i] == got.Bytes()[i] {
						i++
					}
					t.Fatalf("%s, op %d, boundary at byte %d: differs from the Rewriter's at %d (fell back at %d):\nwant …%q\ngot  …%q",
						c.name, op, at, i, s.FellBack(), want.Bytes()[max(0, i-30):min(want.Len(), i+30)], got.Bytes()[max(0, i-30):min(got.Len(), i+30)])
				}
				s.Release()
				r.Release()
			}
		}
	}
}

// TestFitsBoundsTheRewrite: fits, the Splicer's a priori bound on what a
// rewrite of the map's page would hold, is sound: at the smallest memory
// bound it accepts, a Rewriter of the page with the same edits does not
// overflow, and the Splicer's output is the Rewriter's there. Pages of
// the splice tests and of the public corpus, with random edits of every
// kind (a few hundred items with edits on several of their parts
// included), are tried.
func TestFitsBoundsTheRewrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	type pageProg struct {
		name string
		page []byte
		p    *Program
		nsel int
	}
	var cases []pageProg
	for name, page := range splicePages(t) {
		for _, pr := range splicePrograms() {
			cases = append(cases, pageProg{name, page, pr.p, pr.nsel})
		}
	}
	public, _ := publicPagePrograms(t, 6, 0)
	for _, c := range public {
		cases = append(cases, pageProg{c.name, c.page, c.p, len(c.sels)})
	}
	slices.SortFunc(cases, func(a, b pageProg) int { return strings.Compare(a.name, b.name) })
	tried, rounds := 0, 6
	if raceEnabled {
		rounds = 2
	}
	for _, c := range cases {
		m := buildMap(rng, c.p, c.page)
		if m == nil {
			continue
		}
		for round := range rounds {
			edits := randomEdits(rng, c.nsel)
			fitsAt := func(limit int) bool {
				sp := &Splicer{m: m, edits: edits, opt: Options{MaxBuffer: limit}}
				return sp.fits(0)
			}
			lo, hi := 1, 64<<20
			if !fitsAt(hi) {
				continue
			}
			for lo < hi {
				if mid := (lo + hi) / 2; fitsAt(mid) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			rw := c.p.NewRewriter(io.Discard, edits, Options{MaxBuffer: lo, Seen: seenFor(&logSeen{})})
			rw.Write(c.page)
			rw.Close()
			over := rw.Overflowed()
			rw.Release()
			if over {
				t.Fatalf("%s round %d: fits at a bound of %d bytes, where the rewrite overflows\nedits %+v", c.name, round, lo, edits)
			}
			spliceCase(t, rng, c.p, m, c.page, edits, lo, fmt.Sprintf("%s round %d, bound %d", c.name, round, lo))
			tried++
		}
	}
	if tried < 15*rounds {
		t.Fatalf("%d cases tried", tried)
	}
	t.Logf("%d cases", tried)
}

// TestFitsEverydayEdits: the saved news page (257 KB, 200 teasers) with
// eight everyday edits on the teasers' parts fits the default memory
// bound, and its map is used: with a bound that multiplied every edit by
// every selected element, it never was, and every view was a miss.
func TestFitsEverydayEdits(t *testing.T) {
	page := savedPage(t, "news")
	p := mustCompile("article.teaser", "#h-world", "#main", ".ad", ".teaser__title a", ".teaser__media img", ".kicker")
	p.ReadAttrs("data-item-id")
	edits := []Edit{
		{Selector: 0, Op: HideSeen, Attr: "data-item-id", N: 6, MarkFirst: 20},
		{Selector: 1, Op: SetInner, Content: []byte("World, for you")},
		{Selector: 2, Op: InsertBefore, Content: []byte(`<div class="welcome">Welcome back</div>`)},
		{Selector: 3, Op: Remove},
		{Selector: 4, Op: AddClass, Attr: "class", Value: "tracked"},
		{Selector: 5, Op: RemoveAttr, Attr: "loading"},
		{Selector: 6, Op: AddClass, Attr: "class", Value: "k2"},
		{Selector: 4, Op: SetAttr, Attr: "data-track", Value: "teaser-click"},
	}
	m := recordMap(rand.New(rand.NewPCG(1, 2)), p, page, false)
	if m == nil || m.selected[0] < 150 {
		t.Fatalf("no map, or too few teasers selected: %v", m != nil)
	}
	sp := p.NewSplicer(io.Discard, m, edits, Options{Seen: seenFor(&logSeen{})})
	defer sp.Release()
	if !sp.Used() || sp.TooLarge() {
		t.Fatalf("%d teasers, eight edits: the map is not used (too large %v)", m.selected[0], sp.TooLarge())
	}
}

// TestFellBackNamesTheBlock: FellBack is the start of the block where the
// page served first differs from its map's, however the page is written
// (here in reads of 32 KiB, a block of which may be checked before the
// splice writes the ones before it); and a map that the edits could take
// past the memory bound is not used, and says so.
func TestFellBackNamesTheBlock(t *testing.T) {
	page := shopPage(t)
	p := spliceProgram()
	rng := rand.New(rand.NewPCG(9, 10))
	m := recordMap(rng, p, page, false)
	edits := []Edit{{Selector: 0, Op: AddClass, Attr: "class", Value: "x"}}
	for _, at := range []int{5065, 20095, 60055, 90025, len(page) - 10} {
		served := bytes.Clone(page)
		served[at] ^= 0x01
		sp := p.NewSplicer(io.Discard, m, edits, Options{})
		for in := served; len(in) > 0; in = in[min(len(in), 32<<10):] {
			sp.Write(in[:min(len(in), 32<<10)])
		}
		sp.Close()
		if got, want := sp.FellBack(), at/SpliceBlock*SpliceBlock; got != want {
			t.Errorf("byte %d changed: fell back at %d, want %d", at, got, want)
		}
		sp.Release()
	}
	sp := p.NewSplicer(io.Discard, m, edits, Options{MaxBuffer: len(page)})
	if sp.Used() || !sp.TooLarge() {
		t.Errorf("a bound of the page's length: used %v, too large %v", sp.Used(), sp.TooLarge())
	}
	sp.Release()
	sp = p.NewSplicer(io.Discard, m, edits, Options{})
	if sp.TooLarge() {
		t.Error("the default bound: too large")
	}
	sp.Release()
}
