// Package upstream holds the proxy's keep-alive connections to the
// origin, and sends the requests that make up nearly all of its traffic
// (a GET or HEAD without a body, over plain HTTP/1.1) on the goroutine
// that asks, over the connection it takes for that request.
//
// Go's http.Transport gives every connection two goroutines of its own,
// one that writes requests and one that reads responses, and hands each
// request and response between them and the caller over channels. Under
// load the hand-offs are cheap; at a moderate rate each one wakes an
// idle thread, and on a virtual machine a wake-up costs more than the
// rest of the proxy's work for a page. Here the caller writes the request
// (with http.Request.Write) and reads the response (with
// http.ReadResponse) itself: net/http still does all the parsing, and
// the connection is handed back to the pool when the body ends.
//
// Everything else (a request with a body, an upgrade, https, a transport
// with a proxy) goes to the http.Transport the settings come from. A
// limit on connections per host (MaxConnsPerHost) bounds the two pools'
// connections together.
package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Transport is an http.RoundTripper for a reverse proxy's origin. Its
// zero value is not usable; make one with New.
type Transport struct {
	// ReadTimeout is the longest a read of a response's body waits for
	// the origin's next bytes, once its headers came (nginx's
	// proxy_read_timeout): an origin that stalls mid-body then has its
	// transfer cut, rather than holding the visitor's connection and its
	// own for as long as the visitor waits. Time the proxy spends
	// writing to a slow visitor does not count. 0 waits for ever. Set it
	// before the Transport's first request.
	ReadTimeout time.Duration

	fallback *http.Transport
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)

	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxIdle       int
	maxHeader     int64
	readBuf       int
	writeBuf      int
	direct        bool
	maxConns      int

	dials, reuses, stale, retries, fallbacks, slotTimeouts atomic.Int64

	mu     sync.Mutex
	idle   map[string][]*conn // per host:port, oldest first
	reaper *time.Timer
	// With a connection limit, each host:port has as many slots, taken by
	// every open connection of either pool, and a waiter for one may be
	// handed an idle connection instead (see limit).
	hosts map[string]*limit
}

// limit is a host's connection slots.
type limit struct {
	slots chan struct{}
	ready chan *conn
}

// New returns a Transport with t's settings: its DialContext, response header
// timeout, idle timeout, idle connections per host, connection limit,
// response header limit and buffer sizes. Requests it does not send
// itself go to a copy of t.
func New(t *http.Transport) *Transport {
	u := &Transport{
		fallback:      t.Clone(),
		dial:          t.DialContext,
		headerTimeout: t.ResponseHeaderTimeout,
		idleTimeout:   t.IdleConnTimeout,
		maxIdle:       t.MaxIdleConnsPerHost,
		maxHeader:     t.MaxResponseHeaderBytes,
		readBuf:       t.ReadBufferSize,
		writeBuf:      t.WriteBufferSize,
		// A proxy, or hooks of the http.Transport's own, are its to
		// honour: everything then goes there.
		direct:   t.Proxy == nil && t.DialTLSContext == nil && t.OnProxyConnectResponse == nil,
		maxConns: t.MaxConnsPerHost,
		idle:     map[string][]*conn{},
		hosts:    map[string]*limit{},
	}
	if u.dial == nil {
		u.dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if u.direct && u.maxConns > 0 {
		// The limit is kept here, for both pools: the http.Transport's
		// connections take their slots as they are dialed.
		u.fallback.MaxConnsPerHost = 0
		u.fallback.DialContext = u.dialLimited
	}
	if u.maxIdle <= 0 {
		u.maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if u.maxHeader <= 0 {
		u.maxHeader = 10 << 20 // http.Transport's default
	}
	if u.readBuf <= 0 {
		u.readBuf = 4 << 10
	}
	if u.writeBuf <= 0 {
		u.writeBuf = 4 << 10
	}
	return u
}

// Direct reports whether r is one Transport sends itself rather than
// through the http.Transport: a GET or HEAD to an http URL with a host,
// without a body, that asks for no upgrade (the http.Transport answers
// the others, with its own errors for what it cannot send).
func (t *Transport) Direct(r *http.Request) bool {
	return t.direct && r.URL.Scheme == "http" && r.URL.Host != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.Body == nil || r.Body == http.NoBody) && r.Header.Get("Upgrade") == "" && len(r.TransferEncoding) == 0
}

var (
	errHeaderTooLarge = errors.New("upstream: the origin's response headers are too large")
	errClosedBody     = errors.New("upstream: read on a closed response body")
)

// RoundTrip sends r and returns the origin's response. A response's body
// must be read to its end or closed, as with any RoundTripper: the
// connection goes back to the pool at the end of a body read whole.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.Direct(r) {
		t.fallbacks.Add(1)
		resp, err := t.fallback.RoundTrip(r)
		if err == nil && t.ReadTimeout > 0 && resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols {
			resp.Body = &guardedBody{rc: resp.Body, timeout: t.ReadTimeout}
		}
		return resp, err
	}
	// http.Request.Write turns a line break in a value into a space and
	// writes a name as it is: refuse what http.Transport refuses, before
	// anything is written.
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("upstream: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("upstream: invalid header field value for %q", k)
			}
		}
	}
	ctx := r.Context()
	addr := hostPort(r.URL)
	// A connection taken from the pool may have been closed by the origin
	// since, in a way no check sees before writing: then the request is
	// sent again, on the next one, as long as the one that failed was a
	// kept one (http.Transport does the same): an origin that closes its
	// idle connections closed the others kept with it, and the pool gives
	// them one after the other before it dials. A GET or HEAD without a
	// body may be sent again. After maxRetries kept connections failed,
	// it goes on a new one: a pool of many kept connections may hold more
	// dead ones, and a new connection that fails ends the retries.
	for attempt := 0; ; attempt++ {
		// A request whose context is done (its visitor gone) is not
		// sent, as http.Transport sends none: a kept connection would
		// carry it before the cancellation closes that connection, and
		// the origin would answer nobody.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, reused, err := t.get(ctx, addr, attempt >= maxRetries)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(ctx, c, r)
		if err == nil {
			return resp, nil
		}
		c.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !reused || c.r.got > 0 || !retryable(err) {
			return nil, err
		}
		t.retries.Add(1)
	}
}

