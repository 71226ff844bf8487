// Package server assembles a running bespoke from a configuration: one
// proxy, plugin pool and reloader per route, the router in front, the
// seen-filter and caps stores, metrics, and the admin listener; and it
// shuts all of it down gracefully.
package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reload"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/router"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/upstream"
	"github.com/bespoke-edge/bespoke/host/internal/wire"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Server is a configured bespoke. Build it with New, run it with Serve.
type Server struct {
	cfg *config.Config
	log *slog.Logger
	// draining is set once Serve shuts down: /readyz answers 503.
	draining atomic.Bool
	// serving counts the visitors' requests in progress (see counted).
	serving atomic.Int64
	// routeLog is log for the routes: records logged with a request's
	// context get the request's attributes (see withRequestInfo).
	routeLog *slog.Logger
	Metrics  *metrics.Metrics
	Routes   []*Route
	router   *router.Router
	handler  http.Handler // the router, in what Options.Wrap made of it
	// clientIP reads a request's visitor through the trusted proxies;
	// nil when the access log is off (see withRequestInfo).
	clientIP func(*http.Request) netip.Addr
	closers  []func()
	// certs serves the TLS certificate, nil without TLS; adminToken is
	// the admin API's bearer token, "" for none.
	certs      *certReloader
	adminToken string

	// Embedded, when not nil, provides a route's plugin when the route has
	// neither rules nor plugin (the demo's bundled rules): it returns the
	// artifact and a name.
	embedded func() (*plugin.Artifact, string, error)
	// secretKey and transport are Options.Secret and Options.Transport.
	secretKey []byte
	transport http.RoundTripper
	// held is the budget of bodies held whole the routes share.
	held *proxy.Budget
	// seen is the seen-filter store the routes share (nil when off).
	seen seen.Store
	// prior is Options.prior.
	prior map[string]int64
	// geoIP is the GeoIP database geo.geoip names, nil for none.
	geoIP *geoIP
	// stopWatch ends the watch of geoIP that Watch started, and
	// watching waits for it: a configuration replaced by a reload is
	// closed while the process, whose context the watch was given, goes
	// on.
	watchMu   sync.Mutex
	stopWatch []context.CancelFunc
	watching  sync.WaitGroup
	// served is Serve's context once it serves: reloads end with it.
	served atomic.Pointer[context.Context]
}

// Route is one route's running parts.
type Route struct {
	Config   config.Route
	Proxy    *proxy.Proxy
	Reloader *reload.Reloader
	Engine   *engine.Engine
}

// Options adjust New.
type Options struct {
	// Logger receives logs; nil means JSON or text on stderr per the
	// configuration.
	Logger *slog.Logger
	// Embedded provides the plugin of routes that name none (the demo).
	Embedded func() (*plugin.Artifact, string, error)
	// Clock, when not nil, replaces the clock the rules read (now,
	// schedules, visitor.hour): a development switch, to preview a page
	// as it will be on another day.
	Clock func() time.Time
	// Wrap, when not nil, wraps the visitors' handler; it gets the key
	// that signs bespoke's cookies (preview links sign with it too).
	Wrap func(key []byte, h http.Handler) http.Handler
	// Secret, when not nil, is the key that signs bespoke's cookies, in
	// place of secret_file and $BESPOKE_SECRET; it must be at least 16
	// bytes.
	Secret []byte
	// Transport, when not nil, reaches every route's origin in place of
	// the transport the limits configure (an in-process handler's, say).
	Transport http.RoundTripper
	// Metrics, when not nil, is where the server records (in a scope of
	// its own, see metrics.Scope), so that several servers of one process
	// share one registry. Routes of one name in two servers record in the
	// same series: a configuration and the one replacing it (see Live)
	// share them, and different handlers need different names. Nil means
	// a registry of the server's own.
	Metrics *metrics.Metrics
	// Handler says the server is a handler a program embeds (package
	// host), never run: it serves no admin listener, so no admin token
	// is read, and its messages name the embedder's settings.
	Handler bool

	// held is the budget of bodies held of the configuration this one
	// replaces, shared when limits.held_bytes is the same.
	held *proxy.Budget
	// prior are the plugin generations of the routes of the configuration
	// this one replaces, by name (see Live): theirs go on from there.
	prior map[string]int64
	// replacing: the server replaces another behind its listeners (see
	// Live), whose TLS certificate and admin token serve on; this one
	// reads neither.
	replacing bool
}

