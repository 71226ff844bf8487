// Package editmap keeps the edit maps of recently rewritten pages (see
// rewrite.EditMap), bounded in bytes: a segmented LRU, where the maps of
// pages seen once go first.
//
// A map is looked up by a page identity (route, URL, the origin's strong
// validator or length; the URL alone for a page that says neither, which
// gets a map from its second view on: see Again) and used only with the
// Program it was made for,
// or one with the same selectors: the maps of a plugin generation that a
// reload replaced serve the next if it selects what it did, and are
// dropped when found otherwise (or age out). Nothing depends on the
// key being right: a Splicer checks every block of the page against the
// map's checksums before it uses the map there. What the key decides is
// only how often a map is found and how often it pays off.
//
// A page whose map did not match is remembered (a tombstone) so that a
// page that changes with every response does not pay for a new map on
// each: the next few misses of that key build none, and one miss builds
// the next map while the others go on without (requests overlap). A key
// whose maps keep failing before they served waits longer each time, up
// to 16 times as long. The map built after one failed looks for the
// page's volatile values (Varies), which a page with a nonce or a token
// per response needs to match; when the map that failed had not looked
// for them, the next miss builds it, without waiting.
//
// A page's identity changes when its validator or length does, and that
// of a page with a request id, a counter or a time in it does on every
// response that changed its length, or its ETag when the origin hashes
// its bytes. So a map is also kept under its page's URL alone (PageKey),
// and a response whose own identity the cache has never seen looks the
// map up there (Lookup): its page may differ from the map's only in
// volatile values, whatever their length. A map that failed there makes
// the URL's next map look for volatile values, and its misses wait.
package editmap

