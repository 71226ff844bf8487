package rewrite

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"sort"
	"unsafe"
)

// Finding the map again.
//
// A page that stops matching its map often matches it again further on:
// a greeting with the visitor's name, a cart's count or a request's
// number written in the markup near the top, and the rest of the page the
// same bytes, moved or not. The Rewriter that took over (see
// Splicer.fallBack) has then read the page to some offset P where it is
// in the state the map's rewrite was in at a block's boundary Q of the
// map's page: from there on it would make the events the map holds
// (shifted by P-Q) for as long as the bytes are the map's, so the Splicer
// can go back to splicing, with that Rewriter as its sink.
//
// "The same state" is what every later decision reads, whoever's edits:
// the tokenizer's state, the tree builder's (the stack of open elements,
// the list of active formatting elements, the document's modes and
// flags) and, for the selectors, what an open element's matches depend
// on. Selectors read an element's start tag, its ancestors and its place
// among its siblings (the sibling combinators, :last-child and :has()
// are refused), so each open element is known by a keyed hash of its
// start tag and what :nth-child and :nth-of-type read of its children so
// far. A digest of all that is recorded at each block's end, where the
// map's rewrite had read the page to (MapBuilder.syncPoint), and
// compared with the taking-over Rewriter's at the same bytes of the page
// served. The matchers' own state is not compared: it is a function of
// the above, and the map's rewrite matched every selector where the
// visitor's matches theirs. Nor is the visitor's (what its edits and
// lists have to do at an element's end): it is the Rewriter's own, and
// stays its own; the map must only replay the ends it needs (pinned).
//
// The hashes are keyed by sumSeed, as the block sums are: nobody who
// writes part of a page can make two states digest alike.

// syncEntry is what a digest reads of an open element that its entry does
// not hold: its start tag, and what selectors read of its children.
type syncEntry struct {
	tag  uint64 // keyed hash of its start tag's bytes (of the tag that opened it)
	kids uint64 // its element children so far, as Program.kids says
}

// noteSync records, for the element just opened at depth n by the start
// tag src[lt:end] with name id, what a digest reads: its tag's hash, and
// it among its parent's children, as much as selectors read of a
// child's earlier siblings (Program.kids): their number for :nth-child,
// and their names for :nth-of-type, in any order (a sum of keyed hashes:
// the same counts of each name sum alike).
func (r *Rewriter) noteSync(n int, id uint16, lt, end int) {
	for len(r.syn) <= n {
		r.syn = append(r.syn, syncEntry{})
	}
	tag := r.src[lt:end]
	r.syn[n] = syncEntry{tag: maphash.Comparable(sumSeed, bstr(tag))}
	switch r.prog.kids {
	case kidsCount:
		r.syn[n-1].kids++
	case kidsNames:
		name := maphash.Comparable(sumSeed, id)
		if id >= r.nameBase {
			// A name the rewrite interned: its number depends on the
			// names this Rewriter met before; its bytes do not.
			k, _ := scanName(tag, 1)
			name = maphash.Comparable(sumSeed, bstr(tag[1:k]))
		}
		r.syn[n-1].kids += name
	}
}

// pinned returns the depths, below 64, of the open elements whose end the
// map's rewrite records (see recordOpen): those a selector selects, and
// the parents of those. An element's end that the map does not record
// cannot be replayed, so a Rewriter that has work at an element's end
// (its own edits', a list's) hands the page back only where the map's
// rewrite recorded that element's end (takeUp). Which of an element's
// children selectors selected is not in the digest: its children are
// known by what selectors read of them only.
func (r *Rewriter) pinned() uint64 {
	var m uint64
	for d := range min(len(r.stack), 64) {
		if r.stack[d].pin&pinRec != 0 {
			m |= 1 << d
		}
	}
	return m
}

// needsEnd returns the depths of the open elements where the rewrite has
// work at their end (an edit's, a list's, content it drops), and false
// when one is 64 deep or more.
func (r *Rewriter) needsEnd() (uint64, bool) {
	var m uint64
	for d := 1; d < len(r.stack); d++ {
		if x := &r.stack[d]; x.act != 0 || x.region != 0 || x.item != 0 || r.skip == d {
			if d >= 64 {
				return 0, false
			}
			m |= 1 << d
		}
	}
	return m, true
}

