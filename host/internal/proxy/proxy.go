// Package proxy is the http.Handler that personalizes an origin: for each
// request it decides with the current plugin, forwards to the origin with
// httputil.ReverseProxy, and streams the response through the rewriter.
//
// It fails open: when the plugin traps, times out or is missing, or the
// body rewriter fails before any of the response is sent (see
// failure.go), the visitor gets the page the origin sent, and the
// failure is logged and counted. An unreachable origin is a 502, a slow one a 504; so is one
// that breaks off its response before any of it was sent to the
// visitor (see Proxy.unsent).
package proxy

import (
	"cmp"
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/editmap"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/lograte"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/upstream"
)

// Config configures a Proxy. Only Origin is required.
type Config struct {
	// Origin is where requests go.
	Origin *url.URL
	// PreserveHost sends the visitor's Host header to the origin instead of
	// the origin URL's host.
	PreserveHost bool
	// MaxRewriteBytes bounds the decoded bytes of a body that are
	// rewritten: a body whose length the origin says is larger passes
	// untouched; a streamed one (chunked or compressed) that turns out
	// larger is rewritten up to there and copied through after; a JSON
	// document larger passes untouched. 0 means 8 MiB.
	MaxRewriteBytes int64
	// MaxDecodeRatio bounds how many times its encoded size a compressed
	// body may decode to (past the first 16 KiB). A body found past it
	// before its headers are sent passes untouched, in its original
	// encoding; one found past it while streaming is cut: it is a
	// decompression bomb, not a page. 0 means 100.
	MaxDecodeRatio int
	// MaxJSONDepth bounds the nesting of JSON documents that are edited;
	// deeper ones pass untouched (and are counted). 0 means
	// jsonrw.DefaultMaxDepth.
	MaxJSONDepth int
	// RewriteBuffer bounds the memory one rewrite may hold (see
	// rewrite.Options.MaxBuffer). 0 means the rewriter's default.
	RewriteBuffer int
	// EditMapCache is the bytes of edit maps kept (see package editmap):
	// a page rewritten in full once is then spliced for each visitor
	// while it comes back the same. 0 disables them.
	EditMapCache int
	// StreamPause is how long the origin of a page may wait mid-page
	// before the page is taken for one sent as it is rendered: its edit
	// map records the place, and the page gets no map once it waited
	// twice at one place the map did not record (see
	// editmap.Cache.Paused). 0 means 50 ms.
	StreamPause time.Duration
	// DebugHeaders adds X-Bespoke-Rules and X-Bespoke-Generation to
	// responses, naming the rules that matched, and X-Bespoke-Untouched
	// to a page the plan edits that went out unrewritten, saying why. Off
	// by default: rule names can say more about targeting than a site
	// wants to publish.
	DebugHeaders bool
	// Transport reaches the origin; nil means a transport tuned for a
	// reverse proxy (upstream.New of NewTransport).
	Transport http.RoundTripper
	// Logger receives access and error logs; nil means slog.Default().
	Logger *slog.Logger
	// AccessLog writes one line per request at Info level.
	AccessLog bool
	// Seen stores visitors' seen-filters (hide_seen, mark_seen, seen());
	// nil disables them: nothing is seen and nothing recorded.
	Seen seen.Store
	// SeenBuffer bounds how much of a page is held back so that its
	// Set-Cookie can record the items hide_seen showed, with a store that
	// answers in the response headers (the cookie store): until the
	// page's end, or, spliced from its edit map, the end of its last
	// list. Past it the page streams and the showing is not recorded.
	// 0 means 1 MiB.
	SeenBuffer int
	// Held bounds the bytes of the bodies held whole at one time (see
	// Budget); routes that share one share the bound. Nil means a budget
	// of DefaultHeldBytes of this proxy's own.
	Held *Budget
	// Caps counts frequency-capped rules, in a cookie or a shared store
	// (caps.NewShared); nil disables caps (capped rules then always count
	// 0). When Seen is that same shared store (a seen.CapsLoader), a
	// request reads both in one round trip.
	Caps *caps.Store
	// Route names this proxy in metrics and logs; empty means "default".
	Route string
	// Metrics records what the proxy does; nil records nothing.
	Metrics *metrics.Metrics
	// TrustedProxies are the peers (RemoteAddr) taken to be proxies of
	// the site's own, such as a CDN or load balancer in front: their
	// X-Forwarded-For and Forwarded chains are extended and their
	// X-Forwarded-Proto and -Host (or Forwarded's proto and host) kept,
	// their CDN headers reach the origin, and their X-Forwarded-Proto:
	// https (or Forwarded: proto=https) makes cookies Secure.
	// Requests of other peers get these headers replaced, and the
	// StripHeaders removed. Nil trusts no peer.
	TrustedProxies []netip.Prefix
	// StripHeaders are the request headers only a trusted proxy may set
	// (client address and geography headers of CDNs), removed from the
	// requests of other peers before they reach the origin. A trailing
	// "*" matches any suffix. Nil means DefaultStripHeaders; an empty,
	// non-nil slice removes none.
	StripHeaders []string
	// Via is this proxy's name in Via headers; "" means "bespoke".
	Via string
	// InProcess says the origin is a handler in the same process (the
	// proxy is a server's middleware): the proxy is no hop of its own,
	// and adds no forwarding headers (X-Forwarded-*, Forwarded, Via) to
	// requests nor Via to responses; a proxy after it (Caddy's
	// reverse_proxy) adds the hop's. The headers only a CDN may set are
	// still removed from a peer not trusted.
	InProcess bool
	// ConsentCookie and ConsentDeny: a request whose ConsentCookie holds
	// one of ConsentDeny, or that sends Sec-GPC: 1, gets no tracking state
	// written (seen-filter, caps, visitor id). Empty means only Sec-GPC.
	ConsentCookie string
	ConsentDeny   []string
}

// Proxy personalizes responses from one origin. Create it with New.
type Proxy struct {
	cfg   Config
	rp    *httputil.ReverseProxy
	log   *slog.Logger
	fwd   *forwarding
	site  atomic.Pointer[site.Site]
	stats Stats
	// warnings and rare bound the lines logged about requests, per kind
	// (see warn and warnRarely).
	warnings, rare lograte.Set
	// maps holds the pages' edit maps; nil when disabled.
	maps *editmap.Cache
	// streamPause is Config.StreamPause, or its default.
	streamPause time.Duration
	mapStats    MapStats
	// failed holds the pages whose rewrite failed lately (failure.go).
	failed failedPages
	// held is cfg.Held.
	held *Budget
	// vary are the last Vary fields built, a few (see Proxy.addVary).
	vary [4]atomic.Pointer[varyField]
}