// New builds the server: it loads every route's plugin (failing if one
// does not load: at startup there is nothing to fall back to).
func New(ctx context.Context, cfg *config.Config, opt Options) (*Server, error) {
	s := &Server{cfg: cfg, log: opt.Logger, Metrics: opt.Metrics.Scope(), embedded: opt.Embedded, secretKey: opt.Secret, transport: opt.Transport,
		prior: opt.prior}
	if s.Metrics == nil {
		s.Metrics = metrics.New()
	}
	if s.log == nil {
		s.log = slog.New(cfg.Log.Handler(os.Stderr))
	}
	s.routeLog = slog.New(requestAttrs{s.log.Handler()})
	s.held = proxy.NewBudget(int64(cmp.Or(cfg.Limits.HeldBytes, proxy.DefaultHeldBytes)))
	if opt.held != nil && opt.held.Max() == s.held.Max() {
		// The configuration replaced's: the bodies both hold while its
		// requests finish stay within one limit.
		s.held = opt.held
	}
	s.closers = append(s.closers, s.Metrics.HeldBytes(s.held, s.held.Used, s.held.Max()))
	ok := false
	defer func() {
		if !ok {
			// The routes built before the one that failed leave the
			// metrics too: the same names may be built again.
			s.Close(context.Background())
		}
	}()
	key, err := s.secret(opt.Handler)
	if err != nil {
		return nil, err
	}
	if !opt.Handler && !opt.replacing {
		if s.adminToken, err = s.readAdminToken(); err != nil {
			return nil, err
		}
	}
	if cfg.TLS.Cert != "" && !opt.replacing {
		interval := cfg.WatchEvery()
		if interval <= 0 {
			interval = config.DefaultWatch
		}
		if s.certs, err = newCertReloader(cfg.TLS.Cert, cfg.TLS.Key, interval, s.log); err != nil {
			return nil, err
		}
	}
	rc, trusted, err := s.requestContext()
	if err != nil {
		return nil, err
	}
	rc.Now = opt.Clock
	store, err := s.seenStore(key)
	if err != nil {
		return nil, err
	}
	s.seen = store
	// Caps live where the seen-states do when that is a shared store, so
	// that a cap counts the page views every proxy served.
	var capStore *caps.Store
	// The rules' clock (a --dev-clock) moves the caps' windows too, so a
	// preview of next week sees this week's counts gone.
	if shared, ok := store.(caps.Shared); ok {
		// A new visitor's counts are kept as its seen-state is: for
		// seen.new_visitor_ttl, until it comes back with its id.
		capStore, err = caps.NewShared(shared, opt.Clock, s.cfg.Seen.NewVisitorTTL.D())
	} else {
		capStore, err = caps.New(key, opt.Clock)
	}
	if err != nil {
		return nil, err
	}
	var routes []router.Route
	for _, rcfg := range cfg.Routes {
		r, err := s.route(ctx, rcfg, rc, trusted, store, capStore)
		if err != nil {
			return nil, err
		}
		s.Routes = append(s.Routes, r)
		routes = append(routes, router.Route{Name: rcfg.Name, Host: rcfg.Host, Prefix: rcfg.Path, Handler: r.Proxy})
	}
	if !opt.replacing {
		// Said once, at start: a restart compiles every plugin again,
		// which the operator who left cache_dir out did not expect.
		for _, r := range s.Routes {
			if err := r.Engine.CacheDirError(); err != nil && s.hasRules(r) {
				s.log.Warn("compiled plugin code is kept in memory only: each start compiles the rules again (set cache_dir, --cache-dir, to a directory bespoke may write, or - to say memory)", "err", err)
				break
			}
		}
	}
	s.router = router.New(routes)
	s.handler = s.router
	if opt.Wrap != nil {
		s.handler = opt.Wrap(key, s.router)
	}
	if *cfg.Log.Access {
		s.clientIP = rc.Geo.ClientIP
	}
	ok = true
	return s, nil
}

