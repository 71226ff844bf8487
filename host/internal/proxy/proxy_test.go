package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/upstream"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/bespoke-edge/bespoke/plugin"
)

// env is a real origin and a real proxy on loopback.
type env struct {
	origin *httptest.Server
	proxy  *httptest.Server
	p      *proxy.Proxy
	eng    *engine.Engine
}

func newEnv(t *testing.T, origin http.Handler, rulesSrc []byte, opts ...func(*proxy.Config)) *env {
	t.Helper()
	e := &env{origin: httptest.NewServer(origin)}
	t.Cleanup(e.origin.Close)
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	e.eng = eng
	u, _ := url.Parse(e.origin.URL)
	cfg := proxy.Config{Origin: u, DebugHeaders: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	e.p = proxy.New(cfg)
	if rulesSrc != nil {
		e.load(t, "rules.yaml", rulesSrc)
	}
	e.proxy = httptest.NewServer(e.p)
	t.Cleanup(func() {
		e.proxy.Close()
		if s := e.p.Swap(nil); s != nil {
			s.Close(context.Background())
		}
		eng.Close(context.Background())
	})
	return e
}

func (e *env) load(t *testing.T, name string, src []byte) *site.Site {
	t.Helper()
	res, err := compiler.Compile(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return e.loadArtifact(t, res.Artifact)
}

func (e *env) loadArtifact(t *testing.T, art *plugin.Artifact) *site.Site {
	t.Helper()
	s, err := site.Load(context.Background(), e.eng, "test", art, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if old := e.p.Swap(s); old != nil {
		old.Retire()
	}
	return s
}

type response struct {
	*http.Response
	body string
}

func (e *env) get(t *testing.T, path string, headers ...string) response {
	t.Helper()
	return e.request(t, http.MethodGet, path, headers...)
}

// request is get with another method than GET.
func (e *env) request(t *testing.T, method, path string, headers ...string) response {
	t.Helper()
	req, _ := http.NewRequest(method, e.proxy.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp, string(b)}
}

func TestDemoFrance(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	r := e.get(t, "/", "CF-IPCountry", "FR", "User-Agent", chrome)
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	for _, want := range []string{`<h1 class="hero-title" lang="fr">Équipez-vous pour la saison`, "EUR €", "Free shipping across the EU", "New here? Join Northwind Club"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("French page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "Gear up for the season") {
		t.Error("French page still has the English hero title")
	}
	if cc := r.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("Cache-Control = %q, want private", cc)
	}
	if r.Header.Get("Content-Length") != "" && r.ContentLength != int64(len(r.body)) {
		t.Errorf("Content-Length %d for a body of %d bytes", r.ContentLength, len(r.body))
	}
	if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Cf-Ipcountry") {
		t.Errorf("Vary = %q, want it to name the country header", r.Header.Values("Vary"))
	}
	var vid *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == reqctx.VisitorCookie {
			vid = c
		}
	}
	if vid == nil || !vid.HttpOnly || vid.SameSite != http.SameSiteLaxMode {
		t.Fatalf("visitor cookie = %+v", vid)
	}
	if got := r.Header.Get("X-Bespoke-Rules"); !strings.Contains(got, "french-hero") {
		t.Errorf("X-Bespoke-Rules = %q", got)
	}

	// The second visit carries the cookie: a returning visitor.
	r2 := e.get(t, "/", "CF-IPCountry", "FR", "Cookie", vid.Name+"="+vid.Value)
	if !strings.Contains(r2.body, "Picked for you") || strings.Contains(r2.body, "New here?") {
		t.Error("a returning visitor does not see the returning-visitor page")
	}
	for _, c := range r2.Cookies() {
		if c.Name == reqctx.VisitorCookie {
			t.Error("the visitor cookie is set again for a returning visitor")
		}
	}
}

func TestDemoUnitedStates(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	r := e.get(t, "/", "CF-IPCountry", "US")
	for _, want := range []string{"Free 2-day shipping anywhere in the US", "Gear up for the season", "USD $"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("US page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "Équipez-vous") {
		t.Error("US page has the French hero")
	}
}

func TestRedirect(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	r := e.get(t, "/sale-2025")
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/sale" {
		t.Fatalf("status %d location %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestRedirectLoop: a rule that sends every French visitor to /fr/ would
// send them there from /fr/ too, forever; there the page is served, and
// the loop counted. A real client follows the redirect from / to the
// page.
func TestRedirectLoop(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, demo.Handler(), []byte(`rules:
  - name: french-site
    when: geo.country == "FR"
    actions:
      - redirect: /fr/
`), func(c *proxy.Config) { c.Metrics, c.Route = m, "shop" })
	if r := e.get(t, "/", "CF-IPCountry", "FR"); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/fr/" {
		t.Fatalf("/: status %d, location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := e.get(t, "/fr/", "CF-IPCountry", "FR"); r.StatusCode == http.StatusFound {
		t.Fatalf("/fr/ redirects to %q, itself", r.Header.Get("Location"))
	}
	if n := routeCounter(t, m, "bespoke_redirect_loops_total", "shop"); n != 1 {
		t.Errorf("%v loops counted, want 1", n)
	}
	req, _ := http.NewRequest(http.MethodGet, e.proxy.URL+"/", nil)
	req.Header.Set("CF-IPCountry", "FR")
	resp, err := http.DefaultClient.Do(req) // follows redirects, up to 10
	if err != nil {
		t.Fatalf("following the redirect: %v", err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/fr/" {
		t.Errorf("ended at %s, want /fr/", resp.Request.URL.Path)
	}
}

// TestRedirectKeepsItsFragment: the Location a rule's redirect sends is
// its target as rendered, which browsers resolve themselves. net/http's
// Redirect cleaned every target without a host as a path, fragment
// included, so a value in the fragment of "/help#{{ cookie('s') }}"
// moved the visitor to another page of the site (/../../admin took
// /help to /admin) and a "//" in it lost a slash.
func TestRedirectKeepsItsFragment(t *testing.T) {
	e := newEnv(t, demo.Handler(), []byte(`rules:
  - name: help
    when: path == "/old-help"
    actions:
      - redirect: "/help/faq#{{ cookie('s') }}"
  - name: search-help
    when: path == "/search-help"
    actions:
      - redirect: "/help/faq#{{ query('s') }}"
`))
	for _, tc := range []struct{ path, cookie, want string }{
		{"/old-help", "/../../admin", "/../../admin"},
		{"/old-help", "../../../x/./y", "../../../x/./y"},
		{"/old-help", "https://a.example//b", "https://a.example//b"},
		{"/search-help?s=" + url.QueryEscape("/../../admin?"), "", "/../../admin?"},
		{"/search-help?s=" + url.QueryEscape("#/..") + "&t=1", "", "%23/.."},
	} {
		var h []string
		if tc.cookie != "" {
			h = []string{"Cookie", "s=" + tc.cookie}
		}
		r := e.get(t, tc.path, h...)
		loc := r.Header.Get("Location")
		if r.StatusCode != http.StatusFound {
			t.Errorf("%s %q: status %d", tc.path, tc.cookie, r.StatusCode)
			continue
		}
		base, _ := url.Parse(e.proxy.URL + tc.path)
		u, err := base.Parse(loc)
		if err != nil || u.Path != "/help/faq" || u.EscapedFragment() != tc.want {
			t.Errorf("%s %q: Location %q leads to %s, fragment %q (%v); want /help/faq#%s", tc.path, tc.cookie, loc, u.Path, u.EscapedFragment(), err, tc.want)
		}
	}
}

// TestRedirectAnswersWhatItMatches: a redirect answers every request
// its rule matches, the page's style sheets and images as well as the
// page, as SYNTAX says: a rule that sends French visitors to /fr/ from
// every path but /fr/ sends their style sheet there too, in place of
// the CSS; one kept to the page it means leaves the style sheet alone.
func TestRedirectAnswersWhatItMatches(t *testing.T) {
	for _, tc := range []struct {
		when       string
		styleSheet int // the status of the style sheet
	}{
		{`geo.country == "FR" and not path starts_with "/fr/"`, http.StatusFound},
		{`geo.country == "FR" and path == "/"`, http.StatusOK},
	} {
		e := newEnv(t, demo.Handler(), []byte("rules:\n  - name: french-site\n    when: '"+tc.when+"'\n    actions:\n      - redirect: /fr/\n"))
		if r := e.get(t, "/", "CF-IPCountry", "FR", "Sec-Fetch-Dest", "document"); r.StatusCode != http.StatusFound {
			t.Errorf("%s: the page: %d, want a redirect", tc.when, r.StatusCode)
		}
		if r := e.get(t, "/static/site.css", "CF-IPCountry", "FR", "Sec-Fetch-Dest", "style"); r.StatusCode != tc.styleSheet {
			t.Errorf("%s: the style sheet: %d, want %d", tc.when, r.StatusCode, tc.styleSheet)
		}
	}
}

// TestRedirectKeepsTheFormAndTheQuery: a rule that sends French
// visitors to /fr/ sent a form's POST there too, as a 302 the browser
// follows with a GET, and what the form posted was lost; a CORS
// preflight got the redirect, which fails the request it asks for.
// They go on to the origin; a 307, which keeps the method, answers a
// POST. The visitor's query (a campaign's utm_ parameters) was dropped:
// it goes with the redirect.
func TestRedirectKeepsTheFormAndTheQuery(t *testing.T) {
	var got []string
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: french-site
    when: geo.country == "FR" and path == "/"
    actions:
      - redirect: /fr/
  - name: moved-api
    when: path == "/api/v1/order"
    actions:
      - redirect: { to: /api/v2/order, status: 307 }
`))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path, body string
		status             int
		location, origin   string
	}{
		{"GET", "/?utm_source=news", "", http.StatusFound, "/fr/?utm_source=news", ""},
		{"HEAD", "/", "", http.StatusFound, "/fr/", ""},
		{"POST", "/?step=2", "email=a%40b.example", http.StatusOK, "", "POST /?step=2 email=a%40b.example"},
		{"OPTIONS", "/", "", http.StatusOK, "", "OPTIONS / "},
		{"POST", "/api/v1/order", "{}", http.StatusTemporaryRedirect, "/api/v2/order", ""},
		{"OPTIONS", "/api/v1/order", "", http.StatusOK, "", "OPTIONS /api/v1/order "},
	} {
		got = nil
		req, _ := http.NewRequest(tc.method, e.proxy.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("CF-IPCountry", "FR")
		if tc.method == "OPTIONS" {
			req.Header.Set("Origin", "https://app.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: %d to %q, want %d to %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
		if want := []string{tc.origin}; tc.origin != "" && !slices.Equal(got, want) || tc.origin == "" && got != nil {
			t.Errorf("%s %s: the origin got %q, want %q", tc.method, tc.path, got, tc.origin)
		}
	}
}

func TestStaticFilesPassThrough(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	direct, err := http.Get(e.origin.URL + "/static/site.css")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(direct.Body)
	direct.Body.Close()
	r := e.get(t, "/static/site.css", "CF-IPCountry", "FR")
	if r.body != string(want) {
		t.Error("the stylesheet was changed on its way through")
	}
	if cc := r.Header.Get("Cache-Control"); cc != direct.Header.Get("Cache-Control") {
		t.Errorf("Cache-Control %q, origin sent %q", cc, direct.Header.Get("Cache-Control"))
	}
}

func TestHeadAndNotFound(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	req, _ := http.NewRequest(http.MethodHead, e.proxy.URL+"/", nil)
	req.Header.Set("CF-IPCountry", "FR")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD status %d", resp.StatusCode)
	}
	r := e.get(t, "/no/such/page", "CF-IPCountry", "FR")
	if r.StatusCode != 404 || strings.Contains(r.body, "Équipez-vous") {
		t.Errorf("404 page: status %d, rewritten: %v", r.StatusCode, strings.Contains(r.body, "Équipez-vous"))
	}
}

func TestGzipOrigin(t *testing.T) {
	page := `<html><body><h1 id="t">Hello</h1></body></html>`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(page))
		zw.Close()
	})
	e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n"))
	req, _ := http.NewRequest(http.MethodGet, e.proxy.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	if !bytes.Contains(b, []byte(`<h1 id="t">Bonjour</h1>`)) {
		t.Fatalf("body = %q", b)
	}
}

func TestOriginDownIs502(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	e.origin.Close()
	r := e.get(t, "/", "CF-IPCountry", "FR")
	if r.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", r.StatusCode)
	}
	if e.p.Stats().UpstreamErrors.Load() != 1 {
		t.Errorf("upstream errors = %d", e.p.Stats().UpstreamErrors.Load())
	}
}

// TestVisitorLeavesBeforeTheOrigin: a visitor who gives up while the
// origin is still thinking is an aborted request, not an origin failure.
func TestVisitorLeavesBeforeTheOrigin(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), demo.Rules())
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.proxy.URL+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("status %d, want the client to give up", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.p.Stats().Aborted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a, u := e.p.Stats().Aborted.Load(), e.p.Stats().UpstreamErrors.Load(); a != 1 || u != 0 {
		t.Errorf("aborted %d, upstream errors %d; want 1 and 0", a, u)
	}
}

// TestVisitorLeavesMidUpload: a visitor who leaves in the middle of an
// upload (its request's body cut short) is an aborted request, not an
// origin failure, whichever of the two the proxy notices first: the
// origin's request failing on the body, or the visitor's context ending.
func TestVisitorLeavesMidUpload(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}), demo.Rules())
	addr := strings.TrimPrefix(e.proxy.URL, "http://")
	for i := range 10 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		framing := "Content-Length: 1000000\r\n"
		if i%2 == 1 {
			framing = "Transfer-Encoding: chunked\r\n"
		}
		fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\n%s\r\n", framing)
		part := strings.Repeat("x", 100<<10)
		if i%2 == 1 {
			part = fmt.Sprintf("%x\r\n%s\r\n", len(part), part)
		}
		io.WriteString(c, part)
		c.Close()
		want := int64(i + 1)
		deadline := time.Now().Add(10 * time.Second)
		for e.p.Stats().Aborted.Load()+e.p.Stats().UpstreamErrors.Load() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if a, u := e.p.Stats().Aborted.Load(), e.p.Stats().UpstreamErrors.Load(); a != want || u != 0 {
			t.Fatalf("upload %d (%s): aborted %d, upstream errors %d; want %d and 0", i, strings.TrimSpace(framing), a, u, want)
		}
	}
}

// loadTrap loads a plugin that traps on every decision.
func (e *env) loadTrap(t *testing.T) {
	t.Helper()
	b, err := guest.Build(guest.Module{
		Manifest: plugin.Manifest{Compiler: "hand-written", Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}},
		Decide:   guest.Trap(),
	})
	if err != nil {
		t.Fatal(err)
	}
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	e.loadArtifact(t, art)
}

// TestTrappingPluginFailsOpen: a plugin that traps on every decision must
// never cost the visitor the page. Every failure is counted, and a few
// are logged: warnBurst of a period, then one with left_out, the lines
// not logged since.
func TestTrappingPluginFailsOpen(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, demo.Handler(), nil, func(c *proxy.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	proxy.ShortenWarnPeriod(e.p, 300*time.Millisecond)
	e.loadTrap(t)
	get := func() {
		r := e.get(t, "/", "CF-IPCountry", "FR")
		if r.StatusCode != 200 || !strings.Contains(r.body, "Gear up for the season") {
			t.Fatalf("status %d; want the original page", r.StatusCode)
		}
	}
	for range 25 {
		get()
	}
	time.Sleep(400 * time.Millisecond) // the period ends
	get()
	if got := e.p.Stats().FailOpen.Load(); got != 26 {
		t.Errorf("fail-open count = %d, want 26", got)
	}
	var lines, leftOut int
	for l := range strings.Lines(logs.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil || rec["msg"] != "plugin failed, serving the page unpersonalized" {
			continue
		}
		lines++
		if n, ok := rec["left_out"].(float64); ok {
			leftOut += int(n)
		}
	}
	// 10 of the first 25 in one period, then the last with the 15 others
	// (a slow machine may take more than a period for the 25).
	if leftOut == 0 || lines+leftOut != 26 {
		t.Errorf("%d lines logged, %d left out; want 11 and 15 for 26 failures:\n%s", lines, leftOut, logs.String())
	}
}

// TestFailedPluginPageNotShared: a page served as the origin sent it
// because the plugin failed is no page a shared cache may keep: it would
// serve it unpersonalized to every visitor after, for as long as the
// origin allows, though the plugin runs again on the next request.
// Cache-Control becomes private and the CDN's own headers go, as for a
// personalized page; with a working plugin, the same page the rules
// leave alone stays public.
func TestFailedPluginPageNotShared(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Surrogate-Control", "max-age=3600")
		io.WriteString(w, `<html><body><h1 id="t">Welcome</h1></body></html>`)
	})
	e := newEnv(t, origin, []byte("rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions:\n      - set_inner: { select: \"#t\", text: Bienvenue }\n"))
	r := e.get(t, "/", "CF-IPCountry", "DE")
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=600" || r.Header.Get("Surrogate-Control") == "" {
		t.Fatalf("a page the rules leave alone: Cache-Control %q, Surrogate-Control %q", cc, r.Header.Get("Surrogate-Control"))
	}
	e.loadTrap(t)
	r = e.get(t, "/", "CF-IPCountry", "DE")
	if r.StatusCode != 200 || !strings.Contains(r.body, "Welcome") {
		t.Fatalf("status %d %q; want the original page", r.StatusCode, r.body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "private, max-age=600" || r.Header.Get("Surrogate-Control") != "" {
		t.Errorf("the page of a failed plugin: Cache-Control %q, Surrogate-Control %q; want private, and none", cc, r.Header.Get("Surrogate-Control"))
	}
}

func TestNoPluginIsPlainProxy(t *testing.T) {
	e := newEnv(t, demo.Handler(), nil)
	r := e.get(t, "/", "CF-IPCountry", "FR")
	if r.StatusCode != 200 || !strings.Contains(r.body, "Gear up for the season") {
		t.Fatalf("status %d", r.StatusCode)
	}
}

func TestRequestAndResponseHeaders(t *testing.T) {
	var seen http.Header
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	src := `rules:
  - name: r
    when: geo.country == "FR"
    actions:
      - set_header: { name: X-Country, value: "{{ geo.country }}", on: request }
      - set_header: { name: X-Personalized, value: "yes" }
      - set_cookie: { name: seen_fr, value: "1", max_age: 1d }
`
	e := newEnv(t, origin, []byte(src))
	r := e.get(t, "/", "CF-IPCountry", "FR")
	if seen.Get("X-Country") != "FR" {
		t.Errorf("origin saw X-Country %q", seen.Get("X-Country"))
	}
	if seen.Get("X-Forwarded-For") == "" {
		t.Error("origin saw no X-Forwarded-For")
	}
	if r.Header.Get("X-Personalized") != "yes" {
		t.Errorf("response header %q", r.Header.Get("X-Personalized"))
	}
	found := false
	for _, c := range r.Cookies() {
		if c.Name == "seen_fr" && c.Value == "1" && c.MaxAge == 86400 {
			found = true
		}
	}
	if !found {
		t.Errorf("cookies = %v", r.Cookies())
	}
	if !strings.HasPrefix(r.Header.Get("Cache-Control"), "private") {
		t.Errorf("a response with a rule's header and cookie is not private: %q", r.Header.Get("Cache-Control"))
	}
}

// TestRequestHeaderIsTheRulesWord: a header a rule sets on the request
// is one the origin reads as the rules' word (X-Tier: gold serves what
// gold members get), so a visitor's own is taken out of every request,
// also under the spelling CGI-style origins read as the same (X_Tier).
// A visitor who sent X-Tier: gold was served as gold where no rule said
// so. A standard field a browser sends (Accept-Language) keeps the
// visitor's value when no rule sets it.
func TestRequestHeaderIsTheRulesWord(t *testing.T) {
	var seen http.Header
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: gold
    when: cookie("plan") == "gold"
    actions:
      - set_header: { name: X-Tier, value: gold, on: request }
  - name: french
    when: geo.country == "FR"
    actions:
      - set_header: { name: Accept-Language, value: fr, on: request }
`))
	for _, tc := range []struct {
		name    string
		headers []string
		tier    []string
		lang    string
	}{
		{"a visitor's own", []string{"X-Tier", "gold"}, nil, ""},
		{"underscored", []string{"X_Tier", "gold"}, nil, ""},
		{"the rule's in place of the visitor's", []string{"Cookie", "plan=gold", "X-Tier", "platinum", "X-Tier", "staff"}, []string{"gold"}, ""},
		{"a browser's field stays", []string{"Accept-Language", "de"}, nil, "de"},
		{"a browser's field the rule sets", []string{"Accept-Language", "de", "CF-IPCountry", "FR"}, nil, "fr"},
	} {
		seen = nil
		e.get(t, "/", tc.headers...)
		if seen == nil {
			t.Fatalf("%s: the origin was not asked", tc.name)
		}
		if got := seen.Values("X-Tier"); !slices.Equal(got, tc.tier) {
			t.Errorf("%s: origin saw X-Tier %q, want %q", tc.name, got, tc.tier)
		}
		if got := seen.Get("X_tier"); got != "" {
			t.Errorf("%s: origin saw X_Tier %q", tc.name, got)
		}
		if got := seen.Get("Accept-Language"); got != tc.lang {
			t.Errorf("%s: origin saw Accept-Language %q, want %q", tc.name, got, tc.lang)
		}
	}
}

// TestRuleHeaderReplacesTheOneSetBefore: a header a rule sets replaces
// the one a handler before the proxy set on the visitor's response
// (Caddy's header directive, a program's middleware), as it replaces the
// origin's: it went out beside it, X-Frame-Options: DENY and SAMEORIGIN,
// which browsers read as DENY. Headers the rules do not set stay.
func TestRuleHeaderReplacesTheOneSetBefore(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Segment", "origin")
		io.WriteString(w, `<p id="x">Hello</p>`)
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: embeddable
    when: path == "/widget"
    actions:
      - set_header: { name: X-Frame-Options, value: SAMEORIGIN }
      - set_header: { name: x-segment, value: club }
`))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Robots-Tag", "noindex")
		e.p.ServeHTTP(w, r)
	}))
	defer front.Close()
	t.Cleanup(e.proxy.Close)
	e.proxy = front
	for path, want := range map[string][]string{"/widget": {"SAMEORIGIN"}, "/": {"DENY"}} {
		r := e.get(t, path)
		if got := r.Header.Values("X-Frame-Options"); !slices.Equal(got, want) {
			t.Errorf("%s: X-Frame-Options %q, want %q", path, got, want)
		}
		if got := r.Header.Values("X-Robots-Tag"); !slices.Equal(got, []string{"noindex"}) {
			t.Errorf("%s: X-Robots-Tag %q, want the one set before", path, got)
		}
	}
	if got := e.get(t, "/widget").Header.Values("X-Segment"); !slices.Equal(got, []string{"club"}) {
		t.Errorf("X-Segment %q, want the rule's alone", got)
	}
}

// TestPrefixedCookiesAreSecure: a cookie named __Host- or __Secure- is
// kept by browsers only with Secure (RFC 6265bis 4.1.3), so a rule's
// goes out with it on every response, also where the proxy does not see
// the visitor's TLS (a load balancer in front ends it, not named among
// the trusted proxies), which a browser would drop; other cookies get
// Secure over HTTPS alone.
func TestPrefixedCookiesAreSecure(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: r
    actions:
      - set_cookie: { name: __Host-pref, value: dark, max_age: 30d }
      - set_cookie: { name: __Secure-ab, value: b }
      - set_cookie: { name: plain, value: "1" }
`))
	r := e.get(t, "/")
	got := map[string]bool{}
	for _, c := range r.Cookies() {
		got[c.Name] = c.Secure
	}
	for name, secure := range map[string]bool{"__Host-pref": true, "__Secure-ab": true, "plain": false} {
		if s, ok := got[name]; !ok || s != secure {
			t.Errorf("cookie %s: set %v, Secure %v; want set, Secure %v (%q)", name, ok, s, secure, r.Header.Values("Set-Cookie"))
		}
	}
}

