package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// Live serves bespoke serve --config: one configuration after another
// behind the same listeners. A reload that finds the configuration file
// changed builds a Server of the new configuration beside the one
// serving (every route's plugin loaded), and swaps it in for the
// requests that come next; the requests in flight finish on the
// configuration they started with, which is closed once its last one
// ends, or its shutdown grace has passed. A configuration that does not
// load is rejected, and the one serving goes on unchanged.
//
// The settings of the listeners (see restartOnly) keep the values they
// started with: a configuration that changes them is loaded without
// them, and each is warned of.
type Live struct {
	// first is the server Live started with: its listeners, TLS
	// certificate, admin token and hosts serve every configuration.
	first *Server
	file  string
	load  func([]byte) (*config.Config, error)
	opt   Options
	// ctx is Serve's (Watch's): the watchers of every configuration run
	// until it ends or their configuration is closed.
	ctx context.Context
	// passed are the listeners a service manager passed.
	passed Passed
	// level is LiveOptions.Level.
	level *slog.LevelVar
	// loaded is LiveOptions.Loaded.
	loaded func(*config.Config)

	cur atomic.Pointer[generation]
	// mu serializes reloads; read is the hash of what the
	// configuration serving was read from.
	mu   sync.Mutex
	read [32]byte
	// tried is the hash of what the last reload that found the file
	// changed read, loaded or rejected: the watcher tries a content once.
	tried [32]byte
	// closed: Serve has returned, and a reload loads no configuration.
	closed bool
	// gen counts the configurations loaded, the first one 1.
	gen atomic.Int64
	// state is what the status endpoint shows of the configuration,
	// read without waiting for a reload in progress.
	state atomic.Pointer[ConfigStatus]
	// swapped is signalled as a configuration is swapped in, for the
	// file watch to take its interval.
	swapped chan struct{}
	// old are the configurations replaced and not yet closed.
	oldMu sync.Mutex
	old   map[*generation]bool
	oldWG sync.WaitGroup
}

// LiveOptions are what NewLive needs besides the first server.
type LiveOptions struct {
	// File is the configuration file, and Data its content as the
	// first server's configuration was read from it.
	File string
	Data []byte
	// Load reads a configuration from the file's content: config's
	// LoadData, with the command line's options applied over it, and
	// validated.
	Load func(data []byte) (*config.Config, error)
	// Options are the first server's, which every configuration is
	// built with (the logger, the clock, Wrap, the embedded plugin).
	Options Options
	// Passed says which listeners are sockets a service manager passed.
	Passed Passed
	// Level, when not nil, is the level of the log every configuration
	// writes through (Options.Logger's handler reads it): a
	// configuration's log.level sets it once it serves, so that an
	// operator turns debug lines on for an incident without a restart.
	// Nil, log.level is a setting only a restart applies.
	Level *slog.LevelVar
	// Loaded, when not nil, is called with each configuration a reload
	// loads, once it serves: what stands beside the proxy (the editors'
	// preview of its routes) follows it.
	Loaded func(cfg *config.Config)
}

// Passed says which of the listeners Serve is given are sockets a
// service manager passed (systemd's socket activation): their addresses
// are the socket units', and listen or admin, not read, is not a
// setting a restart would apply either.
type Passed struct {
	Visitors, Admin bool
}

// generation is one configuration's server and the requests it serves.
type generation struct {
	srv     *Server
	handler http.Handler
	n       int64
	// refs counts the requests using srv; retired is set once another
	// configuration serves new requests, and idle closed once refs is 0
	// after it.
	refs      atomic.Int64
	retired   atomic.Bool
	idle      chan struct{}
	idleOnce  sync.Once
	closeOnce sync.Once
}

// ConfigReload is the outcome of the last reload that found the
// configuration file changed.
type ConfigReload struct {
	At         time.Time `json:"at"`
	Generation int64     `json:"generation"`
	Error      string    `json:"error,omitempty"`
	// Kept are the settings that changed but only a restart applies,
	// with where the file writes them, and those a service manager's
	// sockets leave unread (see Passed), said so.
	Kept []string `json:"kept,omitempty"`
}

