// Package metrics exposes what the proxy does as Prometheus metrics:
// requests by route and outcome, decision and rewrite latency, plugin pool
// and failures, reloads, seen-store traffic and upstream errors. All names
// start with bespoke_.
package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bespoke-edge/bespoke/internal/version"
)

// Outcomes of a request, the outcome label of bespoke_requests_total.
const (
	Personalized  = "personalized"   // a rule changed the response
	PassedThrough = "passed_through" // rules ran, nothing applied
	FailOpen      = "fail_open"      // the plugin failed; the page was served as the origin sent it
	Redirected    = "redirected"     // a rule answered with a redirect
	NoPlugin      = "no_plugin"      // no plugin loaded
	UpstreamError = "upstream_error" // the origin failed (502/504)
	Aborted       = "aborted"        // the transfer was cut mid-body (the visitor went away, or the origin broke off), or the visitor left before the origin answered
)

// Metrics holds the collectors. A nil *Metrics records nothing, so code
// can call it unconditionally.
type Metrics struct {
	Registry *prometheus.Registry

	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	decideSeconds  *prometheus.HistogramVec
	rewriteBytes   *prometheus.CounterVec
	rewriteSeconds *prometheus.HistogramVec
	pluginFailures *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	generation     *prometheus.GaugeVec
	seen           *prometheus.CounterVec
	seenUnrecorded *prometheus.CounterVec
	capsDropped    *prometheus.CounterVec
	upstream       *prometheus.CounterVec
	bodyLimits     *prometheus.CounterVec
	mapFallbacks   *prometheus.HistogramVec
	refused        *prometheus.CounterVec
	loops          *prometheus.CounterVec
	configReloads  *prometheus.CounterVec
	configGen      *prometheus.GaugeVec
	acceptErrors   *prometheus.CounterVec

	// shared is what every scope of these metrics (see Scope) holds
	// together; scope tells this one's collectors from the others'.
	shared *shared
	scope  int
}

// shared is the state the scopes of one Metrics share.
type shared struct {
	mu sync.Mutex
	// feeds are the collectors read at scrape time from the state of a
	// route or a store (its plugin pool, its edit map cache), by owner
	// and kind: registered once, read from every scope that feeds them,
	// and unregistered when the last one leaves (Forget), so that a
	// registry outlives the handlers recording in it.
	feeds map[string]*feedSet
	// routes are the scopes that serve each route, for Forget.
	routes map[string]map[int]bool
	// held are the budgets of bodies held whole of the servers recording
	// here (see HeldBytes), by a number of their own.
	held      map[any]*heldBudget
	nextScope int
}

// feedSet is one owner's collectors of one kind and what feeds them.
type feedSet struct {
	collectors []prometheus.Collector
	// source is the *feed[T] the collectors read.
	source any
	// detach, by scope, takes that scope's source out.
	detach map[int]func() bool
}

// latencyBuckets suit sub-millisecond decisions and rewrites up to pages
// that take a while.
var latencyBuckets = []float64{1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}

// requestBuckets suit whole requests, which wait for the origin: from a
// cached answer to the origin's 60 s header timeout and a long download
// (past the last bucket, histogram_quantile answers its bound).
var requestBuckets = []float64{1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, 30, 60, 120}

// New registers the collectors in a new registry, with the Go runtime and
// process collectors.
func New() *Metrics { return NewIn(prometheus.NewRegistry(), true) }

