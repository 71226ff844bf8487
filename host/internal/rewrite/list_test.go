package rewrite

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
)

// recencySeen is a SeenSet with a recency per id (0 or absent: never
// seen) that records what it is shown.
type recencySeen struct {
	recency map[string]int
	shown   []string
}

func (s *recencySeen) Recency(id string) int { return s.recency[id] }
func (s *recencySeen) Shown(id string)       { s.shown = append(s.shown, strings.Clone(id)) }

// TestHideSeenFreshFirst: which items HideSeen shows, in which order, and
// which it records, by the items' recency and the edit's options. The
// list is a, b, c, d, e; recency 2 is more recent than 1.
func TestHideSeenFreshFirst(t *testing.T) {
	const list = `<ul><li id=a>A</li><li id=b>B</li><li id=c>C</li><li id=d>D</li><li id=e>E</li></ul>`
	li := func(ids ...string) string {
		out := "<ul>"
		for _, id := range ids {
			out += "<li id=" + id + ">" + string(rune(id[0]-'a'+'A')) + "</li>"
		}
		return out + "</ul>"
	}
	hide := func(e Edit) Edit { e.Op, e.Attr = HideSeen, "id"; return e }
	tests := []struct {
		name    string
		ops     []op
		recency map[string]int
		want    string
		applied []int
		shown   []string
	}{
		{"nothing seen: all shown, all recorded", []op{{"li", hide(Edit{N: 2})}}, nil,
			list, []int{0}, []string{"a", "b", "c", "d", "e"}},
		{"seen ones hidden", []op{{"li", hide(Edit{N: 0})}}, map[string]int{"a": 2, "c": 1},
			li("b", "d", "e"), []int{2}, []string{"b", "d", "e"}},
		{"kept at least N: the least recently seen come back first", []op{{"li", hide(Edit{N: 3})}},
			map[string]int{"a": 2, "b": 1, "c": 2, "d": 1},
			// e is unseen; b and d (seen longer ago) come back, not a or c.
			li("b", "d", "e"), []int{2}, []string{"b", "d", "e"}},
		{"of equal recency, the earliest come back", []op{{"li", hide(Edit{N: 2})}},
			map[string]int{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1},
			li("a", "b"), []int{3}, []string{"a", "b"}},
		{"brought back in page order, not by age", []op{{"li", hide(Edit{N: 3})}},
			map[string]int{"a": 1, "b": 2, "c": 2, "d": 2, "e": 1},
			li("a", "b", "e"), []int{2}, []string{"a", "b", "e"}},
		{"demote: unseen first, then the seen by age", []op{{"li", hide(Edit{Demote: true})}},
			map[string]int{"a": 2, "b": 1, "d": 2},
			li("c", "e", "b", "a", "d"), []int{5}, []string{"c", "e", "b", "a", "d"}},
		{"demote with nothing seen", []op{{"li", hide(Edit{Demote: true})}}, nil,
			list, []int{0}, []string{"a", "b", "c", "d", "e"}},
		{"demote when the seen are last already", []op{{"li", hide(Edit{Demote: true})}}, map[string]int{"d": 1, "e": 1},
			list, []int{0}, []string{"a", "b", "c", "d", "e"}},
		{"demote then limit: fresh items fill the list; what limit hid is not recorded",
			[]op{{"li", hide(Edit{Demote: true})}, {"li", Edit{Op: Limit, N: 2}}},
			map[string]int{"a": 1, "b": 1},
			li("c", "d"), []int{5, 3}, []string{"c", "d"}},
		{"demote then limit, everything seen: the least recently seen",
			[]op{{"li", hide(Edit{Demote: true})}, {"li", Edit{Op: Limit, N: 2}}},
			map[string]int{"a": 2, "b": 2, "c": 1, "d": 2, "e": 1},
			li("c", "e"), []int{5, 3}, []string{"c", "e"}},
		{"hide then limit: recorded after both", []op{{"li", hide(Edit{N: 0})}, {"li", Edit{Op: Limit, N: 2}}},
			map[string]int{"b": 1},
			li("a", "c"), []int{1, 2}, []string{"a", "c"}},
		{"mark the first 2 shown", []op{{"li", hide(Edit{N: 0, MarkFirst: 2})}}, map[string]int{"a": 1},
			li("b", "c", "d", "e"), []int{1}, []string{"b", "c"}},
		{"mark first counts in the order shown", []op{{"li", hide(Edit{Demote: true, MarkFirst: 2})}}, map[string]int{"a": 1, "b": 1},
			li("c", "d", "e", "a", "b"), []int{5}, []string{"c", "d"}},
		{"mark first more than shown", []op{{"li", hide(Edit{N: 0, MarkFirst: 9})}}, map[string]int{"a": 1, "b": 1, "c": 1},
			li("d", "e"), []int{3}, []string{"d", "e"}},
		{"no mark", []op{{"li", hide(Edit{N: 0, NoMark: true})}}, map[string]int{"a": 1},
			li("b", "c", "d", "e"), []int{1}, nil},
		{"reorder then mark first: the order shown", []op{
			{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"e", "d"}}},
			{"li", hide(Edit{N: 0, MarkFirst: 3})}}, map[string]int{"d": 1},
			li("e", "a", "b", "c"), []int{5, 1}, []string{"e", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, es := edits(tt.ops...)
			prog, err := CompileStrings(sels)
			if err != nil {
				t.Fatal(err)
			}
			s := seed(t)
			rng := rand.New(rand.NewPCG(s, 3))
			for _, size := range []int{len(list), 1, 0} {
				seen := &recencySeen{recency: tt.recency}
				got, applied := rewrite(t, prog, es, Options{Seen: seen}, list, chunker(size, rng))
				if got != tt.want {
					t.Errorf("chunks of %d (BESPOKE_SEED=%d):\n got:  %q\n want: %q", size, s, got, tt.want)
				}
				if !slices.Equal(applied, tt.applied) {
					t.Errorf("applied %v, want %v", applied, tt.applied)
				}
				if !slices.Equal(seen.shown, tt.shown) {
					t.Errorf("shown %q, want %q", seen.shown, tt.shown)
				}
			}
		})
	}
}

