// Package host is bespoke's embedding API: one call, New, returns an
// http.Handler that personalizes the pages of an upstream with a rule file
// (or a compiled plugin), the way `bespoke serve` does.
//
// The upstream is an origin URL, reached over HTTP by a transport of its
// own or one given, or an http.Handler of the same program: New then
// returns middleware that rewrites what that handler writes, streaming.
// Either way the visitor's request is decided on first (a rule may
// redirect or add request headers), the response is rewritten on its way
// out, and the seen-filter, caps and visitor cookies are kept.
//
// Configuration is a Config struct, not functional options: a struct
// reads as one document (it is what an operator's own configuration file
// decodes into), its zero fields take documented defaults, and New checks
// it all at once and returns an error for each bad value instead of a
// handler that fails on its first request.
//
// `bespoke serve` builds its routes with the same code (host/internal/server), so
// the command's tests exercise this package's path.
package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reload"
	"github.com/bespoke-edge/bespoke/host/internal/server"
	"github.com/bespoke-edge/bespoke/host/internal/wire"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules"
	"github.com/bespoke-edge/bespoke/rules/diag"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures New. Exactly one of Origin and Next is required; every
// other zero field means the default its comment gives.
type Config struct {
	// Origin is the upstream's URL (http:// or https://, with a host):
	// requests are forwarded there with their path and query.
	Origin string
	// Transport reaches Origin; nil means a transport tuned for a reverse
	// proxy (keep-alive pool sized for load, no transparent
	// decompression; GET and HEAD sent on the request's goroutine, the
	// rest through http.Transport), which dials within 5 s, waits 60 s
	// for the origin's headers (then 504), and cuts a body after 60 s
	// without a byte of it: an event stream or a long poll quieter than
	// that is cut, and needs a Transport of its own, whose timeouts are
	// then the only ones. It cannot be given with Next.
	Transport http.RoundTripper
	// Next is an in-process upstream: New then returns middleware around
	// it. Next sees the request as a server would, with the visitor's Host
	// and RemoteAddr and the forwarding headers the visitor's request came
	// with: middleware is no hop, and adds none (X-Forwarded-For,
	// Forwarded, Via: a proxy after it adds the hop's), but removes the
	// headers only a CDN may set from a peer not trusted (see
	// TrustedProxies). What it writes is personalized as it streams. A
	// body it writes without a Content-Type gets the type net/http's
	// server would give it (http.DetectContentType of its first 512
	// bytes), so its response waits for them, a Flush or its return, as
	// net/http's does. It runs on a goroutine of its own (which then waits
	// for a later request, as a server's connection goroutine does), and
	// its writes are buffered, up to 256 KiB ahead of what the proxy has
	// read: a write returns once copied, and waits only when that much is
	// unread, so Next may return before the visitor has the page. It must
	// not hijack the connection, but for a request to switch protocols (a
	// WebSocket), which it gets as it came, before the rules run, with the
	// visitor's ResponseWriter (see Handler.ServeHTTP: what it answers
	// without switching goes out unpersonalized). Its 1xx responses (103
	// Early Hints) and trailers (announced, or http.TrailerPrefix) reach
	// the visitor as an origin's would. Its ResponseWriter cannot set
	// deadlines (http.ResponseController's SetWriteDeadline returns
	// http.ErrNotSupported): the visitor's connection is written by the
	// proxy, under the server's own timeouts. A Next that panics with
	// http.ErrAbortHandler (or an error that wraps it) before its response
	// is sent (its status written with a type, or flushed, or 512 bytes of
	// an untyped body) fails as an origin that cannot be reached: the
	// visitor gets a 502, counted as the origin's failure (outcome
	// upstream_error), or the status 503 or 504 the error's HTTPStatus()
	// int method gives.
	Next http.Handler
	// PreserveHost sends the visitor's Host header to Origin instead of
	// Origin's host. With Next the visitor's Host is always kept.
	PreserveHost bool

	// RulesFile is a rule file (.yaml, .yml: compiled when loaded) or a
	// compiled plugin (.wasm). Reload reads it again.
	RulesFile string
	// Rules is a rule file's source, or a compiled plugin (bytes that
	// start with the Wasm magic), in place of RulesFile. Empty (nil or
	// no bytes) with an empty RulesFile means no rules: requests are
	// forwarded unchanged.
	Rules []byte
	// RulesName names Rules in errors and logs; "" means "rules".
	RulesName string
	// Watch is how often RulesFile is checked for changes, reloading it
	// when its content changes; 0 means never (call Reload), any other
	// is at least 1ms (Watch: 1 is a nanosecond, not a second). It needs
	// RulesFile: with Rules, New returns an error (there is no file to
	// watch; call Reload to compile Rules again).
	Watch time.Duration

	// Seen is where visitors' seen-filters are kept: "" or "cookie" (in a
	// signed cookie, nothing shared), "off", or a Redis URL that several
	// proxies share: a server (redis://host:port/db, rediss:// for TLS),
	// a Cluster (redis+cluster://h1:7000, or seeds redis://h1:7000,
	// redis://h2:7000) or a Sentinel master
	// (redis+sentinel://h1:26379,h2:26379/master), or a server's Unix
	// socket (unix:///run/redis.sock), as bespoke serve's --redis takes
	// them. The Redis client (go-redis) has one logger for
	// the process: with a Redis URL, New sets it (redis.SetLogger) to log
	// the client's own messages to the Logger of the handler built last,
	// at most one every 10 seconds; a program that sets its own calls
	// redis.SetLogger again after New.
	Seen string
	// Secret signs bespoke's cookies (seen-filter, caps), at least 16
	// bytes, the same for every proxy of a site. Nil means
	// $BESPOKE_SECRET (an error when shorter than 16 bytes), else a
	// random key per process (logged as a warning: cookies then do not
	// survive a restart).
	Secret []byte
	// TrustedProxies are the peers (CIDR prefixes, or "loopback" and
	// "private") whose forwarding and CDN geography headers are believed;
	// nil means "loopback" and "private", a list without an entry (empty,
	// or blank entries alone) none.
	TrustedProxies []string

	// Name names the handler in metrics and logs (UTF-8, as Prometheus
	// labels are); "" means "default".
	Name string
	// Metrics is where the handler records; handlers of one program
	// share one by giving the same value (with different Names; a Name
	// is free again once its handler is closed). Nil means a Metrics of
	// the handler's own (see Handler.Metrics).
	Metrics *Metrics
	// Logger receives logs; nil means slog.Default().
	Logger *slog.Logger
	// AccessLog writes one line per request at Info level.
	AccessLog bool
	// DebugHeaders adds X-Bespoke-Rules and X-Bespoke-Generation to
	// responses, naming the rules that matched and the plugin's
	// generation, and X-Bespoke-Untouched, saying why a page the rules
	// edit went out as the origin sent it.
	DebugHeaders bool

	// CacheDir is where compiled plugin code is cached, the 64 plugins
	// compiled last; "" means the user's cache directory (memory only
	// when it cannot be created), "-" memory only.
	CacheDir string
	// PoolSize bounds the plugin instances; 0 means 2 × CPUs.
	PoolSize int
	// DecideTimeout bounds one decision of a plugin that may loop; past
	// it the page is served unpersonalized. 0 means 50ms; any other is
	// at least 1ms.
	DecideTimeout time.Duration
	// MaxRewriteBytes bounds the decoded bytes of a body that are
	// rewritten: a body whose Content-Length says it is larger streams
	// through untouched; one of unknown length (what Next writes without
	// a Content-Length) or compressed that turns out larger is rewritten
	// up to there, and the rest copied; a JSON document larger passes
	// untouched. 0 means 8 MiB.
	MaxRewriteBytes int64
}