// NewIn registers the collectors in reg, a program's own registry; runtime
// adds the Go runtime and process collectors, which such a registry often
// holds already.
func NewIn(reg *prometheus.Registry, runtime bool) *Metrics {
	m := &Metrics{
		Registry: reg,
		shared:   &shared{feeds: map[string]*feedSet{}, routes: map[string]map[int]bool{}},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_requests_total", Help: "Requests served, by route and outcome.",
		}, []string{"route", "outcome"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bespoke_request_duration_seconds", Help: "Time to serve a request, to the last byte.", Buckets: requestBuckets,
		}, []string{"route"}),
		decideSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bespoke_decide_duration_seconds", Help: "Time to build the context and run the plugin.", Buckets: latencyBuckets,
		}, []string{"route"}),
		rewriteBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_rewrite_bytes_total", Help: "Bytes of response bodies that went through a rewriter.",
		}, []string{"route", "kind"}),
		rewriteSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bespoke_rewrite_duration_seconds", Help: "Time spent rewriting one body (excluding waiting for the origin).", Buckets: latencyBuckets,
		}, []string{"route", "kind"}),
		pluginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_plugin_failures_total", Help: "Plugin decisions that failed, by reason (trap, timeout, busy: no instance came free within the decision timeout, oversized: a value too long for a plugin without deadline to read in its bounded time, error; panic: a bug of the host recovered while deciding).",
		}, []string{"route", "reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_reloads_total", Help: "Plugin loads, by result (ok, error).",
		}, []string{"route", "result"}),
		generation: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bespoke_plugin_generation", Help: "Generation of the plugin serving a route.",
		}, []string{"route"}),
		seen: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_seen_store_total",
			Help: "Seen-filter operations, by event: load; dropped (a stored state that could not be used); error (the store could not load: a Redis timeout, error or outage); save; skipped (not saved because its load failed); save_error; overflow (a page too long to hold back for the cookie); late (a page held back until its edit map's last list, whose rest showed more items, not in the cookie); forgot (a save that forgot part of the visitor's older items to fit the cookie).",
		}, []string{"route", "event"}),
		seenUnrecorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_seen_unrecorded_items_total", Help: "Items responses showed past what one response may record in the seen-filter (not marked seen).",
		}, []string{"route"}),
		capsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_caps_dropped_total", Help: "Visitors' frequency-cap counts that could not be read, by reason: malformed, tampered (signed with another key: proxies that do not share the secret), old-format; unavailable (the shared store could not be read). Their capped rules count from zero, or do what untracked says when the counts are unknown.",
		}, []string{"route", "reason"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_upstream_errors_total", Help: "Origin failures, by status answered (502, 504).",
		}, []string{"route", "status"}),
		bodyLimits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bespoke_body_limits_total",
			Help: "Response bodies the plan edits that a limit, their encoding, the origin or a rewriter failure kept from being rewritten, by reason (too_large, decode_ratio, bad_encoding, encoding: a Content-Encoding the proxy cannot undo, no_transform: the origin's Cache-Control, xhtml: a page browsers read as XML, attachment: a page sent to be saved, json_depth, json_invalid, charset, rewrite_failed) and result (untouched: sent as the origin sent it; stopped: rewritten up to the limit, copied after; cut: the transfer was cut; refused: answered 502; resent: asked of the origin again and sent untouched; skipped: not rewritten, the rewriter failed on the page lately).",
		}, []string{"route", "reason", "result"}),
		mapFallbacks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bespoke_editmap_fallback_offset_bytes", Help: "Where pages stopped matching their edit map (those that fell back and those that resumed): the offset of the first block that differed.",
			Buckets: []float64{0, 4 << 10, 16 << 10, 64 << 10, 256 << 10},
		}, []string{"route"}),
	}
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bespoke_refused_values_total",
		Help: "Values of requests that could not be written where a rule writes them (a URL the rule does not allow, code on the element the page has, an action of a manifest the checker would refuse): replaced by their default, or their action dropped.",
	}, []string{"route"})
	m.loops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bespoke_redirect_loops_total",
		Help: "Redirects a rule decided that pointed to the page requested (the visitor would be sent there again and again), not made: the page was served.",
	}, []string{"route"})
	m.configReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bespoke_config_reloads_total",
		Help: "Reloads that found the configuration file changed (bespoke serve --config), by result: ok, the new configuration serves; error, it was rejected and the one before goes on.",
	}, []string{"result"})
	m.configGen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bespoke_config_generation", Help: "Generation of the configuration serving (bespoke serve --config): 1 at start, one more with each configuration a reload loads.",
	}, nil)
	m.acceptErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bespoke_accept_errors_total",
		Help: "Accepts of a connection that failed and were retried, by listener (visitors, admin), the process out of file descriptors above all (EMFILE: raise LimitNOFILE=, ulimit -n); the visitors' keep-alive is off while theirs fail.",
	}, []string{"listener"})
	m.acceptErrors.WithLabelValues("visitors")
	m.acceptErrors.WithLabelValues("admin")
	build := version.Get()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bespoke_build_info", Help: "Always 1: the build of bespoke serving, by version, source revision and Go toolchain.",
	}, []string{"version", "revision", "goversion"})
	buildInfo.WithLabelValues(build.Version, build.ShortRevision(), build.Go).Set(1)
	reg.MustRegister(m.requests, m.requestSeconds, m.decideSeconds, m.rewriteBytes, m.rewriteSeconds,
		m.pluginFailures, m.reloads, m.generation, m.seen, m.seenUnrecorded, m.capsDropped, m.upstream, m.bodyLimits, m.mapFallbacks, m.refused, m.loops, m.configReloads, m.configGen, m.acceptErrors, buildInfo)
	if runtime {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Scope returns metrics recording in the same collectors as m, whose
// Forget takes out only what it registered: a configuration being
// replaced and its successor serve the same routes for a while, each
// reading its own plugin pools and caches, and the series of a route
// both serve go on from one to the other.
func (m *Metrics) Scope() *Metrics {
	if m == nil {
		return nil
	}
	c := *m
	m.shared.mu.Lock()
	m.shared.nextScope++
	c.scope = m.shared.nextScope
	m.shared.mu.Unlock()
	return &c
}

// feed is a source of T (a pool's, a cache's counters) read at scrape
// time, summed with the other scopes' sources of the same owner; a
// source taken out leaves what its counters counted (keep makes its
// gauges zero), so that they do not go back.
type feed[T any] struct {
	mu   sync.Mutex
	live map[int]func() T
	base T
	add  func(T, T) T
	keep func(T) T
}

func (f *feed[T]) read() T {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.base
	for _, fn := range f.live {
		t = f.add(t, fn())
	}
	return t
}

// attach adds fn, m's source of the collectors of key, which register
// makes (reading them from read) when no scope has them yet. The
// returned func takes fn out, and the collectors with it when it was
// the last.
func attach[T any](m *Metrics, owner, key string, fn func() T, add func(T, T) T, keep func(T) T, register func(read func() T) []prometheus.Collector) func() {
	sh := m.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	id := owner + "\x00" + key
	fs := sh.feeds[id]
	var f *feed[T]
	if fs == nil {
		f = &feed[T]{live: map[int]func() T{}, add: add, keep: keep}
		fs = &feedSet{detach: map[int]func() bool{}}
		fs.collectors = register(f.read)
		m.Registry.MustRegister(fs.collectors...)
		sh.feeds[id] = fs
	}
	if old := fs.detach[m.scope]; old != nil {
		// The same scope again (a route of that name built anew after
		// a failed start): its source replaces the last.
		old()
	}
	if f == nil {
		f = fs.source.(*feed[T])
	}
	fs.source = f
	f.mu.Lock()
	f.live[m.scope] = fn
	f.mu.Unlock()
	scope := m.scope
	fs.detach[scope] = func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if src, ok := f.live[scope]; ok {
			f.base = f.add(f.base, f.keep(src()))
			delete(f.live, scope)
		}
		return len(f.live) == 0
	}
	return func() { m.detach(id, scope) }
}