// TestHideSeenInsideHiddenItems: an item HideSeen lets through inside an
// item of an enclosing list is seen only when that list shows the item:
// what a limit of the enclosing list hides, or its parent's, is not
// recorded, and what it shows is recorded in the order it shows it.
func TestHideSeenInsideHiddenItems(t *testing.T) {
	card := func(id string) string { return "<li><b class=card id=" + id + ">" + id + "</b></li>" }
	page := "<ul>" + card("a") + card("b") + "<p><b class=card id=g>g</b></p>" + card("c") + "</ul>"
	hide := op{"b.card", Edit{Op: HideSeen, Attr: "id"}}
	tests := []struct {
		name  string
		ops   []op
		page  string
		shown []string
	}{
		{"no list around: every card", []op{hide}, page, []string{"a", "b", "g", "c"}},
		{"the list keeps 2: the cards of the third item are not shown", []op{hide, {"ul > li", Edit{Op: Limit, N: 2}}}, page, []string{"g", "a", "b"}},
		{"reordered: in the order shown", []op{hide, {"ul > li", Edit{Op: Reorder, Attr: "data-id", Order: []string{"3"}}}},
			"<ul><li data-id=1><b class=card id=a>a</b></li><li data-id=2><b class=card id=b>b</b></li><li data-id=3><b class=card id=c>c</b></li></ul>",
			[]string{"c", "a", "b"}},
		{"two lists deep", []op{hide, {"div > section", Edit{Op: Limit, N: 1}}, {"ol > li", Edit{Op: Limit, N: 1}}},
			"<div><section><ol><li><b class=card id=a>a</b></li><li><b class=card id=b>b</b></li></ol></section><section><ol><li><b class=card id=c>c</b></li></ol></section></div>",
			[]string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, es := edits(tt.ops...)
			prog, err := CompileStrings(sels)
			if err != nil {
				t.Fatal(err)
			}
			s := seed(t)
			rng := rand.New(rand.NewPCG(s, 3))
			for _, size := range []int{len(tt.page), 1, 0} {
				seen := &recencySeen{}
				rewrite(t, prog, es, Options{Seen: seen}, tt.page, chunker(size, rng))
				if !slices.Equal(seen.shown, tt.shown) {
					t.Errorf("chunks of %d (BESPOKE_SEED=%d): shown %q, want %q", size, s, seen.shown, tt.shown)
				}
			}
		})
	}
}

