package server

import (
	"bytes"
	"strconv"
)

// h1Scanner follows the HTTP/1.1 request stream of one connection as the
// server reads it, header block by header block, skipping bodies by their
// framing, and reports for each request whether its header block carries
// both Transfer-Encoding and Content-Length. net/http accepts such a
// request (it removes Content-Length and reads the body by its chunks)
// and keeps the connection open, so a front proxy that framed it by
// Content-Length and bespoke disagree on where the next request starts:
// request smuggling (RFC 9112 6.1, 11.2). The server refuses them instead,
// which it can only do knowing what the header block held; so too an
// HTTP/1.0 request with Transfer-Encoding, whose header net/http drops.
//
// The scanner only has to agree with net/http on requests net/http
// accepts: on anything else net/http answers 400 and closes the
// connection. An Upgrade or a CONNECT does not stop it: net/http reads
// the next request after it unless the handler took the connection over
// (a 101), and then the server stops the scan (see guardConn.hijacked).
// When it cannot follow the stream (HTTP/2's preface, bytes it cannot
// parse) it stops, and says so.
type h1Scanner struct {
	state  uint8
	line   []byte // the header block or chunk line being read
	remain int64  // body or chunk bytes left to skip
	// verdict is told, for each request, its request line and whether it
	// carries both Transfer-Encoding and Content-Length, Transfer-Encoding
	// in HTTP/1.0, or a header line folded onto the next (each is
	// refused).
	verdict func(requestLine []byte, smuggling bool)
}

const (
	scanHeader    uint8 = iota // reading a header block
	scanBody                   // skipping remain bytes of body
	scanChunkLine              // reading a chunk-size line
	scanChunkData              // skipping remain bytes of chunk data, then CRLF
	scanChunkEnd               // the CRLF after chunk data
	scanTrailer                // reading the trailer section
	scanStopped                // following no further
)

// maxScanLine bounds a header block (net/http refuses larger ones with
// 431 and closes the connection) and a chunk line.
const maxScanLine = 1 << 20

// stopped reports whether the scanner has stopped following the stream.
func (s *h1Scanner) stopped() bool { return s.state == scanStopped }

// stop stops following the stream, and lets go of the line it was
// reading: what comes after a 101 is another protocol's, which may hold
// no line end for a long time.
func (s *h1Scanner) stop() { s.state, s.line = scanStopped, nil }

// feed follows p, the next bytes read from the connection.
func (s *h1Scanner) feed(p []byte) {
	for len(p) > 0 && s.state != scanStopped {
		switch s.state {
		case scanBody, scanChunkData:
			n := int64(len(p))
			if n > s.remain {
				n = s.remain
			}
			s.remain -= n
			p = p[n:]
			if s.remain == 0 {
				if s.state == scanBody {
					s.state = scanHeader
				} else {
					s.state = scanChunkEnd
				}
			}
		case scanChunkEnd:
			// net/http requires CRLF after chunk data.
			s.line = append(s.line, p[0])
			p = p[1:]
			if len(s.line) == 2 {
				if string(s.line) != "\r\n" {
					s.state = scanStopped
					return
				}
				s.line = s.line[:0]
				s.state = scanChunkLine
			}
		default:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.line = append(s.line, p...)
				if len(s.line) > maxScanLine {
					s.state = scanStopped
				}
				return
			}
			s.line = append(s.line, p[:i+1]...)
			p = p[i+1:]
			if len(s.line) > maxScanLine {
				s.state = scanStopped
				return
			}
			s.lineDone()
		}
	}
}

// lineDone handles a complete line (ending in LF) in s.line.
func (s *h1Scanner) lineDone() {
	switch s.state {
	case scanHeader:
		// A header block ends with an empty line; keep reading until then.
		if !blockDone(s.line) {
			return
		}
		s.headerBlock(s.line)
		s.line = s.line[:0]
	case scanChunkLine:
		size, ok := chunkSize(s.line)
		s.line = s.line[:0]
		switch {
		case !ok:
			s.state = scanStopped
		case size == 0:
			s.state = scanTrailer
		default:
			s.remain, s.state = size, scanChunkData
		}
	case scanTrailer:
		if isEmptyLine(s.line) {
			s.state = scanHeader
		}
		s.line = s.line[:0]
	}
}

// blockDone reports whether b, a header block read so far ending in LF,
// ends with an empty line (leading empty lines before a request line do
// not count).
func blockDone(b []byte) bool {
	t := bytes.TrimLeft(b, "\r\n")
	if len(t) == 0 {
		return false
	}
	return bytes.HasSuffix(t, []byte("\n\r\n")) || bytes.HasSuffix(t, []byte("\n\n"))
}

func isEmptyLine(l []byte) bool {
	return string(l) == "\n" || string(l) == "\r\n"
}

// headerBlock reads a complete header block: the verdict, and how its
// body is framed.
func (s *h1Scanner) headerBlock(b []byte) {
	b = bytes.TrimLeft(b, "\r\n")
	lines := bytes.Split(b, []byte("\n"))
	requestLine := bytes.TrimRight(lines[0], "\r")
	var te, cl [][]byte
	folded := false
	for _, l := range lines[1:] {
		l = bytes.TrimRight(l, "\r")
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			// A value folded onto the next line (obs-fold): net/http
			// joins it to the line before, which this scanner does not,
			// so the two could read another framing or upgrade. Refused,
			// as RFC 9112 5.2 allows and nginx does.
			folded = true
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			continue
		}
		name, value := l[:colon], bytes.TrimSpace(l[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			te = append(te, value)
		case bytes.EqualFold(name, []byte("Content-Length")):
			cl = append(cl, value)
		}
	}
	// HTTP/1.0 has no Transfer-Encoding: a request that has one is
	// framed wrong whatever else it says (RFC 9112 6.1). net/http reads
	// it by its Content-Length, or as having no body, and the chunks
	// after it as the next request.
	http10 := bytes.HasSuffix(requestLine, []byte(" HTTP/1.0"))
	if s.verdict != nil {
		s.verdict(requestLine, len(te) > 0 && (len(cl) > 0 || http10) || folded)
	}
	if http10 {
		// net/http ignores Transfer-Encoding in HTTP/1.0 requests.
		te = nil
	}
	switch {
	case bytes.HasPrefix(requestLine, []byte("PRI * HTTP/2")), folded:
		// HTTP/2, or a request refused and its connection closed.
		s.state = scanStopped
	case len(te) > 0:
		if len(te) != 1 || !bytes.EqualFold(te[0], []byte("chunked")) {
			// net/http answers 501 and closes.
			s.state = scanStopped
			return
		}
		s.state = scanChunkLine
	case len(cl) > 0:
		n, err := strconv.ParseInt(string(cl[0]), 10, 64)
		if err != nil || n < 0 {
			s.state = scanStopped
			return
		}
		for _, v := range cl[1:] {
			if string(v) != string(cl[0]) {
				s.state = scanStopped // net/http refuses differing lengths
				return
			}
		}
		if n > 0 {
			s.remain, s.state = n, scanBody
		}
	}
}

// chunkSize parses a chunk-size line: hex digits, optional extensions.
func chunkSize(l []byte) (int64, bool) {
	l = bytes.TrimRight(l, "\r\n")
	if i := bytes.IndexByte(l, ';'); i >= 0 {
		l = l[:i]
	}
	l = bytes.TrimRight(l, " \t")
	if len(l) == 0 || len(l) > 16 {
		return 0, false
	}
	var n int64
	for _, c := range l {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
		if n < 0 {
			return 0, false
		}
	}
	return n, true
}
