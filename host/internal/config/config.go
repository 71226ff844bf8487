// Package config reads bespoke's operator configuration: listeners, routes
// (host and path prefix → origin and plugin), limits, the seen-store, and
// where geography comes from. Unknown fields and values of the wrong kind
// are errors at their line and column, every one at once, with the
// nearest known key: a misspelt option is never silently ignored.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/router"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/webguard"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"go.yaml.in/yaml/v3"
)

// Config is a whole configuration. Zero fields take the defaults Defaults
// fills in.
type Config struct {
	// Listen is the address visitors connect to.
	Listen string `yaml:"listen"`
	// TLS serves visitors over TLS on Listen (HTTP/2 and HTTP/1.1) when
	// its Cert and Key are set; zero serves plain HTTP.
	TLS TLS `yaml:"tls"`
	// H2C also accepts HTTP/2 without TLS (with prior knowledge) on a
	// plain Listen, for a load balancer in front that speaks it.
	H2C bool `yaml:"h2c"`
	// Admin is the address of the admin listener (/metrics, /healthz,
	// /readyz, POST /_bespoke/reload): DefaultAdmin when absent, and an
	// empty one (admin: "", or admin: with no value) disables it. It should not be reachable from the
	// internet. A pointer, so that a file that leaves it out keeps the
	// listener the operator's tools expect, and only `admin: ""` turns
	// it off.
	Admin *string `yaml:"admin"`
	// AdminTokenFile holds a bearer token every admin request but
	// /healthz and /readyz must present (Authorization: Bearer TOKEN),
	// at least 16 characters. Empty means $BESPOKE_ADMIN_TOKEN, and
	// without it no token.
	AdminTokenFile string `yaml:"admin_token_file"`
	// AdminHosts are the Host names ("admin.internal", with or without a
	// port) and address prefixes ("10.0.0.0/8") the admin listener
	// answers to besides loopback ones; any other Host is refused (a DNS
	// rebinding attack points a name of its own at the listener).
	// /healthz and /readyz answer under any Host.
	AdminHosts []string `yaml:"admin_hosts"`
	// Forwarding says what the origin learns of the visitor's connection.
	Forwarding Forwarding `yaml:"forwarding"`
	// SecretFile holds the key that signs bespoke's cookies (seen-filter,
	// caps). Empty means a random key per process: cookies then do not
	// survive a restart.
	SecretFile string `yaml:"secret_file"`
	// ShutdownGrace is how long requests in flight may finish after
	// SIGTERM (DefaultGrace when absent); 0 gives them none: they are
	// cut as the listener closes.
	ShutdownGrace *Duration `yaml:"shutdown_grace"`
	// CacheDir is where compiled plugins are cached ("-" for memory only).
	CacheDir string `yaml:"cache_dir"`
	// Watch is how often rule and plugin files, and bespoke serve
	// --config's file, are checked for changes (DefaultWatch when
	// absent); 0 disables watching them. TLS files are
	// checked as often, or every DefaultWatch when it is 0.
	Watch *Duration `yaml:"watch"`

	Log    Log     `yaml:"log"`
	Geo    Geo     `yaml:"geo"`
	Seen   Seen    `yaml:"seen"`
	Limits Limits  `yaml:"limits"`
	Routes []Route `yaml:"routes"`
}

// Log configures logging.
type Log struct {
	// Format is "text" or "json".
	Format string `yaml:"format"`
	// Level is the least level logged: debug, info, warn or error. The
	// access lines are info.
	Level string `yaml:"level"`
	// Access logs one line per request.
	Access *bool `yaml:"access"`
	// DebugHeaders adds X-Bespoke-Rules, X-Bespoke-Generation and, on a
	// page the rules edit that went out as the origin sent it,
	// X-Bespoke-Untouched (the reason) to responses.
	DebugHeaders bool `yaml:"debug_headers"`
}

