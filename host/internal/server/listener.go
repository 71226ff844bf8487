package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/lograte"
)

// visitorListener accepts visitors' connections: with TLS it completes
// the handshake itself, so that it knows the protocol the client chose.
// HTTP/2 connections go to net/http as *tls.Conn (it serves HTTP/2 on
// them); HTTP/1 connections, with or without TLS, are wrapped in a
// guardConn, which follows their request stream to refuse smuggling (see
// h1Scanner).
type visitorListener struct {
	net.Listener
	tls     *tls.Config // nil: plain
	timeout time.Duration
	log     *slog.Logger
	// retry is what an accept that failed for a while does.
	retry acceptRetry
	// lim bounds the connections open at once; nil, no bound.
	lim *connLimit

	conns chan net.Conn
	errc  chan error
	done  chan struct{}
	once  sync.Once
	// start starts the TLS listener's accepting goroutine at the first
	// Accept: the fields its caller sets after newVisitorListener
	// (retry's count and shed) are set by then.
	start sync.Once
}

func newVisitorListener(ln net.Listener, cfg *tls.Config, handshakeTimeout time.Duration, lim *connLimit, log *slog.Logger) *visitorListener {
	l := &visitorListener{Listener: ln, tls: cfg, timeout: handshakeTimeout, lim: lim, log: log, done: make(chan struct{})}
	l.retry.log, l.retry.what = log, "a visitor's connection"
	if cfg != nil {
		l.conns = make(chan net.Conn)
		l.errc = make(chan error, 1)
	}
	return l
}

