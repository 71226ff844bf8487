package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestServeConfigRefusesFileOptions: with --config, an option the file
// replaces is refused (it would be ignored), naming the key to set
// instead, and nothing is served.
func TestServeConfigRefusesFileOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bespoke.yaml")
	if err := os.WriteFile(file, []byte("routes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--debug-headers"}, "--debug-headers is not read with --config: set log.debug_headers in " + file},
		{[]string{"--listen", "127.0.0.1:0", "--rules", "site.yaml"}, "--rules is not read with --config: set routes[].rules in " + file},
		{[]string{"--seen-store=redis", "--redis", "redis://127.0.0.1:6379/0"}, "--redis is not read with --config: set seen.redis"},
		{[]string{"--demo"}, "--demo serves the bundled demo site and its rules; it does not go with --config"},
	}
	for _, tt := range tests {
		code, _, errOut := bespoke(append([]string{"serve", "--config", file}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestServeOptionsWithConfig: every option of bespoke serve is either
// one the configuration file replaces, naming a key the file has, or one
// that overrides the file, or one the file has no key for: a new option
// must say which.
func TestServeOptionsWithConfig(t *testing.T) {
	_, help, _ := bespoke("serve", "-h")
	names := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help, -1)
	if len(names) < 20 {
		t.Fatalf("found %d options in serve -h:\n%s", len(names), help)
	}
	for _, m := range names {
		name := m[1]
		key, replaced := inConfigFile[name]
		switch {
		case replaced && (overrides[name] != "" || notInFile[name]):
			t.Errorf("--%s is both replaced by the file and not", name)
		case replaced:
			if !hasKey(reflect.TypeFor[config.Config](), key) {
				t.Errorf("--%s: the configuration file has no key %s", name, key)
			}
		case overrides[name] != "":
			if k := overrides[name]; !hasKey(reflect.TypeFor[config.Config](), k) && !hasKey(reflect.TypeFor[config.Config](), k+"[]") {
				t.Errorf("--%s: the configuration file has no key %s to override", name, overrides[name])
			}
		case !notInFile[name]:
			t.Errorf("--%s: say whether a configuration file replaces it (inConfigFile), or it overrides the file", name)
		}
	}
}

// overrides are the options of bespoke serve that may go with --config,
// and win over the file's key; notInFile, those no key of the file
// holds.
var (
	overrides = map[string]string{"listen": "listen", "admin": "admin", "tls-cert": "tls.cert", "tls-key": "tls.key", "h2c": "h2c",
		"admin-token-file": "admin_token_file", "admin-host": "admin_hosts", "watch": "watch"}
	notInFile = map[string]bool{"config": true, "check": true, "demo": true, "preview": true, "preview-host": true, "dev-preview": true, "dev-clock": true}
)

// TestOperationsOptions: the table of options in host/OPERATIONS.md has
// every option of bespoke serve, once, with the word its value is, the
// key of the configuration file that holds it (or that it overrides),
// and the default serve -h prints.
func TestOperationsOptions(t *testing.T) {
	doc, err := os.ReadFile("../../OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n### Options\n")
	if !ok {
		t.Fatal("OPERATIONS.md has no ### Options section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)(?: ([a-zA-Z]+))?` \\| ([^|]*)\\| ([^|]*)\\|$")
	type entry struct{ arg, key, def string }
	table := map[string]entry{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if _, dup := table[m[1]]; dup {
			t.Errorf("--%s: two rows", m[1])
		}
		table[m[1]] = entry{m[2], strings.TrimSpace(m[3]), strings.TrimSpace(m[4])}
	}
	if len(table) < 20 {
		t.Fatalf("found %d rows in OPERATIONS.md's table of options", len(table))
	}
	_, help, _ := bespoke("serve", "-h")
	opt := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)(?: (\S+))?\n((?:    \t.*\n)+)`)
	seen := map[string]bool{}
	for _, m := range opt.FindAllStringSubmatch(help, -1) {
		name, arg, usage := m[1], m[2], m[3]
		seen[name] = true
		e, ok := table[name]
		if !ok {
			t.Errorf("--%s is not in OPERATIONS.md's table of options", name)
			continue
		}
		if arg == "string" {
			arg = "" // flag's word for a value it has no better name for
		}
		if e.arg != arg {
			t.Errorf("--%s: the table says its value is %q, serve -h %q", name, e.arg, arg)
		}
		want := "—"
		if k, ok := inConfigFile[name]; ok {
			want = "`" + k + "`"
		} else if k := overrides[name]; k != "" {
			want = "`" + k + "` (*overrides*)"
		}
		if e.key != want {
			t.Errorf("--%s: the table says %s for its key, want %s", name, e.key, want)
		}
		if d := regexp.MustCompile(`\(default (.*)\)\n$`).FindStringSubmatch(usage); d != nil {
			def := strings.Trim(d[1], `"`)
			if !strings.HasPrefix(e.def, "`"+def+"`") && !strings.HasPrefix(e.def, def) {
				t.Errorf("--%s: the table's default is %q, serve -h says %s", name, e.def, def)
			}
		}
	}
	for name := range table {
		if !seen[name] {
			t.Errorf("OPERATIONS.md's table has --%s, which bespoke serve does not have", name)
		}
	}
}

