package proxy

import (
	"compress/gzip"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// decodable reports whether a Content-Encoding can be undone for
// rewriting. Other encodings pass through untouched.
func decodable(enc string) bool {
	switch enc {
	case "", "identity", "gzip", "x-gzip", "br":
		return true
	}
	return false
}

// negotiate picks the encoding of the rewritten body: an origin that
// compressed gets its encoding back when the visitor takes it, else gzip
// when the visitor takes that, else none; an origin that did not compress
// is not second-guessed. Brotli is only kept, never chosen: compressing
// with it costs several times gzip's CPU per byte.
func negotiate(accept, origin string) string {
	ok := func(name string) bool {
		for _, part := range strings.Split(accept, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), name) && strings.TrimSpace(coding) != "*" {
				continue
			}
			if _, q, found := strings.Cut(params, "q="); found {
				if v, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && v == 0 {
					return false
				}
			}
			return true
		}
		return false
	}
	switch {
	case origin == "br" && ok("br"):
		return "br"
	case (origin == "gzip" || origin == "x-gzip" || origin == "br") && ok("gzip"):
		return "gzip"
	}
	return ""
}

// encoder is a streaming compressor.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, 5)
	return w
}}

var brotliWriters = sync.Pool{New: func() any { return brotli.NewWriterLevel(nil, 4) }}

func newEncoder(name string, w io.Writer) encoder {
	var e encoder
	switch name {
	case "gzip":
		e = gzipWriters.Get().(*gzip.Writer)
	case "br":
		e = brotliWriters.Get().(*brotli.Writer)
	default:
		return nil
	}
	e.Reset(w)
	return e
}

func releaseEncoder(e encoder) {
	switch e := e.(type) {
	case *gzip.Writer:
		gzipWriters.Put(e)
	case *brotli.Writer:
		brotliWriters.Put(e)
	}
}
