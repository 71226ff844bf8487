package rewrite

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"
)

// An edit map is what a Program's selectors find in one page, whoever
// asks: for every element some selector of the program selects, its
// start tag and which selectors select it; where the elements that
// matter end (their end tags, or where the tree builder ends them); where
// what follows </body> starts and stops being held. It is recorded by a
// rewrite with every selector of the program and no edit (MapBuilder),
// and replayed by a Splicer with one visitor's edits: the same sink code
// the Rewriter runs, called at the same positions, without tokenizing the
// page again. A keyed sum per SpliceBlock bytes of the page
// (blocksum.go) lets the Splicer check each block of a later response
// before it uses the map there.

// SpliceBlock is the size of the blocks an edit map checksums.
const SpliceBlock = 4 << 10

// The kinds of events.
const (
	evOpen    uint8 = iota + 1 // an element selected by some selector: its start tag is [lt, end)
	evClose                    // element d ends: its end tag [lt, end) when flag, else at lt
	evHold                     // holdAfterBody(lt)
	evUnhold                   // unhold(lt)
	evEnd                      // the page ended at lt: Close's own steps follow
	evImplied                  // the start tag at lt ends an element named sel without its end tag (noteImplied)
)

// readyFinal is the ready of the events Close makes: they need the
// page's end.
const readyFinal = math.MaxInt32

// event is one call into the sink, with offsets in the page.
type event struct {
	lt, end int32
	// ready is how many bytes of the page the rewrite had read when it
	// made the event: the bytes it may depend on.
	ready int32
	d     int32
	sel   int32 // evOpen: where its selector bits start in EditMap.sels; evImplied: the element's tag; evClose without the end tag: the element's tag (bits 0-7), if one of impliesEnd, ul or ol, its leftKinds (8-15), and the leftKinds of the elements the map does not record that ended there before it (16-23)
	kind  uint8
	flag  bool // evOpen: void; evClose: the end tag is the element's
	pre   bool // evOpen: a pre, listing or textarea (a newline right after its start tag is not its content)
}

const eventSize = int(unsafe.Sizeof(event{}))

// EditMap is the recorded structure of one page for one Program (see
// above). It is immutable once built and safe for concurrent use.
type EditMap struct {
	// set is that of the Program the map is for (see selectorSet).
	set    *selectorSet
	length int
	sums   []uint64
	// cuts holds, per whole block, where the rewrite had read to once it
	// had read the page to the block's end: the start of the construct
	// unfinished there (a tag across the blocks' boundary), or the end.
	// What comes after it may change with the next block's bytes (a tag
	// that the next block's bytes make selected has an edit written at
	// its start), so a splice writes no further before that block
	// matched.
	cuts     []int32
	events   []event
	sels     []uint64
	selWords int
	// fixed bounds what the open elements held in the rewrite (for the
	// memory bound).
	fixed int
	// selected counts, per selector, the elements it selects, and
	// tagBytes sums their start tags' lengths.
	selected []int32
	tagBytes []int64
	// vol are the page's volatile values and tol the checksums of its
	// blocks without them (nil when it has none): see volatile.go.
	// looked says the builder looked for them.
	vol    []volRange
	tol    []uint64
	looked bool
	// words are the volatile values that are class lists or ids, in
	// vol's order.
	words []volWords
	// syncs are, per whole block, where a Rewriter that took over may
	// hand the page back to the map (see resync.go); nil when none may.
	syncs []syncPoint
	// pauses are the places within blocks where the origin of the map's
	// page paused (see MapBuilder.Pause), in order.
	pauses []pausePoint
	// resumes counts how pages handed back to the map ended (see
	// worthSeeking); copies made by For share it.
	resumes *resumeCounts
}

// resumeCounts weigh, over a map's responses, what handing pages back to
// it saved and cost, in bytes a Rewriter read: saved, the bytes spliced
// after the last hand-back of pages that ended with the map; spent, the
// bytes a Rewriter read again because a page handed back stopped
// matching again (a Rewriter then reads it from its start: what it had
// read before the hand-back, it reads twice).
type resumeCounts struct{ saved, spent atomic.Int64 }

// syncPoint is a place of the map's page where its rewrite could be
// taken up: at q, where the rewrite had read the page to once it had read
// the block that ends at q+n (the start of the tag unfinished there, or
// the block's end), its state's digest (0: none), the keyed sum of the
// bytes from q to the block's end (what proves the page served is there
// again), the 8 bytes before q (what finds where it is), and which open
// elements' ends the map records.
type syncPoint struct {
	q, n   int32
	digest uint64
	sum    uint64
	anchor uint64
	pinned uint64 // the open elements whose end the map records (see Rewriter.pinned)
}

