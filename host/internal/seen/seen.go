// Package seen remembers which items (product cards, promos, articles) a
// visitor has already seen, and how often, so that pages can stop showing
// them twice and frequency caps can be kept.
//
// # The filter
//
// The memory is a set of Bloom filters (bits-and-blooms/bloom). Items go
// in as SHA-256 digests of their ids salted with a secret derived from the
// store's key (required for cookies, optional for Redis), never as the
// ids: the filters hold bits, and a stored state cannot be tested for a
// list of candidate ids without the key. A filter can answer "seen" for an
// item that was not (at the configured false-positive rate) and never
// forgets an item within its generation.
//
// Each filter uses one hash function over a sparse bit array (Capacity /
// FalsePositive bits), and is stored as the Rice-coded gaps between its set
// bits. A sparse single-hash filter compresses to fewer bits per item than
// an optimally loaded raw filter at the same rate, which is what matters
// when the state travels in a cookie on every request. Its false-positive
// rate grows linearly with the items it holds, so the capacity is shared
// exactly between the two generations however the items fall, and a
// visitor past the capacity degrades gently instead of saturating. The
// price is memory while a request runs: a filter holding more than 256
// items keeps its Capacity / FalsePositive bits as words (12.5 KB with
// the defaults), one per such level of each generation (the first
// level, and a count level only when that many items were shown that
// many times: with the defaults at most 100 KB a request, 12.5 KB for
// most); fewer items are kept as their positions alone.
//
// # Aging
//
// Two generations: items shown go into the current one; when it is
// Window/2 old it becomes the previous one and a new current one starts,
// and the generation before is forgotten. Seen tests both. An item thus
// stays seen for at least Window/2 and at most Window after it was shown.
//
// The generations also tell how recently an item was seen (Recency): an
// item only the previous generation holds was last shown longer ago than
// one the current generation holds, which is what lets a page bring back
// the items seen least recently first.
//
// # Counts
//
// For frequency caps each generation has up to MaxCount count levels:
// level k holds the items shown at least k+1 times in that generation, and
// Shown adds an item to the first level that does not hold it. Count adds
// the two generations' counts. Every level has the first one's size:
// since the positions are Rice-coded, a level costs its items' bits, a
// few more each in a larger filter, not its size; and two items of a
// rotation whose bits meet in a level are told apart in none above it,
// so in small upper levels (once sized for Capacity/4^k items) a list of
// 20 items showed two of them half as often as the others, round after
// round. Counts can be too high, at about the false-positive rate per
// level, but not too low within a generation, unless the cookie store
// had to drop levels to fit.
//
// # Stores
//
// A signed cookie (CookieStore, the default: nothing to run) or Redis keyed
// by visitor id (RedisStore, when several proxies serve the same visitors).
// Neither ever fails a request: a missing, malformed, tampered, expired or
// unreachable state is an empty one, with the reason in LoadInfo.
//
// With the defaults a cookie value is 38 bytes empty, about 230 with 100
// items and 1,400 to 1,600 with 1,000 (in one generation or two), each
// shown once; each further showing of an item costs about as much again
// in a count level (1,000 items shown twice: 2,770); a state that
// outgrows CookieConfig.MaxBytes is degraded to fit, as it says.
//
// # What one request may record
//
// A request records at most Params.RecordLimit distinct items; Shown
// ignores the rest and Set.Unrecorded counts them, for the caller to
// report. The bound keeps one long list (an API response of 10,000
// products) from filling a visitor's filter at once, and is what lets the
// cookie store promise that a state always fits: when even the current
// generation alone outgrows the cookie, the cookie keeps this request's
// items, which fit by construction, and as many of the others as fit (a
// random share: each item is one bit, and the bits kept are the lowest).
//
// # Memory
//
// A Set's filters come from pools of the layout; Release returns them
// when the request is done with the Set (a Set never released is simply
// collected).
//
// # Privacy
//
// Allowed tells whether the visitor lets state be written (Global Privacy
// Control and a consent cookie); the proxy loads the state either way, so
// that what was already stored is honoured, but saves only when Allowed.
package seen

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
)

// Defaults for the zero values of Params.
const (
	DefaultCapacity      = 1000
	DefaultFalsePositive = 0.01
	DefaultWindow        = 30 * 24 * time.Hour
	DefaultMaxCount      = 4
)