// secret returns the key that signs bespoke's cookies; handler: the server
// is a handler a program embeds (Options.Handler), whose warning names
// its setting.
func (s *Server) secret(handler bool) ([]byte, error) {
	if s.secretKey != nil {
		if len(s.secretKey) < 16 {
			return nil, errors.New("secret: the key must be at least 16 bytes")
		}
		return s.secretKey, nil
	}
	if s.cfg.SecretFile != "" {
		b, err := os.ReadFile(s.cfg.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("secret_file: %w", err)
		}
		if k := []byte(strings.TrimSpace(string(b))); len(k) >= 16 {
			return k, nil
		}
		return nil, fmt.Errorf("secret_file %s: the key must be at least 16 bytes", s.cfg.SecretFile)
	}
	// A short one is refused as a short secret_file is: ignored, it
	// would have cookies signed with a random key, so that every
	// restart, and every other process, took them for tampered.
	if env := os.Getenv("BESPOKE_SECRET"); len(env) >= 16 {
		return []byte(env), nil
	} else if env != "" {
		return nil, errors.New("$BESPOKE_SECRET: the key must be at least 16 bytes")
	}
	where := "secret_file or BESPOKE_SECRET"
	if handler {
		// An embedder's handler: host.Config.Secret, which Caddy's
		// bespoke directive fills from its secret or secret_file.
		where = "host.Config's Secret, Caddy's secret or secret_file, or BESPOKE_SECRET"
	}
	s.log.Warn("no secret configured (" + where + "): signing cookies with a random key, so seen-filters and caps reset when the process restarts")
	return processKey(), nil
}

// processKey is the random key of a process without a secret: one for
// all its servers and handlers, so that a handler built anew (Caddy
// provisions one on every config reload) reads the cookies the one
// before signed, and two handlers of a site read each other's.
var processKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
})

// counted counts the visitors' requests in progress (Server.serving), for
// what a shutdown that ran out of grace says it cut.
func (s *Server) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serving.Add(1)
		defer s.serving.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// minAdminToken is the fewest characters an admin token may have: a
// shorter one could be guessed by a client on the admin listener's
// network.
const minAdminToken = config.MinAdminToken

// readAdminToken reads the admin API's bearer token: admin_token_file,
// else $BESPOKE_ADMIN_TOKEN, else none. Either must hold minAdminToken
// characters or more, spaces around it aside.
func (s *Server) readAdminToken() (string, error) {
	if f := s.cfg.AdminTokenFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("admin_token_file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if len(t) < minAdminToken {
			return "", fmt.Errorf("admin_token_file %s: the token must be at least %d characters", f, minAdminToken)
		}
		return t, nil
	}
	t := strings.TrimSpace(os.Getenv("BESPOKE_ADMIN_TOKEN"))
	if t != "" && len(t) < minAdminToken {
		return "", fmt.Errorf("$BESPOKE_ADMIN_TOKEN: the token must be at least %d characters", minAdminToken)
	}
	return t, nil
}

// requestContext builds where request values come from, and returns the
// trusted proxies, which also decide the forwarding headers.
func (s *Server) requestContext() (reqctx.Config, []netip.Prefix, error) {
	g := s.cfg.Geo
	providers, err := geo.ParseProviders(g.Providers)
	if err != nil {
		return reqctx.Config{}, nil, fmt.Errorf("geo.providers: %w", err)
	}
	trusted, err := geo.ParsePrefixes(g.TrustedProxies)
	if err != nil {
		return reqctx.Config{}, nil, fmt.Errorf("geo.trusted_proxies: %w", err)
	}
	loc, err := time.LoadLocation(g.TimeZone)
	if err != nil {
		return reqctx.Config{}, nil, fmt.Errorf("geo.timezone: %w", err)
	}
	gc := geo.Config{TrustedProxies: trusted, Providers: providers, CountryHeader: g.Header}
	if g.GeoIP != "" {
		db, err := geo.OpenDB(g.GeoIP)
		if err != nil {
			return reqctx.Config{}, nil, fmt.Errorf("geo.geoip: %w", err)
		}
		g, forget := newGeoIP(db, s.log, s.Metrics)
		s.closers = append(s.closers, func() { forget(); db.Close() })
		s.geoIP = g
		gc.DB = db
	}
	return reqctx.Config{Geo: geo.New(gc), TimeZone: loc}, trusted, nil
}

