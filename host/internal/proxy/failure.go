package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// A body rewriter that panics is a bug of bespoke's, not of the page: a
// page is any bytes, and every byte sequence must rewrite. But a bug must
// cost what a plugin trap costs, the page unpersonalized, not the
// visitor's response. So the body path recovers a panic of the HTML
// rewriter (Rewriter, Splicer, MapBuilder) or of the JSON edits:
//
//   - before any of the response is sent (a page held back for its
//     cookies, the first read of a compressed one, or the start of a
//     page the rewriter still holds), the visitor gets the page as the
//     origin sent it: replayed from what was recorded, or else asked of
//     the origin again when the request can be sent twice (GET, HEAD, no
//     body), or a 502 when it cannot;
//   - after, the transfer is cut, as when the origin breaks off: the
//     visitor's browser sees an incomplete response, not a page with a
//     hole in it;
//   - either way the page is remembered (failedPages), and passes
//     untouched for failedPageTTL, or until the next plugin is swapped
//     in (it may not meet the bug): one visitor meets the bug, not
//     every visitor of the page. Its edit map is forgotten, the rewriter is
//     dropped rather than pooled (its state is whatever the panic left),
//     and what the failed rewrite marked seen is not saved.
//
// Each failure is logged at Error with the panic and its stack, and
// counted in bespoke_body_limits_total{reason="rewrite_failed"}.

// errRewriteFailed: the rewriter panicked on the page.
var errRewriteFailed = errors.New("the rewriter failed on this page")

// rewriteFailure is a recovered panic of the rewriter: it is
// errRewriteFailed, with the panic's value and stack for the log.
type rewriteFailure struct {
	value any
	stack []byte
}

func (f *rewriteFailure) Error() string {
	return fmt.Sprintf("%v: %v", errRewriteFailed, f.value)
}

func (f *rewriteFailure) Unwrap() error { return errRewriteFailed }

// recovered turns a recovered panic value into a rewriteFailure. It must
// be called in the deferred function that recovered, so that the stack
// is the panic's.
func recovered(v any) *rewriteFailure {
	return &rewriteFailure{value: v, stack: debug.Stack()}
}

// Set by tests only: testHookRewriter wraps each page's rewriter, and
// testHookJSONEdits runs before a document's JSON edits. They are how
// tests make a rewriter fail where none is known to.
var (
	testHookRewriter  func(pageRewriter) pageRewriter
	testHookJSONEdits func()
)

// failedPageTTL is how long a page whose rewrite failed passes untouched:
// long enough that a busy page does not fail again for each of its
// visitors, short enough that a page the origin fixed, or a bug that
// depended on a rare visitor's edits, is rewritten again soon.
const failedPageTTL = 10 * time.Minute

// maxFailedPages bounds the pages remembered. Past it the oldest go
// first: a flood of failing URLs (a bug that any page of a site meets)
// then fails some visitors again, and keeps memory bounded.
const maxFailedPages = 4096

// failedPage names a page whose rewrite failed: its URL.
type failedPage struct {
	host, path, query string
}

// failedPages remembers the pages whose rewrite failed, each until its
// TTL passes. Its lookups, made for every rewritable response, take no
// lock while it is empty, as it is but after a bug.
type failedPages struct {
	n  atomic.Int32 // pages held; 0 skips the lock
	mu sync.Mutex
	m  map[failedPage]time.Time // until when each passes untouched
}

// pageOf returns the failedPage of a request.
func pageOf(r *http.Request) failedPage {
	return failedPage{host: r.Host, path: r.URL.Path, query: r.URL.RawQuery}
}

// add remembers page until now+failedPageTTL.
func (f *failedPages) add(page failedPage, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[failedPage]time.Time{}
	}
	if len(f.m) >= maxFailedPages {
		f.expire(now)
	}
	for len(f.m) >= maxFailedPages {
		// Still full of live pages: the one that expires first goes.
		var oldest failedPage
		first := true
		var at time.Time
		for k, until := range f.m {
			if first || until.Before(at) {
				oldest, at, first = k, until, false
			}
		}
		delete(f.m, oldest)
	}
	f.m[page] = now.Add(failedPageTTL)
	f.n.Store(int32(len(f.m)))
}

