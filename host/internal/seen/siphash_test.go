package seen

import "testing"

// TestSipHashVectors: the SipHash paper's example (key 00..0f, message
// 00..0e) and the first of the reference implementation's test vectors
// (the empty message).
func TestSipHashVectors(t *testing.T) {
	const k0, k1 = 0x0706050403020100, 0x0f0e0d0c0b0a0908
	msg := make([]byte, 15)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tt := range []struct {
		msg  string
		want uint64
	}{
		{string(msg), 0xa129ca6149be45e5},
		{"", 0x726fdb47dd0e0e31},
	} {
		if got := sipHash(k0, k1, tt.msg); got != tt.want {
			t.Errorf("SipHash-2-4 of %x = %#x, want %#x", tt.msg, got, tt.want)
		}
	}
}

func BenchmarkSipHash(b *testing.B) {
	for b.Loop() {
		sipHash(1, 2, "sku-123456")
	}
}