func (s *Server) seenStore(key []byte) (seen.Store, error) {
	c := s.cfg.Seen
	switch c.Store {
	case "off":
		return nil, nil
	case "redis":
		// Keyed with the secret, as the cookie store's digests are: a
		// copy of the database cannot be tested for candidate item ids,
		// and both stores take the same items for seen.
		st, err := seen.NewRedisStore(seen.RedisConfig{URL: c.Redis, Params: seen.Params{Window: c.Window.D()}, Timeout: c.Timeout.D(), NewVisitorTTL: c.NewVisitorTTL.D(), Logger: s.log, Key: key})
		if err != nil {
			return nil, fmt.Errorf("seen: %w", err)
		}
		// The store's metrics are named for the route it serves, or
		// "shared" when the routes share it.
		name := "shared"
		if len(s.cfg.Routes) == 1 {
			name = s.cfg.Routes[0].Name
		}
		forget := s.Metrics.SeenStore(name, func() metrics.SeenStoreStats {
			return metrics.SeenStoreStats{
				Up: st.Up(), Loads: st.Loads.Load(), Hits: st.Hits.Load(), Misses: st.Misses.Load(), Invalid: st.Invalid.Load(),
				Timeouts: st.Timeouts.Load(), Errors: st.Errors.Load(),
				Writes: st.Saves.Load(), WriteErrors: st.SaveErrors.Load(), WriteTimeouts: st.SaveTimeouts.Load(),
				Dropped: st.DroppedSaves.Load(), Skip: st.SkippedSaves.Load(), Lost: st.Lost.Load(), Reconnects: st.Reconnects.Load(), Merges: st.Merges.Load(),
			}
		})
		s.closers = append(s.closers, func() { forget(); st.Close() })
		return st, nil
	}
	st, err := seen.NewCookieStore(seen.CookieConfig{Key: key, Params: seen.Params{Window: c.Window.D()}})
	if err != nil {
		return nil, fmt.Errorf("seen: %w", err)
	}
	return st, nil
}

func (s *Server) route(ctx context.Context, rcfg config.Route, rc reqctx.Config, trusted []netip.Prefix, store seen.Store, capStore *caps.Store) (*Route, error) {
	l := s.cfg.Limits
	origin, err := url.Parse(rcfg.Origin)
	if err != nil {
		return nil, fmt.Errorf("route %s: origin: %w", rcfg.Name, err)
	}
	var tr http.RoundTripper = s.transport
	if tr == nil {
		t := proxy.NewTransport()
		t.DialContext = (&net.Dialer{Timeout: l.Upstream.DialTimeout.D(), KeepAlive: 30 * time.Second}).DialContext
		t.ResponseHeaderTimeout = l.Upstream.ResponseHeaderTimeout.D()
		t.IdleConnTimeout = l.Upstream.IdleTimeout.D()
		t.MaxConnsPerHost = l.Upstream.MaxConnsPerHost
		u := upstream.New(t)
		u.ReadTimeout = l.Upstream.ReadTimeout.D()
		tr = u
		// The route's own pools: a server closed (an embedder's handler,
		// a Caddy config replaced) leaves no connection to the origin
		// open until its idle timeout.
		s.closers = append(s.closers, u.CloseIdleConnections)
	}
	source := rcfg.Source()
	var load wire.Loader
	switch {
	case source != "":
		load = func(ctx context.Context, eng *engine.Engine) (*site.Site, error) {
			return site.LoadFile(ctx, eng, source, rc)
		}
	case s.embedded != nil:
		load = func(ctx context.Context, eng *engine.Engine) (*site.Site, error) {
			art, name, err := s.embedded()
			if err != nil {
				return nil, err
			}
			return site.Load(ctx, eng, name, art, rc)
		}
	}
	var files []string
	if source != "" {
		files = []string{source}
	}
	wr, err := wire.NewRoute(ctx, wire.RouteConfig{
		Name:       rcfg.Name,
		Metrics:    s.Metrics,
		Logger:     s.routeLog,
		Load:       load,
		Files:      files,
		Generation: s.prior[rcfg.Name],
		Engine: engine.Config{
			CacheDir:         s.cfg.CacheDir,
			PoolSize:         l.PoolSize,
			MemoryLimitPages: l.MemoryPages,
			DecideTimeout:    l.DecideTimeout.D(),
		},
		Proxy: proxy.Config{
			Origin:          origin,
			PreserveHost:    rcfg.PreserveHost,
			MaxRewriteBytes: int64(l.MaxRewriteBytes),
			MaxDecodeRatio:  l.MaxDecodeRatio,
			MaxJSONDepth:    l.MaxJSONDepth,
			TrustedProxies:  trusted,
			StripHeaders:    s.stripHeaders(),
			Via:             s.cfg.Forwarding.Via,
			InProcess:       origin.String() == wire.ServeOrigin.String(),
			RewriteBuffer:   int(l.RewriteBuffer),
			EditMapCache:    editMapCache(&l),
			Held:            s.held,
			DebugHeaders:    s.cfg.Log.DebugHeaders,
			Transport:       tr,
			AccessLog:       *s.cfg.Log.Access,
			Seen:            store,
			Caps:            capStore,
			ConsentCookie:   s.cfg.Seen.ConsentCookie,
			ConsentDeny:     s.cfg.Seen.ConsentDeny,
		},
	})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { wr.Engine.Close(context.Background()) })
	return &Route{Config: rcfg, Proxy: wr.Proxy, Reloader: wr.Reloader, Engine: wr.Engine}, nil
}