// has reports whether page failed less than failedPageTTL ago.
func (f *failedPages) has(page failedPage) bool {
	if f.n.Load() == 0 {
		return false
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.m[page]
	if ok && !now.Before(until) {
		delete(f.m, page)
		f.n.Store(int32(len(f.m)))
		return false
	}
	return ok
}

// clear forgets every page: a new plugin may not meet the bug.
func (f *failedPages) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.m)
	f.n.Store(0)
}

// expire drops the pages whose TTL passed. f.mu is held.
func (f *failedPages) expire(now time.Time) {
	for k, until := range f.m {
		if !now.Before(until) {
			delete(f.m, k)
		}
	}
	f.n.Store(int32(len(f.m)))
}

// watchBody wraps the body of r, the request to the origin, so that a
// failure to read it (the visitor left in the middle of an upload) is
// known to the request's state: the transport reports it as the
// request's failure, before the request's context ends, and it is the
// visitor's doing, not the origin's.
func watchBody(r *http.Request, st *state) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	r.Body = &watchedBody{ReadCloser: r.Body, st: st}
}

type watchedBody struct {
	io.ReadCloser
	st *state
	// closed: the transport closed the body (the origin failed while it
	// was sent): the reads that fail after are its doing.
	closed atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && !b.closed.Load() && !errors.Is(err, http.ErrBodyReadAfterClose) {
		b.st.bodyFailed.Store(true)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The visitor stopped sending it (the server's body
			// timeout), and is still there to be told.
			b.st.bodyTimedOut.Store(true)
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.closed.Store(true)
	return b.ReadCloser.Close()
}

// resendable reports whether the origin may be asked for r again: a
// request without a body whose method says asking twice is harmless.
func resendable(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.Body == nil || r.Body == http.NoBody) && r.ContentLength == 0
}

// emptyBody makes a GET or HEAD of unknown length one without a body
// when its body turns out empty, so that it can be sent again
// (resendable): every HTTP/3 request without a Content-Length has an
// unknown length (as quic-go reads it, and Caddy passes it on), and the
// end of a GET's body comes with its headers. It reads the body's first
// byte; one there is read again first.
func emptyBody(r *http.Request) {
	if r.Body == nil || r.ContentLength != -1 || len(r.TransferEncoding) > 0 || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return
	}
	var b [1]byte
	n, err := io.ReadFull(r.Body, b[:])
	switch {
	case n == 0 && err == io.EOF:
		r.Body, r.ContentLength = nil, 0
	case n == 0:
		r.Body = struct {
			io.Reader
			io.Closer
		}{errReader{err}, r.Body}
	default:
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b[:n]), r.Body), r.Body}
	}
}

// errReader returns its error from every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// rewriteFailed records a rewrite that failed on the page of r (with
// result as in bodyLimit) and remembers the page, so that it passes
// untouched for failedPageTTL.
func (p *Proxy) rewriteFailed(r *http.Request, st *state, err error, result string) {
	p.failed.add(pageOf(r), time.Now())
	// What the failed rewrite marked seen was not shown.
	st.discardSeen = true
	p.stats.RewriteFailures.Add(1)
	p.stats.Limited.Add(1)
	p.cfg.Metrics.BodyLimit(p.cfg.Route, reasonRewriteFailed, result)
	args := []any{"route", p.cfg.Route, "plugin", st.site.Name, "generation", st.site.Generation,
		"path", r.URL.Path, "result", result, "err", err}
	if f := (*rewriteFailure)(nil); errors.As(err, &f) {
		args = append(args, "stack", string(f.stack))
	}
	// Each page fails once a while, but a bug that a template meets
	// fails each of the site's pages: logged as the faults that come
	// with every request are (see warn); the metrics count each one.
	p.warn(r, slog.LevelError, "rewriting the response body failed; the page passes untouched for a while", args...)
}
