package rewrite

import (
	"bytes"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"
)

// Splicer rewrites a page whose edit map is known: it checks each block
// of the page against the map's checksum, then writes what the Rewriter
// would have written for it, by replaying the map's events into the
// Rewriter's sink with the visitor's edits, without tokenizing the page.
// A page that differs from the map's only in volatile values, of the
// same length or not, still splices (see volatile.go). At the first
// block that does not match it hands over to a Rewriter, which reads again what the page sent so
// far and writes on from where the Splicer left off; should the page
// match the map again further on, the Splicer takes it up there, with
// that Rewriter as its sink (see resync.go). The output is the
// Rewriter's, byte for byte, either way, and so are Applied and the
// calls to the SeenSet.
//
// A Splicer keeps the page it was written, to read it again should a
// block not match; it writes a block's output only once the block has
// matched. It is not safe for concurrent use. Get one from
// Program.NewSplicer, write the page to it, Close it, then Release it.
type Splicer struct {
	prog  *Program
	m     *EditMap
	w     io.Writer
	edits []Edit
	opt   Options

	sink *Rewriter // nil when the map cannot be used (full from the start)
	full *Rewriter // the Rewriter that took over, or nil
	cw   countWriter
	skip skipWriter
	// piece sums the blocks checked without their volatile values.
	piece pieceSum
	seen  seenLog
	all   []byte // the page so far
	// ov is how much of the map's page matched, v where it ends in the
	// page served: the same offsets until a volatile value changed its
	// length (see checkBlock).
	ov, v int
	// d is how many bytes longer the page served is than the map's
	// after the values checked so far, shifts where it changed, grew the
	// bytes the values gained in all.
	d      int
	shifts []shift
	grew   int
	// found is how many of the map's volatile values a check found the
	// end of (see checkBlock).
	found int
	// tol: the blocks may differ in volatile values (the map has them and
	// no edit reads one); grow: they may also change length.
	tol, grow bool
	ei        int  // the next event
	held      bool // what followed </body> was held when the page ended
	copy      bool // no edit can apply: verified blocks are copied through
	// tooLarge: the map was the Program's, but with these edits the
	// rewrite could reach its memory bound (see fits).
	tooLarge bool
	// fellAt is where the page stopped matching the map, or -1.
	fellAt int
	// replayed is what the Rewriter that took over read at once.
	replayed int
	stopped  bool
	// volatile counts the blocks that matched the map only once their
	// volatile values were left out.
	volatile int
	// Taking the map up again (see resync.go): seeking, the Rewriter
	// that took over may hand the page back; fed is what it was written
	// of all, feeds where its writes ended (for the tests), sk the next
	// of the map's sync points to try, out0 the output written before it
	// took over, extra how much longer the page served is than the map's
	// where it was taken up, tookUp how many times it was.
	seeking bool
	seekD   int // the shift of the map's bytes last found in the page served
	misses  int // sync points in a row with the map's bytes and another state
	lost    int // sync points in a row whose bytes were nowhere
	work    int // what looking for the map's bytes cost, in bytes (see seekBudget)
	fed     int
	feeds   []int
	sk      int
	out0    int
	extra   int
	tookUp  int
	upAt    int // where in the page it was last taken up
	// direct: no edit selects an element of the map's page, so the page
	// is the output while it matches; there is no sink, and the caller
	// takes all[taken:emit] (see Take).
	direct      bool
	taken, emit int
	// lastSeen is the last of the map's events that opens an element a
	// HideSeen edit selects (-1: none; -2: not looked for yet).
	lastSeen int
}

var splicerPool = sync.Pool{New: func() any { return new(Splicer) }}

