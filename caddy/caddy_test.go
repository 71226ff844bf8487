package caddybespoke_test

// A real Caddy, built with this module as a library, serves the demo site
// through bespoke and Caddy's own reverse_proxy on loopback.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/quic-go/quic-go/http3"

	caddybespoke "github.com/bespoke-edge/bespoke/caddy"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

const newVisitorOffer = "New here? Join Northwind Club and get 10% off your first order."

// load adapts a Caddyfile and runs it in this process, replacing the
// config running.
func load(t testing.TB, src string) error {
	t.Helper()
	cfg, warn, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(src), nil)
	if err != nil {
		return err
	}
	for _, w := range warn {
		t.Logf("caddyfile: %s", w)
	}
	return caddy.Load(cfg, true)
}

// freePorts returns n loopback addresses free at once: all are held
// while they are picked, so that no two are the same port (one picked
// and closed before the next could be handed out again).
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

func TestCaddyServesThePersonalizedDemo(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile("../testdata/demo/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, demo, 0o644); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir("../testdata/demo/site")))
	mux.HandleFunc("/socket", echoSocket)
	origin := httptest.NewServer(mux)
	defer origin.Close()

	ports := freePorts(t, 4)
	addr, downAddr, dead, admin := ports[0], ports[1], ports[2], ports[3]
	caddyfileSrc := fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
	log {
		output discard
	}
	storage file_system %s
}
http://%s {
	bespoke {
		rules %s
		name shop
		secret "caddy test secret, 32 bytes long"
		cache_dir -
		debug_headers
	}
	reverse_proxy %s
}
http://%s {
	bespoke {
		rules %s
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
	reverse_proxy %s
	handle_errors {
		respond "error page {err.status_code}" {err.status_code}
	}
}
`, admin, filepath.Join(dir, "data"), addr, rulesFile, strings.TrimPrefix(origin.URL, "http://"), downAddr, rulesFile, dead)
	if err := load(t, caddyfileSrc); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string, headers ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Sec-Fetch-Dest", "document")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		var resp *http.Response
		var err error
		for range 50 { // the listener may take a moment after Load
			if resp, err = client.Do(req); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
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
		return resp, string(b)
	}

	resp, body := get("/", "CF-IPCountry", "FR")
	if !strings.Contains(body, newVisitorOffer) {
		t.Fatalf("no new-visitor offer on the first visit:\n%s", body)
	}
	if !strings.Contains(body, "Équipez-vous pour la saison") {
		t.Errorf("no French hero for a visitor from France")
	}
	if !strings.Contains(resp.Header.Get("X-Bespoke-Rules"), "first-visit-offer") {
		t.Errorf("X-Bespoke-Rules %q", resp.Header.Get("X-Bespoke-Rules"))
	}
	if !strings.Contains(resp.Header.Get("Cache-Control"), "private") {
		t.Errorf("a personalized page is cacheable: %q", resp.Header.Get("Cache-Control"))
	}
	if !hasCookie(resp, "bsk_seen") {
		t.Fatalf("no seen cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	first := cards(body)
	if len(first) == 0 {
		t.Fatalf("no cards on the page:\n%s", body)
	}
	_, body = get("/")
	if second := cards(body); len(second) == 0 || second[0] == first[0] {
		t.Errorf("the seen cookie did not bring fresh cards first: %v then %v", first, second)
	}
	if strings.Contains(body, newVisitorOffer) {
		t.Errorf("a returning visitor got the new-visitor offer")
	}
	_, css := get("/static/site.css")
	if want, _ := os.ReadFile("../testdata/demo/site/static/site.css"); css != string(want) {
		t.Errorf("a style sheet changed on its way through")
	}

	// A WebSocket-style upgrade goes through bespoke to reverse_proxy,
	// and the connection then carries the new protocol both ways.
	checkEcho(t, addr)

	// bespoke's metrics are in Caddy's own registry, served by its admin
	// endpoint beside Caddy's: the handler named shop, and the unnamed
	// one, named for its rule file.
	checkMetrics(t, admin, `bespoke_requests_total{outcome="personalized",route="shop"}`,
		`bespoke_pool_instances{route="`+rulesFile+`"}`, "go_goroutines")

	// An origin that is down: reverse_proxy's error goes back to Caddy,
	// whose handle_errors answers it.
	if resp, err := client.Get("http://" + downAddr + "/"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || string(b) != "error page 502" {
			t.Errorf("an origin that is down answered %s %q, want 502 and the handle_errors page", resp.Status, b)
		}
		// With the headers the handlers before bespoke set, not those of
		// the response bespoke made of the error, which Caddy dropped.
		if cc := resp.Header.Get("Cache-Control"); cc != "" {
			t.Errorf("the error page has bespoke's Cache-Control %q", cc)
		}
	}
	checkMetrics(t, admin, `bespoke_requests_total{outcome="upstream_error",route="`+rulesFile+`"} 1`,
		`bespoke_upstream_errors_total{route="`+rulesFile+`",status="502"} 1`)

	// A reload of Caddy's config compiles the changed rule file; one
	// that does not compile is refused and the running config stays.
	changed := strings.Replace(string(demo), newVisitorOffer, "Welcome, first-time visitor.", 1)
	if err := os.WriteFile(rulesFile, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := load(t, caddyfileSrc); err != nil {
		t.Fatal(err)
	}
	fresh := &http.Client{Timeout: 30 * time.Second}
	client, jar = fresh, nil
	if _, body = get("/"); !strings.Contains(body, "Welcome, first-time visitor.") {
		t.Fatalf("the reloaded rules do not serve:\n%s", body)
	}
	// The new config has a registry of its own, and bespoke's metrics in it.
	checkMetrics(t, admin, `bespoke_requests_total{outcome="personalized",route="shop"} 1`,
		`bespoke_reloads_total{result="ok",route="shop"} 1`)
	if err := os.WriteFile(rulesFile, []byte("version: 1\nrules: [{name: x, when: nope, actions: [{remove: \"#x\"}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := load(t, caddyfileSrc); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a broken rule file loaded: %v", err)
	}
	if _, body = get("/"); !strings.Contains(body, "Welcome, first-time visitor.") {
		t.Fatalf("a refused reload stopped the rules serving:\n%s", body)
	}
}

// TestCaddyfileOrder: the directive sorts right after encode, before the
// handlers that make or transform the page: templates (which would run
// the visitor's text a rule inserts), and handle and route blocks (which
// end the route, so that a directive after them never ran).
func TestCaddyfileOrder(t *testing.T) {
	src := `:0 {
	handle /api/* {
		respond "api"
	}
	handle {
		file_server
	}
	templates
	bespoke site.yaml
	encode gzip
}
`
	cfg, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	js := string(cfg)
	at := func(s string) int {
		i := strings.Index(js, s)
		if i < 0 {
			t.Fatalf("%s is not in the adapted config:\n%s", s, js)
		}
		return i
	}
	if !(at(`"handler":"encode"`) < at(`"handler":"bespoke"`) &&
		at(`"handler":"bespoke"`) < at(`"handler":"templates"`) &&
		at(`"handler":"templates"`) < at(`"/api/*"`)) {
		t.Errorf("want encode, bespoke, templates, then the handle blocks:\n%s", js)
	}
}

// TestCaddyTemplatesAndHandle: in a site with templates and handle blocks,
// written in any order, bespoke personalizes what the blocks serve, and
// the visitor's text a rule inserts is text, not a template.
func TestCaddyTemplatesAndHandle(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	rules := `rules:
  - name: greet
    actions:
      - set_inner: { select: "#hello", text: "Hello {{ query('name') }}" }
`
	page := `<!doctype html><html><body><p id="hello">Hi</p><p id="t">{{ "templated" }}</p></body></html>`
	if err := os.WriteFile(rulesFile, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 2)
	addr, admin := ports[0], ports[1]
	src := globals(admin) + fmt.Sprintf(`http://%s {
	root * %s
	handle /api/* {
		respond "api"
	}
	handle {
		templates
		file_server
	}
	bespoke {
		rules %s
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
}
`, addr, dir, rulesFile)
	if err := load(t, src); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	var body string
	for range 50 { // the listener may take a moment after Load
		resp, err := http.Get("http://" + addr + "/?name=" + url.QueryEscape("{{ env `HOME` }}"))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, ">templated<") {
		t.Fatalf("the page's own template did not run: %s", body)
	}
	if !strings.Contains(body, "Hello {{ env `HOME` }}") {
		t.Fatalf("the visitor's text is not in the page as written (bespoke did not run, or templates ran it): %s", body)
	}
}

// TestCaddyWatchesByDefault: the rule file is reloaded when it changes,
// without a watch in the config, as bespoke serve does: caddy reload
// does nothing when the config itself did not change. watch off and
// watch 0 turn it off.
func TestCaddyWatchesByDefault(t *testing.T) {
	for src, want := range map[string]caddy.Duration{"off": -1, "0": -1, "2s": caddy.Duration(2 * time.Second)} {
		h := new(caddybespoke.Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("bespoke {\n\twatch " + src + "\n}")); err != nil || h.Watch != want {
			t.Errorf("watch %s: %v, %v", src, h.Watch, err)
		}
	}
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	write := func(text string) {
		t.Helper()
		src := "rules:\n  - name: greet\n    actions:\n      - set_inner: { select: \"#x\", text: " + text + " }\n"
		if err := os.WriteFile(rulesFile, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><p id="x">origin</p>`), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 2)
	addr, admin := ports[0], ports[1]
	if err := load(t, globals(admin)+fmt.Sprintf(`http://%s {
	root * %s
	bespoke {
		rules %s
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
	file_server
}
`, addr, dir, rulesFile)); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	body := func() string {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for want, i := `<p id="x">one</p>`, 0; !strings.Contains(body(), want); i++ {
		if i == 100 {
			t.Fatalf("the rules do not serve: %s", body())
		}
		time.Sleep(50 * time.Millisecond)
	}
	write("two")
	for want, i := `<p id="x">two</p>`, 0; !strings.Contains(body(), want); i++ {
		if i == 200 {
			t.Fatalf("the changed rule file is not served 10 s later: %s", body())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCaddyHeaderDirective: the caching headers Caddy's header directive
// sets are the page's: a personalized one goes out with a single
// Cache-Control, private, and no CDN-Cache-Control, where it used to
// carry the directive's "public" line before bespoke's "private". (Its
// rule reads the visitor: one that reads the URL alone gives every
// visitor the same page, which stays shareable.)
func TestCaddyHeaderDirective(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><p id="x">origin</p>`), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 2)
	addr, admin := ports[0], ports[1]
	if err := load(t, globals(admin)+fmt.Sprintf(`http://%s {
	root * %s
	header Cache-Control "public, max-age=60"
	header CDN-Cache-Control "max-age=600"
	bespoke {
		rules %s
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
	file_server
}
`, addr, dir, goldRule(t))); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	resp := getRetry(t, http.DefaultClient, "http://"+addr+"/", http.Header{"X-Tier": {"gold"}})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `<p id="x">hi</p>`) {
		t.Fatalf("not personalized: %s", body)
	}
	if cc := resp.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "private, max-age=60" {
		t.Errorf("Cache-Control %q, want one line: private, max-age=60", cc)
	}
	if v := resp.Header.Values("CDN-Cache-Control"); len(v) > 0 {
		t.Errorf("CDN-Cache-Control %q kept on a personalized page", v)
	}
}

// TestCaddyUpstreamFailures: reverse_proxy's own failure is counted as
// the origin's with the status the visitor got (504 for a timeout), and
// Caddy's error directive (a 503 for maintenance) is an answer, not a
// failure.
func TestCaddyUpstreamFailures(t *testing.T) {
	rules := oneRule(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
	}))
	defer slow.Close()
	ports := freePorts(t, 3)
	admin, slowSite, maint := ports[0], ports[1], ports[2]
	if err := load(t, globals(admin)+fmt.Sprintf(`http://%s {
	bespoke {
		rules %s
		name slow
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
	reverse_proxy %s {
		transport http {
			response_header_timeout 200ms
		}
	}
}
http://%s {
	bespoke {
		rules %s
		name maint
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
	error "down for maintenance" 503
}
`, slowSite, rules, strings.TrimPrefix(slow.URL, "http://"), maint, rules)); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	for addr, want := range map[string]int{slowSite: http.StatusGatewayTimeout, maint: http.StatusServiceUnavailable} {
		resp := getRetry(t, http.DefaultClient, "http://"+addr+"/", nil)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", addr, resp.StatusCode, want)
		}
	}
	checkMetrics(t, admin, `bespoke_upstream_errors_total{route="slow",status="504"} 1`,
		`bespoke_requests_total{outcome="upstream_error",route="slow"} 1`,
		`bespoke_requests_total{outcome="passed_through",route="maint"} 1`)
}

// TestCaddyForwardedFor: the module is no hop: with the same trusted
// proxies as Caddy, the upstream gets the X-Forwarded-For it gets from
// Caddy alone (the peer once, not twice), and no Via of bespoke's.
func TestCaddyForwardedFor(t *testing.T) {
	rules := oneRule(t)
	got := make(chan string, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Forwarded-For") + " | " + r.Header.Get("Via")
	}))
	defer up.Close()
	ports := freePorts(t, 3)
	admin, with, without := ports[0], ports[1], ports[2]
	if err := load(t, globals(admin, "servers {\n\t\ttrusted_proxies static private_ranges\n\t}")+fmt.Sprintf(`http://%s {
	bespoke {
		rules %s
		secret "caddy test secret, 32 bytes long"
		cache_dir -
		trusted_proxies 127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 ::1/128 fc00::/7
	}
	reverse_proxy %s
}
http://%s {
	reverse_proxy %s
}
`, with, rules, strings.TrimPrefix(up.URL, "http://"), without, strings.TrimPrefix(up.URL, "http://"))); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	var seen []string
	for _, addr := range []string{with, without} {
		resp := getRetry(t, http.DefaultClient, "http://"+addr+"/", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
		resp.Body.Close()
		seen = append(seen, <-got)
	}
	if seen[0] != seen[1] {
		t.Errorf("the upstream got X-Forwarded-For | Via %q through the module, %q from Caddy alone", seen[0], seen[1])
	}
}

// TestCaddyRangeOverHTTP3: a GET over HTTP/3 has no length (quic-go reads
// one without Content-Length so): its Range still reaches the origin,
// as over HTTP/1.1.
func TestCaddyRangeOverHTTP3(t *testing.T) {
	rules := oneRule(t)
	clip := bytes.Repeat([]byte("0123456789"), 1000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "clip.mp4", time.Unix(1e9, 0), bytes.NewReader(clip))
	}))
	defer up.Close()
	ports := freePorts(t, 2)
	admin, site := ports[0], ports[1]
	_, port, _ := net.SplitHostPort(site)
	if err := load(t, fmt.Sprintf(`{
	admin %s
	persist_config off
	local_certs
	skip_install_trust
	storage file_system %s
	log {
		output discard
	}
	servers {
		protocols h1 h2 h3
	}
}
https://localhost:%s {
	tls internal
	bespoke {
		rules %s
		secret "caddy test secret, 32 bytes long"
		cache_dir -
	}
	reverse_proxy %s
}
`, admin, t.TempDir(), port, rules, strings.TrimPrefix(up.URL, "http://"))); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	tc := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
	for _, c := range []struct {
		name string
		tr   http.RoundTripper
	}{{"HTTP/1.1", &http.Transport{TLSClientConfig: tc}}, {"HTTP/3", &http3.Transport{TLSClientConfig: tc}}} {
		client := &http.Client{Transport: c.tr, Timeout: 10 * time.Second}
		resp := getRetry(t, client, "https://127.0.0.1:"+port+"/clip.mp4", http.Header{"Range": {"bytes=0-4"}, "Host": {"localhost"}})
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || string(b) != "01234" {
			t.Errorf("%s (%s): %d, %d bytes; want 206 and the 5 bytes asked for", c.name, resp.Proto, resp.StatusCode, len(b))
		}
	}
}

// globals is a Caddyfile's global options for a test: its admin endpoint
// at admin, no automatic HTTPS, no saved config, no log; and more.
func globals(admin string, more ...string) string {
	b := "{\n\tadmin " + admin + "\n\tauto_https off\n\tpersist_config off\n\tlog {\n\t\toutput discard\n\t}\n"
	for _, m := range more {
		b += "\t" + m + "\n"
	}
	return b + "}\n"
}

// oneRule writes a rule file that edits every page.
// goldRule writes a rule file whose rule reads the visitor (the X-Tier
// header they send), and returns its path.
func goldRule(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "gold.yaml")
	if err := os.WriteFile(f, []byte("rules:\n  - name: gold\n    when: header(\"X-Tier\") == \"gold\"\n    actions:\n      - set_inner: { select: \"#x\", text: hi }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func oneRule(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(f, []byte("rules:\n  - name: all\n    actions:\n      - set_inner: { select: \"#x\", text: hi }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// getRetry gets u with the headers h (Host sets the request's host), trying
// again while the listener Caddy loaded is not up yet.
func getRetry(t *testing.T, c *http.Client, u string, h http.Header) *http.Response {
	t.Helper()
	var err error
	for range 60 {
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range h {
			if k == "Host" {
				req.Host = v[0]
				continue
			}
			req.Header[k] = v
		}
		var resp *http.Response
		if resp, err = c.Do(req); err == nil {
			return resp
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(err)
	return nil
}

func TestCaddyfileRejects(t *testing.T) {
	for _, src := range []string{
		"bespoke {\n\tnope 1\n}",
		"bespoke {\n\tseen\n}",
		"bespoke a.yaml b.yaml",
		"bespoke {\n\twatch soon\n}",
		"bespoke {\n\twatch -1s\n}",
		"bespoke site.yaml {\n\trules other.yaml\n}",
	} {
		_, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(":0 {\n"+src+"\n}\n"), nil)
		if err == nil {
			t.Errorf("accepted %q", src)
		}
	}
}

func cards(body string) []string {
	var ids []string
	for _, part := range strings.Split(body, `data-item-id="`)[1:] {
		if i := strings.IndexByte(part, '"'); i > 0 {
			ids = append(ids, part[:i])
		}
	}
	return ids
}

func hasCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// checkMetrics scrapes the admin endpoint's /metrics until each of wants
// starts a line: a request is counted once its response is done, which
// may be just after the client has read it.
func checkMetrics(t *testing.T, admin string, wants ...string) {
	t.Helper()
	var missing []string
	var b []byte
	for range 100 {
		req, _ := http.NewRequest("GET", "http://"+admin+"/metrics", nil)
		req.Host = admin // the admin endpoint checks the Host header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("admin /metrics: %s\n%s", resp.Status, b)
		}
		missing = missing[:0]
		for _, w := range wants {
			if !strings.Contains("\n"+string(b), "\n"+w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("Caddy's /metrics lacks %q:\n%s", missing, b)
}

// echoSocket takes over the connection of a request to switch to the
// "echo" protocol and sends back each line it reads.
func echoSocket(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		rw.WriteString("echo: " + line)
		rw.Flush()
	}
}

// checkEcho asks addr to switch /socket to the echo protocol and checks
// that lines come back.
func checkEcho(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("the upgrade was answered %s: %s", resp.Status, b)
	}
	fmt.Fprint(conn, "ping\n")
	if got, err := br.ReadString('\n'); err != nil || got != "echo: ping\n" {
		t.Fatalf("after the upgrade: %q, %v", got, err)
	}
}

// TestCaddyEmptySecret: a secret naming an environment variable that is
// not set is told as such, not as a key too short.
func TestCaddyEmptySecret(t *testing.T) {
	addr := freePorts(t, 1)[0]
	err := load(t, fmt.Sprintf("{\n\tadmin off\n}\nhttp://%s {\n\tbespoke {\n\t\trules ../testdata/demo/rules.yaml\n\t\tsecret {env.BESPOKE_TEST_UNSET_SECRET}\n\t}\n\trespond ok\n}\n", addr))
	if err == nil || !strings.Contains(err.Error(), "secret {env.BESPOKE_TEST_UNSET_SECRET} is empty") {
		t.Fatalf("load: %v; want the secret told empty", err)
	}
}
