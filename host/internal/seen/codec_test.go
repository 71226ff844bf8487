package seen

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
)

func TestFilterRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		m    uint
		bits func(m uint) []uint
	}{
		{"one bit first", 64, func(uint) []uint { return []uint{0} }},
		{"one bit last", 1024, func(m uint) []uint { return []uint{m - 1} }},
		{"first and last", 100032, func(m uint) []uint { return []uint{0, m - 1} }},
		{"all", 256, func(m uint) []uint {
			var b []uint
			for i := range m {
				b = append(b, i)
			}
			return b
		}},
		{"every other", 640, func(m uint) []uint {
			var b []uint
			for i := uint(0); i < m; i += 2 {
				b = append(b, i)
			}
			return b
		}},
		{"long gap with dense end", 100032, func(m uint) []uint {
			b := []uint{3}
			for i := m - 300; i < m; i++ {
				b = append(b, i)
			}
			return b
		}},
	}
	for _, density := range []float64{0.0001, 0.001, 0.01, 0.1, 0.5, 0.9} {
		tests = append(tests, struct {
			name string
			m    uint
			bits func(m uint) []uint
		}{"random", 100032, func(m uint) []uint {
			var b []uint
			for i := range m {
				if rng.Float64() < density {
					b = append(b, i)
				}
			}
			return b
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := bloom.New(tt.m, 1)
			set := tt.bits(tt.m)
			for _, b := range set {
				f.BitSet().Set(b)
			}
			enc := appendFilter(nil, f, tt.m)
			trailer := []byte{0xAB, 0xCD}
			got, rest, ok := decodeFilter(append(slices.Clip(enc), trailer...), tt.m)
			if !ok {
				t.Fatalf("%d bits in %d: not decoded", len(set), tt.m)
			}
			if !bytes.Equal(rest, trailer) {
				t.Errorf("rest %x, want %x", rest, trailer)
			}
			if got == nil || !got.Equal(f) {
				t.Errorf("%d bits in %d: decoded filter differs", len(set), tt.m)
			}
			t.Logf("%d of %d bits: %d bytes (raw %d)", len(set), tt.m, len(enc), tt.m/8)
		})
	}
	if enc := appendFilter(nil, nil, 64); !bytes.Equal(enc, []byte{0}) {
		t.Errorf("empty filter encodes as %x", enc)
	}
	if f, rest, ok := decodeFilter([]byte{0, 7}, 64); !ok || f != nil || !bytes.Equal(rest, []byte{7}) {
		t.Errorf("empty filter decodes as %v, %x, %v", f, rest, ok)
	}
}

func TestFilterRejects(t *testing.T) {
	f := bloom.New(128, 1)
	f.BitSet().Set(5)
	f.BitSet().Set(100)
	valid := appendFilter(nil, f, 128)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty input", nil},
		{"bad varint", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}},
		{"more bits than the filter", []byte{129, 1, 0xFF}},
		{"no gaps", valid[:1]},
		{"truncated", valid[:len(valid)-1]},
		{"padding not zero", append(valid[:len(valid)-1:len(valid)-1], valid[len(valid)-1]|0x80)},
		{"position past the end", []byte{1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
		{"all 128 bits, stream short", []byte{128, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _, ok := decodeFilter(tt.b, 128); ok {
				t.Errorf("%x decoded, as %v", tt.b, got)
			}
		})
	}
	if _, _, ok := decodeFilter(valid, 128); !ok {
		t.Fatal("the valid filter does not decode")
	}
}

func TestUvarintLen(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1 << 32, 1<<63 + 5} {
		if got, want := uvarintLen(v), len(appendUvarint(v)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", v, got, want)
		}
	}
}

func appendUvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// referencePositions encodes a filter's set bits as the format says, one
// bit at a time: the count, then each gap's quotient in unary (ones, a
// zero) and its r low bits, least significant bit first, padded with
// zeros to a byte. appendPositions and readPositions keep their bits in
// words; this is what they must agree with.
func referencePositions(pos []uint32, m uint) []byte {
	b := appendUvarint(uint64(len(pos)))
	if len(pos) == 0 {
		return b
	}
	r := riceParam(m, uint64(len(pos)))
	var bitsOut []byte
	next := uint64(0)
	for _, p := range pos {
		gap := uint64(p) - next
		for range gap >> r {
			bitsOut = append(bitsOut, 1)
		}
		bitsOut = append(bitsOut, 0)
		for i := range r {
			bitsOut = append(bitsOut, byte(gap>>i&1))
		}
		next = uint64(p) + 1
	}
	for len(bitsOut)%8 != 0 {
		bitsOut = append(bitsOut, 0)
	}
	for i := 0; i < len(bitsOut); i += 8 {
		var c byte
		for j := range 8 {
			c |= bitsOut[i+j] << j
		}
		b = append(b, c)
	}
	return b
}