// NewSplicer returns a writer that writes to w what
// p.NewRewriter(w, edits, opt) would, using m, the edit map of an
// earlier response for the same page. A map of another Program, or one
// with which the rewrite could reach its memory bound, is not used: the
// Splicer is then a Rewriter from the start (Used reports false).
func (p *Program) NewSplicer(w io.Writer, m *EditMap, edits []Edit, opt Options) *Splicer {
	s := splicerPool.Get().(*Splicer)
	s.prog, s.m, s.w, s.edits, s.opt = p, m, w, edits, opt
	s.all, s.ov, s.v, s.ei, s.held, s.copy, s.fellAt, s.replayed, s.stopped = s.all[:0], 0, 0, 0, false, false, -1, 0, false
	s.volatile, s.direct, s.taken, s.emit = 0, false, 0, 0
	s.seeking, s.seekD, s.misses, s.fed, s.feeds, s.sk, s.out0, s.extra, s.tookUp = false, 0, 0, 0, s.feeds[:0], 0, 0, 0, 0
	s.lost, s.work, s.upAt = 0, 0, 0
	s.d, s.shifts, s.grew, s.tol, s.grow, s.found = 0, s.shifts[:0], 0, false, false, 0
	s.cw = countWriter{w: w}
	s.seen = seenLog{under: opt.Seen, log: s.seen.log[:0]}
	s.tooLarge, s.lastSeen = false, -2
	if m == nil || !m.Of(p) || !s.fits(0) {
		s.tooLarge = m != nil && m.Of(p)
		s.full = p.NewRewriter(w, edits, opt)
		return s
	}
	s.tol = m.tol != nil && p.readsEdits(edits)
	s.grow = s.tol && s.fits(maxGrowth)
	if opt.Direct && !m.selectsFor(edits) {
		s.direct = true
		return s
	}
	sopt := opt
	if opt.Seen != nil {
		sopt.Seen = &s.seen
	}
	s.sink = p.NewRewriter(&s.cw, edits, sopt)
	s.sink.pageSrc = true   // src is always s.all[:v], at the page's offsets
	s.copy = s.sink.stopped // no edit's selector: the Rewriter copies the page through
	return s
}

// fits reports whether the rewrite of the page with s's edits surely
// stays within its memory bound, which the Splicer does not track: the
// open elements (as the map saw them), the input not written yet, held
// for list edits or after </body> (disjoint parts of the page), and per
// element an edit applies to, its rewritten tag and its item's id (three
// times its start tag, counted once for all the edits of its selector)
// and what each of its selector's edits writes; all of them for a page
// whose volatile values grew by up to grow bytes. Each edit counts the
// elements of its own selector: a page with a few hundred items and
// edits on several of their parts fits, where the product of all the
// edits by all their elements did not.
func (s *Splicer) fits(grow int) bool {
	limit := s.opt.MaxBuffer
	if limit <= 0 {
		limit = DefaultMaxBuffer
	}
	m := s.m
	perElement := 0
	for i := range s.edits {
		e := &s.edits[i]
		sel := e.Selector
		if sel < 0 || sel >= len(m.selected) {
			continue
		}
		n := int(m.selected[sel])
		perElement += n * (len(e.Content) + len(e.Attr) + 6*len(e.Value) + 48)
		first := true
		for j := range i {
			first = first && s.edits[j].Selector != sel
		}
		if first {
			perElement += 3*int(m.tagBytes[sel]) + 64*n
		}
		if perElement >= limit {
			return false
		}
	}
	// The values are disjoint: what they gain, tags gain once in all.
	return 2*m.fixed+2*(m.length+grow)+perElement+3*grow+4096 < limit
}

// maxGrowth bounds the bytes a page's volatile values may gain in all
// for a splice to follow them (see fits): request ids and times change
// length by a few bytes, and a page that grew more is rewritten.
const maxGrowth = 4 << 10

// shift is a volatile value whose length changed: after hi, the map's
// page is d bytes shorter than the page served.
type shift struct {
	lo, hi int32 // where the value is in the map's page
	d      int
}

// at returns where offset p of the map's page is in the page served:
// for an offset within a value that changed length, where that value
// starts.
func (s *Splicer) at(p int) int {
	if len(s.shifts) == 0 {
		return p // most pages: small enough to inline
	}
	return s.shifted(p)
}

