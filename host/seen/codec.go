package seen

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/bits-and-blooms/bloom/v3"
)

// formatVersion is the first byte of an encoded state. A state with
// another one is dropped as DroppedOldFormat, so a change of encoding costs
// visitors their state once instead of misreading it.
const formatVersion = 1

// maxSkew is how far in the future a generation may start: proxies' clocks
// differ a little; a state further ahead was not written by a sane clock.
const maxSkew = 5 * 60

// The encoding of a state (all integers unsigned varints unless said):
//
//	version    1 byte (formatVersion)
//	tag        4 bytes: the layout's tag (sizes and salt)
//	curStart   the current generation's start, Unix seconds
//	nc         1 byte: the current generation's levels stored, 0..MaxCount
//	np         1 byte: the previous generation's levels stored, 0 = none
//	prevAge    curStart - the previous generation's start; only if np > 0
//	filters    nc filters of the current generation from level 0 up, then
//	           np of the previous one
//
// A filter is its number of set bits n, then, if n > 0, the gaps between
// consecutive set bits (the first from -1) Rice-coded with the parameter
// riceParam(m, n), least significant bit first, padded with zero bits to a
// byte. The cookie store appends a MAC; Redis stores it as it is.

// snapshot is a Set's state with its filters encoded, taken under the
// Set's lock so that the encoding can be assembled, and degraded, after.
type snapshot struct {
	curStart, prevStart int64
	cur, prev           [][]byte // encoded filters, levels in use only
}

func (s *Set) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := snapshot{curStart: s.cur.start, prevStart: s.prev.start}
	for k := range s.cur.used() {
		sn.cur = append(sn.cur, appendFilter(nil, s.cur.levels[k], s.l.bits[k]))
	}
	if s.hasPrev {
		for k := range s.prev.used() {
			sn.prev = append(sn.prev, appendFilter(nil, s.prev.levels[k], s.l.bits[k]))
		}
	}
	return sn
}

// size is the length of assemble(nil, sn, nc, np), without building it.
func (sn *snapshot) size(nc, np int) int {
	n := 1 + 4 + uvarintLen(uint64(max(sn.curStart, 0))) + 2
	if np > 0 {
		n += uvarintLen(uint64(max(sn.curStart-sn.prevStart, 0)))
	}
	for _, f := range sn.cur[:nc] {
		n += len(f)
	}
	for _, f := range sn.prev[:np] {
		n += len(f)
	}
	return n
}

