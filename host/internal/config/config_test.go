package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParse(t *testing.T) {
	c, err := Parse("b.yaml", []byte(`
listen: ":9000"
admin: 127.0.0.1:9090
seen: { store: redis, redis: "redis://127.0.0.1:6379/0", window: 7d, timeout: 15ms }
limits: { max_rewrite_bytes: 4MiB, decide_timeout: 20ms, upstream: { max_conns_per_host: 64 } }
routes:
  - name: shop
    host: shop.example.com
    origin: http://127.0.0.1:3000
    rules: shop.yaml
  - origin: https://blog.example.com
    path: /blog/
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" || c.Seen.Window.D() != 7*24*time.Hour || c.Seen.Timeout.D() != 15*time.Millisecond {
		t.Errorf("%+v", c)
	}
	if c.Limits.MaxRewriteBytes != 4<<20 || c.Limits.Upstream.MaxConnsPerHost != 64 || c.Limits.MaxHeaderBytes != 64<<10 {
		t.Errorf("limits %+v", c.Limits)
	}
	if c.Routes[1].Name != "route2" || c.Routes[0].Path != "/" || !*c.Log.Access {
		t.Errorf("defaults not applied: %+v", c.Routes)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"routes:\n  - origin: http://a\n    rulez: x.yaml\n", `b.yaml:3:5: unknown field "rulez" in routes[0]; did you mean "rules"?`},
		{"listen: 1\nlisen: 2\nroutes: []\n", `b.yaml:2:1: unknown field "lisen"; did you mean "listen"?`},
		{"limits: { pool: 4 }\nroutes: []\n", `b.yaml:1:11: unknown field "pool" in limits; expected one of: pool_size, memory_pages,`},
		// Every mistake at once, each where it is.
		{"seen: { stor: redis }\nlimits: { pool_size: many, decide_timeout: soon }\nroutes:\n  - origin: http://a\n    preserve_host: maybe\n",
			`b.yaml:1:9: unknown field "stor" in seen; did you mean "store"?` + "\n" +
				`b.yaml:2:22: limits.pool_size: want a whole number, got "many"` + "\n" +
				`b.yaml:2:44: limits.decide_timeout: "soon" is not a duration (write 250ms, 30s, 12h or 7d)` + "\n" +
				`b.yaml:5:20: routes[0].preserve_host: want true or false, got "maybe"`},
		{"tls: /etc/cert.pem\nroutes: []\n", `b.yaml:1:6: tls: want a mapping of cert, key, got "/etc/cert.pem"`},
		{"routes: { origin: http://a }\n", "b.yaml:1:9: routes: want a list, got a mapping"},
		// YAML's own mistakes, as rule files report them.
		{"routes:\n  - origin: http://a\n   rules: x\n", "b.yaml:3:4: this line is indented by 3 spaces, which matches no level above it"},
		{"routes:\n\t- origin: http://a\n", "b.yaml:2:1: a tab in the indentation"},
		{"listen: \":80\nroutes: []\n", `b.yaml:1:9: this " starts a quoted value that is never closed`},
		{"tls: { cert: a: b }\n", "b.yaml:1:15: `: ` inside a value that is not quoted"},
		{"", "no routes"},
		{"routes:\n  - origin: ftp://a\n", "must be an http:// or https:// URL"},
		{"routes:\n  - origin: http://a\n    rules: a\n    plugin: b\n", "not both"},
		{"seen: { store: redis }\nroutes:\n  - origin: http://a\n", "seen.redis"},
		{"seen: { store: redis, redis: \"127.0.0.1:6379\" }\nroutes:\n  - origin: http://a\n", "seen.redis: seen: Redis URL \"127.0.0.1:6379\": give a scheme"},
		{"seen: { store: redis, redis: \"redis://:pw@a:7000,redis://:pw@b:7001/2\" }\nroutes:\n  - origin: http://a\n", "redis://:xxxxx@b:7001/2\": seed 2: database \"2\": a Redis Cluster has only database 0"},
		{"seen: { store: redis, redis: \"redis+sentinel://s:26379\" }\nroutes:\n  - origin: http://a\n", "name the master"},
		{"seen: { window: 3y }\nroutes:\n  - origin: http://a\n", "not a duration"},
		{"limits: { max_rewrite_bytes: lots }\nroutes:\n  - origin: http://a\n", "not a size"},
		{"routes:\n  - name: a\n    origin: http://a\n  - name: a\n    origin: http://b\n", "used twice"},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.src, err, tt.want)
		}
	}
}