// syncDigest returns the digest of the rewrite's state once it has read
// the page up to where its unfinished construct starts (pendAt; the end
// of what it was written when there is none), and false when it cannot
// be taken up there: in a comment, a script or another text that is not
// the page's markup, at a construct that is not a tag, after </body>,
// stopped, or not keeping what a digest reads (syncing).
func (r *Rewriter) syncDigest() (uint64, bool) {
	if !r.syncing || r.stopped || r.err != nil || len(r.pending) > 0 && r.pending[0] != '<' || r.state != stData ||
		r.scriptEsc != 0 || r.holding || r.recHold || len(r.syn) < len(r.stack) {
		return 0, false
	}
	b := r.digestBuf[:0]
	b = append(b, uint64(len(r.stack)), uint64(len(r.afe)), uint64(r.afeMarker), uint64(r.afeDead), uint64(r.gone),
		uint64(r.docMode)|bit(r.started)<<8|bit(r.bodyStarted)<<9|bit(r.framesetBad)<<10|bit(r.htmlSeen)<<11|
			bit(r.quirks)<<12|bit(r.formSet)<<13|uint64(uint32(r.formDepth))<<32)
	for _, n := range r.nOpen {
		b = append(b, uint64(n))
	}
	for d := range r.stack {
		e := &r.stack[d]
		tag := uint64(e.tag)
		if e.tag >= r.nameBase {
			tag = 0 // (its start tag's hash holds its name)
		}
		b = append(b,
			tag|uint64(e.ns)<<16|uint64(e.eflags)<<24|bit(e.gone)<<32|uint64(e.copies)<<40|uint64(e.tmode)<<48|uint64(e.implied)<<56,
			uint64(e.prev)|uint64(e.spec)<<16|uint64(e.html)<<32|uint64(e.open)<<48|bit(e.moded)<<56,
			e.near, uint64(uint32(e.afe)), r.syn[d].tag, r.syn[d].kids)
	}
	for i := range r.afe {
		a := &r.afe[i]
		alive := uint64(0)
		if a.state == afeCopy && r.copyOpen(a) {
			alive = 1
		}
		b = append(b, uint64(a.tag)|uint64(a.state)<<16|uint64(a.at)<<24|alive<<40, uint64(uint32(a.prev)), a.attrs)
	}
	r.digestBuf = b
	words := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b)*8)
	return maphash.Comparable(sumSeed, bstr(words)) | 1, true
}

func bit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// maxTakeUps bounds how many times a Splicer hands a page back to its
// map: each time the page stops matching again, a Rewriter reads it all
// again from its start.
const maxTakeUps = 3

// seekWindow is how far from where the map's bytes would be, at the shift
// the page had before it stopped matching, a Splicer looks for them: the
// part that differed may be longer or shorter by that much.
const seekWindow = 4 << 10

// maxMisses is how many sync points in a row may have the map's bytes
// and another state before a Splicer stops looking: a change that left
// an element open may leave it open to the page's end, and each look
// costs a digest, and the Rewriter the hashes digests read.
const maxMisses = 8

// worthSeeking reports whether pages that stop matching the map are
// still worth handing back to it. A page handed back that stops matching
// again is read again from its start by the next Rewriter: on a page
// that changes here and there all through (a relative time on every
// card), up to three times, where the map would cost several rewrites
// instead of one. So once what hand-backs cost the map's pages exceeds
// what they saved by more than the page's length, pages of this map are
// no longer handed back: they cost one rewrite, as without it. (A map
// whose pages change near their top and nowhere else, a greeting, only
// saves.)
func (m *EditMap) worthSeeking() bool {
	return m.resumes != nil && m.resumes.spent.Load() <= m.resumes.saved.Load()+int64(m.length)
}

// maxLost is how many sync points in a row may have the map's bytes
// nowhere near before a Splicer stops looking: a page that differs all
// through (a time on every card) would otherwise be searched at every
// point to its end.
const maxLost = 16