// assemble appends the encoding of the first nc levels of the current
// generation and the first np of the previous one.
func (l *layout) assemble(b []byte, sn *snapshot, nc, np int) []byte {
	b = append(b, formatVersion)
	b = append(b, l.tag[:]...)
	b = binary.AppendUvarint(b, uint64(max(sn.curStart, 0)))
	b = append(b, byte(nc), byte(np))
	if np > 0 {
		b = binary.AppendUvarint(b, uint64(max(sn.curStart-sn.prevStart, 0)))
	}
	for _, f := range sn.cur[:nc] {
		b = append(b, f...)
	}
	for _, f := range sn.prev[:np] {
		b = append(b, f...)
	}
	return b
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// encode is the whole state.
func (s *Set) encode() []byte {
	sn := s.snapshot()
	return s.l.assemble(make([]byte, 0, sn.size(len(sn.cur), len(sn.prev))), &sn, len(sn.cur), len(sn.prev))
}

// decode reads an encoded state as of now. It returns nil and a Dropped
// reason for a state it cannot use; it never panics and allocates no more
// than the layout's filters.
func (l *layout) decode(b []byte, now int64) (*Set, string) {
	if len(b) < 1 {
		return nil, DroppedMalformed
	}
	if b[0] != formatVersion {
		return nil, DroppedOldFormat
	}
	if len(b) < 5 {
		return nil, DroppedMalformed
	}
	if !bytes.Equal(b[1:5], l.tag[:]) {
		return nil, DroppedOldFormat
	}
	b = b[5:]
	curStart, n := binary.Uvarint(b)
	if n <= 0 || curStart > uint64(now+maxSkew) || len(b) < n+2 {
		return nil, DroppedMalformed
	}
	b = b[n:]
	nc, np := int(b[0]), int(b[1])
	b = b[2:]
	if nc > l.maxCount || np > l.maxCount {
		return nil, DroppedMalformed
	}
	s := l.newSet(int64(curStart))
	if np > 0 {
		age, n := binary.Uvarint(b)
		if n <= 0 || age > curStart {
			return nil, DroppedMalformed
		}
		b = b[n:]
		s.hasPrev = true
		s.prev = generation{start: int64(curStart - age), levels: make([]*bloom.BloomFilter, l.maxCount)}
	}
	var ok bool
	for k := range nc {
		if s.cur.levels[k], b, ok = decodeFilter(b, l.bits[k]); !ok {
			return nil, DroppedMalformed
		}
	}
	for k := range np {
		if s.prev.levels[k], b, ok = decodeFilter(b, l.bits[k]); !ok {
			return nil, DroppedMalformed
		}
	}
	if len(b) != 0 {
		return nil, DroppedMalformed
	}
	if s.hasPrev && s.prev.used() == 0 {
		s.hasPrev, s.prev = false, generation{}
	}
	if !l.age(s, now) {
		return nil, DroppedExpired
	}
	return s, ""
}

// age brings a loaded state to now: it reports false when all of it is
// older than the window; otherwise it starts a new generation when the
// current one is half a window old, and forgets a previous generation that
// started a window ago.
func (l *layout) age(s *Set, now int64) bool {
	switch {
	case now-s.cur.start >= l.window:
		return false
	case now-s.cur.start >= l.half:
		s.prev, s.hasPrev = s.cur, s.cur.used() > 0
		s.cur = generation{start: now, levels: make([]*bloom.BloomFilter, l.maxCount)}
	case s.hasPrev && now-s.prev.start >= l.window:
		s.prev, s.hasPrev = generation{}, false
	}
	return true
}

// riceParam is the Rice parameter for n set bits among m: about log2 of
// the median gap, ln 2 · m/n, in integers so that every platform agrees.
func riceParam(m uint, n uint64) uint {
	q := uint64(m) * 693 / (1000 * n)
	if q == 0 {
		return 0
	}
	return uint(bits.Len64(q) - 1)
}

// appendFilter appends the encoding of f, which has m bits; nil is empty.
func appendFilter(b []byte, f *bloom.BloomFilter, m uint) []byte {
	if f == nil {
		return append(b, 0)
	}
	words := f.BitSet().Words()
	n := f.BitSet().Count()
	b = binary.AppendUvarint(b, uint64(n))
	if n == 0 {
		return b
	}
	r := riceParam(m, uint64(n))
	w := bitWriter{b: b}
	next := uint64(0) // the lowest position the next set bit may have
	for i, word := range words {
		for word != 0 {
			p := uint64(i)*64 + uint64(bits.TrailingZeros64(word))
			gap := p - next
			w.unary(gap >> r)
			w.put(gap&(1<<r-1), r)
			next = p + 1
			word &= word - 1
		}
	}
	return w.finish()
}

// decodeFilter reads a filter of m bits from the start of b and returns it
// (nil when empty) and the rest of b.
func decodeFilter(b []byte, m uint) (*bloom.BloomFilter, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(m) {
		return nil, nil, false
	}
	b = b[k:]
	if n == 0 {
		return nil, b, true
	}
	r := riceParam(m, n)
	if uint64(len(b))*8 < n*uint64(r+1) {
		return nil, nil, false // too short for n gaps: refuse before allocating
	}
	words := make([]uint64, m/64)
	rd := bitReader{b: b}
	next := uint64(0)
	for range n {
		if next >= uint64(m) {
			return nil, nil, false
		}
		q, ok := rd.unary((uint64(m) - 1 - next) >> r)
		if !ok {
			return nil, nil, false
		}
		low, ok := rd.get(r)
		if !ok {
			return nil, nil, false
		}
		p := next + (q<<r | low)
		if p >= uint64(m) {
			return nil, nil, false
		}
		words[p>>6] |= 1 << (p & 63)
		next = p + 1
	}
	// The rest of the last byte is padding, which must be zero so that one
	// state has one encoding.
	pad := rd.n % 8
	if rd.acc&(1<<pad-1) != 0 {
		return nil, nil, false
	}
	used := rd.i - int(rd.n/8)
	return bloom.FromWithM(words, m, 1), b[used:], true
}

// bitWriter appends bits to b, least significant first.
type bitWriter struct {
	b   []byte
	acc uint64
	n   uint // bits in acc, < 8 between calls
}

// put writes the k low bits of v; k <= 56.
func (w *bitWriter) put(v uint64, k uint) {
	w.acc |= v << w.n
	w.n += k
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// unary writes q one bits and a zero bit.
func (w *bitWriter) unary(q uint64) {
	for q >= 32 {
		w.put(1<<32-1, 32)
		q -= 32
	}
	w.put(1<<q-1, uint(q)+1)
}

func (w *bitWriter) finish() []byte {
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
	}
	return w.b
}

// bitReader reads bits from b, least significant first.
type bitReader struct {
	b   []byte
	i   int // next byte of b to load
	acc uint64
	n   uint // bits in acc; the bits above them are zero
}

func (r *bitReader) fill() {
	for r.n <= 56 && r.i < len(r.b) {
		r.acc |= uint64(r.b[r.i]) << r.n
		r.i++
		r.n += 8
	}
}

// get reads k bits; k <= 56.
func (r *bitReader) get(k uint) (uint64, bool) {
	if r.n < k {
		r.fill()
		if r.n < k {
			return 0, false
		}
	}
	v := r.acc & (1<<k - 1)
	r.acc >>= k
	r.n -= k
	return v, true
}

// unary reads one bits up to a zero bit and returns how many there were,
// failing past limit.
func (r *bitReader) unary(limit uint64) (uint64, bool) {
	var q uint64
	for {
		if r.n == 0 {
			r.fill()
			if r.n == 0 {
				return 0, false
			}
		}
		// The bits above n are zero, so the run of ones stops at n at most.
		ones := uint(bits.TrailingZeros64(^r.acc))
		if ones > r.n {
			ones = r.n
		}
		q += uint64(ones)
		if q > limit {
			return 0, false
		}
		if ones < r.n {
			r.acc >>= ones + 1
			r.n -= ones + 1
			return q, true
		}
		r.acc, r.n = 0, 0
	}
}