// detach takes scope's source of the feed id out, and its collectors
// with it when it was the last.
func (m *Metrics) detach(id string, scope int) {
	sh := m.shared
	sh.mu.Lock()
	fs := sh.feeds[id]
	var last bool
	if fs != nil && fs.detach[scope] != nil {
		last = fs.detach[scope]()
		delete(fs.detach, scope)
	}
	if last {
		// Unregistered before another scope may attach to id again: a
		// route of the same name built meanwhile (the next
		// configuration's) registered its collectors beside these, or
		// had them taken out with these, whose descriptions are the
		// same. (A scrape reads no collector under the registry's lock,
		// so one that takes sh.mu, bespoke_held_bytes, waits on no
		// registration.)
		delete(sh.feeds, id)
		for _, c := range fs.collectors {
			m.Registry.Unregister(c)
		}
	}
	sh.mu.Unlock()
}

// Forget unregisters the collectors that read route's state (its plugin
// pool, its edit map cache) as m's scope registered them, once the route
// is closed, and its plugin generation when no other scope serves it;
// the counters it recorded stay, and go on if a route of that name comes
// back.
func (m *Metrics) Forget(route string) {
	if m == nil {
		return
	}
	m.forget("route:" + route)
	sh := m.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.routes[route], m.scope)
	if len(sh.routes[route]) == 0 {
		// No plugin serves the route any more; under sh.mu, so that
		// a route of the name a configuration builds meanwhile
		// (Route) keeps the generation its plugin sets.
		delete(sh.routes, route)
		m.generation.DeleteLabelValues(route)
	}
}

// Remove deletes every series of route, once it is forgotten by every
// scope: a route a new configuration no longer has leaves the metrics,
// rather than showing counters that never move again.
func (m *Metrics) Remove(route string) {
	if m == nil {
		return
	}
	// Held to the end, so that a route of the name a configuration
	// builds meanwhile (Route) keeps the series it makes.
	m.shared.mu.Lock()
	defer m.shared.mu.Unlock()
	if len(m.shared.routes[route]) > 0 {
		return
	}
	l := prometheus.Labels{"route": route}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.requests, m.requestSeconds, m.decideSeconds, m.rewriteBytes, m.rewriteSeconds, m.pluginFailures, m.reloads,
		m.generation, m.seen, m.seenUnrecorded, m.capsDropped, m.upstream, m.bodyLimits, m.mapFallbacks, m.refused, m.loops,
	} {
		v.DeletePartialMatch(l)
	}
}

// forget takes out every source m's scope gave the feeds of owner.
func (m *Metrics) forget(owner string) {
	sh := m.shared
	sh.mu.Lock()
	var ids []string
	for id, fs := range sh.feeds {
		if strings.HasPrefix(id, owner+"\x00") && fs.detach[m.scope] != nil {
			ids = append(ids, id)
		}
	}
	sh.mu.Unlock()
	for _, id := range ids {
		m.detach(id, m.scope)
	}
}

// LimitLabel is a reason and a result of bespoke_body_limits_total.
type LimitLabel struct{ Reason, Result string }

