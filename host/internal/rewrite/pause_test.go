package rewrite

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSplicePauses: a map made from a page whose origin paused at places
// within its blocks (MapBuilder.Pause) lets a splice of the page, pausing
// at the same places, write at each what the Rewriter has written by then
// (Splicer.Pause), rather than hold the rest of the block; the output is
// the Rewriter's in the end, also when the page served differs from the
// map's before or after a pause, and Applied and the SeenSet's calls too.
func TestSplicePauses(t *testing.T) {
	pages := splicePages(t)
	caughtUp, checked := 0, 0
	for k, pr := range splicePrograms() {
		for _, name := range slices.Sorted(maps.Keys(pages)) {
			page := pages[name]
			rng := rand.New(rand.NewPCG(11, uint64(len(name)+k<<20)))
			at := pausePoints(rng, len(page))
			m := pausedMap(t, pr.p, page, at)
			if m == nil {
				continue
			}
			for round := range 6 {
				served, how := page, "unchanged"
				if round%2 == 1 {
					served, how = mutate(rng, page)
				}
				what := fmt.Sprintf("program %d, %s round %d (%s), pauses at %v", k, name, round, how, at)
				c, n := pausedSpliceCase(t, rng, pr.p, m, page, served, at, randomEdits(rng, pr.nsel), what)
				caughtUp += c
				checked += n
			}
		}
	}
	if caughtUp == 0 {
		t.Fatal("no splice wrote at a pause within a block")
	}
	t.Logf("%d pauses written as the Rewriter had, %d of them within a block of a page as the map's", checked, caughtUp)
}

// FuzzSplicePauses is TestSplicePauses on any page.
func FuzzSplicePauses(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint64(i), true)
	}
	f.Add(benchPage(), uint64(1), false)
	programs := splicePrograms()
	f.Fuzz(func(t *testing.T, page []byte, seed uint64, same bool) {
		if len(page) > 256<<10 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 5))
		pr := programs[int(seed>>1)%len(programs)]
		at := pausePoints(rng, len(page))
		m := pausedMap(t, pr.p, page, at)
		if m == nil {
			return
		}
		served := page
		if !same {
			served, _ = mutate(rng, page)
		}
		pausedSpliceCase(t, rng, pr.p, m, page, served, at, randomEdits(rng, pr.nsel), "fuzz")
	})
}

// pausePoints returns up to six places in a page of n bytes, in order.
func pausePoints(rng *rand.Rand, n int) []int {
	if n < 2 {
		return nil
	}
	var at []int
	for range 1 + rng.IntN(6) {
		at = append(at, 1+rng.IntN(n-1))
	}
	slices.Sort(at)
	return slices.Compact(at)
}

// pausedMap makes the map of page, its origin pausing at each of at.
func pausedMap(t testing.TB, p *Program, page []byte, at []int) *EditMap {
	b := p.NewMapBuilder(4 << 20)
	defer b.Release()
	prev := 0
	for _, a := range at {
		b.Write(page[prev:a])
		if !b.Pause() && len(at) <= maxPauses {
			t.Fatalf("Pause at %d refused", a)
		}
		prev = a
	}
	b.Write(page[prev:])
	return b.Close()
}

