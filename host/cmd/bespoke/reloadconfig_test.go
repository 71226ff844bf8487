package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// configServe is a `bespoke serve --config` running in a test.
type configServe struct {
	cmd   *exec.Cmd
	conf  string
	url   string // the visitors' listener
	admin string // the admin listener
	// preview is the editors' preview's URL, with --preview.
	preview string
	stderr  *syncbuf.Buffer
}

// serveConfig writes src to bespoke.yaml in dir and serves it.
func serveConfig(t *testing.T, dir, src string) *configServe {
	t.Helper()
	cs := &configServe{conf: filepath.Join(dir, "bespoke.yaml")}
	cs.write(t, src)
	return startConfig(t, cs.conf, "--watch", "0")
}

// startConfig serves the configuration file conf, written, with args.
func startConfig(t *testing.T, conf string, args ...string) *configServe {
	t.Helper()
	cs := &configServe{conf: conf, stderr: &syncbuf.Buffer{}}
	cs.cmd = exec.Command(binary(t), append([]string{"serve", "--config", cs.conf}, args...)...)
	cs.cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	cs.cmd.Stderr = cs.stderr
	stdout, err := cs.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.cmd.Process.Signal(os.Interrupt)
		cs.cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), "editors' preview on "); ok {
			cs.preview = strings.TrimSuffix(u, "/")
		}
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			cs.url = m[1] + "://" + m[2]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if cs.url == "" {
		t.Fatalf("bespoke serve did not start:\n%s", cs.stderr)
	}
	// The log reaches stderr's buffer through a pipe of its own, copied
	// apart from stdout's: it may come after the line serving printed.
	adminLine := regexp.MustCompile(`msg="admin listening" addr=(\S+)`)
	waitFor(t, 20*time.Second, "the admin listener's line", func() bool {
		m := adminLine.FindStringSubmatch(cs.stderr.String())
		if m != nil {
			cs.admin = "http://" + m[1]
		}
		return m != nil
	})
	return cs
}

