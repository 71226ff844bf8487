// Package wire assembles one personalized route from its parts: the plugin
// engine, the proxy in front of the upstream, the reloader that swaps
// plugins in, and the route's metrics. Package host (the embedding API)
// and host/internal/server (`bespoke serve`) both build their routes here, so the
// command and an embedding program run the same code.
package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reload"
	"github.com/bespoke-edge/bespoke/host/internal/site"
)

// Loader loads one generation of a route's plugin into eng; it returns
// nil, nil when the route has no plugin (it then forwards unchanged).
type Loader func(ctx context.Context, eng *engine.Engine) (*site.Site, error)

// RouteConfig is what NewRoute needs.
type RouteConfig struct {
	// Proxy configures the proxy; its Origin is required, its Route,
	// Metrics and Logger are set from the fields below.
	Proxy proxy.Config
	// Engine configures the plugin engine; its Stats is the route's.
	Engine engine.Config
	// Load loads the plugin; nil means the route has none.
	Load Loader
	// Files are the files Load reads (the rule file or the plugin), for
	// the Reloader's Watch: each load records their content.
	Files []string
	// Name names the route in metrics and logs ("default" when empty).
	Name string
	// Metrics records the route; nil records nothing.
	Metrics *metrics.Metrics
	// Logger receives the route's logs; nil means slog.Default().
	Logger *slog.Logger
	// Generation is the generation of the route's plugin in the
	// configuration this one replaces, 0 for none: its first load here
	// is the next.
	Generation int64
}

// Route is one route's running parts.
type Route struct {
	Name     string
	Proxy    *proxy.Proxy
	Reloader *reload.Reloader
	Engine   *engine.Engine
	stats    engine.Stats
	hasLoad  bool
}

// ErrNoOrigin is returned for a route without an origin.
var ErrNoOrigin = errors.New("no origin: give an upstream URL, transport or handler")

// NewRoute builds a route and loads its plugin (failing when it does not
// load: at startup there is nothing to fall back to). On error nothing is
// left open.
func NewRoute(ctx context.Context, cfg RouteConfig) (*Route, error) {
	if cfg.Proxy.Origin == nil {
		return nil, ErrNoOrigin
	}
	if err := CheckOrigin(cfg.Proxy.Origin); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Route{Name: cfg.Name, hasLoad: cfg.Load != nil}
	ecfg := cfg.Engine
	ecfg.Stats = &r.stats
	eng, err := engine.New(ecfg)
	if err != nil {
		return nil, err
	}
	r.Engine = eng
	pcfg := cfg.Proxy
	pcfg.Route, pcfg.Metrics, pcfg.Logger = cfg.Name, cfg.Metrics, log
	r.Proxy = proxy.New(pcfg)
	load := func(ctx context.Context) (*site.Site, error) {
		if cfg.Load == nil {
			return nil, nil
		}
		return cfg.Load(ctx, eng)
	}
	r.Reloader = reload.New(r.Proxy, load, log.With("route", cfg.Name))
	r.Reloader.Track(cfg.Files...)
	r.Reloader.Continue(cfg.Generation)
	m := cfg.Metrics
	r.Reloader.OnResult = func(res reload.Result) {
		m.Reload(cfg.Name, res.Err == nil, res.Generation)
	}
	if cfg.Load != nil {
		if err := r.Reloader.Reload(ctx); err != nil {
			// The proxy registered collectors that read its state: a
			// route of this name built next (an embedder trying again
			// once the file is fixed) registers its own.
			m.Forget(cfg.Name)
			eng.Close(context.Background())
			return nil, err
		}
	}
	m.Pool(cfg.Name, func() metrics.PoolStats {
		return metrics.PoolStats{
			Instances:   r.stats.Live.Load(),
			MemoryBytes: r.stats.LiveMemory.Load(),
			Waits:       r.stats.Waits.Load(),
			Discarded:   r.stats.Discarded.Load(),
		}
	})
	return r, nil
}

// HasPlugin reports whether the route was given a loader.
func (r *Route) HasPlugin() bool { return r.hasLoad }

// Ready reports whether a route that has a plugin has one loaded.
func (r *Route) Ready() bool { return !r.hasLoad || r.Proxy.Site() != nil }

// Close retires the serving plugin, letting decisions in flight finish
// within ctx, and closes the engine.
func (r *Route) Close(ctx context.Context) error {
	if st := r.Proxy.Swap(nil); st != nil {
		st.Close(ctx)
	}
	return r.Engine.Close(ctx)
}

// CheckOrigin returns an error unless u is an absolute http or https URL
// with a host, and no credentials.
func CheckOrigin(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("origin %q: the scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		// Written back as given: a URL without a host prints as
		// "http:".
		return fmt.Errorf("origin %q: no host: write it as %s://host:port", u.Scheme+"://"+u.Path, u.Scheme)
	}
	if p := u.Port(); p != "" {
		// url.Parse takes any digits; a port no connection can have
		// would fail every request with a 502.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("origin %q: port %s: give a port from 1 to 65535, or none for the scheme's (80, 443)", u.Redacted(), p)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("origin %q: an origin has no query or fragment", u.Redacted())
	}
	if u.User != nil {
		// They would not be sent (the proxy forwards the visitor's
		// Authorization, not the URL's), and would be printed where the
		// origin is: at start, in the status.
		return fmt.Errorf("origin %q: a user and password in the origin's URL are not sent to it: remove them; a rule's set_header with on: request can send an Authorization header", u.Redacted())
	}
	return nil
}

// ServeOrigin is the origin of a route whose upstream is an in-process
// handler (see HandlerTransport): requests never leave the process.
var ServeOrigin = &url.URL{Scheme: "http", Host: "in-process.invalid"}

var _ http.Handler = (*proxy.Proxy)(nil)