// Accept returns the next connection, its handshake done. An accept
// that fails for a while (out of file descriptors) is retried here (see
// acceptRetry), as the TLS listener's own accepting goroutine does.
func (l *visitorListener) Accept() (net.Conn, error) {
	if l.tls == nil {
		for {
			c, err := l.accept()
			if err == nil {
				return newGuardConn(c), nil
			}
			if !l.retry.failed(err, l.done) {
				return nil, err
			}
		}
	}
	l.start.Do(func() { go l.acceptTLS() })
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// acceptTLS accepts connections and handshakes each in its own goroutine,
// bounded by the handshake timeout, so that a slow client holds up no
// other.
func (l *visitorListener) acceptTLS() {
	for {
		c, err := l.accept()
		if err != nil {
			// Out of file descriptors (EMFILE), a connection reset
			// before it was accepted, ...: the listener is still
			// there, and serves again once the error is gone. (Handed
			// to net/http, which retries such an error with Accept, it
			// ended this loop, and nothing was accepted again.)
			if l.retry.failed(err, l.done) {
				continue
			}
			select {
			case l.errc <- err:
			case <-l.done:
			}
			return
		}
		go l.handshake(c)
	}
}

// accept accepts a connection once fewer than the limit are open (see
// connLimit), the connections meanwhile waiting in the listen queue.
func (l *visitorListener) accept() (net.Conn, error) {
	if l.lim == nil {
		c, err := l.Listener.Accept()
		if err == nil {
			l.retry.accepted()
		}
		return c, err
	}
	waited := false
	if !l.lim.take(l.done, func() { waited = true; l.retry.full(l.lim.max) }) {
		return nil, net.ErrClosed
	}
	if waited {
		l.retry.stillFull()
	}
	l.lim.pending.Store(1)
	c, err := l.Listener.Accept()
	l.lim.pending.Store(0)
	if err != nil {
		l.lim.give()
		return nil, err
	}
	l.retry.accepted()
	return &limitedConn{Conn: c, lim: l.lim}, nil
}

// acceptRetry is what a listener does about accepts that fail but may
// succeed later, the process out of file descriptors above all (EMFILE,
// ENFILE: more visitors' connections than its limit, ulimit -n). Each
// is counted and retried after a pause, and logged once a second at
// most, with left_out the failures not logged since. Out of
// descriptors, the visitors' idle keep-alive connections are closed
// (and those busy closed at the end of their response) until accepts
// have succeeded for shedFor: else the connections accepted kept every
// descriptor, their clients' next requests served, while those queued
// behind them waited, unanswered, for a keep-alive connection to time
// out (limits.idle_timeout, 2 minutes). Go's http.Server, which retried
// such errors itself, logged every retry. Used by one goroutine at a
// time: the one that accepts.
type acceptRetry struct {
	log *slog.Logger
	// what names the connections in the log: "a visitor's connection".
	what string
	// count, when not nil, counts a failed accept (the metrics); shed,
	// when not nil, turns keep-alive off (true) and on again.
	count func()
	shed  func(bool)

	limit    lograte.Limiter
	fullLog  lograte.Limiter
	delay    time.Duration
	shedding bool
	lastFail time.Time
}

const (
	// maxAcceptDelay bounds the pause before an accept is retried: a
	// connection that ends frees a descriptor, which the queue's next
	// visitor should get soon.
	maxAcceptDelay = 100 * time.Millisecond
	// shedFor is how long accepts succeed before keep-alive is on
	// again, so that a process at its limit does not turn it on and off
	// at every connection.
	shedFor = time.Second
)

// failed handles err, returned by Accept: it reports whether accepting
// goes on (after a pause), false when err ends it (the listener closed,
// an error no pause mends) or done is closed meanwhile.
func (a *acceptRetry) failed(err error, done <-chan struct{}) bool {
	var te interface{ Temporary() bool }
	if errors.Is(err, net.ErrClosed) || !errors.As(err, &te) || !te.Temporary() {
		return false
	}
	now := time.Now()
	a.lastFail = now
	if a.count != nil {
		a.count()
	}
	exhausted := errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
	if exhausted && !a.shedding && a.shed != nil {
		a.shedding = true
		a.shed(true)
	}
	if a.limit.Period == 0 {
		a.limit = lograte.Limiter{Period: time.Second, Burst: 1}
	}
	if ok, left := a.limit.Allow(now); ok {
		args := []any{"err", err}
		if exhausted {
			args = append(args, "keep_alive", "off until accepts succeed")
		}
		if left > 0 {
			args = append(args, "left_out", left)
		}
		a.log.Warn("accepting "+a.what+" failed; retrying (logged once a second at most, bespoke_accept_errors_total counts each)", args...)
	}
	a.delay = min(max(2*a.delay, 5*time.Millisecond), maxAcceptDelay)
	select {
	case <-time.After(a.delay):
		return true
	case <-done:
		return false
	}
}

// full records that the visitors' connections are at their limit (see
// connLimit), the accept waiting for one to close: keep-alive goes off,
// the idle connections closed, until accepts have not waited for
// shedFor; logged once a second at most.
func (a *acceptRetry) full(limit int64) {
	now := time.Now()
	a.lastFail = now
	if !a.shedding && a.shed != nil {
		a.shedding = true
		a.shed(true)
	}
	if a.fullLog.Period == 0 {
		a.fullLog = lograte.Limiter{Period: time.Second, Burst: 1}
	}
	if ok, left := a.fullLog.Allow(now); ok {
		args := []any{"limit", limit, "keep_alive", "off until accepts need not wait",
			"hint", "limits.max_connections; unset, it is derived from the file descriptor limit (LimitNOFILE=, ulimit -n)"}
		if left > 0 {
			args = append(args, "left_out", left)
		}
		a.log.Warn("visitors' connections at their limit: new ones wait in the listen queue for one to close (logged once a second at most, bespoke_connection_limit_waits_total counts each)", args...)
	}
}

// stillFull records that an accept waited until now: keep-alive stays
// off for shedFor from then.
func (a *acceptRetry) stillFull() { a.lastFail = time.Now() }

// accepted records an accept that succeeded: keep-alive is on again once
// accepts have succeeded for shedFor.
func (a *acceptRetry) accepted() {
	a.delay = 0
	if a.shedding && time.Since(a.lastFail) >= shedFor {
		a.shedding = false
		a.shed(false)
		a.log.Info("accepting connections again: keep-alive is on", "last_short", a.lastFail.Format(time.RFC3339))
	}
}

func (l *visitorListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.tls)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// Plain HTTP to the TLS port (http://host:443, a health check
			// with the wrong scheme): say so, as net/http and nginx do,
			// rather than close without a word.
			re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		l.log.Debug("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	var c net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		c = &tlsGuardConn{guardConn: newGuardConn(tc), tls: tc}
	}
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// retryingListener is a listener whose accepts that fail for a while
// are retried as the visitors' are (see acceptRetry): the admin
// listener's, which Go's http.Server retried itself, logging every
// retry through the standard logger, a line of its own format in a log
// of JSON.
type retryingListener struct {
	net.Listener
	retry acceptRetry
	done  chan struct{}
	once  sync.Once
}

func newRetryingListener(ln net.Listener, what string, log *slog.Logger, count func()) *retryingListener {
	return &retryingListener{Listener: ln, retry: acceptRetry{log: log, what: what, count: count}, done: make(chan struct{})}
}

// Accept returns the next connection.
func (l *retryingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.retry.accepted()
			return c, nil
		}
		if !l.retry.failed(err, l.done) {
			return nil, err
		}
	}
}