// Stats are the proxy's counters.
type Stats struct {
	Requests       atomic.Int64 // requests served
	Personalized   atomic.Int64 // responses changed by a rule
	Redirects      atomic.Int64 // requests answered with a rule's redirect
	FailOpen       atomic.Int64 // requests served unpersonalized because the plugin failed
	NoPlugin       atomic.Int64 // requests served with no plugin loaded
	Rewritten      atomic.Int64 // bodies streamed through the rewriter
	UpstreamErrors atomic.Int64 // origin failures answered with 502/504
	Aborted        atomic.Int64 // transfers cut mid-body (the visitor went away, or the origin broke off), and visitors who left before the origin answered
	SeenLoads      atomic.Int64 // seen-filters loaded
	SeenDropped    atomic.Int64 // seen-filters ignored (malformed, tampered, expired, old format)
	SeenErrors     atomic.Int64 // seen-filters the store could not load (Redis timeouts and errors)
	SeenSaves      atomic.Int64 // seen-filters saved
	SeenSkipped    atomic.Int64 // seen-filters not saved because their load failed
	SeenSaveErrors atomic.Int64 // seen-filters that could not be saved
	SeenOverflow   atomic.Int64 // pages too long to hold back for the seen cookie
	SeenLate       atomic.Int64 // pages that recorded items after their seen cookie was sent
	SeenUnrecorded atomic.Int64 // items shown past what one response may record
	CapsSaveErrors atomic.Int64 // caps counts a shared store could not take (unknown counts, a full queue)
	CapsDropped    atomic.Int64 // caps counts that could not be read (see caps.Counts.Dropped)
	Limited        atomic.Int64 // bodies passed untouched, stopped or cut by a limit (see bespoke_body_limits_total)
	// RewriteFailures counts the bodies on which the rewriter failed (a
	// bug, recovered: see bespoke_body_limits_total{reason="rewrite_failed"}).
	RewriteFailures atomic.Int64
}

// New returns a proxy to cfg.Origin with no plugin loaded: until Swap is
// called it forwards requests unchanged.
func New(cfg Config) *Proxy {
	if cfg.MaxRewriteBytes == 0 {
		cfg.MaxRewriteBytes = DefaultMaxRewriteBytes
	}
	if cfg.SeenBuffer == 0 {
		cfg.SeenBuffer = 1 << 20
	}
	if cfg.MaxDecodeRatio == 0 {
		cfg.MaxDecodeRatio = 100
	}
	if cfg.Held == nil {
		cfg.Held = NewBudget(DefaultHeldBytes)
	}
	if cfg.MaxJSONDepth == 0 {
		cfg.MaxJSONDepth = jsonrw.DefaultMaxDepth
	}
	if cfg.StripHeaders == nil {
		cfg.StripHeaders = DefaultStripHeaders
	}
	if cfg.Route == "" {
		cfg.Route = "default"
	}
	if cfg.Transport == nil {
		u := upstream.New(NewTransport())
		u.ReadTimeout = DefaultReadTimeout
		cfg.Transport = u
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, fwd: newForwarding(cfg.TrustedProxies, cfg.StripHeaders, cfg.Via), held: cfg.Held}
	p.fwd.inProcess = cfg.InProcess
	if cfg.Seen != nil && cfg.Seen.CookieName() != "" {
		p.fwd.ownCookies = append(p.fwd.ownCookies, cfg.Seen.CookieName())
	}
	if cfg.Caps != nil {
		p.fwd.ownCookies = append(p.fwd.ownCookies, caps.CookieName)
	}
	p.warnings.Period, p.warnings.Burst = warnPeriod, warnBurst
	p.rare.Period, p.rare.Burst = rareWarnPeriod, 1
	cfg.Metrics.Route(cfg.Route, []metrics.LimitLabel{
		{Reason: reasonTooLarge, Result: "stopped"}, {Reason: reasonRewriteBuffer, Result: "stopped"},
		{Reason: reasonCharset, Result: "untouched"}, {Reason: reasonRewriteFailed, Result: "cut"},
		{Reason: reasonHeldBytes, Result: "untouched"}, {Reason: reasonHeldBytes, Result: "streamed"},
	})
	if u, ok := cfg.Transport.(*upstream.Transport); ok {
		cfg.Metrics.OriginPool(cfg.Route, func() metrics.OriginPoolStats {
			s := u.Stats()
			return metrics.OriginPoolStats{Dials: s.Dials, Reuses: s.Reuses, Stale: s.Stale, Retries: s.Retries, Fallbacks: s.Fallbacks, Idle: s.Idle, SlotTimeouts: s.SlotTimeouts}
		})
	}
	p.maps = editmap.New(cfg.EditMapCache)
	p.streamPause = cmp.Or(cfg.StreamPause, defaultStreamPause)
	if p.maps != nil {
		cfg.Metrics.EditMaps(cfg.Route, func() metrics.EditMapStats {
			return metrics.EditMapStats{
				Hits: p.mapStats.Hits.Load(), Misses: p.mapStats.Misses.Load(), Fallbacks: p.mapStats.Fallbacks.Load(),
				Resumed: p.mapStats.Resumed.Load(), Volatile: p.mapStats.Volatile.Load(), TooLarge: p.mapStats.TooLarge.Load(),
				Streamed: p.mapStats.Streamed.Load(),
				Bytes:    int64(p.maps.Bytes()), Maps: int64(p.maps.Len()),
			}
		})
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   p.rewriteRequest,
		Transport: &rangeTransport{p: p, next: cfg.Transport},
		// A body of known length is copied as it comes, without a flush
		// after each write (ReverseProxy's own default), what the server
		// holds of it sent only when the origin pauses (see
		// originStream.passes); one of unknown
		// length, or an event stream, is flushed after every write by
		// ReverseProxy whatever this says. A rewritten body paces itself
		// (see statusWriter).
		FlushInterval:  0,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		BufferPool:     bufferPool{},
		// ReverseProxy logs an origin that broke off mid-body, with
		// neither route nor path: done logs it with them, so its own line
		// is only for debugging.
		ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	return p
}

// DefaultMaxRewriteBytes is the default of Config.MaxRewriteBytes.
const DefaultMaxRewriteBytes = 8 << 20

// DefaultReadTimeout is how long the default transport waits for the
// origin's next bytes in the middle of a body (nginx's
// proxy_read_timeout).
const DefaultReadTimeout = 60 * time.Second

// NewTransport returns the settings of the transport used to reach the
// origin, and the transport for what upstream.Transport does not send
// itself (see upstream.New): keep-alive
// connections sized for a proxy (the default of 2 idle connections per host
// reopens connections under load), bounded dial and header timeouts (the
// header timeout nginx's proxy_read_timeout, 60 s), a
// read buffer sized for pages, and no transparent decompression.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
		// The visitor's Accept-Encoding goes to the origin as it is. Go's
		// transparent gzip would otherwise ask for gzip and inflate the
		// body before the proxy sees it, outside every limit.
		DisableCompression: true,
		// The read that brings a response's headers brings the start of
		// its body too, up to this much, and the body is read in pieces
		// as large (or larger, past the buffer): the 4 KiB default made
		// the first read of every body a short one.
		ReadBufferSize: 32 << 10,
		// An origin's headers past what browsers take (Chrome refuses
		// more than 256 KiB) are a 502 here, not a response held whole
		// in memory to fail in the browser: Go's default is 10 MiB.
		MaxResponseHeaderBytes: DefaultMaxResponseHeaderBytes,
	}
}

// DefaultMaxResponseHeaderBytes bounds the headers of an origin's
// response: past it, the request is answered 502.
const DefaultMaxResponseHeaderBytes = 256 << 10

// Swap makes s the plugin for new requests and returns the previous one,
// which the caller retires. s may be nil to stop personalizing. The
// pages whose rewrite failed are rewritten again (see failure.go).
func (p *Proxy) Swap(s *site.Site) *site.Site {
	old := p.site.Swap(s)
	p.failed.clear()
	return old
}

// Site returns the current plugin, or nil.
func (p *Proxy) Site() *site.Site { return p.site.Load() }

// Stats returns the proxy's counters.
func (p *Proxy) Stats() *Stats { return &p.stats }

type stateKey struct{}