// ConfigStatus describes the configuration serving, for the status
// endpoint.
type ConfigStatus struct {
	File       string        `json:"file"`
	Generation int64         `json:"generation"`
	SHA256     string        `json:"sha256"`
	LastReload *ConfigReload `json:"last_reload,omitempty"`
}

// NewLive serves first, built from opt.Data, and the configurations that
// replace it.
func NewLive(first *Server, opt LiveOptions) *Live {
	l := &Live{first: first, file: opt.File, load: opt.Load, opt: opt.Options, ctx: context.Background(), passed: opt.Passed, level: opt.Level, loaded: opt.Loaded,
		read: sha256.Sum256(opt.Data), old: map[*generation]bool{}, swapped: make(chan struct{}, 1)}
	l.tried = l.read
	l.opt.Metrics = first.Metrics
	l.gen.Store(1)
	l.state.Store(&ConfigStatus{File: opt.File, Generation: 1, SHA256: hex.EncodeToString(l.read[:])})
	first.Metrics.ConfigGeneration(1)
	l.cur.Store(l.newGeneration(first, 1))
	return l
}

func (l *Live) newGeneration(s *Server, n int64) *generation {
	return &generation{srv: s, handler: s.visitors(), n: n, idle: make(chan struct{})}
}

// Server returns the server of the configuration serving.
func (l *Live) Server() *Server { return l.cur.Load().srv }

// Generation returns the configuration's generation: 1 at start, and
// one more with each configuration a reload loads.
func (l *Live) Generation() int64 { return l.gen.Load() }

// ServeHTTP serves a visitor's request with the configuration serving as
// it comes, to its end.
func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := l.acquire()
	defer g.release()
	g.handler.ServeHTTP(w, r)
}

// acquire returns the configuration serving, counted as used until
// release: one replaced between the load and the count is let go and
// the next one taken, so that none is used once its retirer found it
// idle.
func (l *Live) acquire() *generation {
	for {
		g := l.cur.Load()
		g.refs.Add(1)
		if l.cur.Load() == g {
			return g
		}
		g.release()
	}
}

func (g *generation) release() {
	if g.refs.Add(-1) == 0 && g.retired.Load() {
		g.idleOnce.Do(func() { close(g.idle) })
	}
}

// Watch reloads the routes whose rule or plugin file changes, of every
// configuration as it serves, and the configuration file when it
// changes, every watch interval of the configuration serving, until ctx
// ends.
func (l *Live) Watch(ctx context.Context) {
	l.mu.Lock()
	l.ctx = ctx
	l.mu.Unlock()
	l.Server().Watch(ctx)
	go l.watchFile(ctx)
}

// watchFile loads the configuration file when its content differs from
// what the last reload tried, once it reads the same twice, a second
// apart (the interval when shorter), so that a file written in pieces is
// not loaded, or rejected, half written. A content is tried once: a file
// rejected is not tried again until it changes, or a reload asks. It
// looks every watch interval of the configuration serving, and not at
// all while that is 0: a configuration that changed watch had the file
// looked at as often as the one bespoke started with, or never.
func (l *Live) watchFile(ctx context.Context) {
	sum := func() ([32]byte, bool) {
		b, err := os.ReadFile(l.file)
		return sha256.Sum256(b), err == nil
	}
	for {
		every := l.Server().cfg.WatchEvery()
		var tick <-chan time.Time
		if every > 0 {
			tick = time.After(every)
		}
		// A configuration swapped in meanwhile (by a reload) says
		// how often to look from now on: 0, never, until another does.
		select {
		case <-ctx.Done():
			return
		case <-l.swapped:
			continue
		case <-tick:
		}
		now, ok := sum()
		l.mu.Lock()
		changed := ok && now != l.tried && !l.closed
		l.mu.Unlock()
		if !changed {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(every, time.Second)):
		}
		if again, ok := sum(); !ok || again != now {
			continue // still being written: the next look sees it
		}
		l.mu.Lock()
		if !l.closed {
			l.reloadConfig(ctx)
		}
		l.mu.Unlock()
	}
}