// pausedSpliceCase splices served with m, and rewrites it, pausing at each
// of at, and fails when at a pause the Splicer says it holds nothing back
// and has written other than what the Rewriter has (up to the construct
// the map's rewrite had not finished there), when it holds something
// back of a page that is the map's up to there, or when the output,
// Applied or SeenSet calls differ in the end. It returns how many pauses within
// a block of a page as the map's it wrote at, and at how many it wrote.
func pausedSpliceCase(t *testing.T, rng *rand.Rand, p *Program, m *EditMap, page, served []byte, at []int, edits []Edit, what string) (caughtUp, checked int) {
	t.Helper()
	salt := rng.Uint32()
	var got, written bytes.Buffer
	gs := &logSeen{salt: salt}
	sp := p.NewSplicer(&written, m, edits, Options{Seen: seenFor(gs), Direct: rng.IntN(2) == 0})
	defer sp.Release()
	var want bytes.Buffer
	ws := &logSeen{salt: salt}
	rw := p.NewRewriter(&want, edits, Options{Seen: seenFor(ws)})
	defer rw.Release()
	drain := func() {
		got.Write(sp.Take())
		got.Write(written.Bytes())
		written.Reset()
	}
	prev := 0
	for _, a := range at {
		if a > len(served) {
			break
		}
		sp.Write(served[prev:a])
		rw.Write(served[prev:a])
		prev = a
		ok := sp.Pause()
		drain()
		same := bytes.Equal(served[:a], page[:a])
		if same && !ok {
			t.Fatalf("%s: the page as the map's up to %d, and Pause held it", what, a)
		}
		if !ok {
			continue
		}
		// What the splice wrote is the Rewriter's, and all of it but for
		// the construct the map's rewrite, which asks every selector,
		// had not finished there (a tag, a character reference).
		checked++
		whole := true
		if i, found := slices.BinarySearchFunc(m.pauses, a, func(p pausePoint, a int) int { return int(p.at) - a }); found && same {
			whole = m.pauses[i].cut == m.pauses[i].at
		}
		if !bytes.HasPrefix(want.Bytes(), got.Bytes()) || whole && got.Len() != want.Len() {
			t.Fatalf("%s: at the pause at %d the splice wrote %d bytes, the Rewriter %d:\n got %q\nwant %q", what, a, got.Len(), want.Len(),
				got.Bytes()[max(0, got.Len()-120):], want.Bytes()[max(0, want.Len()-120):])
		}
		if a%SpliceBlock != 0 && same {
			caughtUp++
		}
	}
	sp.Write(served[prev:])
	rw.Write(served[prev:])
	sp.Close()
	rw.Close()
	drain()
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("%s: output differs from the Rewriter's", what)
	}
	if fmt.Sprint(sp.Applied()) != fmt.Sprint(rw.Applied()) || fmt.Sprint(gs.log) != fmt.Sprint(ws.log) {
		t.Fatalf("%s: Applied %v / %v, or the SeenSet calls, differ", what, sp.Applied(), rw.Applied())
	}
	return caughtUp, checked
}

// TestMapPausesLookingForVolatile: a builder that looks for volatile
// values records no pause within a block: the rewrite would read the
// block in two writes, and a value a write ends in is not recorded
// whole (a render time cut at the pause was left out of the map, whose
// splices then fell back where it changed). Its map is the one made
// without pauses.
func TestMapPausesLookingForVolatile(t *testing.T) {
	p := mustCompile("#main", "li.card")
	page := []byte(`<!doctype html><html><body><!-- rendered 2026-12-06T05:25:43.123Z in 12 ms --><div id="main"><p>Prices updated 2026-12-06 05:25:43 UTC</p><ul><li class="card" data-item-id="a">A</li></ul></div></body></html>`)
	mark := bytes.Index(page, []byte("05:25:43.123Z"))
	build := func(pause bool) (*EditMap, bool) {
		b := p.NewMapBuilder(4 << 20)
		defer b.Release()
		b.LookForVolatile()
		b.Write(page[:mark])
		ok := true
		if pause {
			ok = b.Pause()
		}
		b.Write(page[mark:])
		return b.Close(), ok
	}
	with, ok := build(true)
	without, _ := build(false)
	if ok {
		t.Error("Pause within a block recorded a pause point while looking for volatile values")
	}
	if len(with.vol) != len(without.vol) || len(with.pauses) != 0 || len(without.vol) == 0 {
		t.Errorf("%d volatile values with a pause, %d without, %d pause points", len(with.vol), len(without.vol), len(with.pauses))
	}
}