// TestPositionsMatchReference: random sets of every density, and sets
// with gaps long enough to take the slow paths, encode to the reference's
// bytes and decode from them.
func TestPositionsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		m := uint(64 * (1 + rng.IntN(2000)))
		var pos []uint32
		switch i % 4 {
		case 0: // a few bits far apart, then a dense run: the gaps
			// before the run take long unary codes
			for range rng.IntN(4) + 1 {
				pos = append(pos, uint32(rng.IntN(int(m)/2)))
			}
			for p := m - min(m/4, 400); p < m; p++ {
				pos = append(pos, uint32(p))
			}
		default:
			density := []float64{0.002, 0.05, 0.6}[i%4-1]
			for p := range m {
				if rng.Float64() < density {
					pos = append(pos, uint32(p))
				}
			}
		}
		slices.Sort(pos)
		pos = slices.Compact(pos)
		want := referencePositions(pos, m)
		if got := appendPositions(nil, pos, m); !bytes.Equal(got, want) {
			t.Fatalf("m %d, %d bits: encoded\n%x\nwant\n%x", m, len(pos), got, want)
		}
		got, rest, ok := readPositions(append(slices.Clip(want), 0x5A), m, nil)
		if !ok || !slices.Equal(got, pos) || !bytes.Equal(rest, []byte{0x5A}) {
			t.Fatalf("m %d, %d bits: decoded %v (ok %v, rest %x)", m, len(pos), len(got), ok, rest)
		}
	}
}

// referenceRead decodes what referencePositions encodes, one bit at a
// time, with the checks the format asks for: positions within m, a
// quotient that ends within b, zero padding. ok is false where
// readPositions must refuse.
func referenceRead(b []byte, m uint) (pos []uint32, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(m) {
		return nil, nil, false
	}
	b = b[k:]
	if n == 0 {
		return nil, b, true
	}
	r := riceParam(m, n)
	bit := 0 // the next bit of b
	get := func() (uint64, bool) {
		if bit >= 8*len(b) {
			return 0, false
		}
		v := uint64(b[bit/8] >> (bit % 8) & 1)
		bit++
		return v, true
	}
	next := uint64(0)
	for range n {
		var q uint64
		for {
			v, ok := get()
			if !ok {
				return nil, nil, false
			}
			if v == 0 {
				break
			}
			if q++; next+q<<r >= uint64(m) {
				return nil, nil, false
			}
		}
		var low uint64
		for i := range r {
			v, ok := get()
			if !ok {
				return nil, nil, false
			}
			low |= v << i
		}
		p := next + (q<<r | low)
		if p >= uint64(m) {
			return nil, nil, false
		}
		pos = append(pos, uint32(p))
		next = p + 1
	}
	for bit%8 != 0 {
		if v, _ := get(); v != 0 {
			return nil, nil, false
		}
	}
	return pos, b[bit/8:], true
}

// FuzzReadPositions: readPositions, which reads its bits a word at a
// time, and the bit-at-a-time reference agree on every input: the same
// positions and rest, or both refuse.
func FuzzReadPositions(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 3, 40, 200} {
		var pos []uint32
		for range n {
			pos = append(pos, uint32(rng.IntN(4096)))
		}
		slices.Sort(pos)
		pos = slices.Compact(pos)
		f.Add(referencePositions(pos, 4096), uint16(4096))
	}
	f.Add([]byte{2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(640))
	lb, lm := longCodeEncoding(rand.New(rand.NewPCG(7, 8)))
	f.Add(lb, lm)
	f.Fuzz(func(t *testing.T, b []byte, m16 uint16) {
		m := uint(m16)%8192 + 1
		want, wantRest, wantOK := referenceRead(b, m)
		got, rest, ok := readPositions(b, m, nil)
		if ok != wantOK {
			t.Fatalf("m %d: ok %v, reference %v", m, ok, wantOK)
		}
		if ok && (!slices.Equal(got, want) || !bytes.Equal(rest, wantRest)) {
			t.Fatalf("m %d: %v rest %x, reference %v rest %x", m, got, rest, want, wantRest)
		}
		if ok {
			// And they encode back to the codes read (the count may
			// have been written in more bytes than it needs).
			_, kIn := binary.Uvarint(b)
			kOut := len(binary.AppendUvarint(nil, uint64(len(got))))
			if enc := appendPositions([]byte("prefix"), got, m); !bytes.Equal(enc[6+kOut:], b[kIn:len(b)-len(rest)]) || string(enc[:6]) != "prefix" {
				t.Fatalf("m %d: %v encodes to %x, read from %x", m, got, enc, b)
			}
		}
	})
}