// Route makes the series of route's failure counters, at zero, before
// their first event: a dashboard then shows 0, not "no data", and an
// alert on a rate or on absent() works from the start. The counters are
// the plugin's failures (each reason), the origin's (502, 504), the
// values refused, the redirect loops, the seen items not recorded, the
// body limits given, and the plugin loads that failed (a rule file
// rejected is not tried again: its series must exist at 0 for an
// increase() to see its one event).
func (m *Metrics) Route(route string, limits []LimitLabel) {
	if m == nil {
		return
	}
	m.shared.mu.Lock()
	if m.shared.routes[route] == nil {
		m.shared.routes[route] = map[int]bool{}
	}
	m.shared.routes[route][m.scope] = true
	m.shared.mu.Unlock()
	m.reloads.WithLabelValues(route, "error")
	for _, reason := range []string{"trap", "timeout", "busy", "oversized", "error", "panic"} {
		m.pluginFailures.WithLabelValues(route, reason)
	}
	m.upstream.WithLabelValues(route, "502")
	m.upstream.WithLabelValues(route, "504")
	m.refused.WithLabelValues(route)
	m.loops.WithLabelValues(route)
	m.seenUnrecorded.WithLabelValues(route)
	for _, l := range limits {
		m.bodyLimits.WithLabelValues(route, l.Reason, l.Result)
	}
}

// Request records one served request.
func (m *Metrics) Request(route, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, outcome).Inc()
	m.requestSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// Decide records the time of one decision.
func (m *Metrics) Decide(route string, d time.Duration) {
	if m == nil {
		return
	}
	m.decideSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// Refused records n values of one request that could not be written
// where a rule writes them: refused by the plan when deciding, or on
// the page's elements by the rewriter.
func (m *Metrics) Refused(route string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.refused.WithLabelValues(route).Add(float64(n))
}

// RedirectLoop records a redirect not made: it pointed to the page
// requested.
func (m *Metrics) RedirectLoop(route string) {
	if m == nil {
		return
	}
	m.loops.WithLabelValues(route).Inc()
}

// Rewrite records one rewritten body ("html" or "json").
func (m *Metrics) Rewrite(route, kind string, bytes int64, d time.Duration) {
	if m == nil {
		return
	}
	m.rewriteBytes.WithLabelValues(route, kind).Add(float64(bytes))
	m.rewriteSeconds.WithLabelValues(route, kind).Observe(d.Seconds())
}

// PluginFailure records a failed decision: "trap", "timeout", "busy",
// "oversized", "error" or "panic".
func (m *Metrics) PluginFailure(route, reason string) {
	if m == nil {
		return
	}
	m.pluginFailures.WithLabelValues(route, reason).Inc()
}

// Reload records a plugin load and the generation serving after it.
func (m *Metrics) Reload(route string, ok bool, generation int64) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.reloads.WithLabelValues(route, result).Inc()
	m.generation.WithLabelValues(route).Set(float64(generation))
}

// AcceptError counts an accept of a connection to listener (visitors,
// admin) that failed and was retried.
func (m *Metrics) AcceptError(listener string) {
	if m == nil {
		return
	}
	m.acceptErrors.WithLabelValues(listener).Inc()
}

// ConfigGeneration says a configuration file serves, of generation n,
// and makes the series of bespoke_config_reloads_total at zero.
func (m *Metrics) ConfigGeneration(n int64) {
	if m == nil {
		return
	}
	m.configReloads.WithLabelValues("ok")
	m.configReloads.WithLabelValues("error")
	m.configGen.WithLabelValues().Set(float64(n))
}

// ConfigReload records a reload that found the configuration file
// changed, and the configuration's generation serving after it.
func (m *Metrics) ConfigReload(ok bool, generation int64) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.configReloads.WithLabelValues(result).Inc()
	m.configGen.WithLabelValues().Set(float64(generation))
}

// Generation sets the generation of the plugin serving route, without
// counting a load: a configuration rejected had loaded its routes'
// plugins, each setting it, and the one serving goes on.
func (m *Metrics) Generation(route string, generation int64) {
	if m == nil {
		return
	}
	m.generation.WithLabelValues(route).Set(float64(generation))
}

// Seen records a seen-store event.
func (m *Metrics) Seen(route, event string) {
	if m == nil {
		return
	}
	m.seen.WithLabelValues(route, event).Inc()
}

// SeenUnrecorded records items a response showed past the record limit.
func (m *Metrics) SeenUnrecorded(route string, n int) {
	if m == nil {
		return
	}
	m.seenUnrecorded.WithLabelValues(route).Add(float64(n))
}

// CapsDropped records a visitor's frequency-cap counts that could not be
// read, and why.
func (m *Metrics) CapsDropped(route, reason string) {
	if m == nil {
		return
	}
	m.capsDropped.WithLabelValues(route, reason).Inc()
}