// state is what ModifyResponse needs to know about the request's decision.
type state struct {
	w       *statusWriter
	site    *site.Site
	req     *site.Request
	secure  bool
	rewrote bool
	// allowed says tracking state may be written (consent).
	allowed bool
	// held: the page was held back whole, so the seen cookie can say what
	// it showed.
	held bool
	// bodyFailed: reading the visitor's request body failed (the
	// visitor left in the middle of an upload), see watchBody.
	bodyFailed atomic.Bool
	// bodyTimedOut: it failed because the visitor stopped sending it for
	// longer than the server allows, and is answered 408.
	bodyTimedOut atomic.Bool
	// tag identifies the plan's edits for derived ETags (planTag); tagged
	// says it was computed. editedTags: the origin's tags the request
	// names for copies made with these edits, otherTags that it names
	// others too (see conditionals, revalidatesEdited).
	tag        uint64
	tagged     bool
	editedTags []entityTag
	otherTags  bool
	// ifNoneMatch and ifModifiedSince are the visitor's, kept when the
	// plan edits pages or JSON: the origin may be asked without them,
	// and a response the edits leave as it is answers them (see
	// hasCopy, notModified).
	ifNoneMatch     []string
	ifModifiedSince string
	// withheld: the origin was not asked with the visitor's
	// If-None-Match or If-Modified-Since as they came.
	withheld bool
	// outcome is the request's outcome label for metrics; status the
	// status answered.
	outcome string
	seen    *seen.Set
	caps    *caps.Counts
	// untracked counts for a visitor whose counts cannot be kept.
	untracked caps.Untracked
	// rb is the rewriting body of an HTML page; jsonApplied what the
	// JSON edits did: which edits applied, for caps and mark_seen.
	rb          *rewritingBody
	jsonApplied []bool
	// The rewriter failed on the page (failure.go): discardSeen keeps
	// what it marked seen from being saved; resend asks the origin for
	// the page again, to pass it untouched, and resends counts that.
	discardSeen bool
	resend      bool
	resends     int
	// cut is the error that stopped the rewritten body before any of it
	// was sent (the rewriter failed, the encoding broke): the visitor is
	// answered instead (see Proxy.unsent). broken says such an error
	// came after some of it was sent: the transfer is cut (see
	// resetCut).
	cut    error
	broken bool
	// header holds the response's headers as they were before the
	// origin's were added, when there were any (a server's middleware
	// set them): a response that is not sent after all leaves them.
	header http.Header
	// origin is the origin's response body, as everything reads it.
	origin originStream
	// askedAt is when the origin was last asked (see serve);
	// upstreamStatus and upstreamTook what it answered and how long its
	// headers took, 0 until they came: the access line's upstream_*.
	askedAt        time.Time
	upstreamStatus int
	upstreamTook   time.Duration
}

// afterHints puts back the headers set on the response before the proxy,
// once the origin's informational responses took them (see
// statusWriter.takeHinted): the final response carries them, as it does
// when no hint came.
func (st *state) afterHints() {
	if st.w == nil || !st.w.takeHinted() {
		return
	}
	h := st.w.Header()
	for k, v := range st.header {
		h[k] = v
	}
}

// originStream is an origin's response body that keeps the first error a
// read of it returned other than io.EOF: the origin broke off.
type originStream struct {
	io.ReadCloser
	err error
	// trailers, when set, are the trailers of a response whose body the
	// proxy changes: the digests of the origin's bytes leave them when
	// the transport has read them, at the body's end.
	trailers *http.Header
	// w, when set, is the visitor's writer of a body of known length that
	// passes as it comes. ReverseProxy copies such a body without
	// flushing, and net/http holds the headers and the start of the body
	// until 2 KiB have come or the handler returns: an origin that sends
	// its headers and then takes its time over the body would keep its
	// visitor waiting for the headers too. What the writer holds is sent
	// just before a read that may wait for the origin (see mayWait),
	// which a body that comes at once never makes.
	w *statusWriter
	// waiter is the body when it can tell whether its next read waits
	// (upstream's bodies can), nil when it cannot; short says the last
	// read came back with less than it asked for, which is all that is
	// known of a body that cannot tell.
	waiter interface{ Waits() bool }
	short  bool
}

// passes readies b to send what the visitor's writer holds whenever the
// origin keeps it waiting: the body of resp passes as it comes, its
// length known (ReverseProxy flushes the others after every write).
func (b *originStream) passes(resp *http.Response, w *statusWriter) {
	if w == nil || resp.ContentLength <= 0 || b.ReadCloser == http.NoBody || resp.Body != io.ReadCloser(b) {
		return
	}
	b.w = w
	b.waiter, _ = b.ReadCloser.(interface{ Waits() bool })
}

// mayWait reports whether the next read may wait for the origin. A body
// that cannot tell is taken to wait only after a short read: the first
// read, which most often brings the whole body with its end, and the
// reads of a body that comes faster than it is copied, send nothing
// early.
func (b *originStream) mayWait() bool {
	if b.waiter != nil {
		return b.waiter.Waits()
	}
	return b.short
}

func (b *originStream) Read(p []byte) (int, error) {
	if b.w != nil && b.w.holding() && b.mayWait() {
		b.w.flushNow()
	}
	n, err := b.ReadCloser.Read(p)
	b.short = n < len(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	if err == io.EOF && b.trailers != nil {
		dropDigests(*b.trailers)
	}
	return n, err
}

// readOnlySeen answers from a seen-set and records nothing: for responses
// that are no page view (a prefetch, a subresource) and visitors whose
// state is not written.
type readOnlySeen struct{ s *seen.Set }

func (r readOnlySeen) Recency(id string) int { return r.s.Recency(id) }
func (r readOnlySeen) Rank(id string) int    { return r.s.Rank(id) }
func (readOnlySeen) Shown(string)            {}

// Recencies answers for a list's members at once (rewrite.SeenLister).
func (r readOnlySeen) Recencies(ids []string, out []int32) { r.s.Recencies(ids, out) }

// ShownAll records nothing.
func (readOnlySeen) ShownAll([]string) {}

// seenFor is the seen-set the body's edits use: one that records when
// the response is a page view of a visitor whose state may be written.
func (st *state) seenFor(rp responsePlan) interface {
	Recency(string) int
	Shown(string)
} {
	switch {
	case st.seen == nil:
		return nil
	case rp.view && st.allowed:
		return st.seen
	}
	return readOnlySeen{st.seen}
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if lastHop(r) {
		// Max-Forwards: 0 on TRACE or OPTIONS: this proxy is the final
		// recipient (RFC 9110 7.6.2). OPTIONS gets what any resource of
		// the proxy allows; TRACE, which would echo the visitor's
		// cookies into a page, is not allowed.
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		w.Header().Set("Content-Length", "0")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
		return
	}
	start := time.Now()
	p.stats.Requests.Add(1)
	st := &state{secure: p.fwd.secure(r)}
	rw := &statusWriter{ResponseWriter: w, http10: r.ProtoMajor == 1 && r.ProtoMinor == 0}
	if s := p.hold(); s != nil {
		defer s.Drop()
		st.site = s
		st.req = s.NewRequest()
		defer s.Release(st.req)
	} else {
		st.outcome = metrics.NoPlugin
		p.stats.NoPlugin.Add(1)
	}
	// Deferred, and before the plan is released: ReverseProxy panics with
	// http.ErrAbortHandler when the copy of a body fails (the visitor
	// went away, or the origin broke off), and that request is logged and
	// counted too.
	finished := false
	defer func() {
		if finished {
			// A response without a body (a HEAD, a 304, a redirect's
			// HEAD) has its status held still.
			rw.commit()
		}
		p.done(r, st, rw.status, start, !finished)
	}()
	if st.site != nil {
		p.decide(r, st)
		if st.seen != nil {
			defer p.doneSeen(r, st)
		}
		if st.req.Plan.Redirect != nil {
			p.redirect(rw, r, st)
			st.outcome = metrics.Redirected
			finished = true
			return
		}
	}
	st.w = rw
	if h := rw.Header(); len(h) > 0 {
		st.header = h.Clone()
	}
	// Deferred: no flush may run after the handler, nor after that panic.
	defer rw.stop()
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	p.serve(rw, r, st)
	if st.resend {
		// The rewriter failed before the headers went, on a body that
		// could not be replayed: the origin is asked again, and the page
		// passes untouched (see failure.go).
		st.resend, st.resends = false, st.resends+1
		st.rb, st.rewrote, st.held, st.cut = nil, false, false, nil
		p.serve(rw, r, st)
	}
	finished = true
}

// serve runs ReverseProxy for r. A body whose copy failed before any of
// the response was given to the server is answered by unsent. One that
// failed after is cut: ReverseProxy panics with http.ErrAbortHandler
// (in a server; outside one it returns), after what was given to the
// server is flushed, so that the visitor gets what the access log says
// was sent (net/http drops what it holds of a handler that panics).
func (p *Proxy) serve(rw *statusWriter, r *http.Request, st *state) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler || !p.unsent(rw, r, st) {
				if v == http.ErrAbortHandler {
					resetCut(rw, r, st)
				}
				panic(v)
			}
		}
	}()
	st.askedAt = time.Now()
	p.rp.ServeHTTP(rw, r)
	p.unsent(rw, r, st)
}