import (
	"hash/maphash"
	"sync"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// Key identifies a page. Make one with NewKey or PageKey.
type Key uint64

var seed = maphash.MakeSeed()

// NewKey returns the key of the page whose response has validator (a
// strong ETag, or "" for none) and length (-1 when not known), named by
// parts (route, host, path, query). ok is false when the response says
// neither validator nor length: such a page is not mapped.
func NewKey(validator string, length int64, parts ...string) (k Key, ok bool) {
	if validator == "" && length < 0 {
		return 0, false
	}
	var h maphash.Hash
	h.SetSeed(seed)
	for _, s := range parts {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteString(validator)
	h.WriteByte(0)
	var b [8]byte
	for i := range b {
		b[i] = byte(length >> (8 * i))
	}
	h.Write(b[:])
	return Key(h.Sum64()), true
}

// PageKey returns the key of the page named by parts (route, host, path,
// query) whatever its validator or length: the key its latest map is
// also kept under (see above).
func PageKey(parts ...string) Key {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, s := range parts {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteByte(1) // NewKey writes a validator and a length here
	return Key(h.Sum64())
}

// retries is how many misses of a key whose map did not match build no
// map; a key whose maps failed fails times in a row waits
// retries<<min(fails-1, maxBackoff) misses.
const (
	retries    = 16
	maxBackoff = 4
)

// entryCost is what an entry costs besides its map.
const entryCost = 64

type entry struct {
	key        Key
	m          *rewrite.EditMap // nil: a tombstone
	wait       int              // a tombstone's misses left before a map is built again
	fails      int              // the key's maps that failed in a row, before serving
	soon       bool             // a tombstone's failed map had not looked for volatile values
	streamed   bool             // a tombstone of a page sent with pauses (see Streamed)
	once       bool             // a mark of a page seen once, which got no map (see Again)
	pausedAt   int              // 1 + where a view of the map's page paused, or 0 (see Paused)
	gets       int              // how often the map was got
	protected  bool             // in the protected segment: got since it was put
	prev, next *entry
}

// cost is what e counts for in its segment (a map two entries share
// counts for both).
func (e *entry) cost() int {
	if e.m == nil {
		return entryCost
	}
	return entryCost + e.m.Size()
}

// Cache holds edit maps within a budget of bytes. It is safe for
// concurrent use. The zero Cache holds nothing.
type Cache struct {
	mu      sync.Mutex
	budget  int
	bytes   int
	entries map[Key]*entry
	// refs counts the entries that hold each map: a map kept under its
	// page's identity and its URL costs its bytes once.
	refs map[*rewrite.EditMap]int
	// The entries are in two segments, each a list whose sentinel's next
	// is the most recently used: a new map goes in probation (head), a
	// map got again moves to protected (prot), which holds at most
	// protectedShare of the budget. The budget is kept by evicting from
	// probation first: pages seen once (a crawler, or a visitor making
	// up query strings) make room for each other, not by pushing out
	// the maps the site's pages are served from.
	head, prot entry
	protBytes  int
}

// protectedShare is the part of the budget, in fifths, that maps got
// again may hold.
const protectedShare = 4

// New returns a cache of at most budget bytes of maps (entries count
// their map's Size and a few dozen bytes). A budget of 0 or less holds
// nothing: New returns nil, on which every method does nothing.
func New(budget int) *Cache {
	if budget <= 0 {
		return nil
	}
	c := &Cache{budget: budget, entries: map[Key]*entry{}, refs: map[*rewrite.EditMap]int{}}
	c.head.prev, c.head.next = &c.head, &c.head
	c.prot.prev, c.prot.next = &c.prot, &c.prot
	return c
}

// Get returns the map of key for prog, or nil. A map of a Program with
// the same selectors (a reload that changed only what rules do) is
// carried over to prog; one of another Program is dropped.
func (c *Cache) Get(key Key, prog *rewrite.Program) *rewrite.EditMap {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || e.m == nil {
		return nil
	}
	if !e.m.Of(prog) {
		if !e.m.Fits(prog) {
			c.remove(e)
			return nil
		}
		c.remove(e)
		e.m = e.m.For(prog)
		c.add(e)
		if c.entries[e.key] != e {
			return nil // the budget had no room for it
		}
	}
	e.gets++
	c.unlink(e)
	if !e.protected {
		e.protected = true
		c.protBytes += e.cost()
	}
	c.front(e)
	// Protected past its share: its least recently used go back to
	// probation, where they are the next out unless got again.
	for c.protBytes > c.budget*protectedShare/5 && c.prot.prev != &c.prot {
		t := c.prot.prev
		c.unlink(t)
		t.protected = false
		c.protBytes -= t.cost()
		c.front(t)
	}
	return e.m
}

// Want reports whether a page of key that has no map should get one
// built: not while the key's last map did not match, for a few misses.
func (c *Cache) Want(key Key) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || e.m != nil {
		return true
	}
	if e.wait--; e.wait > 0 {
		return false
	}
	// This miss builds the map; the tombstone stays, so that the misses
	// that overlap it build none.
	e.wait = wait(e.fails)
	return true
}

// Varies reports whether the page of key did not match its last map: a
// map built for it now should look for volatile values.
func (c *Cache) Varies(key Key) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	return e != nil && (e.m == nil && !e.once || e.fails > 0)
}

// Again reports whether a page of key was asked for before, and notes
// that it was: a page known by its URL alone gets a map from its second
// view on (Want), so that a crawler's URLs, or a search's, each asked
// for once, cost no map's making (as much as a rewrite) on top of their
// rewrite. The note is an entry without a map, the first out of the
// cache.
func (c *Cache) Again(key Key) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != nil {
		return true
	}
	c.add(&entry{key: key, once: true})
	return false
}

// Put stores m as the map of key, evicting the least recently used maps
// beyond the budget. A map larger than an eighth of the budget is not
// kept.
func (c *Cache) Put(key Key, m *rewrite.EditMap) {
	if c == nil || m == nil || m.Size()+entryCost > c.budget/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &entry{key: key, m: m}
	if old := c.entries[key]; old != nil {
		// A page's new map keeps the place its last one earned.
		e.fails, e.protected = old.fails, old.protected && old.m != nil
		if old.m != nil {
			e.pausedAt = old.pausedAt
		}
		c.remove(old)
	}
	c.add(e)
}

// Failed records that the page of key did not match its map: the map is
// dropped, and the next misses of key build none, the more the more of
// its maps failed before they were used a few times.
func (c *Cache) Failed(key Key) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fails, soon := 1, false
	if e := c.entries[key]; e != nil {
		switch {
		case e.m == nil:
			fails = max(e.fails, 1) // the same map, got by overlapping requests
			soon = e.soon
		case e.gets <= retries:
			fails = e.fails + 1
		}
		if e.m != nil {
			// A map that did not look for volatile values: the next one
			// does, and may match where this one could not.
			_, looked := e.m.Volatile()
			soon = !looked
		}
		c.remove(e)
	}
	w := wait(fails)
	if soon {
		w = 1
	}
	c.add(&entry{key: key, wait: w, fails: fails, soon: soon})
}