// SlogLevel is Level as log/slog counts it (info when unset), and
// whether Level is one of the four.
func (l Log) SlogLevel() (slog.Level, bool) {
	switch l.Level {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// Handler is the log handler Format and Level say, writing to w.
func (l Log) Handler(w io.Writer) slog.Handler {
	level, _ := l.SlogLevel()
	return l.HandlerAt(w, level)
}

// HandlerAt is the log handler Format says, writing to w the records of
// level or above: a *slog.LevelVar lets a reload change it.
func (l Log) HandlerAt(w io.Writer, level slog.Leveler) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// TLS is the visitors' listener's certificate.
type TLS struct {
	// Cert and Key are PEM files (the certificate chain, the private
	// key), reloaded when they change.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Forwarding configures the forwarding headers. Which peers are trusted
// proxies is geo.trusted_proxies.
type Forwarding struct {
	// StripHeaders are removed from requests of untrusted peers before
	// they reach the origin: headers only a CDN or load balancer in front
	// may set (a trailing * matches any suffix). Unset means the default
	// list (CF-Connecting-IP, True-Client-IP, X-Real-IP, CF-IPCountry,
	// CloudFront-Viewer-*, ...); [] removes none.
	StripHeaders []string `yaml:"strip_headers"`
	// Via names this proxy in Via headers ("bespoke" when empty): those
	// of responses, and of requests that came with one (see
	// proxy.ForwardHeaders).
	Via string `yaml:"via"`
}

// Geo says where visitors' locations come from.
type Geo struct {
	// Providers are the CDN header families believed ("cloudflare,
	// cloudfront"; "all"; "none").
	Providers string `yaml:"providers"`
	// TrustedProxies are the peers whose forwarding and geo headers are
	// believed.
	TrustedProxies string `yaml:"trusted_proxies"`
	// Header reads the country only from this header.
	Header string `yaml:"header"`
	// GeoIP is a MaxMind database file.
	GeoIP string `yaml:"geoip"`
	// TimeZone is the visitors' zone when geography gives none.
	TimeZone string `yaml:"timezone"`
}

// Seen configures the seen-filter store.
type Seen struct {
	// Store is "cookie", "redis" or "off". Empty means "redis" when
	// Redis is set, else "cookie".
	Store string `yaml:"store"`
	// Redis names the server, Cluster or Sentinel master of the redis
	// store: redis://host:port/db (rediss:// for TLS), a comma-separated
	// list of Cluster seeds (redis://h1:7000,redis://h2:7000),
	// redis+cluster://h1:7000, redis+sentinel://h1:26379,h2:26379/master,
	// or a Unix socket, unix:///run/redis.sock (see seen.ParseRedisURL). Frequency-cap counts are kept there too.
	// With store cookie or off it is an error: it would not be used.
	Redis string `yaml:"redis"`
	// Window is how long an item stays seen.
	Window Duration `yaml:"window"`
	// Timeout bounds a Redis round trip; past it the page is served as if
	// nothing had been seen. 20ms when absent, at least MinTimeout: a
	// load without a deadline would hold every request up behind a
	// Redis that stopped answering.
	Timeout *Duration `yaml:"timeout"`
	// NewVisitorTTL is how long Redis keeps the first state of a new
	// visitor, who sent no visitor id cookie back (1h, at most Window),
	// and its caps' counts (at most their longest window): a visitor who
	// comes back with its cookie keeps them for their windows from then
	// on, and a client that never sends its cookie back (a crawler,
	// curl) does not hold keys for whole windows on each request.
	NewVisitorTTL Duration `yaml:"new_visitor_ttl"`
	// ConsentCookie and ConsentDeny: a visitor whose consent cookie holds
	// one of the deny values, or who sends Sec-GPC: 1, gets no tracking
	// state written.
	ConsentCookie string   `yaml:"consent_cookie"`
	ConsentDeny   []string `yaml:"consent_deny"`
}

// DefaultAdmin is the admin listener's address when the file does not
// set it.
const DefaultAdmin = "127.0.0.1:9090"

// AdminAddr returns the admin listener's address ("" for none).
func (c *Config) AdminAddr() string {
	if c.Admin == nil {
		return DefaultAdmin
	}
	return *c.Admin
}

// DefaultGrace is shutdown_grace when the file does not set it.
const DefaultGrace = 10 * time.Second

// Grace returns how long requests in flight may finish after SIGTERM (0:
// no time).
func (c *Config) Grace() time.Duration {
	if c.ShutdownGrace == nil {
		return DefaultGrace
	}
	return c.ShutdownGrace.D()
}

// MinSeenWindow is the shortest seen.window.
const MinSeenWindow = 2 * time.Second

// MinWatch is the shortest watch but 0 (never).
const MinWatch = time.Millisecond

// MinTimeout is the shortest limits.decide_timeout and seen.timeout: 0
// would mean no deadline at all, which bespoke does not allow on a
// request's path.
const MinTimeout = time.Millisecond

// MaxMemoryPages is the most limits.memory_pages may be: 4 GiB, all a
// plugin's 32-bit memory can address (the runtime refuses more, and the
// plugin was then taken for a damaged file).
const MaxMemoryPages = 65536

// DefaultWatch is watch when the file does not set it.
const DefaultWatch = time.Second

// WatchEvery returns how often rule and plugin files are checked for
// changes (0: never).
func (c *Config) WatchEvery() time.Duration {
	if c.Watch == nil {
		return DefaultWatch
	}
	return c.Watch.D()
}

// DefaultEditMapCache is limits.edit_map_cache when the file does not
// say.
const DefaultEditMapCache = 32 << 20

// Limits bound what one plugin and one request may use.
type Limits struct {
	PoolSize int `yaml:"pool_size"`
	// MemoryPages caps each plugin instance's linear memory, in 64 KiB
	// pages: 0 means 64 (4 MiB), and at most MaxMemoryPages. A plugin
	// that declares more than it allows is refused at load, saying so.
	MemoryPages uint32 `yaml:"memory_pages"`
	// DecideTimeout bounds one decision of a plugin that may loop, and
	// the wait for an instance: 50ms when absent, at least MinTimeout
	// (a decision without a deadline could hold an instance forever).
	DecideTimeout   *Duration `yaml:"decide_timeout"`
	MaxRewriteBytes Size      `yaml:"max_rewrite_bytes"`
	// MaxDecodeRatio bounds how many times its encoded size a compressed
	// body may decode to (0: 100).
	MaxDecodeRatio int `yaml:"max_decode_ratio"`
	// MaxJSONDepth bounds the nesting of JSON documents edited (0: 1000).
	MaxJSONDepth  int  `yaml:"max_json_depth"`
	RewriteBuffer Size `yaml:"rewrite_buffer"`
	// EditMapCache is the bytes of edit maps kept, so that a page is
	// tokenized once and spliced for each visitor after (see RATIONALE.md,
	// "Parse once, splice per visitor"); 0 disables them; unset, 32 MiB.
	EditMapCache *Size `yaml:"edit_map_cache"`
	// HeldBytes bounds what the bodies held whole take at one time, every
	// route together: the JSON documents the rules edit, with their
	// edited form, and the pages held back for their cookies, each until
	// its visitor has read it. Past it, a document passes as the origin
	// sent it and a page streams. Unset, 256 MiB.
	HeldBytes Size `yaml:"held_bytes"`
	// MaxHeaderBytes bounds a visitor's request line and headers: past it
	// the request is refused, 414 when its URL alone takes it past, 431
	// otherwise. Unset, 64 KiB.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// MaxConnections bounds the visitors' connections open at once: past
	// it, new ones wait in the listen queue, and idle keep-alive
	// connections are closed, so that the process keeps file descriptors
	// for its origins' connections (a visitor let in with none left for
	// the origin got a 502). Unset or 0, half of the file descriptors the
	// process may open (ulimit -n) and does not use at start, less a
	// reserve: no bound a machine with a limit in the hundreds of
	// thousands reaches.
	MaxConnections int      `yaml:"max_connections"`
	ReadHeader     Duration `yaml:"read_header_timeout"`
	Idle           Duration `yaml:"idle_timeout"`
	// SendTimeout bounds each write to a visitor (60s; nginx's
	// send_timeout): one who stops reading is cut off then.
	SendTimeout Duration `yaml:"send_timeout"`
	// BodyTimeout bounds a visitor's silence in the middle of its
	// request's body (60s; nginx's client_body_timeout): one who stops
	// sending is answered 408, and the origin's connection freed.
	BodyTimeout Duration `yaml:"body_timeout"`
	Upstream    Upstream `yaml:"upstream"`
}

// Upstream bounds connections to origins.
type Upstream struct {
	DialTimeout Duration `yaml:"dial_timeout"`
	// ResponseHeaderTimeout bounds the wait for the origin's response
	// headers once the request was sent (60s, as nginx's
	// proxy_read_timeout bounds it: an origin slow to start a report or
	// an export answers within the time it would behind nginx), and for
	// a connection max_conns_per_host allows; past it, 504.
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"`
	// ReadTimeout bounds the wait for the origin's next bytes once its
	// headers came (60s; see upstream.Transport.ReadTimeout).
	ReadTimeout     Duration `yaml:"read_timeout"`
	IdleTimeout     Duration `yaml:"idle_timeout"`
	MaxConnsPerHost int      `yaml:"max_conns_per_host"`
}

// Route is a site or section with its own origin and plugin.
type Route struct {
	Name string `yaml:"name"`
	// Host is "example.com", "*.example.com", or empty for any host.
	Host string `yaml:"host"`
	// Path is the path prefix served ("/" when empty), in whole
	// segments: "/blog" serves /blog and what is under /blog/ (with any
	// query), not /blogger; "/blog/" serves what is under /blog/.
	Path string `yaml:"path"`
	// Origin is where requests go.
	Origin string `yaml:"origin"`
	// Rules is a rule file, compiled at load; Plugin a compiled plugin.
	// One of them, or neither to proxy without personalizing.
	Rules  string `yaml:"rules"`
	Plugin string `yaml:"plugin"`
	// PreserveHost sends the visitor's Host header to the origin.
	PreserveHost bool `yaml:"preserve_host"`
}

// Source is the route's rule or plugin file, or "".
func (r Route) Source() string {
	if r.Rules != "" {
		return r.Rules
	}
	return r.Plugin
}

// Load reads a configuration file. Relative file names in it are relative
// to the file's directory.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadData(path, b)
}

// Readable reports why the file at path cannot be read, without the
// path (the caller names it as the configuration or the command line
// wrote it): "no such file or directory", "permission denied", "is a
// directory"; nil when it can.
func Readable(path string) error {
	f, err := os.Open(path)
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil && st.IsDir() {
			err = errors.New("is a directory")
		}
		f.Close()
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err
	}
	return err
}

// MinSecretBytes is the fewest bytes the key secret_file holds may
// have, and MinAdminToken the fewest characters of the admin token,
// spaces and line ends around either aside: a shorter one could be
// guessed.
const (
	MinSecretBytes = 16
	MinAdminToken  = 16
)

// ShortSecret and ShortAdminToken report, without the path (the caller
// names it as it was written), that the file at path holds too short a
// key, with how to write a longer one; nil when it is long enough or
// cannot be read (Readable says why).
func ShortSecret(path string) error {
	return shortKey(path, MinSecretBytes, "the key must be at least %d bytes")
}

func ShortAdminToken(path string) error {
	return shortKey(path, MinAdminToken, "the token must be at least %d characters")
}

func shortKey(path string, least int, must string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if n := len(strings.TrimSpace(string(b))); n < least {
		return fmt.Errorf(must+", and holds %d; write a longer random one: head -c 32 /dev/urandom | base64 > %s", least, n, path)
	}
	return nil
}

// LoadData is Load of b, the content of the file path as its caller read
// it (to know what it loaded: a reload compares it with what the file
// holds next).
func LoadData(path string, b []byte) (*Config, error) {
	c, doc, err := parse(path, b)
	if c == nil {
		return nil, err
	}
	// The files it names, relative to its directory, each there to be
	// read: every one that is not is told at once, at its place, with
	// its route, rather than the first when the server starts; and with
	// the file's other mistakes, when it decoded well enough to name
	// them, rather than once those are fixed.
	dir := filepath.Dir(path)
	var errs []error
	file := func(p *string, key, what string, short ...func(string) error) {
		if *p == "" || *p == "-" {
			return
		}
		written := *p
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
		err := Readable(*p)
		for _, f := range short {
			if err == nil {
				err = f(*p)
			}
		}
		if err != nil {
			errs = append(errs, &FieldError{Path: key, Msg: fmt.Sprintf("%s %q: %v", what, written, err)})
		}
	}
	file(&c.SecretFile, "secret_file", "secret_file", ShortSecret)
	file(&c.TLS.Cert, "tls.cert", "tls.cert")
	file(&c.TLS.Key, "tls.key", "tls.key")
	file(&c.AdminTokenFile, "admin_token_file", "admin_token_file", ShortAdminToken)
	file(&c.Geo.GeoIP, "geo.geoip", "geo.geoip")
	// The cache's directory too, from the same place (made when it is
	// not there, so not checked as the files are): under a service
	// manager, the current directory is /.
	if c.CacheDir != "" && c.CacheDir != "-" && !filepath.IsAbs(c.CacheDir) {
		c.CacheDir = filepath.Join(dir, c.CacheDir)
	}
	for i := range c.Routes {
		where := fmt.Sprintf("route %d (%s): ", i+1, c.Routes[i].Name)
		file(&c.Routes[i].Rules, fmt.Sprintf("routes[%d].rules", i), where+"rules")
		file(&c.Routes[i].Plugin, fmt.Sprintf("routes[%d].plugin", i), where+"plugin")
	}
	var lines []string
	if err != nil {
		lines = append(lines, err.Error())
	}
	if len(errs) > 0 {
		lines = append(lines, placeErrors(path, doc, errors.Join(errs...)).Error())
	}
	if len(lines) > 0 {
		return nil, errors.New(strings.Join(lines, "\n"))
	}
	return c, nil
}

// Position returns where the value of key (a.b, routes[1].origin) is
// written in the configuration b, as name:line:col, or where the nearest
// enclosing one is (a key left out has no position of its own).
func Position(name string, b []byte, key string) string {
	var doc yaml.Node
	line, col := 1, 1
	if yaml.Unmarshal(b, &doc) == nil {
		line, col = position(&doc, key)
	}
	return fmt.Sprintf("%s:%d:%d", name, line, col)
}

// yamlPos is how the YAML parser gives a position.
var yamlPos = regexp.MustCompile(`^line (\d+):`)

// Parse decodes a configuration, rejecting unknown fields and values of
// the wrong kind (every one, at its line and column), and validates it.
// name is used in errors.
func Parse(name string, b []byte) (*Config, error) {
	c, _, err := parse(name, b)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parse is Parse, returning the document too, for Load's errors. With an
// error, it returns the configuration too when the file decoded despite
// its mistakes (those the check found taken out), so that Load can check
// the files it names in the same run.
func parse(name string, b []byte) (*Config, *yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		// The rule files' reader says where and how to fix it; the YAML
		// parser, only the line its enclosing block starts on.
		if err := syntax.YAMLErrors(name, b).Err(); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%s:%s", name, yamlPos.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "$1:"))
	}
	var c Config
	if chk := check(name, &doc); doc.Kind != 0 && len(chk.errs) > 0 {
		// Every mistake at once: what is left once the check's are
		// taken out is validated too, but for what Validate would say
		// again of a value left out.
		chk.prune(&doc)
		if doc.Decode(&c) != nil {
			return nil, nil, errors.New(strings.Join(chk.errs, "\n"))
		}
		emptyAdmin(&doc, &c)
		c.Defaults()
		errs := chk.errs
		for _, e := range unjoin(c.Validate()) {
			if fe, ok := e.(*FieldError); !ok || !chk.under(fe.Path) {
				errs = append(errs, placeError(name, &doc, e))
			}
		}
		return &c, &doc, errors.New(strings.Join(errs, "\n"))
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	emptyAdmin(&doc, &c)
	c.Defaults()
	if err := c.Validate(); err != nil {
		return &c, &doc, placeErrors(name, &doc, err)
	}
	return &c, &doc, nil
}

// emptyAdmin reads `admin:` written with no value (or ~) as `admin: ""`,
// no admin listener, as it read before admin had a default: YAML decodes
// a null into no value at all, which Defaults would take for a key left
// out.
func emptyAdmin(doc *yaml.Node, c *Config) {
	if c.Admin != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "admin" && m.Content[i+1].Tag == "!!null" {
			none := ""
			c.Admin = &none
		}
	}
}

// Defaults fills the zero fields with their defaults.
func (c *Config) Defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Listen, ":8080")
	if c.Admin == nil {
		a := DefaultAdmin
		c.Admin = &a
	}
	def(&c.Log.Format, "text")
	def(&c.Log.Level, "info")
	if c.Log.Access == nil {
		t := true
		c.Log.Access = &t
	}
	def(&c.Geo.Providers, "cloudflare,cloudfront,vercel")
	def(&c.Geo.TrustedProxies, "loopback,private")
	def(&c.Geo.TimeZone, "UTC")
	if c.Seen.Redis != "" {
		// A Redis URL says where the state is to be kept; leaving it
		// unused for want of store: redis would keep it in cookies.
		def(&c.Seen.Store, "redis")
	}
	def(&c.Seen.Store, "cookie")
	if c.Seen.Window == 0 {
		c.Seen.Window = Duration(30 * 24 * time.Hour)
	}
	if c.Seen.NewVisitorTTL == 0 {
		c.Seen.NewVisitorTTL = Duration(time.Hour)
	}
	defDuration := func(d **Duration, v time.Duration) {
		if *d == nil {
			x := Duration(v)
			*d = &x
		}
	}
	defDuration(&c.Seen.Timeout, 20*time.Millisecond)
	defDuration(&c.ShutdownGrace, DefaultGrace)
	if c.Watch == nil {
		w := Duration(DefaultWatch)
		c.Watch = &w
	}
	l := &c.Limits
	defDuration(&l.DecideTimeout, 50*time.Millisecond)
	if l.MaxRewriteBytes == 0 {
		l.MaxRewriteBytes = 8 << 20
	}
	if l.EditMapCache == nil {
		n := Size(DefaultEditMapCache)
		l.EditMapCache = &n
	}
	if l.HeldBytes == 0 {
		l.HeldBytes = 256 << 20
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.ReadHeader == 0 {
		l.ReadHeader = Duration(10 * time.Second)
	}
	if l.Idle == 0 {
		l.Idle = Duration(120 * time.Second)
	}
	if l.SendTimeout == 0 {
		l.SendTimeout = Duration(60 * time.Second)
	}
	if l.BodyTimeout == 0 {
		l.BodyTimeout = Duration(60 * time.Second)
	}
	u := &l.Upstream
	if u.DialTimeout == 0 {
		u.DialTimeout = Duration(5 * time.Second)
	}
	if u.ResponseHeaderTimeout == 0 {
		u.ResponseHeaderTimeout = Duration(60 * time.Second)
	}
	if u.ReadTimeout == 0 {
		u.ReadTimeout = Duration(60 * time.Second)
	}
	if u.IdleTimeout == 0 {
		u.IdleTimeout = Duration(90 * time.Second)
	}
	for i := range c.Routes {
		def(&c.Routes[i].Path, "/")
		if c.Routes[i].Name == "" {
			c.Routes[i].Name = "route" + strconv.Itoa(i+1)
		}
	}
}

