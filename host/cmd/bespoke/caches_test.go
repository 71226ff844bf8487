package main

// `bespoke serve` behind real shared caches (nginx's proxy_cache, and
// Varnish and Squid where installed), in front of an origin that sends
// what origins send: Cache-Control, ETag, Last-Modified, ranges, 304s.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// testSecret is the BESPOKE_SECRET serveBinary gives the process: it
// signs the preview links the tests mint.
const testSecret = "0123456789abcdef0123456789abcdef"

// nginxCache starts nginx with proxy_cache, its defaults otherwise, in
// front of backend (host:port), and returns its address. Its responses
// say in X-Cache whether they came from the cache (HIT).
func nginxCache(t *testing.T, backend string) string {
	t.Helper()
	return testproc.Nginx(t, "the tests behind a shared cache", func(addr string) string {
		return fmt.Sprintf(`  proxy_cache_path %[1]s keys_zone=pages:1m;
  server {
    listen %[2]s;
    location / {
      proxy_pass http://%[3]s;
      proxy_cache pages;
      add_header X-Cache $upstream_cache_status always;
    }
  }`, t.TempDir(), addr, backend)
	})
}

// get sends a request with header (name, value pairs) and returns the
// response and its body.
func get(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestPreviewNotForSharedCaches: a page seen through a preview link
// (bespoke serve --dev-preview), at a time when the rules leave it alone,
// goes out without the origin's instructions to shared caches that they
// follow ahead of Cache-Control: private (X-Accel-Expires, which nginx
// reads; CDN-Cache-Control, Surrogate-Control, which CDNs do), as a
// personalized page does: the visitors after get the page the rules make
// now, not the editor's preview of another day, nor its header.
func TestPreviewNotForSharedCaches(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("X-Accel-Expires", "60")
		w.Header().Set("CDN-Cache-Control", "max-age=60")
		io.WriteString(w, `<!doctype html><html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	t.Cleanup(origin.Close)
	rules := writeRules(t, `rules:
  - name: season
    when: now >= "2020-01-01T00:00:00Z"
    actions:
      - set_inner: { select: "#t", text: Season }
`)
	s := serveBinary(t, "--origin", origin.URL, "--rules", rules, "--dev-preview", "--geo-providers", "none")
	cache := "http://" + nginxCache(t, s.addr)

	links := preview.NewLinks([]byte(testSecret))
	tok := links.Token(preview.Preview{At: time.Date(2019, 6, 1, 12, 0, 0, 0, time.UTC)})
	for _, how := range []struct{ name, path, cookie string }{
		{"link", "/?" + preview.Param + "=" + tok, ""},
		{"cookie", "/", preview.Cookie + "=" + tok},
	} {
		hdr := []string{}
		if how.cookie != "" {
			hdr = append(hdr, "Cookie", how.cookie)
		}
		resp, body := get(t, "GET", cache+how.path, hdr...)
		if !strings.Contains(body, ">Hello<") || resp.Header.Get(preview.Header) == "" {
			t.Fatalf("%s: the preview of 2019 through the cache: %s %q, %s", how.name, resp.Status, body, resp.Header)
		}
		// What nginx reads it keeps to itself (X-Accel-Expires): the
		// headers are those bespoke sends.
		resp, _ = get(t, "GET", s.url+how.path, hdr...)
		for _, h := range []string{"X-Accel-Expires", "Cdn-Cache-Control"} {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("%s: the preview went out with %s: %s", how.name, h, v)
			}
		}
	}
	// The preview by its cookie was asked for at the page's own URL.
	resp, body := get(t, "GET", cache+"/")
	if !strings.Contains(body, ">Season<") || resp.Header.Get(preview.Header) != "" {
		t.Errorf("the visitor after the preview got %q, %s %q (X-Cache %s)", body, preview.Header, resp.Header.Get(preview.Header), resp.Header.Get("X-Cache"))
	}
}

// siteOrigin serves the demo site (testdata/demo/site) as origins do:
// each file with a strong ETag of its bytes, Last-Modified,
// Cache-Control: public with max-age seconds, ranges and 304s
// (http.ServeContent); its 404 page, also public, for what it lacks;
// and /broken breaks off before answering (bespoke answers 502).
func siteOrigin(t *testing.T, maxAge int) *httptest.Server {
	t.Helper()
	root := "../../../testdata/demo/site"
	modified := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		name := r.URL.Path
		if strings.HasSuffix(name, "/") {
			name += "index.html"
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path.Clean(name))))
		status := http.StatusOK
		if err != nil {
			name, status = "/404.html", http.StatusNotFound
			if b, err = os.ReadFile(filepath.Join(root, "404.html")); err != nil {
				t.Error(err)
			}
		}
		sum := sha256.Sum256(b)
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", maxAge))
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			w.Write(b)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sum[:8]))
		http.ServeContent(w, r, name, modified, bytes.NewReader(b))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// cacheRules personalize the demo site by what the caches in front must
// keep apart: the country (--geo-header X-Country), the device, the
// language, a cookie, a header, a query parameter; with a redirect, a
// cookie, a JSON edit and the cards a visitor has seen.
const cacheRules = `rules:
  - name: fr-stores
    when: geo.country == "FR" and path == "/stores.html"
    actions:
      - redirect: { to: /fr/, status: 302 }
  - name: us-offer
    when: geo.country == "US"
    actions:
      - set_inner: { select: "#announce", text: "US-OFFER" }
  - name: phone
    when: device.type == "mobile"
    actions:
      - insert_before: { select: "#hero", html: "<div class=app-banner>PHONE-BANNER</div>" }
  - name: german
    when: language == "de"
    actions:
      - set_inner: { select: "#currency", text: "DE-CURRENCY" }
  - name: gold
    when: cookie("club") == "gold"
    actions:
      - set_inner: { select: "#promo", text: "GOLD-MEMBER" }
  - name: mail
    when: query("ref") == "mail"
    actions:
      - set_cookie: { name: from_mail, value: "1", max_age: 1d }
  - name: us-api
    when: geo.country == "US"
    actions:
      - json_set: { path: banner, value: "US-JSON" }
  - name: fresh-cards
    when: path == "/sale.html"
    actions:
      - hide_seen: { select: "ul.cards > li.card", id: "@data-item-id" }
  - name: preview-header
    when: header("X-Preview") == "1"
    actions:
      - set_header: { name: X-Previewed, value: "PREVIEW-HEADER" }
`

const (
	desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	iphoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

// cacheVisitor is one visitor: the headers it sends, and the marks of
// the rules made for it alone (what no other visitor may get).
type cacheVisitor struct {
	name   string
	header []string
	marks  []string
}

// allMarks are the texts and headers only some visitors get.
var allMarks = []string{"US-OFFER", "PHONE-BANNER", "DE-CURRENCY", "GOLD-MEMBER", "US-JSON", "PREVIEW-HEADER"}

// siteVCL is a typical site's VCL: tracking cookies and parameters
// stripped, static files the same for everyone, and whether the
// response came from the cache said in X-Cache.
func siteVCL(backend string) string {
	host, port, _ := net.SplitHostPort(backend)
	return fmt.Sprintf(`vcl 4.1;
backend default { .host = "%s"; .port = "%s"; }
sub vcl_recv {
  if (req.http.Cookie) {
    set req.http.Cookie = regsuball(req.http.Cookie, "(^|;\s*)(_ga[^=]*|_gid|_fbp|__utm[a-z]+|_hj[^=]*)=[^;]*", "");
    set req.http.Cookie = regsub(req.http.Cookie, "^;\s*", "");
    if (req.http.Cookie ~ "^\s*$") { unset req.http.Cookie; }
  }
  if (req.url ~ "[?&](utm_[a-z]+|gclid|fbclid)=") {
    set req.url = regsuball(req.url, "(utm_[a-z]+|gclid|fbclid)=[^&]*&?", "");
    set req.url = regsub(req.url, "[?&]$", "");
  }
  if (req.url ~ "\.(css|js|svg|png|jpg|woff2?)(\?|$)") { unset req.http.Cookie; }
}
sub vcl_backend_response {
  if (bereq.url ~ "\.(css|js|svg|png|jpg|woff2?)(\?|$)") { unset beresp.http.Set-Cookie; }
}
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
`, host, port)
}

// fromCache reports whether a cache in front answered from its store:
// nginx's and Squid's X-Cache, Varnish's X-Varnish (two ids on a hit).
func fromCache(h http.Header) bool {
	return strings.HasPrefix(h.Get("X-Cache"), "HIT") || strings.Contains(strings.TrimSpace(h.Get("X-Varnish")), " ")
}

// cookieNames are the names of the cookies a response sets, sorted.
func cookieNames(h http.Header) string {
	var names []string
	for _, c := range (&http.Response{Header: h}).Cookies() {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// TestSharedCachesKeepVisitorsApart: visitors of different countries,
// devices, languages and cookies go through Varnish (its builtin VCL,
// and a site's VCL that strips tracking cookies), nginx's proxy_cache
// and Squid (a reverse proxy), each in front of one bespoke serve, in
// front of an origin that lets shared caches keep its pages for a
// minute. Each gets through the cache what bespoke makes for it alone
// (the same status, redirect, body, cookies set and rules matched),
// never what it made for another, for GET, HEAD, a revalidation with
// another visitor's ETag or date, a range, a 404 and a 502; nothing
// the cache answered from its store sets a cookie or is private; and
// what no rule changed is answered from the store the second time.
func TestSharedCachesKeepVisitorsApart(t *testing.T) {
	origin := siteOrigin(t, 60)
	s := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, cacheRules),
		"--geo-header", "X-Country", "--geo-providers", "none", "--debug-headers")

	// A returning visitor sends the seen cookie its first view of the
	// sale got: fewer cards than a new visitor sees.
	resp, _ := get(t, "GET", s.url+"/sale.html", "User-Agent", desktopUA)
	var seen string
	for _, c := range resp.Cookies() {
		if c.Name == "bsk_seen" {
			seen = c.Name + "=" + c.Value
		}
	}
	if seen == "" {
		t.Fatalf("the sale set no seen cookie: %v", resp.Header)
	}
	visitors := []cacheVisitor{
		{"anonymous", []string{"User-Agent", desktopUA}, nil},
		{"in the US", []string{"User-Agent", desktopUA, "X-Country", "US"}, []string{"US-OFFER", "US-JSON"}},
		{"in France", []string{"User-Agent", desktopUA, "X-Country", "FR"}, nil},
		{"on a phone", []string{"User-Agent", iphoneUA}, []string{"PHONE-BANNER"}},
		{"reading German", []string{"User-Agent", desktopUA, "Accept-Language", "de-DE,de;q=0.9"}, []string{"DE-CURRENCY"}},
		{"a gold member", []string{"User-Agent", desktopUA, "Cookie", "club=gold"}, []string{"GOLD-MEMBER"}},
		{"a gold member tracked", []string{"User-Agent", desktopUA, "Cookie", "_ga=GA1.2.3; club=gold; _gid=4"}, []string{"GOLD-MEMBER"}},
		{"tracked", []string{"User-Agent", desktopUA, "Cookie", "_ga=GA1.2.5"}, nil},
		{"returning", []string{"User-Agent", desktopUA, "Cookie", seen}, nil},
		{"previewing", []string{"User-Agent", desktopUA, "X-Preview", "1"}, []string{"PREVIEW-HEADER"}},
	}
	paths := []string{"/", "/journal/", "/stores.html", "/sale.html", "/static/site.css", "/static/app.js", "/api/recommendations.json", "/nope", "/?ref=mail", "/broken"}
	asset := func(p string) bool { return strings.HasPrefix(p, "/static/") }

	// What bespoke makes for each visitor, asked directly.
	type made struct {
		status        int
		location, lm  string
		body, cookies string
		rules         string
	}
	direct := map[string]made{}
	sharedByBespoke := map[string]bool{}
	key := func(v cacheVisitor, method, p string) string { return v.name + " " + method + " " + p }
	for _, v := range visitors {
		for _, p := range paths {
			for _, m := range []string{"GET", "HEAD"} {
				resp, body := get(t, m, s.url+p, v.header...)
				direct[key(v, m, p)] = made{resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Last-Modified"),
					body, cookieNames(resp.Header), resp.Header.Get("X-Bespoke-Rules")}
				sharedByBespoke[key(v, m, p)] = resp.Header.Get("Set-Cookie") == "" &&
					!strings.Contains(resp.Header.Get("Cache-Control"), "private") && !strings.Contains(resp.Header.Get("Cache-Control"), "no-store")
			}
		}
	}
	anonPage := direct[key(visitors[0], "GET", "/")]
	if !strings.Contains(anonPage.body, `id="announce"`) || direct[key(visitors[1], "GET", "/")].body == anonPage.body {
		t.Fatalf("the rules changed nothing for the visitor in the US")
	}

	caches := []struct {
		name  string
		start func(t *testing.T) string
		// pages: the cache keeps the pages no rule changed (nginx
		// stores no response whose Vary passes 128 bytes, and the
		// device's headers take the page's past it).
		pages bool
	}{
		{"varnish", func(t *testing.T) string {
			return testproc.Varnish(t, "the test behind Varnish", s.addr, nil)
		}, true},
		{"varnish with a site's VCL", func(t *testing.T) string {
			return testproc.Varnish(t, "the test behind Varnish", s.addr, siteVCL)
		}, true},
		{"nginx", func(t *testing.T) string { return nginxCache(t, s.addr) }, false},
		{"squid", func(t *testing.T) string {
			return testproc.Squid(t, "the test behind Squid", s.addr, "")
		}, true},
	}
	for _, c := range caches {
		t.Run(c.name, func(t *testing.T) {
			cache := "http://" + c.start(t)
			check := func(v cacheVisitor, method, p string, resp *http.Response, body string) {
				t.Helper()
				want := direct[key(v, method, p)]
				got := made{resp.StatusCode, resp.Header.Get("Location"), want.lm, body, cookieNames(resp.Header), resp.Header.Get("X-Bespoke-Rules")}
				hit := fromCache(resp.Header)
				switch {
				case hit:
					// A hit sets no cookie of bespoke's.
					want.cookies = ""
				case method == "HEAD":
					// A cache asks for the GET it keeps, and answers
					// the HEAD with its headers: its cookies.
					if c := direct[key(v, "GET", p)].cookies; got.cookies == c {
						want.cookies = c
					}
				}
				if got != want {
					t.Errorf("%s %s by a visitor %s (from the cache: %v): %d %q, %d bytes, cookies %q, rules %q; bespoke makes %d %q, %d bytes, cookies %q, rules %q",
						method, p, v.name, hit, got.status, got.location, len(got.body), got.cookies, got.rules,
						want.status, want.location, len(want.body), want.cookies, want.rules)
				}
				for _, mark := range allMarks {
					if (strings.Contains(body, mark) || resp.Header.Get("X-Previewed") == mark) && !slices.Contains(v.marks, mark) {
						t.Errorf("%s %s by a visitor %s got %s", method, p, v.name, mark)
					}
				}
				if hit && (resp.Header.Get("Set-Cookie") != "" || strings.Contains(resp.Header.Get("Cache-Control"), "private")) {
					t.Errorf("%s %s by a visitor %s: from the cache with Set-Cookie %q, Cache-Control %q",
						method, p, v.name, resp.Header.Get("Set-Cookie"), resp.Header.Get("Cache-Control"))
				}
			}
			// Hits of the second round, of all GETs and of those bespoke
			// left shared-cacheable (neither private nor setting a
			// cookie), by kind: HTML pages (a 404 too), the JSON API,
			// static assets.
			type tally struct{ hits, all, shared int }
			ratio := map[string]*tally{"pages": {}, "json": {}, "assets": {}}
			for round := range 2 {
				for _, v := range visitors {
					for _, p := range paths {
						for _, m := range []string{"GET", "HEAD"} {
							resp, body := get(t, m, cache+p, v.header...)
							check(v, m, p, resp, body)
							if round == 0 || m != "GET" || p == "/broken" {
								continue
							}
							kind := "pages"
							switch {
							case asset(p):
								kind = "assets"
							case strings.HasPrefix(p, "/api/"):
								kind = "json"
							}
							r := ratio[kind]
							r.all++
							if d := sharedByBespoke[key(v, m, p)]; d {
								r.shared++
							}
							if fromCache(resp.Header) {
								r.hits++
							}
						}
					}
				}
			}
			for _, kind := range []string{"pages", "json", "assets"} {
				r := ratio[kind]
				t.Logf("%s, second round: %d of %d from the cache (%d shared-cacheable)", kind, r.hits, r.all, r.shared)
			}
			resp, _ := get(t, "GET", cache+"/static/site.css", visitors[0].header...)
			if !fromCache(resp.Header) {
				t.Errorf("the style sheet was not answered from the cache: %v", resp.Header)
			}
			resp, _ = get(t, "GET", cache+"/journal/", visitors[0].header...)
			if c.pages && !fromCache(resp.Header) {
				t.Errorf("a page no rule changed was not answered from the cache: %v", resp.Header)
			}

			// The anonymous visitor's copy of the home page, named by
			// its ETag or its date, and a range of it where the rules
			// write: each visitor gets its own page, or a 304 for one
			// that is the same as that copy, or a range of its own.
			resp, _ = get(t, "GET", cache+"/", visitors[0].header...)
			etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
			if etag == "" || lm == "" {
				t.Fatalf("the home page has no validators: %v", resp.Header)
			}
			at := strings.Index(anonPage.body, `id="announce"`)
			lo, hi := at-40, at+200
			for _, v := range visitors {
				own := direct[key(v, "GET", "/")].body
				for _, cond := range [][]string{{"If-None-Match", etag}, {"If-Modified-Since", lm}} {
					resp, body := get(t, "GET", cache+"/", append(slices.Clone(v.header), cond...)...)
					switch {
					case resp.StatusCode == http.StatusNotModified && own == anonPage.body:
					case resp.StatusCode == http.StatusOK && body == own:
					default:
						t.Errorf("%s from a visitor %s: %s, %d bytes (its page: %d bytes, same as the copy: %v)",
							cond[0], v.name, resp.Status, len(body), len(own), own == anonPage.body)
					}
				}
				resp, body := get(t, "GET", cache+"/", append(slices.Clone(v.header), "Range", fmt.Sprintf("bytes=%d-%d", lo, hi))...)
				switch {
				case resp.StatusCode == http.StatusPartialContent && body == own[lo:hi+1]:
				case resp.StatusCode == http.StatusOK && body == own:
				default:
					t.Errorf("a range from a visitor %s: %s %q", v.name, resp.Status, body)
				}
			}
		})
	}
}

// TestNginxKeepsPagesOfAShortVary: nginx's proxy_cache stores no
// response whose Vary passes 128 bytes, which the device's headers take
// a page's past (TestSharedCachesKeepVisitorsApart: no page from its
// cache); rules that read the country from one header leave it short,
// and nginx keeps the pages no rule changed, apart from those it did.
func TestNginxKeepsPagesOfAShortVary(t *testing.T) {
	origin := siteOrigin(t, 60)
	s := serveBinary(t, "--origin", origin.URL, "--geo-header", "X-Country", "--geo-providers", "none", "--rules", writeRules(t, `rules:
  - name: us-offer
    when: geo.country == "US"
    actions:
      - set_inner: { select: "#announce", text: "US-OFFER" }
  - name: gold
    when: cookie("club") == "gold"
    actions:
      - set_inner: { select: "#promo", text: "GOLD-MEMBER" }
`))
	cache := "http://" + nginxCache(t, s.addr)
	for _, v := range []struct {
		header []string
		mark   string
	}{
		{[]string{"X-Country", "FR"}, ""},
		{[]string{"X-Country", "US"}, "US-OFFER"},
		{nil, ""},
		{[]string{"Cookie", "club=gold"}, "GOLD-MEMBER"},
		{[]string{"Cookie", "club=silver"}, ""},
	} {
		for i := range 2 {
			resp, body := get(t, "GET", cache+"/journal/", v.header...)
			hit := fromCache(resp.Header)
			for _, mark := range []string{"US-OFFER", "GOLD-MEMBER"} {
				if strings.Contains(body, mark) != (mark == v.mark) {
					t.Errorf("%v, request %d (from the cache: %v): %s in the page: %v", v.header, i, hit, mark, !(mark == v.mark))
				}
			}
			if want := i == 1 && v.mark == ""; hit != want {
				t.Errorf("%v, request %d: from the cache %v, want %v (Vary %q, %d bytes)", v.header, i, hit, want,
					resp.Header.Get("Vary"), len(resp.Header.Get("Vary")))
			}
		}
	}
}

// TestReloadBehindASharedCache: a reload that changes what the rules do
// leaves in Squid, in front, only the copies of pages no rule changed,
// each served while its headers allow (Age within the origin's max-age)
// and then revalidated, which gives the new rules' page: a visitor the
// old rules personalized gets the new rules' page at once.
func TestReloadBehindASharedCache(t *testing.T) {
	const maxAge = 1
	origin := siteOrigin(t, maxAge)
	rules := writeRules(t, `rules:
  - name: us-offer
    when: geo.country == "US"
    actions:
      - set_inner: { select: "#announce", text: "US-OFFER-1" }
`)
	s := serveBinary(t, "--origin", origin.URL, "--rules", rules, "--watch", "50ms", "--debug-headers",
		"--geo-header", "X-Country", "--geo-providers", "none")
	cache := "http://" + testproc.Squid(t, "the test behind Squid", s.addr, "")
	us := []string{"X-Country", "US"}
	for i := range 2 {
		resp, body := get(t, "GET", cache+"/journal/")
		if strings.Contains(body, "US-OFFER") || i == 1 && !fromCache(resp.Header) {
			t.Fatalf("request %d of the page no rule changes: from the cache %v, %v", i, fromCache(resp.Header), resp.Header)
		}
		if resp, body = get(t, "GET", cache+"/journal/", us...); !strings.Contains(body, "US-OFFER-1") || fromCache(resp.Header) {
			t.Fatalf("request %d from the US: from the cache %v, %v", i, fromCache(resp.Header), resp.Header)
		}
	}

	if err := os.WriteFile(rules, []byte(`rules:
  - name: us-offer
    when: geo.country == "US"
    actions:
      - set_inner: { select: "#announce", text: "US-OFFER-2" }
  - name: everyone
    actions:
      - set_inner: { select: "#currency", text: "FOR-EVERYONE" }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the reload", func() bool {
		resp, _ := get(t, "HEAD", s.url+"/journal/")
		return resp.Header.Get("X-Bespoke-Generation") == "2"
	})
	if resp, body := get(t, "GET", cache+"/journal/", us...); !strings.Contains(body, "US-OFFER-2") || fromCache(resp.Header) {
		t.Errorf("from the US after the reload: from the cache %v, %v", fromCache(resp.Header), resp.Header)
	}
	old := 0
	waitFor(t, 10*time.Second, "the new rules' page through the cache", func() bool {
		resp, body := get(t, "GET", cache+"/journal/")
		if strings.Contains(body, "FOR-EVERYONE") {
			// Its new rule reads nothing of the visitor: the page is
			// every visitor's, and stays shareable (site.SameForAll).
			if fromCache(resp.Header) || strings.Contains(resp.Header.Get("Cache-Control"), "private") {
				t.Errorf("the new page: from the cache %v, Cache-Control %q", fromCache(resp.Header), resp.Header.Get("Cache-Control"))
			}
			return true
		}
		old++
		if age, _ := strconv.Atoi(resp.Header.Get("Age")); !fromCache(resp.Header) || age > maxAge {
			t.Fatalf("the old page after the reload, from the cache %v, Age %d (max-age=%d): %v", fromCache(resp.Header), age, maxAge, resp.Header)
		}
		time.Sleep(50 * time.Millisecond)
		return false
	})
	t.Logf("the copy made before the reload was served %d times after it", old)
}