func (s *Splicer) shifted(p int) int {
	sh := s.shifts
	i, j := 0, len(sh)
	for i < j { // the first shift that ends after p
		h := int(uint(i+j) >> 1)
		if int(sh[h].hi) <= p {
			i = h + 1
		} else {
			j = h
		}
	}
	d := 0
	if i > 0 {
		d = sh[i-1].d
	}
	if i < len(sh) && int(sh[i].lo) < p {
		return int(sh[i].lo) + d
	}
	return p + d
}

// Block checks' verdicts.
const (
	blockWait = iota // the page has not sent enough of the block yet
	blockOK
	blockBad
)

// checkBlock checks block j of the map's page against the page served,
// where the values before it moved it (by s.d), when it does not match
// byte for byte there (check tried that): it may differ in volatile
// values (see volatile.go), its bytes outside them the same, each value
// ending at its first quote (the tail before it included). A value that
// ends elsewhere than it did moves what follows it. A value that began
// in a block that matched byte for byte is looked at whole here: its
// bytes there were the map's, without a quote, but its end is here.
// With final set, the page has sent all it will.
func (s *Splicer) checkBlock(j int, final bool) int {
	m, all := s.m, s.all
	a, b := j*SpliceBlock, min((j+1)*SpliceBlock, m.length)
	short := blockWait // what not having the bytes means
	if final {
		short = blockBad
	}
	if len(all) < b+s.d && !final {
		// Wait for the block as far as it reaches without a change of
		// length in it: one whose values shrank is checked when more of
		// the page came, or at its end.
		return blockWait
	}
	// (check compared it byte for byte when nothing moved it.)
	if !s.tol {
		return blockBad
	}
	vol := m.vol
	d, grew, n0, found := s.d, s.grew, len(s.shifts), s.found
	verdict := func(v int) int { // the shifts found are kept only if it matched
		if v != blockOK {
			s.shifts = s.shifts[:n0]
		}
		return v
	}
	sum := &s.piece
	sum.reset()
	at := a
	for i := sort.Search(len(vol), func(i int) bool { return int(vol[i].hi()) > a }); i < len(vol) && int(vol[i].lo) < b; i++ {
		v := vol[i]
		lo := int(v.lo)
		if lo > at {
			if lo+d > len(all) {
				return verdict(short)
			}
			sum.add(all[at+d : lo+d])
		}
		if i >= s.found { // (else an earlier check found its end)
			found = i + 1
			from := lo + d
			lim := min(len(all), from+math.MaxUint16+int(v.tail)+1)
			q := bytes.IndexByte(all[from:lim], v.quote)
			switch {
			case q < 0 && lim == len(all):
				return verdict(short)
			case q < int(v.tail):
				return verdict(blockBad)
			}
			if len(m.words) > 0 && !s.sameWords(i, all[from:from+q]) {
				return verdict(blockBad)
			}
			if n := q - int(v.tail); n != int(v.n) {
				grew += max(0, n-int(v.n))
				if !s.grow || grew > maxGrowth {
					return verdict(blockBad)
				}
				d += n - int(v.n)
				s.shifts = append(s.shifts, shift{lo: v.lo, hi: v.hi(), d: d})
			}
		}
		at = max(at, int(v.hi()))
	}
	if at < b {
		if b+d > len(all) {
			return verdict(short)
		}
		sum.add(all[at+d : b+d])
	}
	if sum.sum() != m.tol[j] {
		return verdict(blockBad)
	}
	s.d, s.grew, s.found = d, grew, found
	s.volatile++
	return blockOK
}

// sameWords reports whether volatile value i of the map, v in the page
// served, holds what the matcher reads of it as it did: every value but
// a class list or an id does.
func (s *Splicer) sameWords(i int, v []byte) bool {
	ws := s.m.words
	k := sort.Search(len(ws), func(k int) bool { return int(ws[k].vol) >= i })
	if k == len(ws) || int(ws[k].vol) != i {
		return true
	}
	w := &ws[k]
	fp, ok := s.prog.wordsOf(v, w.id, w.quirks)
	return ok && fp == w.fp
}