func TestParseDurationAndSize(t *testing.T) {
	for s, want := range map[string]time.Duration{"250ms": 250 * time.Millisecond, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("%s = %v, %v", s, got, err)
		}
	}
	for s, want := range map[string]string{
		"-1s": `"-1s": a duration cannot be negative`, "-2d": `"-2d": a duration cannot be negative`,
		"soon": `"soon" is not a duration (write 250ms, 30s, 12h or 7d)`, "xd": `"xd" is not a duration (write 250ms, 30s, 12h or 7d)`,
		// Not one that wraps to a negative one, nor Go's forms of numbers.
		"106752d": `"106752d" is longer than any duration bespoke can hold (some 290 years)`,
		"infd":    `"infd" is not a duration (write 250ms, 30s, 12h or 7d)`, "NaNd": `"NaNd" is not a duration (write 250ms, 30s, 12h or 7d)`,
		"1_0d": `"1_0d" is not a duration (write 250ms, 30s, 12h or 7d)`, "0x1p4w": `"0x1p4w" is not a duration (write 250ms, 30s, 12h or 7d)`,
	} {
		if _, err := ParseDuration(s); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", s, err, want)
		}
	}
	for s, want := range map[string]int64{"512": 512, "64KiB": 64 << 10, "8MiB": 8 << 20, "1 GB": 1 << 30} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("%s = %v, %v", s, got, err)
		}
	}
	for s, want := range map[string]string{
		"17179869184GiB": `"17179869184GiB" is larger than any size bespoke can hold`, "-1MiB": `"-1MiB": a size cannot be negative`,
		"lots": `"lots" is not a size (write 65536, 64KiB or 8MiB)`,
	} {
		if _, err := ParseSize(s); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", s, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("routes:\n  - origin: http://a\n"))
	f.Add([]byte("limits: { max_rewrite_bytes: 4MiB }\n"))
	f.Add([]byte("geo: &g { providers: all }\nlimits: *g\nroutes:\n  - origin: http://a\n"))
	f.Add([]byte("routes:\n  - &r { origin: http://a, rules: a.yaml }\n  - *r\n"))
	f.Add([]byte("seen: { stor: redis }\nlimits: { pool_size: many }\nroutes:\n  - origin: http://a\n    preserve_host: maybe\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b)
		if err == nil && len(c.Routes) == 0 {
			t.Fatal("a configuration without routes was accepted")
		}
		// Differential: what the checker passes, the strict decoder takes
		// (no unknown field, no value of the wrong kind, it missed).
		var doc yaml.Node
		if yaml.Unmarshal(b, &doc) != nil || doc.Kind == 0 || checkDocument("f.yaml", &doc) != nil {
			return
		}
		var strict Config
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&strict); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("the checker passed what the decoder refuses: %v", err)
		}
	})
}

// TestOperationsExample parses the configuration file shown in the
// operators' reference, host/OPERATIONS.md, so that the example stays one
// bespoke accepts.
func TestOperationsExample(t *testing.T) {
	b, err := os.ReadFile("../../OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Configuration file")
	_, rest, ok2 := strings.Cut(rest, "```yaml\n")
	example, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("host/OPERATIONS.md has no configuration example")
	}
	c, err := Parse("OPERATIONS.md", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Cert == "" || c.AdminTokenFile == "" || len(c.AdminHosts) == 0 || c.Forwarding.Via == "" ||
		c.Limits.MaxDecodeRatio != 100 || c.Limits.MaxJSONDepth != 1000 || len(c.Routes) != 2 {
		t.Errorf("the example's settings were not all read: %+v", c)
	}
}