// maxCandidates is how many places with a sync point's anchor one search
// checks: on an indented page, eight spaces are everywhere.
const maxCandidates = 32

// candidateCost is what checking one place costs the seek's budget,
// besides the bytes it hashes.
const candidateCost = 64

// seekBudget is what looking for the map's bytes may cost over a page,
// in bytes hashed (and candidateCost a place checked), once all bytes
// received so far are counted: about the cost of hashing the page
// twice, a few percent of rewriting it, so that a page that never finds
// its map again costs what its rewrite costs.
func seekBudget(received int) int { return 2*received + 16*SpliceBlock }

// feedTo writes the page to the Rewriter that took over up to to.
func (s *Splicer) feedTo(to int) {
	if to <= s.fed {
		return
	}
	s.full.Write(s.all[s.fed:to])
	s.fed = to
	s.feeds = append(s.feeds, to)
}

// stopSeeking gives the page up to the Rewriter that took over: it is
// written all the page has sent, and what comes next.
func (s *Splicer) stopSeeking() {
	if s.full == nil || !s.seeking {
		return
	}
	s.seeking = false
	s.full.syncing = false
	s.feedTo(len(s.all))
}

// seek looks, while the Rewriter that took over reads the page, for a
// sync point of the map where the page served is the map's page again
// and the Rewriter is in the state the map's was, and hands the page
// back to the map there (takeUp). With final set the page has sent all it
// will. It writes the Rewriter what surely comes before such a place.
//
// The map's bytes are looked for first where the last bytes found were
// (at the same shift): a part that differed and ended leaves the rest
// there. Elsewhere, the 8 bytes before the point are looked for within
// seekWindow. Where the bytes are the map's but the state is not (an
// element left open), the next point is tried, and after maxMisses
// points in a row the page is left to the Rewriter; so it is after
// maxLost points in a row whose bytes were nowhere, or once the looking
// has cost seekBudget.
func (s *Splicer) seek(final bool) {
	m := s.m
	for s.seeking {
		if s.sk >= len(m.syncs) || s.misses >= maxMisses || s.lost >= maxLost || s.work > seekBudget(len(s.all)) ||
			s.full.stopped || s.full.err != nil {
			s.stopSeeking()
			return
		}
		sp := &m.syncs[s.sk]
		q := int(sp.q)
		// (A point in the map's last block, whole or not, is not taken:
		// there is little left to splice, and no next block to prove the
		// page is the map's there.)
		if sp.digest == 0 || int(sp.q+sp.n) >= m.length || s.inVolatile(q) {
			s.sk++
			continue
		}
		p := q + s.seekD
		v := blockBad
		if p >= s.fed && p >= 8 {
			v = s.bytesAt(p, sp, final)
		}
		if v == blockBad {
			p, v = s.search(sp, final)
		}
		switch v {
		case blockWait:
			return
		case blockOK:
			s.seekD, s.lost = p-q, 0
			s.feedTo(p)
			if d, ok := s.full.syncDigest(); ok && len(s.full.pending) == 0 && d == sp.digest && s.takeUp(p, s.sk) {
				return
			}
			s.misses++
		case blockBad:
			s.lost++
		}
		s.sk++
	}
}

// search looks within seekWindow of where sync point sp would be, at the
// shift last found, for the page's bytes being the map's there (see
// bytesAt), and returns where, and blockOK; blockBad when they are
// nowhere; blockWait when the page has not sent enough to tell (it then
// writes the Rewriter what surely comes before).
func (s *Splicer) search(sp *syncPoint, final bool) (int, int) {
	q := int(sp.q)
	lo, hi := max(q+s.seekD-seekWindow, 8, s.fed), q+s.seekD+seekWindow
	if hi > len(s.all) && !final {
		s.feedTo(min(lo, len(s.all)))
		return 0, blockWait
	}
	hi = min(hi, len(s.all))
	var want [8]byte
	binary.LittleEndian.PutUint64(want[:], sp.anchor)
	for at, k := lo-8, 0; at < hi-8 && k < maxCandidates; k++ {
		i := bytes.Index(s.all[at:hi], want[:])
		if i < 0 {
			break
		}
		p := at + i + 8
		at += i + 1
		if p == q+s.seekD {
			continue // (bytesAt looked there)
		}
		switch s.bytesAt(p, sp, final) {
		case blockWait:
			s.feedTo(p - 8)
			return 0, blockWait
		case blockOK:
			return p, blockOK
		}
	}
	return 0, blockBad
}