// maxLevels bounds MaxCount: the encoding keeps a level count per
// generation in a byte, and each level costs a filter.
const maxLevels = 16

// maxFilterBits bounds one filter's size (2 MiB of memory per dense
// filter, of which a request has at most two generations of MaxCount),
// so that a configuration error cannot make every request allocate
// without bound.
const maxFilterBits = 1 << 24

// Params size the filters and set their clock. They are copied when a
// store is built. The zero Params is the defaults.
type Params struct {
	// Capacity is how many distinct items the two generations hold
	// together at FalsePositive; past it the rate grows in proportion.
	// 0 means 1,000.
	Capacity int
	// FalsePositive is the rate of Seen answering true for an item never
	// shown, at Capacity items; it must be below 1. 0 means 1%.
	FalsePositive float64
	// Window is the longest an item stays seen (at least half of it); it
	// is also the cookie's Max-Age and the Redis TTL. 0 means 30 days; it
	// must be at least 2 seconds.
	Window time.Duration
	// MaxCount is how many showings Count tells apart: the number of count
	// levels per generation, at most 16. 0 means 4; 1 keeps no counts
	// beyond seen or not.
	MaxCount int
	// RecordLimit bounds the distinct items one request records (see
	// Set.Shown); past it Shown records nothing more and Set.Unrecorded
	// counts the rest. 0 means Capacity/4, at least 16. The cookie store
	// lowers it to what a cookie of its MaxBytes can hold on its own.
	RecordLimit int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// layout is what the sets of one store share: sizes, clock and the salt
// of the item digests. It is immutable.
type layout struct {
	window, half int64 // seconds
	maxCount     int
	bits         []uint // per level
	now          func() time.Time
	salt         [32]byte
	// k0, k1 key the item digests (SipHash-2-4, with the salt's first
	// half).
	k0, k1 uint64
	// recordLimit is RecordLimit resolved.
	recordLimit int
	// filters pools the filters, per level (each level has its size);
	// sets the Sets released.
	filters []sync.Pool
	sets    sync.Pool
	// tag identifies the sizes and salt in an encoded state, so that a
	// state written under another configuration is dropped, not misread.
	tag [4]byte
}

func (p Params) layout(salt []byte) (*layout, error) {
	if p.Capacity == 0 {
		p.Capacity = DefaultCapacity
	}
	if p.FalsePositive == 0 {
		p.FalsePositive = DefaultFalsePositive
	}
	if p.Window == 0 {
		p.Window = DefaultWindow
	}
	if p.MaxCount == 0 {
		p.MaxCount = DefaultMaxCount
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	switch {
	case p.Capacity < 0:
		return nil, fmt.Errorf("seen: Capacity %d is negative", p.Capacity)
	case !(p.FalsePositive > 0 && p.FalsePositive < 1):
		return nil, fmt.Errorf("seen: FalsePositive %v is not between 0 and 1", p.FalsePositive)
	case p.Window < 2*time.Second:
		return nil, fmt.Errorf("seen: Window %v is shorter than 2s", p.Window)
	case p.MaxCount < 0 || p.MaxCount > maxLevels:
		return nil, fmt.Errorf("seen: MaxCount %d is not between 1 and %d", p.MaxCount, maxLevels)
	case p.RecordLimit < 0:
		return nil, fmt.Errorf("seen: RecordLimit %d is negative", p.RecordLimit)
	}
	if p.RecordLimit == 0 {
		p.RecordLimit = max(p.Capacity/4, 16)
	}
	l := &layout{
		window:      int64(p.Window / time.Second),
		maxCount:    p.MaxCount,
		now:         p.Now,
		recordLimit: p.RecordLimit,
		filters:     make([]sync.Pool, p.MaxCount),
	}
	l.half = l.window / 2
	h := sha256.New()
	h.Write([]byte("bespoke/seen/layout"))
	h.Write([]byte{formatVersion, byte(l.maxCount)})
	for range l.maxCount {
		bits := math.Ceil(float64(max(p.Capacity, 16)) / p.FalsePositive)
		if bits > maxFilterBits {
			return nil, fmt.Errorf("seen: Capacity %d at FalsePositive %v needs %.0f bits per filter, more than %d", p.Capacity, p.FalsePositive, bits, maxFilterBits)
		}
		m := (uint(bits) + 63) &^ 63
		l.bits = append(l.bits, m)
		h.Write(binary.AppendUvarint(nil, uint64(m)))
	}
	l.salt = sha256.Sum256(append([]byte("bespoke/seen/item\x00"), salt...))
	h.Write(l.salt[:])
	copy(l.tag[:], h.Sum(nil))
	l.k0 = binary.LittleEndian.Uint64(l.salt[:8])
	l.k1 = binary.LittleEndian.Uint64(l.salt[8:16])
	return l, nil
}

// digest is the form in which an id enters the filters: keyed by the
// store's salt so that a state cannot be tested for candidate ids without
// the key. 64 bits place an item in a filter of up to 2^24 bits and tell
// the few items one request records apart.
type digest uint64

func (l *layout) digest(id string) digest { return digest(sipHash(l.k0, l.k1, id)) }

// filter is one level's filter: a bloom filter with one hash function,
// and the positions of its set bits in increasing order, so that
// encoding it costs its items, not its size (a sparse filter's words are
// mostly zero, and scanning them is what would cost).
//
// The words hold the bits only once the filter is dense (more than
// sparseSearch positions): a sparse filter, the usual one, is read and
// written in its positions alone, which were just decoded and sit in a
// few cache lines, while each of its words is a line of a pooled filter
// of up to a few dozen KiB that nothing touched lately (a page tests
// every item it lists and records those it shows; each word touched was
// a cache miss).
//
// The words are made when the filter first becomes dense (bf is nil
// before): every level has the first level's size, and most never hold
// more than a few dozen items.
type filter struct {
	m     uint // bits
	bf    *bloom.BloomFilter
	pos   []uint32
	dense bool // the words hold the bits of pos
}

// test reports whether d's bit is set.
func (f *filter) test(d digest) bool {
	loc := location(d, f.m)
	if !f.dense {
		_, found := f.search(d, uint32(loc))
		return found
	}
	return f.bf.BitSet().Test(loc)
}

// search finds loc, d's location, in the positions: where it is, or
// where it would be inserted. The digests are uniformly random, and so
// are the positions: d's share of 2^64 is loc's share of the filter, and
// its share of the positions is where loc is likely to be, give or take
// the square root of their number. A scan from there takes fewer steps
// than a binary search, most of them predicted; past a few, the binary
// search takes over, so that positions that are not random (a state
// written by someone else into a shared store) cost no more than it.
func (f *filter) search(d digest, loc uint32) (int, bool) {
	const steps = 8
	pos := f.pos
	hi, _ := bits.Mul64(uint64(d), uint64(len(pos)))
	j := int(hi)
	if j < len(pos) && pos[j] < loc {
		// loc is after j.
		end := min(j+steps, len(pos))
		for j++; j < end && pos[j] < loc; j++ {
		}
		if j == end && end < len(pos) && pos[end] < loc {
			k, found := slices.BinarySearch(pos[end:], loc)
			return end + k, found
		}
	} else {
		// loc is at j or before.
		end := max(j-steps, 0)
		for j > end && pos[j-1] >= loc {
			j--
		}
		if j == end && end > 0 && pos[end-1] >= loc {
			return slices.BinarySearch(pos[:end], loc)
		}
	}
	return j, j < len(pos) && pos[j] == loc
}

// sparseSearch is the most positions a filter searches (1 KiB, at most
// nine steps) before it keeps its words and tests them instead.
const sparseSearch = 256

// add sets d's bit. Whether it is set already is read from the
// positions, which add keeps in order anyway (see test).
func (f *filter) add(d digest) {
	loc := location(d, f.m)
	i, found := f.search(d, uint32(loc))
	if found {
		return
	}
	f.pos = slices.Insert(f.pos, i, uint32(loc))
	switch {
	case f.dense:
		f.bf.BitSet().Set(loc)
	case len(f.pos) > sparseSearch:
		f.fill()
	}
}

// fill sets the words from the positions: the filter is dense from now
// on.
func (f *filter) fill() {
	if f.bf == nil {
		f.bf = bloom.New(f.m, 1)
	}
	words := f.bf.BitSet().Words()
	for _, p := range f.pos {
		words[p>>6] |= 1 << (p & 63)
	}
	f.dense = true
}

// newFilter returns an empty filter for level k, from the level's pool.
func (l *layout) newFilter(k int) *filter {
	if f, ok := l.filters[k].Get().(*filter); ok {
		return f
	}
	return &filter{m: l.bits[k]}
}

// putFilters returns a generation's filters to the pools, emptied: only
// the words their bits are in are cleared.
func (l *layout) putFilters(g *generation) {
	for k, f := range g.levels[:g.n] {
		if f != nil {
			l.putFilter(f, k)
		}
		g.levels[k] = nil
	}
}

// putFilter returns f, a filter of level k, to its pool, emptied.
func (l *layout) putFilter(f *filter, k int) {
	if f.m != l.bits[k] || cap(f.pos) > 1<<16 {
		return
	}
	if f.dense {
		words := f.bf.BitSet().Words()
		for _, p := range f.pos {
			words[p>>6] = 0
		}
	}
	f.pos, f.dense = f.pos[:0], false
	l.filters[k].Put(f)
}

// location is the bit an item's digest sets in a filter of m bits: the
// digest is uniformly random already, so scaled to m by a multiplication
// it is the position (no further hashing).
func location(d digest, m uint) uint {
	hi, _ := bits.Mul64(uint64(d), uint64(m))
	return uint(hi)
}

func (l *layout) nowSec() int64 { return l.now().Unix() }

// generation is the items shown during one half window.
type generation struct {
	start int64 // Unix seconds
	// levels[k] holds the items shown at least k+1 times; nil is empty.
	// n is the store's MaxCount: the levels there may be.
	levels [maxLevels]*filter
	n      int
}

func (l *layout) generation(start int64) generation {
	return generation{start: start, n: l.maxCount}
}

// count is how many times the generation saw d: the number of levels, from
// the first, that hold it.
func (g *generation) count(d digest) int {
	k := 0
	for k < g.n && g.levels[k] != nil && g.levels[k].test(d) {
		k++
	}
	return k
}

// has reports whether count(d) > 0, testing the first level only: each
// level's test is a random read of a filter larger than a cache line.
func (g *generation) has(d digest) bool {
	return g.n > 0 && g.levels[0] != nil && g.levels[0].test(d)
}

// appendLevel appends the encoding of level k.
func (g *generation) appendLevel(b []byte, k int) []byte {
	f := g.levels[k]
	if f == nil {
		return append(b, 0)
	}
	return appendPositions(b, f.pos, f.m)
}

// used is the number of levels to store: up to the last non-empty one.
func (g *generation) used() int {
	n := g.n
	for n > 0 && g.levels[n-1] == nil {
		n--
	}
	return n
}

// Set is one visitor's seen-state during one request. It is safe for
// concurrent use, but belongs to one request: the proxy loads it, the
// rewriter calls Seen and Shown while streaming, and the proxy saves it.
//
// Answers include the showings recorded by this request: an item shown
// earlier in the page is seen later in the same page.
//
// A nil or zero Set holds nothing and records nothing: Seen is false, Count
// 0, Shown does nothing and Changed is false.
type Set struct {
	mu      sync.Mutex
	l       *layout
	cur     generation
	prev    generation
	hasPrev bool
	// shown are the items this request recorded, in order (in shownArr
	// while they are few); shownIdx indexes them once there are many.
	shown    []digest
	shownArr [16]digest
	shownIdx digestSet
	// unrecorded counts the items Shown ignored past the record limit.
	unrecorded int
	changed    bool

	// unknown marks a set whose stored state could not be read (a Redis
	// timeout or error, a cookie the browser kept out of the request):
	// saving it would replace that state with this request's items
	// alone.
	unknown bool
	// newToStore marks a set for a new visitor (it sent no id cookie
	// back) the Redis store held nothing for.
	newToStore bool
	// forgotten is how many items the cookie store's last save of the
	// set had to forget to fit.
	forgotten int
	// loaded is the state the Redis store read the set from (nil when
	// none was stored), and fromStore says it read one or found none:
	// its save writes only over that same state, else merges (see
	// RedisStore.Save).
	loaded    []byte
	fromStore bool
}

func (l *layout) newSet(now int64) *Set {
	s, ok := l.sets.Get().(*Set)
	if !ok {
		s = new(Set)
	}
	s.l, s.cur = l, l.generation(now)
	if s.shown == nil {
		s.shown = s.shownArr[:0]
	}
	return s
}

// Seen reports whether the item was shown in the window, in this request
// included. It can answer true for an item never shown, at the store's
// false-positive rate; it never answers false for an item shown less than
// Window/2 ago.
func (s *Set) Seen(id string) bool {
	if s == nil || s.l == nil {
		return false
	}
	return s.Recency(id) > 0
}

// Recency values: how recently an item was seen.
const (
	// NotSeen: never shown within the window (as far as the filter
	// knows).
	NotSeen = 0
	// SeenBefore: shown in the previous generation and not since, that is
	// between Window/2 and Window ago at the most.
	SeenBefore = 1
	// SeenRecently: shown in the current generation (this request
	// included), less than Window/2 ago. Rank adds one for each further
	// showing in the generation, up to MaxCount.
	SeenRecently = 2
)

// Recency reports how recently the item was shown: NotSeen, SeenBefore or
// SeenRecently. Items of one recency cannot be told apart by it (Rank
// can). Like Seen, it can answer seen for an item never shown, at the
// false-positive rate.
func (s *Set) Recency(id string) int { return s.recency(id, false) }

// Rank is Recency, with SeenRecently plus one for each further time the
// item was shown, in the current generation and the previous one (up to
// MaxCount in each), for an item the current generation holds. Within a
// generation the filter does not know when an item was shown, but of two
// items, the one shown fewer times is, in a rotation, the one shown
// longer ago: ordering by Rank keeps "least recently seen first" turning
// once every item has been shown (a list shown three items at a time
// goes A B C, D E F, G H I, then A B C, D E F ... instead of A B C every
// visit after the first round). It reads the count levels, which Recency
// does not, so lists ask it only when the order of seen items decides
// what they show.
func (s *Set) Rank(id string) int { return s.recency(id, true) }

// Recencies sets out[i] to Recency(ids[i]) for every id, under one
// lock: a list asks for all its members at once.
func (s *Set) Recencies(ids []string, out []int32) {
	if s == nil || s.l == nil {
		clear(out[:len(ids)])
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range ids {
		out[i] = int32(s.recencyLocked(s.l.digest(id), false))
	}
}

// recency is Recency, or Rank with rank.
func (s *Set) recency(id string, rank bool) int {
	if s == nil || s.l == nil {
		return NotSeen
	}
	d := s.l.digest(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recencyLocked(d, rank)
}

// recencyLocked is recency of the item whose digest is d; the caller
// holds s.mu.
func (s *Set) recencyLocked(d digest, rank bool) int {
	switch {
	case rank:
		if n := s.cur.count(d); n > 0 {
			// The previous generation's showings count too: right after
			// a generation turns, the items shown once in each look
			// alike to the current one alone, and the round would start
			// over with the items it had already brought back.
			if s.hasPrev {
				n += s.prev.count(d)
			}
			return SeenRecently - 1 + n
		}
	case s.cur.has(d):
		return SeenRecently
	}
	if s.hasPrev && s.prev.has(d) {
		return SeenBefore
	}
	return NotSeen
}

// Count reports how many times the item was shown in the window, this
// request counting once, capped at the store's MaxCount. It is 0 exactly
// when Seen is false.
func (s *Set) Count(id string) int {
	if s == nil || s.l == nil {
		return 0
	}
	d := s.l.digest(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.cur.count(d)
	if s.hasPrev {
		n += s.prev.count(d)
	}
	return min(n, s.l.maxCount)
}

// Shown records one more showing of the item. Further calls for the same
// id during the request do nothing: an item shown twice in one page counts
// once. Past the store's record limit of distinct items in one request it
// records nothing and counts the item in Unrecorded.
func (s *Set) Shown(id string) {
	if s == nil || s.l == nil {
		return
	}
	d := s.l.digest(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shownLocked(d)
}

// ShownAll is Shown for each id in turn, under one lock.
func (s *Set) ShownAll(ids []string) {
	if s == nil || s.l == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.shownLocked(s.l.digest(id))
	}
}

// shownLocked is Shown of the item whose digest is d; the caller holds
// s.mu.
func (s *Set) shownLocked(d digest) {
	if s.recorded(d) {
		return
	}
	if len(s.shown) >= s.l.recordLimit {
		s.unrecorded++
		return
	}
	s.shown = append(s.shown, d)
	switch {
	case len(s.shown) > shownScan+1:
		s.shownIdx.add(d)
	case len(s.shown) == shownScan+1:
		for _, x := range s.shown {
			s.shownIdx.add(x)
		}
	}
	s.addShowing(d)
}

// addShowing counts one more showing of d in the current generation. The
// caller holds s.mu.
func (s *Set) addShowing(d digest) {
	k := s.cur.count(d)
	if k >= s.cur.n {
		// Counted as far as counts go: the others are made one less.
		if !s.age() {
			return
		}
		if k = s.cur.count(d); k >= s.cur.n {
			return
		}
	}
	s.cur.add(s.l, d, k)
	s.changed = true
}

// add sets d in level k, making the level if it is empty.
func (g *generation) add(l *layout, d digest, k int) {
	if g.levels[k] == nil {
		g.levels[k] = l.newFilter(k)
	}
	g.levels[k].add(d)
}

// age makes one less the count of every item of the current generation
// shown more than once, those this request showed too: they stay as
// recent as the others relative to each other (kept whole, the items a
// page showed just before one that ages would outrank those it showed
// after, and a list of 7 items shown 3 at a time showed 2 of them every
// second visit and the others every fourth). An item shown as many
// times as counts go (MaxCount) would
// otherwise tie with every other one there for the rest of the
// generation, and a rotation ordered by Rank would stop, on the first
// items of the page, once a visitor had been through the list MaxCount
// times in a half window. Level k takes the filter of level k+1 (they
// have one size), the top level empties, and level 0 stays: an item seen
// stays seen. It reports false when there is nothing to lower (MaxCount
// 1).
func (s *Set) age() bool {
	g, l := &s.cur, s.l
	if g.n < 2 {
		return false
	}
	if g.levels[1] != nil {
		l.putFilter(g.levels[1], 1)
	}
	copy(g.levels[1:g.n], g.levels[2:g.n])
	g.levels[g.n-1] = nil
	s.changed = true
	return true
}

// shownScan is how many recorded items are searched by scanning before
// they get an index: a page records a few dozen, and a map would cost
// more than it saves.
const shownScan = 32

// maxPooledIndex is the most shown items whose list and index a
// released Set keeps for the next request.
const maxPooledIndex = 1024

// digestSet is a set of digests: open addressing over the digests
// themselves, which are uniformly random already (a map would hash them
// again, and cost several times as much per item on a page that lists
// a few dozen). The table is a power of two, at most half full; zero
// marks an empty slot, so the digest 0 is noted apart.
type digestSet struct {
	slots   []digest
	n       int
	hasZero bool
}

// has reports whether d is in the set.
func (ds *digestSet) has(d digest) bool {
	if d == 0 {
		return ds.hasZero
	}
	if len(ds.slots) == 0 {
		return false
	}
	mask := uint64(len(ds.slots) - 1)
	for i := uint64(d) & mask; ; i = (i + 1) & mask {
		switch ds.slots[i] {
		case d:
			return true
		case 0:
			return false
		}
	}
}

// add puts d in the set.
func (ds *digestSet) add(d digest) {
	if d == 0 {
		ds.hasZero = true
		return
	}
	if 2*(ds.n+1) > len(ds.slots) {
		old := ds.slots
		ds.slots, ds.n = make([]digest, max(64, 2*len(old))), 0
		for _, x := range old {
			if x != 0 {
				ds.insert(x)
			}
		}
	}
	ds.insert(d)
}

// insert puts d, not zero, in a table with room for it.
func (ds *digestSet) insert(d digest) {
	mask := uint64(len(ds.slots) - 1)
	for i := uint64(d) & mask; ; i = (i + 1) & mask {
		switch ds.slots[i] {
		case d:
			return
		case 0:
			ds.slots[i] = d
			ds.n++
			return
		}
	}
}

// reset empties the set, keeping its table.
func (ds *digestSet) reset() {
	clear(ds.slots)
	ds.n, ds.hasZero = 0, false
}

// recorded reports whether this request already recorded d.
func (s *Set) recorded(d digest) bool {
	if len(s.shown) > shownScan {
		return s.shownIdx.has(d)
	}
	for i := range s.shown {
		if s.shown[i] == d {
			return true
		}
	}
	return false
}

// Unrecorded reports how many distinct items Shown did not record because
// the request had recorded as many as the store's record limit.
func (s *Set) Unrecorded() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unrecorded
}

// Release returns the set and its filters to its store's pools. The set
// must not be used after (it will be another request's); nil and zero
// sets ignore it.
func (s *Set) Release() {
	if s == nil || s.l == nil {
		return
	}
	s.mu.Lock()
	l := s.l
	l.putFilters(&s.cur)
	l.putFilters(&s.prev)
	// Back to the pool as a zero Set, but for the list and index of
	// shown items: a page that lists more than shownScan items would
	// otherwise make both on every request. Ones that grew past a
	// page's worth go.
	shown, idx := s.shown[:0], s.shownIdx
	if cap(shown) > maxPooledIndex {
		shown, idx = nil, digestSet{}
	}
	idx.reset()
	s.l, s.cur, s.prev, s.hasPrev = nil, generation{}, generation{}, false
	s.shown, s.shownIdx, s.unrecorded, s.changed, s.unknown, s.newToStore, s.forgotten = shown, idx, 0, false, false, false, 0
	s.loaded, s.fromStore = nil, false
	s.mu.Unlock()
	l.sets.Put(s)
}

// Forgotten reports how many items the last save of the set forgot, of
// those shown before this request, to fit its store (a cookie full even
// without counts or the previous generation); 0 when it forgot none.
func (s *Set) Forgotten() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forgotten
}

// Changed reports whether Shown recorded anything, that is whether the
// state needs saving.
func (s *Set) Changed() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Sources of a state, for LoadInfo.Source.
const (
	SourceCookie = "cookie"
	SourceRedis  = "redis"
	SourceNew    = "new"
)

// Reasons a stored state was ignored, for LoadInfo.Dropped.
const (
	// DroppedMalformed: not an encoding this package writes (bad base64,
	// wrong length, impossible contents, larger than the store writes).
	DroppedMalformed = "malformed"
	// DroppedTampered: the cookie's signature does not match (altered,
	// truncated, or signed with another key).
	DroppedTampered = "tampered"
	// DroppedExpired: every item in it is older than the window.
	DroppedExpired = "expired"
	// DroppedOldFormat: another format version, or written for other
	// sizes (Capacity, FalsePositive, MaxCount) or another key.
	DroppedOldFormat = "old-format"
	// DroppedTimeout: Redis did not answer within the timeout.
	DroppedTimeout = "timeout"
	// DroppedRedisError: Redis answered with an error or could not be
	// reached (or is taken for lost, see RedisStore).
	DroppedRedisError = "redis-error"
)

// LoadInfo says where a Set came from, for metrics and logs. The zero
// LoadInfo is never returned by a store; read as Source "" it means
// nothing is known.
type LoadInfo struct {
	// Source is SourceCookie or SourceRedis for a state that was loaded,
	// SourceNew for an empty one (none stored, or dropped).
	Source string
	// Dropped, when not empty, says why a stored state was ignored: one of
	// the Dropped constants.
	Dropped string
}

// Failed reports whether the store could not answer (DroppedTimeout,
// DroppedRedisError): the visitor's state is unknown, not absent or
// unusable, and saving the set is skipped (ErrUnknownState).
func (i LoadInfo) Failed() bool {
	return i.Dropped == DroppedTimeout || i.Dropped == DroppedRedisError
}

// Store loads and saves visitors' states. Implementations are safe for
// concurrent use. The proxy takes a nil Store to mean that no seen-state is
// kept.
type Store interface {
	// Load reads the visitor's state. It never fails the request: a state
	// that cannot be used gives an empty Set, and LoadInfo says why.
	Load(ctx context.Context, r *http.Request, visitorID string) (*Set, LoadInfo)
	// Save persists s when it changed: the cookie store adds a Set-Cookie
	// header to h; the Redis store queues a background write and ignores
	// h. secure marks the cookie Secure (the request came over TLS). An
	// error means the state was not saved; the response is not affected.
	Save(ctx context.Context, h http.Header, visitorID string, s *Set, secure bool) error
	// InHeaders reports whether Save answers in the response headers (the
	// cookie store): the proxy then needs to know what a page showed before
	// it sends the headers. False means Save writes elsewhere (Redis) and
	// may run after the body.
	InHeaders() bool
	// CookieName is the name of the cookie the store keeps a visitor's
	// state in ("" when it keeps it elsewhere): the proxy does not send it
	// on to the origin.
	CookieName() string
}

// ErrTooLarge is returned by CookieStore.Save for a state that does not fit
// in the cookie even started over with the request's own items, which the
// store's record limit rules out; the visitor's cookie is then left as it
// was.
var ErrTooLarge = errors.New("seen: the state does not fit in a cookie; raise MaxBytes or lower Capacity")

// Interface guards: the rewriter's and the JSON editor's SeenSet.
var _ interface {
	Recency(id string) int
	Shown(id string)
} = (*Set)(nil)
