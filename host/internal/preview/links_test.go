package preview_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/compiler"
)

func TestTokens(t *testing.T) {
	l := preview.NewLinks([]byte("a key of at least sixteen bytes"))
	p := preview.Preview{Variants: map[string]string{"hero-test": "bold"}, Buckets: map[string]int{"k": 5000}, At: time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)}
	tok := l.Token(p)
	got, ok := l.Parse(tok)
	if !ok || got.Buckets["k"] != 5000 || !got.At.Equal(p.At) || got.Label() != "hero-test=bold; at=2026-12-24T18:00:00Z" {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	forged := strings.Replace(payload, payload[len(payload)/2:len(payload)/2+1], "A", 1) + "." + sig
	for name, bad := range map[string]string{
		"forged":    forged,
		"other key": preview.NewLinks([]byte("another key of sixteen bytes")).Token(p),
		"expired":   l.Token(preview.Preview{Expires: time.Now().Add(-time.Minute)}),
		"garbage":   "not a token",
		"empty":     "",
	} {
		if _, ok := l.Parse(bad); ok && bad != tok {
			t.Errorf("%s token accepted", name)
		}
	}
}

// TestLinkKeepsTheFragmentLast: the token goes in the query, before the
// #fragment, which browsers do not send (RFC 3986 3.5).
func TestLinkKeepsTheFragmentLast(t *testing.T) {
	l := preview.NewLinks([]byte("a key of at least sixteen bytes"))
	for base, want := range map[string]string{
		"http://p.test/stores#lyon":     "http://p.test/stores?" + preview.Param + "=",
		"http://p.test/stores?a=1#lyon": "http://p.test/stores?a=1&" + preview.Param + "=",
		"http://p.test/stores":          "http://p.test/stores?" + preview.Param + "=",
	} {
		link := l.Link(base, preview.Preview{})
		u, err := url.Parse(link)
		if err != nil || !strings.HasPrefix(link, want) || u.Query().Get(preview.Param) == "" || strings.Contains(base, "#") != (u.Fragment == "lyon") {
			t.Errorf("Link(%q) = %q", base, link)
		}
	}
}