// longCodeEncoding is the encoding of positions one of whose gaps takes
// a code of exactly 64 bits (quotient 63-r), which a reader that buffers
// 64 bits must shift out whole, and m.
func longCodeEncoding(rng *rand.Rand) ([]byte, uint16) {
	for {
		m := uint(rng.IntN(4096) + 64)
		n := rng.IntN(int(m)/2) + 2
		r := riceParam(m, uint64(n))
		long := (63-uint64(r))<<r | uint64(rng.IntN(1<<r))
		var pos []uint32
		next, at := uint64(0), rng.IntN(n)
		for k := range n {
			gap := uint64(rng.IntN(1<<r + 1))
			if k == at {
				gap = long
			}
			if next+gap >= uint64(m) {
				break
			}
			pos = append(pos, uint32(next+gap))
			next += gap + 1
		}
		if len(pos) == n {
			return referencePositions(pos, m), uint16(m)
		}
	}
}

// TestLongCodes: states with a code of exactly 64 bits, wherever it
// falls in the bytes, read back as the reference reads them; and a
// visitor's cookie holding one (found by review: the reader shifted
// such a code by nothing, and dropped the state it had written as
// malformed).
func TestLongCodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 20000 {
		b, m16 := longCodeEncoding(rng)
		for _, trailer := range []string{"", "\xff", "\x01\x02\x03"} {
			in := append(slices.Clip(b), trailer...)
			want, _, _ := referenceRead(in, uint(m16))
			got, rest, ok := readPositions(in, uint(m16), nil)
			if !ok || !slices.Equal(got, want) || string(rest) != trailer {
				t.Fatalf("m %d: %x read %v (ok %v, rest %x), want %v", m16, in, got, ok, rest, want)
			}
		}
	}
	st, _ := fuzzStore(t)
	now := st.l.nowSec()
	items := []string{"item-562-31754", "item-1444-300191", "item-2393-90499", "item-3197-81308", "item-4077-93593", "item-4549-85540", "item-4671-149190", "item-4898-107367", "item-5532-186408", "item-6046-125", "item-6228-18524", "item-6796-127080", "item-6801-8489", "item-7315-55730", "item-7768-56325", "item-8281-80609", "item-8875-32027", "item-9882-69256", "item-10299-21254", "item-10957-142799", "item-11742-205846", "item-11749-313091", "item-11915-94821", "item-12602-28988", "item-13103-32389", "item-13669-5254", "item-14448-43713", "item-15158-227859", "item-16023-7533", "item-16683-6898", "item-17384-88670", "item-17838-26161", "item-73033-69064", "item-73853-247561"}
	s := st.l.newSet(now)
	for _, id := range items {
		s.Shown(id)
	}
	v, err := st.value(s)
	if err != nil {
		t.Fatal(err)
	}
	got, reason := st.decode(v, now)
	if reason != "" {
		t.Fatalf("the cookie written for %d items is dropped as %q", len(items), reason)
	}
	for _, id := range items {
		if !got.Seen(id) {
			t.Errorf("%s not seen", id)
		}
	}
}

// FuzzPositionsRoundTrip: positions made from the fuzzer's bytes, each
// pair a gap, encode to the reference's bytes and read back from them.
// A pair whose first byte has its high bit set chooses the gap's
// quotient (its second byte, up to 63) under the Rice parameter of as
// many positions as there are pairs, so that codes of every length,
// those that fill a 64-bit buffer too, come up anywhere in the bytes.
func FuzzPositionsRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 0x80, 0, 5, 6}, uint32(1<<12))
	f.Add([]byte{0xff, 0xff, 0, 1, 0, 1, 0, 1}, uint32(100032))
	// 24 short codes, a code of 64 bits on a byte boundary, one more:
	// the reader once shifted that code by nothing (see TestLongCodes).
	f.Add(append(append(bytes.Repeat([]byte{0, 9}, 24), 0x80, 53), 0, 9), uint32(1<<16-1))
	f.Fuzz(func(t *testing.T, gaps []byte, m32 uint32) {
		m := uint(m32%(1<<20)) + 1
		r := riceParam(m, uint64(max(len(gaps)/2, 1)))
		var pos []uint32
		next := uint64(0)
		for i := 0; i+1 < len(gaps); i += 2 {
			gap := uint64(gaps[i]&0x7f)<<8 | uint64(gaps[i+1])
			if gaps[i]&0x80 != 0 {
				gap = uint64(gaps[i+1]%64)<<r | uint64(gaps[i]&0x7f)&(1<<r-1)
			}
			if next+gap >= uint64(m) {
				break
			}
			pos = append(pos, uint32(next+gap))
			next += gap + 1
		}
		want := referencePositions(pos, m)
		if got := appendPositions(nil, pos, m); !bytes.Equal(got, want) {
			t.Fatalf("m %d, %v: encoded %x, want %x", m, pos, got, want)
		}
		// Read alone and followed by more bytes: the reader buffers
		// bytes one at a time near the end.
		for _, tail := range [][]byte{nil, {0xA5}} {
			got, rest, ok := readPositions(append(slices.Clip(want), tail...), m, nil)
			if !ok || !slices.Equal(got, pos) || !bytes.Equal(rest, tail) {
				t.Fatalf("m %d, %v, then %x: read %v (ok %v, rest %x)", m, pos, tail, got, ok, rest)
			}
		}
	})
}