// SeenStoreStats are a seen store's own counters (the Redis store's), read
// at scrape time.
type SeenStoreStats struct {
	Up bool
	// Loads and their ends; Writes and their failures; the saves dropped
	// (queue full, closed) and skipped (load failed); outages and
	// recoveries.
	Loads, Hits, Misses, Invalid, Timeouts, Errors    int64
	Writes, WriteErrors, WriteTimeouts, Dropped, Skip int64
	Lost, Reconnects                                  int64
	// Merges counts the writes that found another request's state and
	// added their showings to it.
	Merges int64
}

// SeenStore exposes the counters of the seen store named store through
// fn: bespoke_seen_redis_total{store,event} and bespoke_seen_redis_up{store}.
// The returned function unregisters them, when the store is closed.
func (m *Metrics) SeenStore(store string, fn func() SeenStoreStats) (forget func()) {
	if m == nil {
		return func() {}
	}
	events := []struct {
		name string
		get  func(SeenStoreStats) int64
	}{
		{"load", func(s SeenStoreStats) int64 { return s.Loads }},
		{"hit", func(s SeenStoreStats) int64 { return s.Hits }},
		{"miss", func(s SeenStoreStats) int64 { return s.Misses }},
		{"invalid", func(s SeenStoreStats) int64 { return s.Invalid }},
		{"load_timeout", func(s SeenStoreStats) int64 { return s.Timeouts }},
		{"load_error", func(s SeenStoreStats) int64 { return s.Errors }},
		{"write", func(s SeenStoreStats) int64 { return s.Writes }},
		{"write_error", func(s SeenStoreStats) int64 { return s.WriteErrors }},
		{"write_timeout", func(s SeenStoreStats) int64 { return s.WriteTimeouts }},
		{"dropped", func(s SeenStoreStats) int64 { return s.Dropped }},
		{"skipped", func(s SeenStoreStats) int64 { return s.Skip }},
		{"lost", func(s SeenStoreStats) int64 { return s.Lost }},
		{"reconnect", func(s SeenStoreStats) int64 { return s.Reconnects }},
		{"merge", func(s SeenStoreStats) int64 { return s.Merges }},
	}
	add := func(a, b SeenStoreStats) SeenStoreStats {
		return SeenStoreStats{Up: a.Up || b.Up, Loads: a.Loads + b.Loads, Hits: a.Hits + b.Hits, Misses: a.Misses + b.Misses, Invalid: a.Invalid + b.Invalid,
			Timeouts: a.Timeouts + b.Timeouts, Errors: a.Errors + b.Errors, Writes: a.Writes + b.Writes, WriteErrors: a.WriteErrors + b.WriteErrors,
			WriteTimeouts: a.WriteTimeouts + b.WriteTimeouts, Dropped: a.Dropped + b.Dropped, Skip: a.Skip + b.Skip, Lost: a.Lost + b.Lost,
			Reconnects: a.Reconnects + b.Reconnects, Merges: a.Merges + b.Merges}
	}
	keep := func(s SeenStoreStats) SeenStoreStats { s.Up = false; return s }
	return attach(m, "store:"+store, "redis", fn, add, keep, func(read func() SeenStoreStats) []prometheus.Collector {
		var cs []prometheus.Collector
		for _, e := range events {
			get := e.get
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "bespoke_seen_redis_total", Help: "The Redis seen store's operations, by event (loads and how they ended, background writes and how they failed, saves dropped or skipped, merges with another request's state, outages and recoveries).",
				ConstLabels: prometheus.Labels{"store": store, "event": e.name},
			}, func() float64 { return float64(get(read())) }))
		}
		return append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bespoke_seen_redis_up", Help: "Whether the Redis seen store reaches its server: 1, or 0 while it takes it for lost.",
			ConstLabels: prometheus.Labels{"store": store},
		}, func() float64 {
			if read().Up {
				return 1
			}
			return 0
		}))
	})
}

// HeldBytes exports what the bodies held whole take now (used) of what
// they may (limit, limits.held_bytes), added up over the budgets of the
// servers that record here; budget names the budget, which two servers
// may share (a configuration and its successor, while the requests of
// the first finish), to be counted once. The returned func takes this
// server's share out.
func (m *Metrics) HeldBytes(budget any, used func() int64, limit int64) (forget func()) {
	if m == nil {
		return func() {}
	}
	sh := m.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.held == nil {
		sh.held = map[any]*heldBudget{}
		sum := func(get func(*heldBudget) int64) func() float64 {
			return func() float64 {
				sh.mu.Lock()
				defer sh.mu.Unlock()
				var n int64
				for _, b := range sh.held {
					n += get(b)
				}
				return float64(n)
			}
		}
		m.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bespoke_held_bytes", Help: "Bytes the bodies held whole take now (JSON documents the rules edit, pages held back for their cookies), every route together; past bespoke_held_bytes_limit, they pass untouched (bespoke_body_limits_total{reason=\"held_bytes\"}).",
			}, sum(func(b *heldBudget) int64 { return b.used() })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bespoke_held_bytes_limit", Help: "limits.held_bytes: what the bodies held whole may take at one time.",
			}, sum(func(b *heldBudget) int64 { return b.limit })))
	}
	b := sh.held[budget]
	if b == nil {
		b = &heldBudget{used: used, limit: limit}
		sh.held[budget] = b
	}
	b.refs++
	return func() {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if b.refs--; b.refs == 0 {
			delete(sh.held, budget)
		}
	}
}

