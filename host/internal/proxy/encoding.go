package proxy

import (
	"compress/gzip"
	"io"
	"net/http"
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

// acceptDecodable narrows the Accept-Encoding of a request whose
// response the plan may rewrite to the codings the proxy can undo,
// keeping the visitor's order and weights: browsers offer zstd (Chrome
// and Firefox since 2024) and deflate, and an origin that prefers one of
// them would otherwise answer in a coding the page cannot be rewritten
// from, and the visitor would get it unpersonalized. What the visitor
// gets is negotiated again from its own header (see negotiate). When the
// visitor accepts none of them, the origin is asked for identity; a
// request without the header is left so (origins compress only when
// asked).
func acceptDecodable(h http.Header) {
	vals := h.Values("Accept-Encoding")
	// Two passes: the header of most requests is left as it is, and the
	// first pass allocates nothing.
	for pass := range 2 {
		var keep []string
		dropped := false
		for _, v := range vals {
			for part := range strings.SplitSeq(v, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				coding, _, _ := strings.Cut(part, ";")
				coding = strings.TrimSpace(coding)
				if equalFoldASCII(coding, "identity") || coding != "" && decodable(strings.ToLower(coding)) {
					if pass == 1 {
						keep = append(keep, part)
					}
				} else {
					dropped = true // "*" too: it would let the origin pick any
				}
			}
		}
		switch {
		case !dropped:
			return
		case pass == 0:
		case len(keep) == 0:
			h.Set("Accept-Encoding", "identity")
		default:
			h.Set("Accept-Encoding", strings.Join(keep, ", "))
		}
	}
}

// negotiate picks the encoding of the rewritten body: an origin that
// compressed gets its encoding back when the visitor takes it, else gzip
// when the visitor takes that, else none; an origin that did not compress
// is not second-guessed. Brotli is only kept, never chosen: compressing
// with it costs several times gzip's CPU per byte.
func negotiate(accept, origin string) string {
	// A coding the visitor names is taken at its own weight, "*" at its
	// own for the codings it does not name (RFC 9110 12.5.3): "*, gzip;q=0"
	// refuses gzip. The weight's name is "q" in any case, a parameter
	// of its own (gzip;Q=0 refuses, gzip;xq=1 names no weight), and a
	// weight that does not read refuses: identity is always acceptable.
	ok := func(name string) bool {
		named, star := -1, -1
		for part := range strings.SplitSeq(accept, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.TrimSpace(coding)
			isName := equalFoldASCII(coding, name)
			if !isName && coding != "*" || isName && named >= 0 || !isName && star >= 0 {
				continue // the first of a coding's entries counts
			}
			w := 1
			for p := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(p, "=")
				if equalFoldASCII(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || !(f > 0) {
						w = 0
					}
				}
			}
			if isName {
				named = w
			} else {
				star = w
			}
		}
		if named >= 0 {
			return named > 0
		}
		return star > 0
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

// brotliWindow is the re-encoder's window, 256 KiB (log2): brotli's
// default (4 MiB at this quality) cost some 20 MiB per response in flight,
// a slow visitor's included; pages compress the same within it.
const brotliWindow = 18

var brotliWriters = sync.Pool{New: func() any {
	return brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: 4, LGWin: brotliWindow})
}}

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