// Handler personalizes requests; New builds it. It is safe for concurrent
// use.
type Handler struct {
	srv  *server.Server
	h    http.Handler
	next http.Handler // Config.Next: upgrade requests go straight to it
	// inProcess runs Next; Close ends the goroutines it keeps between
	// requests.
	inProcess *wire.HandlerTransport
	metrics   *Metrics
	name      string
	stop      context.CancelFunc

	closeOnce sync.Once
	closed    atomic.Bool
}

// ErrClosed is returned by Handler.Reload after Close.
var ErrClosed = errors.New("bespoke: the handler is closed")

// New checks cfg, loads its rules and returns the handler; an error says
// what is wrong with cfg ("bespoke: ..."), or why the rules did not load
// (a rule file's mistakes as a compiler prints them, "site.yaml:2:40:
// ...", for editors and tools that jump to the place). ctx bounds the
// loading only: a ctx already done returns its error. Close the handler
// when done with it.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bespoke: %w", err)
	}
	c, opt, err := translate(cfg)
	if err != nil {
		return nil, err
	}
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics()
	} else if m.m == nil {
		return nil, errors.New("bespoke: Metrics was not made by NewMetrics or NewMetricsIn")
	}
	if err := m.claim(c.Routes[0].Name); err != nil {
		return nil, err
	}
	opt.Metrics = m.m
	srv, err := server.New(ctx, c, opt)
	if err != nil {
		m.release(c.Routes[0].Name)
		return nil, embedderNames(err)
	}
	wctx, stop := context.WithCancel(context.Background())
	srv.Watch(wctx)
	inProcess, _ := opt.Transport.(*wire.HandlerTransport)
	return &Handler{srv: srv, h: srv.Handler(), next: cfg.Next, inProcess: inProcess, metrics: m, name: c.Routes[0].Name, stop: stop}, nil
}

