package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

// HandlerTransport is a RoundTripper that answers with an in-process
// handler: the proxy then personalizes what the handler writes as it
// would an origin's response, streaming. The handler sees the request as
// a server would (no scheme or host in its URL, the visitor's Host and
// RemoteAddr, the request's context), with the forwarding headers it came
// with (the proxy, middleware then, adds none: see proxy.Config.InProcess).
type HandlerTransport struct {
	Handler http.Handler
	// Logger receives the handler's panics; nil means slog.Default().
	Logger *slog.Logger

	workers workers
}

// Close ends the goroutines kept between requests (see workers); the
// transport still serves, each request on a goroutine of its own.
func (t *HandlerTransport) Close() { t.workers.close() }

// RoundTrip runs the handler in its own goroutine and returns when it has
// written its headers (or returned); the body streams through a bounded
// buffer (bufPipe), so memory stays bounded whatever the handler writes.
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
	pipe := newBufPipe()
	w := &pipeWriter{req: req, header: http.Header{}, pipe: pipe, ready: make(chan *http.Response, 1)}
	t.workers.run(func() {
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
				if !w.sent() {
					w.fail(err)
				}
				pipe.CloseWithError(err)
				return
			}
			w.WriteHeader(http.StatusOK)
			w.endTrailers()
			pipe.CloseWithError(nil)
		}()
		t.Handler.ServeHTTP(w, in)
	})
	select {
	case resp := <-w.ready:
		if resp == nil {
			return nil, w.err
		}
		resp.Body = &trailerBody{pipe: pipe, w: w, resp: resp}
		return resp, nil
	case <-req.Context().Done():
		pipe.closeRead(req.Context().Err())
		return nil, req.Context().Err()
	}
}

// pipeWriter is the handler's ResponseWriter: WriteHeader hands the
// response to RoundTrip, Write feeds the pipe its body is read from.
type pipeWriter struct {
	req    *http.Request
	header http.Header
	pipe   *bufPipe
	ready  chan *http.Response

	mu     sync.Mutex
	status int
	err    error
	// announced are the trailers the handler announced (the keys of the
	// response's Trailer, which the proxy may change meanwhile);
	// trailers the values kept as the handler returned (endTrailers).
	announced map[string]bool
	trailers  http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) sent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status != 0
}

func (w *pipeWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status, w.err = -1, err
	w.ready <- nil
}

func (w *pipeWriter) WriteHeader(code int) {
	if code < 200 {
		w.informational(code)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status != 0 {
		return // a second call is a no-op, as with net/http
	}
	w.status = code
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
	// Trailers, as net/http's client gives them: announced ones as keys
	// of resp.Trailer (and no Trailer header), their values once the
	// body has been read to its end (see trailerBody). A handler may
	// also set http.TrailerPrefix keys after writing, unannounced.
	// Unannounced ones still come: the map must exist for them.
	resp.Trailer = http.Header{}
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			if k = textproto.TrimString(k); k != "" {
				k = http.CanonicalHeaderKey(k)
				resp.Trailer[k] = nil
				if w.announced == nil {
					w.announced = map[string]bool{}
				}
				w.announced[k] = true
			}
		}
	}
	delete(h, "Trailer")
	w.ready <- resp
}

// informational forwards a 1xx response (103 Early Hints) where an
// origin's goes: to the client trace the reverse proxy reads them from,
// which writes it to the visitor. Only before the final response, and
// while the request lives: once RoundTrip returned on a cancelled
// request, the proxy's handler may have returned too. 101 is no
// response to forward (the handler gets upgrades as they came).
func (w *pipeWriter) informational(code int) {
	ctx := w.req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	if code < 100 || code == 101 || trace == nil || trace.Got1xxResponse == nil || ctx.Err() != nil || w.sent() {
		return
	}
	trace.Got1xxResponse(code, textproto.MIMEHeader(w.header.Clone()))
}

// endTrailers keeps, as the handler returns, the values of its trailers:
// the announced names and the http.TrailerPrefix ones.
func (w *pipeWriter) endTrailers() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var t http.Header
	for k, v := range w.header {
		name, unannounced := strings.CutPrefix(k, http.TrailerPrefix)
		if !w.announced[k] && !unannounced || len(v) == 0 {
			continue
		}
		if t == nil {
			t = http.Header{}
		}
		t[http.CanonicalHeaderKey(name)] = append([]string(nil), v...)
	}
	w.trailers = t
}

// trailerBody is a response body that fills the response's Trailer when
// read to its end, as net/http's does: on the reader's goroutine, which
// reads the map after the body, so nothing reads it while it changes.
type trailerBody struct {
	pipe *bufPipe
	w    *pipeWriter
	resp *http.Response
	done bool
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.pipe.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.w.mu.Lock()
		for k, v := range b.w.trailers {
			b.resp.Trailer[k] = v
		}
		b.w.mu.Unlock()
	}
	return n, err
}

func (b *trailerBody) Close() error { return b.pipe.Close() }

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pipe.Write(p)
}

// Flush is a no-op: every write can be read as soon as it returns.
func (w *pipeWriter) Flush() {}

// Hijack is refused: an in-process upstream cannot take over the
// visitor's connection through the proxy.
func (w *pipeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("bespoke: hijacking is not supported behind the personalizing middleware")
}

var (
	_ http.RoundTripper = (*HandlerTransport)(nil)
	_ http.Flusher      = (*pipeWriter)(nil)
)