func TestBrokenCookiesAreIgnored(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	r := e.get(t, "/", "CF-IPCountry", "FR", "Cookie", `bsk_vid=%%%broken; club="gold; cart_items=99999999999999999999999999`)
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	replaced := false
	for _, c := range r.Cookies() {
		if c.Name == reqctx.VisitorCookie && len(c.Value) == 22 {
			replaced = true
		}
	}
	if !replaced {
		t.Error("a broken visitor cookie was not replaced")
	}
}

func TestGlobalPrivacyControl(t *testing.T) {
	e := newEnv(t, demo.Handler(), demo.Rules())
	r := e.get(t, "/", "Sec-GPC", "1")
	for _, c := range r.Cookies() {
		if c.Name == reqctx.VisitorCookie {
			t.Fatal("a visitor id cookie was written despite Sec-GPC: 1")
		}
	}
}

// TestCrossSitePostKeepsTheVisitorID: a form another site posts to a
// page (a payment's or a login's return) comes without the SameSite=Lax
// visitor id, and the browser stores the cookie its response sets: a new
// id there replaced the visitor's, and with it their experiments'
// variants, and its seen-filter and caps cookies the visitor's. Such a
// request gets an id for itself alone and writes none of them, as for a
// visitor who declined; the others without an id get one kept.
func TestCrossSitePostKeepsTheVisitorID(t *testing.T) {
	// The demo's pages, whatever the method (a shop's return page takes
	// the POST).
	demoPages := demo.Handler()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.Method = http.MethodGet
		demoPages.ServeHTTP(w, r2)
	})
	seenStore, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	capStore, err := caps.New([]byte("caps-key-0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, origin, demo.Rules(), func(c *proxy.Config) { c.Seen, c.Caps = seenStore, capStore })
	for _, tt := range []struct {
		method, site string
		set          bool
	}{
		{http.MethodPost, "cross-site", false},
		{http.MethodPost, "Cross-Site", false},
		{http.MethodPut, "cross-site", false},
		{http.MethodPost, "same-origin", true},
		{http.MethodPost, "", true},
		{http.MethodGet, "cross-site", true}, // a link followed carries the cookie: none came
	} {
		req, _ := http.NewRequest(tt.method, e.proxy.URL+"/", strings.NewReader("paid=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
		if tt.site != "" {
			req.Header.Set("Sec-Fetch-Site", tt.site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		set := false
		var tracking []string
		for _, c := range resp.Cookies() {
			set = set || c.Name == reqctx.VisitorCookie
			if strings.HasPrefix(c.Name, "bsk_") {
				tracking = append(tracking, c.Name)
			}
		}
		if resp.StatusCode != http.StatusOK || set != tt.set {
			t.Errorf("%s with Sec-Fetch-Site %q: status %d, visitor id set %v, want %v", tt.method, tt.site, resp.StatusCode, set, tt.set)
		}
		// The seen-filter and the caps counts are the visitor's too:
		// none is written over theirs.
		if !tt.set && len(tracking) > 0 {
			t.Errorf("%s with Sec-Fetch-Site %q: cookies %q written over the visitor's", tt.method, tt.site, tracking)
		}
		if tt.set && len(tracking) < 3 {
			t.Errorf("%s with Sec-Fetch-Site %q: cookies %q, want the visitor id, the seen-filter and the caps", tt.method, tt.site, tracking)
		}
	}
}

// TestCutTransfersAreLoggedAndCounted: a transfer cut mid-body, by an
// origin that breaks off (a page passed as it came, and one being
// rewritten) or by a visitor who goes away, is logged once in the access
// log and counted once in bespoke_requests_total, as aborted; the
// origin's break is a warning that names the route and the path.
func TestCutTransfersAreLoggedAndCounted(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow.txt":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, strings.Repeat("x", 100))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		case "/cut.html":
			// With its charset: the start of the page, rewritten, goes
			// before the break (see TestOriginBreaksOffBeforeAnythingIsSent
			// for a page held whole).
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "text/plain")
		}
		// Promise more than is sent, then close the connection.
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, `<!doctype html><p id="t">Hello</p>`)
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	})
	var logs syncbuf.Buffer
	m := metrics.New()
	e := newEnv(t, origin, []byte(`rules:
  - name: greet
    actions:
      - set_inner: { select: "#t", text: Bonjour }
`), func(c *proxy.Config) {
		c.Logger, c.AccessLog, c.Metrics, c.Route = slog.New(slog.NewTextHandler(&logs, nil)), true, m, "shop"
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, path := range []string{"/cut.txt", "/cut.html", "/slow.txt"} {
		resp, err := client.Get(e.proxy.URL + path)
		switch {
		case err != nil && path == "/slow.txt":
			t.Fatal(err)
		case err != nil:
			// Cut before the start of the body left net/http's buffer.
		case path == "/slow.txt":
			// The visitor reads a little, then goes away.
			io.ReadFull(resp.Body, make([]byte, 10))
			resp.Body.Close()
		default:
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Errorf("%s: the body came whole", path)
			}
			resp.Body.Close()
		}
		access := regexp.MustCompile(`msg=request route=shop method=GET path=` + regexp.QuoteMeta(path) + ` status=200 .*outcome=aborted`)
		deadline := time.Now().Add(10 * time.Second)
		for !access.MatchString(logs.String()) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := len(access.FindAllString(logs.String(), -1)); n != 1 {
			t.Errorf("%s: %d access log lines saying aborted, want 1:\n%s", path, n, logs.String())
		}
		broke := `level=WARN msg="the origin broke off the response body; the transfer to the visitor is cut" route=shop path=` + path
		if got := strings.Count(logs.String(), broke); path != "/slow.txt" && got != 1 || path == "/slow.txt" && got != 0 {
			t.Errorf("%s: %d warnings that the origin broke off:\n%s", path, got, logs.String())
		}
	}
	if strings.Contains(logs.String(), "level=WARN msg=\"httputil:") {
		t.Errorf("ReverseProxy's own line, without route or path, is a warning:\n%s", logs.String())
	}
	if got := requestsTotal(t, m, "shop", metrics.Aborted); got != 3 {
		t.Errorf("bespoke_requests_total{outcome=aborted} = %v, want 3", got)
	}
	if got := e.p.Stats().Aborted.Load(); got != 3 {
		t.Errorf("Stats().Aborted = %d, want 3", got)
	}
}

// requestsTotal reads bespoke_requests_total for a route and outcome.
func requestsTotal(t *testing.T, m *metrics.Metrics, route, outcome string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range fams {
		if f.GetName() != "bespoke_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["outcome"] == outcome {
				total += s.GetCounter().GetValue()
			}
		}
	}
	return total
}