// translate turns cfg into the server's configuration: one route.
func translate(cfg Config) (*config.Config, server.Options, error) {
	opt := server.Options{Handler: true}
	opt.Logger = cfg.Logger
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	route := config.Route{Name: cfg.Name, Origin: cfg.Origin, PreserveHost: cfg.PreserveHost}
	if route.Name == "" {
		route.Name = "default"
	}
	nameOK := utf8.ValidString(route.Name)
	if !nameOK {
		// Prometheus panics on a label value that is not UTF-8.
		route.Name = "default"
	}
	// Every bad field is told at once: a program's author fixes them in
	// one go, not one a run.
	var errs []error
	fail := func(err error) {
		errs = append(errs, err)
		if cfg.Origin != "" && len(errs) == 1 {
			// Read no further into what is wrong with the origin.
			route.Origin = "http://origin.invalid"
		}
	}
	switch {
	case cfg.Next != nil && cfg.Origin != "":
		fail(errors.New("bespoke: give Origin or Next, not both"))
	case cfg.Next != nil && cfg.Transport != nil:
		fail(errors.New("bespoke: Transport reaches Origin; it cannot be given with Next"))
	case cfg.Next != nil:
		route.Origin, route.PreserveHost = wire.ServeOrigin.String(), true
		opt.Transport = &wire.HandlerTransport{Handler: cfg.Next, Logger: opt.Logger}
	case cfg.Origin == "":
		fail(errors.New("bespoke: no upstream: give Origin (a URL) or Next (a handler)"))
		route.Origin = "http://origin.invalid"
	default:
		opt.Transport = cfg.Transport
		u, err := url.Parse(cfg.Origin)
		if err != nil {
			fail(fmt.Errorf("bespoke: origin: %w", err))
			route.Origin = "http://origin.invalid"
		} else if err := wire.CheckOrigin(u); err != nil {
			fail(fmt.Errorf("bespoke: %w", err))
			route.Origin = "http://origin.invalid"
		}
	}
	if len(errs) > 0 && route.Origin == "" {
		// Origin and Next given wrong: what is wrong with them is told
		// above, not again as an origin the embedder did not write.
		route.Origin = "http://origin.invalid"
	}
	switch {
	case cfg.RulesFile != "" && len(cfg.Rules) > 0:
		fail(errors.New("bespoke: give RulesFile or Rules, not both"))
	case cfg.RulesFile != "":
		plugin, err := isPluginFile(cfg.RulesFile)
		switch {
		case err != nil:
			fail(fmt.Errorf("bespoke: RulesFile: %w", err))
		case plugin:
			route.Plugin = cfg.RulesFile
		default:
			route.Rules = cfg.RulesFile
		}
	case len(cfg.Rules) > 0:
		name := cfg.RulesName
		if name == "" {
			name = "rules"
		}
		src := bytes.Clone(cfg.Rules)
		opt.Embedded = func() (*plugin.Artifact, string, error) {
			if bytes.HasPrefix(src, wasmMagic) {
				art, err := plugin.ReadArtifact(src)
				if err != nil {
					return nil, "", fmt.Errorf("%s: %w", name, err)
				}
				return art, name, nil
			}
			res, err := rules.Compile(name, src)
			if err != nil {
				return nil, "", err
			}
			return res.Artifact, name, nil
		}
	}
	if !nameOK {
		fail(fmt.Errorf("bespoke: Name %q is not valid UTF-8: it labels the handler's metrics", cfg.Name))
	}
	if cfg.Watch > 0 && cfg.RulesFile == "" {
		fail(errors.New("bespoke: Watch watches RulesFile, which is not given (Rules has no file to watch: call Reload to compile Rules again)"))
	}
	if cfg.MaxRewriteBytes < 0 {
		// Watch, PoolSize and DecideTimeout are checked with the rest
		// (Validate, below).
		fail(errors.New("bespoke: MaxRewriteBytes cannot be negative"))
	}
	if cfg.Secret != nil && len(cfg.Secret) < 16 {
		fail(errors.New("bespoke: the secret must be at least 16 bytes"))
	}
	opt.Secret = bytes.Clone(cfg.Secret)
	access := cfg.AccessLog
	watch := config.Duration(cfg.Watch)
	c := &config.Config{
		CacheDir: cfg.CacheDir,
		Watch:    &watch,
		Log:      config.Log{Access: &access, DebugHeaders: cfg.DebugHeaders},
		Limits: config.Limits{
			PoolSize:        cfg.PoolSize,
			MaxRewriteBytes: config.Size(cfg.MaxRewriteBytes),
		},
		Geo:    config.Geo{TrustedProxies: strings.Join(cfg.TrustedProxies, ",")},
		Routes: []config.Route{route},
	}
	if cfg.DecideTimeout != 0 {
		d := config.Duration(cfg.DecideTimeout)
		c.Limits.DecideTimeout = &d
	}
	switch s := cfg.Seen; {
	case s == "" || s == "cookie" || s == "off":
		c.Seen.Store = s
	case strings.Contains(s, "://"):
		// A server, Cluster or Sentinel master, as bespoke serve's
		// --redis takes it; what is wrong with it is told below.
		c.Seen.Store, c.Seen.Redis = "redis", s
	default:
		fail(fmt.Errorf("bespoke: Seen is \"cookie\", \"off\" or a Redis URL (redis://, rediss://, redis+cluster://, redis+sentinel://, unix://), not %q", s))
	}
	if cfg.TrustedProxies != nil && strings.Trim(c.Geo.TrustedProxies, ", \t") == "" {
		// A list given names the peers trusted, and one of blank
		// entries (strings.Split of an empty setting gives [""]) none:
		// the file's empty value, which it would be joined into, means
		// the defaults.
		c.Geo.TrustedProxies = "none"
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		errs = append(errs, embedderNames(err))
	}
	if len(errs) > 0 {
		return nil, opt, errors.Join(errs...)
	}
	return c, opt, nil
}

