// Package caddybespoke is bespoke as a Caddy v2 module: the HTTP handler
// http.handlers.bespoke and its Caddyfile directive, bespoke. It
// personalizes what the handlers after it write (Caddy's reverse_proxy,
// file_server, ...): it decides on the request, and rewrites the response
// as it streams back through it.
//
//	example.com {
//		bespoke {
//			rules /etc/bespoke/site.yaml
//			seen redis://127.0.0.1:6379/0
//			secret {env.BESPOKE_SECRET}
//		}
//		reverse_proxy 127.0.0.1:8000
//	}
//
// In a Caddyfile the directive sorts right after encode: before
// templates, handle, route and the handlers that make the page, which it
// wraps wherever it is written in the site block. Inside a route block
// directives keep the order written: write bespoke before templates
// there, or templates runs the visitor's text a rule inserts as a
// template.
//
// A Caddy config reload provisions a new handler (the rule file compiled
// anew) beside the old one and cleans the old one up once Caddy is done
// with it. The rule file is also reloaded when it changes (watch, every
// second unless the config says otherwise): caddy reload runs only when
// the config itself changed.
package caddybespoke

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("bespoke", parseCaddyfile)
	// Right after encode, which compresses what bespoke writes: before
	// every handler that produces or transforms the page, so that it
	// wraps them. Before templates above all, which would run the
	// visitor's text a rule inserts as a template (the server's
	// environment and files to any visitor), and before handle and route,
	// whose blocks end the route: a directive after them never runs.
	httpcaddyfile.RegisterDirectiveOrder("bespoke", httpcaddyfile.After, "encode")
}

// Handler is the http.handlers.bespoke module. Its JSON fields are the
// Caddyfile's subdirectives; string fields accept Caddy placeholders
// ({env.NAME}, ...), resolved when the handler is provisioned.
type Handler struct {
	// Rules is the rule file (.yaml) or compiled plugin (.wasm). Empty
	// means no rules: responses pass through unchanged.
	Rules string `json:"rules,omitempty"`
	// Seen is where seen-filters live: "cookie" (the default), "off" or
	// a redis:// URL shared by several servers.
	Seen string `json:"seen,omitempty"`
	// Secret signs bespoke's cookies (at least 16 bytes, the same on
	// every server of a site); SecretFile reads it from a file. Neither
	// means $BESPOKE_SECRET, else a random key per process.
	Secret     string `json:"secret,omitempty"`
	SecretFile string `json:"secret_file,omitempty"`
	// Watch is how often the rule file is checked for changes, reloading
	// it when it changed; 0 means every second, as bespoke serve does,
	// and a negative duration (watch off in a Caddyfile) never, which
	// leaves reloading to Caddy's config reload (caddy reload runs only
	// when the config changed: --force compiles an unchanged config's
	// rule file again).
	Watch caddy.Duration `json:"watch,omitempty"`
	// Name names the handler in bespoke's logs and metrics (the route
	// label). Empty means the rule file as the config gives it ("default"
	// without one); unnamed handlers of one file are told apart by "#2",
	// "#3", ... in an order Caddy does not promise, so name them.
	Name string `json:"name,omitempty"`
	// CacheDir is where compiled plugin code is cached ("-": memory only).
	CacheDir string `json:"cache_dir,omitempty"`
	// TrustedProxies are the peers whose forwarding and CDN geography
	// headers are believed (CIDR prefixes, "loopback", "private"); empty
	// means loopback and private addresses.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
	// DebugHeaders adds X-Bespoke-Rules, X-Bespoke-Generation and
	// X-Bespoke-Untouched.
	DebugHeaders bool `json:"debug_headers,omitempty"`

	h   *host.Handler
	reg *prometheus.Registry // the config's, whose shared metrics h records in
}

// shared are the bespoke metrics of each loaded Caddy config, in the
// config's own registry (the one Caddy's /metrics serves): the config's
// bespoke handlers share them, and they go with the config's last
// handler.
var shared = struct {
	sync.Mutex
	m map[*prometheus.Registry]*configMetrics
}{m: map[*prometheus.Registry]*configMetrics{}}

type configMetrics struct {
	m       *host.Metrics
	refs    int
	unnamed map[string]int // handlers without a name, by the name given them
}

// acquireMetrics returns the metrics of reg's config, and the name of a
// handler named name: when it has none, the rule file's, or "default".
func acquireMetrics(reg *prometheus.Registry, name, rules string) (*host.Metrics, string) {
	shared.Lock()
	defer shared.Unlock()
	c := shared.m[reg]
	if c == nil {
		c = &configMetrics{m: host.NewMetricsIn(reg), unnamed: map[string]int{}}
		shared.m[reg] = c
	}
	c.refs++
	if name == "" {
		name = rules
		if name == "" {
			name = "default"
		}
		if c.unnamed[name]++; c.unnamed[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, c.unnamed[name])
		}
	}
	return c.m, name
}