// TestHideSeenVisits: three visits to a page of 6 items with demote,
// limit 2, as a host's SeenSet would answer them (items shown become
// recent; the previous visits' become older): each visit shows items not
// shown before, first, while there are any.
func TestHideSeenVisits(t *testing.T) {
	const page = `<ul><li id=1>1</li><li id=2>2</li><li id=3>3</li><li id=4>4</li><li id=5>5</li><li id=6>6</li></ul>`
	sels, es := edits(op{"li", Edit{Op: HideSeen, Attr: "id", Demote: true}}, op{"li", Edit{Op: Limit, N: 2}})
	prog, err := CompileStrings(sels)
	if err != nil {
		t.Fatal(err)
	}
	recency := map[string]int{}
	want := [][]string{{"1", "2"}, {"3", "4"}, {"5", "6"}, {"1", "2"}}
	for visit, ids := range want {
		seen := &recencySeen{recency: recency}
		got, _ := rewrite(t, prog, es, Options{Seen: seen}, page, chunker(len(page), nil))
		if !slices.Equal(seen.shown, ids) {
			t.Fatalf("visit %d shows %q, want %q\n%s", visit+1, seen.shown, ids, got)
		}
		// The items seen before age; those shown now are the most
		// recent.
		for id := range recency {
			recency[id] = 1
		}
		for _, id := range seen.shown {
			recency[id] = 2
		}
	}
}

// TestListAllocs: once its pools are warm, rewriting a page whose list
// hide_seen edits (the ids read, the items hidden and reordered, those
// shown recorded) costs no allocation: the SeenSet reads each id where
// the Rewriter holds it.
func TestListAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	prog := mustCompile(append(slices.Clone(editSelectors), "li.card")...)
	edits := append(slices.Clone(fiveEdits),
		Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 8},
		Edit{Selector: 5, Op: Limit, N: 20})
	page := benchPage()
	seen := &benchSeen{}
	var out bytes.Buffer
	run := func() {
		out.Reset()
		rw := prog.NewRewriter(&out, edits, Options{Seen: seen})
		for i := 0; i < len(page); i += 32 << 10 {
			rw.Write(page[i:min(i+32<<10, len(page))])
		}
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		rw.Release()
	}
	run()
	if seen.shown == 0 || bytes.Count(out.Bytes(), []byte(`class="card`)) >= bytes.Count(page, []byte(`class="card`)) {
		t.Fatalf("no item was hidden or recorded (%d shown)", seen.shown)
	}
	if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
		t.Errorf("a page with hide_seen costs %.1f allocations, want 0", allocs)
	}
}

// TestReorderLongOrder: a long Order over a long list (matched through a
// map of the ids) puts the items where matching by scanning does, ids
// named twice, missing or repeated in the list included.
func TestReorderLongOrder(t *testing.T) {
	p := mustCompile("li")
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		n := 1 + rng.IntN(40)
		var page strings.Builder
		page.WriteString("<ul>")
		for i := range n {
			if rng.IntN(8) == 0 {
				fmt.Fprintf(&page, "<li>no id %d</li>", i)
				continue
			}
			fmt.Fprintf(&page, `<li data-id="%d">%d</li>`, rng.IntN(n), i)
		}
		page.WriteString("</ul>")
		var order []string
		for range rng.IntN(2 * n) {
			order = append(order, strconv.Itoa(rng.IntN(n+3)))
		}
		edits := []Edit{{Selector: 0, Op: Reorder, Attr: "data-id", Order: order}}
		scan := rewriteAll(p, edits, page.String())
		saved := reorderScan
		reorderScan = 0
		mapped := rewriteAll(p, edits, page.String())
		reorderScan = saved
		if scan != mapped {
			t.Fatalf("round %d, order %q:\n scan %s\n  map %s", round, order, scan, mapped)
		}
	}
}

