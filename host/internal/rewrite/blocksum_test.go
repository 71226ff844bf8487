package rewrite

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
)

// forgeCRC returns a copy of block with the bytes at fix (four of them)
// changed so that its CRC-32C is that of orig, of the same length: a CRC
// is affine in its input, so the difference of two blocks of one length
// has a CRC that depends on the difference alone, and 32 bits of it
// give any CRC. It solves for them over GF(2).
func forgeCRC(t *testing.T, orig, block []byte, fix int) []byte {
	t.Helper()
	tab := crc32.MakeTable(crc32.Castagnoli)
	zero := make([]byte, len(block))
	lin := func(d []byte) uint32 { // the linear part of the CRC of a difference
		return crc32.Checksum(d, tab) ^ crc32.Checksum(zero, tab)
	}
	out := append([]byte(nil), block...)
	for i := range 4 {
		out[fix+i] = 0
	}
	diff := make([]byte, len(block))
	for i := range diff {
		diff[i] = orig[i] ^ out[i]
	}
	target := lin(diff) // the fix bits must cancel it
	// The columns: the CRC of each of the 32 bits of the fix alone.
	var cols [32]uint32
	for b := range 32 {
		d := make([]byte, len(block))
		d[fix+b/8] = 1 << (b % 8)
		cols[b] = lin(d)
	}
	// Gaussian elimination over GF(2), tracking which bits make each row.
	var rows [32]uint32
	var made [32]uint32
	for b := range 32 {
		rows[b], made[b] = cols[b], 1<<b
	}
	for bit := range 32 {
		p := -1
		for r := bit; r < 32; r++ {
			if rows[r]>>bit&1 == 1 {
				p = r
				break
			}
		}
		if p < 0 {
			t.Fatal("the fix bytes do not span the CRC")
		}
		rows[bit], rows[p] = rows[p], rows[bit]
		made[bit], made[p] = made[p], made[bit]
		for r := range 32 {
			if r != bit && rows[r]>>bit&1 == 1 {
				rows[r] ^= rows[bit]
				made[r] ^= made[bit]
			}
		}
	}
	var fixBits uint32
	for bit := range 32 {
		if target>>bit&1 == 1 {
			fixBits ^= made[bit]
		}
	}
	for b := range 32 {
		if fixBits>>b&1 == 1 {
			out[fix+b/8] |= 1 << (b % 8)
		}
	}
	if crc32.Checksum(out, tab) != crc32.Checksum(orig, tab) {
		t.Fatal("the forged block's CRC differs")
	}
	return out
}

// TestSpliceRefusesForgedBlock: a page served with a block that has the
// CRC-32C and the length of the map's block, but a comment opened where
// the map's page had text (four bytes of the text chosen to keep the
// CRC, as anyone who can write a comment on a page can), is rewritten
// as the Rewriter rewrites it: the edit goes nowhere, since the heading
// is now inside the comment. A map checked with CRC-32C spliced the
// edit into the comment's place, at the heading's old offset.
func TestSpliceRefusesForgedBlock(t *testing.T) {
	p := mustCompile("#t")
	text := strings.Repeat("a", 600)
	cached := []byte("<!doctype html><html><body><p>" + text + `</p><h1 id="t">Title</h1><p>after</p></body></html>`)
	at := strings.Index(string(cached), text) + 100
	served := append([]byte(nil), cached...)
	copy(served[at:], "<!--")
	served = forgeCRC(t, cached, served, at+10)
	edits := []Edit{{Selector: 0, Op: SetInner, Content: []byte("<b>NEW</b>")}}

	var want bytes.Buffer
	r := p.NewRewriter(&want, edits, Options{})
	r.Write(served)
	r.Close()
	if bytes.Contains(want.Bytes(), []byte("NEW")) {
		t.Fatal("the Rewriter edited the heading inside the comment")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m := recordMap(rng, p, cached, false)
	var got bytes.Buffer
	s := p.NewSplicer(&got, m, edits, Options{})
	s.Write(served)
	s.Close()
	fell := s.FellBack()
	s.Release()
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("the splice of the forged page differs from the Rewriter's:\n got %q\nwant %q", got.Bytes(), want.Bytes())
	}
	if fell != 0 {
		t.Errorf("fell back at %d, want at 0: the forged block is the first", fell)
	}
}