// embedderNames names the Config's fields in err, each of the errors it
// joins, as the embedder wrote them, not as bespoke serve's file names
// them, each error on a line of its own that starts "bespoke: ".
func embedderNames(err error) error {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		orig := strings.TrimPrefix(e.Error(), "bespoke: ")
		msg := orig
		for _, n := range [][2]string{
			{"geo.trusted_proxies", "TrustedProxies"}, {"seen.redis: seen: ", "Seen: "}, {"seen.redis", "Seen"},
			{"limits.pool_size", "PoolSize"}, {"limits.decide_timeout", "DecideTimeout"}, {"watch ", "Watch "},
		} {
			if strings.HasPrefix(msg, n[0]) || n[0] != "watch " && strings.Contains(msg, n[0]) {
				msg = strings.Replace(msg, n[0], n[1], 1)
			}
		}
		switch {
		case msg != orig:
			out = append(out, errors.New("bespoke: "+msg))
		case strings.HasPrefix(e.Error(), "bespoke: ") || errors.As(e, new(diag.List)):
			// A rule file's errors start with their file:line:col.
			out = append(out, e)
		default:
			// Wrapped, not rewritten: errors.Is and As still see what
			// it holds (fs.ErrNotExist, a diag.List).
			out = append(out, fmt.Errorf("bespoke: %w", e))
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

var wasmMagic = []byte("\x00asm")

// isPluginFile reports whether the file at path is a compiled plugin, by
// its first bytes, as Rules is told: whatever its name (SITE.WASM,
// site.plugin), a plugin is loaded as one, and anything else compiled as
// a rule file.
func isPluginFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return false, fmt.Errorf("%s is a directory: give the rule file (.yaml) or the plugin (.wasm)", path)
	}
	head := make([]byte, len(wasmMagic))
	n, _ := io.ReadFull(f, head)
	return bytes.Equal(head[:n], wasmMagic), nil
}

