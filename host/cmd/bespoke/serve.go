package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/server"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/version"
	"github.com/bespoke-edge/bespoke/plugin"
)

func serve(args []string, stdout, stderr io.Writer) error {
	// The first SIGTERM or SIGINT drains (see --grace); a second one,
	// from an operator who will not wait, exits at once, as most servers
	// do.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// SIGHUP reloads; its default action ends the process, so it is
	// caught from the start to the end: one sent while the rules compile
	// reloads once they serve, and one sent while draining is ignored (a
	// log rotation's, a config tool's), not the end of the requests in
	// flight.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer close(done)
	defer stop()
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		stop()
		select {
		case sig := <-sigs:
			// While it drains, or still starts (its rules compiling):
			// "stopping" holds for both.
			fmt.Fprintf(stderr, "bespoke serve: %v again while stopping: exiting now\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()
	go tuneGC(ctx, os.Getenv, time.Second)
	return serveSignals(ctx, hup, args, stdout, stderr)
}

// inConfigFile maps the options a configuration file replaces to its
// key: given with --config, they would be ignored, so they are refused.
var inConfigFile = map[string]string{
	"origin": "routes[].origin", "rules": "routes[].rules", "plugin": "routes[].plugin",
	"preserve-host": "routes[].preserve_host", "cache-dir": "cache_dir",
	"pool-size": "limits.pool_size", "decide-timeout": "limits.decide_timeout",
	"max-rewrite-bytes": "limits.max_rewrite_bytes", "edit-map-cache": "limits.edit_map_cache",
	"debug-headers": "log.debug_headers", "access-log": "log.access", "log-format": "log.format", "log-level": "log.level",
	"grace": "shutdown_grace", "seen-store": "seen.store", "redis": "seen.redis",
	"seen-timeout": "seen.timeout", "secret-file": "secret_file",
	"geo-header": "geo.header", "geo-providers": "geo.providers", "trusted-proxies": "geo.trusted_proxies",
	"geoip": "geo.geoip", "timezone": "geo.timezone",
}

// asTyped names, in err's messages, the configuration keys the command
// line set by the options that set them (listen "7720" from --listen is
// --listen "7720"; seen.store is redis but seen.redis is empty, from
// --seen-store redis, is --seen-store is redis but --redis is empty).
// fromFlags says the command line set every value (there is no --config),
// so that a key it left at its default is named by its option too.
func asTyped(err error, set map[string]bool, fromFlags bool) error {
	flags := map[string]string{"listen": "listen", "admin": "admin", "watch": "watch", "tls.cert": "tls-cert", "tls.key": "tls-key",
		"h2c": "h2c", "admin_token_file": "admin-token-file", "admin_hosts": "admin-host"}
	for flag, key := range inConfigFile {
		flags[key] = flag
	}
	typed := func(key string) (string, bool) {
		flag, ok := flags[key]
		return flag, ok && (fromFlags || set[flag])
	}
	var msgs []string
	for _, e := range unjoin(err) {
		msg := e.Error()
		if fe, ok := e.(*config.FieldError); ok {
			if flag, ok := typed(fe.Path); ok && strings.HasPrefix(msg, fe.Path) {
				msg = "--" + flag + strings.TrimPrefix(msg, fe.Path)
			}
			// The other keys it names, outside the values it quotes; a
			// key of one word (listen, admin) only where it leads, as
			// above, for such a word may be a word of the sentence.
			parts := strings.Split(msg, `"`)
			for i := 0; i < len(parts); i += 2 {
				parts[i] = keyWords.ReplaceAllStringFunc(parts[i], func(w string) string {
					if flag, ok := typed(w); ok && strings.ContainsAny(w, "._") {
						return "--" + flag
					}
					return w
				})
			}
			msg = strings.Join(parts, `"`)
		}
		msgs = append(msgs, msg)
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// keyWords are the words of a message that may be configuration keys.
var keyWords = regexp.MustCompile(`[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*`)

// fileOptions are serve's options that name a file to read.
var fileOptions = []string{"rules", "plugin", "secret-file", "tls-cert", "tls-key", "admin-token-file", "geoip"}

// fileOptionsThere says, naming the option, which of the files the
// command line names is not there to be read or is a directory, or holds
// too short a secret or admin token, as a
// configuration file's are said at their key: found once the server
// loaded them, they were said in Go's words ("open site.yaml: no such
// file or directory", "secret_file: open …"), after the log's first
// lines.
func fileOptionsThere(flags *flag.FlagSet, args []string, set map[string]bool) error {
	for _, name := range fileOptions {
		p := flags.Lookup(name).Value.String()
		if !set[name] || p == "" || p == "-" {
			continue
		}
		err := config.Readable(p)
		switch {
		case err != nil:
		case name == "secret-file":
			err = config.ShortSecret(p)
		case name == "admin-token-file":
			err = config.ShortAdminToken(p)
		}
		if err != nil {
			return fmt.Errorf("%s %q: %v", typed(args, name), p, err)
		}
	}
	return nil
}

// durationOf is d as a configuration's duration that a flag always
// sets (0 then says none, or is refused, rather than the default).
func durationOf(d time.Duration) *config.Duration {
	v := config.Duration(d)
	return &v
}

// unjoin is the errors an errors.Join made, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// serveContext serves until ctx is done.
func serveContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return serveSignals(ctx, nil, args, stdout, stderr)
}

// serveSignals is serveContext reloading on each value of hup (the
// process's SIGHUPs); with hup nil, it takes SIGHUP itself while it
// serves.
func serveSignals(ctx context.Context, hup <-chan os.Signal, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stdout, "--origin URL (--rules FILE | --plugin FILE.wasm) [options]\n       bespoke serve --demo [options]\n       bespoke serve --config bespoke.yaml")
	configFile := fs.String("config", "", "configuration `file` (routes, limits, stores), loaded again by a reload (SIGHUP, POST /_bespoke/reload) once it changed; the other options then only override listen, admin, TLS, h2c, the admin token and hosts, the preview and watch")
	listen := fs.String("listen", "", "`address` to serve visitors on (default :8080)")
	admin := fs.String("admin", config.DefaultAdmin, "`address` of the admin listener (/metrics, /healthz, /readyz, /_bespoke/status, POST /_bespoke/reload, /debug/pprof/); empty disables it")
	origin := fs.String("origin", "", "origin `URL` to personalize")
	demoFlag := fs.Bool("demo", false, "serve the bundled demo site as the origin, unless --origin is given (and its rules, unless --rules or --plugin is given)")
	rulesFile := fs.String("rules", "", "rule `file` to compile and serve (reloaded when it changes)")
	pluginFile := fs.String("plugin", "", "compiled plugin `file` (.wasm) to serve (reloaded when it changes)")
	var g geoFlags
	g.register(fs)
	cacheDir := fs.String("cache-dir", "", "`directory` for compiled plugin code (default: the user cache directory; - for memory only)")
	poolSize := fs.Int("pool-size", 0, "plugin instances per route (default 2 × CPUs)")
	decideTimeout := durationVar(fs, "decide-timeout", 50*time.Millisecond, "longest a plugin that may loop can take to decide before the page is served unpersonalized (a `duration`: 250ms, 30s, 12h, 7d; at least 1ms)")
	maxRewrite := fs.String("max-rewrite-bytes", "8MiB", "largest body rewritten, in decoded bytes (a `size`: 65536, 64KiB, 8MiB): one whose length says more passes untouched, a streamed one (chunked, compressed) is rewritten up to it and copied after")
	editMaps := fs.String("edit-map-cache", "32MiB", "memory for the edit maps of pages seen, spliced for each visitor after (a `size`; 0 disables)")
	debugHeaders := fs.Bool("debug-headers", false, "add X-Bespoke-Rules (the rules that matched), X-Bespoke-Generation (the plugin's) and X-Bespoke-Untouched (why a page the rules edit went out as the origin sent it) to responses")
	accessLog := fs.Bool("access-log", true, "log one line per request")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	logLevel := fs.String("log-level", "info", "least `level` logged: debug, info, warn or error (the access lines are info)")
	watch := durationVar(fs, "watch", time.Second, "how often to check the rule or plugin file (and --config's file) for changes, a `duration` (0 disables)")
	preserveHost := fs.Bool("preserve-host", false, "send the visitor's Host header to the origin")
	grace := durationVar(fs, "grace", 10*time.Second, "on SIGTERM or SIGINT, how long to let requests in flight finish (a `duration`; 0: none, they are cut at once)")
	seenStore := fs.String("seen-store", "cookie", "where seen-filters live, a `store`: cookie, redis or off; redis when --redis is given without it")
	redisURL := fs.String("redis", "", "Redis `URL` of the redis seen store, which also keeps caps counts: redis://host:6379/0 (rediss:// for TLS), Cluster seeds redis://h1:7000,redis://h2:7000, redis+sentinel://h1:26379/master, or a socket unix:///run/redis.sock; selects --seen-store redis")
	seenTimeout := durationVar(fs, "seen-timeout", 20*time.Millisecond, "longest a Redis read may take before the page is served as if nothing had been seen (a `duration`, at least 1ms)")
	secretFile := fs.String("secret-file", "", "`file` holding the key that signs bespoke's cookies, at least 16 bytes (default: $BESPOKE_SECRET, as long, else a random key per process)")
	tlsCert := fs.String("tls-cert", "", "certificate chain `file` (PEM): serve visitors over TLS, with HTTP/2 (reloaded when it changes)")
	tlsKey := fs.String("tls-key", "", "private key `file` (PEM) of --tls-cert")
	h2c := fs.Bool("h2c", false, "also accept HTTP/2 without TLS (prior knowledge), for a load balancer in front")
	adminToken := fs.String("admin-token-file", "", "`file` holding a bearer token the admin API requires, at least 16 characters (default: $BESPOKE_ADMIN_TOKEN, else none)")
	var adminHosts hostsFlag
	fs.Var(&adminHosts, "admin-host", "a Host `name` (or address prefix, 10.0.0.0/8) the admin listener answers to besides loopback ones (repeatable)")
	previewAddr := fs.String("preview", "", "serve the editors' preview of the routes' rule files on this `address` (keep it on loopback, like the admin listener)")
	var previewHosts hostsFlag
	fs.Var(&previewHosts, "preview-host", "a Host `name` (or address prefix, 10.0.0.0/8) the preview answers to besides loopback ones and --preview's (repeatable)")
	devPreview := fs.Bool("dev-preview", false, "development switch: honour preview links (?bsk_preview=...) that force variants and the time; links are signed with the secret and minted by the preview")
	checkOnly := fs.Bool("check", false, "load everything serving needs (the configuration, every route's rules or plugin, TLS files, secret, token) and exit without listening: status 0 when bespoke would start, as nginx -t")
	devClock := fs.String("dev-clock", "", "development switch: the rules' clock starts at this RFC 3339 `time` and runs from there (to preview a weekend banner on a Wednesday)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := givenEmpty(fs, args, "give the configuration file", "config"); err != nil {
		return err
	}

	var cfg *config.Config
	var configData []byte
	var opt server.Options
	var err error
	set := map[string]bool{}
	var negative string
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = true
		// A negative duration or count would pass for never or none
		// (--watch -1s stopped watching without a word). A repeated
		// option (--admin-host) is no flag.Getter and neither.
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		switch v := g.Get().(type) {
		case time.Duration:
			if v < 0 && negative == "" {
				negative = fmt.Sprintf("--%s %v: a duration cannot be negative", f.Name, v)
			}
		case int:
			if v < 0 && negative == "" {
				negative = fmt.Sprintf("--%s %d: cannot be negative", f.Name, v)
			}
		}
	})
	if negative != "" {
		return usagef("%s", negative)
	}
	switch {
	case *configFile != "":
		if *demoFlag {
			return usagef("--demo serves the bundled demo site and its rules; it does not go with --config")
		}
		for _, name := range slices.Sorted(maps.Keys(set)) {
			if key, ok := inConfigFile[name]; ok {
				return usagef("--%s is not read with --config: set %s in %s", name, key, *configFile)
			}
		}
		// What the file held as it was read: a reload loads it again
		// once it holds something else.
		if configData, err = os.ReadFile(*configFile); err != nil {
			return err
		}
		if cfg, err = config.LoadData(*configFile, configData); err != nil {
			if isRuleFile(configData) {
				return fmt.Errorf("%w\n%s is a rule file, not a configuration file: serve it with bespoke serve --rules %s --origin URL, or name it as a route's rules in a configuration file", err, *configFile, *configFile)
			}
			return err
		}
	default:
		if *rulesFile != "" && *pluginFile != "" {
			return usagef("give --rules or --plugin, not both")
		}
		if !*demoFlag && (*origin == "" || *rulesFile == "" && *pluginFile == "") {
			return usagef("give --origin and one of --rules or --plugin, or --demo, or --config")
		}
		size, err := config.ParseSize(*maxRewrite)
		if err != nil {
			return usagef("--max-rewrite-bytes: %v", err)
		}
		mapBytes, err := config.ParseSize(*editMaps)
		if err != nil {
			return usagef("--edit-map-cache: %v", err)
		}
		mapSize := config.Size(mapBytes)
		store := *seenStore
		if !set["seen-store"] {
			store = "" // the configuration's default: redis with a URL, else cookie
		} else if *redisURL != "" && store != "redis" {
			return usagef("--redis is the URL of --seen-store redis; --seen-store %s keeps nothing in Redis: drop one of them", store)
		}
		access := *accessLog
		watchEvery := config.Duration(*watch)
		cfg = &config.Config{
			CacheDir:      *cacheDir,
			SecretFile:    *secretFile,
			ShutdownGrace: durationOf(*grace),
			Watch:         &watchEvery,
			Log:           config.Log{Format: *logFormat, Level: *logLevel, Access: &access, DebugHeaders: *debugHeaders},
			Geo:           config.Geo{Providers: g.providers, TrustedProxies: g.trusted, Header: g.header, GeoIP: g.geoip, TimeZone: g.timezone},
			Seen:          config.Seen{Store: store, Redis: *redisURL, Timeout: durationOf(*seenTimeout)},
			Limits:        config.Limits{PoolSize: *poolSize, DecideTimeout: durationOf(*decideTimeout), MaxRewriteBytes: config.Size(size), EditMapCache: &mapSize},
			Routes:        []config.Route{{Name: "default", Origin: *origin, Rules: *rulesFile, Plugin: *pluginFile, PreserveHost: *preserveHost}},
		}
		if *demoFlag && *origin == "" {
			cfg.Routes[0].Origin = "http://demo.invalid" // replaced below, once the demo origin listens
		}
		cfg.Defaults()
	}
	// The command line's options over the file's settings, at start and
	// at every reload of the file.
	override := func(cfg *config.Config) {
		if set["listen"] || cfg.Listen == "" {
			cfg.Listen = *listen
			if cfg.Listen == "" {
				cfg.Listen = ":8080"
			}
		}
		if set["admin"] || *configFile == "" {
			a := *admin
			cfg.Admin = &a
		}
		if set["tls-cert"] || set["tls-key"] || *configFile == "" {
			cfg.TLS = config.TLS{Cert: *tlsCert, Key: *tlsKey}
		}
		if set["h2c"] || *configFile == "" {
			cfg.H2C = *h2c
		}
		if set["watch"] {
			w := config.Duration(*watch)
			cfg.Watch = &w
		}
		if set["admin-token-file"] || *configFile == "" {
			cfg.AdminTokenFile = *adminToken
		}
		if set["admin-host"] || *configFile == "" {
			cfg.AdminHosts = adminHosts
		}
	}
	override(cfg)
	// --tls-cert or --tls-key replaces the file's tls: both, so both
	// values are the command line's.
	typed := maps.Clone(set)
	if set["tls-cert"] || set["tls-key"] {
		typed["tls-cert"], typed["tls-key"] = true, true
	}

	if *devClock != "" {
		t0, err := visit.ParseTime(*devClock)
		if err != nil {
			return usagef("--dev-clock %q: write an RFC 3339 time such as 2026-12-05T20:00:00+01:00", *devClock)
		}
		start := time.Now()
		opt.Clock = func() time.Time { return t0.Add(time.Since(start)) }
	}
	var links *preview.Links
	if *devPreview {
		opt.Wrap = func(key []byte, h http.Handler) http.Handler {
			// Once: every configuration a reload loads signs with the
			// key the first did, and the preview mints with these.
			if links == nil {
				links = preview.NewLinks(key)
			}
			return links.Wrap(h)
		}
	}
	demoURL := ""
	if *demoFlag {
		// The demo site, unless --origin names another: the demo's rules
		// then run in front of that origin.
		for i := range cfg.Routes {
			if cfg.Routes[i].Origin != "http://demo.invalid" {
				continue
			}
			if demoURL == "" {
				u, stopDemo, err := demo.Start()
				if err != nil {
					return err
				}
				defer stopDemo()
				demoURL = u
			}
			cfg.Routes[i].Origin = demoURL
		}
		opt.Embedded = func() (*plugin.Artifact, string, error) {
			res, err := compiler.Compile(demo.RulesName, demo.Rules())
			if err != nil {
				return nil, "", err
			}
			return res.Artifact, demo.RulesName, nil
		}
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", asTyped(err, typed, *configFile == ""))
	}
	if err := fileOptionsThere(fs, args, set); err != nil {
		return err
	}
	// One level for every configuration's log, which a configuration
	// file's log.level sets as a reload loads it.
	level := new(slog.LevelVar)
	lv, _ := cfg.Log.SlogLevel()
	level.Set(lv)
	log := slog.New(cfg.Log.HandlerAt(stderr, level))
	if demoURL != "" {
		log.Info("demo origin", "url", demoURL)
	}
	opt.Logger = log
	log.Info("bespoke", "version", version.Get().String())

	if opt.Clock != nil {
		log.Warn("development clock: the rules see another time than now", "now", opt.Clock().Format(time.RFC3339))
	}
	srv, err := server.New(ctx, cfg, opt)
	if err != nil && ctx.Err() != nil && !*checkOnly {
		// SIGTERM or SIGINT while the rules compiled, which a load
		// that saw it failed with: a stop asked for, not a plugin that
		// does not load (status 1, "context canceled").
		log.Info("stopped before serving: asked to stop while starting")
		return nil
	}
	if err != nil {
		return report(stderr, err)
	}
	if ctx.Err() != nil && !*checkOnly {
		// Asked to stop while the rules compiled: no listener is
		// opened, rather than one opened, said to serve, and closed at
		// once (or a port taken meanwhile failing the stop).
		srv.Close(context.Background())
		log.Info("stopped before serving: asked to stop while starting")
		return nil
	}
	if *checkOnly {
		defer srv.Close(context.Background())
		for _, st := range srv.Status() {
			plugin := "no rules: forwarded unchanged"
			if st.Plugin != "" {
				plugin = fmt.Sprintf("%s (%s)", st.Plugin, count(st.Rules, "rule"))
			}
			fmt.Fprintf(stdout, "route %s: %s%s → %s, %s\n", st.Name, st.Host, st.Path, st.Origin, plugin)
		}
		for _, w := range srv.CheckStores(ctx) {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
		// The admin listener too: leaving admin out of a file keeps it,
		// and only admin: "" turns it off, which a check should show.
		admin := "without an admin listener"
		if a := cfg.AdminAddr(); a != "" {
			admin = "the admin listener on " + a
		}
		fmt.Fprintf(stdout, "bespoke: ok, %d route(s) would serve on %s, %s\n", len(cfg.Routes), cfg.Listen, admin)
		return nil
	}
	if links != nil {
		log.Warn("preview links are honoured (--dev-preview): links minted by this server's preview force variants and the time")
	}
	// Opened before the configuration file is watched: a reload tells
	// the settings a restart applies from those a service manager's
	// sockets make unread.
	ln, adminLn, passed, err := listeners(cfg, log)
	if err != nil {
		srv.Close(context.Background())
		return err
	}
	// With a configuration file, a reload loads it again once it
	// changed: the server of each configuration serves behind the same
	// listeners.
	var front frontend = srv
	// The preview, once started, follows the routes of each
	// configuration a reload loads.
	var previewing atomic.Pointer[previewHandle]
	if *configFile != "" {
		loaded := func(cfg *config.Config) {
			if p := previewing.Load(); p != nil {
				p.follow(cfg, log)
			}
		}
		front = server.NewLive(srv, server.LiveOptions{File: *configFile, Data: configData, Options: opt, Passed: passed, Level: level, Loaded: loaded, Load: func(b []byte) (*config.Config, error) {
			cfg, err := config.LoadData(*configFile, b)
			if err != nil {
				return nil, err
			}
			override(cfg)
			if err := cfg.Validate(); err != nil {
				return nil, asTyped(err, typed, false)
			}
			return cfg, nil
		}})
	}
	front.Watch(ctx)
	if hup == nil {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP)
		defer signal.Stop(c)
		hup = c
	}
	go reloadOnHUP(ctx, front, hup)

	for _, r := range cfg.Routes {
		src := r.Source()
		if src == "" && opt.Embedded != nil {
			src = demo.RulesName
		}
		log.Info("route", "name", r.Name, "host", r.Host, "path", r.Path, "origin", r.Origin, "plugin", src)
	}
	scheme := "http"
	if cfg.TLS.Cert != "" {
		scheme = "https"
	}
	if *previewAddr != "" {
		addr, pv, err := startPreview(ctx, cfg, *previewAddr, previewHosts, scheme+"://"+displayAddr(ln.Addr()), links, opt.Clock, log)
		if err != nil {
			ln.Close()
			if adminLn != nil {
				adminLn.Close()
			}
			return err
		}
		previewing.Store(pv)
		defer func() {
			previewing.Store(nil)
			pv.stop()
		}()
		fmt.Fprintf(stdout, "bespoke: editors' preview on http://%s/\n", displayAddr(addr))
		warnBeyondLoopback(stderr, "editors' preview", addr)
	}
	fmt.Fprintf(stdout, "bespoke: serving %d route(s) through %s://%s\n", len(cfg.Routes), scheme, displayAddr(ln.Addr()))
	return front.Serve(ctx, ln, adminLn)
}