// stripHeaders is the configured list of headers removed from untrusted
// requests: the default list, the geo country header (which only a
// trusted proxy may set), or what the configuration says.
func (s *Server) stripHeaders() []string {
	if list := s.cfg.Forwarding.StripHeaders; list != nil {
		return list
	}
	list := append([]string(nil), proxy.DefaultStripHeaders...)
	if h := s.cfg.Geo.Header; h != "" {
		list = append(list, h)
	}
	return list
}

// CheckStores asks the shared stores (a Redis seen-filter store) whether
// they answer, and returns a line for each that does not, for serve
// --check. bespoke starts and serves without them (seen-filters and caps
// are not kept until they answer), so these are warnings.
func (s *Server) CheckStores(ctx context.Context) []string {
	r, ok := s.seen.(*seen.RedisStore)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		return []string{fmt.Sprintf("the seen store at %s does not answer (%v): bespoke would start and serve pages, without keeping seen-filters and caps until it does", strings.Join(r.Addrs(), ","), err)}
	}
	if err := r.Check(ctx); err != nil {
		return []string{fmt.Sprintf("the seen store at %s answers but refuses a command it needs: %v", strings.Join(r.Addrs(), ","), err)}
	}
	return nil
}

// Handler returns the visitors' handler: the router (or what
// Options.Wrap made of it), behind the refusal of smuggled requests and
// of offers of h2c, which an embedder's server gets as bespoke serve's
// does.
func (s *Server) Handler() http.Handler {
	return s.withRequestInfo(refuseSmuggling(declineH2C(s.handler)))
}

// withRequestInfo is withRequestInfo around h with the access log on.
// Outermost, to see the request as the visitor sent it and the response
// as it leaves, and to log the requests refused before any route took
// them.
func (s *Server) withRequestInfo(h http.Handler) http.Handler {
	if s.clientIP == nil {
		return h
	}
	return withRequestInfo(h, s.clientIP, s.log)
}

// Reload reloads the plugin of the route named name, or of every route
// when name is empty, and then the GeoIP database when its file
// changed, and returns each route's result. It reads no configuration
// file: Live.Reload does, for bespoke serve --config. It goes on when
// ctx is cancelled, until Serve's context ends: a client of the admin
// API that gave up while the rules compiled had them rejected as
// "context canceled", a content the file watch then took for tried.
func (s *Server) Reload(ctx context.Context, name string) ([]RouteResult, error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if served := s.served.Load(); served != nil {
		defer context.AfterFunc(*served, cancel)()
	}
	return s.reload(ctx, name)
}

// reload is Reload within ctx.
func (s *Server) reload(ctx context.Context, name string) ([]RouteResult, error) {
	if name == "" && s.geoIP != nil {
		defer s.geoIP.reload("reload")
	}
	var out []RouteResult
	found := false
	for _, r := range s.Routes {
		if name != "" && r.Config.Name != name {
			continue
		}
		found = true
		if !s.hasRules(r) {
			continue
		}
		err := r.Reloader.Reload(ctx)
		res := RouteResult{Route: r.Config.Name, Generation: r.Reloader.Generation()}
		if err != nil {
			res.Error = err.Error()
		}
		out = append(out, res)
	}
	if !found {
		return nil, fmt.Errorf("no route is named %q", name)
	}
	return out, nil
}

// ReloadRoute reloads route i (of Routes) and returns the reload's error
// as it is, to test with errors.Is; a route without rules has nothing to
// reload.
func (s *Server) ReloadRoute(ctx context.Context, i int) error {
	r := s.Routes[i]
	if !s.hasRules(r) {
		return nil
	}
	return r.Reloader.Reload(ctx)
}