// ServeHTTP personalizes one request. With Next, a request to switch
// protocols (a WebSocket) is handed to Next as it came, with the
// visitor's ResponseWriter, which Next may hijack: there is no page to
// personalize, and the connection is then Next's. Next has it before the
// rules run, so what Next answers without switching (a page) goes out as
// Next wrote it, unpersonalized: a client that asks to switch protocols
// on a page's path gets the page past the rules. A Next whose pages must
// not be had so answers an upgrade on a path it does not switch on with
// an error (426 Upgrade Required). With Origin such a request is
// forwarded and the two connections joined, as httputil.ReverseProxy
// does, and an answer that does not switch is personalized. An offer of
// HTTP/2 by Upgrade: h2c alone (curl --http2 on an http:// URL) is
// declined, with either, as bespoke serve declines it: the request is
// personalized and answered in HTTP/1.1.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// An offer of h2c is no switch Next takes (net/http takes none): it
	// is declined, and the request personalized as any other.
	if h.next != nil && isUpgrade(r.Header) && !server.OffersOnlyH2C(r) {
		if s := h.srv.Routes[0].Proxy.Site(); s != nil && len(s.OriginHeaders()) > 0 {
			// What the rules alone tell the upstream (X-Tier) is not
			// the visitor's to claim on a WebSocket either.
			r = r.Clone(r.Context())
			proxy.WithoutOriginHeaders(r.Header, s.OriginHeaders())
		}
		h.next.ServeHTTP(w, r)
		return
	}
	h.h.ServeHTTP(w, r)
}

