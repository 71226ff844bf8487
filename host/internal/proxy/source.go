package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
)

// Limits on decoding, shared by the HTML and JSON paths.
var (
	// errDecodeRatio: the body decodes to more than the allowed ratio of
	// what the origin sent: a decompression bomb.
	errDecodeRatio = errors.New("the body decodes to more than the allowed ratio of its encoded size")
	// errTooLarge: the decoded body passes MaxRewriteBytes.
	errTooLarge = errors.New("the decoded body is larger than max_rewrite_bytes")
	// errBadEncoding wraps a decoder's error: the body is not what its
	// Content-Encoding says.
	errBadEncoding = errors.New("the body does not decode as its Content-Encoding says")
	// errCharset: the page is in a character encoding the rewriter cannot
	// scan (UTF-16, ISO-2022-JP).
	errCharset = errors.New("the page's character encoding cannot be rewritten")
	// errBadStatus: the origin's status code is not one HTTP has (a
	// final status is 100 to 999).
	errBadStatus = errors.New("the origin's response has a status code out of range")
)

// Reasons a body passes untouched, or is stopped or cut, in metrics and
// logs.
const (
	reasonTooLarge    = "too_large"
	reasonDecodeRatio = "decode_ratio"
	reasonBadEncoding = "bad_encoding"
	reasonJSONDepth   = "json_depth"
	reasonJSONInvalid = "json_invalid"
	reasonCharset     = "charset"
	// reasonRewriteBuffer: the rewriter stopped at its memory bound
	// (limits.rewrite_buffer), most often on a list hide_seen, limit or
	// reorder held whole.
	reasonRewriteBuffer = "rewrite_buffer"
	// reasonRewriteFailed: the rewriter failed on the page (see
	// failure.go), or did recently.
	reasonRewriteFailed = "rewrite_failed"
	// Known from the response's headers: a status other than 200 (not
	// counted: most responses are not pages), Cache-Control:
	// no-transform, a Content-Encoding the proxy cannot undo.
	reasonStatus      = "status"
	reasonNoTransform = "no_transform"
	reasonEncoding    = "encoding"
	// reasonXHTML: an application/xhtml+xml page (see isXHTML);
	// reasonAttachment: a page sent to be saved (see isAttachment);
	// reasonContentType: a Content-Type browsers may read as another
	// type (see ambiguousType).
	reasonXHTML       = "xhtml"
	reasonAttachment  = "attachment"
	reasonContentType = "content_type"
)

// ratioFloor is how many decoded bytes may come out before the decode
// ratio is enforced, so that a small page that compresses unusually well
// is never mistaken for a bomb.
const ratioFloor = 16 << 10

// source is an origin's body as a rewriter reads it: decoded when the
// origin compressed it, counted, and, until commit, recorded (bounded) so
// that the bytes the decoder consumed can be sent out again in front of
// the rest when the body has to pass untouched after all.
type source struct {
	raw  io.ReadCloser // the origin's body
	rec  recorder      // counts, and records until commit
	br   *bufio.Reader // gzip's input, to know what it consumed
	gz   *gzip.Reader
	bro  *brotli.Reader
	dec  io.Reader // the decoded body
	enc  string
	out  int64 // decoded bytes read
	maxR int64 // decode ratio limit; 0 for an identity body
	err  error
}

// recorder counts what is read from the origin and keeps a copy while
// keep is set, up to max bytes.
type recorder struct {
	r    io.Reader
	n    int64
	err  error // the origin's read error, other than io.EOF
	buf  []byte
	keep bool
	max  int
	lost bool // more than max bytes were read while recording
	// chunk bounds each read, so that a decoder that reads ahead into
	// its own buffer (brotli) holds little that it has not consumed.
	chunk int
	// short: the last read returned less than it asked for. The origin
	// sent no more than that yet, so the next read may wait for it.
	short bool
	// eof: the origin's transfer ended cleanly (its length met, its
	// last chunk come).
	eof bool
}