// bytesAt reports whether the page served has, from p, the map's bytes
// from sync point sp's q: its tail to its block's end (sp.sum), and the
// map's next block, should the map's page have one (a page that repeats
// itself, cards or rows, has the same tail, and even the same state,
// one card further). blockWait: the page has not sent them yet.
func (s *Splicer) bytesAt(p int, sp *syncPoint, final bool) int {
	m := s.m
	short := blockWait
	if final {
		short = blockBad
	}
	q, n := int(sp.q), int(sp.n)
	if p < 8 || p+n > len(s.all) {
		return short
	}
	s.work += candidateCost
	if binary.LittleEndian.Uint64(s.all[p-8:p]) != sp.anchor {
		return blockBad
	}
	s.work += n
	if blockSum(s.all[p:p+n]) != sp.sum {
		return blockBad
	}
	if b := q + n; b < m.length {
		e := p + n + min(SpliceBlock, m.length-b)
		if e > len(s.all) {
			return short
		}
		s.work += e - p - n
		if blockSum(s.all[p+n:e]) != m.sums[b/SpliceBlock] {
			return blockBad
		}
	}
	return blockOK
}

// inVolatile reports whether offset q of the map's page is inside one of
// its volatile values.
func (s *Splicer) inVolatile(q int) bool {
	vol := s.m.vol
	i := sort.Search(len(vol), func(i int) bool { return int(vol[i].hi()) > q })
	return i < len(vol) && int(vol[i].lo) < q
}

// takeUp hands the page back to the map at its sync point k: the page
// served has the map's bytes from p on, as the map's page has from q
// (checked to the end of q's block), and the Rewriter that took over,
// having read the page to p, is in the state the map's rewrite was in at
// q. The Rewriter becomes the Splicer's sink, where it is: what it holds
// for list edits or after </body> and the elements it is to finish stay
// its own. It reports false, and changes nothing, when the output the
// Rewriter wrote has not yet reached what the Splicer wrote before it
// took over, or the rest of the page could take the rewrite past its
// memory bound.
func (s *Splicer) takeUp(p, k int) bool {
	sp := &s.m.syncs[k]
	q := int(sp.q)
	if s.skip.skip > 0 || !s.fits(s.grew+max(0, p-q)) {
		return false
	}
	if need, ok := s.full.needsEnd(); !ok || need&^sp.pinned != 0 {
		return false
	}
	r := s.full
	r.syncing = false
	r.src, r.base, r.mark, r.pageSrc = s.all[:p], 0, p, true
	s.cw = countWriter{w: s.w, n: s.out0 + s.skip.n}
	r.w = &s.cw
	s.skip = skipWriter{}
	s.sink, s.full, s.seeking = r, nil, false
	s.direct, s.copy = false, false
	s.shifts = append(s.shifts, shift{lo: sp.q, hi: sp.q, d: p - q})
	s.d, s.extra = p-q, p-q
	s.ov, s.v = q+int(sp.n), p
	vol := s.m.vol
	s.found = sort.Search(len(vol), func(i int) bool { return int(vol[i].lo) >= q })
	ev := s.m.events
	s.ei = sort.Search(len(ev), func(i int) bool { return int(ev[i].lt) >= q })
	s.tookUp++
	s.upAt = p
	return true
}

// TookUp reports how many times the page, having stopped matching its
// map, was handed back to it (see resync.go); with FellBack() >= 0 and
// Resumed, the page ended spliced.
func (s *Splicer) TookUp() int { return s.tookUp }

// Resumed reports whether the page ended spliced with its map after it
// stopped matching it: the map was taken up again, for the rest.
func (s *Splicer) Resumed() bool { return s.tookUp > 0 && s.full == nil }

// Map returns the edit map the Splicer was given (nil if none).
func (s *Splicer) Map() *EditMap { return s.m }
