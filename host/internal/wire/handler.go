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
			w.deliver()
			pipe.CloseWithError(w.end())
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
	// length is the Content-Length the handler declared (-1: none),
	// and written what it wrote of the body (see short).
	length, written int64
	// held is the response of a handler that set no Content-Type, kept
	// from RoundTrip until the body's first bytes name its type (see
	// sniff); delivered once it, or any response, went to RoundTrip.
	held      *http.Response
	sniffed   []byte
	delivered bool
	// announced are the trailers the handler announced (the keys of the
	// response's Trailer, which the proxy may change meanwhile);
	// trailers the values kept as the handler returned (end).
	announced map[string]bool
	trailers  http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

// sent reports whether RoundTrip has its answer: a response, or an
// error.
func (w *pipeWriter) sent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.delivered
}

func (w *pipeWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status, w.err, w.held, w.delivered = -1, err, nil, true
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
	w.length = resp.ContentLength
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
	ct, typed := h["Content-Type"]
	if typed && len(ct) == 0 {
		// Set to none, which net/http's server reads as "do not sniff":
		// the proxy reads an absent type so.
		delete(h, "Content-Type")
	}
	if !typed && bodyAllowed(code) && h.Get("Content-Encoding") == "" && h.Get("Transfer-Encoding") == "" {
		// net/http gives a body written without a type the type its
		// first bytes show (http.DetectContentType: a page written
		// with fmt.Fprint is text/html), which handlers count on; the
		// proxy, which leaves an origin's untyped body untyped, would
		// pass such a page unpersonalized and untyped.
		w.held = resp
		return
	}
	w.delivered = true
	w.ready <- resp
}

// bodyAllowed reports whether a response of status code has a body, as
// net/http's server tells it.
func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}

// sniff keeps the first bytes of the body of a response held for its
// type, and delivers it once they are enough to tell it (512 bytes, all
// http.DetectContentType reads). w.mu is held.
func (w *pipeWriter) sniff(p []byte) {
	if w.held == nil || len(p) == 0 {
		return
	}
	w.sniffed = append(w.sniffed, p[:min(len(p), sniffLen-len(w.sniffed))]...)
	if len(w.sniffed) == sniffLen {
		w.deliverLocked()
	}
}

const sniffLen = 512

// deliver hands RoundTrip a response held for its type, typed by the
// bytes written so far, as net/http types it when the handler flushes or
// returns before writing 512 bytes (and leaves it untyped when none
// were).
func (w *pipeWriter) deliver() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deliverLocked()
}

func (w *pipeWriter) deliverLocked() {
	if w.held == nil {
		return
	}
	resp := w.held
	if len(w.sniffed) > 0 {
		resp.Header.Set("Content-Type", http.DetectContentType(w.sniffed))
	}
	w.held, w.sniffed, w.delivered = nil, nil, true
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
	if code < 100 || code == 101 || trace == nil || trace.Got1xxResponse == nil || ctx.Err() != nil || w.decided() {
		return
	}
	trace.Got1xxResponse(code, textproto.MIMEHeader(w.header.Clone()))
}

// end keeps, as the handler returns, the values of its trailers (the
// announced names and the http.TrailerPrefix ones), and returns what the
// body ends with (see short).
func (w *pipeWriter) end() error {
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
	return w.short()
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

// decided reports whether the handler has written its final status.
func (w *pipeWriter) decided() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status != 0
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.status == 0 {
		w.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		w.mu.Lock()
	}
	// Sniffed before it goes into the pipe: a write larger than the
	// pipe waits for the proxy to read, which it does once it has the
	// response.
	w.sniff(p)
	w.written += int64(len(p))
	w.mu.Unlock()
	return w.pipe.Write(p)
}

// short returns the error of a body the handler ended before the
// Content-Length it declared, nil for any other. net/http's server cuts
// such a response (it closes the connection), so that no client or cache
// takes the part for the whole; the proxy reads the error as an origin's
// that broke off, and does the same, where a rewritten page would
// otherwise go out whole-looking, with a length of its own. A HEAD, a
// 204 and a 304 have no body to fall short. w.mu is held.
func (w *pipeWriter) short() error {
	if w.length < 0 || w.written >= w.length || !bodyAllowed(w.status) || w.req.Method == http.MethodHead {
		return nil
	}
	return fmt.Errorf("%w: the handler wrote %d bytes of the %d its Content-Length declared", io.ErrUnexpectedEOF, w.written, w.length)
}

// Flush sends the status and headers, 200 when none was written, as
// net/http's does (an event stream is open before its first event), and
// a response held for its type (see deliver); every write can be read as
// soon as it returns.
func (w *pipeWriter) Flush() {
	w.WriteHeader(http.StatusOK)
	w.deliver()
}

// Hijack is refused: an in-process upstream cannot take over the
// visitor's connection through the proxy.
func (w *pipeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("bespoke: hijacking is not supported behind the personalizing middleware")
}

var (
	_ http.RoundTripper = (*HandlerTransport)(nil)
	_ http.Flusher      = (*pipeWriter)(nil)
)