// unsent answers a request whose response body failed (its origin broke
// off, or a rewrite could not go on) before any of it was sent: with a
// 502 (504 for an origin that stalled), as an origin failure, in place
// of the 200 that was never sent; or, for a page the rewriter failed on,
// by asking the origin again (st.resend). It reports whether the
// request is answered so; when some of the response was sent, it
// flushes it, and the transfer is cut.
func (p *Proxy) unsent(rw *statusWriter, r *http.Request, st *state) bool {
	err := st.origin.err
	if err == nil {
		err = st.cut
	}
	if err == nil || st.outcome == metrics.UpstreamError || st.outcome == metrics.Aborted {
		// Nothing failed, or the error handler answered already.
		return false
	}
	if !rw.abandon() {
		rw.flushNow()
		return false
	}
	h := rw.Header()
	clear(h)
	for k, v := range st.header {
		h[k] = v
	}
	if st.resend {
		return true // ServeHTTP asks the origin again
	}
	p.errorHandler(rw, r, err)
	// The error handler answers nothing to a visitor who went away.
	return st.outcome == metrics.UpstreamError
}

// resetCut ends with a TCP reset the connection of a transfer cut because
// its body failed (the origin broke off, its bytes stopped decoding, the
// rewriter failed), when nothing but the connection's close marks the
// response's end: a body of unknown length to an HTTP/1.0 client, which
// net/http sends without chunks. Closed as usual, the part sent would
// read as the whole response (to ab, a health check, an nginx in front
// with its default proxy_http_version 1.0, which would pass it on whole
// and may cache it); a reset is an error to each. Other responses say
// they were cut by their framing (a missing last chunk, a short
// Content-Length, an HTTP/2 stream reset), and a visitor who left needs
// nothing said.
func resetCut(rw *statusWriter, r *http.Request, st *state) {
	if r.ProtoMajor != 1 || r.ProtoMinor != 0 || st.origin.err == nil && !st.broken || !rw.sent() || rw.Header().Get("Content-Length") != "" {
		return
	}
	// What was written goes first: the hijack drops what net/http
	// holds of the response.
	rw.flushNow()
	c, _, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		return
	}
	// A socket that lingers for no time is reset when closed. The
	// server's connection may be wrapped (a connection limit, TLS): the
	// socket is the innermost, closed first so that a TLS wrapper's
	// close sends no close_notify, which would say the response ended.
	for inner := c; ; {
		if l, ok := inner.(interface{ SetLinger(sec int) error }); ok {
			if l.SetLinger(0) == nil {
				inner.Close()
			}
			break
		}
		u, ok := inner.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		inner = u.NetConn()
	}
	c.Close()
}

// decide loads what is known of the visitor (seen-filter, caps) and runs
// the plugin, into st. A failure of the plugin leaves an empty plan and
// is counted (fail open); so does a panic of the code that loads the
// visitor's state, a bug of bespoke's or of a Store: the visitor gets
// the page unpersonalized rather than a closed connection.
func (p *Proxy) decide(r *http.Request, st *state) {
	s := st.site
	defer func() {
		if v := recover(); v != nil {
			// What was loaded is dropped, not saved over the visitor's,
			// and no visitor id is set: the pooled request may hold
			// another visitor's.
			st.seen, st.caps = nil, nil
			st.req.Visitor = reqctx.Visitor{}
			st.req.Plan.Reset()
			st.req.Err = &site.PanicError{Value: v, Stack: debug.Stack()}
			p.decideFailed(r, st)
		}
	}()
	v := reqctx.ResolveVisitor(r)
	// A request the browser kept the proxy's cookies out of (a form
	// another site posted) holds none of the visitor's state, and the
	// browser keeps what its response sets: nothing is written over
	// that state, as for a visitor who declined.
	st.allowed = seen.Allowed(r, p.cfg.ConsentCookie, p.cfg.ConsentDeny) && !(v.New && reqctx.CookiesWithheld(r))
	if !st.allowed {
		v.Persist = false
		if v.New {
			// A new visitor who declined in the consent cookie has no
			// id, as one sending Sec-GPC (see ResolveVisitor).
			v.ID = ""
		}
	}
	capsOn := p.cfg.Caps != nil && s.UsesCaps()
	var seenFn func(string) bool
	if p.cfg.Seen != nil && s.UsesSeen() {
		set, info := p.loadSeen(r, v.ID, capsOn, st)
		p.stats.SeenLoads.Add(1)
		p.cfg.Metrics.Seen(p.cfg.Route, "load")
		switch {
		case info.Failed():
			p.stats.SeenErrors.Add(1)
			p.cfg.Metrics.Seen(p.cfg.Route, "error")
		case info.Dropped != "":
			p.stats.SeenDropped.Add(1)
			p.cfg.Metrics.Seen(p.cfg.Route, "dropped")
		}
		st.seen = set
		seenFn = set.Seen
	}
	if capsOn {
		if st.caps == nil {
			st.caps = p.loadCaps(r, v.ID)
		}
		if st.caps.Dropped != "" {
			// A proxy whose secret differs from the others' drops
			// every visitor's counts: only this says so.
			p.stats.CapsDropped.Add(1)
			p.cfg.Metrics.CapsDropped(p.cfg.Route, st.caps.Dropped)
		}
		st.caps.Rules = s.Actions().CapRules()
		p.renewCaps(st, v)
		v.Caps = st.caps
		switch {
		case Speculative(r.Header):
			// A prefetch or prerender counts no view, but the browser
			// shows the page it got when the visitor goes there,
			// without asking again: no capped rule applies to it, or
			// its showing would go uncounted, on every navigation.
			st.untracked = caps.Untracked{Hide: s.Actions().AllCaps()}
			v.Caps = &st.untracked
		case !st.allowed || st.caps.Unknown:
			// Counts that cannot be kept, or that the shared store
			// could not say: each capped rule does what its editor
			// chose (at_most's untracked), the others apply as if
			// never counted.
			st.untracked = caps.Untracked{Hide: s.Actions().UntrackedCaps()}
			v.Caps = &st.untracked
		}
	}
	decideStart := time.Now()
	s.Decide(r.Context(), r, v, st.secure, seenFn, st.req)
	p.cfg.Metrics.Decide(p.cfg.Route, time.Since(decideStart))
	p.cfg.Metrics.Refused(p.cfg.Route, len(st.req.Plan.Refused))
	if st.req.Plan.Loop != nil {
		p.cfg.Metrics.RedirectLoop(p.cfg.Route)
	}
	st.outcome = metrics.PassedThrough
	if st.req.Err != nil {
		p.decideFailed(r, st)
	}
}