// pausePoint is a place within a block where the origin of the map's
// page paused: the sum of the block's bytes before it, and where the
// rewrite had read to once it had read the page to there (as cuts holds
// for the blocks' ends). A splice whose page pauses there too checks that
// much of the block and writes what the rewrite would have written by
// then (Splicer.Pause), rather than hold it until the block is whole.
type pausePoint struct {
	at, cut int32
	sum     uint64
}

// maxPauses bounds the pause points a map records: a page streamed in
// hundreds of pieces gets a few dozen, and its other pauses are held
// through (which the proxy notices, see Splicer.Pause).
const maxPauses = 64

// Len returns the length of the page the map was made from.
func (m *EditMap) Len() int { return m.length }

// Size returns the bytes the map holds, for a cache's budget.
func (m *EditMap) Size() int {
	return int(unsafe.Sizeof(*m)) + len(m.sums)*8 + len(m.cuts)*4 + len(m.events)*eventSize + len(m.sels)*8 + len(m.selected)*4 +
		len(m.vol)*int(unsafe.Sizeof(volRange{})) + len(m.tol)*8 + len(m.words)*int(unsafe.Sizeof(volWords{})) +
		len(m.syncs)*int(unsafe.Sizeof(syncPoint{})) + len(m.pauses)*int(unsafe.Sizeof(pausePoint{}))
}

// Volatile returns how many values of the page the map takes for
// volatile (see volatile.go), and whether its builder looked for them.
func (m *EditMap) Volatile() (n int, looked bool) { return len(m.vol), m.looked }

// selectsFor reports whether some edit's selector selects an element of
// the map's page.
func (m *EditMap) selectsFor(edits []Edit) bool {
	for i := range edits {
		if sel := edits[i].Selector; sel >= 0 && sel < len(m.selected) && m.selected[sel] > 0 {
			return true
		}
	}
	return false
}

// Of reports whether m is for p: made for it, or carried over to it by
// For. A map is only used with its Program.
func (m *EditMap) Of(p *Program) bool { return p != nil && m.set == p.set }

// Fits reports whether m may be carried over to p (For): p has the
// selectors of m's Program (Program.SameSelectors).
func (m *EditMap) Fits(p *Program) bool { return p != nil && m.set.same(p.set) }

// For returns m for use with p, which must have m's Program's selectors
// (Fits): a copy that shares m's arrays.
func (m *EditMap) For(p *Program) *EditMap {
	c := *m
	c.set = p.set
	return &c
}

// selects reports whether selector s selects the element of the open
// event whose bits start at sel.
func (m *EditMap) selects(sel int32, s int) bool {
	if s < 0 || s >= m.selWords*64 {
		return false
	}
	return m.sels[int(sel)+s>>6]&(1<<(s&63)) != 0
}

// recorder collects the events of a MapBuilder's rewrite.
type recorder struct {
	events   []event
	sels     []uint64
	selWords int
	fixed    int
	final    bool // Close is running: the events need the page's end
	failed   bool // the rewrite stopped: no map
	// look says to look for volatile values; vol are those found so
	// far, words those of them that are class lists or ids; attrs is
	// scratch for reading a tag's attributes.
	look  bool
	vol   []volRange
	words []volWords
	attrs []attr
}

// add appends e, made while the rewrite has src.
func (rc *recorder) add(r *Rewriter, e event) {
	e.ready = int32(r.base + len(r.src))
	if rc.final {
		e.ready = readyFinal
	}
	// The Splicer writes the page up to the next event's position as
	// soon as it is checked: positions must not go back.
	if n := len(rc.events); n > 0 && e.lt < rc.events[n-1].lt {
		rc.failed = true
	}
	rc.events = append(rc.events, e)
}

// peak notes what the open elements hold.
func (rc *recorder) peak(r *Rewriter) {
	rc.fixed = max(rc.fixed, len(r.stack)*entrySize+len(r.counts)*8+len(r.afe)*24)
}

// recordOpen records the element opened at depth d, start tag
// src[lt:end], which some selector may select, with the selectors that
// do; its end, and its parent's (which may hold a list), will be
// recorded.
func (r *Rewriter) recordOpen(d, lt, end int, void bool) {
	rc := r.rec
	r.epoch++
	sel := int32(len(rc.sels))
	for range rc.selWords {
		rc.sels = append(rc.sels, 0)
	}
	any := false
	// The map is of every selector of the Program: ask only those that
	// may select the element.
	r.cands = r.selCandidates(d, r.cands[:0])
	for _, s := range r.cands {
		if r.selects(int(s), d) {
			rc.sels[int(sel)+int(s>>6)] |= 1 << (s & 63)
			any = true
		}
	}
	if !any {
		rc.sels = rc.sels[:sel]
		return
	}
	if r.impliedAt == r.base+lt {
		for _, t := range r.implied {
			rc.add(r, event{kind: evImplied, d: t.d, lt: int32(r.base + lt), end: int32(r.base + lt), sel: int32(t.tag)})
		}
	}
	e := &r.stack[d]
	pre := e.ns == nsHTML && (e.tag == tagPre || e.tag == tagListing || e.tag == tagTextarea)
	rc.add(r, event{kind: evOpen, d: int32(d), lt: int32(r.base + lt), end: int32(r.base + end), sel: sel, flag: void, pre: pre})
	r.stack[d].pin |= pinRec
	r.stack[d-1].pin |= pinRec
}

