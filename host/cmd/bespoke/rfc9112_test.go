package main

// A strict reading of RFC 9112 request streams: the judge of the request
// boundary tests (desync_test.go). It takes what the RFC says a server
// must accept, and stops, as a server answering 400, 501 or closing the
// connection would, at anything the RFC says is invalid, ambiguous, or
// the end of the connection; it never guesses.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// rfcRequest is a request as the origin would see it: method, target in
// origin form, and body.
type rfcRequest struct {
	method, target string
	bodyLen        int
	bodySum        string
	xff            string // X-Forwarded-For, which says who sent it
}

func (r rfcRequest) String() string {
	return fmt.Sprintf("%s %s (%d bytes %s)", r.method, r.target, r.bodyLen, r.bodySum)
}

func newRFCRequest(method, target string, body []byte) rfcRequest {
	sum := sha256.Sum256(body)
	return rfcRequest{method: method, target: target, bodyLen: len(body), bodySum: hex.EncodeToString(sum[:4])}
}

// rfcParse reads the requests of stream in order until the stream ends,
// a request must be refused, or the connection must close after one.
// It returns the requests read whole and, when it stopped before the end
// of the stream, why.
func rfcParse(stream []byte) (reqs []rfcRequest, stop string) {
	p := &rfcParser{b: stream}
	for {
		// RFC 9112 2.2: empty lines before a request line are ignored.
		for bytes.HasPrefix(p.b, []byte("\r\n")) {
			p.b = p.b[2:]
		}
		if len(p.b) == 0 {
			return reqs, ""
		}
		r, keepAlive, err := p.request()
		if err != nil {
			return reqs, err.Error()
		}
		reqs = append(reqs, r)
		if !keepAlive {
			if len(p.b) > 0 {
				return reqs, "connection closes after " + r.target
			}
			return reqs, ""
		}
	}
}

// framingPrefix starts the reasons to stop that leave where the request
// ends unknown: its framing (RFC 9112 6) is invalid or ambiguous, or a
// field line folded (5.2), which can hide or make a framing field. A
// server that reads on past one, where another may not, desyncs.
const framingPrefix = "framing: "

func errFraming(format string, args ...any) error {
	return fmt.Errorf(framingPrefix+format, args...)
}

type rfcParser struct {
	b []byte
}

// line returns the next line without its CRLF; a bare CR or LF is an
// error (RFC 9112 2.2: a server may accept a bare LF, but it need not,
// and the strict reading does not).
func (p *rfcParser) line() ([]byte, error) {
	i := bytes.Index(p.b, []byte("\r\n"))
	if i < 0 {
		return nil, fmt.Errorf("incomplete line")
	}
	l := p.b[:i]
	if bytes.IndexByte(l, '\n') >= 0 || bytes.IndexByte(l, '\r') >= 0 {
		return nil, fmt.Errorf("bare CR or LF")
	}
	p.b = p.b[i+2:]
	return l, nil
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

// fields reads a field section (RFC 9112 5) up to its empty line.
func (p *rfcParser) fields() ([][2]string, error) {
	var fs [][2]string
	for {
		l, err := p.line()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return fs, nil
		}
		if l[0] == ' ' || l[0] == '\t' {
			return nil, errFraming("obs-fold")
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("field name %q", name)
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			// RFC 9110 5.5: VCHAR, obs-text, SP and HTAB.
			if c < 0x20 && c != '\t' || c == 0x7f {
				return nil, fmt.Errorf("control byte %#x in %s", c, name)
			}
		}
		fs = append(fs, [2]string{strings.ToLower(string(name)), string(value)})
	}
}