// Serve serves visitors on ln and the admin API on adminLn (when not
// nil) as Server.Serve does, each request with the configuration serving
// as it comes; it closes every configuration as it returns.
func (l *Live) Serve(ctx context.Context, ln, adminLn net.Listener) error {
	return l.first.serve(ctx, ln, adminLn, l, l.first.adminHandler(l), func() time.Duration { return l.Server().cfg.Grace() }, l.close)
}

// close closes the configuration serving and waits for those replaced
// to be closed; their requests ended as the listeners shut down, or were
// cut.
func (l *Live) close(ctx context.Context) error {
	l.mu.Lock() // no reload builds a configuration from now
	defer l.mu.Unlock()
	l.closed = true
	g := l.cur.Load()
	var err error
	g.closeOnce.Do(func() { err = g.srv.Close(ctx) })
	l.oldMu.Lock()
	for o := range l.old {
		o.idleOnce.Do(func() { close(o.idle) })
	}
	l.oldMu.Unlock()
	l.oldWG.Wait()
	return err
}

func (l *Live) isDraining() bool { return l.first.draining.Load() }

// Ready reports whether the configuration serving has every plugin
// loaded.
func (l *Live) Ready() bool { return l.Server().Ready() }

func (l *Live) status() any { return l.Status() }

// Status describes every route of the configuration serving, with the
// configuration's generation and last reload.
func (l *Live) Status() []RouteStatus {
	cs := l.state.Load()
	out := l.Server().Status()
	for i := range out {
		out[i].Config = cs
	}
	return out
}

// Reload loads the configuration file again when its content changed
// since the configuration serving was read (name empty: a reload of
// everything), then reloads the plugin of the route named name, or of
// every route, as Server.Reload does. It goes on when ctx is cancelled,
// until Serve's context ends. The configuration's outcome comes
// first, with Config set: with an error when it was rejected (the
// configuration serving goes on), else its generation, and then its
// routes, each with the generation of the plugin it loaded.
func (l *Live) Reload(ctx context.Context, name string) ([]RouteResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Ended with Serve's context, not the asker's: a client of the
	// admin API that gave up while the rules compiled had the
	// configuration rejected as "context canceled", a content the
	// file watch then took for tried and never loaded.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(l.ctx, cancel)()
	var out []RouteResult
	if name == "" && !l.closed {
		res, loaded := l.reloadConfig(ctx)
		if res != nil {
			out = append(out, *res)
		}
		if loaded {
			// Every route's plugin was loaded with the configuration.
			for _, r := range l.Server().Routes {
				if l.Server().hasRules(r) {
					out = append(out, RouteResult{Route: r.Config.Name, Generation: r.Reloader.Generation()})
				}
			}
			return out, nil
		}
	}
	res, err := l.Server().reload(ctx, name)
	return append(out, res...), err
}