// isUpgrade reports whether a request asks to switch protocols:
// Connection lists "upgrade" and Upgrade names the protocol.
func isUpgrade(h http.Header) bool {
	if h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h.Values("Connection") {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// Reload loads the rules again (RulesFile read anew, or Rules compiled
// again) and swaps them in without failing a request. On error the rules
// serving keep serving, and the error says why the new ones did not load,
// as New's does (it wraps the cause: errors.Is(err, fs.ErrNotExist) for a
// rule file gone). After Close it returns ErrClosed; with ctx done
// before the load begins, ctx's error, and nothing is loaded.
func (h *Handler) Reload(ctx context.Context) error {
	if h.closed.Load() {
		return ErrClosed
	}
	err := h.srv.ReloadRoute(ctx, 0)
	if errors.Is(err, reload.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Generation numbers the rules serving: 1 after New loaded them, one more
// per successful reload, 0 with no rules, and after Close.
func (h *Handler) Generation() int64 {
	if h.closed.Load() {
		return 0
	}
	return h.srv.Routes[0].Reloader.Generation()
}

// Metrics returns where the handler records (Config.Metrics, or its own).
func (h *Handler) Metrics() *Metrics { return h.metrics }

// Close stops watching the rules (waiting for a reload in flight), lets
// the requests in flight finish within ctx, and releases the plugin, the
// seen store, the idle connections to Origin and the goroutines kept for
// Next between requests. A request in flight holds the plugin until its
// response is written, not only while it is decided: Close waits as long
// as a response streams (an event stream, a download to a slow client),
// so give ctx a deadline. Requests served after Close are forwarded
// unpersonalized. It returns ctx's error when requests were still running
// as ctx ended (the plugin is released all the same, and they finish
// personalized). Close may be called more than once, and on a nil
// Handler; later calls return nil.
func (h *Handler) Close(ctx context.Context) error {
	if h == nil {
		// A deferred Close after a New that failed.
		return nil
	}
	var err error
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		h.stop()
		err = h.srv.Close(ctx)
		if h.inProcess != nil {
			h.inProcess.Close()
		}
		h.metrics.release(h.name)
	})
	return err
}

// Metrics is a Prometheus registry of bespoke's metrics (the ones
// `bespoke serve` exposes on its admin listener), shared by the handlers
// given it. Create it with NewMetrics or NewMetricsIn.
type Metrics struct {
	m *metrics.Metrics
	// runtime holds the Go runtime and process collectors of NewMetrics,
	// apart from bespoke's: Handler serves both, Gatherer bespoke's.
	runtime *prometheus.Registry

	mu    sync.Mutex
	names map[string]bool
}

// NewMetrics returns a registry of bespoke's metrics, which Handler
// serves with the Go runtime and process collectors.
func NewMetrics() *Metrics {
	rt := prometheus.NewRegistry()
	rt.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{m: metrics.NewIn(prometheus.NewRegistry(), false), runtime: rt, names: map[string]bool{}}
}

// NewMetricsIn registers bespoke's metrics in reg, the registry a program
// already serves (Caddy's, for one), so that they appear beside its own.
// The Go runtime and process collectors are left to reg's owner. Call it
// once per registry: the metrics' names can be registered once, and a
// second call for the same registry panics, as prometheus's MustRegister
// does. Handlers share the Metrics it returns (see Config.Metrics).
func NewMetricsIn(reg *prometheus.Registry) *Metrics {
	return &Metrics{m: metrics.NewIn(reg, false), names: map[string]bool{}}
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	var g prometheus.Gatherer = m.m.Registry
	if m.runtime != nil {
		g = prometheus.Gatherers{m.m.Registry, m.runtime}
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Gatherer returns bespoke's metrics, to gather them with a program's own
// (prometheus.Gatherers): of NewMetrics, without the Go runtime and
// process collectors Handler adds, which the program's registry has of
// its own, and which, gathered twice, would fail the gathering; of
// NewMetricsIn, the registry given.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.m.Registry }

// claim reserves a handler name until the handler is closed: the name
// labels the handler's series.
func (m *Metrics) claim(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return fmt.Errorf("bespoke: a handler named %q already records in these metrics: give each a Name", name)
	}
	m.names[name] = true
	return nil
}

func (m *Metrics) release(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.names, name)
}

var _ http.Handler = (*Handler)(nil)