// maxRetries is how many times a request is sent again on kept
// connections after kept connections failed before any answer; then it
// is sent on a new one.
const maxRetries = 8

// Stats counts what a Transport did since it was made.
type Stats struct {
	Dials     int64 // connections it opened (for GET and HEAD)
	Reuses    int64 // requests sent on a kept connection
	Stale     int64 // kept connections found closed by the origin, or with bytes nobody asked for, and closed
	Retries   int64 // requests sent again after a kept connection failed before any answer
	Fallbacks int64 // requests sent through the http.Transport
	Idle      int64 // connections idle in the pool now
	// SlotTimeouts are requests no connection came for within the
	// response header timeout, every one the limit allows being busy.
	SlotTimeouts int64
}

// Stats returns the Transport's counters.
func (t *Transport) Stats() Stats {
	t.mu.Lock()
	idle := 0
	for _, list := range t.idle {
		idle += len(list)
	}
	t.mu.Unlock()
	return Stats{
		Dials: t.dials.Load(), Reuses: t.reuses.Load(), Stale: t.stale.Load(),
		Retries: t.retries.Load(), Fallbacks: t.fallbacks.Load(), Idle: int64(idle), SlotTimeouts: t.slotTimeouts.Load(),
	}
}

// retryable reports whether err, met before any byte of a response, is
// what a connection the origin closed while it was idle gives.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		isConnReset(err)
}

// exchange writes r on c and reads the response's headers.
func (t *Transport) exchange(ctx context.Context, c *conn, r *http.Request) (*http.Response, error) {
	// The request's context ends the exchange by poisoning the deadlines,
	// which unblocks whichever read or write is under way.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		return nil, err
	}
	c.r.got, c.r.left = 0, t.maxHeader+int64(t.readBuf)
	if err := r.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	if t.headerTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(t.headerTimeout))
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(c.br, r)
		if err != nil {
			if c.r.left == 0 {
				err = errHeaderTooLarge
			}
			return fail(err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 {
			break
		}
		if code == http.StatusSwitchingProtocols {
			// Nothing asked for it: the request would have gone to the
			// http.Transport.
			return fail(fmt.Errorf("upstream: unexpected %s from the origin", resp.Status))
		}
		// 1xx responses (103 Early Hints) go to whoever traces the
		// request: httputil.ReverseProxy passes them on to the visitor,
		// and bounds them. Those nobody sees count towards the header
		// limit of the final response (as with http.Transport).
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
			c.r.left = t.maxHeader + int64(t.readBuf)
		}
	}
	c.r.left = -1
	c.r.timeout, c.r.armed, c.r.ctx = t.ReadTimeout, time.Time{}, ctx
	if t.headerTimeout > 0 {
		c.nc.SetReadDeadline(time.Time{})
		if ctx.Err() != nil {
			// The request ended while the deadline was being cleared.
			c.nc.SetDeadline(aLongTimeAgo)
		}
	}
	b := &body{rc: resp.Body, t: t, c: c, ctx: ctx, stop: stop, keep: !resp.Close && !r.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// body is a response's body; its end returns the connection to the pool.
type body struct {
	rc   io.ReadCloser
	t    *Transport
	ctx  context.Context
	stop func() bool
	keep bool

	mu  sync.Mutex
	c   *conn // nil once finished
	eof bool
}

// Read reads the body. At its end the connection goes back to the pool;
// after Close, Read fails.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.c == nil {
		eof := b.eof
		b.mu.Unlock()
		if eof {
			return 0, io.EOF
		}
		return 0, errClosedBody
	}
	b.mu.Unlock()
	// Not under the lock: Close may come from another goroutine while a
	// read waits for the origin, and closes the connection to end it.
	n, err := b.rc.Read(p)
	if err != nil {
		if err == io.EOF {
			b.finish(true)
		} else {
			b.finish(false)
			if b.ctx.Err() != nil {
				err = b.ctx.Err()
			}
		}
	}
	return n, err
}