// Streamed records that a page of key came with pauses: its origin sent
// it as it rendered it, and waited mid-page. A splice holds what it has
// of a block until the block is whole, and so through such a pause,
// where a full rewrite sends what it has: the key's map is dropped, and
// the key gets none until as many misses as the longest wait of a key
// whose maps fail have passed (Streaming), when one is built again to
// see whether the origin still pauses.
func (c *Cache) Streamed(key Key) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(key)
	c.add(&entry{key: key, wait: wait(maxBackoff + 1), streamed: true})
}

// Paused records that a view of the page of key, which has a map, came
// with a wait of its origin after at bytes, and reports whether the last
// view of the map that waited did so within a block of there (a value
// before it, a request id, may change the page's length): then the
// origin pauses there (it sends the page as it renders it), and the
// caller calls Streamed. Once is not enough: an origin far away sends a page in
// flights a round trip apart, and a flight that happens to end where
// one of the origin's chunks does is a wait at a place of no meaning
// (within a chunk, a read waits for the rest of it, and no wait shows).
// A page without a map records nothing.
func (c *Cache) Paused(key Key, at int) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || e.m == nil {
		return false
	}
	if e.pausedAt > 0 && abs(e.pausedAt-1-at) < rewrite.SpliceBlock {
		return true
	}
	e.pausedAt = at + 1
	return false
}

func abs(x int) int { return max(x, -x) }

// Streaming reports whether a page of key is to be rewritten in full
// without a map, and without counting a miss: its page came with pauses
// (see Streamed), lately. When the wait is over it forgets that, and the
// page is a miss again (and builds a map).
func (c *Cache) Streaming(key Key) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || !e.streamed {
		return false
	}
	if e.wait--; e.wait > 0 {
		return true
	}
	c.remove(e)
	return false
}

// Forget drops what the cache holds for key: its map, or the record of
// its maps that failed. The proxy calls it when rewriting the page with
// its map failed, so that no map of that rewrite is used again.
func (c *Cache) Forget(key Key) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(key)
}

// forget is Forget, with c.mu held.
func (c *Cache) forget(key Key) {
	if e := c.entries[key]; e != nil {
		c.remove(e)
	}
}

// wait returns how many misses build no map after fails failed maps.
func wait(fails int) int {
	return retries << min(max(fails-1, 0), maxBackoff)
}

// Bytes returns the bytes the cache holds (maps and entries).
func (c *Cache) Bytes() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Len returns the number of maps the cache holds (a map kept under two
// keys counts once).
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.refs)
}

// Lookup returns the map of key for prog, or when the cache has nothing
// for key (neither a map nor the record of one that failed), the map of
// page (its PageKey), and the key the map was found under.
func (c *Cache) Lookup(key, page Key, prog *rewrite.Program) (*rewrite.EditMap, Key) {
	if c == nil {
		return nil, key
	}
	if m := c.Get(key, prog); m != nil {
		return m, key
	}
	c.mu.Lock()
	_, known := c.entries[key]
	c.mu.Unlock()
	if !known {
		if m := c.Get(page, prog); m != nil {
			return m, page
		}
	}
	return nil, key
}

func (c *Cache) add(e *entry) {
	c.entries[e.key] = e
	c.front(e)
	c.bytes += entryCost
	if e.protected {
		c.protBytes += e.cost()
	}
	if e.m != nil {
		if c.refs[e.m]++; c.refs[e.m] == 1 {
			c.bytes += e.m.Size()
		}
	}
	for c.bytes > c.budget {
		switch {
		case c.head.prev != &c.head:
			c.remove(c.head.prev)
		case c.prot.prev != &c.prot:
			c.remove(c.prot.prev)
		default:
			return
		}
	}
}

func (c *Cache) remove(e *entry) {
	c.unlink(e)
	delete(c.entries, e.key)
	c.bytes -= entryCost
	if e.protected {
		c.protBytes -= e.cost()
	}
	if e.m != nil {
		if c.refs[e.m]--; c.refs[e.m] == 0 {
			delete(c.refs, e.m)
			c.bytes -= e.m.Size()
		}
	}
}

// front puts e first in its segment's list.
func (c *Cache) front(e *entry) {
	h := &c.head
	if e.protected {
		h = &c.prot
	}
	e.prev, e.next = h, h.next
	h.next.prev = e
	h.next = e
}

func (c *Cache) unlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}