// TestLinksThroughTheProxy opens a preview link through a real proxy: the
// variant and time are forced, the response is private and named, the
// token leaves the URL for a cookie that keeps the preview on, and "off"
// ends it. Without a valid token nothing is forced.
func TestLinksThroughTheProxy(t *testing.T) {
	var mu sync.Mutex
	var originQueries []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		originQueries = append(originQueries, r.URL.RawQuery+"|"+r.Header.Get("Cookie"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, `<html><head></head><body><h1>Hello</h1></body></html>`)
	}))
	defer origin.Close()
	src := []byte(`experiments:
  - name: hero-test
    variants: { control: 90, bold: 10 }
rules:
  - name: bold
    when: variant("hero-test") == "bold"
    actions: [add_class: { select: body, class: bold }]
  - name: christmas
    when: now >= "2026-12-24T00:00:00Z" and now < "2026-12-26T00:00:00Z"
    actions: [set_inner: { select: h1, text: Merry Christmas }]
`)
	res, err := compiler.Compile("rules.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := engine.New(engine.Config{CacheDir: "-"})
	defer eng.Close(context.Background())
	s, err := site.Load(context.Background(), eng, "rules.yaml", res.Artifact, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(origin.URL)
	p := proxy.New(proxy.Config{Origin: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(s)
	defer p.Swap(nil)
	links := preview.NewLinks([]byte("the proxy's secret, 32 bytes ok"))
	srv := httptest.NewServer(links.Wrap(p))
	defer srv.Close()

	// A visitor who is in control without the link.
	id := ""
	for i := 0; id == ""; i++ {
		cand := visit.DerivedID("link " + string(rune('a'+i)))
		vr, err := visit.Run(context.Background(), s, res.Program, visit.Spec{Visitor: cand})
		if err != nil {
			t.Fatal(err)
		}
		if vr.Variant(0) == "control" {
			id = cand
		}
	}
	jar, _ := cookiejar.New(nil)
	su, _ := url.Parse(srv.URL)
	jar.SetCookies(su, []*http.Cookie{{Name: reqctx.VisitorCookie, Value: id}})
	client := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, _ := get("/")
	if resp.Header.Get(plan.ExperimentsHeader) != "hero-test=control" || resp.Header.Get(preview.Header) != "" {
		t.Fatalf("without a link: %v", resp.Header)
	}
	buckets, err := visit.Buckets(res.Program, map[string]string{"hero-test": "bold"})
	if err != nil {
		t.Fatal(err)
	}
	link := links.Link(srv.URL+"/?a=1", preview.Preview{Variants: map[string]string{"hero-test": "bold"}, Buckets: buckets, At: time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)})
	resp, err = client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.Header.Get(plan.ExperimentsHeader) != "hero-test=bold" || !strings.Contains(body, `class="bold"`) || !strings.Contains(body, "Merry Christmas") {
		t.Fatalf("with the link: %v\n%s", resp.Header, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if h := resp.Header.Get(preview.Header); h != "hero-test=bold; at=2026-12-24T18:00:00Z" {
		t.Errorf("%s: %q", preview.Header, h)
	}
	mu.Lock()
	last := originQueries[len(originQueries)-1]
	mu.Unlock()
	if strings.Contains(last, preview.Param) || !strings.HasPrefix(last, "a=1|") {
		t.Errorf("the origin saw %q", last)
	}
	// The cookie keeps the preview on for the next page.
	resp, _ = get("/next")
	if resp.Header.Get(plan.ExperimentsHeader) != "hero-test=bold" {
		t.Errorf("next page: %v", resp.Header)
	}
	mu.Lock()
	last = originQueries[len(originQueries)-1]
	mu.Unlock()
	if strings.Contains(last, preview.Cookie) {
		t.Errorf("the origin saw the preview cookie: %q", last)
	}
	resp, _ = get("/?" + preview.Param + "=off")
	if resp.Header.Get(plan.ExperimentsHeader) != "hero-test=control" {
		t.Errorf("after off: %v", resp.Header)
	}
	if resp, _ = get("/"); resp.Header.Get(plan.ExperimentsHeader) != "hero-test=control" {
		t.Errorf("the preview cookie outlived off: %v", resp.Header)
	}
	forged := strings.Replace(link, "bsk_preview=e", "bsk_preview=f", 1)
	if resp, _ = get(strings.TrimPrefix(forged, srv.URL)); resp.Header.Get(plan.ExperimentsHeader) != "hero-test=control" {
		t.Errorf("a forged link forced a variant: %v", resp.Header)
	}
}

// TestPreviewOffersLinks: the preview of a served route links to the proxy
// with its forced variants and time.
func TestPreviewOffersLinks(t *testing.T) {
	links := preview.NewLinks([]byte("the proxy's secret, 32 bytes ok"))
	e := newEnv(t, rulesV1, links, "http://localhost:8080")
	st := e.state(t, "url=/stores&v.hero-test=bold&at=2026-12-24T18:00:00Z")
	prefix := "http://localhost:8080/stores?" + preview.Param + "="
	if !strings.HasPrefix(st.Link, prefix) {
		t.Fatalf("link %q", st.Link)
	}
	tok, _ := url.QueryUnescape(strings.TrimPrefix(st.Link, prefix))
	p, ok := links.Parse(tok)
	if !ok || p.Variants["hero-test"] != "bold" || len(p.Buckets) != 1 || !p.At.Equal(time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("token %+v %v", p, ok)
	}
	if page := e.get(t, "/?v.hero-test=bold"); !strings.Contains(page, `id="proxy-link"`) {
		t.Error("the page offers no link")
	}
}

// TestRoutesBelowTheRoot: a target whose route serves /blog/ starts
// there, and its proxy links have the route's path once; switching
// targets keeps the visitor.
func TestRoutesBelowTheRoot(t *testing.T) {
	links := preview.NewLinks([]byte("the proxy's secret, 32 bytes ok"))
	origin := httptest.NewServer(preview.StaticOrigin(pages))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	src := func() ([]byte, error) { return []byte(rulesV1), nil }
	pv, err := preview.New([]preview.Target{
		{Name: "shop", File: "shop.yaml", Read: src, Origin: u, Links: links, Proxy: "http://localhost:8080"},
		{Name: "blog", File: "blog.yaml", Read: src, Origin: u, Links: links, Proxy: "http://localhost:8080", Path: "/blog/"},
	}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	for _, tc := range []struct{ query, link string }{
		{"t=1&url=/blog/old", "http://localhost:8080/blog/old?"},
		{"t=1", "http://localhost:8080/blog/?"},
		{"t=0", "http://localhost:8080/?"},
	} {
		rec := httptest.NewRecorder()
		pv.ServeHTTP(rec, loopbackRequest("/state?"+tc.query))
		var st preview.State
		json.Unmarshal(rec.Body.Bytes(), &st)
		if !strings.HasPrefix(st.Link, tc.link+preview.Param+"=") {
			t.Errorf("%s: link %q, want it to start %q", tc.query, st.Link, tc.link)
		}
	}
	rec := httptest.NewRecorder()
	pv.ServeHTTP(rec, loopbackRequest("/?t=0&country=FR&url=/stores"))
	if want := `href="/?country=FR&amp;device=desktop&amp;t=1">blog</a>`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the page's switch to the blog lacks %q:\n%s", want, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	pv.ServeHTTP(rec, loopbackRequest("/frame?side=before&t=1"))
	if want := `<base href="` + origin.URL + `/blog/">`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the blog's frame lacks %q", want)
	}
}

// TestEndingAPreviewIsPrivate: the response that clears a preview cookie
// (?bsk_preview=off, or a cookie whose token expired or was not signed
// with the key) is kept by no shared cache: one would give its
// Set-Cookie to every visitor after. The page comes as the proxy made
// it otherwise, and a request without a preview keeps the origin's
// Cache-Control.
func TestEndingAPreviewIsPrivate(t *testing.T) {
	links := preview.NewLinks([]byte("the proxy's secret, 32 bytes ok"))
	expired := links.Token(preview.Preview{Expires: time.Now().Add(-time.Hour)})
	other := preview.NewLinks([]byte("another proxy's secret, 32 bytes")).Token(preview.Preview{})
	h := links.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("CDN-Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<p>page</p>")
	}))
	for _, tc := range []struct {
		name, target, cookie string
		cleared              bool
	}{
		{"no preview", "/", "", false},
		{"off", "/?" + preview.Param + "=off", "", true},
		{"off with the cookie", "/?" + preview.Param + "=off", preview.Cookie + "=" + expired, true},
		{"an expired cookie", "/", preview.Cookie + "=" + expired, true},
		{"another key's cookie", "/", "a=1; " + preview.Cookie + "=" + other, true},
		{"a cookie of no token", "/", preview.Cookie + "=x", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.target, nil)
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			cleared := strings.Contains(res.Header.Get("Set-Cookie"), preview.Cookie+"=;")
			if cleared != tc.cleared {
				t.Fatalf("cookie cleared %v, want %v: %v", cleared, tc.cleared, res.Header)
			}
			cc, cdn := res.Header.Get("Cache-Control"), res.Header.Get("CDN-Cache-Control")
			switch {
			case !tc.cleared && (cc != "public, max-age=60" || cdn == ""):
				t.Errorf("without a preview: Cache-Control %q, CDN-Cache-Control %q", cc, cdn)
			case tc.cleared && (cc != "private, max-age=60" || cdn != ""):
				t.Errorf("Cache-Control %q, CDN-Cache-Control %q on a response that clears the cookie", cc, cdn)
			}
			if rec.Body.String() != "<p>page</p>" || res.Header.Get(preview.Header) != "" {
				t.Errorf("body %q, %s %q", rec.Body, preview.Header, res.Header.Get(preview.Header))
			}
		})
	}
}

