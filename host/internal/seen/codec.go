package seen

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// formatVersion is the first byte of an encoded state (2: SipHash-2-4 item
// digests placed without further hashing; 1 used SHA-256). A state with
// another one is dropped as DroppedOldFormat, so a change of encoding costs
// visitors their state once instead of misreading it.
const formatVersion = 2

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
// Its encodings live in one buffer from a pool: release returns it.
type snapshot struct {
	curStart, prevStart int64
	nc, np              int // levels in use
	cur, prev           [maxLevels][]byte
	buf                 *[]byte
}

// snapshotBufs hold the encoded filters of snapshots.
var snapshotBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (s *Set) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := snapshot{curStart: s.cur.start, prevStart: s.prev.start, buf: snapshotBufs.Get().(*[]byte)}
	b := (*sn.buf)[:0]
	var ends [2 * maxLevels]int
	sn.nc = s.cur.used()
	for k := range sn.nc {
		b = s.cur.appendLevel(b, k)
		ends[k] = len(b)
	}
	if s.hasPrev {
		sn.np = s.prev.used()
		for k := range sn.np {
			b = s.prev.appendLevel(b, k)
			ends[sn.nc+k] = len(b)
		}
	}
	start := 0
	for k := range sn.nc {
		sn.cur[k], start = b[start:ends[k]], ends[k]
	}
	for k := range sn.np {
		sn.prev[k], start = b[start:ends[sn.nc+k]], ends[sn.nc+k]
	}
	*sn.buf = b
	return sn
}

// thinned is the snapshot of a state that keeps, of its current
// generation's first level, this request's items and as many of the
// others as fits (whether an encoded state of n bytes fits) allows:
// those whose bits follow a pivot that moves with the clock, which,
// digests being uniformly random, are a random share of them. The counts and the previous generation
// are gone. forgot is how many set bits were dropped (an item each, but
// for collisions). With no room for more than this request's items, it
// keeps them alone.
func (s *Set) thinned(fits func(n int) bool) (sn snapshot, forgot int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.l.bits[0]
	var pos []uint32
	if f := s.cur.levels[0]; f != nil {
		pos = f.pos
	}
	mine := make([]uint32, 0, len(s.shown))
	for _, d := range s.shown {
		mine = append(mine, uint32(location(d, m)))
	}
	slices.Sort(mine)
	mine = slices.Compact(mine)
	sn = snapshot{curStart: s.cur.start, nc: 1, buf: snapshotBufs.Get().(*[]byte)}
	// The bits kept are the j that follow a pivot that moves with the
	// clock, around the filter: each save forgets another share of the
	// items, not always those whose bits lie highest.
	pivot := uint32(location(digest(uint64(s.l.nowSec())*0x9E3779B97F4A7C15), m))
	start, _ := slices.BinarySearch(pos, pivot)
	ring := append(append(make([]uint32, 0, len(pos)), pos[start:]...), pos[:start]...)
	var kept, some []uint32
	build := func(j int) int {
		some = append(some[:0], ring[:j]...)
		slices.Sort(some)
		kept = mergeSorted(kept[:0], some, mine)
		*sn.buf = appendPositions((*sn.buf)[:0], kept, m)
		sn.cur[0] = *sn.buf
		return sn.size(1, 0)
	}
	// The largest j that fits: j = 0, this request's items alone, fits
	// by the store's record limit.
	lo, hi := 0, len(pos)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(build(mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	build(lo)
	return sn, len(pos) - countIn(pos, kept)
}

// mergeSorted appends to dst the union of two increasing lists, in order.
func mergeSorted(dst, a, b []uint32) []uint32 {
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			dst, a = append(dst, a[0]), a[1:]
		case b[0] < a[0]:
			dst, b = append(dst, b[0]), b[1:]
		default:
			dst, a, b = append(dst, a[0]), a[1:], b[1:]
		}
	}
	return append(append(dst, a...), b...)
}