// TestInFrontOfASharedCache: with Varnish between bespoke and the
// origin, the pages bespoke gets come from Varnish's store (Age, one
// origin request for them all), and each visitor still gets its own:
// the rules' page, private, with a weak ETag derived from the origin's,
// which revalidates through Varnish (304), and the origin's page, as
// Varnish keeps it, to the visitors the rules leave alone.
func TestInFrontOfASharedCache(t *testing.T) {
	var asked atomic.Int64
	site := siteOrigin(t, 60)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		site.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(origin.Close)
	cache := testproc.Varnish(t, "the test in front of Varnish", strings.TrimPrefix(origin.URL, "http://"), nil)
	s := serveBinary(t, "--origin", "http://"+cache, "--geo-header", "X-Country", "--geo-providers", "none", "--rules", writeRules(t, `rules:
  - name: us-offer
    when: geo.country == "US"
    actions:
      - set_inner: { select: "#announce", text: "US-OFFER" }
`))
	us := []string{"X-Country", "US"}
	var derived string
	for i := range 3 {
		resp, body := get(t, "GET", s.url+"/journal/", us...)
		derived = resp.Header.Get("ETag")
		if !strings.Contains(body, "US-OFFER") || !strings.HasPrefix(derived, `W/"`) || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private") {
			t.Fatalf("from the US, request %d: %s %v", i, resp.Status, resp.Header)
		}
		resp, body = get(t, "GET", s.url+"/journal/")
		if strings.Contains(body, "US-OFFER") || resp.Header.Get("Cache-Control") != "public, max-age=60" || strings.HasPrefix(resp.Header.Get("ETag"), "W/") {
			t.Fatalf("from elsewhere, request %d: %s %v", i, resp.Status, resp.Header)
		}
		if i > 0 && !fromCache(resp.Header) {
			t.Errorf("request %d: the origin's page did not come from Varnish: %v", i, resp.Header)
		}
	}
	if resp, body := get(t, "GET", s.url+"/journal/", append(us, "If-None-Match", derived)...); resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("revalidating the page made for the US: %s %q", resp.Status, body)
	}
	if resp, body := get(t, "GET", s.url+"/journal/", "If-None-Match", derived); resp.StatusCode != http.StatusOK || strings.Contains(body, "US-OFFER") {
		t.Errorf("the US page's ETag from elsewhere: %s", resp.Status)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the origin was asked %d times for one page, kept by Varnish", n)
	}
}