func releaseMetrics(reg *prometheus.Registry) {
	shared.Lock()
	defer shared.Unlock()
	if c := shared.m[reg]; c != nil {
		if c.refs--; c.refs == 0 {
			delete(shared.m, reg)
		}
	}
}

// CaddyModule returns the module's information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.bespoke",
		New: func() caddy.Module { return new(Handler) },
	}
}

// nextKey carries the request's nextCall to the in-process upstream.
type nextKey struct{}

// nextCall is Caddy's next handler for one request, and the error it
// returned before writing anything, if it did.
type nextCall struct {
	next caddyhttp.Handler
	err  atomic.Pointer[error]
}

// callNext is the upstream host.New wraps: the request's next handler.
// Caddy handlers return errors instead of writing them. One returned
// before anything was written is kept for ServeHTTP to return, so that
// Caddy's handle_errors answers it, and what bespoke's proxy writes is
// dropped. The proxy sees its status (500 when it has none), or, for
// reverse_proxy's own (its upstream failed: 502, 503, 504), a failed
// round trip, which it counts as its origin's failure with that status
// (outcome upstream_error, bespoke_upstream_errors_total), as bespoke
// serve does. Another handler's 503 (Caddy's error directive) is an
// answer, not a failure.
var callNext = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Context().Value(nextKey{}).(*nextCall)
	if c == nil {
		http.Error(w, "bespoke: no next handler", http.StatusInternalServerError)
		return
	}
	tw := &trackingWriter{ResponseWriter: w}
	if err := c.next.ServeHTTP(tw, r); err != nil && !tw.wrote {
		code := http.StatusInternalServerError
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			code = he.StatusCode
		}
		c.err.Store(&err)
		if gatewayFailure(he, code) {
			panic(upstreamFailure{status: code, err: err}) // the round trip fails (see host.Config.Next)
		}
		w.WriteHeader(code)
	}
})

// gatewayFailure reports whether a handler's error is reverse_proxy's own
// (php_fastcgi's too, which is one): its upstream failed. Caddy's errors
// name the function that made them, and reverse_proxy's are made in its
// package.
func gatewayFailure(he caddyhttp.HandlerError, code int) bool {
	switch code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return strings.HasPrefix(he.Trace, "reverseproxy.")
	}
	return false
}

// upstreamFailure fails the in-process round trip: it wraps
// http.ErrAbortHandler, as host.Config.Next asks, and gives the status
// reverse_proxy answered, and its cause for bespoke's log.
type upstreamFailure struct {
	status int
	err    error
}

func (e upstreamFailure) Error() string   { return e.err.Error() }
func (e upstreamFailure) Unwrap() []error { return []error{http.ErrAbortHandler, e.err} }

// HTTPStatus is the status the visitor gets (see host.Config.Next).
func (e upstreamFailure) HTTPStatus() int { return e.status }

// trackingWriter notes whether the next handler wrote anything.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errorWriter drops the response bespoke makes of an error the next
// handler returned, which Caddy answers instead.
type errorWriter struct {
	http.ResponseWriter
	c *nextCall
}

func (w *errorWriter) failed() bool { return w.c.err.Load() != nil }

