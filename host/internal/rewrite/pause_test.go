package rewrite

import (
	"bytes"
	"fmt"
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
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range pages {
			if !yield(k) {
				return
			}
		}
	})
	caughtUp, checked := 0, 0
	for k, pr := range splicePrograms() {
		for _, name := range names {
			page := pages[name]
			if len(page) < 64 {
				continue
			}
			rng := rand.New(rand.NewPCG(11, uint64(len(name)+k<<20)))
			var at []int
			for range 1 + rng.IntN(6) {
				at = append(at, 1+rng.IntN(len(page)-1))
			}
			slices.Sort(at)
			at = slices.Compact(at)
			b := pr.p.NewMapBuilder(4 << 20)
			prev := 0
			for _, a := range at {
				b.Write(page[prev:a])
				if !b.Pause() {
					t.Fatalf("%s: Pause at %d refused", name, a)
				}
				prev = a
			}
			b.Write(page[prev:])
			m := b.Close()
			b.Release()
			if m == nil {
				continue
			}
			for round := range 6 {
				served, how := page, "unchanged"
				if round%2 == 1 {
					served, how = mutate(rng, page)
				}
				edits := randomEdits(rng, pr.nsel)
				what := fmt.Sprintf("program %d, %s round %d (%s), pauses at %v", k, name, round, how, at)
				salt := rng.Uint32()
				var got, written bytes.Buffer
				gs := &logSeen{salt: salt}
				sp := pr.p.NewSplicer(&written, m, edits, Options{Seen: seenFor(gs), Direct: rng.IntN(2) == 0})
				var want bytes.Buffer
				ws := &logSeen{salt: salt}
				rw := pr.p.NewRewriter(&want, edits, Options{Seen: seenFor(ws)})
				prev := 0
				for _, a := range at {
					if a > len(served) {
						break
					}
					sp.Write(served[prev:a])
					rw.Write(served[prev:a])
					prev = a
					ok := sp.Pause()
					got.Write(sp.Take())
					got.Write(written.Bytes())
					written.Reset()
					same := bytes.Equal(served[:a], page[:a])
					if same && !ok {
						t.Fatalf("%s: the page as the map's up to %d, and Pause held it", what, a)
					}
					if ok {
						checked++
						if !bytes.Equal(got.Bytes(), want.Bytes()) {
							t.Fatalf("%s: at the pause at %d the splice wrote %d bytes, the Rewriter %d:\n got %q\nwant %q", what, a, got.Len(), want.Len(),
								tail(got.Bytes()), tail(want.Bytes()))
						}
						if a%SpliceBlock != 0 && same {
							caughtUp++
						}
					}
				}
				sp.Write(served[prev:])
				rw.Write(served[prev:])
				sp.Close()
				rw.Close()
				got.Write(sp.Take())
				got.Write(written.Bytes())
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Fatalf("%s: output differs from the Rewriter's", what)
				}
				if fmt.Sprint(sp.Applied()) != fmt.Sprint(rw.Applied()) || fmt.Sprint(gs.log) != fmt.Sprint(ws.log) {
					t.Fatalf("%s: Applied %v / %v, SeenSet calls differ", what, sp.Applied(), rw.Applied())
				}
				sp.Release()
				rw.Release()
			}
		}
	}
	if caughtUp == 0 {
		t.Fatal("no splice wrote at a pause within a block")
	}
	t.Logf("%d pauses written as the Rewriter had, %d of them within a block of a page as the map's", checked, caughtUp)
}

func tail(b []byte) []byte { return b[max(0, len(b)-120):] }