type heldBudget struct {
	used  func() int64
	limit int64
	refs  int
}

// Upstream records an origin failure answered with status.
func (m *Metrics) Upstream(route string, status int) {
	if m == nil {
		return
	}
	s := "502"
	if status == 504 {
		s = "504"
	}
	m.upstream.WithLabelValues(route, s).Inc()
}

// BodyLimit records a response body a limit or its encoding kept from
// being rewritten: reason and result as in bespoke_body_limits_total.
func (m *Metrics) BodyLimit(route, reason, result string) {
	if m == nil {
		return
	}
	m.bodyLimits.WithLabelValues(route, reason, result).Inc()
}

// Pool exposes a plugin pool's state through fn, read at scrape time.
func (m *Metrics) Pool(route string, fn func() PoolStats) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"route": route}
	add := func(a, b PoolStats) PoolStats {
		return PoolStats{a.Instances + b.Instances, a.MemoryBytes + b.MemoryBytes, a.Waits + b.Waits, a.Discarded + b.Discarded}
	}
	keep := func(s PoolStats) PoolStats { s.Instances, s.MemoryBytes = 0, 0; return s }
	attach(m, "route:"+route, "pool", fn, add, keep, func(read func() PoolStats) []prometheus.Collector {
		counter, gauge := statCounter(labels, read), statGauge(labels, read)
		return []prometheus.Collector{
			gauge("bespoke_pool_instances", "Live plugin instances.", func(s PoolStats) int64 { return s.Instances }),
			gauge("bespoke_pool_memory_bytes", "Linear memory held by live plugin instances.", func(s PoolStats) int64 { return s.MemoryBytes }),
			counter("bespoke_pool_waits_total", "Decisions that waited for a free instance.", func(s PoolStats) int64 { return s.Waits }),
			counter("bespoke_pool_discarded_total", "Instances closed after a trap, an error or a timeout.", func(s PoolStats) int64 { return s.Discarded }),
		}
	})
}

// PoolStats is the state of a plugin pool (summed over its generations).
type PoolStats struct {
	Instances   int64
	MemoryBytes int64
	Waits       int64
	Discarded   int64
}

// EditMapStats is the state of a route's edit map cache.
type EditMapStats struct {
	Hits, Misses, Fallbacks int64 // pages spliced whole, rewritten without a map, that stopped matching theirs
	// Resumed counts the pages that stopped matching their map and
	// matched it again further on (not counted in Fallbacks).
	Resumed int64
	// Volatile counts the hits whose page differed from the map's in
	// volatile attribute values only (nonces, tokens).
	Volatile int64
	// TooLarge counts the pages rewritten in full though their map was
	// cached: with their edits, the rewrite could reach its memory bound.
	TooLarge int64
	// Streamed counts the pages without a validator or length rewritten
	// in full without a map: their origin sends them with pauses.
	Streamed    int64
	Bytes, Maps int64 // what the cache holds
}