// list splits the values of a list-based field (RFC 9110 5.6.1), empty
// elements left out.
func list(values []string) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func (p *rfcParser) request() (rfcRequest, bool, error) {
	l, err := p.line()
	if err != nil {
		return rfcRequest{}, false, fmt.Errorf("request line: %v", err)
	}
	parts := bytes.Split(l, []byte(" "))
	if len(parts) != 3 || !isToken(parts[0]) {
		return rfcRequest{}, false, fmt.Errorf("request line %q", l)
	}
	method, target, version := string(parts[0]), string(parts[1]), string(parts[2])
	if version != "HTTP/1.1" && version != "HTTP/1.0" {
		return rfcRequest{}, false, fmt.Errorf("version %q", version)
	}
	for _, c := range []byte(target) {
		if c <= 0x20 || c >= 0x7f {
			return rfcRequest{}, false, fmt.Errorf("target %q", target)
		}
	}
	// RFC 9112 3.2: origin form, absolute form, asterisk form for
	// OPTIONS, authority form for CONNECT.
	switch {
	case strings.HasPrefix(target, "/"):
	case strings.HasPrefix(strings.ToLower(target), "http://"):
		rest := target[len("http://"):]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			target = "/"
		} else {
			target = rest[i:]
		}
	case target == "*" && method == "OPTIONS":
	case method == "CONNECT" && strings.IndexByte(target, '/') < 0 && strings.IndexByte(target, ':') > 0:
	default:
		return rfcRequest{}, false, fmt.Errorf("target %q", target)
	}
	fs, err := p.fields()
	if err != nil {
		return rfcRequest{}, false, err
	}
	var hosts, te, cl, conn, xff []string
	for _, f := range fs {
		switch f[0] {
		case "host":
			hosts = append(hosts, f[1])
		case "transfer-encoding":
			te = append(te, f[1])
		case "content-length":
			cl = append(cl, f[1])
		case "connection":
			conn = append(conn, f[1])
		case "x-forwarded-for":
			xff = append(xff, f[1])
		}
	}
	http10 := version == "HTTP/1.0"
	if !http10 && len(hosts) != 1 || len(hosts) > 1 {
		return rfcRequest{}, false, fmt.Errorf("%d Host fields", len(hosts))
	}
	keepAlive := !http10
	for _, o := range list(conn) {
		switch strings.ToLower(o) {
		case "close":
			keepAlive = false
		case "keep-alive":
			keepAlive = keepAlive || http10
		}
	}
	var body []byte
	switch {
	case len(te) > 0 && (http10 || len(cl) > 0):
		// RFC 9112 6.1: faulty framing, or smuggling; the connection
		// closes after it in any case.
		return rfcRequest{}, false, errFraming("Transfer-Encoding with Content-Length or in HTTP/1.0")
	case len(te) > 0:
		codings := list(te)
		if len(codings) != 1 || !strings.EqualFold(codings[0], "chunked") {
			return rfcRequest{}, false, errFraming("transfer codings %q (501)", te)
		}
		if body, err = p.chunked(); err != nil {
			return rfcRequest{}, false, err
		}
	case len(cl) > 0:
		// RFC 9110 8.6: a list of one same value may be taken as it;
		// an empty one is no length.
		var values []string
		for _, v := range cl {
			for _, e := range strings.Split(v, ",") {
				values = append(values, strings.Trim(e, " \t"))
			}
		}
		for _, v := range values {
			if v != values[0] || v == "" || strings.Trim(v, "0123456789") != "" {
				return rfcRequest{}, false, errFraming("Content-Length %q", cl)
			}
		}
		n, err := strconv.ParseInt(values[0], 10, 32)
		if err != nil {
			return rfcRequest{}, false, errFraming("Content-Length %q", cl)
		}
		if int64(len(p.b)) < n {
			return rfcRequest{}, false, fmt.Errorf("body cut short")
		}
		body, p.b = p.b[:n], p.b[n:]
	}
	r := newRFCRequest(method, target, body)
	r.xff = strings.Join(xff, ", ")
	return r, keepAlive, nil
}

// chunked reads a chunked body (RFC 9112 7.1) and its trailer section.
func (p *rfcParser) chunked() ([]byte, error) {
	var body []byte
	for {
		l, err := p.line()
		if err != nil {
			return nil, fmt.Errorf("chunk line: %v", err)
		}
		i := 0
		for i < len(l) && strings.IndexByte("0123456789abcdefABCDEF", l[i]) >= 0 {
			i++
		}
		if i == 0 {
			return nil, errFraming("chunk size %q", l)
		}
		// Leading zeros are allowed; a size past 2^32 is refused.
		digits := strings.TrimLeft(string(l[:i]), "0")
		size, err := strconv.ParseInt("0"+digits, 16, 64)
		if err != nil || len(digits) > 8 {
			return nil, errFraming("chunk size %q", l)
		}
		switch ext := l[i:]; {
		case len(bytes.Trim(ext, " \t")) == 0 && len(ext) > 0:
			// Not in the grammar, but no one reads it as anything
			// but the size, or refuses it.
			return nil, fmt.Errorf("whitespace after chunk size %q", l)
		case !chunkExt(ext):
			return nil, errFraming("chunk extension %q", ext)
		}
		if size == 0 {
			if _, err := p.fields(); err != nil {
				return nil, fmt.Errorf("trailer: %v", err)
			}
			return body, nil
		}
		if int64(len(p.b)) < size+2 {
			return nil, fmt.Errorf("chunk cut short")
		}
		if string(p.b[size:size+2]) != "\r\n" {
			return nil, errFraming("no CRLF after chunk data")
		}
		body = append(body, p.b[:size]...)
		p.b = p.b[size+2:]
	}
}

// chunkExt reports whether e is a valid chunk-ext:
// *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ).
func chunkExt(e []byte) bool {
	bws := func() {
		for len(e) > 0 && (e[0] == ' ' || e[0] == '\t') {
			e = e[1:]
		}
	}
	tok := func() bool {
		i := 0
		for i < len(e) && isTchar(e[i]) {
			i++
		}
		e = e[i:]
		return i > 0
	}
	for {
		if len(e) == 0 {
			return true
		}
		bws()
		if len(e) == 0 || e[0] != ';' {
			return false
		}
		e = e[1:]
		bws()
		if !tok() {
			return false
		}
		bws()
		if len(e) == 0 || e[0] != '=' {
			continue
		}
		e = e[1:]
		bws()
		if len(e) > 0 && e[0] == '"' {
			i := 1
			for ; i < len(e) && e[i] != '"'; i++ {
				if e[i] == '\\' {
					i++
				}
			}
			if i >= len(e) {
				return false
			}
			e = e[i+1:]
		} else if !tok() {
			return false
		}
	}
}