// hasRules reports whether route r loads rules (a file, or the
// embedder's).
func (s *Server) hasRules(r *Route) bool { return r.Config.Source() != "" || s.embedded != nil }

// RouteResult is the outcome of reloading one route, or, with Config
// set, of loading the configuration file again (Route is then empty).
type RouteResult struct {
	Route string `json:"route,omitempty"`
	// Config is the configuration file loaded again, and Generation then
	// the configuration's generation.
	Config     string `json:"config,omitempty"`
	Generation int64  `json:"generation"`
	Error      string `json:"error,omitempty"`
}

// Ready reports whether every route that has a plugin has one loaded.
func (s *Server) Ready() bool {
	for _, r := range s.Routes {
		if s.hasRules(r) && r.Proxy.Site() == nil {
			return false
		}
	}
	return true
}

// Watch reloads routes whose rule or plugin file changes, and the GeoIP
// database when its file does, until ctx ends or s is closed.
func (s *Server) Watch(ctx context.Context) {
	every := s.cfg.WatchEvery()
	if every <= 0 {
		return
	}
	if s.geoIP != nil {
		ctx, stop := context.WithCancel(ctx)
		s.watchMu.Lock()
		s.stopWatch = append(s.stopWatch, stop)
		s.watchMu.Unlock()
		s.watching.Go(func() { s.geoIP.watch(ctx, every) })
	}
	for _, r := range s.Routes {
		go r.Reloader.Watch(ctx, every) // returns at once without a file
	}
}

// Serve serves visitors on ln (and the admin API on adminLn, when not
// nil) until ctx is done, then shuts down: it stops accepting, lets
// requests in flight finish within the configured grace, and closes the
// plugins.
func (s *Server) Serve(ctx context.Context, ln, adminLn net.Listener) error {
	return s.serve(ctx, ln, adminLn, s.visitors(), s.AdminHandler(), s.cfg.Grace, s.Close)
}

// visitors is the visitors' handler within the limits on each request.
func (s *Server) visitors() http.Handler {
	l := s.cfg.Limits
	return s.withRequestInfo(withSendTimeout(withBodyTimeout(withHeadLimit(refuseSmuggling(declineH2C(s.handler)), int(l.MaxHeaderBytes)), l.BodyTimeout.D()), l.SendTimeout.D()))
}