// EditMaps exposes a route's edit map cache through fn, read at scrape
// time: bespoke_editmap_{hits,volatile_hits,misses,fallbacks,resumed,too_large,streamed}_total and
// bespoke_editmap_cache_bytes, _maps.
func (m *Metrics) EditMaps(route string, fn func() EditMapStats) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"route": route}
	add := func(a, b EditMapStats) EditMapStats {
		return EditMapStats{Hits: a.Hits + b.Hits, Misses: a.Misses + b.Misses, Fallbacks: a.Fallbacks + b.Fallbacks, Resumed: a.Resumed + b.Resumed,
			Volatile: a.Volatile + b.Volatile, TooLarge: a.TooLarge + b.TooLarge, Streamed: a.Streamed + b.Streamed, Bytes: a.Bytes + b.Bytes, Maps: a.Maps + b.Maps}
	}
	keep := func(s EditMapStats) EditMapStats { s.Bytes, s.Maps = 0, 0; return s }
	attach(m, "route:"+route, "editmaps", fn, add, keep, func(fn func() EditMapStats) []prometheus.Collector {
		counter, gauge := statCounter(labels, fn), statGauge(labels, fn)
		return []prometheus.Collector{
			counter("bespoke_editmap_hits_total", "HTML pages spliced with their edit map, whole.", func(s EditMapStats) int64 { return s.Hits }),
			counter("bespoke_editmap_volatile_hits_total", "HTML pages spliced whole that differed from their edit map's page in volatile attribute values only (nonces, tokens).", func(s EditMapStats) int64 { return s.Volatile }),
			counter("bespoke_editmap_misses_total", "HTML pages rewritten in full: no edit map of theirs was cached.", func(s EditMapStats) int64 { return s.Misses }),
			counter("bespoke_editmap_fallbacks_total", "HTML pages that stopped matching their edit map and were rewritten in full from there to their end.", func(s EditMapStats) int64 { return s.Fallbacks }),
			counter("bespoke_editmap_too_large_total", "HTML pages rewritten in full though their edit map was cached: with the visitor's edits, the rewrite could reach its memory bound (rewrite_buffer), which only a full rewrite keeps.", func(s EditMapStats) int64 { return s.TooLarge }),
			counter("bespoke_editmap_streamed_total", "HTML pages with neither a strong ETag nor a Content-Length rewritten in full without an edit map: their origin sends them as it renders them, and paused mid-page lately, twice within 4 KiB, where the map did not record a pause (a splice would hold the rest of the block through such a pause).", func(s EditMapStats) int64 { return s.Streamed }),
			counter("bespoke_editmap_resumed_total", "HTML pages that stopped matching their edit map and matched it again further on: rewritten in full only in between, spliced before and after.", func(s EditMapStats) int64 { return s.Resumed }),
			gauge("bespoke_editmap_cache_bytes", "Bytes the edit map cache holds.", func(s EditMapStats) int64 { return s.Bytes }),
			gauge("bespoke_editmap_cache_maps", "Edit maps the cache holds.", func(s EditMapStats) int64 { return s.Maps }),
		}
	})
}

// ConnStats is the state of the visitors' connections (see
// limits.max_connections).
type ConnStats struct {
	// Open are the connections accepted and not yet closed; Limit, how
	// many may be open at once; Waits counts the accepts that waited
	// for one to close.
	Open, Limit, Waits int64
}

// Connections exposes the visitors' connections through fn, read at
// scrape time: bespoke_visitor_connections, its _limit, and
// bespoke_connection_limit_waits_total.
func (m *Metrics) Connections(fn func() ConnStats) (forget func()) {
	if m == nil {
		return func() {}
	}
	add := func(a, b ConnStats) ConnStats {
		return ConnStats{Open: a.Open + b.Open, Limit: a.Limit + b.Limit, Waits: a.Waits + b.Waits}
	}
	keep := func(s ConnStats) ConnStats { return ConnStats{Waits: s.Waits} }
	return attach(m, "listener", "visitors", fn, add, keep, func(read func() ConnStats) []prometheus.Collector {
		return []prometheus.Collector{
			statGauge(nil, read)("bespoke_visitor_connections", "Visitors' connections open now (accepted, idle or serving).", func(s ConnStats) int64 { return s.Open }),
			statGauge(nil, read)("bespoke_visitor_connections_limit", "limits.max_connections: how many visitors' connections may be open at once; past it, new ones wait in the listen queue and idle keep-alive connections are closed. Unset, derived from the file descriptor limit (ulimit -n), half of what the process does not otherwise use, the other half left for the origins' connections.", func(s ConnStats) int64 { return s.Limit }),
			statCounter(nil, read)("bespoke_connection_limit_waits_total", "Accepts of a visitor's connection that waited for another to close, the visitors' connections at bespoke_visitor_connections_limit.", func(s ConnStats) int64 { return s.Waits }),
		}
	})
}

// GeoIPStats is the state of a GeoIP database (see geo.DB).
type GeoIPStats struct {
	// Built is when the database serving was built (Unix seconds).
	Built int64
	// Reloads and Errors count the files loaded again, and those that
	// did not load; Faults, the lookups that faulted on a file written
	// in place.
	Reloads, Errors, Faults int64
}