// TestAnAssetVariesOnlyWithWhatCanChangeIt: a rule that edits JSON for
// visitors of one country changes no style sheet or script, whose Vary
// then names no country: nginx in front keeps one copy of each for
// every country, and the JSON apart for the country the rule reads.
func TestAnAssetVariesOnlyWithWhatCanChangeIt(t *testing.T) {
	origin := siteOrigin(t, 60)
	s := serveBinary(t, "--origin", origin.URL, "--geo-header", "X-Country", "--geo-providers", "none", "--rules", writeRules(t, `rules:
  - name: us-api
    when: geo.country == "US"
    actions:
      - json_set: { path: banner, value: "US-JSON" }
`))
	cache := "http://" + nginxCache(t, s.addr)
	for _, p := range []string{"/static/site.css", "/static/app.js"} {
		for i, country := range []string{"FR", "US", "DE"} {
			resp, _ := get(t, "GET", cache+p, "X-Country", country)
			if hit := fromCache(resp.Header); hit != (i > 0) || strings.Contains(resp.Header.Get("Vary"), "X-Country") {
				t.Errorf("%s from %s: from the cache %v, Vary %q", p, country, hit, resp.Header.Get("Vary"))
			}
		}
	}
	for i, country := range []string{"FR", "FR", "US", "US", "DE"} {
		resp, body := get(t, "GET", cache+"/api/recommendations.json", "X-Country", country)
		hit := fromCache(resp.Header)
		if strings.Contains(body, "US-JSON") != (country == "US") || hit != (i == 1) {
			t.Errorf("the JSON from %s, request %d: from the cache %v, Vary %q, US-JSON in it: %v", country, i, hit, resp.Header.Get("Vary"), strings.Contains(body, "US-JSON"))
		}
	}
}

