package device

import (
	"hash/maphash"
	"sync"
)

// maxCachedKey is the longest User-Agent plus hints a Cache keeps: real
// ones are far shorter, and a bounded count of huge junk keys would still
// hold a lot of memory.
const maxCachedKey = 2048

// Cache is a bounded LRU cache of classifications, safe for concurrent
// use. Most traffic comes from a few thousand User-Agents, so a cache of
// that size answers most requests with one map lookup and never grows past
// its size however many distinct User-Agents arrive.
//
// A large cache is split into shards, each an LRU list of its own behind
// its own lock, so that concurrent requests rarely wait for each other;
// eviction is then least-recently-used within a shard.
//
// The zero Cache, and a nil *Cache, cache nothing: their Classify is the
// package's Classify.
type Cache struct {
	seed   maphash.Seed
	shards []shard
	mask   uint64
}

// shard is one LRU list: entries in a fixed slice linked by index, so that
// a full cache recycles entries instead of allocating.
type shard struct {
	mu         sync.Mutex
	index      map[cacheKey]int32
	ents       []cacheEntry
	head, tail int32 // most and least recently used; -1 when empty
	limit      int
	_          [40]byte // keep neighbouring shards' locks off one cache line
}

type cacheKey struct {
	ua string
	h  Hints
}

type cacheEntry struct {
	key        cacheKey
	info       Info
	prev, next int32
}

// NewCache returns a cache holding at most size classifications; a size
// below 1 is 1.
func NewCache(size int) *Cache {
	size = max(1, min(size, 1<<30))
	n := 1
	for n < 16 && size/(n*2) >= 256 {
		n *= 2
	}
	c := &Cache{seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1)}
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = size / n
		s.index = make(map[cacheKey]int32, min(s.limit, 1024))
		s.head, s.tail = -1, -1
	}
	return c
}

// Classify returns Classify(userAgent, h), from the cache when it is
// there.
func (c *Cache) Classify(userAgent string, h Hints) Info {
	if c == nil || len(c.shards) == 0 ||
		len(userAgent)+len(h.Mobile)+len(h.Platform)+len(h.PlatformVersion)+len(h.UA)+len(h.Model) > maxCachedKey {
		return Classify(userAgent, h)
	}
	k := cacheKey{userAgent, h}
	s := &c.shards[maphash.String(c.seed, userAgent)&c.mask]
	s.mu.Lock()
	if i, ok := s.index[k]; ok {
		s.touch(i)
		info := s.ents[i].info
		s.mu.Unlock()
		return info
	}
	s.mu.Unlock()
	info := Classify(userAgent, h)
	s.mu.Lock()
	s.add(k, info)
	s.mu.Unlock()
	return info
}

// Len returns the number of cached classifications.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

// touch moves entry i to the front.
func (s *shard) touch(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *shard) unlink(i int32) {
	e := &s.ents[i]
	if e.prev >= 0 {
		s.ents[e.prev].next = e.next
	} else {
		s.head = e.next
	}
	if e.next >= 0 {
		s.ents[e.next].prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (s *shard) pushFront(i int32) {
	e := &s.ents[i]
	e.prev, e.next = -1, s.head
	if s.head >= 0 {
		s.ents[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

// add inserts k unless another goroutine did meanwhile, evicting the least
// recently used entry when the shard is full.
func (s *shard) add(k cacheKey, info Info) {
	if _, ok := s.index[k]; ok {
		return
	}
	var i int32
	if len(s.ents) < s.limit {
		s.ents = append(s.ents, cacheEntry{})
		i = int32(len(s.ents) - 1)
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.index, s.ents[i].key)
	}
	s.ents[i] = cacheEntry{key: k, info: info, prev: -1, next: -1}
	s.index[k] = i
	s.pushFront(i)
}