// decideFailed counts and logs a decision that failed: the request is
// served unpersonalized.
func (p *Proxy) decideFailed(r *http.Request, st *state) {
	s, err := st.site, st.req.Err
	if r.Context().Err() != nil && !errors.As(err, new(*site.PanicError)) {
		// The visitor left while the plugin decided (or waited for an
		// instance): no fault of the plugin's. The request then ends as
		// the origin's does when the visitor leaves before it answers,
		// counted as aborted (errorHandler).
		p.log.DebugContext(r.Context(), "the visitor left before the plugin decided", "route", p.cfg.Route, "path", r.URL.Path, "err", err)
		return
	}
	st.outcome = metrics.FailOpen
	p.stats.FailOpen.Add(1)
	p.cfg.Metrics.PluginFailure(p.cfg.Route, failureReason(err))
	if pe := (*site.PanicError)(nil); errors.As(err, &pe) {
		p.warn(r, slog.LevelError, "deciding panicked, serving the page unpersonalized", "route", p.cfg.Route, "plugin", s.Name, "generation", s.Generation, "path", r.URL.Path, "err", err, "stack", string(pe.Stack))
	} else if errors.Is(err, engine.ErrValueTooLong) {
		// A visitor's value (an 8 KB User-Agent) can come with every
		// request: counted each time, logged once a minute.
		p.warnRarely(r, "a value of the request is too long for the plugin's bounded time, serving the page unpersonalized (logged once a minute; bespoke_plugin_failures_total{reason=\"oversized\"} counts them)",
			"route", p.cfg.Route, "plugin", s.Name, "generation", s.Generation, "path", r.URL.Path, "err", err)
	} else {
		p.warn(r, slog.LevelWarn, "plugin failed, serving the page unpersonalized", "route", p.cfg.Route, "plugin", s.Name, "generation", s.Generation, "path", r.URL.Path, "err", err)
	}
}

// hold returns the current plugin, held for the request (see Site.Hold),
// or nil when none is loaded. A reload retires the old plugin only after
// swapping in the new one, so a retired site read here is retried once
// per reload that raced with it; one retired and not replaced (the
// process is closing down) serves the request without a plugin.
func (p *Proxy) hold() *site.Site {
	for {
		s := p.site.Load()
		if s == nil || s.Hold() {
			return s
		}
		if p.site.Load() == s {
			return nil
		}
	}
}

// failureReason classifies a plugin failure for metrics.
func failureReason(err error) string {
	var pe *site.PanicError
	switch {
	case errors.As(err, &pe):
		return "panic"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, engine.ErrBusy):
		return "busy"
	case errors.Is(err, engine.ErrValueTooLong):
		return "oversized"
	case strings.Contains(err.Error(), "trapped"):
		return "trap"
	}
	return "error"
}

// done records a finished request, in metrics and the access log. A
// request whose handler did not finish (cut), or whose origin broke off
// mid-body when ReverseProxy does not panic (outside a server), is
// aborted: its transfer was cut. An origin that broke off is logged
// with the request's route and path.
func (p *Proxy) done(r *http.Request, st *state, status int, start time.Time, cut bool) {
	if err := st.origin.err; (cut || err != nil && st.outcome != metrics.UpstreamError) && st.outcome != metrics.Aborted {
		st.outcome = metrics.Aborted
		p.stats.Aborted.Add(1)
		if err != nil && r.Context().Err() == nil {
			msg := "the origin broke off the response body; the transfer to the visitor is cut"
			var stall *upstream.StallError
			if errors.As(err, &stall) {
				msg = "the origin stalled in the middle of the response body (limits.upstream.read_timeout); the transfer to the visitor is cut"
			}
			p.warn(r, slog.LevelWarn, msg, "route", p.cfg.Route, "path", r.URL.Path, "status", status, "err", err)
		}
	}
	if status == 0 && st.outcome == metrics.Aborted {
		status = 499 // no status was sent: the visitor left first, logged as nginx does
	}
	d := time.Since(start)
	p.cfg.Metrics.Request(p.cfg.Route, st.outcome, d)
	p.access(r, st, status, d)
}

// planTag returns the request's plan tag (see planTag), computed once.
func (st *state) planTag() uint64 {
	if !st.tagged && st.req != nil && st.req.Err == nil {
		st.tag, st.tagged = planTag(&st.req.Plan, st.site.Manifest()), true
	}
	return st.tag
}

// keepsVisitor reports whether a new visitor's id is worth a cookie: the
// decisions read it, or a server-side seen-filter is keyed by it.
func (p *Proxy) keepsVisitor(st *state) bool {
	return st.site.ReadsVisitor() || st.seen != nil && !p.cfg.Seen.InHeaders() || p.sharedCaps(st)
}

func (p *Proxy) redirect(w http.ResponseWriter, r *http.Request, st *state) {
	p.stats.Redirects.Add(1)
	p.setVisitorHeaders(w.Header(), st, st.req.Visitor.Persist && p.keepsVisitor(st), namedAll)
	// A rule's redirect takes effect when the visitor is sent on: a
	// navigation, not a subresource or a prefetch.
	if !NotAView(r.Header) && r.Method != http.MethodHead {
		rp := responsePlan{view: true, effectsBody: BodyPass}
		pl := &st.req.Plan
		if st.allowed && st.caps != nil && len(pl.Capped) > 0 {
			p.countCaps(w.Header(), st, rp, nil)
		}
		if st.seen != nil && st.allowed {
			p.recordMarks(st, rp, nil)
		}
	}
	p.saveSeen(r.Context(), w.Header(), st)
	h := w.Header()
	pl := &st.req.Plan
	redirectCaching(h, st.site, st.req, len(h["Set-Cookie"]) > 0, p.addVary)
	if e := pl.Experiments; e != "" {
		// A variant may be the redirect itself, and the page it leads to
		// may enroll no one: the assignment is told here or nowhere.
		h.Set(plan.ExperimentsHeader, e)
	}
	sendRedirect(w, r, plan.URIChars(st.req.Plan.Redirect.Location), st.req.Plan.Redirect.Status)
}

// sendRedirect answers with a redirect to loc, sent as it is: browsers
// resolve it against the request, dot segments included, as they
// resolve a link. net/http's Redirect cleans a target without a host as
// a path, its fragment included, so "/help#/../../admin", a value in the
// fragment of "/help#{{ x }}", sent the visitor to /admin, and a "//" in
// a fragment lost a slash. A GET gets the short page older clients show.
func sendRedirect(w http.ResponseWriter, r *http.Request, loc string, status int) {
	h := w.Header()
	h.Set("Location", loc)
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		io.WriteString(w, `<a href="`+html.EscapeString(loc)+`">`+http.StatusText(status)+"</a>.\n")
	}
}

