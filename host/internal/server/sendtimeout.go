package server

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// withSendTimeout bounds each write to the visitor to d (nginx's
// send_timeout): a visitor who stops reading has its connection closed
// once a write has waited d (at least d/2 on HTTP/1: see deadlineWriter),
// rather than holding the request, and the origin's connection it reads
// from (of the few max_conns_per_host allows), for as long as it stays.
// 0 leaves writes unbounded.
//
// HTTP/1: the deadline is the socket's, and bounds only writes in
// progress; it stands between writes, and when the handler returns it is
// set once more, for the end of the response net/http writes after it
// (net/http clears it once that end is written, so a connection kept
// alive reads and answers its next request without one:
// TestSendTimeoutBetweenRequests). An upgraded connection (a WebSocket) is hijacked
// before any write goes through here, and never gets one.
//
// HTTP/2: a stream's deadline resets the stream when it passes, written
// to or not, so it is set before each write and cleared after; the
// connection's own writes are bounded by http.HTTP2Config's
// WriteByteTimeout (see Serve), which a visitor with large flow-control
// windows would otherwise never reach.
func withSendTimeout(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d, h2: r.ProtoMajor == 2}
		if !dw.h2 {
			// d from when the handler returns (a deferred call's
			// arguments are taken at the defer: d from its start cut a
			// response that lasted longer than d at its end).
			defer func() { dw.rc.SetWriteDeadline(time.Now().Add(d)) }()
		}
		next.ServeHTTP(dw, r)
	})
}

// deadlineWriter sets a write deadline before each write.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
	h2 bool
	// renew (HTTP/1) is when the deadline set is no longer d/2 away:
	// writes before it keep it (setting one costs a few hundred
	// nanoseconds, and a page goes in several writes), so a write that
	// blocks is cut after between d/2 and d.
	renew time.Time
}

// arm sets the deadline before a write, and returns what undoes it after.
func (w *deadlineWriter) arm() (done func()) {
	now := time.Now()
	if w.h2 {
		if w.rc.SetWriteDeadline(now.Add(w.d)) != nil {
			return func() {}
		}
		return func() { w.rc.SetWriteDeadline(time.Time{}) }
	}
	if now.Before(w.renew) {
		return func() {}
	}
	if w.rc.SetWriteDeadline(now.Add(w.d)) == nil {
		w.renew = now.Add(w.d / 2)
	}
	return func() {}
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	done := w.arm()
	defer done()
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher, which the proxy asks its writer for.
func (w *deadlineWriter) Flush() {
	done := w.arm()
	defer done()
	w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the server's writer (to
// hijack an upgraded connection, set deadlines).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withHeadLimit refuses an HTTP/1 request whose head (request line and
// headers, as sent) passes limit bytes: with 414 when its request-target
// alone takes it past (RFC 9112 3: a target longer than the server parses
// is URI Too Long), with 431 otherwise. The server reads heads up to
// twice the limit (see headReadLimit), so that the status names what was
// too long; past that, net/http answers 431 whatever the cause over
// HTTP/1, and over HTTP/2, which refuses a header list past the same
// bound (advertised as SETTINGS_MAX_HEADER_LIST_SIZE), closes the
// connection with GOAWAY, its other streams with it.
func withHeadLimit(next http.Handler, limit int) http.Handler {
	if limit <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor <= 2 {
			if n := headSize(r); n > limit {
				if r.ProtoMajor == 1 {
					w.Header().Set("Connection", "close")
				}
				if n-len(r.RequestURI) <= limit {
					http.Error(w, "414 URI Too Long", http.StatusRequestURITooLong)
				} else {
					http.Error(w, "431 Request Header Fields Too Large", http.StatusRequestHeaderFieldsTooLarge)
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headReadLimit is the http.Server's MaxHeaderBytes for a configured
// limit: net/http refuses a head past it (plus 4 KiB) before any handler
// sees it, always with 431, so it reads twice the limit and lets
// withHeadLimit refuse what passes the limit itself, and say why.
func headReadLimit(limit int) int {
	if limit <= 0 {
		return limit
	}
	return 2 * limit
}

// headSize is the bytes of r's request line and headers as sent, but for
// the spaces around values net/http dropped: at most what was read.
func headSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// withBodyTimeout bounds a visitor's silence in the middle of its
// request's body to d (nginx's client_body_timeout): the read that waits
// longer fails, the proxy answers 408 (see proxy.Proxy's error handler),
// and the origin's connection, which the upload was sent on, is closed.
// Without it a visitor who sent part of a body and stopped held its
// connection and one to the origin for as long as it stayed. 0 leaves
// reads unbounded.
//
// The deadline is set before a read when less than d/2 of it is left
// (setting one costs a few hundred nanoseconds, and a body comes in many
// reads), so a visitor silent for between d/2 and d is cut; it is cleared
// once the body ends or is closed, so that it bounds neither the
// response nor, over HTTP/1, the wait for the connection's next request.
func withBodyTimeout(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			b := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: d}
			r.Body = b
			defer b.clear()
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody sets a read deadline before the reads of a request body.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	d     time.Duration
	mu    sync.Mutex
	renew time.Time // when the deadline set is no longer d/2 away
	set   bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if now := time.Now(); now.After(b.renew) {
		if b.rc.SetReadDeadline(now.Add(b.d)) == nil {
			b.renew, b.set = now.Add(b.d/2), true
		}
	}
	b.mu.Unlock()
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.clear()
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	b.clear()
	return b.ReadCloser.Close()
}

// clear takes the deadline away, once the body is done with; a read
// after it sets it again.
func (b *deadlineBody) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.set {
		b.rc.SetReadDeadline(time.Time{})
		b.set, b.renew = false, time.Time{}
	}
}
