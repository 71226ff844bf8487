package proxy

import (
	"io"
	"os"
	"runtime"
	"testing"
)

// TestBrotliEncoderMemory: a response re-encoded in brotli holds its
// encoder while the visitor reads (a slow one, for minutes): brotli's
// default window made that some 20 MiB each. It is bounded by
// brotliWindow now.
func TestBrotliEncoderMemory(t *testing.T) {
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	encs := make([]encoder, n)
	for i := range encs {
		encs[i] = newEncoder("br", io.Discard)
		for range 4 { // 600 KB each, in the proxy's writes
			for j := 0; j < len(page); j += 32 << 10 {
				encs[i].Write(page[j:min(j+32<<10, len(page))])
			}
		}
		encs[i].Flush()
	}
	runtime.ReadMemStats(&after)
	if per := (after.HeapAlloc - before.HeapAlloc) / n; per > 6<<20 {
		t.Errorf("%.1f MiB held per brotli encoder", float64(per)/(1<<20))
	}
	for _, e := range encs {
		releaseEncoder(e)
	}
}

// TestReadPooledBounded: a JSON body read up to the limit (and one byte,
// to see it is over) takes no more room than that: doubling grew an 8 MiB
// buffer to 16 MiB for the last byte, for every document over the limit.
func TestReadPooledBounded(t *testing.T) {
	const limit = 8 << 20
	b, err := readPooled(io.LimitReader(zeros{}, 10<<20), limit+1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(*b) != limit+1 || cap(*b) > limit+1 {
		t.Errorf("read %d bytes into %d", len(*b), cap(*b))
	}
}

// zeros reads zeros for ever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