// redirectCaching sets the caching headers of the rules' redirect for
// the request req decided (h holds its cookies when cookies is set),
// adding to Vary with addVary.
func redirectCaching(h http.Header, s *site.Site, req *site.Request, cookies bool, addVary func(http.Header, []string)) {
	pl := &req.Plan
	if s.SameForAll(pl.Matched) && pl.Experiments == "" && !cookies && !req.ByAddress {
		// A redirect of rules that read the URL alone (/sale-2025 to
		// /sale) is every visitor's: caches may keep it as they keep
		// the origin's own (a 301 as long as they like), apart by what
		// the other rules read, which may send another visitor of the
		// URL elsewhere.
		vary := s.Vary()
		if v := req.Varies; v != nil {
			vary = v.Page
		}
		addVary(h, vary)
		return
	}
	// Made for this visitor: no cache in front may keep it, whatever a
	// handler before the proxy (Caddy's header directive) or a rule's
	// set_header told CDNs, which follow their own headers ahead of
	// Cache-Control.
	h.Set("Cache-Control", "private, no-store")
	for _, k := range sharedCacheHeaders {
		delete(h, k) // (canonical: no Del)
	}
}

// lastHop reports whether r is a TRACE or OPTIONS this proxy must answer
// itself: its Max-Forwards is 0.
func lastHop(r *http.Request) bool {
	if r.Method != http.MethodTrace && r.Method != http.MethodOptions {
		return false
	}
	n, ok := maxForwards(r.Header)
	return ok && n == 0
}

// maxForwards reads a request's Max-Forwards: ok is false without one,
// or with one that is no number.
func maxForwards(h http.Header) (int64, bool) {
	v := h.Values("Max-Forwards")
	if len(v) != 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
	return n, err == nil && n >= 0
}

func (p *Proxy) rewriteRequest(pr *httputil.ProxyRequest) {
	// The query goes on as the visitor sent it (RFC 9110 7.7), as the
	// rules' query() read it: ReverseProxy has dropped from Out's the
	// pairs url.ParseQuery cannot read (a ";", a "%" that begins no
	// escape) and sorted the others, which bespoke never parses so.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	pr.SetURL(p.cfg.Origin)
	if m := pr.In.Method; m == http.MethodTrace || m == http.MethodOptions {
		// One hop less (RFC 9110 7.6.2).
		if n, ok := maxForwards(pr.In.Header); ok && n > 0 {
			pr.Out.Header.Set("Max-Forwards", strconv.FormatInt(n-1, 10))
		}
	}
	if p.cfg.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
	p.fwd.apply(pr.In, pr.Out.Header)
	st, _ := pr.In.Context().Value(stateKey{}).(*state)
	if st != nil {
		defer watchBody(pr.Out, st)
	}
	if st != nil && st.site != nil {
		WithoutOriginHeaders(pr.Out.Header, st.site.OriginHeaders())
	}
	rewrites, tag := false, uint64(0)
	if st != nil && st.req != nil {
		pl := &st.req.Plan
		for _, h := range pl.RequestHeaders {
			pr.Out.Header.Set(h.Name, h.Value)
		}
		rewrites = len(pl.Edits) > 0 || len(pl.JSONEdits) > 0
		if rewrites && pr.Out.Header.Get("If-None-Match") != "" {
			tag = st.planTag()
		}
	}
	if rewrites {
		acceptDecodable(pr.Out.Header)
		if pr.Out.Header.Get("Range") != "" {
			emptyBody(pr.Out)
		}
		if !resendable(pr.Out) {
			// A range of a page is answered by asking the origin for
			// all of it again (see ranges.go), and this request cannot
			// be sent twice. (Out, whose Body is nil when the visitor's
			// request has none: In's may be wrapped all the same, as
			// Caddy wraps every request's.)
			pr.Out.Header.Del("Range")
			pr.Out.Header.Del("If-Range")
		}
	}
	if pr.In.Method != http.MethodGet && pr.In.Method != http.MethodHead {
		// A precondition of a change (If-None-Match: * on a PUT that
		// must create, If-Match on one that must not overwrite) goes
		// to the origin, which alone can check it (RFC 9110 13.2.1),
		// with the tags bespoke derived named as the origin's.
		originConditions(pr.Out.Header)
		return
	}
	if st != nil && rewrites {
		st.ifNoneMatch = pr.In.Header.Values("If-None-Match")
		st.ifModifiedSince = pr.In.Header.Get("If-Modified-Since")
	}
	inm, ims := pr.Out.Header.Values("If-None-Match"), pr.Out.Header.Get("If-Modified-Since")
	edited, others := conditionals(pr.Out.Header, rewrites && !loadsNoDocument(pr.In.Header), tag)
	if st != nil {
		st.editedTags, st.otherTags = edited, others
		st.withheld = !slices.Equal(inm, pr.Out.Header.Values("If-None-Match")) || ims != pr.Out.Header.Get("If-Modified-Since")
	}
}

// WithoutOriginHeaders takes out of h the headers only the proxy sends
// the origin (site.OriginHeaders), as the visitor sent them, under either
// spelling a CGI-style origin reads as one (X-Tier, X_Tier). The proxy
// does so for each request it forwards; an embedder that hands a request
// to the upstream past it (a protocol switch) does it too.
func WithoutOriginHeaders(h http.Header, names []string) {
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		delete(h, n)
	}
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 && slices.Contains(names, http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))) {
			delete(h, k)
		}
	}
}

// namedRules says which of the rules that matched X-Bespoke-Rules names:
// those whose reads the response's Vary names. A shared cache gives a
// style sheet to every visitor its Vary matches, and a rule that edits
// pages alone, matched for the one whose request it kept (on the device,
// which the style sheet's Vary does not name), would be named to the
// others.
type namedRules uint8

const (
	// namedNonHTML: the rules that can change a response no page edit
	// changes (Site.InVaryNonHTML).
	namedNonHTML namedRules = iota
	// namedAll: every rule (a page's Vary, or a private response).
	namedAll
	// namedAsset: the rules that can change a response neither a page
	// nor JSON (Site.InVaryAsset).
	namedAsset
)

// setVisitorHeaders sets the cookies and headers of the plan, the visitor
// cookie (when setVisitor), and debug headers, X-Bespoke-Rules naming the
// rules named says.
func (p *Proxy) setVisitorHeaders(h http.Header, st *state, setVisitor bool, named namedRules) {
	if st.req == nil {
		return
	}
	if v := st.req.Visitor; setVisitor && v.Persist {
		h.Add("Set-Cookie", reqctx.VisitorSetCookie(v, st.secure).String())
	}
	for _, c := range st.req.Plan.Cookies {
		if s := c.String(); s != "" {
			h.Add("Set-Cookie", s)
		}
	}
	for _, rh := range st.req.Plan.ResponseHeaders {
		h.Set(rh.Name, rh.Value)
	}
	if p.cfg.DebugHeaders {
		h.Set("X-Bespoke-Generation", strconv.FormatInt(st.site.Generation, 10))
		names := make([]string, 0, len(st.req.Plan.Matched))
		for _, ri := range st.req.Plan.Matched {
			if named == namedAll || named == namedNonHTML && st.site.InVaryNonHTML(ri) || named == namedAsset && st.site.InVaryAsset(ri) {
				names = append(names, st.site.Manifest().Rules[ri].Name)
			}
		}
		h.Set("X-Bespoke-Rules", strings.Join(names, ", "))
	}
}