// Validate reports every problem of a configuration, joined
// (errors.Join), each a *FieldError.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if len(c.Routes) == 0 {
		bad("routes", "no routes: add at least one route with an origin")
	}
	// Addresses as net.Listen takes them, checked here so that --check
	// refuses what would stop the server from starting.
	for _, a := range []struct{ key, addr string }{{"listen", c.Listen}, {"admin", c.AdminAddr()}} {
		if a.addr == "" && a.key == "admin" {
			continue // no admin listener
		}
		if err := checkListenAddr(a.addr); err != nil {
			bad(a.key, "%s %q: %v; write host:port or :port (127.0.0.1:9090, :8080)", a.key, a.addr, err)
		}
	}
	names := map[string]bool{}
	// served: the route that takes each host and path, by index; the
	// router picks the first of routes that match alike.
	type hostPath struct{ host, path string }
	served := map[hostPath]int{}
	for i, r := range c.Routes {
		where := fmt.Sprintf("route %d (%s)", i+1, r.Name)
		at := fmt.Sprintf("routes[%d].", i)
		if names[r.Name] {
			bad(at+"name", "%s: the name is used twice", where)
		}
		names[r.Name] = true
		u, err := url.Parse(r.Origin)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			shown := r.Origin
			if err == nil {
				shown = u.Redacted()
			}
			bad(at+"origin", "%s: origin %q must be an http:// or https:// URL", where, shown)
		case u.User != nil:
			// Not sent (the proxy forwards the visitor's Authorization),
			// and printed where the origin is shown.
			bad(at+"origin", "%s: origin %q holds a user and password, which are not sent to it: remove them; a rule's set_header with on: request can send an Authorization header", where, u.Redacted())
		}
		if r.Rules != "" && r.Plugin != "" {
			bad(at+"plugin", "%s: give rules or plugin, not both", where)
		}
		if !strings.HasPrefix(r.Path, "/") {
			bad(at+"path", "%s: path %q must start with /", where, r.Path)
		} else if p, _, ok := strings.Cut(r.Path, "#"); ok {
			bad(at+"path", "%s: path %q holds a fragment, which browsers never send: write %s", where, r.Path, p)
		} else if p, _, ok := strings.Cut(r.Path, "?"); ok {
			// Matched against the path alone, it would match no request.
			bad(at+"path", "%s: path %q holds a query: a route matches the path alone (write %s)", where, r.Path, p)
		}
		if msg := checkRouteHost(r.Host); msg != "" {
			bad(at+"host", "%s: host %q %s", where, r.Host, msg)
		} else if strings.HasPrefix(r.Path, "/") {
			k := hostPath{router.CanonicalHost(r.Host), router.CanonicalPrefix(r.Path)}
			if j, ok := served[k]; ok {
				host := "any host"
				if r.Host != "" {
					host = fmt.Sprintf("host %q", r.Host)
				}
				bad(at+"path", "%s: %s and path %q are route %d's (%s), which takes every request for them: this route would serve none", where, host, r.Path, j+1, c.Routes[j].Name)
			} else {
				served[k] = i
			}
		}
	}
	for i, h := range c.AdminHosts {
		if err := webguard.Check(h); err != nil {
			bad(fmt.Sprintf("admin_hosts[%d]", i), "admin_hosts: %q %v", h, err)
		}
	}
	// Geography as the server reads it, here so that a mistake is told
	// with the others, where it is written, rather than alone at start.
	if _, err := geo.ParseProviders(c.Geo.Providers); err != nil {
		bad("geo.providers", "geo.providers: %v", err)
	}
	if _, err := geo.ParsePrefixes(c.Geo.TrustedProxies); err != nil {
		bad("geo.trusted_proxies", "geo.trusted_proxies: %v", err)
	}
	if _, err := time.LoadLocation(c.Geo.TimeZone); err != nil {
		bad("geo.timezone", "geo.timezone: %v; write an IANA name (Europe/Paris, America/New_York, UTC)", err)
	}
	// Names as HTTP writes them (RFC 9110's token): one with a space or
	// a colon matches no header or cookie, and would be kept or read
	// without a word.
	for i, h := range c.Forwarding.StripHeaders {
		if !isToken(h) {
			bad(fmt.Sprintf("forwarding.strip_headers[%d]", i), "forwarding.strip_headers: %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~; a trailing * matches any suffix)", h)
		}
	}
	if h := c.Geo.Header; h != "" && !isToken(h) {
		bad("geo.header", "geo.header: %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", h)
	}
	if n := c.Seen.ConsentCookie; n != "" && !isToken(n) {
		bad("seen.consent_cookie", "seen.consent_cookie: %q is not a cookie name (letters, digits and !#$%%&'*+-.^_`|~)", n)
	}
	// One without the other denies nothing, silently.
	switch {
	case c.Seen.ConsentCookie != "" && len(c.Seen.ConsentDeny) == 0:
		bad("seen.consent_cookie", "seen.consent_cookie is given without seen.consent_deny, the values of it that refuse tracking: add them (consent_deny: [\"0\", \"denied\"])")
	case c.Seen.ConsentCookie == "" && len(c.Seen.ConsentDeny) > 0:
		bad("seen.consent_deny", "seen.consent_deny is given without seen.consent_cookie, the cookie that holds them: add it (consent_cookie: cookie_consent)")
	}
	for i, v := range c.Seen.ConsentDeny {
		// As net/http reads a cookie's value: printable ASCII but for
		// " ; and \, which no value read can hold.
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == ';' || r == '\\' }) {
			bad(fmt.Sprintf("seen.consent_deny[%d]", i), "seen.consent_deny: %q is no value a cookie holds (printable ASCII, without \" ; or \\)", v)
		}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "log.format is text or json, not %q", c.Log.Format)
	}
	if _, ok := c.Log.SlogLevel(); !ok {
		bad("log.level", "log.level is debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Seen.Store {
	case "cookie", "off":
		if c.Seen.Redis != "" {
			bad("seen.redis", "seen.redis is set but seen.store is %s, which keeps nothing in Redis: set store: redis (or leave store out), or remove seen.redis", c.Seen.Store)
		}
	case "redis":
		if c.Seen.Redis == "" {
			bad("seen.redis", "seen.store is redis but seen.redis is empty: give the Redis URL (redis://host:port)")
		} else if _, err := seen.ParseRedisURL(c.Seen.Redis); err != nil {
			bad("seen.redis", "seen.redis: %v", err)
		}
	default:
		bad("seen.store", "seen.store is cookie, redis or off, not %q", c.Seen.Store)
	}
	if c.Limits.PoolSize < 0 {
		bad("limits.pool_size", "limits.pool_size cannot be negative")
	}
	if c.Limits.MaxConnections < 0 {
		bad("limits.max_connections", "limits.max_connections cannot be negative (0: derived from the file descriptor limit, ulimit -n)")
	}
	if c.Limits.Upstream.MaxConnsPerHost < 0 {
		bad("limits.upstream.max_conns_per_host", "limits.upstream.max_conns_per_host cannot be negative (0: no bound)")
	}
	// The file's durations are never negative (ParseDuration refuses
	// them); the command line's and a program's can be, and a negative
	// watch or grace would silently mean never or none.
	val := func(d *Duration) Duration {
		if d == nil {
			return 0
		}
		return *d
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{
		{"watch", val(c.Watch)}, {"shutdown_grace", val(c.ShutdownGrace)}, {"seen.window", c.Seen.Window}, {"seen.timeout", val(c.Seen.Timeout)}, {"seen.new_visitor_ttl", c.Seen.NewVisitorTTL},
		{"limits.decide_timeout", val(c.Limits.DecideTimeout)}, {"limits.read_header_timeout", c.Limits.ReadHeader}, {"limits.idle_timeout", c.Limits.Idle},
		{"limits.upstream.dial_timeout", c.Limits.Upstream.DialTimeout}, {"limits.upstream.response_header_timeout", c.Limits.Upstream.ResponseHeaderTimeout},
		{"limits.upstream.idle_timeout", c.Limits.Upstream.IdleTimeout}, {"limits.upstream.read_timeout", c.Limits.Upstream.ReadTimeout},
	} {
		if d.d < 0 {
			bad(d.key, "%s cannot be negative, not %v", d.key, d.d.D())
		}
	}
	if c.Watch != nil && *c.Watch > 0 && c.Watch.D() < MinWatch {
		// A program's Watch: 1, or Caddy's JSON "watch": 1, meant as a
		// second, is a nanosecond: most of a core reading the file.
		bad("watch", "watch is at least %v, not %v: the rule files would be read without a pause (0: never)", MinWatch, c.Watch.D())
	}
	// 0 is none where a key allows it; these bound a request's wait, and
	// a wait without a bound is not one bespoke offers.
	for _, d := range []struct {
		key  string
		d    *Duration
		what string
		def  time.Duration
	}{
		{"limits.decide_timeout", c.Limits.DecideTimeout, "a decision", 50 * time.Millisecond},
		{"seen.timeout", c.Seen.Timeout, "a Redis round trip", 20 * time.Millisecond},
	} {
		if d.d != nil && *d.d >= 0 && d.d.D() < MinTimeout {
			bad(d.key, "%s is at least %v, not %v: %s needs a deadline (%v when left out)", d.key, MinTimeout, d.d.D(), d.what, d.def)
		}
	}
	if w := c.Seen.Window.D(); w > 0 && w < MinSeenWindow {
		// An item stays seen half the window at least, in whole seconds
		// (a cookie's Max-Age, a Redis TTL): the store cannot be built.
		bad("seen.window", "seen.window is at least %v, not %v: an item stays seen for half of it at least, in whole seconds", MinSeenWindow, w)
	}
	if c.Limits.MemoryPages > MaxMemoryPages {
		bad("limits.memory_pages", "limits.memory_pages is at most %d (4 GiB, all a plugin's memory can address), not %d", MaxMemoryPages, c.Limits.MemoryPages)
	}
	if c.Limits.MaxDecodeRatio < 0 {
		bad("limits.max_decode_ratio", "limits.max_decode_ratio cannot be negative")
	}
	if c.Limits.MaxJSONDepth < 0 {
		bad("limits.max_json_depth", "limits.max_json_depth cannot be negative")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls", "tls.cert and tls.key go together: give both")
	}
	if c.H2C && c.TLS.Cert != "" {
		bad("h2c", "h2c is HTTP/2 without TLS; with tls, HTTP/2 is negotiated anyway")
	}
	return errors.Join(errs...)
}

// isToken reports whether s is an RFC 9110 token, as header and cookie
// names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// A FieldError is a value Validate refuses. Path names it as the
// configuration file writes it (routes[0].origin), so that Parse can say
// where it is.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Msg }

// Duration is a time.Duration written as 30s, 15m, 12h, 7d or 2w.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// checkRouteHost says what is wrong with a route's host, "" when nothing
// is: a name, "*." and a name, or an IP address (in brackets or not). The
// router compares it with the request's Host without the port, so a host
// with a port, or anything else, would match no request and leave the
// route serving nothing, without a word.
func checkRouteHost(host string) string {
	const noName = "is no name: write a name (shop.example.com), a wildcard of the names under one (*.example.com), or leave host out for any host"
	if host == "" {
		return ""
	}
	if u, err := url.Parse(host); err == nil && u.Scheme != "" && u.Host != "" {
		return fmt.Sprintf("is a URL: write the name alone (%s)", u.Hostname())
	}
	if name, _, ok := strings.Cut(host, "/"); ok && name != "" {
		return fmt.Sprintf("holds a path: write the name alone (%s), and the path in path", name)
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(bare); err == nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		return "names a port: a route matches its host on every port; write " + h
	}
	name := strings.TrimSuffix(strings.TrimPrefix(host, "*."), ".")
	if name == "" {
		return noName
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || strings.ContainsFunc(label, func(r rune) bool {
			return r <= ' ' || r == 0x7f || strings.ContainsRune("*/?#@[]:\\%\"<>{}|^`", r)
		}) {
			return noName
		}
	}
	return ""
}

// checkListenAddr checks a TCP address to listen on: [host]:port, the
// port a number up to 65535 (0 picks one).
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "address "+addr+": "))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return fmt.Errorf("port %q is no number from 0 to 65535", port)
		}
	}
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration parses Go durations (1m30s, 250ms) and days and weeks
// (7d, 2w).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			switch {
			case err == nil && v < 0:
				return 0, fmt.Errorf("%q: a duration cannot be negative", s)
			case err != nil || strings.ContainsAny(n, "_xXpPiInN"):
				// Decimal only: not Go's 0x1p4 or 1_0, nor Inf or NaN.
				return 0, fmt.Errorf("%q is not a duration (write 250ms, 30s, 12h or 7d)", s)
			case v*float64(u.unit) >= math.MaxInt64:
				return 0, fmt.Errorf("%q is longer than any duration bespoke can hold (some 290 years)", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		return 0, fmt.Errorf("%q: a duration cannot be negative", s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write 250ms, 30s, 12h or 7d)", s)
	}
	return d, nil
}

// Size is a byte count written as 512, 64KiB, 8MiB or 1GiB.
type Size int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*z = Size(v)
	return nil
}

// ParseSize parses a byte count with an optional KiB, MiB or GiB (or KB,
// MB, GB, meaning the same powers of two) suffix.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	orig := s
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err == nil && v < 0:
		return 0, fmt.Errorf("%q: a size cannot be negative", orig)
	case errors.Is(err, strconv.ErrRange), err == nil && v > math.MaxInt64/mult:
		return 0, fmt.Errorf("%q is larger than any size bespoke can hold", orig)
	case err != nil:
		return 0, fmt.Errorf("%q is not a size (write 65536, 64KiB or 8MiB)", orig)
	}
	return v * mult, nil
}