// Close stops accepting.
func (l *retryingListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

// looksLikeHTTP reports whether the first five bytes of what should have
// been a TLS record are a plain HTTP request's: its target in origin form
// (GET /) or in absolute form (GET http://host/, which a client that
// takes the port for a proxy's sends).
func looksLikeHTTP(h [5]byte) bool {
	switch string(h[:]) {
	case "GET /", "GET h", "HEAD ", "POST ", "PUT /", "PUT h", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE":
		return true
	}
	return false
}

// Close stops accepting; connections in their handshake are closed.
func (l *visitorListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

// guardConn is an HTTP/1 connection whose request stream is followed by
// an h1Scanner; the handler asks it about each request in turn.
type guardConn struct {
	net.Conn
	mu       sync.Mutex
	scan     h1Scanner
	verdicts []bool // for requests read but not yet asked about
}

func newGuardConn(c net.Conn) *guardConn {
	g := &guardConn{Conn: c}
	g.scan.verdict = func(_ []byte, smuggling bool) { g.verdicts = append(g.verdicts, smuggling) }
	return g
}

func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.mu.Lock()
		g.scan.feed(p[:n])
		g.mu.Unlock()
	}
	return n, err
}

// NetConn returns the connection it wraps: the proxy resets a socket
// whose transfer it cuts (see proxy's resetCut).
func (g *guardConn) NetConn() net.Conn { return g.Conn }

// CloseWrite half-closes the connection when it can, so that net/http
// can let a client read a refusal before the connection closes.
func (g *guardConn) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// next returns the verdict of the connection's next request: smuggling
// says it carried both Transfer-Encoding and Content-Length (or another
// framing the scanner refuses, see h1Scanner.verdict); known is
// false when the scanner stopped following the stream before it.
func (g *guardConn) next() (smuggling, known bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.verdicts) == 0 {
		return false, false
	}
	v := g.verdicts[0]
	g.verdicts = g.verdicts[1:]
	return v, true
}

// hijacked stops the scan: once the handler takes the connection over
// (a 101 Switching Protocols, a response cut by a reset), net/http reads
// no more requests from it.
func (g *guardConn) hijacked() {
	g.mu.Lock()
	g.scan.stop()
	g.mu.Unlock()
}

// hijackWatch tells the guarded connection when the handler takes it
// over.
type hijackWatch struct {
	http.ResponseWriter
	g *guardConn
}

// Unwrap returns the ResponseWriter it wraps, for
// http.ResponseController.
func (w hijackWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends what was written so far.
func (w hijackWatch) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Hijack takes the connection over, and stops the scan of it.
func (w hijackWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.g.hijacked()
	}
	return c, brw, err
}