// recordClose records that the element at depth d ends: with its end
// tag src[lt:end] when target, else at lt.
func (r *Rewriter) recordClose(d, lt, end int, target bool) {
	tag := int32(0)
	if !target {
		end = lt
		e := &r.stack[d]
		if e.ns == nsHTML && e.tag < 256 && (endTags[e.tag] != nil || e.tag == tagUL || e.tag == tagOL) {
			tag = int32(e.tag)
		}
		// With the kinds of the element and of those that ended here
		// before it that the map does not record, for the splice to
		// tell whether its end tag may be written (see popTo).
		tag |= int32(leftKinds(e))<<8 | int32(r.leftPlain)<<16
	}
	r.rec.add(r, event{kind: evClose, d: int32(d), lt: int32(r.base + lt), end: int32(r.base + end), sel: tag, flag: target})
}

// MapBuilder records the edit map of one page: write the page to it,
// then Close it. It is not safe for concurrent use.
type MapBuilder struct {
	r     *Rewriter
	rec   recorder
	probe []Edit
	block []byte
	// wrote is how much of block the rewrite has read (all of it, or what
	// came before a pause).
	wrote  int
	sums   []uint64
	cuts   []int32
	syncs  []syncPoint
	pauses []pausePoint
	n      int
	limit  int
	// page keeps the page, when the builder looks for volatile values,
	// for the checksums without them, which are known only once the
	// rewrite has read it.
	page []byte
}

// LookForVolatile makes b look for the page's volatile values (see
// volatile.go), for a page that changed since its last map. Call it
// before the first Write.
func (b *MapBuilder) LookForVolatile() { b.rec.look = true }

var builderPool = sync.Pool{New: func() any { return new(MapBuilder) }}

// NewMapBuilder returns a builder of the edit map of a page of at most
// limit bytes (a longer page gets none). Write it the page as the
// rewrite of the response reads it.
func (p *Program) NewMapBuilder(limit int) *MapBuilder {
	b := builderPool.Get().(*MapBuilder)
	b.probe = b.probe[:0]
	for s := range p.sels {
		b.probe = append(b.probe, Edit{Selector: s, Op: InsertBefore})
	}
	b.r = p.NewRewriter(mapSink{}, b.probe, Options{MaxBuffer: math.MaxInt32})
	b.rec = recorder{events: b.rec.events[:0], sels: b.rec.sels[:0], selWords: (len(p.sels) + 63) / 64,
		vol: b.rec.vol[:0], words: b.rec.words[:0], attrs: b.rec.attrs[:0]}
	b.page = b.page[:0]
	b.r.rec = &b.rec
	b.r.syncing = true
	// The names the page interns, counted from none: a page with many
	// may stop a rewrite that starts with others interned, and gets no
	// map.
	b.r.names, b.r.nameBytes = map[string]uint16{}, 0
	b.block, b.sums, b.cuts, b.syncs, b.n, b.limit = b.block[:0], b.sums[:0], b.cuts[:0], b.syncs[:0], 0, min(limit, math.MaxInt32/2)
	b.wrote, b.pauses = 0, b.pauses[:0]
	return b
}

// Write records p. It never fails.
func (b *MapBuilder) Write(p []byte) (int, error) {
	n := len(p)
	if b.rec.failed {
		return n, nil
	}
	b.n += n
	if b.n > b.limit {
		b.rec.failed = true
		return n, nil
	}
	if b.rec.look {
		b.page = append(b.page, p...)
	}
	// The rewrite reads the page a block at a time, so that each event's
	// ready is at most the end of the block that decided it.
	for len(p) > 0 {
		k := min(SpliceBlock-len(b.block), len(p))
		b.block = append(b.block, p[:k]...)
		p = p[k:]
		if len(b.block) == SpliceBlock {
			b.flush()
		}
	}
	return n, nil
}

func (b *MapBuilder) flush() {
	b.sums = append(b.sums, blockSum(b.block))
	b.r.Write(b.block[b.wrote:])
	cut := b.readTo()
	b.cuts = append(b.cuts, int32(cut))
	b.syncs = append(b.syncs, b.syncPoint(cut))
	b.block, b.wrote = b.block[:0], 0
}