// Waits reports whether the body's next read would wait for the origin:
// none of the body is left in the connection's buffer, and the
// connection has nothing to read yet (asked without waiting, one system
// call, and only when the buffer is empty). A proxy holding bytes it has
// not sent yet (the headers, the start of a body of known length) sends
// them before such a read rather than after it, so that an origin that
// pauses mid-response does not hold back what already came; one that
// sent everything, closed, or broke off does not make it flush. For a
// chunked body, buffered bytes may be only part of a chunk's size line:
// the answer is for a body of known length. It is called from the
// goroutine that reads the body.
func (b *body) Waits() bool {
	b.mu.Lock()
	c := b.c
	b.mu.Unlock()
	if c == nil {
		// Ended or closed: the read answers at once.
		return false
	}
	return c.br.Buffered() == 0 && c.peek.quiet()
}

// Close ends the body. A body closed before its end closes its
// connection: what is left of it is never read.
func (b *body) Close() error {
	b.finish(false)
	return nil
}

// finish hands the connection back when the body ended whole (eof) and
// the exchange allows it, and closes it otherwise. Only the first call
// does anything.
func (b *body) finish(eof bool) {
	b.mu.Lock()
	c := b.c
	b.c = nil
	if c == nil {
		b.mu.Unlock()
		return
	}
	b.eof = eof
	b.mu.Unlock()
	// stop reports false when the request's context ended and its
	// function poisoned the connection's deadlines (or is about to).
	if b.stop() && eof && b.keep && c.br.Buffered() == 0 {
		if !c.r.armed.IsZero() {
			// Idle in the pool, it is read by no one.
			c.nc.SetReadDeadline(time.Time{})
		}
		c.r.timeout, c.r.ctx = 0, nil
		b.t.put(c)
		return
	}
	c.close()
}

// conn is a connection to the origin.
type conn struct {
	nc     net.Conn
	r      countingReader
	br     *bufio.Reader
	bw     *bufio.Writer
	addr   string
	idleAt time.Time
	lim    *limit // its slot's, or nil
	peek   peeker
}

// close closes c and frees its slot. Only c's owner calls it, once.
func (c *conn) close() {
	c.nc.Close()
	if c.lim != nil {
		<-c.lim.slots
	}
}

// countingReader counts what a request's exchange read from the
// connection and bounds the response's headers: left is what may still
// be read before the headers end, or -1 once they have.
type countingReader struct {
	nc   net.Conn
	got  int64
	left int64
	// In a body, timeout is the Transport's ReadTimeout, armed when the
	// read deadline was last pushed, and ctx the request's.
	timeout time.Duration
	armed   time.Time
	ctx     context.Context
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left >= 0 {
		if r.left == 0 {
			return 0, errHeaderTooLarge
		}
		p = p[:min(int64(len(p)), r.left)]
	} else if r.timeout > 0 {
		// The deadline is pushed when a read starts, not renewed by a
		// timer: while the proxy writes to a slow visitor, nothing
		// reads and nothing counts. It moves at most every sixteenth of
		// the timeout, a stall being found within 15/16 to 16/16 of it.
		if now := time.Now(); now.Sub(r.armed) > r.timeout/16 {
			r.nc.SetReadDeadline(now.Add(r.timeout))
			r.armed = now
			if r.ctx != nil && r.ctx.Err() != nil {
				// The request ended as the deadline moved: its poisoned
				// deadline must stand (see exchange).
				r.nc.SetDeadline(aLongTimeAgo)
			}
		}
	}
	n, err := r.nc.Read(p)
	r.got += int64(n)
	if r.left >= 0 {
		r.left -= int64(n)
	} else if err != nil && r.timeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) && (r.ctx == nil || r.ctx.Err() == nil) {
		err = &StallError{After: r.timeout}
	}
	return n, err
}

