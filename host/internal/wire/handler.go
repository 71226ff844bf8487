package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// HandlerTransport is a RoundTripper that answers with an in-process
// handler: the proxy then personalizes what the handler writes as it
// would an origin's response, streaming. The handler sees the request as
// a server would (no scheme or host in its URL, the visitor's Host and
// RemoteAddr, the request's context), with the proxy's forwarding headers.
type HandlerTransport struct {
	Handler http.Handler
	// Logger receives the handler's panics; nil means slog.Default().
	Logger *slog.Logger

	mu     sync.Mutex
	idle   []*runner
	closed bool
}

// maxIdleRunners bounds the runners kept between requests: about the
// requests a process runs at once, each an idle goroutine and its stack.
const maxIdleRunners = 64

// RoundTrip runs the handler as a coroutine of the caller (iter.Pull)
// and returns when it has written its headers (or returned); each Write
// then hands its bytes to the body's Read, so memory stays bounded
// whatever the handler writes.
//
// A coroutine, not a goroutine and a pipe: the handler's writes and the
// proxy's reads take turns on one thread, where a pipe woke the other
// goroutine on another thread at every write (futex calls, an idle
// thread started): a third less time a request of the shop page in
// BenchmarkMiddleware, the Caddy module's path. The price is that the
// caller waits for the handler: a handler that ignores its request's
// context keeps RoundTrip until it writes its headers, where the pipe
// let RoundTrip return at the cancellation (and the handler run on).
//
// The coroutine is kept for the next request when the response ends
// (a runner): a new one would grow its stack again for each request,
// and Caddy's handlers run deep (12 µs a request in a CPU profile of
// caddy-bespoke under load).
func (t *HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	in.URL.Scheme, in.URL.Host = "", ""
	in.RequestURI = req.URL.RequestURI()
	if req.Host != "" && req.Host != ServeOrigin.Host {
		in.Host = req.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := &handlerWriter{req: req, in: in, header: http.Header{}}
	r := t.runner()
	r.job = w
	// The handler runs until it writes its headers, or returns without
	// them (it panicked: a handler that writes nothing gets a 200).
	r.resume()
	if w.resp == nil {
		t.release(r)
		if w.err == nil {
			w.err = errors.New("handler returned no response")
		}
		return nil, w.err
	}
	w.resp.Body = &handlerBody{t: t, w: w, r: r}
	return w.resp, nil
}

// runner returns an idle runner, or a new one.
func (t *HandlerTransport) runner() *runner {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		r := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return r
	}
	t.mu.Unlock()
	r := &runner{t: t}
	r.next, r.stop = iter.Pull(r.loop)
	return r
}