// countIn is how many items of the increasing list a the increasing
// list b holds.
func countIn(a, b []uint32) int {
	n := 0
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); ok {
			n++
		}
	}
	return n
}

// release returns the snapshot's buffer; the snapshot must not be used
// after.
func (sn *snapshot) release() {
	if sn.buf != nil && cap(*sn.buf) <= 64<<10 {
		snapshotBufs.Put(sn.buf)
	}
	sn.buf = nil
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

// EncodedLen is the bytes of the set's whole state as a RedisStore
// stores it (a cookie adds a 16-byte MAC and base64, and may degrade a
// state to fit); for capacity planning.
func (s *Set) EncodedLen() int { return len(s.encode()) }

// encode is the whole state.
func (s *Set) encode() []byte {
	sn := s.snapshot()
	defer sn.release()
	return s.l.assemble(make([]byte, 0, sn.size(sn.nc, sn.np)), &sn, sn.nc, sn.np)
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
		s.prev = l.generation(int64(curStart - age))
	}
	var ok bool
	for k := range nc {
		if s.cur.levels[k], b, ok = l.readFilter(b, k); !ok {
			s.Release()
			return nil, DroppedMalformed
		}
	}
	for k := range np {
		if s.prev.levels[k], b, ok = l.readFilter(b, k); !ok {
			s.Release()
			return nil, DroppedMalformed
		}
	}
	if len(b) != 0 {
		s.Release()
		return nil, DroppedMalformed
	}
	if s.hasPrev && s.prev.used() == 0 {
		s.hasPrev, s.prev = false, generation{}
	}
	if !l.age(s, now) {
		s.Release()
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
		l.putFilters(&s.prev)
		s.prev, s.hasPrev = s.cur, s.cur.used() > 0
		s.cur = l.generation(now)
	case s.hasPrev && now-s.prev.start >= l.window:
		l.putFilters(&s.prev)
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
	var pos []uint32
	for i, ok := f.BitSet().NextSet(0); ok; i, ok = f.BitSet().NextSet(i + 1) {
		pos = append(pos, uint32(i))
	}
	return appendPositions(b, pos, m)
}

// appendPositions appends the encoding of a filter of m bits whose set
// bits are pos, in increasing order. Its codes are written by riceRunOut
// into room made first, so that its bit buffer stays in registers; a
// quotient too long for one write goes through a bitWriter.
func appendPositions(b []byte, pos []uint32, m uint) []byte {
	n := len(pos)
	b = binary.AppendUvarint(b, uint64(n))
	if n == 0 {
		return b
	}
	r := riceParam(m, uint64(n))
	// The codes' bits: a stop bit and r low bits each, and quotients
	// that sum to at most the last position's >> r (the gaps sum to it).
	// riceRunOut writes whole words within them; finish and the
	// bitWriter append the rest.
	size := (n*int(r+1)+int((uint64(pos[n-1])+1)>>r))/8 + 8
	o := len(b)
	b = slices.Grow(b, size)
	b = b[:cap(b)]
	var acc uint64 // bits not yet written, the first at bit 0
	var nb uint    // how many; < 64 between codes
	next := uint64(0)
	for k := 0; k < n; k++ {
		var done int
		done, o, acc, nb, next = riceRunOut(b, o, pos[k:], r, acc, nb, next)
		if k += done; k == n {
			break
		}
		// A quotient too long for one write (a sparse filter's outlier):
		// the slow writer.
		gap := uint64(pos[k]) - next
		next = uint64(pos[k]) + 1
		w := bitWriter{b: b[:o], acc: acc, n: nb}
		w.unary(gap >> r)
		w.put(gap&(1<<r-1), r)
		o, acc, nb = len(w.b), w.acc, w.n
		b = w.b[:cap(w.b)]
	}
	w := bitWriter{b: b[:o], acc: acc, n: nb}
	return w.finish()
}

// riceRunOut writes the codes of pos's gaps into b from o, in whole
// words, until one whose quotient is too long for one write, and returns
// how many it wrote and the writer's state. Like riceRun it is apart and
// makes no call, and b has the room (see appendPositions).
func riceRunOut(b []byte, o int, pos []uint32, r uint, acc uint64, nb uint, next uint64) (int, int, uint64, uint, uint64) {
	r &= 63
	lowMask := uint64(1)<<r - 1
	for k, p := range pos {
		gap := uint64(p) - next
		q := uint(gap >> r)
		if q > 56 || q+1+r > 56 {
			return k, o, acc, nb, next
		}
		next = uint64(p) + 1
		// The quotient's ones, its stop bit and the low bits in one
		// write of c <= 56 bits.
		v, c := 1<<q-1|(gap&lowMask)<<((q+1)&63), q+1+r
		acc |= v << (nb & 63)
		if nb+c < 64 {
			nb += c
			continue
		}
		binary.LittleEndian.PutUint64(b[o:], acc)
		o += 8
		acc = v >> ((64 - nb) & 63) // 64-nb >= 8, since c <= 56
		nb = nb + c - 64
	}
	return len(pos), o, acc, nb, next
}

// decodeFilter reads a filter of m bits from the start of b and returns it
// (nil when empty) and the rest of b.
func decodeFilter(b []byte, m uint) (*bloom.BloomFilter, []byte, bool) {
	pos, rest, ok := readPositions(b, m, nil)
	if !ok || len(pos) == 0 {
		return nil, rest, ok
	}
	f := bloom.New(m, 1)
	for _, p := range pos {
		f.BitSet().Set(uint(p))
	}
	return f, rest, true
}

// readFilter reads a filter of level k from the start of b, into a filter
// from the level's pool, and returns it (nil when empty) and the rest of
// b.
func (l *layout) readFilter(b []byte, k int) (*filter, []byte, bool) {
	f := l.newFilter(k)
	pos, rest, ok := readPositions(b, l.bits[k], f.pos[:0])
	f.pos = pos
	if !ok || len(pos) == 0 {
		f.pos = f.pos[:0]
		l.filters[k].Put(f)
		return nil, rest, ok
	}
	if len(pos) > sparseSearch {
		f.fill()
	}
	return f, rest, true
}

// readPositions reads the encoding of a filter of m bits from the start of
// b, appends the positions of its set bits to pos, and returns them and
// the rest of b. Like appendPositions, it keeps its bit buffer in locals,
// and falls back to a bitReader only for a code longer than what is
// buffered.
func readPositions(b []byte, m uint, pos []uint32) ([]uint32, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(m) {
		return pos, nil, false
	}
	b = b[k:]
	if n == 0 {
		return pos, b, true
	}
	r := riceParam(m, n)
	if uint64(len(b))*8 < n*uint64(r+1) {
		return pos, nil, false // too short for n gaps: refuse before allocating
	}
	pos = slices.Grow(pos, int(n))
	out := pos[len(pos) : len(pos)+int(n)]
	// acc buffers the stream's next bits, the next at bit 0: nb of them
	// are counted, and the bits above those are the stream's too, or zero
	// (a refill loads whole words, so they are read again by the next).
	// Shift counts are masked to 63 where they are known to be below 64,
	// which spares the compiler's check of a shift by 64 or more.
	var acc uint64
	var nb uint
	i := 0 // the next byte of b to buffer
	next := uint64(0)
	mm := uint64(m)
	mask := uint64(1)<<r - 1
	for j := 0; j < len(out); j++ {
		var k int
		k, i, acc, nb, next = riceRun(b, out[j:], i, acc, nb, r, mask, next)
		if j += k; j == len(out) {
			break
		}
		if next > mm {
			return pos, nil, false
		}
		q, low, ni, nacc, nnb, ok := readLongCode(b, i, acc, nb, r, (mm-1-next)>>r, next < mm)
		if !ok {
			return pos, nil, false
		}
		i, acc, nb = ni, nacc, nnb
		p := next + (q<<r | low)
		out[j] = uint32(p)
		next = p + 1
	}
	if next > mm {
		// The positions increase: the last is the largest.
		return pos, nil, false
	}
	pos = pos[:len(pos)+len(out)]
	// The rest of the last byte is padding, which must be zero so that one
	// state has one encoding.
	pad := nb % 8
	if acc&(1<<pad-1) != 0 {
		return pos, nil, false
	}
	used := i - int(nb/8)
	return pos, b[used:], true
}

// riceRun decodes codes into out while each is wholly buffered, and
// returns how many it decoded and the reader's state. It is apart from
// readPositions, and makes no call, so that its state stays in
// registers (Go keeps none across a call). Positions past the filter's
// end are readPositions' to catch: they only grow, so the last is the
// largest, and the sum cannot overflow (a quotient here is at most 63).
func riceRun(b []byte, out []uint32, i int, acc uint64, nb, r uint, mask, next uint64) (int, int, uint64, uint, uint64) {
	for j := range out {
		if nb < 57 {
			if i+8 <= len(b) {
				// The whole bytes that fit, at once: nb|56 is
				// nb+8*((63-nb)/8).
				acc |= binary.LittleEndian.Uint64(b[i:]) << (nb & 63)
				i += int((63 - nb) >> 3)
				nb |= 56
			} else {
				for nb <= 56 && i < len(b) {
					acc |= uint64(b[i]) << (nb & 63)
					i++
					nb += 8
				}
			}
		}
		ones := uint(bits.TrailingZeros64(^acc))
		if ones+1+r > nb {
			return j, i, acc, nb, next
		}
		// A code may fill all of acc, 64 bits (the byte-at-a-time refill
		// and the bitReader buffer up to 64): it is shifted out in two
		// steps, as a shift by 64 masked to 63 would shift by nothing.
		// With ones+1 = 64, r is 0 and so is the mask.
		c := ones + 1 + r
		p := next + (uint64(ones)<<(r&63) | acc>>((ones+1)&63)&mask)
		acc = acc >> 1 >> ((c - 1) & 63)
		nb -= c
		out[j] = uint32(p)
		next = p + 1
	}
	return len(out), i, acc, nb, next
}

// readLongCode reads a code longer than what readPositions buffered,
// with a bitReader: a sparse filter's outlier, or the stream's end. Kept
// out of readPositions so that its bit buffer stays in registers. limit
// bounds the quotient; inRange is false when no position is left.
func readLongCode(b []byte, i int, acc uint64, nb, r uint, limit uint64, inRange bool) (q, low uint64, _ int, _ uint64, _ uint, ok bool) {
	if !inRange {
		return 0, 0, 0, 0, 0, false
	}
	rd := bitReader{b: b, i: i, acc: acc & (1<<nb - 1), n: nb}
	if q, ok = rd.unary(limit); !ok {
		return 0, 0, 0, 0, 0, false
	}
	if low, ok = rd.get(r); !ok {
		return 0, 0, 0, 0, 0, false
	}
	return q, low, rd.i, rd.acc, rd.n, true
}

// bitWriter appends bits to b, least significant first.
type bitWriter struct {
	b   []byte
	acc uint64
	n   uint // bits in acc, < 64 between calls
}

// put writes the k low bits of v; k <= 56.
func (w *bitWriter) put(v uint64, k uint) {
	w.acc |= v << w.n
	if w.n+k < 64 {
		w.n += k
		return
	}
	w.b = binary.LittleEndian.AppendUint64(w.b, w.acc)
	used := 64 - w.n // of v's bits, in acc; 8 or more since k <= 56
	w.acc = v >> used
	w.n = w.n + k - 64
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
	for w.n > 0 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= min(w.n, 8)
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
	if r.n <= 56 && r.i+8 <= len(r.b) {
		// The whole bytes that fit, at once; the bits above n stay zero.
		k := (63 - r.n) / 8
		w := binary.LittleEndian.Uint64(r.b[r.i:]) & (1<<(8*k) - 1)
		r.acc |= w << r.n
		r.i += int(k)
		r.n += 8 * k
		return
	}
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