// hasKey reports whether the YAML key path (a.b, routes[].c) names a
// field of t.
func hasKey(t reflect.Type, path string) bool {
	for _, part := range strings.Split(path, ".") {
		part, list := strings.CutSuffix(part, "[]")
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		found := false
		for i := range t.NumField() {
			f := t.Field(i)
			if strings.Split(f.Tag.Get("yaml"), ",")[0] == part {
				t, found = f.Type, true
				break
			}
		}
		if !found || list != (t.Kind() == reflect.Slice) {
			return false
		}
		if list {
			t = t.Elem()
		}
	}
	return true
}

// TestServeCheck: --check loads what serving needs and exits without
// listening (the address may be taken), 0 when bespoke would start, 1
// with each mistake at its position when it would not; from a
// configuration file or from the flags.
func TestServeCheck(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("rules:\n  - name: x\n    when: geo.contry == \"FR\"\n    actions: [remove: p]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, _ := filepath.Abs(demoRules)
	conf := func(rules string) string {
		path := filepath.Join(dir, filepath.Base(rules)+".bespoke.yaml")
		src := "listen: \"" + busy.Addr().String() + "\"\ncache_dir: \"-\"\nroutes:\n  - { name: shop, host: shop.example.com, origin: \"http://127.0.0.1:9\", rules: " + rules + " }\n  - { name: blog, path: /blog/, origin: \"http://127.0.0.1:9\" }\n"
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"a good file", []string{"--config", conf(good)}, 0, []string{
			"route shop: shop.example.com/ → http://127.0.0.1:9, " + good + " (21 rules)",
			"route blog: /blog/ → http://127.0.0.1:9, no rules: forwarded unchanged",
			"bespoke: ok, 2 route(s) would serve on " + busy.Addr().String()}},
		{"a rule file that does not compile", []string{"--config", conf(bad)}, 1, []string{bad + `:3:11: unknown attribute or segment "geo.contry"; did you mean "geo.country"?`}},
		{"the flags", []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--listen", busy.Addr().String(), "--cache-dir", "-"}, 0, []string{"bespoke: ok, 1 route(s)"}},
		// A repeated option stopped serve with a panic.
		{"an admin host", []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--listen", busy.Addr().String(), "--cache-dir", "-",
			"--admin-host", "admin.internal", "--admin-host", "10.0.0.0/8"}, 0, []string{"bespoke: ok, 1 route(s)"}},
		// bespoke starts without its Redis (it serves, without keeping
		// seen-filters), so the check says so and passes. Port 1 refuses.
		{"a Redis store that does not answer", []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--listen", busy.Addr().String(), "--cache-dir", "-",
			"--seen-store", "redis", "--redis", "redis://127.0.0.1:1"}, 0, []string{
			"warning: the seen store at 127.0.0.1:1 does not answer", "bespoke: ok, 1 route(s)"}},
		// A Redis URL alone selects the Redis store (it was ignored, and
		// the state kept in cookies); beside another store it is refused.
		{"a Redis URL without --seen-store", []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--listen", busy.Addr().String(), "--cache-dir", "-",
			"--redis", "redis://127.0.0.1:1"}, 0, []string{"warning: the seen store at 127.0.0.1:1 does not answer"}},
		{"a Redis URL with --seen-store cookie", []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--listen", busy.Addr().String(), "--cache-dir", "-",
			"--seen-store", "cookie", "--redis", "redis://127.0.0.1:1"}, 2, []string{"--redis is the URL of --seen-store redis; --seen-store cookie keeps nothing in Redis: drop one of them"}},
		{"seen.redis with store: cookie", []string{"--config", filepath.Join(dir, "cookie-redis.yaml")}, 1, []string{
			"cookie-redis.yaml:3:31: seen.redis is set but seen.store is cookie"}},
	}
	os.WriteFile(filepath.Join(dir, "cookie-redis.yaml"), []byte("listen: \""+busy.Addr().String()+"\"\ncache_dir: \"-\"\nseen: { store: cookie, redis: \"redis://127.0.0.1:1\" }\nroutes: [{ origin: \"http://127.0.0.1:9\", rules: "+good+" }]\n"), 0o644)
	for _, tt := range tests {
		code, out, errOut := bespoke(append([]string{"serve", "--check", "--admin", busy.Addr().String()}, tt.args...)...)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tt.name, code, tt.code, out, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: no %q in\n%s%s", tt.name, w, out, errOut)
				break
			}
		}
	}
}

