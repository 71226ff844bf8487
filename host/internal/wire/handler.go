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
}

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
	w := &handlerWriter{req: req, header: http.Header{}}
	next, stop := iter.Pull(func(yield func([]byte) bool) {
		w.yield = yield
		defer func() {
			if v := recover(); v != nil {
				err, ok := v.(error)
				if !ok || !errors.Is(err, http.ErrAbortHandler) {
					log := t.Logger
					if log == nil {
						log = slog.Default()
					}
					log.Error("handler panicked", "path", in.URL.Path, "panic", fmt.Sprint(v))
					err = fmt.Errorf("handler panicked: %v", v)
				}
				w.err = err
			}
		}()
		t.Handler.ServeHTTP(w, in)
		w.WriteHeader(http.StatusOK) // a handler that wrote nothing: 200, no body
	})
	// The first value is the headers' (nil), unless the handler panicked
	// before it wrote them.
	if _, ok := next(); !ok || w.resp == nil {
		stop()
		if w.err == nil {
			w.err = errors.New("handler returned no response")
		}
		return nil, w.err
	}
	w.resp.Body = &handlerBody{w: w, next: next, stop: stop}
	return w.resp, nil
}

// handlerWriter is the handler's ResponseWriter: WriteHeader makes the
// response RoundTrip returns, Write hands its bytes to the body's Read.
type handlerWriter struct {
	req    *http.Request
	header http.Header
	yield  func([]byte) bool

	resp *http.Response
	// closed: the body was closed; the handler's writes fail.
	closed bool
	// err is the handler's panic, which the body's Read returns after
	// what it wrote.
	err error
}

func (w *handlerWriter) Header() http.Header { return w.header }

func (w *handlerWriter) WriteHeader(code int) {
	if w.resp != nil || w.closed || code < 200 {
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
	w.WriteHeader(http.StatusOK)
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	if len(p) == 0 {
		return 0, nil
	}
	// The body's Read copies p out; yield returns once it has all of it
	// and asks for more, so p is the handler's again when Write returns.
	if !w.yield(p) {
		w.closed = true
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
	w    *handlerWriter
	next func() ([]byte, bool)
	stop func()

	// mu keeps a Close from another goroutine out of a Read under way:
	// the coroutine is resumed by one goroutine at a time.
	mu      sync.Mutex
	pending []byte
	done    bool
}

func (b *handlerBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) == 0 {
		if b.done {
			return 0, io.ErrClosedPipe
		}
		v, ok := b.next()
		if !ok {
			if b.w.err != nil {
				return 0, b.w.err
			}
			return 0, io.EOF
		}
		b.pending = v
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
	if !b.done {
		b.done, b.pending = true, nil
		b.stop()
	}
	return nil
}

var (
	_ http.RoundTripper = (*HandlerTransport)(nil)
	_ http.Flusher      = (*handlerWriter)(nil)
)