// StallError is the error of a response body whose origin sent nothing
// for the Transport's ReadTimeout.
type StallError struct{ After time.Duration }

func (e *StallError) Error() string {
	return fmt.Sprintf("upstream: the origin sent nothing for %s (read timeout) in the middle of the body", e.After)
}

// Timeout reports true: StallError is a net.Error that is a timeout.
func (e *StallError) Timeout() bool { return true }

// Temporary reports false (net.Error asks it; the question is deprecated).
func (e *StallError) Temporary() bool { return false }

var _ net.Error = (*StallError)(nil)

// guardedBody bounds the waits of a body the http.Transport reads (which
// has no read timeout of its own): a read waiting longer than timeout
// closes the body, which ends the read.
type guardedBody struct {
	rc      io.ReadCloser
	timeout time.Duration

	mu      sync.Mutex
	since   time.Time // when the read under way began; zero when none
	timer   *time.Timer
	stalled bool
	closed  bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.since = time.Now()
	if b.timer == nil && !b.closed {
		b.timer = time.AfterFunc(b.timeout, b.check)
	}
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.since = time.Time{}
	stalled := b.stalled
	b.mu.Unlock()
	if err != nil {
		if stalled {
			err = &StallError{After: b.timeout}
		}
		b.stop()
	}
	return n, err
}

// check runs when the timer fires: it cuts a read that has waited for the
// timeout, and otherwise looks again when the one under way (or the
// next) would have.
func (b *guardedBody) check() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	wait := b.timeout
	if !b.since.IsZero() {
		waited := time.Since(b.since)
		if waited >= b.timeout {
			b.stalled = true
			b.mu.Unlock()
			b.rc.Close()
			return
		}
		wait -= waited
	}
	b.timer.Reset(wait)
	b.mu.Unlock()
}

func (b *guardedBody) stop() {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
}

func (b *guardedBody) Close() error {
	b.stop()
	return b.rc.Close()
}

// get returns a connection to addr: the most recently used idle one that
// is still open and quiet, or a new one; with fresh, a new one.
func (t *Transport) get(ctx context.Context, addr string, fresh bool) (c *conn, reused bool, err error) {
	if !fresh {
		if c := t.takeIdle(addr); c != nil {
			t.reuses.Add(1)
			return c, true, nil
		}
	}
	var lim *limit
	if t.maxConns > 0 {
		lim = t.limitOf(addr)
		if c, err := t.slot(ctx, addr, lim, !fresh); c != nil || err != nil {
			if c != nil {
				t.reuses.Add(1)
			}
			return c, c != nil, err
		}
	}
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		if lim != nil {
			<-lim.slots
		}
		return nil, false, err
	}
	t.dials.Add(1)
	c = &conn{nc: nc, addr: addr, lim: lim}
	c.r.nc = nc
	c.peek.init(nc)
	c.br = bufio.NewReaderSize(&c.r, t.readBuf)
	c.bw = bufio.NewWriterSize(nc, t.writeBuf)
	return c, false, nil
}

// takeIdle takes addr's most recently used idle connection that is still
// open and quiet, closing those that are not; nil when there is none.
func (t *Transport) takeIdle(addr string) *conn {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			return nil
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		if t.idleTimeout > 0 && now.Sub(c.idleAt) > t.idleTimeout {
			c.close()
			continue
		}
		if !c.peek.quiet() {
			t.stale.Add(1)
			c.close()
			continue
		}
		return c
	}
}

// takeOldest takes addr's least recently used idle connection, or nil.
func (t *Transport) takeOldest(addr string) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[addr]
	if len(list) == 0 {
		return nil
	}
	c := list[0]
	t.idle[addr] = list[1:]
	return c
}

// slotWait is how long a request waits for a slot before it looks again
// for idle connections to close: the http.Transport's pool tells nobody
// when it has one.
const slotWait = 10 * time.Millisecond