// TestServeConfigAdmin: with --config, a file without admin keeps the
// admin listener on its default address (it had none, so no /metrics,
// /healthz or reload API), admin: "" has none, and --admin overrides
// either.
func TestServeConfigAdmin(t *testing.T) {
	dir := t.TempDir()
	conf := func(name, admin string) string {
		path := filepath.Join(dir, name)
		src := "listen: \"127.0.0.1:18150\"\ncache_dir: \"-\"\n" + admin + "routes: [{ origin: \"http://127.0.0.1:9\" }]\n"
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	absent, empty, given := conf("absent.yaml", ""), conf("empty.yaml", "admin: \"\"\n"), conf("given.yaml", "admin: \"127.0.0.1:18151\"\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--config", absent}, "the admin listener on " + config.DefaultAdmin},
		{[]string{"--config", empty}, "without an admin listener"},
		{[]string{"--config", given}, "the admin listener on 127.0.0.1:18151"},
		{[]string{"--config", absent, "--admin", ""}, "without an admin listener"},
		{[]string{"--config", empty, "--admin", "127.0.0.1:18152"}, "the admin listener on 127.0.0.1:18152"},
		{[]string{"--origin", "http://127.0.0.1:9", "--listen", "127.0.0.1:18150", "--cache-dir", "-", "--rules", demoRules}, "the admin listener on " + config.DefaultAdmin},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(append([]string{"serve", "--check"}, tt.args...)...)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%v: exit %d, want 0 and %q\n%s%s", tt.args, code, tt.want, out, errOut)
		}
	}
}