// listPage writes random lists, for TestListEditsAsBrowsersBuildThem:
// ul, ol and div lists of li, p and section items, their end tags left
// out at random, separated by nothing, whitespace, comments, text,
// <span>s, items of another class, <hr>s or paragraphs left open, lists
// nested in items, and lists the page never closes.
type listPage struct {
	rng *rand.Rand
	b   strings.Builder
	n   int
	// last: the list written is the page's last, which may be left
	// open (one left open before another list would hold it).
	last bool
	// open: items hold elements left open (itemContent).
	open bool
}

// itemContent is what an item of listPage may hold, closed and left
// open, and whether a <p> may hold it.
var itemContent = []struct {
	closed, open string
	inP          bool
}{
	{"<button>b</button>", "<button>b", true},
	{"<span>s</span>", "<span>open", true},
	{"<img alt=i><br>", "<img alt=i><br>", true},
	{"<ruby>r<rt>t</ruby>", "<ruby>r<rt>t", true},
	{"<select><option>o1<option>o2</select>", "<select><option>o1<option>o2</select>", false},
	{"<table><tr><td>c</table>", "<table><tr><td>c</table>", false},
	{"<dl><dt>t<dd>d</dl>", "<dl><dt>t<dd>d", false},
	{"<h3>h</h3>", "<h3>h", false},
	{"<object>o</object>", "<object>o", true},
}

func (g *listPage) gap(inUL bool) {
	switch g.rng.IntN(10) {
	case 0, 1, 2:
	case 3, 4:
		g.b.WriteString([]string{" ", "\n  ", "\t"}[g.rng.IntN(3)])
	case 5:
		g.b.WriteString("<!-- c -->")
	case 6:
		g.b.WriteString("t")
	case 7:
		g.b.WriteString("<span>s</span>")
	case 8:
		if inUL {
			g.b.WriteString("<li class=o>o</li>")
		} else {
			g.b.WriteString("<hr>")
		}
	case 9:
		// A paragraph the item after it ends: hidden or moved, the item
		// no longer does.
		g.b.WriteString("<p>p")
	}
}

func (g *listPage) list(depth int) {
	kind := g.rng.IntN(3)
	open, close, item, iclose := "<ul class=l>", "</ul>", "li", "</li>"
	switch kind {
	case 1:
		open, close, item, iclose = "<ol class=l>", "</ol>", "li", "</li>"
	case 2:
		open, close, item, iclose = "<div class=l>", "</div>", "p", "</p>"
		if g.rng.IntN(2) == 0 {
			item, iclose = "section", "</section>"
		}
	}
	g.b.WriteString(open)
	k := g.rng.IntN(6)
	for range k {
		g.gap(kind < 2)
		g.n++
		fmt.Fprintf(&g.b, "<%s class=i data-id=%d>%d", item, g.rng.IntN(12), g.n)
		if depth < 2 && item != "p" && g.rng.IntN(5) == 0 {
			g.list(depth + 1)
		}
		if c := g.rng.IntN(12); c < len(itemContent) && (item != "p" || itemContent[c].inP) {
			if g.open {
				g.b.WriteString(itemContent[c].open)
			} else {
				g.b.WriteString(itemContent[c].closed)
			}
		}
		if iclose == "</section>" || g.rng.IntN(2) == 0 {
			g.b.WriteString(iclose)
		}
	}
	g.gap(kind < 2)
	if depth > 0 || !g.last || g.rng.IntN(6) > 0 {
		g.b.WriteString(close)
	}
}

