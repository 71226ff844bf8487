package plugin

import (
	"encoding/binary"
	"math/bits"
)

// Buckets is the number of buckets rollouts and experiments divide visitors
// into: a rollout of 20% is buckets 0 to 1999.
const Buckets = 10000

// Bucket assigns a value (a visitor id, by default) to a bucket in
// [0, Buckets) for a seed. It is the contract rollouts and experiments rest
// on: the same seed and value give the same bucket on every host, forever.
//
// The hash is MurmurHash3 (x86, 32-bit, seed 0, as in flagd) of
// seed + "/" + value; the bucket is the hash scaled to [0, Buckets) by a
// multiply and shift (hash × Buckets / 2³²), which keeps buckets equally
// likely where a modulo would not. Test vectors are in
// testdata/bucketing/vectors.tsv.
func Bucket(seed, value string) int {
	h := murmur3(seed + "/" + value)
	return int(uint64(h) * Buckets >> 32)
}

// murmur3 is MurmurHash3_x86_32 with seed 0.
func murmur3(s string) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	b := []byte(s)
	n := len(b)
	for len(b) >= 4 {
		k := binary.LittleEndian.Uint32(b)
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
		b = b[4:]
	}
	var k uint32
	switch len(b) {
	case 3:
		k ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(b[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