// check checks the blocks of the page served that have come, or with
// final set all of them and the page's length; it reports false when one
// does not match.
func (s *Splicer) check(final bool) bool {
	m := s.m
	for s.ov < m.length {
		j := s.ov / SpliceBlock
		b := (j + 1) * SpliceBlock
		if b > m.length {
			if !final {
				break // the last block, when not whole, is checked at the end
			}
			b = m.length
		}
		// The block as it was, moved by the values before it that
		// changed length: most blocks. (One that starts within a value
		// that shrank may have no place of its own in the page served;
		// where it has one, its bytes there being the map's is only
		// more than checkBlock asks.)
		if d := s.d; s.ov+d >= 0 && len(s.all) >= b+d &&
			blockSum(s.all[s.ov+d:b+d]) == m.sums[j] {
			s.ov = b
			continue
		}
		switch s.checkBlock(j, final) {
		case blockWait:
			return true
		case blockBad:
			return false
		}
		s.ov = b
	}
	return !final || len(s.all) == m.length+s.d
}

// Direct reports whether the caller takes the page's bytes (Take): it
// asked for it (Options.Direct), and no edit selects an element of the
// map's page.
func (s *Splicer) Direct() bool { return s.direct || s.taken < s.emit }

// Pending returns how many bytes Take would return.
func (s *Splicer) Pending() int { return s.emit - s.taken }

// Take returns, in direct mode (see Direct), the page's bytes checked
// since the last Take: the output there, valid until Release. The caller
// writes them before anything the Splicer wrote to its writer since (a
// Rewriter's, once the page stopped matching).
func (s *Splicer) Take() []byte {
	p := s.all[s.taken:s.emit]
	s.taken = s.emit
	return p
}

// SeenDone reports whether the page's items are all recorded, as far as
// its edit map tells: the page so far matched the map, the map has no
// element a HideSeen edit selects further on, and every list is closed
// (a list records its items as it closes). A caller that must say what
// the page showed before its end (a cookie, in the headers) may say it
// from then on; should the rest of the page differ from the map, a list
// there still records its items (Recorded counts them).
func (s *Splicer) SeenDone() bool {
	if s.m == nil || s.full != nil || s.fellAt >= 0 {
		return false
	}
	if s.direct || s.copy {
		return true // no edit selects an element of the map's page
	}
	if s.lastSeen == -2 {
		s.lastSeen = -1
	last:
		for i := len(s.m.events) - 1; i >= 0; i-- {
			e := &s.m.events[i]
			if e.kind != evOpen {
				continue
			}
			for j := range s.edits {
				if s.edits[j].Op == HideSeen && s.m.selects(e.sel, s.edits[j].Selector) {
					s.lastSeen = i
					break last
				}
			}
		}
	}
	return s.ei > s.lastSeen && len(s.sink.regions) == 0
}

// Recorded returns how many items the page recorded so far (the calls
// to the SeenSet's Shown).
func (s *Splicer) Recorded() int { return s.seen.recorded }

// Volatile returns how many blocks of the page spliced although they
// differed from the map's page, in volatile values only.
func (s *Splicer) Volatile() int { return s.volatile }

// Used reports whether the map was used at all (even if the page then
// stopped matching it).
func (s *Splicer) Used() bool { return s.sink != nil || s.direct || s.fellAt >= 0 }

// TooLarge reports whether the map was not used because with the
// Splicer's edits the rewrite of its page could reach the memory bound
// (Options.MaxBuffer), which only a Rewriter keeps: the page is
// rewritten in full whatever it holds.
func (s *Splicer) TooLarge() bool { return s.tooLarge }

// FellBack returns the offset in the page served of the first block
// that did not match the map, from where the Rewriter took over, or -1.
func (s *Splicer) FellBack() int { return s.fellAt }