func (r *recorder) Read(p []byte) (int, error) {
	if r.chunk > 0 && len(p) > r.chunk {
		p = p[:r.chunk]
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	r.short = n < len(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	r.eof = err == io.EOF
	if r.keep && n > 0 {
		if len(r.buf)+n > r.max {
			r.keep, r.lost = false, true
			r.free()
		} else {
			r.buf = append(r.buf, p[:n]...)
		}
	}
	return n, err
}

// recordBuffers hold what decoders consumed before commit: usually one
// read of a compressed body, a few KiB.
var recordBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// free returns the record's buffer.
func (r *recorder) free() {
	if r.buf != nil && cap(r.buf) <= 256<<10 {
		b := r.buf[:0]
		recordBuffers.Put(&b)
	}
	r.buf = nil
}

var (
	// sources are returned by the rewriting body that owned one (see
	// putSource); the other paths leave theirs to the collector.
	sources       = sync.Pool{New: func() any { return new(source) }}
	gzipReaders   sync.Pool // *gzip.Reader
	brotliReaders sync.Pool // *brotli.Reader
	bufReaders    = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
)

// newSource prepares the body for reading. enc must be decodable; ratio
// is the decode ratio limit; keep bounds the bytes recorded for a replay
// before commit. The error is errBadEncoding when a gzip header does not
// parse: what was read is then in the replay.
func newSource(raw io.ReadCloser, enc string, ratio int64, keep int) (*source, error) {
	s := sources.Get().(*source)
	*s = source{raw: raw, enc: enc, rec: recorder{r: raw, max: keep}}
	if enc != "" {
		// Only what a decoder consumed needs keeping: an identity body's
		// bytes are what its reader already has.
		s.rec.keep = true
		s.rec.buf = (*recordBuffers.Get().(*[]byte))[:0]
	}
	switch enc {
	case "gzip", "x-gzip":
		s.maxR = ratio
		s.br = bufReaders.Get().(*bufio.Reader)
		s.br.Reset(&s.rec)
		var err error
		if zr, ok := gzipReaders.Get().(*gzip.Reader); ok {
			s.gz, err = zr, zr.Reset(s.br)
		} else {
			s.gz, err = gzip.NewReader(s.br)
		}
		if err != nil {
			if s.gz != nil {
				gzipReaders.Put(s.gz)
				s.gz = nil
			}
			s.err = errors.Join(errBadEncoding, err)
			return s, s.err
		}
		s.dec = s.gz
	case "br":
		s.maxR = ratio
		s.rec.chunk = 512
		if r, ok := brotliReaders.Get().(*brotli.Reader); ok {
			r.Reset(&s.rec)
			s.bro = r
		} else {
			s.bro = brotli.NewReader(&s.rec)
		}
		s.dec = s.bro
	default:
		s.dec = &s.rec
	}
	return s, nil
}

// consumed is how many encoded bytes the decoder has used.
func (s *source) consumed() int64 {
	if s.br != nil {
		return s.rec.n - int64(s.br.Buffered())
	}
	return s.rec.n
}

// Read reads decoded bytes. A decoder's failure is errBadEncoding; a body
// that decodes past the ratio limit, errDecodeRatio. Both stay.
func (s *source) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.dec.Read(p)
	s.out += int64(n)
	if s.maxR > 0 && s.out > ratioFloor && s.out > s.maxR*max(s.consumed(), 1) {
		s.err = errDecodeRatio
		return n, s.err
	}
	if err != nil && err != io.EOF && s.rec.err == nil {
		if s.gz != nil && s.rec.eof && errors.Is(err, io.ErrUnexpectedEOF) {
			// The transfer ended cleanly, the gzip stream did not: its
			// trailer is missing, or its deflate data stops short (an
			// origin that never writes the trailer, or cut the stream).
			// Browsers show such a page as far as it decodes, and so is
			// it served, edited; the decoder gave all it decoded.
			return n, io.EOF
		}
		// The origin's connection did not fail: the decoder did.
		s.err = errors.Join(errBadEncoding, err)
		return n, s.err
	}
	return n, err
}

// paused reports whether the origin's last read returned less than was
// asked: what it had sent is read, and the next read may wait for more.
func (s *source) paused() bool { return s.rec.short }

// commit stops recording: from now on what was read is gone, and the body
// can no longer pass untouched.
func (s *source) commit() {
	s.rec.keep = false
	s.rec.free()
}

// replayable reports whether the source keeps what it read for a replay:
// a compressed body, before commit.
func (s *source) replayable() bool { return s.rec.keep }

// replay returns the origin's body as it sent it: what was read, then the
// rest. ok is false when more was read than could be recorded.
func (s *source) replay() (io.ReadCloser, bool) {
	if s.rec.lost || !s.rec.keep {
		return nil, false
	}
	// The record goes with the body; its buffer is not returned to the
	// pool.
	body := readCloser{io.MultiReader(bytes.NewReader(s.rec.buf), s.raw), s.raw}
	s.rec.buf, s.rec.keep = nil, false
	s.release()
	return body, true
}

// Close releases the decoders and closes the origin's body.
func (s *source) Close() error {
	s.rec.free()
	s.release()
	return s.raw.Close()
}

func (s *source) release() {
	if s.gz != nil {
		gzipReaders.Put(s.gz)
		s.gz = nil
	}
	if s.bro != nil {
		s.bro.Reset(nil)
		brotliReaders.Put(s.bro)
		s.bro = nil
	}
	if s.br != nil {
		s.br.Reset(nil)
		bufReaders.Put(s.br)
		s.br = nil
	}
	s.dec = eofReader{}
}

// putSource returns a closed source that nothing refers to any more.
func putSource(s *source) {
	*s = source{}
	sources.Put(s)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type readCloser struct {
	io.Reader
	io.Closer
}
