package rewrite

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestTablesShared: rewrites whose edits use the same selectors share the
// Program's tables, whatever the edits' ops, values and order; an edit
// that cannot apply does not count.
func TestTablesShared(t *testing.T) {
	prog, err := CompileStrings([]string{"#a", "div > p", "li:nth-child(2)", "a:not(.x)"})
	if err != nil {
		t.Fatal(err)
	}
	tablesOf := func(edits ...Edit) *tables {
		rw := prog.NewRewriter(&strings.Builder{}, edits, Options{})
		defer rw.Release()
		return rw.tables
	}
	base := tablesOf(Edit{Selector: 0, Op: SetInner, Content: []byte("x")}, Edit{Selector: 2, Op: SetAttr, Attr: "data-a", Value: "1"})
	for _, c := range []struct {
		name  string
		edits []Edit
		same  bool
	}{
		{"other values", []Edit{{Selector: 0, Op: SetInner, Content: []byte("y")}, {Selector: 2, Op: SetAttr, Attr: "data-b", Value: "2"}}, true},
		{"other ops and order", []Edit{{Selector: 2, Op: Remove}, {Selector: 0, Op: AddClass, Attr: "on"}, {Selector: 0, Op: Append}}, true},
		{"an edit that cannot apply", []Edit{{Selector: 0, Op: Remove}, {Selector: 2, Op: Remove}, {Selector: 1, Op: SetAttr, Attr: "a b"}, {Selector: 9, Op: Remove}}, true},
		{"another selector", []Edit{{Selector: 0, Op: Remove}, {Selector: 2, Op: Remove}, {Selector: 1, Op: Remove}}, false},
		{"fewer selectors", []Edit{{Selector: 0, Op: Remove}}, false},
	} {
		if got := tablesOf(c.edits...); (got == base) != c.same {
			t.Errorf("%s: shared tables %v, want %v", c.name, got == base, c.same)
		}
	}
	if !raceEnabled { // the race detector's sync.Pool drops rewriters
		edits := []Edit{{Selector: 0, Op: SetInner, Content: []byte("x")}, {Selector: 2, Op: Remove}}
		if n := testing.AllocsPerRun(100, func() { prog.NewRewriter(io.Discard, edits, Options{}).Release() }); n != 0 {
			t.Errorf("NewRewriter with cached tables: %v allocations, want 0", n)
		}
	}
}

// tablesCase is a program of more than 64 selectors (so that the set in
// use takes two words), a page they select in, and edits for a subset.
func tablesCase() (sels []string, page string, editsFor func(rng *rand.Rand) []Edit) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><body><section>")
	for i := range 70 {
		switch i % 4 {
		case 0:
			sels = append(sels, fmt.Sprintf("#s%d", i))
		case 1:
			sels = append(sels, fmt.Sprintf("div.c%d > p", i))
		case 2:
			sels = append(sels, fmt.Sprintf("ul li.i%d:nth-child(2n+1)", i))
		default:
			sels = append(sels, fmt.Sprintf("section a:not(.x%d)", i%8))
		}
		fmt.Fprintf(&b, `<div id="s%d" class="c%d"><p>p%d</p><ul><li class="i%d">a</li><li class="i%d">b</li></ul><a class="x%d" href="#">l</a></div>`, i, i, i, i, i, i%8)
	}
	b.WriteString("</section></body>")
	editsFor = func(rng *rand.Rand) []Edit {
		var edits []Edit
		for s := range sels {
			if rng.IntN(5) == 0 {
				edits = append(edits, Edit{Selector: s, Op: SetAttr, Attr: "data-e", Value: fmt.Sprint(s)})
			}
		}
		return edits
	}
	return sels, b.String(), editsFor
}

// TestTablesDifferential: rewrites with a Program's cached tables, over
// more sets of selectors than it keeps (so that some are replaced and
// built again), write what rewrites with a new Program write.
func TestTablesDifferential(t *testing.T) {
	sels, page, editsFor := tablesCase()
	shared, err := CompileStrings(sels)
	if err != nil {
		t.Fatal(err)
	}
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 2))
	var sets [][]Edit
	for range tableCacheSize + 8 {
		sets = append(sets, editsFor(rng))
	}
	for round := range 2 {
		for i, edits := range sets {
			fresh, err := CompileStrings(sels)
			if err != nil {
				t.Fatal(err)
			}
			want, got := rewriteAll(fresh, edits, page), rewriteAll(shared, edits, page)
			if got != want {
				t.Fatalf("round %d, set %d (BESPOKE_SEED=%d): cached tables write\n%s\nnew ones\n%s", round, i, s, short(got), short(want))
			}
			if !strings.Contains(want, "data-e=") {
				t.Fatalf("set %d applies no edit: the test tests nothing", i)
			}
		}
	}
}