// readTo returns where the rewrite has read the page to: the start of the
// construct it has not finished, or all it was written.
func (b *MapBuilder) readTo() int {
	if b.r.stopped || len(b.r.pending) == 0 {
		return b.r.in
	}
	return b.r.pendAt
}

// Pause records that the page's origin paused after the bytes written so
// far (see pausePoint). It reports false when it could not: past
// maxPauses, a page that gets no map, or a builder that looks for
// volatile values (the rewrite would read the block in two writes, and
// a value a write ends in is not recorded whole: the map would have
// fewer, and its splices fall back where the value changed). A pause at
// a block's end needs no record (a splice checks the block whole then),
// and returns true.
func (b *MapBuilder) Pause() bool {
	switch {
	case b.rec.failed, b.rec.look && len(b.block) > 0:
		return false
	case len(b.block) == 0:
		return true
	case len(b.pauses) >= maxPauses:
		return false
	}
	if len(b.block) > b.wrote {
		// The rewrite reads to the pause now, so that the events decided
		// by then are ready there.
		b.r.Write(b.block[b.wrote:])
		b.wrote = len(b.block)
	}
	if k := len(b.pauses); k > 0 && int(b.pauses[k-1].at) == b.n {
		return true
	}
	b.pauses = append(b.pauses, pausePoint{at: int32(b.n), cut: int32(b.readTo()), sum: blockSum(b.block)})
	return true
}

// syncPoint returns the place where the rewrite, having read the block
// just written, may be taken up again (see resync.go): at cut, where it
// has read the page to, when its state there can be, the place's 8
// bytes before it are in the block, and the unfinished tag (the block's
// bytes from cut) started in it.
func (b *MapBuilder) syncPoint(cut int) syncPoint {
	start := b.r.in - len(b.block)
	d, ok := b.r.syncDigest()
	if !ok || cut-8 < start || (len(b.syncs) > 0 && int(b.syncs[len(b.syncs)-1].q) >= cut) {
		return syncPoint{}
	}
	at := cut - start
	return syncPoint{q: int32(cut), n: int32(len(b.block) - at), digest: d, pinned: b.r.pinned(),
		sum: blockSum(b.block[at:]), anchor: binary.LittleEndian.Uint64(b.block[at-8 : at])}
}

// Close finishes the page and returns its edit map, or nil when the page
// gets none: longer than the limit, or a rewrite that stopped (see the
// package documentation's Memory).
func (b *MapBuilder) Close() *EditMap {
	if b.rec.failed {
		return nil
	}
	if len(b.block) > 0 {
		b.flush()
	}
	b.r.Close()
	if b.rec.failed || len(b.r.names) >= maxNames/2-8 || b.r.nameBytes >= maxNameBytes/2-256 {
		return nil
	}
	m := &EditMap{
		set:      b.r.prog.set,
		length:   b.n,
		sums:     append([]uint64(nil), b.sums...),
		cuts:     append([]int32(nil), b.cuts...),
		syncs:    append([]syncPoint(nil), b.syncs...),
		pauses:   append([]pausePoint(nil), b.pauses...),
		resumes:  new(resumeCounts),
		events:   append([]event(nil), b.rec.events...),
		sels:     append([]uint64(nil), b.rec.sels...),
		selWords: b.rec.selWords,
		fixed:    b.rec.fixed,
		selected: make([]int32, len(b.probe)),
		tagBytes: make([]int64, len(b.probe)),
		looked:   b.rec.look,
	}
	if len(b.rec.vol) > 0 {
		m.vol = append([]volRange(nil), b.rec.vol...)
		m.tol = volatileSums(b.page, m.vol)
		m.words = append([]volWords(nil), b.rec.words...)
	}
	for i := range m.events {
		if e := &m.events[i]; e.kind == evOpen {
			for s := range m.selected {
				if m.selects(e.sel, s) {
					m.selected[s]++
					m.tagBytes[s] += int64(e.end - e.lt)
				}
			}
		}
	}
	return m
}

// Release returns b's buffers to a pool. b must not be used after.
func (b *MapBuilder) Release() {
	if b.r != nil {
		b.r.rec = nil
		b.r.names = nil // not the page's names for the next rewrite
		b.r.Release()
		b.r = nil
	}
	if cap(b.rec.events) > 1<<16 || cap(b.rec.sels) > 1<<16 || cap(b.page) > 1<<22 {
		return
	}
	builderPool.Put(b)
}

type mapSink struct{}

func (mapSink) Write(p []byte) (int, error) { return len(p), nil }