// serve is Serve with the visitors' and the admin handlers given (a
// Live's, which pass each request to the configuration serving), grace
// the grace of the configuration serving, and closeAll what closes the
// configurations once the listeners are shut down. s's configuration
// sets up the listeners.
func (s *Server) serve(ctx context.Context, ln, adminLn net.Listener, visitors, adminH http.Handler, grace func() time.Duration, closeAll func(context.Context) error) error {
	s.served.Store(&ctx)
	l := s.cfg.Limits
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(s.certs != nil)
	protocols.SetUnencryptedHTTP2(s.cfg.H2C)
	srv := &http.Server{
		Handler:           s.counted(visitors),
		ReadHeaderTimeout: l.ReadHeader.D(),
		IdleTimeout:       l.Idle.D(),
		MaxHeaderBytes:    headReadLimit(int(l.MaxHeaderBytes)),
		ErrorLog:          httpErrorLog(s.log),
		ConnContext:       connContext,
		Protocols:         protocols,
		// A connection whose visitor stopped reading: its frames wait
		// for no longer than one write may (see withSendTimeout).
		HTTP2: &http.HTTP2Config{WriteByteTimeout: l.SendTimeout.D()},
	}
	var tlsCfg *tls.Config
	if s.certs != nil {
		tlsCfg = s.certs.tlsConfig()
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	lim := s.connLimit()
	vln := newVisitorListener(ln, tlsCfg, l.ReadHeader.D(), lim, s.log)
	vln.retry.count = func() { s.Metrics.AcceptError("visitors") }
	vln.retry.shed = func(on bool) { srv.SetKeepAlivesEnabled(!on) }
	if lim != nil {
		defer s.Metrics.Connections(func() metrics.ConnStats {
			return metrics.ConnStats{Open: lim.conns(), Limit: lim.max, Waits: lim.waits.Load()}
		})()
	}
	go func() { errc <- srv.Serve(vln) }()
	if adminLn != nil {
		admin := &http.Server{Handler: adminH, ReadHeaderTimeout: 5 * time.Second, ErrorLog: srv.ErrorLog}
		servers = append(servers, admin)
		aln := newRetryingListener(adminLn, "an admin connection", s.log, func() { s.Metrics.AcceptError("admin") })
		go func() { errc <- admin.Serve(aln) }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	g := grace()
	s.log.Info("shutting down", "grace", g)
	// Not ready from now: a load balancer that probes /readyz sends no
	// more visitors while those in flight finish.
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), g)
	defer cancel()
	var cut atomic.Bool
	var inFlight atomic.Int64 // requests cut
	stop := func(hs *http.Server) {
		switch e := hs.Shutdown(sctx); {
		case errors.Is(e, context.DeadlineExceeded):
			// Requests still running as the grace ran out: their
			// connections are closed, and the operator told. (Counted
			// before: closing them ends their handlers.)
			cut.Store(true)
			inFlight.Store(max(inFlight.Load(), s.serving.Load()))
			hs.Close()
		case e != nil:
			s.log.Warn("shutdown", "err", e)
		}
	}
	// The visitors' listener first; the admin one answers (liveness,
	// readiness, the metrics of the drain) until their requests end.
	stop(srv)
	for _, hs := range servers[1:] {
		stop(hs)
	}
	if cut.Load() {
		// The handlers of the requests cut end once their connections
		// are closed: each writes its access line (outcome aborted) and
		// leaves the plugin it decided with. Waited for, so that the
		// lines come before msg=stopped, when the process exits, and no
		// plugin closes under a handler.
		s.waitServed(cutWait)
		if n := inFlight.Load(); n > 0 {
			s.log.Warn("shutdown grace ran out: requests still in flight were cut", "grace", g, "requests", n)
		} else {
			// A connection that never sent a request (an HTTP/2 client
			// that did not send its preface) holds Shutdown up too.
			s.log.Warn("shutdown grace ran out: connections still open were closed, with no request in flight", "grace", g)
		}
	}
	closeAll(sctx)
	s.log.Info("stopped")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// connLimit returns the bound of the visitors' connections open at once
// (limits.max_connections, or derived from the file descriptor limit),
// nil for none. A derived bound so low that visitors may wait for one
// another is said at start.
func (s *Server) connLimit() *connLimit {
	files, open := fileLimits()
	n := maxConnections(s.cfg.Limits.MaxConnections, files, open)
	if n <= 0 {
		return nil
	}
	if s.cfg.Limits.MaxConnections == 0 && n < lowDerivedConns {
		s.log.Warn("few file descriptors: the visitors' connections open at once are bounded low, the others waiting for one to close", "max_connections", n, "files", files, "open", open,
			"hint", "raise the file descriptor limit (systemd LimitNOFILE=, ulimit -n), or set limits.max_connections")
	}
	return newConnLimit(n)
}

// lowDerivedConns: a derived bound under it is said at start (a limit
// of 1024 file descriptors, a shell's default, gives some 470).
const lowDerivedConns = 1000

// cutWait bounds how long a shutdown whose grace ran out waits for the
// handlers of the requests it cut to return.
const cutWait = 2 * time.Second

// waitServed waits until no visitor's request is being served, or d has
// passed.
func (s *Server) waitServed(d time.Duration) {
	deadline := time.Now().Add(d)
	for s.serving.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops personalizing, lets decisions in flight finish within ctx,
// and closes the plugins and stores, for a server whose handler was
// served by another server (Serve closes them itself). Reloads stop
// first: one in flight is waited for, and later ones (a watcher's, the
// admin API's) load nothing, so that none compiles into a closed engine.
// It returns ctx's error when decisions were still running as ctx ended.
func (s *Server) Close(ctx context.Context) error {
	for _, r := range s.Routes {
		r.Reloader.Close()
	}
	// Before the database closes: a look under way would open the file
	// again into it.
	s.watchMu.Lock()
	for _, stop := range s.stopWatch {
		stop()
	}
	s.stopWatch = nil
	s.watchMu.Unlock()
	s.watching.Wait()
	var err error
	for _, r := range s.Routes {
		if st := r.Proxy.Swap(nil); st != nil {
			if e := st.Close(ctx); e != nil && err == nil {
				err = e
			}
		}
		s.Metrics.Forget(r.Config.Name)
	}
	s.close()
	return err
}

func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// editMapCache returns the edit map cache's bytes from the limits (0 off).
func editMapCache(l *config.Limits) int {
	if l.EditMapCache == nil {
		return config.DefaultEditMapCache
	}
	return int(*l.EditMapCache)
}
