package device

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// cached reports whether c holds the classification of ua without hints.
func cached(c *Cache, ua string) bool {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		_, ok := s.index[cacheKey{ua: ua}]
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// checkLists walks every shard's list both ways and checks it against the
// index.
func checkLists(t *testing.T, c *Cache) {
	t.Helper()
	for n := range c.shards {
		s := &c.shards[n]
		s.mu.Lock()
		count, prev := 0, int32(-1)
		for i := s.head; i >= 0; i = s.ents[i].next {
			if s.ents[i].prev != prev {
				t.Fatalf("shard %d: entry %d links back to %d, want %d", n, i, s.ents[i].prev, prev)
			}
			if j, ok := s.index[s.ents[i].key]; !ok || j != i {
				t.Fatalf("shard %d: entry %d is not indexed", n, i)
			}
			prev = i
			count++
			if count > len(s.ents) {
				t.Fatalf("shard %d: list has a cycle", n)
			}
		}
		if s.tail != prev || count != len(s.index) || count > s.limit {
			t.Fatalf("shard %d: tail %d (want %d), %d listed, %d indexed, limit %d", n, s.tail, prev, count, len(s.index), s.limit)
		}
		s.mu.Unlock()
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewCache(3)
	for _, ua := range []string{"a", "b", "c"} {
		c.Classify(ua, Hints{})
	}
	c.Classify("a", Hints{}) // b is now the least recently used
	c.Classify("d", Hints{})
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	for ua, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := cached(c, ua); got != want {
			t.Errorf("%q cached = %v, want %v", ua, got, want)
		}
	}
	checkLists(t, c)
}

func TestCacheBounded(t *testing.T) {
	for _, size := range []int{-5, 0, 1, 2, 100, 511, 1000, 4096, 5000} {
		c := NewCache(size)
		for i := range 3 * max(size, 1) {
			ua := fmt.Sprintf("Mozilla/5.0 (Linux; Android %d; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", i)
			if got, want := c.Classify(ua, Hints{}), Classify(ua, Hints{}); got != want {
				t.Fatalf("size %d: cached %+v, want %+v", size, got, want)
			}
		}
		if n, limit := c.Len(), max(size, 1); n > limit || n < limit/2 {
			t.Errorf("NewCache(%d) holds %d entries, want at most %d and not far fewer", size, n, limit)
		}
		checkLists(t, c)
	}
}

func TestCacheKeysIncludeHints(t *testing.T) {
	c := NewCache(16)
	phone := c.Classify(tabChrome, Hints{Mobile: "?1", Platform: `"Android"`})
	tablet := c.Classify(tabChrome, Hints{Mobile: "?0", Platform: `"Android"`})
	if phone.Type != Mobile || tablet.Type != Tablet {
		t.Errorf("got %s and %s, want mobile and tablet", phone.Type, tablet.Type)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
}

func TestCacheSkipsHugeKeys(t *testing.T) {
	c := NewCache(16)
	ua := "Mozilla/5.0 (Windows NT 10.0) " + strings.Repeat("x", maxCachedKey)
	if got := c.Classify(ua, Hints{}); got != Classify(ua, Hints{}) {
		t.Errorf("got %+v", got)
	}
	if c.Len() != 0 {
		t.Errorf("a %d-byte User-Agent was cached", len(ua))
	}
}

func TestZeroAndNilCache(t *testing.T) {
	var zero Cache
	var nilCache *Cache
	want := Classify(iPhone, Hints{})
	if got := zero.Classify(iPhone, Hints{}); got != want {
		t.Errorf("zero Cache: %+v, want %+v", got, want)
	}
	if got := nilCache.Classify(iPhone, Hints{}); got != want {
		t.Errorf("nil Cache: %+v, want %+v", got, want)
	}
	if zero.Len() != 0 || nilCache.Len() != 0 {
		t.Error("a zero or nil Cache holds entries")
	}
}

// TestCacheHammer classifies from many goroutines at once, through a cache
// too small for the User-Agents, so that lookups, insertions and
// evictions race; run it with -race.
func TestCacheHammer(t *testing.T) {
	cases := loadCorpus(t)
	want := make([]Info, len(cases))
	for i, c := range cases {
		want[i] = Classify(c.ua, c.hints)
	}
	for _, size := range []int{7, 600} {
		c := NewCache(size)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 3000 {
					k := (i*7 + g*131) % len(cases)
					if got := c.Classify(cases[k].ua, cases[k].hints); got != want[k] {
						t.Errorf("goroutine %d: %q got %+v, want %+v", g, cases[k].ua, got, want[k])
						return
					}
					if i%500 == 0 && c.Len() > size {
						t.Errorf("Len = %d, over %d", c.Len(), size)
						return
					}
				}
			}()
		}
		wg.Wait()
		if c.Len() > size {
			t.Errorf("Len = %d, over %d", c.Len(), size)
		}
		checkLists(t, c)
	}
}