// tlsGuardConn is a guardConn over TLS; ConnectionState lets net/http
// fill Request.TLS.
type tlsGuardConn struct {
	*guardConn
	tls *tls.Conn
}

// ConnectionState returns the TLS connection's state.
func (c *tlsGuardConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

type guardKey struct{}

// connContext makes a request's connection known to refuseSmuggling.
func connContext(ctx context.Context, c net.Conn) context.Context {
	switch g := c.(type) {
	case *guardConn:
		return context.WithValue(ctx, guardKey{}, g)
	case *tlsGuardConn:
		return context.WithValue(ctx, guardKey{}, g.guardConn)
	}
	return ctx
}

// declineH2C takes an offer of HTTP/2 by Upgrade: h2c (RFC 7540 3.2,
// which RFC 9113 deprecates; curl --http2 makes it on an http:// URL)
// off an HTTP/1 request: net/http takes no such upgrade, with --h2c or
// without, so the request is answered in HTTP/1.1 and the connection
// goes on carrying HTTP/1.1 requests. The offer is this hop's (Upgrade
// and HTTP2-Settings are connection options): passed on, it would ask the
// origin to switch the proxy's own connection to it, and the origin's
// 101, passed back, would switch the visitor's. An Upgrade that offers
// another protocol too is left to the proxy.
func declineH2C(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if OffersOnlyH2C(r) {
			r.Header.Del("Upgrade")
			r.Header.Del("Http2-Settings")
			var keep []string
			for _, v := range r.Header.Values("Connection") {
				for _, opt := range strings.Split(v, ",") {
					if opt = strings.TrimSpace(opt); opt != "" && !strings.EqualFold(opt, "Upgrade") && !strings.EqualFold(opt, "HTTP2-Settings") {
						keep = append(keep, opt)
					}
				}
			}
			if r.Header.Del("Connection"); len(keep) > 0 {
				r.Header.Set("Connection", strings.Join(keep, ", "))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// OffersOnlyH2C reports whether r is an HTTP/1 request whose Upgrade
// offers h2c and nothing else: Handler declines the offer, and answers
// the request as any other.
func OffersOnlyH2C(r *http.Request) bool {
	up := r.Header.Values("Upgrade")
	return r.ProtoMajor == 1 && len(up) > 0 && onlyH2C(strings.Join(up, ","))
}

// onlyH2C reports whether an Upgrade header's value offers h2c and
// nothing else.
func onlyH2C(v string) bool {
	seen := false
	for _, p := range strings.Split(v, ",") {
		switch p = strings.TrimSpace(p); {
		case p == "":
		case strings.EqualFold(p, "h2c"):
			seen = true
		default:
			return false
		}
	}
	return seen
}

// refuseSmuggling answers 400, and closes the connection, for an HTTP/1
// request that carried both Transfer-Encoding and Content-Length, or
// Transfer-Encoding in HTTP/1.0 (RFC 9112 6.1), or a header folded onto a
// following line (5.2), and for a chunked request on a connection whose
// stream the scanner could not follow.
func refuseSmuggling(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g, ok := r.Context().Value(guardKey{}).(*guardConn); ok && r.ProtoMajor == 1 {
			smuggling, known := g.next()
			chunked := len(r.TransferEncoding) > 0
			if smuggling || !known && chunked {
				w.Header().Set("Connection", "close")
				http.Error(w, "400 Bad Request: a request must not carry both Transfer-Encoding and Content-Length, nor Transfer-Encoding in HTTP/1.0, nor a header folded onto a following line", http.StatusBadRequest)
				return
			}
			// The scanner follows the stream past an Upgrade or a
			// CONNECT, as net/http reads on after one that is not
			// switched; one that is (the handler hijacks the
			// connection) stops it.
			if r.Method == http.MethodConnect || len(r.Header["Upgrade"]) > 0 {
				w = hijackWatch{w, g}
			}
		}
		next.ServeHTTP(w, r)
	})
}