// release keeps r for the next request, or ends it when enough are kept.
func (t *HandlerTransport) release(r *runner) {
	r.job = nil
	t.mu.Lock()
	if !t.closed && len(t.idle) < maxIdleRunners {
		t.idle = append(t.idle, r)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	r.stop()
}

// CloseIdleConnections ends the runners kept between requests (the
// name is http.Transport's, for what is idle in a transport).
func (t *HandlerTransport) CloseIdleConnections() { t.closeIdle(false) }

// Close ends the runners kept between requests, and from then on those of
// the requests that end. Requests still work, each on a runner of its
// own.
func (t *HandlerTransport) Close() { t.closeIdle(true) }

func (t *HandlerTransport) closeIdle(closing bool) {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.closed = t.closed || closing
	t.mu.Unlock()
	for _, r := range idle {
		r.stop()
	}
}

// A runner is a coroutine that runs the handler for one request after
// another. Between two, it waits in yield for its next job.
type runner struct {
	t          *HandlerTransport
	next       func() ([]byte, bool)
	stop       func()
	job        *handlerWriter
	yieldBytes func([]byte) bool
}

// resume runs the coroutine until it hands over bytes or headers, or its
// job ends.
func (r *runner) resume() []byte {
	v, _ := r.next()
	return v
}

// loop serves jobs until the runner is stopped.
func (r *runner) loop(yield func([]byte) bool) {
	r.yieldBytes = yield
	for {
		w := r.job
		r.serve(w)
		w.finished = true
		// The end of the response: yield returns with the next job, or
		// false when the runner is stopped.
		if !yield(nil) {
			return
		}
	}
}

// serve runs the handler for w; a panic ends the response with an error.
func (r *runner) serve(w *handlerWriter) {
	defer func() {
		if v := recover(); v != nil {
			err, ok := v.(error)
			if !ok || !errors.Is(err, http.ErrAbortHandler) {
				log := r.t.Logger
				if log == nil {
					log = slog.Default()
				}
				log.Error("handler panicked", "path", w.in.URL.Path, "panic", fmt.Sprint(v))
				err = fmt.Errorf("handler panicked: %v", v)
			}
			w.err = err
		}
	}()
	w.yield = r.yieldBytes
	r.t.Handler.ServeHTTP(w, w.in)
	w.WriteHeader(http.StatusOK) // a handler that wrote nothing: 200, no body
}

// handlerWriter is the handler's ResponseWriter: WriteHeader makes the
// response RoundTrip returns, Write hands its bytes to the body's Read.
type handlerWriter struct {
	req    *http.Request
	in     *http.Request // as the handler sees it
	header http.Header
	yield  func([]byte) bool

	resp *http.Response
	// closed: the body was closed; the handler's writes fail.
	closed bool
	// finished: the handler returned.
	finished bool
	// err is the handler's panic, which the body's Read returns after
	// what it wrote.
	err error
}

func (w *handlerWriter) Header() http.Header { return w.header }

// errWriteAfterReturn is what a handler that writes after it returned
// gets: its runner may be running another request's.
var errWriteAfterReturn = errors.New("bespoke: write after the handler returned")

func (w *handlerWriter) WriteHeader(code int) {
	if w.resp != nil || w.closed || w.finished || code < 200 {
		// Informational responses are not forwarded; a second call is a
		// no-op as with net/http.
		return
	}
	h := w.header.Clone()
	resp := &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: -1,
		Request:       w.req,
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			resp.ContentLength = n
		}
	}
	w.resp = resp
	if !w.yield(nil) {
		w.closed = true
	}
}

func (w *handlerWriter) Write(p []byte) (int, error) {
	if w.finished {
		return 0, errWriteAfterReturn
	}
	w.WriteHeader(http.StatusOK)
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	if len(p) == 0 {
		return 0, nil
	}
	// The body's Read copies p out; yield returns once it has all of it
	// and asks for more (or the body was closed), so p is the handler's
	// again when Write returns.
	if !w.yield(p) {
		w.closed = true
	}
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	return len(p), nil
}

// Flush is a no-op: every write reaches the body's Read at once.
func (w *handlerWriter) Flush() {}

// Hijack is refused: an in-process upstream cannot take over the
// visitor's connection through the proxy.
func (w *handlerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("bespoke: hijacking is not supported behind the personalizing middleware")
}

// handlerBody reads what the handler writes, running it until it writes
// the next bytes or returns.
type handlerBody struct {
	t *HandlerTransport
	w *handlerWriter
	// r runs the handler until it returns; nil after (it may be running
	// another request's).
	r *runner

	// mu keeps a Close from another goroutine out of a Read under way:
	// the coroutine is resumed by one goroutine at a time.
	mu      sync.Mutex
	pending []byte
	closed  bool
}

func (b *handlerBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) == 0 {
		switch {
		case b.closed:
			return 0, io.ErrClosedPipe
		case b.r == nil:
			if b.w.err != nil {
				return 0, b.w.err
			}
			return 0, io.EOF
		}
		b.pending = b.r.resume()
		if b.w.finished {
			b.t.release(b.r)
			b.r = nil
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// Close ends the body: the handler's Write under way, and any after it,
// fail, and Close returns when the handler has returned.
func (b *handlerBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed, b.pending = true, nil
	if b.r != nil {
		b.w.closed = true
		for !b.w.finished {
			b.r.resume()
		}
		b.t.release(b.r)
		b.r = nil
	}
	return nil
}

var (
	_ http.RoundTripper = (*HandlerTransport)(nil)
	_ http.Flusher      = (*handlerWriter)(nil)
)