// slot takes one of lim's slots for a new connection to addr and returns
// nil, nil, or, when direct and a connection someone is done with comes
// first, returns that connection instead. While every slot is taken,
// idle connections of both pools give theirs back: those of the other
// pool, or (for the http.Transport, which looked in its own before
// dialing) this one's.
func (t *Transport) slot(ctx context.Context, addr string, lim *limit, direct bool) (*conn, error) {
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	// A wait for a slot is bounded as the wait for the origin's headers
	// is: visitors who never read held their connections, and with them
	// every other request, for as long as they stayed.
	var giveUp <-chan time.Time
	if t.headerTimeout > 0 {
		g := time.NewTimer(t.headerTimeout)
		defer g.Stop()
		giveUp = g.C
	}
	for {
		select {
		case lim.slots <- struct{}{}:
			return nil, nil
		default:
		}
		if direct {
			if c := t.takeIdle(addr); c != nil {
				return c, nil
			}
			t.fallback.CloseIdleConnections()
		} else if c := t.takeOldest(addr); c != nil {
			c.close()
			continue
		}
		if wait == nil {
			wait = time.NewTimer(slotWait)
		} else {
			wait.Reset(slotWait)
		}
		select {
		case lim.slots <- struct{}{}:
			return nil, nil
		case c := <-lim.ready:
			if direct {
				return c, nil
			}
			c.close()
		case <-wait.C:
		case <-giveUp:
			t.slotTimeouts.Add(1)
			return nil, errNoSlot
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// errNoSlot is a connection no slot came for in time: a timeout, which
// the proxy answers 504.
var errNoSlot error = slotError{}

type slotError struct{}

func (slotError) Error() string {
	return "upstream: every connection to the origin stayed busy past the response header timeout (max_conns_per_host)"
}
func (slotError) Timeout() bool   { return true }
func (slotError) Temporary() bool { return true }

// put returns c to the pool, or closes it when the pool for its host is
// full.
func (t *Transport) put(c *conn) {
	c.idleAt = time.Now()
	if c.lim != nil {
		select {
		case c.lim.ready <- c: // to a request waiting for a slot
			return
		default:
		}
	}
	t.mu.Lock()
	list := t.idle[c.addr]
	if len(list) >= t.maxIdle {
		t.mu.Unlock()
		c.close()
		return
	}
	t.idle[c.addr] = append(list, c)
	if t.reaper == nil && t.idleTimeout > 0 {
		t.reaper = time.AfterFunc(t.idleTimeout, t.reap)
	}
	t.mu.Unlock()
}

// reap closes the connections idle for longer than the idle timeout, so
// that a pool nobody uses does not hold them (and the origin's sockets)
// forever.
func (t *Transport) reap() {
	now := time.Now()
	var old []*conn
	t.mu.Lock()
	t.reaper = nil
	left := false
	for addr, list := range t.idle {
		i := 0
		for i < len(list) && now.Sub(list[i].idleAt) > t.idleTimeout {
			old = append(old, list[i])
			i++
		}
		if i == len(list) {
			delete(t.idle, addr)
			continue
		}
		t.idle[addr] = append(list[:0], list[i:]...)
		left = true
	}
	if left {
		t.reaper = time.AfterFunc(t.idleTimeout, t.reap)
	}
	t.mu.Unlock()
	for _, c := range old {
		c.close()
	}
}

// limitOf returns addr's connection slots.
func (t *Transport) limitOf(addr string) *limit {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.hosts[addr]
	if l == nil {
		l = &limit{slots: make(chan struct{}, t.maxConns), ready: make(chan *conn)}
		t.hosts[addr] = l
	}
	return l
}

// dialLimited dials for the http.Transport when there is a connection
// limit: it waits for a slot, which the connection frees when closed.
func (t *Transport) dialLimited(ctx context.Context, network, addr string) (net.Conn, error) {
	lim := t.limitOf(addr)
	if _, err := t.slot(ctx, addr, lim, false); err != nil {
		return nil, err
	}
	nc, err := t.dial(ctx, network, addr)
	if err != nil {
		<-lim.slots
		return nil, err
	}
	return &slotConn{Conn: nc, lim: lim}, nil
}

// slotConn is a connection of the http.Transport that holds a slot.
type slotConn struct {
	net.Conn
	lim  *limit
	once sync.Once
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.lim.slots })
	return err
}

// CloseIdleConnections closes the idle connections of both pools.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*conn{}
	if t.reaper != nil {
		// Nothing left to reap: the timer would only keep the transport
		// alive until it fired (a closed handler's, say).
		t.reaper.Stop()
		t.reaper = nil
	}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// aLongTimeAgo is a deadline that has passed: setting it ends the reads
// and writes under way.
var aLongTimeAgo = time.Unix(1, 0)

// hostPort is u's host with its port, 80 when it has none.
func hostPort(u *url.URL) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return u.Host
}