// reloadConfig loads the configuration file when its content changed,
// and swaps it in when it loads: res is nil when it had not changed;
// loaded, when the new configuration serves.
func (l *Live) reloadConfig(ctx context.Context) (res *RouteResult, loaded bool) {
	log := l.first.log
	b, err := os.ReadFile(l.file)
	if err == nil {
		l.tried = sha256.Sum256(b)
		if l.tried == l.read {
			return nil, false
		}
	}
	start := time.Now()
	rec := &ConfigReload{At: start, Generation: l.gen.Load()}
	defer func() {
		l.state.Store(&ConfigStatus{File: l.file, Generation: l.gen.Load(), SHA256: hex.EncodeToString(l.read[:]), LastReload: rec})
		l.first.Metrics.ConfigReload(rec.Error == "", l.gen.Load())
	}()
	reject := func(err error) (*RouteResult, bool) {
		rec.Error = err.Error()
		log.Error("configuration rejected; the one serving goes on unchanged", "config", l.file, "generation", rec.Generation, "err", rec.Error)
		return &RouteResult{Config: l.file, Generation: rec.Generation, Error: rec.Error}, false
	}
	if err != nil {
		return reject(fmt.Errorf("reading the configuration file: %w", err))
	}
	cfg, err := l.load(b)
	if err != nil {
		return reject(err)
	}
	old := l.cur.Load()
	for _, k := range restartOnly(old.srv.cfg, cfg, l.level != nil) {
		at := config.Position(l.file, b, k.key)
		if k.key == "listen" && l.passed.Visitors || k.key == "admin" && l.passed.Admin {
			rec.Kept = append(rec.Kept, k.key+" at "+at+" (not read: the service manager passes the socket)")
			log.Warn("configuration setting changed that is not read: the service manager passes its socket", "key", k.key, "at", at, "hint", "change the socket unit's ListenStream= and restart it")
			continue
		}
		rec.Kept = append(rec.Kept, k.key+" at "+at)
		log.Warn("configuration setting changed that only a restart applies: it keeps its running value", "key", k.key, "at", at, "running", k.running)
	}
	opt := l.opt
	opt.Secret = old.srv.secretKey // restart-only, see restartOnly
	opt.replacing = true
	opt.held = old.srv.held
	opt.prior = map[string]int64{}
	for _, r := range old.srv.Routes {
		opt.prior[r.Config.Name] = r.Reloader.Generation()
	}
	srv, err := New(ctx, cfg, opt)
	if err != nil {
		// The series of the routes New built and closed that the
		// configuration serving does not have.
		for _, r := range cfg.Routes {
			if _, ok := opt.prior[r.Name]; !ok {
				l.first.Metrics.Remove(r.Name)
			}
		}
		// Its routes' loads set their plugin generation; the plugins
		// serving are the old configuration's.
		for _, r := range old.srv.Routes {
			if old.srv.hasRules(r) {
				l.first.Metrics.Generation(r.Config.Name, r.Reloader.Generation())
			}
		}
		return reject(err)
	}
	if l.ctx != nil {
		srv.Watch(l.ctx)
	}
	n := l.gen.Add(1)
	l.cur.Store(l.newGeneration(srv, n))
	l.read = sha256.Sum256(b)
	select {
	case l.swapped <- struct{}{}:
	default:
	}
	rec.Generation = n
	l.retire(old)
	if lv, _ := cfg.Log.SlogLevel(); l.level != nil && lv != l.level.Level() {
		from := l.level.Level()
		l.level.Set(lv)
		log.Log(ctx, max(lv, slog.LevelInfo), "log level changed", "config", l.file, "from", from.String(), "to", lv.String())
	}
	log.Info("configuration loaded", "config", l.file, "generation", n, "routes", len(cfg.Routes), "took", time.Since(start).Round(time.Millisecond))
	if l.loaded != nil {
		l.loaded(cfg)
	}
	return &RouteResult{Config: l.file, Generation: n}, true
}

// retire closes g, replaced, once its last request ends or its shutdown
// grace has passed, whichever comes first.
func (l *Live) retire(g *generation) {
	g.retired.Store(true)
	if g.refs.Load() == 0 {
		g.idleOnce.Do(func() { close(g.idle) })
	}
	l.oldMu.Lock()
	l.old[g] = true
	l.oldMu.Unlock()
	l.oldWG.Add(1)
	go func() {
		defer l.oldWG.Done()
		grace := g.srv.cfg.Grace()
		t := time.NewTimer(grace)
		defer t.Stop()
		cut := false
		select {
		case <-g.idle:
		default:
			// Not idle yet: whichever comes first. (Idle, it is
			// closed as such, though a grace of 0 has passed too.)
			select {
			case <-g.idle:
			case <-t.C:
				cut = true
			}
		}
		if cut {
			l.first.log.Warn("the configuration replaced still had requests in flight as its shutdown grace ran out: closing it under them", "generation", g.n, "grace", grace, "requests", g.refs.Load())
		}
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		g.closeOnce.Do(func() {
			if !cut {
				l.first.log.Info("closing the configuration replaced: its last request ended", "generation", g.n)
			}
			g.srv.Close(ctx)
		})
		l.oldMu.Lock()
		delete(l.old, g)
		l.oldMu.Unlock()
		// The routes no configuration serves any more leave the
		// metrics; Remove keeps those another one serves.
		for _, r := range g.srv.Routes {
			l.first.Metrics.Remove(r.Config.Name)
		}
	}()
}