// TestDebugHeadersDocumented: every header --debug-headers adds to a
// response is named by serve -h, under the option, and by
// OPERATIONS.md; X-Bespoke-Untouched was named by neither.
func TestDebugHeadersDocumented(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/untouched" {
			w.Header().Set("Cache-Control", "no-transform")
		}
		io.WriteString(w, `<html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	defer origin.Close()
	s := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, helloRules), "--debug-headers")
	added := map[string]bool{}
	for _, path := range []string{"/", "/untouched"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for name := range resp.Header {
			if strings.HasPrefix(name, "X-Bespoke-") {
				added[name] = true
			}
		}
	}
	for _, name := range []string{"X-Bespoke-Rules", "X-Bespoke-Generation", "X-Bespoke-Untouched"} {
		if !added[name] {
			t.Errorf("no response carried %s", name)
		}
	}
	_, help, _ := bespoke("serve", "-h")
	_, usage, _ := strings.Cut(help, "\n  -debug-headers\n")
	usage, _, _ = strings.Cut(usage, "\n  -")
	doc, err := os.ReadFile("../../OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range added {
		if !strings.Contains(usage, name) {
			t.Errorf("serve -h does not name %s under --debug-headers:\n%s", name, usage)
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("OPERATIONS.md does not name %s", name)
		}
	}
}

// TestAdminTokenMinimum: a token shorter than the minimum stops serve
// --check, from the file or the environment, and the minimum the error
// gives is the one OPERATIONS.md and serve -h give.
func TestAdminTokenMinimum(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	long := filepath.Join(dir, "long")
	os.WriteFile(short, []byte("fifteen-chars-x\n"), 0o600)
	os.WriteFile(long, []byte("sixteen-chars-xx\n"), 0o600)
	base := []string{"serve", "--check", "--origin", "http://127.0.0.1:9", "--rules", demoRules, "--cache-dir", "-"}
	tests := []struct {
		name  string
		args  []string
		env   string
		code  int
		wants string
	}{
		{"a short token file", []string{"--admin-token-file", short}, "", 1, "the token must be at least 16 characters"},
		{"a short token in the environment", nil, "fifteen-chars-x", 1, "$BESPOKE_ADMIN_TOKEN: the token must be at least 16 characters"},
		{"a token file of 16", []string{"--admin-token-file", long}, "", 0, "bespoke: ok"},
		{"a token of 16 in the environment", nil, "sixteen-chars-xx", 0, "bespoke: ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BESPOKE_ADMIN_TOKEN", tt.env)
			code, out, errOut := bespoke(append(base, tt.args...)...)
			if code != tt.code || !strings.Contains(out+errOut, tt.wants) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tt.code, tt.wants, out, errOut)
			}
		})
	}
	doc, _ := os.ReadFile("../../OPERATIONS.md")
	if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), "The token is at least 16 characters") {
		t.Error("OPERATIONS.md does not give the admin token's minimum")
	}
	if _, help, _ := bespoke("serve", "-h"); !strings.Contains(help, "at least 16 characters") {
		t.Error("serve -h does not give the admin token's minimum")
	}
}

// TestShortKeyFiles: a --secret-file or --admin-token-file holding too
// short a key is refused naming the option, as one that is not there is,
// and in a configuration file at the key's place; both were said as
// "secret_file FILE: …" after the log's first lines, a key the command
// line did not write, at no place of the file.
func TestShortKeyFiles(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("fifteen-bytes-x\n"), 0o600)
	conf := func(key string) string {
		p := filepath.Join(dir, key+".yaml")
		os.WriteFile(p, []byte(key+": short\nroutes:\n  - { origin: \"http://127.0.0.1:9\" }\n"), 0o644)
		return p
	}
	flags := []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules}
	tests := []struct {
		name  string
		args  []string
		wants string
	}{
		{"--secret-file", append([]string{"--secret-file", short}, flags...), `bespoke serve: --secret-file "` + short + `": the key must be at least 16 bytes, and holds 15;`},
		{"--admin-token-file", append([]string{"--admin-token-file", short}, flags...), `bespoke serve: --admin-token-file "` + short + `": the token must be at least 16 characters, and holds 15;`},
		{"secret_file", []string{"--config", conf("secret_file")}, `secret_file.yaml:1:14: secret_file "short": the key must be at least 16 bytes`},
		{"admin_token_file", []string{"--config", conf("admin_token_file")}, `admin_token_file.yaml:1:19: admin_token_file "short": the token must be at least 16 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := bespoke(append([]string{"serve", "--check"}, tt.args...)...)
			if code != 1 || !strings.Contains(errOut, tt.wants) || strings.Contains(errOut, "level=") {
				t.Errorf("exit %d, want 1 with %q and no log line:\n%s%s", code, tt.wants, out, errOut)
			}
		})
	}
}

// TestServeNegativeOptions: a negative duration or count on the command
// line is refused, naming the option: --watch -1s stopped watching the
// rule file without a word, with or without --config.
func TestServeNegativeOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bespoke.yaml")
	if err := os.WriteFile(file, []byte("cache_dir: \"-\"\nroutes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--cache-dir", "-"}
	tests := []struct {
		args []string
		want string
	}{
		{append([]string{"--watch", "-1s"}, flags...), "--watch -1s: a duration cannot be negative"},
		{[]string{"--config", file, "--watch=-1s"}, "--watch -1s: a duration cannot be negative"},
		{append([]string{"--grace", "-5s"}, flags...), "--grace -5s: a duration cannot be negative"},
		{append([]string{"--seen-timeout", "-1ms"}, flags...), "--seen-timeout -1ms: a duration cannot be negative"},
		{append([]string{"--pool-size", "-3"}, flags...), "--pool-size -3: cannot be negative"},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(append([]string{"serve", "--check"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, want 2 and %q\n%s%s", tt.args, code, tt.want, out, errOut)
		}
	}
}

// TestServeGeoOptions: geography's options are checked with the other
// options, every mistake at once, naming each option, with the status of
// a mistake in the command line (2); from a file, each at its line and
// column (1). The server found them at start, one at a time, under the
// file's key, with status 1.
func TestServeGeoOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "geo.yaml")
	os.WriteFile(file, []byte("cache_dir: \"-\"\nadmin: \"\"\ngeo: { providers: cloudflar, timezone: Europe/Pari }\nroutes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644)
	flags := []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--cache-dir", "-", "--listen", "127.0.0.1:18150", "--admin", ""}
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{append([]string{"--geo-providers", "cloudflar", "--trusted-proxies", "10.0.0/8", "--timezone", "Europe/Pari"}, flags...), 2, []string{
			`bespoke serve: --geo-providers: unknown CDN provider "cloudflar"`,
			`--trusted-proxies: trusted proxy "10.0.0/8"`,
			"--timezone: unknown time zone Europe/Pari"}},
		{append([]string{"--geo-providers", "cloudflare,fastly", "--trusted-proxies", "10.0.0.0/8", "--timezone", "Europe/Paris"}, flags...), 0, []string{"bespoke: ok"}},
		{[]string{"--config", file}, 1, []string{
			file + `:3:19: geo.providers: unknown CDN provider "cloudflar"`,
			file + ":3:40: geo.timezone: unknown time zone Europe/Pari"}},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(append([]string{"serve", "--check"}, tt.args...)...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.code, out, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%v: no %q in\n%s%s", tt.args, w, out, errOut)
			}
		}
	}
}