func (cs *configServe) write(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(cs.conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// matched returns the rules the preview's state for query matched.
func (cs *configServe) matched(t *testing.T, query string) []string {
	t.Helper()
	resp, err := http.Get(cs.preview + "/state?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Matched []string }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Matched
}

// load writes src and reloads it, which must succeed.
func (cs *configServe) load(t *testing.T, src string) {
	t.Helper()
	cs.write(t, src)
	if status, res := cs.reload(t); status != http.StatusOK {
		t.Fatalf("reload: %d %v\n%s", status, res, cs.stderr)
	}
}

// reload posts to /_bespoke/reload and returns the status and the results.
func (cs *configServe) reload(t *testing.T) (int, []map[string]any) {
	t.Helper()
	resp, err := http.Post(cs.admin+"/_bespoke/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, res
}

// get returns the body of path.
func (cs *configServe) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(cs.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	return string(b)
}

// scrape returns the admin listener's metrics.
func (cs *configServe) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(cs.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// namedOrigin serves a page that names it: <p id="o">name</p>.
func namedOrigin(t *testing.T, name string) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><p id="o">%s</p><h1 id="t">Hello</h1></body></html>`, name)
	}))
	t.Cleanup(o.Close)
	return o
}

var sampleLine = regexp.MustCompile(`(?m)^(\S+) (\S+)$`)

// sample is the value of the series written exactly as series, -1 when
// there is none.
func sample(metrics, series string) float64 {
	for _, m := range sampleLine.FindAllStringSubmatch(metrics, -1) {
		if m[1] == series {
			var v float64
			fmt.Sscan(m[2], &v)
			return v
		}
	}
	return -1
}

// TestReloadAppliesTheConfigFile: bespoke serve --config loads its
// configuration file again at a reload (the admin API's, SIGHUP) once it
// changed, as nginx, HAProxy and Caddy do: a route added serves, an
// origin changed is the one asked, a route removed no longer serves and
// leaves the metrics, while a route kept keeps its counters. A file that
// does not load is rejected with its position, the configuration serving
// going on; a setting only a restart applies keeps its running value and
// is warned of, the rest of the file applying.
func TestReloadAppliesTheConfigFile(t *testing.T) {
	a, b, blog := namedOrigin(t, "A"), namedOrigin(t, "B"), namedOrigin(t, "blog")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(helloRules), 0o644); err != nil {
		t.Fatal(err)
	}
	head := "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ncache_dir: \"-\"\nlog: { access: false }\nseen: { store: \"off\" }\n"
	shop := func(origin string) string {
		return "  - { name: shop, origin: \"" + origin + "\", rules: rules.yaml }\n"
	}
	blogRoute := "  - { name: blog, path: /blog, origin: \"" + blog.URL + "\" }\n"
	cs := serveConfig(t, dir, head+"routes:\n"+shop(a.URL))
	const personalized = `bespoke_requests_total{outcome="personalized",route="shop"}`

	// Unchanged: the plugins are reloaded, as before.
	if status, res := cs.reload(t); status != http.StatusOK || len(res) != 1 || res[0]["route"] != "shop" {
		t.Fatalf("a reload with the file unchanged: %d %v", status, res)
	}
	if got := cs.get(t, "/blog/post"); !strings.Contains(got, `<p id="o">A</p><h1 id="t">Bonjour</h1>`) {
		t.Fatalf("before the blog route, /blog/post is not the shop's: %s", got)
	}

	// A route added.
	cs.write(t, head+"routes:\n"+blogRoute+shop(a.URL))
	status, res := cs.reload(t)
	if status != http.StatusOK || len(res) < 1 || res[0]["config"] != cs.conf || res[0]["generation"] != 2.0 {
		t.Fatalf("reload adding a route: %d %v\n%s", status, res, cs.stderr)
	}
	if got := cs.get(t, "/blog/post"); !strings.Contains(got, `<p id="o">blog</p><h1 id="t">Hello</h1>`) {
		t.Fatalf("the route added does not serve /blog/post: %s", got)
	}
	if got := cs.get(t, "/"); !strings.Contains(got, `<p id="o">A</p><h1 id="t">Bonjour</h1>`) {
		t.Fatalf("the shop route: %s", got)
	}
	before := sample(cs.scrape(t), personalized)
	if before < 2 {
		t.Fatalf("%s is %v before the origin changes, want 2 or more", personalized, before)
	}

	// An origin changed, at a SIGHUP.
	cs.write(t, head+"routes:\n"+blogRoute+shop(b.URL))
	cs.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the configuration loaded at SIGHUP", func() bool {
		return strings.Count(cs.stderr.String(), `msg="configuration loaded"`) == 2
	})
	if got := cs.get(t, "/"); !strings.Contains(got, `<p id="o">B</p><h1 id="t">Bonjour</h1>`) {
		t.Fatalf("the shop route does not ask its new origin: %s", got)
	}
	if after := sample(cs.scrape(t), personalized); after != before+1 {
		t.Errorf("%s went from %v to %v across the reload, one request later: the kept route's counter did not go on", personalized, before, after)
	}

	// A route removed: the shop's path serves /blog again, and the
	// blog's series leave the metrics once its configuration is closed.
	cs.write(t, head+"routes:\n"+shop(b.URL))
	if status, res := cs.reload(t); status != http.StatusOK || res[0]["generation"] != 4.0 {
		t.Fatalf("reload removing a route: %d %v", status, res)
	}
	if got := cs.get(t, "/blog/post"); !strings.Contains(got, `<p id="o">B</p><h1 id="t">Bonjour</h1>`) {
		t.Fatalf("the route removed still serves /blog/post: %s", got)
	}
	waitFor(t, 20*time.Second, "the removed route's series to go", func() bool {
		return !strings.Contains(cs.scrape(t), `route="blog"`)
	})

	// A file that does not load: 422, its position, and the
	// configuration serving goes on.
	cs.write(t, head+"routes:\n"+shop(b.URL)+"limits: { pool_sise: 4 }\n")
	status, res = cs.reload(t)
	if status != http.StatusUnprocessableEntity || len(res) < 1 || res[0]["config"] != cs.conf {
		t.Fatalf("a configuration that does not load: %d %v", status, res)
	}
	wantAt := cs.conf + ":8:11:"
	if e, _ := res[0]["error"].(string); !strings.Contains(e, wantAt) || !strings.Contains(e, "pool_size") {
		t.Errorf("the rejection does not say where (%s) and what to write (pool_size): %q", wantAt, e)
	}
	if got := cs.get(t, "/"); !strings.Contains(got, `<p id="o">B</p><h1 id="t">Bonjour</h1>`) {
		t.Fatalf("the configuration serving did not go on: %s", got)
	}
	// The log comes through a pipe of its own, which may deliver it
	// after the admin API's answer.
	waitFor(t, 10*time.Second, "the log to say the configuration was rejected", func() bool {
		return strings.Contains(cs.stderr.String(), `msg="configuration rejected; the one serving goes on unchanged"`)
	})
	m := cs.scrape(t)
	if sample(m, `bespoke_config_reloads_total{result="error"}`) != 1 || sample(m, `bespoke_config_reloads_total{result="ok"}`) != 3 || sample(m, "bespoke_config_generation") != 4 {
		t.Errorf("the configuration reload metrics:\n%s", grepLines(m, "bespoke_config_"))
	}
	resp, err := http.Get(cs.admin + "/_bespoke/status")
	if err != nil {
		t.Fatal(err)
	}
	var st []struct {
		Config struct {
			Generation int64
			SHA256     string
			LastReload struct{ Error string } `json:"last_reload"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st) != 1 || st[0].Config.Generation != 4 || len(st[0].Config.SHA256) != 64 || !strings.Contains(st[0].Config.LastReload.Error, wantAt) {
		t.Errorf("the status does not show the configuration and its last reload: %+v", st)
	}

	// A setting only a restart applies (listen) keeps its value, and is
	// warned of at its place; the rest applies (the origin).
	cs.write(t, strings.Replace(head, "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1)+"routes:\n"+shop(a.URL))
	if status, res := cs.reload(t); status != http.StatusOK {
		t.Fatalf("reload with listen changed: %d %v", status, res)
	}
	want := `key=listen at=` + cs.conf + `:1:9`
	waitFor(t, 10*time.Second, "a warning with "+want, func() bool { return strings.Contains(cs.stderr.String(), want) })
	if got := cs.get(t, "/"); !strings.Contains(got, `<p id="o">A</p>`) {
		t.Fatalf("the rest of the file did not apply, or the listener did not keep its address: %s", got)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestLogLevelReloads: log.level changed in the configuration file
// applies at the reload, as an operator turning debug lines on for an
// incident needs: it was a setting only a restart applied.
func TestLogLevelReloads(t *testing.T) {
	origin := helloOrigin(t)
	rules := writeRules(t, helloRules)
	conf := func(level string, pool int) string {
		return fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ncache_dir: \"-\"\nlog: { access: false, level: %s }\nseen: { store: \"off\" }\nlimits: { pool_size: %d }\nroutes:\n  - { origin: %q, rules: %q }\n", level, pool, origin.URL, rules)
	}
	cs := serveConfig(t, t.TempDir(), conf("info", 2))
	cs.load(t, conf("warn", 2))
	// At warn, the next reload's info line is not written.
	loaded := strings.Count(cs.stderr.String(), "configuration loaded")
	cs.load(t, conf("warn", 3))
	if n := strings.Count(cs.stderr.String(), "configuration loaded"); n != loaded {
		t.Errorf("an info line written at log.level warn:\n%s", cs.stderr)
	}
	cs.load(t, conf("debug", 3))
	waitFor(t, 10*time.Second, "the level changed to debug", func() bool {
		return strings.Contains(cs.stderr.String(), `msg="log level changed"`) && strings.Contains(cs.stderr.String(), "to=DEBUG")
	})
	if strings.Contains(cs.stderr.String(), "only a restart applies") {
		t.Errorf("log.level said to need a restart:\n%s", cs.stderr)
	}
}

// TestPreviewFollowsReloads: with --config and --preview, a route a
// reload adds shows in the preview, and one it takes out goes; the
// preview kept the routes it started with until a restart.
func TestPreviewFollowsReloads(t *testing.T) {
	origin := helloOrigin(t)
	hello := writeRules(t, helloRules)
	blog := writeRules(t, "rules:\n  - name: blog-banner\n    actions:\n      - set_inner: { select: \"#t\", text: Blog }\n")
	conf := func(routes ...string) string {
		return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ncache_dir: \"-\"\nlog: { access: false }\nseen: { store: \"off\" }\nroutes:\n" + strings.Join(routes, "")
	}
	shop := fmt.Sprintf("  - { name: shop, origin: %q, rules: %q }\n", origin.URL, hello)
	blogRoute := fmt.Sprintf("  - { name: blog, path: /blog/, origin: %q, rules: %q }\n", origin.URL, blog)
	cs := &configServe{conf: filepath.Join(t.TempDir(), "bespoke.yaml")}
	cs.write(t, conf(shop))
	cs = startConfig(t, cs.conf, "--watch", "0", "--preview", "127.0.0.1:0")
	if cs.preview == "" {
		t.Fatal("the preview's address was not printed")
	}
	state := func(target int) []string { t.Helper(); return cs.matched(t, fmt.Sprintf("t=%d", target)) }
	if got := state(1); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("before the reload, target 1 (none: the first) matched %v", got)
	}
	cs.load(t, conf(shop, blogRoute))
	if got := state(1); !slices.Equal(got, []string{"blog-banner"}) {
		t.Errorf("the route the reload added: matched %v, want [blog-banner]\n%s", got, cs.stderr)
	}
	if got := state(0); !slices.Equal(got, []string{"hello"}) {
		t.Errorf("the route kept: matched %v", got)
	}
	cs.load(t, conf(blogRoute))
	if got := state(0); !slices.Equal(got, []string{"blog-banner"}) {
		t.Errorf("after the shop route went: target 0 matched %v", got)
	}
	if !strings.Contains(cs.stderr.String(), "the editors' preview follows the configuration") {
		t.Errorf("the log does not say the preview followed:\n%s", cs.stderr)
	}
}

// TestPreviewConsent: the editors' preview beside the proxy takes a
// visitor whose consent cookie declines (seen.consent_cookie,
// consent_deny) for one who cannot be counted, as the proxy does: a
// capped rule does not apply, and the next visit counts nothing. It
// showed such a visitor the popup the proxy keeps from them, counted,
// and the configuration's consent a reload changed is followed too.
func TestPreviewConsent(t *testing.T) {
	origin := helloOrigin(t)
	rules := writeRules(t, "rules:\n  - name: popup\n    at_most: 2 per 1d\n    actions:\n      - set_inner: { select: \"#t\", text: Popup }\n")
	conf := func(deny string) string {
		return fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ncache_dir: \"-\"\nlog: { access: false }\nseen: { store: cookie, consent_cookie: consent, consent_deny: [%s] }\nroutes:\n  - { name: shop, origin: %q, rules: %q }\n", deny, origin.URL, rules)
	}
	cs := &configServe{conf: filepath.Join(t.TempDir(), "bespoke.yaml")}
	cs.write(t, conf("no"))
	cs = startConfig(t, cs.conf, "--watch", "0", "--preview", "127.0.0.1:0")
	state := func(cookie string) []string { t.Helper(); return cs.matched(t, "cookies="+url.QueryEscape(cookie)) }
	proxied := func(cookie string) bool {
		t.Helper()
		req, _ := http.NewRequest("GET", cs.url+"/", nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), ">Popup<")
	}
	for _, c := range []struct {
		cookie string
		popup  bool
	}{{"consent=yes", true}, {"consent=no", false}} {
		if got := proxied(c.cookie); got != c.popup {
			t.Fatalf("%s: the proxy shows the popup %v", c.cookie, got)
		}
		if got := slices.Contains(state(c.cookie), "popup"); got != c.popup {
			t.Errorf("%s: the preview shows the popup %v, the proxy %v", c.cookie, got, c.popup)
		}
	}
	cs.write(t, conf("refused"))
	if status, res := cs.reload(t); status != http.StatusOK {
		t.Fatalf("reload: %d %v\n%s", status, res, cs.stderr)
	}
	if !proxied("consent=no") || !slices.Contains(state("consent=no"), "popup") {
		t.Errorf("after the reload, consent=no declines nothing: the proxy shows the popup %v, the preview matched %v", proxied("consent=no"), state("consent=no"))
	}
	if proxied("consent=refused") || slices.Contains(state("consent=refused"), "popup") {
		t.Errorf("after the reload, consent=refused declines: the proxy shows the popup %v, the preview matched %v", proxied("consent=refused"), state("consent=refused"))
	}
}