// TestVarnishRevalidates: Varnish revalidates a copy past its max-age
// (in its grace, while it serves the stale one) with the origin's ETag,
// through bespoke, which passes the origin's 304 on: the copy is kept,
// and served after to the visitors the rules leave alone, while a
// visitor they change gets the page made for it, never the copy.
func TestVarnishRevalidates(t *testing.T) {
	site := siteOrigin(t, 1)
	var notModified atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		site.Config.Handler.ServeHTTP(rec, r)
		if rec.status == http.StatusNotModified {
			notModified.Add(1)
		}
	}))
	t.Cleanup(origin.Close)
	s := serveBinary(t, "--origin", origin.URL, "--geo-header", "X-Country", "--geo-providers", "none", "--rules", writeRules(t, `rules:
  - name: us-offer
    when: geo.country == "US"
    actions:
      - set_inner: { select: "#announce", text: "US-OFFER" }
`))
	cache := "http://" + testproc.Varnish(t, "the test behind Varnish", s.addr, nil)
	_, page := get(t, "GET", s.url+"/journal/")
	_, usPage := get(t, "GET", s.url+"/journal/", "X-Country", "US")
	if resp, body := get(t, "GET", cache+"/journal/"); body != page || fromCache(resp.Header) {
		t.Fatalf("first request: from the cache %v, %d bytes", fromCache(resp.Header), len(body))
	}
	waitFor(t, 10*time.Second, "Varnish to revalidate its copy", func() bool {
		if _, body := get(t, "GET", cache+"/journal/"); body != page {
			t.Fatalf("a stale or fresh copy: %d bytes, want the page no rule changed", len(body))
		}
		time.Sleep(100 * time.Millisecond)
		return notModified.Load() > 0
	})
	for i := range 2 {
		resp, body := get(t, "GET", cache+"/journal/", "X-Country", "US")
		if body != usPage || fromCache(resp.Header) {
			t.Errorf("from the US after the revalidation, request %d: from the cache %v, %d bytes (its page %d)", i, fromCache(resp.Header), len(body), len(usPage))
		}
		if resp, body = get(t, "GET", cache+"/journal/"); body != page {
			t.Errorf("from elsewhere after the revalidation, request %d: from the cache %v, %d bytes", i, fromCache(resp.Header), len(body))
		}
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