// TestServeNamesOptions: a mistake in values the command line gave names
// the options, every key its message names (it named the file's keys,
// seen.redis for --redis, tls for --tls-cert and --tls-key, as if a file
// held them); values the file gave keep the file's keys, at their place.
func TestServeNamesOptions(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.yaml")
	os.WriteFile(plain, []byte("cache_dir: \"-\"\nroutes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644)
	cert := filepath.Join(dir, "cert.pem")
	os.WriteFile(cert, []byte("not read"), 0o644)
	certOnly := filepath.Join(dir, "cert-only.yaml")
	os.WriteFile(certOnly, []byte("cache_dir: \"-\"\ntls: { cert: cert.pem }\nroutes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644)
	flags := []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--cache-dir", "-", "--listen", "127.0.0.1:18150", "--admin", ""}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{append([]string{"--seen-store", "redis"}, flags...), 2, "bespoke serve: --seen-store is redis but --redis is empty: give the Redis URL (redis://host:port)\n"},
		{append([]string{"--tls-cert", "x.pem"}, flags...), 2, "bespoke serve: --tls-cert and --tls-key go together: give both\n"},
		{append([]string{"--geo-header", "X Country"}, flags...), 2, "bespoke serve: --geo-header: \"X Country\" is not a header name"},
		{[]string{"--config", plain, "--tls-key", "k.pem"}, 2, "bespoke serve: --tls-cert and --tls-key go together: give both\n"},
		{[]string{"--config", certOnly}, 1, certOnly + ":2:6: tls.cert and tls.key go together: give both\n"},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(append([]string{"serve", "--check"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", tt.args, code, tt.code, tt.want, out, errOut)
		}
	}
}

// TestServeZeroDurations: --grace 0 is no grace (it was taken for the
// default, 10s); --decide-timeout 0 and --seen-timeout 0, which were
// too, are refused, naming the option and the shortest it takes.
func TestServeZeroDurations(t *testing.T) {
	flags := []string{"--origin", "http://127.0.0.1:9", "--rules", demoRules, "--cache-dir", "-", "--listen", "127.0.0.1:18150", "--admin", ""}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--grace", "0"}, 0, "bespoke: ok"},
		{[]string{"--decide-timeout", "0"}, 2, "bespoke serve: --decide-timeout is at least 1ms, not 0s: a decision needs a deadline (50ms when left out)"},
		{[]string{"--decide-timeout", "100us"}, 2, "--decide-timeout is at least 1ms, not 100µs"},
		{[]string{"--seen-timeout", "0"}, 2, "bespoke serve: --seen-timeout is at least 1ms, not 0s: a Redis round trip needs a deadline (20ms when left out)"},
		{[]string{"--decide-timeout", "1ms", "--seen-timeout", "1ms"}, 0, "bespoke: ok"},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(append(append([]string{"serve", "--check"}, flags...), tt.args...)...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", tt.args, code, tt.code, tt.want, out, errOut)
		}
	}
}

// TestServeRedisLogsInFormat: with a Redis store that does not answer,
// every line bespoke writes to stderr is a JSON record with
// --log-format json: the Redis client's messages (a dial that failed)
// were plain text, "redis: 2026/12/05 … pool.go:770: …".
func TestServeRedisLogsInFormat(t *testing.T) {
	cmd := exec.Command(binary(t), "serve", "--check", "--log-format", "json", "--origin", "http://127.0.0.1:9", "--rules", demoRules,
		"--cache-dir", "-", "--redis", "redis://127.0.0.1:1")
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "does not answer") {
		t.Fatalf("%v\n%s%s", err, out, &stderr)
	}
	client := false
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON record: %q", line)
		}
		client = client || rec.Msg == "Redis client"
	}
	if !client {
		t.Errorf("no record of the Redis client's message:\n%s", &stderr)
	}
}

// TestServeFileOptionsNotThere: a file an option names that is not
// there, or is a directory, is said naming the option before anything
// loads, as a configuration file's are at their key: it was said in
// Go's words once the server had started loading ("open x.yaml: no
// such file or directory", "secret_file: open x: …", "tls: stat x: …").
func TestServeFileOptionsNotThere(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "not there")
	cfg := filepath.Join(dir, "bespoke.yaml")
	os.WriteFile(cfg, []byte("cache_dir: \"-\"\nroutes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644)
	flags := []string{"--origin", "http://127.0.0.1:9", "--cache-dir", "-", "--listen", "127.0.0.1:0", "--admin", ""}
	tests := []struct {
		args []string
		want string
	}{
		{append([]string{"--rules", missing}, flags...), `bespoke serve: --rules "` + missing + `": no such file or directory`},
		{append([]string{"--plugin", dir}, flags...), `bespoke serve: --plugin "` + dir + `": is a directory`},
		{append([]string{"--rules", demoRules, "-secret-file", missing}, flags...), `bespoke serve: -secret-file "` + missing + `": no such file or directory`},
		{append([]string{"--rules", demoRules, "--tls-cert", missing, "--tls-key", missing}, flags...), `bespoke serve: --tls-cert "` + missing + `": no such file or directory`},
		{append([]string{"--rules", demoRules, "--geoip", missing}, flags...), `bespoke serve: --geoip "` + missing + `": no such file or directory`},
		{append([]string{"--rules", demoRules, "--admin-token-file", missing}, flags...), `bespoke serve: --admin-token-file "` + missing + `": no such file or directory`},
		{[]string{"--config", cfg, "--tls-cert", missing, "--tls-key", missing}, `bespoke serve: --tls-cert "` + missing + `": no such file or directory`},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(append([]string{"serve", "--check"}, tt.args...)...)
		if code != 1 || !strings.HasPrefix(errOut, tt.want) || out != "" {
			t.Errorf("%v: exit %d, want 1; stderr %q, want it to start with %q; stdout %q", tt.args, code, errOut, tt.want, out)
		}
	}
}

// TestServeConfigIsARuleFile: serve --config given a rule file says so
// and how to serve it, as check says it of a configuration file: it
// said only unknown field "rules" and no routes.
func TestServeConfigIsARuleFile(t *testing.T) {
	code, out, errOut := bespoke("serve", "--check", "--config", demoRules)
	want := demoRules + " is a rule file, not a configuration file: serve it with bespoke serve --rules " + demoRules + " --origin URL, or name it as a route's rules in a configuration file"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
	}
}

// TestServeEmptyConfig: --config "" (a unit's ${CONFIG} unset) is said
// as such: it asked for --config, as if none was given, and with --demo
// served the demo.
func TestServeEmptyConfig(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--check", "--config", ""},
		{"serve", "--check", "--demo", "--cache-dir", "-", "--config="},
	} {
		code, out, errOut := bespoke(args...)
		if code != 2 || !strings.Contains(errOut, "--config names no file: give the configuration file") || out != "" {
			t.Errorf("%q: exit %d, want 2; stderr %q; stdout %q", args, code, errOut, out)
		}
	}
}

// TestServeConfigCacheDirRelative: a relative cache_dir is read from the
// configuration file's directory, as every file it names is: it was read
// from the current directory (/ under systemd).
func TestServeConfigCacheDirRelative(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bespoke.yaml")
	rules, err := filepath.Abs(demoRules)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, []byte("cache_dir: plugin-cache\nadmin: \"\"\nlisten: 127.0.0.1:0\nroutes: [{ origin: \"http://127.0.0.1:9\", rules: "+strconv.Quote(rules)+" }]\n"), 0o644)
	elsewhere := t.TempDir()
	t.Chdir(elsewhere)
	if code, out, errOut := bespoke("serve", "--check", "--config", cfg); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "plugin-cache")); err == nil {
		t.Errorf("the cache was made in the current directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "plugin-cache")); err != nil {
		t.Errorf("no cache beside the configuration file: %v", err)
	}
}