// refApply applies the list edits to the children of every element of
// the tree a browser built, as SYNTAX.md says they apply: the items are
// the children any list edit selects, edits apply in their order, and
// what lies between items stays where it is.
func refApply(n *html.Node, sels []cascadia.Selector, es []Edit, rec map[string]int) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		refApply(c, sels, es, rec)
	}
	var kids []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		kids = append(kids, c)
	}
	var items []int // indexes in kids
	for i, c := range kids {
		if c.Type != html.ElementNode {
			continue
		}
		for _, e := range es {
			if sels[e.Selector].Match(c) {
				items = append(items, i)
				break
			}
		}
	}
	if len(items) == 0 {
		return
	}
	nItems := len(items)
	order := make([]int, nItems)
	kept := make([]bool, nItems)
	for i := range order {
		order[i], kept[i] = i, true
	}
	idOf := func(it int, attr string) (string, bool) {
		for _, a := range kids[items[it]].Attr {
			if a.Key == attr {
				return strings.TrimSpace(a.Val), true
			}
		}
		return "", false
	}
	for _, e := range es {
		var slots []int
		for s, it := range order {
			if kept[it] && sels[e.Selector].Match(kids[items[it]]) {
				slots = append(slots, s)
			}
		}
		switch e.Op {
		case Limit:
			for _, s := range slots[min(e.N, len(slots)):] {
				kept[order[s]] = false
			}
		case Reorder:
			taken := make([]bool, len(slots))
			var picked []int
			for _, want := range e.Order {
				for k, s := range slots {
					if id, ok := idOf(order[s], e.Attr); !taken[k] && ok && id == want {
						taken[k] = true
						picked = append(picked, order[s])
						break
					}
				}
			}
			for k, s := range slots {
				if !taken[k] {
					picked = append(picked, order[s])
				}
			}
			for k, s := range slots {
				order[s] = picked[k]
			}
		case HideSeen:
			type m struct{ slot, item, rec int }
			var ms []m
			seen := 0
			for _, s := range slots {
				r := 0
				if id, ok := idOf(order[s], e.Attr); ok {
					r = rec[id]
				}
				if r > 0 {
					seen++
				}
				ms = append(ms, m{s, order[s], r})
			}
			if seen == 0 {
				continue
			}
			var byAge []int
			for k := range ms {
				if ms[k].rec > 0 {
					byAge = append(byAge, k)
				}
			}
			slices.SortStableFunc(byAge, func(a, b int) int { return cmp.Compare(ms[a].rec, ms[b].rec) })
			if e.Demote {
				j := 0
				for k := range ms {
					if ms[k].rec == 0 {
						order[ms[j].slot] = ms[k].item
						j++
					}
				}
				for _, k := range byAge {
					order[ms[j].slot] = ms[k].item
					j++
				}
				continue
			}
			visible := len(ms) - seen
			for _, k := range byAge {
				if visible >= e.N {
					break
				}
				ms[k].rec = 0
				visible++
			}
			for _, x := range ms {
				if x.rec > 0 {
					kept[order[x.slot]] = false
				}
			}
		}
	}
	// Rebuild: gaps stay, each item's place gets the item shown there.
	var out []*html.Node
	prev := 0
	for s, idx := range items {
		out = append(out, kids[prev:idx]...)
		if it := order[s]; kept[it] {
			out = append(out, kids[items[it]])
		}
		prev = idx + 1
	}
	out = append(out, kids[prev:]...)
	for _, c := range kids {
		n.RemoveChild(c)
	}
	for _, c := range out {
		n.AppendChild(c)
	}
}

// renderDoc is the tree a browser builds from s, written out.
func renderDoc(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	html.Render(&b, doc)
	return b.String()
}

// TestListEditsAsBrowsersBuildThem: random lists (see listPage), edited
// by random limit, reorder and hide_seen edits and written in random
// chunks, build in a browser's parser the tree that the same edits make
// of the tree it builds from the page. An item whose end tag the page
// leaves out took, moved or once the item after it was hidden, what
// followed it (a text, a <span>, the items after it) as its own.
func TestListEditsAsBrowsersBuildThem(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 9))
	for round := range 2000 {
		ops, page, got, want := listRound(t, rng)
		if have, want := renderDoc(got), renderDoc(want); have != want {
			t.Fatalf("round %d (BESPOKE_SEED=%d), %v\n page: %s\n out:  %s\n have: %s\n want: %s", round, s, ops, page, got, have, want)
		}
	}
}