// frontend is what serves the listeners: a server, or with a
// configuration file the Live that swaps the server of each
// configuration in.
type frontend interface {
	Watch(ctx context.Context)
	Reload(ctx context.Context, name string) ([]server.RouteResult, error)
	Serve(ctx context.Context, ln, adminLn net.Listener) error
}

func reloadOnHUP(ctx context.Context, srv frontend, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			srv.Reload(ctx, "")
		}
	}
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// previewHandle is the editors' preview beside the proxy.
type previewHandle struct {
	pv       *preview.Server
	rc       reqctx.Config
	links    *preview.Links
	proxyURL string
	// stop stops serving it and releases it.
	stop func()
}

// previewTargets are the targets of the routes of cfg that have rules
// to show: a rule file, or the demo's bundled rules.
func previewTargets(cfg *config.Config, rc reqctx.Config, links *preview.Links, proxyURL string) ([]preview.Target, error) {
	var targets []preview.Target
	for _, r := range cfg.Routes {
		if r.Plugin != "" {
			continue // a compiled plugin has no rules to show
		}
		u, err := url.Parse(r.Origin)
		if err != nil {
			return nil, err
		}
		t := preview.Target{Name: r.Name, Origin: u, Context: rc, Links: links, Proxy: proxyURL, Path: r.Path,
			ConsentCookie: cfg.Seen.ConsentCookie, ConsentDeny: cfg.Seen.ConsentDeny}
		if !strings.Contains(r.Host, "*") {
			t.Host = r.Host // the Host the route's visitors send
		}
		if r.Rules != "" {
			path := r.Rules
			t.File, t.Read = path, func() ([]byte, error) { return os.ReadFile(path) }
		} else {
			t.File, t.Read = demo.RulesName, func() ([]byte, error) { return demo.Rules(), nil }
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// follow shows the routes of cfg, a configuration a reload loaded. The
// geography settings stay the ones the preview started with (the
// pages it shows may be using them); a configuration without a route
// to preview leaves the preview as it was.
func (p *previewHandle) follow(cfg *config.Config, log *slog.Logger) {
	targets, err := previewTargets(cfg, p.rc, p.links, p.proxyURL)
	if err == nil && len(targets) == 0 {
		err = errors.New("no route has a rule file to preview")
	}
	if err == nil {
		err = p.pv.SetTargets(targets)
	}
	if err != nil {
		log.Warn("the editors' preview keeps the routes it showed", "err", err)
		return
	}
	log.Info("the editors' preview follows the configuration", "targets", len(targets))
}

// startPreview serves the editors' preview of every route that has a rule
// file (or the demo's bundled rules) on addr, answering to hosts besides
// loopback names and addr's own.
func startPreview(ctx context.Context, cfg *config.Config, addr string, hosts []string, proxyURL string, links *preview.Links, clock func() time.Time, log *slog.Logger) (net.Addr, *previewHandle, error) {
	g := geoFlags{header: cfg.Geo.Header, providers: cfg.Geo.Providers, trusted: cfg.Geo.TrustedProxies, geoip: cfg.Geo.GeoIP, timezone: cfg.Geo.TimeZone}
	if g.timezone == "" {
		g.timezone = "UTC"
	}
	rc, closeGeo, err := g.config()
	if err != nil {
		return nil, nil, err
	}
	rc.Now = clock
	targets, err := previewTargets(cfg, rc, links, proxyURL)
	if err != nil {
		closeGeo()
		return nil, nil, err
	}
	if len(targets) == 0 {
		closeGeo()
		return nil, nil, usagef("--preview: no route has a rule file to preview")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closeGeo()
		return nil, nil, fmt.Errorf("preview listener: %w", inUse(err, "--preview"))
	}
	pv, err := preview.New(targets, preview.Options{Hosts: append(hosts, listenHosts(addr, ln.Addr())...)})
	if err != nil {
		ln.Close()
		closeGeo()
		return nil, nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		// Its errors (a TLS client, an accept failing) in the log's
		// format: Go's standard logger wrote lines of its own in a log
		// of JSON.
		servePreview(pctx, ln, pv, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
		close(done)
	}()
	return ln.Addr(), &previewHandle{pv: pv, rc: rc, links: links, proxyURL: proxyURL, stop: func() {
		cancel()
		<-done
		pv.Close()
		closeGeo()
	}}, nil
}