// GeoIP exposes the GeoIP database through fn, read at scrape time:
// bespoke_geoip_build_timestamp_seconds, bespoke_geoip_reloads_total and
// bespoke_geoip_lookup_faults_total.
func (m *Metrics) GeoIP(fn func() GeoIPStats) (forget func()) {
	if m == nil {
		return func() {}
	}
	add := func(a, b GeoIPStats) GeoIPStats {
		// Configurations of one file serve one database: the newest
		// build is the one a reload has loaded.
		return GeoIPStats{Built: max(a.Built, b.Built), Reloads: a.Reloads + b.Reloads, Errors: a.Errors + b.Errors, Faults: a.Faults + b.Faults}
	}
	keep := func(s GeoIPStats) GeoIPStats { s.Built = 0; return s }
	return attach(m, "geoip", "db", fn, add, keep, func(read func() GeoIPStats) []prometheus.Collector {
		result := func(r string) prometheus.Labels { return prometheus.Labels{"result": r} }
		reloads := "GeoIP database files loaded again as they changed (the watch, SIGHUP, POST /_bespoke/reload), by result: ok, the new file serves; error, it did not load and the one before goes on (or, written in place, finds nothing)."
		return []prometheus.Collector{
			statGauge(nil, read)("bespoke_geoip_build_timestamp_seconds", "When the GeoIP database serving was built (its metadata's build epoch), in Unix seconds: alert on its age.", func(s GeoIPStats) int64 { return s.Built }),
			statCounter(result("ok"), read)("bespoke_geoip_reloads_total", reloads, func(s GeoIPStats) int64 { return s.Reloads }),
			statCounter(result("error"), read)("bespoke_geoip_reloads_total", reloads, func(s GeoIPStats) int64 { return s.Errors }),
			statCounter(nil, read)("bespoke_geoip_lookup_faults_total", "GeoIP lookups that faulted on a database file written in place (not renamed over): they found nothing, as every lookup does until the file loads again.", func(s GeoIPStats) int64 { return s.Faults }),
		}
	})
}

// statCounter returns a maker of counters of one field of the stats read
// reads at scrape time, labelled labels.
func statCounter[S any](labels prometheus.Labels, read func() S) func(name, help string, get func(S) int64) prometheus.Collector {
	return func(name, help string, get func(S) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 { return float64(get(read())) })
	}
}

// statGauge is statCounter's gauge.
func statGauge[S any](labels prometheus.Labels, read func() S) func(name, help string, get func(S) int64) prometheus.Collector {
	return func(name, help string, get func(S) int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 { return float64(get(read())) })
	}
}

// OriginPoolStats is the state of a route's connections to its origin
// (see package upstream).
type OriginPoolStats struct {
	Dials, Reuses int64 // connections opened, requests sent on a kept one
	Stale         int64 // kept connections found closed by the origin (or with bytes nobody asked for)
	Retries       int64 // requests sent again after a kept connection failed before any answer
	Fallbacks     int64 // requests sent through Go's http.Transport (a body, an upgrade, https)
	Idle          int64 // connections idle in the pool
	SlotTimeouts  int64 // requests that waited past the response header timeout for a connection (max_conns_per_host)
}

// OriginPool exposes a route's origin connections through fn, read at
// scrape time: bespoke_origin_{dials,reuses,stale,retries,fallbacks,
// slot_timeouts}_total and bespoke_origin_idle_connections.
func (m *Metrics) OriginPool(route string, fn func() OriginPoolStats) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"route": route}
	add := func(a, b OriginPoolStats) OriginPoolStats {
		return OriginPoolStats{Dials: a.Dials + b.Dials, Reuses: a.Reuses + b.Reuses, Stale: a.Stale + b.Stale, Retries: a.Retries + b.Retries,
			Fallbacks: a.Fallbacks + b.Fallbacks, Idle: a.Idle + b.Idle, SlotTimeouts: a.SlotTimeouts + b.SlotTimeouts}
	}
	keep := func(s OriginPoolStats) OriginPoolStats { s.Idle = 0; return s }
	attach(m, "route:"+route, "origin", fn, add, keep, func(fn func() OriginPoolStats) []prometheus.Collector {
		counter, gauge := statCounter(labels, fn), statGauge(labels, fn)
		return []prometheus.Collector{
			counter("bespoke_origin_dials_total", "Connections opened to the origin for GET and HEAD requests.", func(s OriginPoolStats) int64 { return s.Dials }),
			counter("bespoke_origin_reuses_total", "GET and HEAD requests sent on a kept connection.", func(s OriginPoolStats) int64 { return s.Reuses }),
			counter("bespoke_origin_stale_total", "Kept connections found closed by the origin, or holding bytes nobody asked for, and closed before use.", func(s OriginPoolStats) int64 { return s.Stale }),
			counter("bespoke_origin_retries_total", "Requests sent again on a new connection after a kept one failed before any answer.", func(s OriginPoolStats) int64 { return s.Retries }),
			counter("bespoke_origin_fallbacks_total", "Requests sent through Go's http.Transport (a body, an upgrade, https).", func(s OriginPoolStats) int64 { return s.Fallbacks }),
			counter("bespoke_origin_slot_timeouts_total", "Requests answered 504 because every connection limits.upstream.max_conns_per_host allows stayed busy past the response header timeout.", func(s OriginPoolStats) int64 { return s.SlotTimeouts }),
			gauge("bespoke_origin_idle_connections", "Connections to the origin idle in the pool.", func(s OriginPoolStats) int64 { return s.Idle }),
		}
	})
}

// EditMapFallback records where a page stopped matching its edit map.
func (m *Metrics) EditMapFallback(route string, offset int) {
	if m == nil {
		return
	}
	m.mapFallbacks.WithLabelValues(route).Observe(float64(offset))
}