// TestStripHeadersUnsetOrEmpty: unset means the default list (nil), []
// means none (an empty, non-nil list).
func TestStripHeadersUnsetOrEmpty(t *testing.T) {
	unset, err := Parse("a.yaml", []byte("routes: [{ origin: \"http://a\" }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	none, err := Parse("b.yaml", []byte("forwarding: { strip_headers: [] }\nroutes: [{ origin: \"http://a\" }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if unset.Forwarding.StripHeaders != nil || none.Forwarding.StripHeaders == nil || len(none.Forwarding.StripHeaders) != 0 {
		t.Errorf("unset %#v, [] %#v", unset.Forwarding.StripHeaders, none.Forwarding.StripHeaders)
	}
	if _, err := Parse("c.yaml", []byte("tls: { cert: a.pem }\nroutes: [{ origin: \"http://a\" }]\n")); err == nil || !strings.Contains(err.Error(), "tls.cert and tls.key go together: give both") {
		t.Errorf("a certificate without its key: %v", err)
	}
}

// TestEditMapCache: unset is the default, 0 disables, a size is taken.
func TestEditMapCache(t *testing.T) {
	tests := []struct {
		limits string
		want   Size
	}{
		{"", DefaultEditMapCache},
		{"limits: { edit_map_cache: 0 }\n", 0},
		{"limits: { edit_map_cache: 4MiB }\n", 4 << 20},
	}
	for _, tt := range tests {
		c, err := Parse("a.yaml", []byte(tt.limits+"routes: [{ origin: \"http://a\" }]\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Limits.EditMapCache == nil || *c.Limits.EditMapCache != tt.want {
			t.Errorf("%q: %v, want %d", tt.limits, c.Limits.EditMapCache, tt.want)
		}
	}
}

// TestWatch: unset is the default, 0 disables, a duration is taken.
func TestWatch(t *testing.T) {
	tests := []struct {
		src  string
		want time.Duration
	}{
		{"", DefaultWatch},
		{"watch: 0\n", 0},
		{"watch: 250ms\n", 250 * time.Millisecond},
	}
	for _, tt := range tests {
		c, err := Parse("a.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.WatchEvery(); got != tt.want {
			t.Errorf("%q: watch every %v, want %v", tt.src, got, tt.want)
		}
	}
	if got := (&Config{}).WatchEvery(); got != DefaultWatch {
		t.Errorf("a Config without defaults applied: watch every %v, want %v", got, DefaultWatch)
	}
}

// TestSeenStoreFromRedisURL: a Redis URL selects the Redis store when
// the store is not named, and is refused beside a store that would not
// use it (it was ignored, and the state kept in cookies).
func TestSeenStoreFromRedisURL(t *testing.T) {
	tests := []struct{ src, store, err string }{
		{"", "cookie", ""},
		{"seen: { redis: \"redis://127.0.0.1:6379/0\" }\n", "redis", ""},
		{"seen: { store: redis, redis: \"redis://127.0.0.1:6379/0\" }\n", "redis", ""},
		{"seen: { store: off }\n", "off", ""},
		{"seen: { store: cookie, redis: \"redis://127.0.0.1:6379/0\" }\n", "",
			`b.yaml:1:31: seen.redis is set but seen.store is cookie, which keeps nothing in Redis: set store: redis (or leave store out), or remove seen.redis`},
		{"seen:\n  store: off\n  redis: \"redis://127.0.0.1:6379/0\"\n", "",
			`b.yaml:3:10: seen.redis is set but seen.store is off, which keeps nothing in Redis`},
	}
	for _, tt := range tests {
		c, err := Parse("b.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.src, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.src, err)
		case c.Seen.Store != tt.store:
			t.Errorf("%q: store %q, want %q", tt.src, c.Seen.Store, tt.store)
		}
	}
}

// TestValidationPositions: what Validate refuses is reported, every
// value at once, where the file writes it, or where the nearest
// enclosing value is for one left to its default.
func TestValidationPositions(t *testing.T) {
	tests := []struct{ src, want string }{
		{"routes:\n  - origin: ftp://a\n", `b.yaml:2:13: route 1 (route1): origin "ftp://a" must be an http:// or https:// URL`},
		// Credentials would not be sent, and are never printed.
		{"routes:\n  - origin: http://shop:s3cret@10.0.0.5:3000\n", `b.yaml:2:13: route 1 (route1): origin "http://shop:xxxxx@10.0.0.5:3000" holds a user and password, which are not sent to it: remove them; a rule's set_header with on: request can send an Authorization header`},
		{"", "b.yaml:1:1: no routes: add at least one route with an origin"},
		{"seen: { store: redis }\nroutes:\n  - origin: http://a\n", "b.yaml:1:7: seen.store is redis but seen.redis is empty: give the Redis URL (redis://host:port)"},
		// The store would refuse it at start, as "seen: seen: Window 1s
		// is shorter than 2s", without its place.
		{"seen: { window: 1s }\nroutes:\n  - origin: http://a\n", "b.yaml:1:17: seen.window is at least 2s, not 1s: an item stays seen for half of it at least, in whole seconds"},
		{"log: { format: xml }\ntls: { cert: a.pem }\nroutes:\n  - { name: a, origin: http://a }\n  - { name: a, origin: http://b, path: blog }\n",
			"b.yaml:5:13: route 2 (a): the name is used twice\n" +
				`b.yaml:5:40: route 2 (a): path "blog" must start with /` + "\n" +
				`b.yaml:1:16: log.format is text or json, not "xml"` + "\n" +
				"b.yaml:2:6: tls.cert and tls.key go together: give both"},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte(tt.src))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// TestLoadFiles: the files a configuration names are read relative to its
// directory, and each one that cannot be is told at once, at its place,
// with its route: the server stopped at the first, without either.
func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte("rules: []\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "blog.wasm"), 0o755)
	write := func(src string) string {
		p := filepath.Join(dir, "b.yaml")
		os.WriteFile(p, []byte(src), 0o644)
		return p
	}
	c, err := Load(write("routes:\n  - { name: shop, origin: http://a, rules: shop.yaml }\n"))
	if err != nil || c.Routes[0].Rules != filepath.Join(dir, "shop.yaml") {
		t.Fatalf("%v, %+v", err, c)
	}
	p := write("secret_file: nope.key\nroutes:\n  - { name: shop, origin: http://a, rules: nope.yaml }\n" +
		"  - { name: blog, path: /blog/, origin: http://b, plugin: blog.wasm }\n")
	_, err = Load(p)
	want := p + `:1:14: secret_file "nope.key": no such file or directory` + "\n" +
		p + `:3:44: route 1 (shop): rules "nope.yaml": no such file or directory` + "\n" +
		p + `:4:59: route 2 (blog): plugin "blog.wasm": is a directory`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// TestLoadShortKeys: a secret_file or admin_token_file that holds too
// short a key is told at its place, as one that is not there is, with how
// to make a longer one; the server refused it with the path alone, after
// the log's first lines.
func TestLoadShortKeys(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "short"), []byte(" fifteen-bytes-x\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "long"), []byte("sixteen-bytes-xx\n"), 0o600)
	p := filepath.Join(dir, "b.yaml")
	tests := []struct{ src, want string }{
		{"secret_file: short\n", p + `:1:14: secret_file "short": the key must be at least 16 bytes, and holds 15; write a longer random one: head -c 32 /dev/urandom | base64 > ` + filepath.Join(dir, "short")},
		{"admin_token_file: short\n", p + `:1:19: admin_token_file "short": the token must be at least 16 characters, and holds 15; write a longer random one: head -c 32 /dev/urandom | base64 > ` + filepath.Join(dir, "short")},
		{"secret_file: long\nadmin_token_file: long\n", ""},
	}
	for _, tt := range tests {
		os.WriteFile(p, []byte(tt.src+"routes:\n  - { origin: http://a }\n"), 0o644)
		_, err := Load(p)
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("%q:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// TestDuplicateKeys: a key given twice is told where, with where it was
// first (the decoder said "unmarshal errors" and a line).
func TestDuplicateKeys(t *testing.T) {
	_, err := Parse("b.yaml", []byte("listen: \":1\"\nlisten: \":2\"\nroutes:\n  - { origin: http://a, origin: http://b }\n"))
	want := "b.yaml:2:1: listen is given twice (first at line 1); keep one\n" +
		"b.yaml:4:25: routes[0].origin is given twice (first at line 4); keep one"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// TestEveryMistakeInOnePass: values the check refuses (a duration, a
// size, an unknown key) and values Validate refuses are reported in one
// run, each where it is written; Validate does not report again what the
// check did. The values Validate refused came only once the others were
// fixed.
func TestEveryMistakeInOnePass(t *testing.T) {
	tests := []struct{ src, want string }{
		{"limits:\n  decide_timeout: soon\n  max_rewrite_bytes: lots\n  pool_size: -3\n  upstream: { max_conns_per_host: -1 }\nroutes:\n  - { name: a, origin: \"http://a\" }\n  - { name: a, origin: \"ftp://b\", path: blog }\n",
			`b.yaml:2:19: limits.decide_timeout: "soon" is not a duration (write 250ms, 30s, 12h or 7d)` + "\n" +
				`b.yaml:3:22: limits.max_rewrite_bytes: "lots" is not a size (write 65536, 64KiB or 8MiB)` + "\n" +
				"b.yaml:8:13: route 2 (a): the name is used twice\n" +
				`b.yaml:8:24: route 2 (a): origin "ftp://b" must be an http:// or https:// URL` + "\n" +
				`b.yaml:8:41: route 2 (a): path "blog" must start with /` + "\n" +
				"b.yaml:4:14: limits.pool_size cannot be negative\n" +
				"b.yaml:5:35: limits.upstream.max_conns_per_host cannot be negative (0: no bound)"},
		// A list where routes go is not also "no routes".
		{"routes: { origin: http://a }\nlimits: { pool: 3, pool_size: -1 }\n",
			"b.yaml:1:9: routes: want a list, got a mapping\n" +
				`b.yaml:2:11: unknown field "pool" in limits; expected one of: pool_size, memory_pages, decide_timeout, max_rewrite_bytes, max_decode_ratio, max_json_depth, rewrite_buffer, edit_map_cache, held_bytes, max_header_bytes, max_connections, read_header_timeout, idle_timeout, send_timeout, body_timeout, upstream` + "\n" +
				"b.yaml:2:31: limits.pool_size cannot be negative"},
		{"routes:\n  - origin: ftp://a\n    preserve_host: maybe\n",
			`b.yaml:3:20: routes[0].preserve_host: want true or false, got "maybe"` + "\n" +
				`b.yaml:2:13: route 1 (route1): origin "ftp://a" must be an http:// or https:// URL`},
		{"- a\n- b\n", "b.yaml:1:1: the file: want a mapping of listen, tls, h2c, admin, admin_token_file, admin_hosts, forwarding, secret_file, shutdown_grace, cache_dir, watch, log, geo, seen, limits, routes, got a list"},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte(tt.src))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// TestNegativeValues: counts and durations that cannot be negative are
// refused, from the file or from a Config the command line or a program
// built (whose durations no parser checked): a negative watch stopped
// watching, and a negative max_conns_per_host was taken.
func TestNegativeValues(t *testing.T) {
	if _, err := Parse("b.yaml", []byte("limits: { upstream: { max_conns_per_host: -1 } }\nroutes: [{ origin: \"http://a\" }]\n")); err == nil ||
		err.Error() != "b.yaml:1:43: limits.upstream.max_conns_per_host cannot be negative (0: no bound)" {
		t.Errorf("max_conns_per_host: -1: %v", err)
	}
	minus := Duration(-time.Second)
	tests := []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Watch = &minus }, "watch cannot be negative, not -1s"},
		{func(c *Config) { ns := Duration(1); c.Watch = &ns }, "watch is at least 1ms, not 1ns: the rule files would be read without a pause (0: never)"},
		{func(c *Config) { c.ShutdownGrace = &minus }, "shutdown_grace cannot be negative, not -1s"},
		{func(c *Config) { c.Seen.Timeout = &minus }, "seen.timeout cannot be negative, not -1s"},
		{func(c *Config) { c.Limits.DecideTimeout = &minus }, "limits.decide_timeout cannot be negative, not -1s"},
		{func(c *Config) { c.Limits.Upstream.DialTimeout = minus }, "limits.upstream.dial_timeout cannot be negative, not -1s"},
		{func(c *Config) { c.Limits.Upstream.ReadTimeout = minus }, "limits.upstream.read_timeout cannot be negative, not -1s"},
		{func(c *Config) { c.Limits.Upstream.MaxConnsPerHost = -1 }, "limits.upstream.max_conns_per_host cannot be negative (0: no bound)"},
		{func(c *Config) { c.Limits.PoolSize = -3 }, "limits.pool_size cannot be negative"},
	}
	for _, tt := range tests {
		c := &Config{Routes: []Route{{Origin: "http://a"}}}
		tt.set(c)
		c.Defaults()
		if err := c.Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("got %v, want %s", err, tt.want)
		}
	}
}

// TestMergeKeys: YAML's merge key brings another mapping's keys in, and
// they are checked as this mapping's own.
func TestMergeKeys(t *testing.T) {
	c, err := Parse("b.yaml", []byte("routes:\n  - &r { name: a, origin: \"http://a\", preserve_host: true }\n  - <<: *r\n    name: b\n    path: /b/\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Routes[1]; r.Name != "b" || r.Origin != "http://a" || !r.PreserveHost {
		t.Errorf("merged route: %+v", r)
	}
	_, err = Parse("b.yaml", []byte("routes:\n  - &r { name: a, origin: \"http://a\", rulez: x.yaml }\n  - <<: *r\n    name: b\n"))
	if err == nil || !strings.Contains(err.Error(), "b.yaml:2:39: unknown field \"rulez\" in routes[0]; did you mean \"rules\"?") || strings.Count(err.Error(), "rulez") != 1 {
		t.Errorf("a misspelt key merged in: %v", err)
	}
}

// TestAdmin: a file without admin keeps the admin listener at its
// default (leaving the key out turned it off, with /metrics, /healthz
// and the reload API); only an empty address turns it off.
func TestAdmin(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", DefaultAdmin},
		// No value, as before admin had a default: none.
		{"admin:\n", ""},
		{"admin: ~\n", ""},
		{"admin: \"\"\n", ""},
		{"admin: \"127.0.0.1:18150\"\n", "127.0.0.1:18150"},
	}
	for _, tt := range tests {
		c, err := Parse("a.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if got := c.AdminAddr(); got != tt.want {
			t.Errorf("%q: admin %q, want %q", tt.src, got, tt.want)
		}
	}
	if got := (&Config{}).AdminAddr(); got != DefaultAdmin {
		t.Errorf("a Config without defaults applied: admin %q, want %q", got, DefaultAdmin)
	}
}

// TestZeroDurations: shutdown_grace 0 is no grace (it was taken for the
// default, 10s); decide_timeout and seen.timeout are deadlines on a
// request's path, and 0, which was taken for the default too, is refused
// with the shortest they take, as is anything shorter.
func TestZeroDurations(t *testing.T) {
	tests := []struct {
		src           string
		grace, decide time.Duration
		seen          time.Duration
		err           string
	}{
		{"", DefaultGrace, 50 * time.Millisecond, 20 * time.Millisecond, ""},
		{"shutdown_grace: 0\n", 0, 50 * time.Millisecond, 20 * time.Millisecond, ""},
		{"shutdown_grace: 30s\nlimits: { decide_timeout: 1ms }\nseen: { timeout: 5ms }\n", 30 * time.Second, time.Millisecond, 5 * time.Millisecond, ""},
		{"limits: { decide_timeout: 0 }\n", 0, 0, 0, "b.yaml:1:27: limits.decide_timeout is at least 1ms, not 0s: a decision needs a deadline (50ms when left out)"},
		{"limits: { decide_timeout: 500us }\n", 0, 0, 0, "b.yaml:1:27: limits.decide_timeout is at least 1ms, not 500µs: a decision needs a deadline (50ms when left out)"},
		{"seen:\n  timeout: 0\n", 0, 0, 0, "b.yaml:2:12: seen.timeout is at least 1ms, not 0s: a Redis round trip needs a deadline (20ms when left out)"},
	}
	for _, tt := range tests {
		c, err := Parse("b.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err = %v, want %s", tt.src, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.src, err)
		case c.Grace() != tt.grace || c.Limits.DecideTimeout.D() != tt.decide || c.Seen.Timeout.D() != tt.seen:
			t.Errorf("%q: grace %v, decide_timeout %v, seen.timeout %v; want %v, %v, %v", tt.src, c.Grace(), c.Limits.DecideTimeout.D(), c.Seen.Timeout.D(), tt.grace, tt.decide, tt.seen)
		}
	}
	if got := (&Config{}).Grace(); got != DefaultGrace {
		t.Errorf("a Config without defaults applied: grace %v, want %v", got, DefaultGrace)
	}
}

// TestMemoryPages: limits.memory_pages above what a plugin's memory can
// address is refused where it is written (the engine failed on it later
// and called the rule file damaged), and a negative one is said to be
// negative, as other counts are, not no number.
func TestMemoryPages(t *testing.T) {
	tests := []struct {
		src  string
		want uint32
		err  string
	}{
		{"", 0, ""},
		{"limits: { memory_pages: 1 }\n", 1, ""},
		{"limits: { memory_pages: 65536 }\n", 65536, ""},
		{"limits: { memory_pages: 65537 }\n", 0, "b.yaml:1:25: limits.memory_pages is at most 65536 (4 GiB, all a plugin's memory can address), not 65537"},
		{"limits:\n  memory_pages: -5\n", 0, "b.yaml:2:17: limits.memory_pages cannot be negative"},
		{"limits: { memory_pages: many }\n", 0, `b.yaml:1:25: limits.memory_pages: want a whole number, got "many"`},
	}
	for _, tt := range tests {
		c, err := Parse("b.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err = %v, want %s", tt.src, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.src, err)
		case c.Limits.MemoryPages != tt.want:
			t.Errorf("%q: memory_pages %d, want %d", tt.src, c.Limits.MemoryPages, tt.want)
		}
	}
}

// TestGeo: geography's settings are checked with the rest of the file,
// every mistake at once where it is written; the server found them at
// start, one at a time, without a place.
func TestGeo(t *testing.T) {
	tests := []struct{ src, want string }{
		{"geo: { providers: \"cloudflare, fastly\", trusted_proxies: \"10.0.0.0/8,loopback\", timezone: Europe/Paris }\n", ""},
		{"geo:\n  providers: cloudflar\n  trusted_proxies: 10.0.0/8\n  timezone: Europe/Pari\n",
			`b.yaml:2:14: geo.providers: unknown CDN provider "cloudflar" (did you mean "cloudflare"?) (known: cloudflare, cloudfront, vercel, fastly, akamai, all, none)` + "\n" +
				`b.yaml:3:20: geo.trusted_proxies: trusted proxy "10.0.0/8": ` + "\n" +
				"b.yaml:4:13: geo.timezone: unknown time zone Europe/Pari; write an IANA name (Europe/Paris, America/New_York, UTC)"},
		{"geo: { trusted_proxies: \"none,loopback\" }\n", `b.yaml:1:25: geo.trusted_proxies: trusted proxies "none,loopback": "none" cannot be combined with other entries`},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		switch {
		case tt.want == "":
			if err != nil {
				t.Errorf("%q: %v", tt.src, err)
			}
		case err == nil:
			t.Errorf("%q: accepted, want %s", tt.src, tt.want)
		default:
			// The reason a prefix is not one is the geo package's.
			got, want := strings.Split(err.Error(), "\n"), strings.Split(tt.want, "\n")
			if len(got) != len(want) {
				t.Errorf("%q:\n got %v\nwant %s", tt.src, err, tt.want)
				continue
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("%q: line %d\n got %s\nwant %s…", tt.src, i+1, got[i], want[i])
				}
			}
		}
	}
}

// TestLoadEveryMistake: the files a configuration names that cannot be
// read are told with its other mistakes, those the check finds and
// those Validate does, in one run; they were told only once the others
// were fixed. A file that does not decode names no file to look for.
func TestLoadEveryMistake(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ src, want string }{
		{"secret_file: nope.key\nlimits: { pool: 3 }\nroutes:\n  - { name: shop, origin: ftp://a, rules: nope.yaml }\n",
			`:2:11: unknown field "pool" in limits; expected one of: pool_size, memory_pages, decide_timeout, max_rewrite_bytes, max_decode_ratio, max_json_depth, rewrite_buffer, edit_map_cache, held_bytes, max_header_bytes, max_connections, read_header_timeout, idle_timeout, send_timeout, body_timeout, upstream` + "\n" +
				`:4:27: route 1 (shop): origin "ftp://a" must be an http:// or https:// URL` + "\n" +
				`:1:14: secret_file "nope.key": no such file or directory` + "\n" +
				`:4:43: route 1 (shop): rules "nope.yaml": no such file or directory`},
		{"log: { format: xml }\nroutes:\n  - { origin: http://a, plugin: nope.wasm }\n",
			`:1:16: log.format is text or json, not "xml"` + "\n" +
				`:3:33: route 1 (route1): plugin "nope.wasm": no such file or directory`},
		{"log: { level: verbose }\nroutes:\n  - { origin: http://a }\n",
			`:1:15: log.level is debug, info, warn or error, not "verbose"`},
		// A value of the wrong kind where the file names go: nothing to
		// look for there.
		{"routes: { origin: http://a, rules: nope.yaml }\n", ":1:9: routes: want a list, got a mapping"},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, fmt.Sprintf("b%d.yaml", i))
		os.WriteFile(p, []byte(tt.src), 0o644)
		_, err := Load(p)
		want := p + strings.ReplaceAll(tt.want, "\n:", "\n"+p+":")
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", tt.src, err, want)
		}
	}
}

// TestNames: header and cookie names a file gives are names HTTP can
// carry; one with a space or a colon matched nothing, without a word.
func TestNames(t *testing.T) {
	tests := []struct{ src, want string }{
		{"forwarding: { strip_headers: [X-Real-IP, \"CloudFront-Viewer-*\", X_Odd.Name] }\ngeo: { header: CF-IPCountry }\nseen: { consent_cookie: cookie_consent, consent_deny: [\"0\", denied, \"a b\"] }\n", ""},
		{"forwarding:\n  strip_headers:\n    - X-Real-IP\n    - \"X-Real-IP: 1\"\n    - \"\"\n",
			"b.yaml:4:7: forwarding.strip_headers: \"X-Real-IP: 1\" is not a header name (letters, digits and !#$%&'*+-.^_`|~; a trailing * matches any suffix)\n" +
				"b.yaml:5:7: forwarding.strip_headers: \"\" is not a header name (letters, digits and !#$%&'*+-.^_`|~; a trailing * matches any suffix)"},
		{"geo: { header: \"X Country\" }\nseen: { consent_cookie: \"my consent\", consent_deny: [\"0\"] }\n",
			"b.yaml:1:16: geo.header: \"X Country\" is not a header name (letters, digits and !#$%&'*+-.^_`|~)\n" +
				"b.yaml:2:25: seen.consent_cookie: \"my consent\" is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)"},
		{"seen: { consent_cookie: \"a=b\", consent_deny: [\"0\"] }\n", "b.yaml:1:25: seen.consent_cookie: \"a=b\" is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)"},
		// One without the other denies nothing; a value no cookie holds
		// matches nothing.
		{"seen: { consent_cookie: cookie_consent }\n", "b.yaml:1:25: seen.consent_cookie is given without seen.consent_deny, the values of it that refuse tracking: add them (consent_deny: [\"0\", \"denied\"])"},
		{"seen: { consent_deny: [\"0\"] }\n", "b.yaml:1:23: seen.consent_deny is given without seen.consent_cookie, the cookie that holds them: add it (consent_cookie: cookie_consent)"},
		{"seen: { consent_cookie: c, consent_deny: [\"no;way\", \"\"] }\n",
			"b.yaml:1:43: seen.consent_deny: \"no;way\" is no value a cookie holds (printable ASCII, without \" ; or \\)\n" +
				"b.yaml:1:53: seen.consent_deny: \"\" is no value a cookie holds (printable ASCII, without \" ; or \\)"},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte(tt.src+"routes: [{ origin: \"http://a\" }]\n"))
		switch {
		case tt.want == "":
			if err != nil {
				t.Errorf("%q: %v", tt.src, err)
			}
		case err == nil || err.Error() != tt.want:
			t.Errorf("%q:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// TestRouteHosts: a route's host is a name, a "*." wildcard or an
// address, matched on every port; anything else (a port, a scheme, a
// wildcard elsewhere) would match no request, and is refused where it
// is written rather than leave the route serving nothing.
func TestRouteHosts(t *testing.T) {
	tests := []struct{ host, want string }{
		{"shop.example.com", ""},
		{"Shop.Example.COM.", ""},
		{"*.example.com", ""},
		{"bücher.example", ""},
		{"192.0.2.7", ""},
		{"2001:db8::1", ""},
		{"[2001:db8::1]", ""},
		{"localhost", ""},
		{"my_host.internal", ""},
		{"shop.example.com:8443", `b.yaml:2:33: route 1 (route1): host "shop.example.com:8443" names a port: a route matches its host on every port; write shop.example.com`},
		{"[2001:db8::1]:8443", `b.yaml:2:33: route 1 (route1): host "[2001:db8::1]:8443" names a port: a route matches its host on every port; write [2001:db8::1]`},
		{"https://shop.example.com", `b.yaml:2:33: route 1 (route1): host "https://shop.example.com" is a URL: write the name alone (shop.example.com)`},
		{"shop.example.com/blog", `b.yaml:2:33: route 1 (route1): host "shop.example.com/blog" holds a path: write the name alone (shop.example.com), and the path in path`},
		{"*", `b.yaml:2:33: route 1 (route1): host "*" is no name: write a name (shop.example.com), a wildcard of the names under one (*.example.com), or leave host out for any host`},
		{"*example.com", `b.yaml:2:33: route 1 (route1): host "*example.com" is no name: write a name (shop.example.com), a wildcard of the names under one (*.example.com), or leave host out for any host`},
		{"shop.*.com", `b.yaml:2:33: route 1 (route1): host "shop.*.com" is no name: write a name (shop.example.com), a wildcard of the names under one (*.example.com), or leave host out for any host`},
		{"shop example.com", `b.yaml:2:33: route 1 (route1): host "shop example.com" is no name: write a name (shop.example.com), a wildcard of the names under one (*.example.com), or leave host out for any host`},
		{"shop..example.com", `b.yaml:2:33: route 1 (route1): host "shop..example.com" is no name: write a name (shop.example.com), a wildcard of the names under one (*.example.com), or leave host out for any host`},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte("routes:\n  - { origin: \"http://a\", host: \""+tt.host+"\" }\n"))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("host %q:\n got %s\nwant %s", tt.host, got, tt.want)
		}
	}
}

// TestRoutesServingTheSame: a route with the host and path of one before
// it would serve no request, the first taking them all; it is refused
// where it is written. A host spelt otherwise (case, a final dot) is
// the same host, and "/blog" and "/blog/" are different paths.
func TestRoutesServingTheSame(t *testing.T) {
	tests := []struct{ routes, want string }{
		{"  - { name: a, origin: http://a, host: shop.example.com }\n  - { name: b, origin: http://b, host: Shop.Example.com. }\n",
			`b.yaml:3:5: route 2 (b): host "Shop.Example.com." and path "/" are route 1's (a), which takes every request for them: this route would serve none`},
		{"  - { name: a, origin: http://a, path: /blog/ }\n  - { name: b, origin: http://b }\n  - { name: c, origin: http://c, path: /blog/ }\n",
			`b.yaml:4:40: route 3 (c): any host and path "/blog/" are route 1's (a), which takes every request for them: this route would serve none`},
		{"  - { name: a, origin: http://a }\n  - { name: b, origin: http://b, path: / }\n",
			`b.yaml:3:40: route 2 (b): any host and path "/" are route 1's (a), which takes every request for them: this route would serve none`},
		{"  - { name: a, origin: http://a, path: /blog }\n  - { name: b, origin: http://b, path: /blog/ }\n", ""},
		{"  - { name: a, origin: http://a, path: /café/ }\n  - { name: b, origin: http://b, path: \"/caf%C3%A9/\" }\n",
			`b.yaml:3:40: route 2 (b): any host and path "/caf%C3%A9/" are route 1's (a), which takes every request for them: this route would serve none`},
		{"  - { name: a, origin: http://a, host: \"*.example.com\" }\n  - { name: b, origin: http://b, host: shop.example.com }\n  - { name: c, origin: http://c }\n", ""},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte("routes:\n"+tt.routes))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.routes, got, tt.want)
		}
	}
}