// Spare returns n bytes of room at the end of the page the Splicer
// keeps, for the caller to read the page's next bytes into and Write
// them from there, which then keeps them without a copy. It returns nil
// once the page is rewritten in full: the caller reads into a buffer of
// its own.
func (s *Splicer) Spare(n int) []byte {
	if s.full != nil && !s.seeking {
		return nil
	}
	if cap(s.all)-len(s.all) < n {
		// Room for the whole page at once, and the read that finds its end.
		s.all = slices.Grow(s.all, max(n, s.m.length+1-len(s.all)))
	}
	return s.all[len(s.all) : len(s.all)+n]
}

// Write splices p, or rewrites it once the page has stopped matching the
// map. It returns len(p), or the underlying writer's error. p may be the
// start of the room Spare returned.
func (s *Splicer) Write(p []byte) (int, error) {
	if s.full != nil && !s.seeking {
		return s.full.Write(p)
	}
	if k := len(s.all); len(p) > 0 && len(p) <= cap(s.all)-k && &s.all[:k+1][k] == &p[0] {
		s.all = s.all[:k+len(p)] // read into Spare's room: already kept
	} else {
		s.all = append(s.all, p...)
	}
	for {
		if s.full != nil {
			s.seek(false)
			if s.full != nil {
				return len(p), s.full.err
			}
		}
		limit := s.m.length + s.extra
		if s.grow {
			limit += maxGrowth
		}
		if len(s.all) <= limit && s.check(false) {
			break
		}
		s.fallBack()
	}
	s.advance(false)
	if err := s.sinkErr(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close finishes the page (see Rewriter.Close).
func (s *Splicer) Close() error {
	for {
		if s.full != nil {
			s.seek(true)
			if s.full != nil {
				s.stopSeeking()
				return s.full.Close()
			}
		}
		if s.check(true) {
			break
		}
		s.fallBack()
	}
	s.advance(true)
	if s.tookUp > 0 {
		s.m.resumes.saved.Add(int64(len(s.all) - s.upAt))
	}
	if s.direct {
		return nil
	}
	r := s.sink
	if !s.copy && !r.stopped {
		if r.stack[0].region != 0 {
			r.closeRegion()
		}
		if s.held {
			r.raw(r.afterBody)
		}
	}
	r.holding, r.afterBody = false, r.afterBody[:0]
	r.stopped = true
	return r.err
}

// Stop gives up rewriting (see Rewriter.Stop): the Rewriter takes over,
// and stops.
func (s *Splicer) Stop() error {
	s.stopped = true
	if s.full == nil {
		s.fallBack()
	}
	s.stopSeeking()
	return s.full.Stop()
}

// AppliedCount is Rewriter.AppliedCount: so far, as far as the page has
// been checked.
func (s *Splicer) AppliedCount(i int) int {
	switch {
	case s.full != nil:
		return s.full.AppliedCount(i)
	case s.direct:
		return 0
	}
	return s.sink.AppliedCount(i)
}

// Applied is Rewriter.Applied.
func (s *Splicer) Applied() []int {
	switch {
	case s.full != nil:
		return s.full.Applied()
	case s.direct:
		return make([]int, len(s.edits))
	}
	return s.sink.Applied()
}

// Refused is Rewriter.Refused.
func (s *Splicer) Refused() []int {
	switch {
	case s.full != nil:
		return s.full.Refused()
	case s.direct:
		return make([]int, len(s.edits))
	}
	return s.sink.Refused()
}

// RefusedTotal is Rewriter.RefusedTotal: so far, as far as the page has
// been checked.
func (s *Splicer) RefusedTotal() int {
	switch {
	case s.full != nil:
		return s.full.RefusedTotal()
	case s.direct:
		return 0
	}
	return s.sink.RefusedTotal()
}

// Overflowed is Rewriter.Overflowed.
func (s *Splicer) Overflowed() bool {
	switch {
	case s.full != nil:
		return s.full.Overflowed()
	case s.direct:
		return false
	}
	return s.sink.Overflowed()
}

// Release returns s's buffers to a pool. s must not be used after.
func (s *Splicer) Release() {
	if s.sink != nil {
		s.sink.Release()
	}
	if s.full != nil {
		s.full.Release()
	}
	s.sink, s.full, s.prog, s.m, s.w, s.edits, s.opt = nil, nil, nil, nil, nil, nil, Options{}
	s.cw, s.skip, s.seen.under = countWriter{}, skipWriter{}, nil
	if cap(s.all) > 4*DefaultMaxBuffer || cap(s.seen.log) > 1<<16 {
		return
	}
	splicerPool.Put(s)
}

func (s *Splicer) sinkErr() error {
	switch {
	case s.full != nil:
		return s.full.err
	case s.direct:
		return nil
	}
	return s.sink.err
}

// advance takes the page as matching the map up to s.ov and replays
// the events the rewrite decided with what it had read of it then; the
// page's end (final) lets the last ones go.
func (s *Splicer) advance(final bool) {
	s.advanceTo(s.ov, s.safe(final), final)
}

// advanceTo takes the page as matching the map up to upTo (s.ov, or a
// pause point in the block after it), and writes no further than safe.
func (s *Splicer) advanceTo(upTo, safe int, final bool) {
	v := s.at(upTo)
	s.v = v
	if s.direct {
		s.emit = max(s.emit, s.at(safe))
		return
	}
	r := s.sink
	if s.copy {
		if r.mark < v {
			r.raw(s.all[r.mark:v])
			r.mark = v
		}
		return
	}
	r.src = s.all[:v]
	ev := s.m.events
	for s.ei < len(ev) && !r.stopped && r.err == nil {
		e := &ev[s.ei]
		if e.ready == readyFinal && !final || e.ready != readyFinal && int(e.ready) > upTo {
			break
		}
		s.event(e)
		s.ei++
	}
	to := safe
	if s.ei < len(ev) && int(ev[s.ei].lt) < to {
		to = int(ev[s.ei].lt)
	}
	r.pass(s.at(to))
}

// Pause is for when the origin may be pausing (a read came back short):
// when the page so far ends where the map's origin paused (see
// pausePoint), it checks the block's bytes up to there and writes what
// a Rewriter would have written with them, so that the visitor has it
// while the origin waits, rather than when the block is whole. It
// reports whether the Splicer holds no more of the page than a Rewriter
// would: it wrote so, the page so far is checked whole, or a Rewriter
// took the page over (and is not looking for the map's bytes further on,
// which holds what it has not read: see resync.go).
func (s *Splicer) Pause() bool {
	if s.full != nil || s.m == nil {
		return s.full != nil && !s.seeking
	}
	m, got := s.m, len(s.all)-s.d // the page so far, at the map's offsets
	if got == s.ov {
		return true
	}
	i := sort.Search(len(m.pauses), func(i int) bool { return int(m.pauses[i].at) >= got })
	if i == len(m.pauses) {
		return false
	}
	p := m.pauses[i]
	if int(p.at) != got || int(p.at) <= s.ov || int(p.at) >= s.ov+SpliceBlock || s.ov+s.d < 0 {
		return false
	}
	if blockSum(s.all[s.ov+s.d:]) != p.sum {
		return false // the page differs (or a volatile value did): held, and checked whole
	}
	s.advanceTo(int(p.at), int(p.cut), false)
	return true
}

// safe returns how much of the map's page, the page served matching it
// up to s.ov, can be written as the map's page was: up to the construct
// unfinished at s.ov (see EditMap.cuts), or all of it at the page's end.
func (s *Splicer) safe(final bool) int {
	v := s.ov
	if final {
		return v
	}
	if k := v/SpliceBlock - 1; k >= 0 && k < len(s.m.cuts) {
		return min(v, int(s.m.cuts[k]))
	}
	return 0
}

// mapCandidates appends to m, in order, the edits whose selectors the
// map's selectors at sel (an element's) hold, with many edits: from the
// selectors rather than by testing each edit.
func (s *Splicer) mapCandidates(sel int32, m []int32) []int32 {
	r := s.sink
	any := false
	for w, b := range s.m.sels[sel : int(sel)+s.m.selWords] {
		for ; b != 0; b &= b - 1 {
			x := w*64 + bits.TrailingZeros64(b)
			if x >= len(r.selEdit) {
				break
			}
			for i := r.selEdit[x]; i != 0; i = r.editNext[i-1] {
				r.cand[(i-1)>>6] |= 1 << ((i - 1) & 63)
				any = true
			}
		}
	}
	if !any {
		return m
	}
	return r.takeCandidates(m, -1)
}

// event replays e into the sink, at its offsets in the page served.
func (s *Splicer) event(e *event) {
	r := s.sink
	d := int(e.d)
	lt, end := s.at(int(e.lt)), s.at(int(e.end))
	switch e.kind {
	case evOpen:
		if r.skip >= 0 {
			return // content dropped: nothing in it is matched
		}
		for len(r.stack) <= d {
			r.stack = append(r.stack, entry{})
		}
		r.stack = r.stack[:d+1]
		r.stack[d] = entry{}
		if e.pre {
			r.stack[d].tag = tagPre // see applyMatched's Prepend
		}
		r.tag = s.all[lt:end]
		r.nameEnd, _ = scanName(r.tag, 1)
		r.attrsRead = false
		m := r.matched[:0]
		if r.many {
			m = s.mapCandidates(e.sel, m)
		} else {
			for i := range r.edits {
				if !r.badEdit[i] && s.m.selects(e.sel, r.edits[i].Selector) && r.admit(i) {
					m = append(m, int32(i))
				}
			}
		}
		r.matched = m
		r.applyMatched(d, lt, end, e.flag)
		r.tag = nil
	case evClose:
		if !e.flag {
			r.leftHere(int(e.lt))
		}
		r.wroteEnd = false
		if d >= len(r.stack) {
			// (An element whose start no selector may select: only its
			// kinds count, for the ends after it.)
			if !e.flag {
				r.leftAll |= uint32(e.sel>>8) & 0xff
			}
			return
		}
		x := &r.stack[d]
		if x.act != 0 || x.region != 0 || x.item != 0 || r.skip == d {
			if !e.flag {
				x.tag, x.ns = uint16(e.sel&0xff), nsHTML // what its end tag is, should finish write it
				if b := endBlocks(x); b != 0 {
					r.endBlocked = (uint32(e.sel)>>16|r.leftAll)&b != 0
				}
			}
			r.finish(d, lt, end, e.flag)
			r.endBlocked = false
		}
		if !e.flag && !r.wroteEnd {
			r.leftAll |= uint32(e.sel>>8) & 0xff
		}
		r.stack = r.stack[:d]
	case evImplied:
		r.noteImplied(lt, uint16(e.sel), d)
	case evHold:
		r.holdAfterBody(lt)
	case evUnhold:
		r.unhold(lt)
	case evEnd:
		r.pass(lt)
		s.held = r.holding
		r.holding = false
	}
}

// fallBack hands the page over to a Rewriter: it reads the page so far
// again, with the SeenSet's answers so far replayed, and its output
// starts where the Splicer's stopped.
func (s *Splicer) fallBack() {
	if s.fellAt < 0 {
		// (Not s.v, where the last advance left the splice: the blocks
		// checked since may be a whole read further on.)
		s.fellAt = s.at(s.ov)
	}
	opt := s.opt
	if opt.Seen != nil {
		s.seen.replay, s.seen.pos = true, 0
		opt.Seen = &s.seen
	}
	skip := s.cw.n
	if s.direct {
		skip = s.emit // what the caller takes is the output up to there
	}
	s.out0 = skip
	s.skip = skipWriter{w: s.w, skip: skip}
	s.full = s.prog.NewRewriter(&s.skip, s.edits, opt)
	if s.sink != nil {
		s.sink.Release()
		s.sink = nil
	}
	s.replayed = len(s.all)
	s.fed, s.feeds = 0, s.feeds[:0]
	// The sync points past the block that did not match.
	s.sk = sort.Search(len(s.m.syncs), func(k int) bool { return int(s.m.syncs[k].q) >= s.ov })
	if s.tookUp > 0 {
		s.m.resumes.spent.Add(int64(s.upAt))
	}
	s.seeking = s.m.syncs != nil && !s.stopped && s.tookUp < maxTakeUps && !s.full.stopped && s.sk < len(s.m.syncs) && s.m.worthSeeking()
	if !s.seeking {
		s.feedTo(len(s.all))
		return
	}
	s.full.syncing = true
	s.seekD, s.misses, s.lost = s.d, 0, 0
}

// countWriter counts what it writes.
type countWriter struct {
	w io.Writer
	n int
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// skipWriter drops the first skip bytes written to it: the Splicer wrote
// them already. n counts those it passed on.
type skipWriter struct {
	w       io.Writer
	skip, n int
}

func (k *skipWriter) Write(p []byte) (int, error) {
	if k.skip >= len(p) {
		k.skip -= len(p)
		return len(p), nil
	}
	n := len(p)
	p = p[k.skip:]
	k.skip = 0
	m, err := k.w.Write(p)
	k.n += m
	return n, err
}

// seenLog passes a SeenSet's calls on and logs the answers, so that a
// Rewriter reading the page again gets the same answers (and does not
// record twice) for the calls the Splicer made.
type seenLog struct {
	under    SeenSet
	log      []int32 // Recency's answers; -1 for a Shown
	pos      int
	replay   bool
	recorded int // Shown calls passed on
}

func (l *seenLog) Recency(id string) int {
	if l.replay && l.pos < len(l.log) {
		l.pos++
		return int(l.log[l.pos-1])
	}
	// Past the answers logged, a Rewriter that took over asks anew, and
	// logs: should it hand the page back to the map and the page then
	// stop matching again, the next one replays its answers too.
	l.replay = false
	v := l.under.Recency(id)
	l.log = append(l.log, int32(v))
	return v
}

// Rank is logged as Recency is: a Rewriter reading the page again asks
// in the same order. It is asked only when the set ranks (seenRank).
func (l *seenLog) Rank(id string) int {
	if l.replay && l.pos < len(l.log) {
		l.pos++
		return int(l.log[l.pos-1])
	}
	l.replay = false
	v := l.under.(SeenRanker).Rank(id)
	l.log = append(l.log, int32(v))
	return v
}

// Recencies is Recency for each id in turn: the answers logged first,
// then the set's, in one call when it answers for a list (SeenLister).
func (l *seenLog) Recencies(ids []string, out []int32) {
	i := 0
	for ; i < len(ids) && l.replay && l.pos < len(l.log); i++ {
		out[i] = l.log[l.pos]
		l.pos++
	}
	if i == len(ids) {
		return
	}
	l.replay = false
	if b, ok := l.under.(SeenLister); ok {
		b.Recencies(ids[i:], out[i:])
	} else {
		for j := i; j < len(ids); j++ {
			out[j] = int32(l.under.Recency(ids[j]))
		}
	}
	l.log = append(l.log, out[i:len(ids)]...)
}

// ShownAll is Shown for each id in turn.
func (l *seenLog) ShownAll(ids []string) {
	i := 0
	for ; i < len(ids) && l.replay && l.pos < len(l.log); i++ {
		l.pos++
	}
	if i == len(ids) {
		return
	}
	l.replay = false
	rest := ids[i:]
	if b, ok := l.under.(SeenLister); ok {
		b.ShownAll(rest)
	} else {
		for _, id := range rest {
			l.under.Shown(id)
		}
	}
	l.recorded += len(rest)
	for range rest {
		l.log = append(l.log, -1)
	}
}

func (l *seenLog) Shown(id string) {
	if l.replay && l.pos < len(l.log) {
		l.pos++
		return
	}
	l.replay = false
	l.under.Shown(id)
	l.recorded++
	l.log = append(l.log, -1)
}