// listRound makes a random page of lists (listPage) and random list
// edits, and returns them, the page the rewriter writes, in random
// chunks, and the page that the tree golang.org/x/net/html builds from
// the page, with the edits applied to it (refApply), writes.
func listRound(t *testing.T, rng *rand.Rand) (ops []op, page, got, want string) {
	g := &listPage{rng: rng}
	g.b.WriteString("<!DOCTYPE html><html><body>")
	for n := 1 + rng.IntN(2); n > 0; n-- {
		g.last = n == 1
		g.list(0)
		if rng.IntN(2) == 0 {
			g.b.WriteString("<p>after</p>")
		}
	}
	page = g.b.String()
	selChoices := []string{".i", "li", "ul > li", ".l > .i", "p", "section", "li.i, p.i"}
	rec := map[string]int{}
	for i := range 12 {
		if rng.IntN(3) == 0 {
			rec[fmt.Sprint(i)] = 1 + rng.IntN(3)
		}
	}
	for range 1 + rng.IntN(3) {
		sel := selChoices[rng.IntN(len(selChoices))]
		switch rng.IntN(3) {
		case 0:
			ops = append(ops, op{sel, Edit{Op: Limit, N: rng.IntN(4)}})
		case 1:
			var order []string
			for range rng.IntN(4) {
				order = append(order, fmt.Sprint(rng.IntN(12)))
			}
			ops = append(ops, op{sel, Edit{Op: Reorder, Attr: "data-id", Order: order}})
		case 2:
			ops = append(ops, op{sel, Edit{Op: HideSeen, Attr: "data-id", N: rng.IntN(3), Demote: rng.IntN(3) == 0}})
		}
	}
	sels, es := edits(ops...)
	prog, err := CompileStrings(sels)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = rewrite(t, prog, es, Options{Seen: &recencySeen{recency: rec}}, page, chunker(0, rng))
	var cs []cascadia.Selector
	for _, s := range sels {
		cs = append(cs, cascadia.MustCompile(s))
	}
	doc, _ := html.Parse(strings.NewReader(page))
	refApply(doc, cs, es, rec)
	var b bytes.Buffer
	html.Render(&b, doc)
	return ops, page, got, b.String()
}

// TestUnchangedListsAsBrowsersBuildThem: random lists whose items hold
// elements left open (a <button>, a heading, a <dl>, an <object>),
// under list edits that move and hide nothing, build in a browser's
// parser the tree the page builds: the end tags written for the items
// end them where the page does, or are not written. A <p> item that
// held a <button> left open got a </p> that made an empty paragraph in
// the button.
func TestUnchangedListsAsBrowsersBuildThem(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 10))
	for round := range 2000 {
		g := &listPage{rng: rng, open: true}
		g.b.WriteString("<!DOCTYPE html><html><body>")
		for n := 1 + rng.IntN(2); n > 0; n-- {
			g.last = n == 1
			g.list(0)
		}
		page := g.b.String()
		sel := []string{".i", "li", "p", ".l > .i"}[rng.IntN(4)]
		e := []Edit{{Op: Limit, N: 99}, {Op: Reorder, Attr: "data-id"}, {Op: HideSeen, Attr: "data-id", Demote: rng.IntN(2) == 0}}[rng.IntN(3)]
		sels, es := edits(op{sel, e})
		prog, err := CompileStrings(sels)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := rewrite(t, prog, es, Options{Seen: &recencySeen{}}, page, chunker(0, rng))
		if have, want := renderDoc(got), renderDoc(page); have != want {
			t.Fatalf("round %d (BESPOKE_SEED=%d), %s on %s\n page: %s\n out:  %s\n have: %s\n want: %s", round, s, es[0].Op, sel, page, got, have, want)
		}
	}
}