// TestAdminHosts: an admin_hosts entry that names no Host a request
// could send (a URL, a wildcard, a prefix that does not parse) is
// refused where it is written; it was kept as a name no Host is, and the
// admin listener refused the host the operator had listed.
func TestAdminHosts(t *testing.T) {
	tests := []struct{ hosts, want string }{
		{`["admin.internal", "10.0.0.0/8", "[fd00::7]:9090"]`, ""},
		{`["10.0.0.0/33"]`, `b.yaml:1:15: admin_hosts: "10.0.0.0/33" is no address prefix (write 10.0.0.0/8)`},
		{`["admin.internal", "http://admin.internal:9090"]`, `b.yaml:1:33: admin_hosts: "http://admin.internal:9090" is a URL: write its host alone (admin.internal:9090)`},
		{`["*.internal"]`, `b.yaml:1:15: admin_hosts: "*.internal" is a wildcard: list each name (admin.internal) or an address prefix (10.0.0.0/8)`},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte("admin_hosts: "+tt.hosts+"\nroutes: [{ origin: \"http://a\" }]\n"))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.hosts, got, tt.want)
		}
	}
}

// TestRoutePaths: a route's path is matched against the request's path
// alone; one with a query or a fragment would match no request, and is
// refused where it is written.
func TestRoutePaths(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/blog/", ""},
		{"/caf%C3%A9/", ""},
		{"/search?q=shoes", `b.yaml:2:33: route 1 (route1): path "/search?q=shoes" holds a query: a route matches the path alone (write /search)`},
		{"/docs#install", `b.yaml:2:33: route 1 (route1): path "/docs#install" holds a fragment, which browsers never send: write /docs`},
	}
	for _, tt := range tests {
		_, err := Parse("b.yaml", []byte("routes:\n  - { origin: \"http://a\", path: \""+tt.path+"\" }\n"))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("path %q:\n got %s\nwant %s", tt.path, got, tt.want)
		}
	}
}