// routeCounter reads a counter of one route.
func routeCounter(t *testing.T, m *metrics.Metrics, name, route string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRefusedAndLoopsByRoute: refused values and redirects not made
// (they pointed to the page requested) are counted under their route.
func TestRefusedAndLoopsByRoute(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<a id="a" href="/x">x</a>`)
	}), []byte(`rules:
  - name: back
    when: path == "/loop"
    actions:
      - redirect: /loop
  - name: link
    actions:
      - set_attr: { select: "#a", name: href, value: '{{ query("to") or "/buy" }}', schemes: [https, relative] }
`), func(c *proxy.Config) { c.Metrics, c.Route = m, "shop" })
	for _, path := range []string{"/loop", "/loop", "/?to=javascript:alert(1)", "/?to=/fine"} {
		resp, err := http.Get(e.proxy.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if got := routeCounter(t, m, "bespoke_redirect_loops_total", "shop"); got != 2 {
		t.Errorf("bespoke_redirect_loops_total{route=shop} = %v, want 2", got)
	}
	if got := routeCounter(t, m, "bespoke_refused_values_total", "shop"); got != 1 {
		t.Errorf("bespoke_refused_values_total{route=shop} = %v, want 1", got)
	}
}

// TestListPastTheRewriteBuffer: a list longer than the rewrite's memory
// bound cannot be held whole, so its limit is not applied; that is
// counted (rewrite_buffer), not silent, and the edits before the list
// stay.
func TestListPastTheRewriteBuffer(t *testing.T) {
	var page strings.Builder
	page.WriteString(`<html><body><p id="announce">old</p><ul>`)
	for i := range 3000 {
		fmt.Fprintf(&page, `<li class="card" data-id="%d">item %d</li>`, i, i)
	}
	page.WriteString(`</ul></body></html>`)
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page.String())
	}), []byte(`rules:
  - name: r
    actions:
      - set_inner: { select: "#announce", text: new }
      - limit: { select: "li.card", n: 5 }
`), func(c *proxy.Config) { c.RewriteBuffer = 32 << 10 })
	r := e.get(t, "/")
	if !strings.Contains(r.body, `<p id="announce">new</p>`) || strings.Count(r.body, `<li class="card"`) != 3000 {
		t.Errorf("want the edit before the list, and the list whole: %d items", strings.Count(r.body, `<li class="card"`))
	}
	if n := e.p.Stats().Limited.Load(); n != 1 {
		t.Errorf("%d bodies counted as limited, want 1", n)
	}
}

// TestListPastTheRewriteBufferOnALargePage: a page whose list passed
// rewrite_buffer and which then passes max_rewrite_bytes is one body the
// rewriter gave up on, counted and logged once, for the list: the limit
// on bytes stopped no rewrite.
func TestListPastTheRewriteBufferOnALargePage(t *testing.T) {
	var page strings.Builder
	page.WriteString(`<html><body><p id="announce">old</p><ul>`)
	for i := range 3000 {
		fmt.Fprintf(&page, `<li class="card" data-id="%d">item %d</li>`, i, i)
	}
	page.WriteString(`</ul>`)
	page.WriteString(strings.Repeat("<p>more</p>", 20000))
	page.WriteString(`</body></html>`)
	var logs syncbuf.Buffer
	m := metrics.New()
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.(http.Flusher).Flush() // chunked: no length to refuse it by
		io.WriteString(w, page.String())
	}), []byte(`rules:
  - name: r
    actions:
      - set_inner: { select: "#announce", text: new }
      - limit: { select: "li.card", n: 5 }
`), func(c *proxy.Config) {
		c.RewriteBuffer, c.MaxRewriteBytes = 32<<10, 128<<10
		c.Logger, c.Metrics, c.Route = slog.New(slog.NewTextHandler(&logs, nil)), m, "shop"
	})
	r := e.get(t, "/")
	if r.body != strings.Replace(page.String(), ">old<", ">new<", 1) {
		t.Errorf("want the edit before the list, and the rest as the origin sent it")
	}
	if n := e.p.Stats().Limited.Load(); n != 1 {
		t.Errorf("%d bodies counted as limited, want 1", n)
	}
	if n := strings.Count(logs.String(), "rewritten only in part"); n != 1 || !strings.Contains(logs.String(), "reason=rewrite_buffer") {
		t.Errorf("logged %d times, want once, for rewrite_buffer:\n%s", n, logs.String())
	}
}

// TestOriginRedirectStaysOnTheProxy: the origin, asked with its own
// Host, redirects to an absolute URL on itself; the visitor is sent to
// the same path on the proxy, and never sees the origin's address. A
// redirect elsewhere is left as it is.
func TestOriginRedirectStaysOnTheProxy(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "http://"+r.Host+"/new?x=1", http.StatusMovedPermanently)
		case "/away":
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}
	}), demo.Rules())
	if r := e.get(t, "/old"); r.StatusCode != 301 || r.Header.Get("Location") != "/new?x=1" {
		t.Errorf("status %d, Location %q; want 301 to /new?x=1", r.StatusCode, r.Header.Get("Location"))
	}
	if r := e.get(t, "/away"); r.Header.Get("Location") != "https://elsewhere.example/" {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
}

// TestOriginStallsMidBody: an origin that sends the start of a page and
// then nothing has the transfer cut after the read timeout, logged with
// the reason and counted as aborted, rather than holding the visitor.
func TestOriginStallsMidBody(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><p id="t">Hello</p>`+strings.Repeat("<p>more</p>", 500))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var logs syncbuf.Buffer
	m := metrics.New()
	tr := upstream.New(proxy.NewTransport())
	tr.ReadTimeout = 200 * time.Millisecond
	e := newEnv(t, origin, []byte(`rules:
  - name: greet
    actions:
      - set_inner: { select: "#t", text: Bonjour }
`), func(c *proxy.Config) {
		c.Logger, c.AccessLog, c.Metrics, c.Route, c.Transport = slog.New(slog.NewTextHandler(&logs, nil)), true, m, "shop", tr
	})
	start := time.Now()
	resp, err := http.Get(e.proxy.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || !strings.Contains(string(body), "Bonjour") {
		t.Fatalf("a stalling origin: %v, %d bytes (Bonjour: %v); want the start, rewritten, then a cut", err, len(body), strings.Contains(string(body), "Bonjour"))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut after %v", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "outcome=aborted") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "the origin stalled in the middle of the response body") || !strings.Contains(logs.String(), "read timeout") {
		t.Errorf("no warning that the origin stalled:\n%s", logs.String())
	}
	if got := requestsTotal(t, m, "shop", metrics.Aborted); got != 1 {
		t.Errorf("bespoke_requests_total{outcome=aborted} = %v, want 1", got)
	}
}

// TestMaxForwards: a TRACE or OPTIONS with Max-Forwards: 0 is answered
// by the proxy, the final recipient (RFC 9110 7.6.2), and never reaches
// the origin; with more, the origin gets one less.
func TestMaxForwards(t *testing.T) {
	var mu sync.Mutex
	var got []string
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.Header.Get("Max-Forwards"))
		mu.Unlock()
	}), nil)
	for _, tc := range []struct {
		method, maxForwards string
		status              int
		origin              string // what the origin saw, "" for nothing
	}{
		{"OPTIONS", "0", http.StatusOK, ""},
		{"TRACE", "0", http.StatusMethodNotAllowed, ""},
		{"OPTIONS", "5", http.StatusOK, "OPTIONS 4"},
		{"TRACE", "1", http.StatusOK, "TRACE 0"},
		{"GET", "0", http.StatusOK, "GET 0"}, // only TRACE and OPTIONS count it
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		req, _ := http.NewRequest(tc.method, e.proxy.URL+"/x", nil)
		req.Header.Set("Max-Forwards", tc.maxForwards)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		if resp.StatusCode != tc.status || strings.Join(got, ",") != tc.origin {
			t.Errorf("%s with Max-Forwards %s: %d, the origin saw %q; want %d, %q", tc.method, tc.maxForwards, resp.StatusCode, got, tc.status, tc.origin)
		}
		mu.Unlock()
	}
}
