package editmap

import (
	"runtime"
	"strconv"
	"sync"
	"testing"
	"weak"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// mapOf builds the edit map of page for prog.
func mapOf(t testing.TB, prog *rewrite.Program, page string) *rewrite.EditMap {
	return buildMap(t, prog, page, false)
}

// lookingMapOf builds the edit map of page for prog, one that looks for
// volatile values, as the map built after one failed does.
func lookingMapOf(t testing.TB, prog *rewrite.Program, page string) *rewrite.EditMap {
	return buildMap(t, prog, page, true)
}

func buildMap(t testing.TB, prog *rewrite.Program, page string, look bool) *rewrite.EditMap {
	b := prog.NewMapBuilder(1 << 20)
	defer b.Release()
	if look {
		b.LookForVolatile()
	}
	b.Write([]byte(page))
	m := b.Close()
	if m == nil {
		t.Fatal("no map")
	}
	return m
}

func TestNewKey(t *testing.T) {
	tests := []struct {
		name      string
		validator string
		length    int64
		parts     []string
		ok        bool
	}{
		{"etag", `"a"`, -1, []string{"r", "/p"}, true},
		{"length", "", 120, []string{"r", "/p"}, true},
		{"neither", "", -1, []string{"r", "/p"}, false},
	}
	for _, tt := range tests {
		if _, ok := NewKey(tt.validator, tt.length, tt.parts...); ok != tt.ok {
			t.Errorf("%s: ok %v", tt.name, ok)
		}
	}
	a, _ := NewKey(`"a"`, 1, "r", "/p", "q")
	for _, other := range [][]string{{"r", "/p", "x"}, {"r", "/pq"}, {"s", "/p", "q"}} {
		if b, _ := NewKey(`"a"`, 1, other...); b == a {
			t.Errorf("%v has the key of [r /p q]", other)
		}
	}
	if b, _ := NewKey(`"b"`, 1, "r", "/p", "q"); b == a {
		t.Error("another validator, the same key")
	}
}

// TestCacheBudget: the cache keeps within its budget, dropping the least
// recently used maps first, and drops the maps of another Program.
func TestCacheBudget(t *testing.T) {
	prog, err := rewrite.CompileStrings([]string{"li", "p"})
	if err != nil {
		t.Fatal(err)
	}
	m := mapOf(t, prog, "<ul><li>a<li>b</ul><p>c")
	c := New(20 * (m.Size() + entryCost))
	for i := range 30 {
		c.Put(Key(i), m.For(prog)) // a map of its own each time
		if c.Get(0, prog) == nil {
			t.Fatalf("after %d puts, the map used each time was dropped", i+1)
		}
	}
	if c.Bytes() > 20*(m.Size()+entryCost) {
		t.Errorf("holds %d bytes, over its budget", c.Bytes())
	}
	if c.Get(1, prog) != nil {
		t.Error("the least recently used map is still there")
	}
	if c.Get(29, prog) == nil {
		t.Error("the last map is gone")
	}
	other, _ := rewrite.CompileStrings([]string{"li", "div"})
	if c.Get(29, other) != nil || c.Get(29, prog) != nil {
		t.Error("a map of another Program was used, or kept")
	}
	var off *Cache = New(0)
	off.Put(1, m)
	if off.Get(1, prog) != nil || off.Bytes() != 0 || off.Want(1) {
		t.Error("a disabled cache holds maps")
	}
}

// TestCacheShares: a map kept under two keys (a page's identity and its
// URL) costs its bytes once, until both let it go.
func TestCacheShares(t *testing.T) {
	prog, err := rewrite.CompileStrings([]string{"li", "p"})
	if err != nil {
		t.Fatal(err)
	}
	m := mapOf(t, prog, "<ul><li>a<li>b</ul><p>c")
	c := New(1 << 20)
	c.Put(1, m)
	one := c.Bytes()
	c.Put(2, m)
	if got := c.Bytes(); got != one+entryCost {
		t.Errorf("a map under two keys holds %d bytes, want %d", got, one+entryCost)
	}
	c.Forget(1)
	if got := c.Bytes(); got != one || c.Get(2, prog) != m {
		t.Errorf("after one key let it go: %d bytes, want %d, and the map still there", got, one)
	}
	c.Forget(2)
	if c.Bytes() != 0 {
		t.Errorf("an empty cache holds %d bytes", c.Bytes())
	}
}

// TestLookup: a page whose identity the cache has never seen is looked
// up by its URL; one whose identity it knows, with a map or a map that
// failed, is not.
func TestLookup(t *testing.T) {
	prog, err := rewrite.CompileStrings([]string{"li", "p"})
	if err != nil {
		t.Fatal(err)
	}
	a := mapOf(t, prog, "<ul><li>a<li>b</ul><p>c")
	b := mapOf(t, prog, "<ul><li>a</ul><p>c")
	page := PageKey("r", "host", "/p", "q")
	k1, _ := NewKey("", 100, "r", "host", "/p", "q")
	k2, _ := NewKey("", 101, "r", "host", "/p", "q")
	k3, _ := NewKey("", 102, "r", "host", "/p", "q")
	if page == k1 || page == k2 {
		t.Fatal("a page key is an identity's")
	}
	c := New(1 << 20)
	if m, from := c.Lookup(k1, page, prog); m != nil || from != k1 {
		t.Fatalf("an empty cache found %p under %v", m, from)
	}
	c.Put(k1, a)
	c.Put(page, a)
	c.Put(k2, b)
	for _, tc := range []struct {
		name string
		key  Key
		want *rewrite.EditMap
		from Key
	}{
		{"its own map", k1, a, k1},
		{"its own map, not the URL's", k2, b, k2},
		{"a new identity: the URL's", k3, a, page},
	} {
		if m, from := c.Lookup(tc.key, page, prog); m != tc.want || from != tc.from {
			t.Errorf("%s: got %p from %v, want %p from %v", tc.name, m, from, tc.want, tc.from)
		}
	}
	c.Failed(k2)
	if m, from := c.Lookup(k2, page, prog); m != nil || from != k2 {
		t.Errorf("an identity whose map failed got %p from %v: its misses build its next map", m, from)
	}
	c.Failed(page)
	if m, _ := c.Lookup(k3, page, prog); m != nil {
		t.Error("the URL's map that failed was found")
	}
	if !c.Varies(page) {
		t.Error("the URL whose map failed does not vary")
	}
}

// TestCacheCarriesSameSelectors: a map found for a Program with the same
// selectors (a reload that changed only what rules do) is carried over to
// it; one found for a Program that selects otherwise is dropped.
func TestCacheCarriesSameSelectors(t *testing.T) {
	old, _ := rewrite.CompileStrings([]string{"li", "p"})
	same, _ := rewrite.CompileStrings([]string{"li", "p"})
	other, _ := rewrite.CompileStrings([]string{"li", "div"})
	c := New(1 << 20)
	c.Put(1, mapOf(t, old, "<ul><li>a<li>b</ul><p>c"))
	m := c.Get(1, same)
	if m == nil || !m.Of(same) {
		t.Fatalf("the map is not carried over to a Program with the same selectors: %v", m)
	}
	if m := c.Get(1, same); m == nil || !m.Of(same) || c.Len() != 1 {
		t.Fatal("the carried map is not kept")
	}
	if c.Get(1, other) != nil || c.Len() != 0 {
		t.Fatal("the map is used by a Program that selects otherwise")
	}
}

// TestCacheKeepsNoReplacedProgram: the maps of pages not asked for since
// a reload replaced the rules' Program, with the same selectors, keep
// serving the next one, but not the one replaced. Each map kept its
// Program, and with it every table its rewrites had built: with rules
// reloaded now and then, the pages seen before a reload and not since
// held one Program per reload, past what edit_map_cache counts (41 MB
// of tables for 970 KB of maps, 134 reloads into a soak of the demo).
func TestCacheKeepsNoReplacedProgram(t *testing.T) {
	sels := []string{"li", "p"}
	old, _ := rewrite.CompileStrings(sels)
	gone := weak.Make(old)
	c := New(1 << 20)
	c.Put(1, mapOf(t, old, "<ul><li>a<li>b</ul><p>c"))
	c.Put(2, mapOf(t, old, "<ul><li>d</ul><p>e"))
	old = nil
	cur, _ := rewrite.CompileStrings(sels)
	if c.Get(1, cur) == nil {
		t.Fatal("the map of page 1 is not carried over to a Program with the same selectors")
	}
	// Twice: the first collection leaves what sync.Pools held to the
	// second.
	runtime.GC()
	runtime.GC()
	if gone.Value() != nil {
		t.Error("the Program replaced is kept alive by the map of page 2, not asked for since")
	}
	if c.Get(2, cur) == nil {
		t.Error("the map of page 2 does not serve the Program with the same selectors")
	}
}

// TestCacheFailed: a page that did not match its map gets no map built
// for the next misses, then one again.
func TestCacheFailed(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	c := New(1 << 20)
	c.Put(7, lookingMapOf(t, prog, "<li>a"))
	c.Failed(7)
	if c.Get(7, prog) != nil {
		t.Fatal("the map that did not match is still used")
	}
	for i := 1; i < retries; i++ {
		if c.Want(7) {
			t.Fatalf("miss %d builds a map", i)
		}
	}
	if !c.Want(7) {
		t.Fatal("no map is ever built again")
	}
	if c.Want(7) {
		t.Fatal("a miss that overlaps the one building the map builds one too")
	}
	if !c.Want(8) {
		t.Fatal("another page builds no map")
	}
}

// TestCacheStreamed: a page that came with pauses drops its map, and
// its next views go without one (Streaming) but for every 256th, which
// is a miss again and builds one; other keys are not held back.
func TestCacheStreamed(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	c := New(1 << 20)
	c.Put(7, mapOf(t, prog, "<li>a"))
	c.Streamed(7)
	if c.Get(7, prog) != nil {
		t.Fatal("the map of a page that paused is still used")
	}
	if c.Streaming(8) || !c.Want(8) {
		t.Fatal("another page is held back")
	}
	for round := range 2 {
		for i := 1; i < retries<<maxBackoff; i++ {
			if !c.Streaming(7) {
				t.Fatalf("round %d, view %d: a map again", round, i)
			}
		}
		if c.Streaming(7) {
			t.Fatalf("round %d: no view builds a map again", round)
		}
		if m, _ := c.Lookup(7, 7, prog); m != nil || !c.Want(7) {
			t.Fatalf("round %d: the view after the wait is no miss that builds a map", round)
		}
		c.Streamed(7) // it paused again
	}
}

// TestCachePaused: a wait of a page's origin is taken for its pause the
// second time it comes within a block of the last one (on either side
// of a block's boundary too: a request id before it may change length),
// and not when each comes elsewhere (a far origin's flights); a new map
// of the page keeps what its last one saw, and a key without a map
// records nothing.
func TestCachePaused(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	c := New(1 << 20)
	for range 2 {
		if c.Paused(7, 100) {
			t.Fatal("a key without a map paused")
		}
	}
	c.Put(7, mapOf(t, prog, "<li>a"))
	for i, at := range []int{100, 3 * rewrite.SpliceBlock, 100, 9000} {
		if c.Paused(7, at) {
			t.Fatalf("wait %d, after %d bytes: taken for a pause, though the last was in another block", i, at)
		}
	}
	c.Put(7, mapOf(t, prog, "<li>b")) // a new map: what the last saw stays
	if !c.Paused(7, 9000+100) {
		t.Fatal("a second wait in the block of the last one is no pause")
	}
	if c.Paused(8, 9000) {
		t.Fatal("another key paused")
	}
	c.Put(8, mapOf(t, prog, "<li>c"))
	if c.Paused(8, 2*rewrite.SpliceBlock-6) || !c.Paused(8, 2*rewrite.SpliceBlock+6) {
		t.Fatal("two waits 12 bytes apart, across a block's boundary, are not one place")
	}
}

// TestCacheAgain: a key is noted the first time (Again false), and found
// again the second; the note is no map, says nothing varies, and lets
// the next miss build one.
func TestCacheAgain(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	c := New(1 << 20)
	if c.Again(7) {
		t.Fatal("a key never asked for was asked for before")
	}
	if !c.Again(7) || c.Again(8) {
		t.Fatal("the note of a key is not kept, or is another key's")
	}
	if m, _ := c.Lookup(7, 7, prog); m != nil || c.Varies(7) || c.Len() != 0 {
		t.Fatal("a note is taken for a map, or for one that failed")
	}
	if !c.Want(7) {
		t.Fatal("the view after a note builds no map")
	}
	c.Put(7, mapOf(t, prog, "<li>a"))
	if c.Get(7, prog) == nil || !c.Again(7) {
		t.Fatal("the map that replaces a note is not kept")
	}
}

// TestCacheForget: a forgotten key has no map, no record of failures, and
// its bytes are freed; other keys keep theirs.
func TestCacheForget(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	c := New(1 << 20)
	c.Put(7, mapOf(t, prog, "<li>a"))
	c.Put(8, mapOf(t, prog, "<li>b"))
	before := c.Bytes()
	c.Forget(7)
	if c.Get(7, prog) != nil {
		t.Fatal("a forgotten map is still used")
	}
	if c.Get(8, prog) == nil {
		t.Fatal("another page's map went too")
	}
	if c.Bytes() >= before || c.Len() != 1 {
		t.Fatalf("bytes %d (were %d), maps %d: the forgotten map is still held", c.Bytes(), before, c.Len())
	}
	c.Failed(9)
	c.Forget(9)
	if !c.Want(9) || c.Varies(9) {
		t.Fatal("a forgotten key still waits out the failures of its maps")
	}
	c.Forget(10) // unknown: nothing to do
	var nilCache *Cache
	nilCache.Forget(7)
}

// TestCacheVaries: after a map that did not look for volatile values
// failed (also as seen by an overlapping request), the next miss builds
// one that does, without waiting; when that one fails too, the misses
// wait as usual.
func TestCacheVaries(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	c := New(1 << 20)
	c.Put(7, mapOf(t, prog, "<li>a"))
	if c.Varies(7) || c.Varies(8) {
		t.Fatal("a page that has not changed varies")
	}
	c.Failed(7)
	c.Failed(7)
	if !c.Varies(7) || !c.Want(7) {
		t.Fatalf("after a map that did not look failed: varies %v, the next miss builds none", c.Varies(7))
	}
	c.Put(7, lookingMapOf(t, prog, "<li>a"))
	if !c.Varies(7) {
		t.Fatal("a page whose map failed before no longer varies")
	}
	c.Failed(7)
	for i := 1; i < 2*retries; i++ {
		if c.Want(7) {
			t.Fatalf("after a looking map failed, miss %d builds a map", i)
		}
	}
}

// TestCacheBackoff: a page whose maps keep failing before they serve
// waits longer for each next map, up to a bound; one whose map served a
// while waits the least again.
func TestCacheBackoff(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	m := lookingMapOf(t, prog, "<li>a")
	c := New(1 << 20)
	// misses returns how many misses of key build no map.
	misses := func(key Key) int {
		for n := 0; n < 1<<20; n++ {
			if c.Want(key) {
				return n
			}
		}
		t.Fatal("no map is ever built again")
		return 0
	}
	for i, want := range []int{15, 31, 63, 127, 255, 255, 255} {
		c.Put(7, m)
		c.Get(7, prog)
		c.Failed(7)
		c.Failed(7) // an overlapping request of the same map
		if n := misses(7); n != want {
			t.Fatalf("after failed map %d, %d misses built none, want %d", i+1, n, want)
		}
	}
	c.Put(7, m)
	for range retries + 1 {
		c.Get(7, prog)
	}
	c.Failed(7)
	if n := misses(7); n != retries-1 {
		t.Fatalf("a map that served, then failed: %d misses built none, want %d", n, retries-1)
	}
}

// TestCacheHammer: concurrent gets, puts and failures keep the cache
// within its budget (run with -race).
func TestCacheHammer(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	m := mapOf(t, prog, "<ul><li>a<li>b</ul>")
	budget := 50 * (m.Size() + entryCost)
	c := New(budget)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := Key(strconv.Itoa(g * i % 97)[0])
				switch i % 4 {
				case 0:
					c.Put(k+Key(i%200), m)
				case 1:
					c.Failed(k)
				case 2:
					c.Want(k)
				default:
					c.Get(k+Key(i%200), prog)
				}
			}
		}()
	}
	wg.Wait()
	if c.Bytes() > budget || c.Bytes() < 0 {
		t.Fatalf("holds %d bytes, budget %d", c.Bytes(), budget)
	}
	n, prot := 0, 0
	for e := c.head.next; e != &c.head; e = e.next {
		if e.protected {
			t.Fatal("a protected entry in probation")
		}
		n++
	}
	for e := c.prot.next; e != &c.prot; e = e.next {
		if !e.protected {
			t.Fatal("an entry in probation's place in protected")
		}
		n++
		prot += e.cost()
	}
	if n != len(c.entries) {
		t.Fatalf("%d entries listed, %d in the map", n, len(c.entries))
	}
	if prot != c.protBytes || prot > budget*protectedShare/5 {
		t.Fatalf("protected holds %d bytes, counted %d, share %d", prot, c.protBytes, budget*protectedShare/5)
	}
}

// TestCacheScanResistant: pages seen once, however many, do not push out
// the maps of pages got again: they make room for each other.
func TestCacheScanResistant(t *testing.T) {
	prog, _ := rewrite.CompileStrings([]string{"li"})
	m := mapOf(t, prog, "<ul><li>a<li>b</ul>")
	c := New(20 * (m.Size() + entryCost))
	for k := range Key(5) {
		c.Put(k, m)
		if c.Get(k, prog) == nil {
			t.Fatalf("map %d not kept", k)
		}
	}
	for k := Key(100); k < 10000; k++ { // one query string after another
		c.Put(k, m)
	}
	for k := range Key(5) {
		if c.Get(k, prog) == nil {
			t.Errorf("the map of page %d, got again, was pushed out by pages seen once", k)
		}
	}
	if c.Get(9999, prog) == nil {
		t.Error("the last page seen once has no map: probation holds none")
	}
}