// saveSeen persists the seen-filter if the request changed it and the
// visitor allows it.
func (p *Proxy) saveSeen(ctx context.Context, h http.Header, st *state) {
	if st.seen == nil || !st.allowed || st.discardSeen || !st.seen.Changed() {
		return
	}
	switch err := p.cfg.Seen.Save(ctx, h, st.req.Visitor.ID, st.seen, st.secure); {
	case err == nil:
		p.stats.SeenSaves.Add(1)
		p.cfg.Metrics.Seen(p.cfg.Route, "save")
		if st.seen.Forgotten() > 0 {
			// A cookie full even degraded: older items were forgotten.
			p.cfg.Metrics.Seen(p.cfg.Route, "forgot")
		}
	case errors.Is(err, seen.ErrUnknownState):
		// The load failed (counted as error): what is stored is kept.
		p.stats.SeenSkipped.Add(1)
		p.cfg.Metrics.Seen(p.cfg.Route, "skipped")
	default:
		p.stats.SeenSaveErrors.Add(1)
		p.cfg.Metrics.Seen(p.cfg.Route, "save_error")
		// Counted in metrics; at Debug, so a slow Redis does not flood
		// the logs with one line per request.
		p.log.DebugContext(ctx, "saving the seen-filter failed", "route", p.cfg.Route, "err", err)
	}
}

// Warnings about requests (see warn): at most warnBurst of a kind every
// warnPeriod; those about a visitor's input that is not a fault (see
// warnRarely), one of a kind every rareWarnPeriod.
const (
	warnPeriod     = 10 * time.Second
	warnBurst      = 10
	rareWarnPeriod = time.Minute
)

// warn logs, with the request's fields, a line about r at most warnBurst
// times in warnPeriod for each msg (whatever the args), with left_out,
// the lines of msg not logged since the last: a fault that comes with
// every request (a plugin that traps, an origin down) is counted in full
// by the metrics and named by a few lines, not logged at the traffic's
// rate (see OPERATIONS.md, "Logs").
func (p *Proxy) warn(r *http.Request, level slog.Level, msg string, args ...any) {
	p.warnIn(&p.warnings, msg, r, level, msg, args...)
}

// warnRarely is warn for the lines logged once every rareWarnPeriod.
func (p *Proxy) warnRarely(r *http.Request, msg string, args ...any) {
	p.warnIn(&p.rare, msg, r, slog.LevelWarn, msg, args...)
}

// warnIn is warn with the limits of set, for the lines of kind.
func (p *Proxy) warnIn(set *lograte.Set, kind string, r *http.Request, level slog.Level, msg string, args ...any) {
	ok, left := set.Allow(kind, time.Now())
	if !ok {
		return
	}
	if left > 0 {
		args = append(args, "left_out", left)
	}
	p.log.Log(r.Context(), level, msg, args...)
}

// doneSeen ends the request's use of its seen-filter: it reports the
// items shown past the record limit, and returns the filter's memory.
func (p *Proxy) doneSeen(r *http.Request, st *state) {
	if n := st.seen.Unrecorded(); n > 0 {
		p.stats.SeenUnrecorded.Add(int64(n))
		p.cfg.Metrics.SeenUnrecorded(p.cfg.Route, n)
		p.warnRarely(r, "a response showed more items than one response records; the rest are not marked seen (mark only the first ones shown: mark: { first: N })",
			"route", p.cfg.Route, "path", r.URL.Path, "unrecorded", n, "total_unrecorded", p.stats.SeenUnrecorded.Load())
	}
	st.seen.Release()
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(stateKey{}).(*state)
	if st != nil {
		st.afterHints()
	}
	if st != nil && st.resend {
		return // ServeHTTP asks the origin again
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil || st != nil && st.bodyFailed.Load() {
		// The visitor went away before the origin answered (or before
		// it sent all of its request's body, which failed the request
		// before its context ended): nobody reads a response, and the
		// origin did nothing wrong. Counted as aborted, not as an origin
		// failure (which pages whoever watches the origin's health).
		if st != nil {
			st.outcome = metrics.Aborted
		}
		p.stats.Aborted.Add(1)
		if st != nil && st.bodyTimedOut.Load() {
			p.warn(r, slog.LevelInfo, "the visitor stopped sending its request's body", "route", p.cfg.Route, "path", r.URL.Path)
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			http.Error(w, "408 Request Timeout", http.StatusRequestTimeout)
			return
		}
		p.log.DebugContext(r.Context(), "the visitor left before the origin answered", "route", p.cfg.Route, "path", r.URL.Path)
		return
	}
	p.stats.UpstreamErrors.Add(1)
	if st != nil {
		st.outcome = metrics.UpstreamError
	}
	status := http.StatusBadGateway
	var ne net.Error
	var hs interface{ HTTPStatus() int }
	switch {
	case errors.As(err, &hs) && (hs.HTTPStatus() == http.StatusServiceUnavailable || hs.HTTPStatus() == http.StatusGatewayTimeout):
		// An in-process upstream's failure that says its status (see
		// host.Config.Next).
		status = hs.HTTPStatus()
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		status = http.StatusGatewayTimeout
	}
	if errors.Is(err, errBadEncoding) || errors.Is(err, errDecodeRatio) || errors.Is(err, errTooLarge) || errors.Is(err, errRewriteFailed) {
		// The response could neither be rewritten nor sent as the origin
		// sent it (see passOriginal).
		p.warn(r, slog.LevelWarn, "origin response refused", "route", p.cfg.Route, "path", r.URL.Path, "err", err)
		p.cfg.Metrics.Upstream(p.cfg.Route, status)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "502 Bad Gateway: the origin's response could not be passed on", status)
		return
	}
	// The origin's response began (its headers came), and its body
	// broke off before any of it was sent (see unsent).
	brokeOff := st != nil && st.origin.err != nil
	if brokeOff {
		p.warn(r, slog.LevelWarn, "the origin broke off its response before any of it was sent", "route", p.cfg.Route, "path", r.URL.Path, "status", status, "err", err)
	} else {
		p.warn(r, slog.LevelWarn, "origin request failed", "route", p.cfg.Route, "path", r.URL.Path, "status", status, "err", err)
	}
	p.cfg.Metrics.Upstream(p.cfg.Route, status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return // no body: the access log counts none
	}
	switch {
	case status == http.StatusGatewayTimeout && brokeOff:
		w.Write([]byte("504 Gateway Timeout: the origin stopped sending its response\n"))
	case status == http.StatusGatewayTimeout:
		w.Write([]byte("504 Gateway Timeout: the origin did not answer in time\n"))
	case status == http.StatusServiceUnavailable:
		w.Write([]byte("503 Service Unavailable: the origin is unavailable\n"))
	case brokeOff:
		w.Write([]byte("502 Bad Gateway: the origin broke off its response\n"))
	default:
		w.Write([]byte("502 Bad Gateway: the origin could not be reached\n"))
	}
}

// AccessMessage is the message of the access lines: the server, which
// logs those of the requests no route served, knows by it that a route
// logged one.
const AccessMessage = "request"

func (p *Proxy) access(r *http.Request, st *state, status int, d time.Duration) {
	if !p.cfg.AccessLog {
		return
	}
	attrs := []slog.Attr{
		slog.String("route", p.cfg.Route),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("outcome", st.outcome),
	}
	if st.upstreamStatus != 0 {
		attrs = append(attrs, slog.Int("upstream_status", st.upstreamStatus), slog.Duration("upstream_duration", st.upstreamTook))
	}
	if st.site != nil && st.req != nil {
		names := make([]string, 0, len(st.req.Plan.Matched))
		for _, ri := range st.req.Plan.Matched {
			names = append(names, st.site.Manifest().Rules[ri].Name)
		}
		attrs = append(attrs, slog.Any("rules", names), slog.Int64("generation", st.site.Generation), slog.Bool("rewritten", st.rewrote))
		if vs := st.req.Plan.Variants; len(vs) > 0 {
			var exp []string
			for i, v := range vs {
				if v != "" {
					exp = append(exp, st.site.Manifest().Experiments[i].Name+"="+v)
				}
			}
			if len(exp) > 0 {
				attrs = append(attrs, slog.Any("variants", exp))
			}
		}
		if st.req.Visitor.Overrides != nil {
			// A preview link forced the variants or the time: not the
			// visitor's, which analysts count.
			attrs = append(attrs, slog.Bool("preview", true))
		}
		if st.req.Err != nil {
			attrs = append(attrs, slog.Bool("fail_open", true))
		}
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, AccessMessage, attrs...)
}