// TestLinkKeepsItsVariantWhenWeightsChange: a link minted for the bold
// variant of a 50/50 split, opened after the editor ramped the split to
// 90/10, still shows bold, as its X-Bespoke-Preview says; the bucket it
// was minted with now lies in control's range.
func TestLinkKeepsItsVariantWhenWeightsChange(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><head></head><body><h1>Hello</h1></body></html>`)
	}))
	defer origin.Close()
	rules := func(weights string) []byte {
		return []byte(`experiments:
  - name: hero-test
    variants: ` + weights + `
rules:
  - name: bold
    when: variant("hero-test") == "bold"
    actions: [add_class: { select: body, class: bold }]
`)
	}
	eng, _ := engine.New(engine.Config{CacheDir: "-"})
	defer eng.Close(context.Background())
	load := func(src []byte) (*site.Site, *compiler.Result) {
		t.Helper()
		res, err := compiler.Compile("rules.yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		s, err := site.Load(context.Background(), eng, "rules.yaml", res.Artifact, reqctx.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s, res
	}
	before, res := load(rules("{ control: 50, bold: 50 }"))
	buckets, err := visit.Buckets(res.Program, map[string]string{"hero-test": "bold"})
	if err != nil {
		t.Fatal(err)
	}
	links := preview.NewLinks([]byte("the proxy's secret, 32 bytes ok"))
	u, _ := url.Parse(origin.URL)
	p := proxy.New(proxy.Config{Origin: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(before)
	srv := httptest.NewServer(links.Wrap(p))
	defer srv.Close()
	link := links.Link(srv.URL+"/", preview.Preview{Variants: map[string]string{"hero-test": "bold"}, Buckets: buckets})

	after, _ := load(rules("{ control: 90, bold: 10 }"))
	p.Swap(after).Retire()
	defer func() { p.Swap(nil).Close(context.Background()) }()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get(plan.ExperimentsHeader); got != "hero-test=bold" || !strings.Contains(string(b), `class="bold"`) {
		t.Fatalf("the link for bold, opened after the split changed, gave %s %q (%s: %q)\n%s", plan.ExperimentsHeader, got, preview.Header, resp.Header.Get(preview.Header), b)
	}
}

// TestPreviewedRequestsLoggedSo: the access line of a page opened with a
// preview link names the variants the link forced, which are not the
// visitor's; it says preview=true, so that analysts counting exposures
// in the logs leave the editors' views out.
func TestPreviewedRequestsLoggedSo(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><head></head><body><h1>Hello</h1></body></html>`)
	}))
	defer origin.Close()
	res, err := compiler.Compile("rules.yaml", []byte(`experiments:
  - name: hero-test
    variants: { control: 50, bold: 50 }
rules:
  - name: bold
    when: variant("hero-test") == "bold"
    actions: [add_class: { select: body, class: bold }]
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := engine.New(engine.Config{CacheDir: "-"})
	defer eng.Close(context.Background())
	s, err := site.Load(context.Background(), eng, "rules.yaml", res.Artifact, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log strings.Builder
	u, _ := url.Parse(origin.URL)
	p := proxy.New(proxy.Config{Origin: u, AccessLog: true, Logger: slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &log}, nil))})
	p.Swap(s)
	defer func() { p.Swap(nil).Close(context.Background()) }()
	links := preview.NewLinks([]byte("the proxy's secret, 32 bytes ok"))
	srv := httptest.NewServer(links.Wrap(p))
	defer srv.Close()
	buckets, err := visit.Buckets(res.Program, map[string]string{"hero-test": "bold"})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{srv.URL + "/plain", links.Link(srv.URL+"/previewed", preview.Preview{Variants: map[string]string{"hero-test": "bold"}, Buckets: buckets})} {
		resp, err := http.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	srv.Close() // waits for the handlers, and so their access lines
	mu.Lock()
	lines := strings.Split(log.String(), "\n")
	mu.Unlock()
	for _, c := range []struct {
		path    string
		preview bool
	}{{"/plain", false}, {"/previewed", true}} {
		found := false
		for _, l := range lines {
			if !strings.Contains(l, "msg=request") || !strings.Contains(l, "path="+c.path+" ") {
				continue
			}
			found = true
			if strings.Contains(l, "preview=true") != c.preview {
				t.Errorf("access line of %s, preview %v: %s", c.path, c.preview, l)
			}
		}
		if !found {
			t.Errorf("no access line of %s in:\n%s", c.path, strings.Join(lines, "\n"))
		}
	}
}

// lockedWriter serializes the writes of the server's goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// failingWriter is a visitor's connection that closes while the page is
// written: its writes fail, and it counts the statuses written.
type failingWriter struct {
	h        http.Header
	statuses []int
}

func (f *failingWriter) Header() http.Header  { return f.h }
func (f *failingWriter) WriteHeader(code int) { f.statuses = append(f.statuses, code) }
func (f *failingWriter) Write(b []byte) (int, error) {
	if len(f.statuses) == 0 {
		f.statuses = append(f.statuses, http.StatusOK) // as net/http's first Write
	}
	return 0, errors.New("connection closed")
}

// TestPageWriteFails: an editor who closes the preview while its page is
// written got a second status written after the 200 (net/http logs
// "superfluous response.WriteHeader" for each); the page is rendered
// whole, then written once.
func TestPageWriteFails(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<p id="x">Hello</p>`)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) {
		return []byte("rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#x\", text: Hi }\n"), nil
	}, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	w := &failingWriter{h: http.Header{}}
	pv.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1/", nil))
	if len(w.statuses) != 1 || w.statuses[0] != http.StatusOK {
		t.Errorf("statuses written: %v, want one, 200", w.statuses)
	}
}