// kept is a setting only a restart applies, with its running value.
type kept struct {
	key     string
	running any
}

// restartOnly returns the settings of next that only a restart applies
// and that differ from running's, and sets them in next to running's
// values:
//
//   - listen, admin, tls.cert, tls.key and h2c: the listeners are open,
//     and a connection in flight holds the one it came on.
//   - admin_token_file and admin_hosts: the admin listener's guard, which
//     guards the reload itself.
//   - limits.read_header_timeout, idle_timeout, max_header_bytes,
//     send_timeout and max_connections: settings of the listeners and
//     their HTTP servers, which accept and read a connection's requests
//     before any configuration serves them.
//   - secret_file: the key signs the visitors' seen-filter and caps
//     cookies; another key would take every one for tampered, and
//     forget what each visitor saw. The running key is kept, read from
//     the file as it was at start.
//   - log.format, and log.level unless liveLevel (see LiveOptions.Level):
//     the logger every part of the process
//     writes through.
func restartOnly(running, next *config.Config, liveLevel bool) []kept {
	var out []kept
	check := func(key string, r, n any, set func()) {
		if !reflect.DeepEqual(r, n) {
			out = append(out, kept{key, r})
			set()
		}
	}
	rl, nl := &running.Limits, &next.Limits
	check("listen", running.Listen, next.Listen, func() { next.Listen = running.Listen })
	check("admin", running.AdminAddr(), next.AdminAddr(), func() { next.Admin = running.Admin })
	check("admin_token_file", running.AdminTokenFile, next.AdminTokenFile, func() { next.AdminTokenFile = running.AdminTokenFile })
	check("admin_hosts", fmt.Sprint(running.AdminHosts), fmt.Sprint(next.AdminHosts), func() { next.AdminHosts = running.AdminHosts })
	check("tls.cert", running.TLS.Cert, next.TLS.Cert, func() { next.TLS.Cert = running.TLS.Cert })
	check("tls.key", running.TLS.Key, next.TLS.Key, func() { next.TLS.Key = running.TLS.Key })
	check("h2c", running.H2C, next.H2C, func() { next.H2C = running.H2C })
	check("limits.read_header_timeout", rl.ReadHeader.D(), nl.ReadHeader.D(), func() { nl.ReadHeader = rl.ReadHeader })
	check("limits.idle_timeout", rl.Idle.D(), nl.Idle.D(), func() { nl.Idle = rl.Idle })
	check("limits.max_header_bytes", rl.MaxHeaderBytes, nl.MaxHeaderBytes, func() { nl.MaxHeaderBytes = rl.MaxHeaderBytes })
	check("limits.send_timeout", rl.SendTimeout.D(), nl.SendTimeout.D(), func() { nl.SendTimeout = rl.SendTimeout })
	check("limits.max_connections", rl.MaxConnections, nl.MaxConnections, func() { nl.MaxConnections = rl.MaxConnections })
	check("secret_file", running.SecretFile, next.SecretFile, func() { next.SecretFile = running.SecretFile })
	check("log.format", running.Log.Format, next.Log.Format, func() { next.Log.Format = running.Log.Format })
	if !liveLevel {
		check("log.level", running.Log.Level, next.Log.Level, func() { next.Log.Level = running.Log.Level })
	}
	return out
}