// statusWriter records the status for the access log, and passes Flush
// through so streaming works.
//
// It holds the final status back until the first byte of the body, or
// a flush, goes to the server (commit): until then nothing of the
// response has been sent, and a response whose origin broke off can
// still be answered with a 502 instead of a 200 that never comes (see
// Proxy.unsent). What the log says of the response is then true: status
// is what was given to the server, and 0 while nothing was.
//
// A rewritten body has no Content-Length, and httputil.ReverseProxy
// flushes a response of unknown length after every write: one syscall,
// and one small chunk, per read from the origin, and a timer started per
// response whose flush runs on a goroutine of its own. Such a body paces
// itself instead (setPaced): the writer ignores ReverseProxy's flushes,
// and the body flushes (flushNow) only when the origin pauses, just
// before a read from the origin that may wait. A page that arrives at
// once then leaves in a few large writes, and one the origin sends in
// parts reaches the visitor part by part, as soon as each has been
// rewritten. Its response is given ReverseProxy with the length
// pacedLength, which ReverseProxy does not take for unknown: no timer
// runs for it.
type statusWriter struct {
	http.ResponseWriter
	status int
	// pending is the final status written and not yet given to the
	// server; 0 when none.
	pending int

	// mu orders the handler's writes and flushes with those of
	// ReverseProxy's flush timer, and of headersAfter's, which run on
	// goroutines of their own.
	mu      sync.Mutex
	paced   bool // the body flushes itself: Flush does nothing
	stopped bool // the handler returned: the ResponseWriter is not ours
	// timer sends the headers of a paced body whose origin keeps the
	// visitor waiting (headersAfter); quiet stops it for good.
	timer *time.Timer
	quiet bool
	// hinted: an informational response was written, after which
	// ReverseProxy cleared the header map (see takeHinted).
	hinted atomic.Bool
	// http10: the request is HTTP/1.0, to which no informational
	// response goes.
	http10 bool
	// unflushed: the last write may be held in net/http's buffers,
	// being smaller than what passes them whole (see holding).
	unflushed bool
}

// takeHinted reports whether an informational response was written (or
// dropped, see http10) since the last call. ReverseProxy copies the
// headers of each one it forwards into the response's header map, writes
// it, and clears the map: the headers the server's handlers set before
// the proxy (a session cookie, HSTS, Caddy's Server and header
// directive) are gone with them, and the proxy puts them back (see
// state.afterHints).
func (w *statusWriter) takeHinted() bool {
	return w.hinted.Load() && w.hinted.Swap(false)
}

func (w *statusWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// An informational response (103 Early Hints, forwarded by
	// ReverseProxy) comes before the final one, and goes at once: 101
	// is the only one that ends the exchange. Not to an HTTP/1.0 client,
	// which has none and would read it as the response (RFC 9110 15.2).
	if code < 200 && code != http.StatusSwitchingProtocols {
		if !w.http10 {
			w.ResponseWriter.WriteHeader(code)
		}
		w.hinted.Store(true)
		return
	}
	if w.status != 0 || w.pending != 0 {
		// Superfluous: net/http says so, and keeps the first.
		w.commitLocked()
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code == http.StatusSwitchingProtocols {
		w.status = code
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.pending = code
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == 0 && w.status == 0 {
		w.pending = http.StatusOK
	}
	w.commitLocked()
	// A large write leaves nothing in net/http's buffers, nor anything
	// before it: only a smaller one makes a flush worth its system call.
	w.unflushed = len(b) < passesBuffers
	return w.ResponseWriter.Write(b)
}

// holding reports whether the server may hold part of the response
// that a flush would send: the status and headers, or the last write.
func (w *statusWriter) holding() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.stopped && (w.pending != 0 || w.unflushed)
}

// commitLocked gives the server the status held back. w.mu is held.
func (w *statusWriter) commitLocked() {
	if w.pending != 0 {
		w.status, w.pending = w.pending, 0
		w.ResponseWriter.WriteHeader(w.status)
	}
}

// sent reports whether the response's status was given to the server.
func (w *statusWriter) sent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status != 0
}

// commit gives the server the status held back, if any: the handler
// returns with a response whose body was empty (a HEAD, a 304).
func (w *statusWriter) commit() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.commitLocked()
}

// abandon drops the response written so far, when none of it was given
// to the server, and reports whether it was so: the headers are the
// caller's to restore, and no flush sends them meanwhile.
func (w *statusWriter) abandon() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status != 0 {
		return false
	}
	// The response asked again streams as the origin sends it: its
	// flushes are not the abandoned body's to pace.
	w.pending, w.paced = 0, false
	w.quietLocked()
	return true
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher; for a paced body it only commits the
// status (ReverseProxy flushes before it writes trailers, which must
// not be taken for headers).
func (w *statusWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paced {
		w.commitLocked()
		return
	}
	if !w.stopped {
		w.flushLocked()
	}
}

// flushNow sends what was written, for a paced body whose origin paused.
func (w *statusWriter) flushNow() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.flushLocked()
	}
}

func (w *statusWriter) flushLocked() {
	if w.status == 0 && w.pending == 0 {
		// Nothing to send: a flush would send a 200 of net/http's.
		return
	}
	w.commitLocked()
	w.unflushed = false
	// Through the controller: a writer the embedder wrapped may flush
	// only by its Unwrap method, as http.ResponseController allows.
	http.NewResponseController(w.ResponseWriter).Flush()
}

// headersAfter sends the headers of a paced body after d, unless the
// body writes, or stops waiting (quiet), first: before its first byte, a
// page held back while it is rewritten shows its visitor that it comes
// only when its origin keeps them waiting, so that an origin that breaks
// off at once is answered with a 502 instead. Only the first call arms
// the timer.
func (w *statusWriter) headersAfter(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil || w.quiet || w.status != 0 {
		return
	}
	w.timer = time.AfterFunc(d, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.quiet && !w.stopped {
			w.flushLocked()
		}
	})
}

// quietHeaders stops headersAfter's timer: once it returns, no flush of
// the timer's runs, and the handler may change the headers again.
func (w *statusWriter) quietHeaders() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.quietLocked()
}

func (w *statusWriter) quietLocked() {
	w.quiet = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// setPaced hands flushing to the body, before the body is written.
func (w *statusWriter) setPaced() {
	w.mu.Lock()
	w.paced = true
	w.mu.Unlock()
}

// stop ends the writer's use of the ResponseWriter when the handler
// returns (net/http flushes what is left).
func (w *statusWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.quietLocked()
}

// pacedLength is the ContentLength of a response whose body paces
// itself (statusWriter), its Content-Length header removed: not -1, for
// which httputil.ReverseProxy would start a flush timer per response
// that the body has no use for, and not a length, which none is yet.
// Nothing but ReverseProxy reads the field once the response is handed
// to it; the visitor's framing follows the header.
const pacedLength = -2

// Interface guards.
var _ http.Handler = (*Proxy)(nil)