// TestTablesConcurrent: rewrites on one Program at once, with sets of
// selectors that build and replace its tables, write what they write
// alone (run with -race).
func TestTablesConcurrent(t *testing.T) {
	sels, page, editsFor := tablesCase()
	prog, err := CompileStrings(sels)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed(t), 3))
	var sets [][]Edit
	var want []string
	for range tableCacheSize + 4 {
		edits := editsFor(rng)
		fresh, err := CompileStrings(sels)
		if err != nil {
			t.Fatal(err)
		}
		sets, want = append(sets, edits), append(want, rewriteAll(fresh, edits, page))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for k := range 3 * len(sets) {
				i := (k*7 + g*5) % len(sets)
				if got := rewriteAll(prog, sets[i], page); got != want[i] {
					errs <- fmt.Errorf("goroutine %d, set %d: got %s, want %s", g, i, short(got), short(want[i]))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// dispatchSelectors mix what dispatch treats apart: compounds for any
// element and for one tag, with and without id and class, :not() with
// simple and complex arguments (nested too), and compounds that are the
// last of one selector and a :not() argument of another, which must be
// evaluated even where their own selector cannot match.
var dispatchSelectors = []string{
	".x", "#a", "div .y", "section .z", ":not(.y)", "p:not(.z)", "main :not(div p)", "li:not(.x, :first-child)",
	"p:not(:not(.x))", "nav :not([data-k])", "div p", "span", "ul > li", "b p, i div", "table :not(td) > *",
	"section div", ":not(section div)", "[data-k=v]", "td:nth-child(2):not(.x)", "div :not(p) span",
	"form > :not(input)", "svg *", "#b:not(div)", "a:not(section a)",
}

// TestDispatchDifferential: the matcher's dispatch (compounds by tag, :not()
// last) selects what evaluating every compound in index order selects,
// for random subsets of dispatchSelectors on generated and saved pages.
func TestDispatchDifferential(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 11))
	pages := differentialCorpus(t, 300, s)
	// Each Program builds its tables as rewrites first use a set of
	// selectors, with scanAll as it is then.
	byScan, byDispatch := mustCompile(dispatchSelectors...), mustCompile(dispatchSelectors...)
	defer func() { scanAll = false }()
	applied := 0
	for i, page := range pages {
		var edits []Edit
		for k := range dispatchSelectors {
			if rng.IntN(3) == 0 {
				edits = append(edits, Edit{Selector: k, Op: SetAttr, Attr: fmt.Sprintf("data-e%d", k), Value: "1"})
			}
		}
		scanAll = true
		want := rewriteAll(byScan, edits, page)
		scanAll = false
		got := rewriteAll(byDispatch, edits, page)
		if got != want {
			t.Fatalf("page %d (BESPOKE_SEED=%d), edits %v: dispatch writes\n%s\nevaluating every compound\n%s", i, s, edits, short(got), short(want))
		}
		applied += strings.Count(got, "data-e")
	}
	if applied < len(pages) {
		t.Fatalf("%d edits applied on %d pages: the test tests little", applied, len(pages))
	}
}

// candidateSelectors are dispatchSelectors and, past 64 compounds and
// positions, selectors of one to three compounds over what the corpus
// pages hold, so that elements carry more than one word of compound bits
// and of notes, and many selectors share a last compound.
func candidateSelectors(rng *rand.Rand) []string {
	simple := []string{"div", "p", "li", "span", "a", "ul", "section", "td", "tr", "b", "i", "table",
		".x", ".y", ".z", "#a", "#b", "[data-k]", "p.x", "li:first-child", "div:nth-child(2n+1)", ":not(.y)", "*"}
	sels := slices.Clone(dispatchSelectors)
	for range 120 {
		n := 1 + rng.IntN(3)
		var b strings.Builder
		for k := range n {
			if k > 0 {
				b.WriteString([]string{" ", " > "}[rng.IntN(2)])
			}
			b.WriteString(simple[rng.IntN(len(simple))])
		}
		if rng.IntN(8) == 0 {
			b.WriteString(", " + simple[rng.IntN(len(simple))] + " " + simple[rng.IntN(len(simple))])
		}
		sels = append(sels, b.String())
	}
	return sels
}

// TestCandidatesDifferential: with many edits, apply asks only the
// selectors that may select an element (selCandidates); it writes what
// asking every edit's selector writes, edits of every kind, several on
// one selector, conflicting, on generated and saved pages.
func TestCandidatesDifferential(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 13))
	pages := differentialCorpus(t, 200, s)
	if raceEnabled {
		pages = pages[:len(pages)/3]
	}
	sels := candidateSelectors(rng)
	byLoop, byCandidates := mustCompile(sels...), mustCompile(sels...)
	defer func(n int) { manyEdits = n }(manyEdits)
	ops := []Op{SetAttr, AddClass, RemoveClass, RemoveAttr, InsertBefore, InsertAfter, Prepend, Append, SetInner, Remove, RemoveKeepContent, Replace, Limit}
	applied := 0
	for i, page := range pages {
		var edits []Edit
		for range 20 + rng.IntN(60) {
			k := rng.IntN(len(sels))
			op := ops[rng.IntN(len(ops))]
			if rng.IntN(3) > 0 {
				op = SetAttr // mostly edits that do not hide the others
			}
			e := Edit{Selector: k, Op: op, Attr: fmt.Sprintf("data-e%d", len(edits)), Value: "1", Content: fmt.Appendf(nil, "<i>%d</i>", len(edits)), N: 1}
			if op == AddClass || op == RemoveClass {
				e.Attr = []string{"x", "y", "e"}[rng.IntN(3)]
			}
			if rng.IntN(40) == 0 {
				e.Attr = "bad name" // an edit that does nothing
			}
			edits = append(edits, e)
		}
		manyEdits = 1 << 30
		want := rewriteAll(byLoop, edits, page)
		manyEdits = 0
		got := rewriteAll(byCandidates, edits, page)
		if got != want {
			t.Fatalf("page %d (BESPOKE_SEED=%d), edits %v: asking the candidates writes\n%s\nasking every edit\n%s", i, s, edits, short(got), short(want))
		}
		applied += strings.Count(got, "data-e") + strings.Count(got, "<i>")
	}
	t.Logf("%d pages, %d edits applied", len(pages), applied)
	// (Usually 20 to 50 a page; a seed whose selectors select little,
	// on the third of the pages a race run reads, made 4.4.)
	if applied < 2*len(pages) {
		t.Fatalf("%d edits applied on %d pages (BESPOKE_SEED=%d): the test tests little", applied, len(pages), s)
	}
}