func (w *errorWriter) WriteHeader(code int) {
	if !w.failed() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *errorWriter) Write(b []byte) (int, error) {
	if w.failed() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// FlushError is what http.ResponseController.Flush calls: a flush of the
// dropped response must not send the visitor a status.
func (w *errorWriter) FlushError() error {
	if w.failed() {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *errorWriter) Flush() { w.FlushError() }

func (w *errorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// defaultWatch is how often the rule file is checked for changes when
// the config does not say (bespoke serve's --watch default).
const defaultWatch = time.Second

// Provision compiles the rules and builds the handler.
func (b *Handler) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	cfg := host.Config{
		Next:           callNext,
		RulesFile:      repl.ReplaceAll(b.Rules, ""),
		Seen:           repl.ReplaceAll(b.Seen, ""),
		Watch:          max(time.Duration(b.Watch), 0),
		Name:           repl.ReplaceAll(b.Name, ""),
		CacheDir:       repl.ReplaceAll(b.CacheDir, ""),
		TrustedProxies: b.TrustedProxies,
		DebugHeaders:   b.DebugHeaders,
		Logger:         ctx.Slogger(),
	}
	switch {
	case b.Secret != "" && b.SecretFile != "":
		return errors.New("bespoke: give secret or secret_file, not both")
	case b.Secret != "":
		v := repl.ReplaceAll(b.Secret, "")
		if v == "" {
			// secret {env.X} with X unset: told as such, not as a key
			// shorter than 16 bytes.
			return fmt.Errorf("bespoke: secret %s is empty: set what it names, or use secret_file", b.Secret)
		}
		cfg.Secret = []byte(v)
	case b.SecretFile != "":
		s, err := os.ReadFile(repl.ReplaceAll(b.SecretFile, ""))
		if err != nil {
			return fmt.Errorf("bespoke: secret_file: %w", err)
		}
		cfg.Secret = []byte(strings.TrimSpace(string(s)))
	}
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		cfg.Metrics, cfg.Name = acquireMetrics(reg, cfg.Name, cfg.RulesFile)
		b.reg = reg
	}
	if b.Watch == 0 && cfg.RulesFile != "" {
		cfg.Watch = defaultWatch
	}
	if cfg.RulesFile == "" {
		// Most often a rule file written right after the directive with
		// an absolute path, which Caddy reads as the handler's matcher.
		ctx.Slogger().Warn("bespoke: no rule file, requests pass unpersonalized; give it with the rules subdirective (an absolute path right after bespoke is read by Caddy as a path matcher)")
	}
	h, err := host.New(ctx, cfg)
	if err != nil {
		if b.reg != nil {
			releaseMetrics(b.reg)
			b.reg = nil
		}
		return err
	}
	b.h = h
	return nil
}

// ServeHTTP personalizes the response of next.
func (b *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	c := &nextCall{next: next}
	before := w.Header().Clone()
	b.h.ServeHTTP(&errorWriter{ResponseWriter: w, c: c}, r.WithContext(context.WithValue(r.Context(), nextKey{}, c)))
	if err := c.err.Load(); err != nil {
		// Caddy answers the error (handle_errors) with the headers the
		// handlers before this one set, not those bespoke set for the
		// response it dropped (Vary, Cache-Control, X-Bespoke-*).
		h := w.Header()
		clear(h)
		maps.Copy(h, before)
		return *err
	}
	return nil
}

// Cleanup closes the handler after a config reload replaced it (or Caddy
// stopped), letting requests in flight finish, for at most 10 seconds.
// It does nothing when Provision failed.
func (b *Handler) Cleanup() error {
	if b.h == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := b.h.Close(ctx)
	if b.reg != nil {
		releaseMetrics(b.reg)
	}
	return err
}

// UnmarshalCaddyfile reads the directive:
//
//	bespoke [<matcher>] [<rules file>] {
//		rules           <file.yaml|file.wasm>
//		seen            cookie|off|redis://host:port/db
//		secret          <key>
//		secret_file     <file>
//		watch           <interval>|off
//		name            <name>
//		cache_dir       <dir>|-
//		trusted_proxies <prefix>...
//		debug_headers
//	}
//
// Like every handler directive, it takes a matcher first: an argument
// starting with "/" is a path matcher, so give an absolute rule file with
// rules.
func (b *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		b.Rules = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		key := d.Val()
		one := func(dst *string) error {
			if !d.NextArg() {
				return d.ArgErr()
			}
			*dst = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
			return nil
		}
		var err error
		switch key {
		case "rules":
			if b.Rules != "" {
				return d.Errf("bespoke: the rule file is given twice, as the argument (%q) and with rules", b.Rules)
			}
			err = one(&b.Rules)
		case "seen":
			err = one(&b.Seen)
		case "secret":
			err = one(&b.Secret)
		case "secret_file":
			err = one(&b.SecretFile)
		case "name":
			err = one(&b.Name)
		case "cache_dir":
			err = one(&b.CacheDir)
		case "watch":
			var s string
			if err = one(&s); err == nil {
				if s == "off" {
					b.Watch = -1
					break
				}
				dur, perr := caddy.ParseDuration(s)
				if perr != nil {
					return d.Errf("watch: %v", perr)
				}
				if dur < 0 {
					return d.Errf("watch: %s is negative; give how often to look at the rule file (1s, the default), or off", s)
				}
				if dur == 0 {
					dur = -1 // off, as bespoke serve's --watch 0
				}
				b.Watch = caddy.Duration(dur)
			}
		case "trusted_proxies":
			b.TrustedProxies = append(b.TrustedProxies, d.RemainingArgs()...)
			if len(b.TrustedProxies) == 0 {
				return d.ArgErr()
			}
		case "debug_headers":
			if d.NextArg() {
				return d.ArgErr()
			}
			b.DebugHeaders = true
		default:
			return d.Errf("bespoke: unknown subdirective %q", key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	b := new(Handler)
	err := b.UnmarshalCaddyfile(h.Dispenser)
	return b, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
