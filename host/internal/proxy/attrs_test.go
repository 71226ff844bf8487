package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
)

// A visitor id in the cookie's format (16 bytes, base64url).
const knownVisitor = "AAECAwQFBgcICQoLDA0ODw"

const (
	iPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"
	bot     = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

// attrCases are conditions on every attribute and operator, each with a
// request that must match it and one that must not. They run as one rule
// file through the compiled plugin and the real proxy, so each attribute
// is proven from the request bytes to the decision: geo from CDN headers,
// the GeoIP database and trusted X-Forwarded-For, device from Client
// Hints and the User-Agent, time from the clock in the visitor's zone.
var attrCases = []struct {
	name     string
	when     string
	yes, not []string // header name, value pairs
}{
	// Geography: CDN headers, and the test GeoIP database by client IP.
	{"country", `geo.country == "FR"`, []string{"CF-IPCountry", "fr"}, []string{"CF-IPCountry", "DE"}},
	{"country-in", `geo.country in ["BE", "CH"]`, []string{"CloudFront-Viewer-Country", "CH"}, []string{"CloudFront-Viewer-Country", "FR"}},
	{"country-not-in", `geo.country not in ["US", "CA"]`, []string{"X-Vercel-IP-Country", "FR"}, []string{"X-Vercel-IP-Country", "US"}},
	{"region", `geo.region == "ARA"`, []string{"X-Forwarded-For", "198.51.100.7"}, []string{"X-Forwarded-For", "203.0.113.7"}},
	{"city", `geo.city == "Lyon"`, []string{"CF-IPCountry", "FR", "cf-ipcity", "Lyon"}, []string{"CF-IPCountry", "FR", "cf-ipcity", "Paris"}},
	{"continent", `geo.continent == "AS"`, []string{"X-Forwarded-For", "100.64.1.1"}, []string{"X-Forwarded-For", "192.0.2.1"}},
	{"timezone", `geo.timezone == "America/Los_Angeles"`, []string{"X-Forwarded-For", "198.51.100.200"}, []string{"X-Forwarded-For", "198.51.100.7"}},
	// A zone's old name and its current one are one zone, whichever the
	// rule or the provider writes.
	{"timezone-old-name", `geo.timezone == "Asia/Calcutta"`, []string{"CF-IPCountry", "IN", "cf-timezone", "Asia/Kolkata"}, []string{"CF-IPCountry", "BD", "cf-timezone", "Asia/Dhaka"}},
	{"timezone-old-header", `geo.timezone in ["Europe/Kyiv", "UTC"]`, []string{"CF-IPCountry", "UA", "cf-timezone", "Europe/Kiev"}, []string{"CF-IPCountry", "FR", "cf-timezone", "Europe/Paris"}},
	{"timezone-utc", `geo.timezone == "UTC"`, []string{"CF-IPCountry", "IS", "cf-timezone", "Etc/UTC"}, []string{"CF-IPCountry", "IS", "cf-timezone", "Atlantic/Reykjavik"}},
	{"lat-lon", `geo.lat > 50 and geo.lon > 10`, []string{"X-Forwarded-For", "192.0.2.9"}, []string{"X-Forwarded-For", "203.0.113.9"}},
	{"within", `geo.within(45.764, 4.8357, 30)`, []string{"X-Forwarded-For", "198.51.100.7"}, []string{"X-Forwarded-For", "203.0.113.7"}},
	// Device: Client Hints first, then the User-Agent.
	{"mobile-hint", `device.type == "mobile"`, []string{"Sec-CH-UA-Mobile", "?1", "User-Agent", chrome}, []string{"Sec-CH-UA-Mobile", "?0", "User-Agent", chrome}},
	{"mobile-ua", `device.type == "mobile" and device.os == "ios"`, []string{"User-Agent", iPhone}, []string{"User-Agent", chrome}},
	{"os-version", `device.os == "android" and device.os_version starts_with "14"`, []string{"User-Agent", android}, []string{"User-Agent", iPhone}},
	{"browser", `device.browser == "chrome" and device.browser_version starts_with "124"`, []string{"User-Agent", chrome}, []string{"User-Agent", iPhone}},
	{"bot", `device.bot and device.type == "bot"`, []string{"User-Agent", bot}, []string{"User-Agent", chrome}},
	// Language, with q-values.
	{"language", `language == "de"`, []string{"Accept-Language", "de-CH, fr;q=0.8"}, []string{"Accept-Language", "fr, de;q=0.8"}},
	{"languages", `languages contains "it"`, []string{"Accept-Language", "fr, it;q=0.5"}, []string{"Accept-Language", "fr, it;q=0"}},
	// The request itself.
	{"path", `path starts_with "/shop/" and path ends_with ".html"`, []string{":path", "/shop/tent.html"}, []string{":path", "/shop/tent"}},
	{"path-matches", `path matches "^/p/[0-9]+$"`, []string{":path", "/p/42"}, []string{":path", "/p/x42"}},
	{"host", `host == "shop.example.com"`, []string{"Host", "Shop.Example.com:8080"}, []string{"Host", "blog.example.com"}},
	{"cookie", `cookie("plan") == "pro"`, []string{"Cookie", "a=1; plan=pro"}, []string{"Cookie", "plan=free"}},
	{"cookie-number", `cookie("cart") >= 3 and cookie("cart") < 10`, []string{"Cookie", "cart=3"}, []string{"Cookie", "cart=12"}},
	{"cookie-exists", `cookie("club") exists`, []string{"Cookie", "club="}, []string{"Cookie", "clubs=1"}},
	{"header", `header("X-Tier") contains "gold"`, []string{"X-Tier", "rose-gold"}, []string{"X-Tier", "silver"}},
	{"header-ne", `header("X-Tier") != "gold"`, []string{"X-Tier", "silver"}, []string{"X-Tier", "gold"}},
	{"query", `query("page") > 1 and query("ref") ends_with "-42"`, []string{":path", "/?page=2&ref=news-42"}, []string{":path", "/?page=1&ref=news-42"}},
	{"or-not", `(cookie("a") == "1" or cookie("b") == "1") and not cookie("c") exists`, []string{"Cookie", "b=1"}, []string{"Cookie", "b=1; c=0"}},
	// The visitor and the clock (fixed at Saturday 2026-12-05 18:30 UTC).
	{"visitor-new", `visitor.new`, nil, []string{"Cookie", "bsk_vid=" + knownVisitor}},
	{"visitor-id", `visitor.id == "` + knownVisitor + `"`, []string{"Cookie", "bsk_vid=" + knownVisitor}, nil},
	{"hour", `visitor.hour == 19`, []string{"CF-IPCountry", "FR", "X-Forwarded-For", "203.0.113.7"}, []string{"X-Forwarded-For", "100.64.1.1"}},
	{"weekday", `visitor.weekday == "saturday"`, nil, []string{"X-Forwarded-For", "100.64.1.1"}}, // Tokyo is already on Sunday
	{"now", `now >= "2026-12-01T00:00:00Z" and now < "2026-12-24T00:00:00Z"`, nil, nil},
	// Values inside values.
	{"json-cookie", `json(cookie("profile"), "segments") contains "runner"`, []string{"Cookie", `profile={"segments":["runner","camper"]}`}, []string{"Cookie", `profile={"segments":["camper"`}},
	{"json-header", `json(header("X-Profile"), "score") >= 80`, []string{"X-Profile", `{"score": 91}`}, []string{"X-Profile", `{"score": "n/a"}`}},
	{"semver", `semver(header("X-App")) >= "3.2"`, []string{"X-App", "3.10.1"}, []string{"X-App", "3.1.9"}},
	{"semver-json", `semver(json(cookie("app"), "version")) >= "3.2"`, []string{"Cookie", `app={"version":"3.10.1"}`}, []string{"Cookie", `app={"version":"3.1.9"}`}},
	// {"tier":"gold"} and {"tier":"free"}, in base64; "theme=dark".
	{"base64-json", `json(base64(header("X-Userinfo")), "tier") == "gold"`, []string{"X-Userinfo", "eyJ0aWVyIjoiZ29sZCJ9"}, []string{"X-Userinfo", "eyJ0aWVyIjoiZnJlZSJ9"}},
	{"base64-cookie", `base64(cookie("prefs")) contains "dark"`, []string{"Cookie", "prefs=dGhlbWU9ZGFyaw%3D%3D"}, []string{"Cookie", "prefs=theme=dark"}},
}

// TestEveryAttributeThroughTheProxy runs attrCases end to end.
func TestEveryAttributeThroughTheProxy(t *testing.T) {
	var src strings.Builder
	src.WriteString("rules:\n")
	for _, c := range attrCases {
		fmt.Fprintf(&src, "  - name: %s\n    when: '%s'\n    actions:\n      - set_header: { name: X-Hit-%s, value: \"1\" }\n",
			c.name, strings.ReplaceAll(c.when, "'", "''"), c.name)
	}
	// Schedules: a window around the clock, and one already over.
	src.WriteString("  - name: scheduled\n    from: 2026-12-01T00:00:00+01:00\n    until: 2026-12-06T00:00:00+01:00\n    actions:\n      - set_header: { name: X-Hit-scheduled, value: \"1\" }\n")
	src.WriteString("  - name: expired\n    until: 2026-11-01T00:00:00Z\n    actions:\n      - set_header: { name: X-Hit-expired, value: \"1\" }\n")

	db, err := geo.OpenDB("../../../testdata/geoip/test-city.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	trusted, _ := geo.ParsePrefixes("127.0.0.0/8,::1/128")
	providers, _ := geo.ParseProviders("cloudflare,cloudfront,vercel")
	clock := time.Date(2026, 12, 5, 18, 30, 0, 0, time.UTC)
	rc := reqctx.Config{
		Geo: geo.New(geo.Config{TrustedProxies: trusted, Providers: providers, DB: db}),
		Now: func() time.Time { return clock },
	}
	p := startProxy(t, src.String(), rc)

	hits := func(t *testing.T, hdrs []string) []string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, p+"/", nil)
		for i := 0; i+1 < len(hdrs); i += 2 {
			switch hdrs[i] {
			case ":path":
				u, _ := url.Parse(p + hdrs[i+1])
				req.URL = u
			case "Host":
				req.Host = hdrs[i+1]
			default:
				req.Header.Add(hdrs[i], hdrs[i+1])
			}
		}
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", chrome)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var got []string
		for k := range resp.Header {
			if name, ok := strings.CutPrefix(k, "X-Hit-"); ok {
				got = append(got, strings.ToLower(name))
			}
		}
		return got
	}
	for _, c := range attrCases {
		t.Run(c.name, func(t *testing.T) {
			if got := hits(t, c.yes); !slices.Contains(got, c.name) {
				t.Errorf("%s: request %q did not match (matched %v)", c.when, c.yes, got)
			}
			if c.not != nil {
				if got := hits(t, c.not); slices.Contains(got, c.name) {
					t.Errorf("%s: request %q matched", c.when, c.not)
				}
			}
		})
	}
	t.Run("schedule", func(t *testing.T) {
		got := hits(t, nil)
		if !slices.Contains(got, "scheduled") || slices.Contains(got, "expired") {
			t.Errorf("matched %v: want scheduled and not expired", got)
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		// The same geo headers from a peer outside the trusted list are
		// not believed.
		rc := rc
		rc.Geo = geo.New(geo.Config{Providers: providers, DB: db})
		p := startProxy(t, src.String(), rc)
		req, _ := http.NewRequest(http.MethodGet, p+"/", nil)
		req.Header.Set("CF-IPCountry", "FR")
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, h := range []string{"X-Hit-Country", "X-Hit-Region", "X-Hit-Within"} {
			if resp.Header.Get(h) != "" {
				t.Errorf("%s set from an untrusted peer's headers", h)
			}
		}
	})
}

// TestExperimentsThroughTheProxy: over many new visitors, the variant the
// response header reports is the one rules saw, both variants occur, and a
// returning visitor keeps theirs.
func TestExperimentsThroughTheProxy(t *testing.T) {
	src := `experiments:
  - name: hero
    variants: { a: 50, b: 50 }
rules:
  - name: hero-b
    when: variant("hero") == "b"
    actions:
      - set_header: { name: X-Hit-B, value: "1" }
  - name: tenth
    rollout: 10%
    actions:
      - set_header: { name: X-Hit-Tenth, value: "1" }
`
	p := startProxy(t, src, reqctx.Config{})
	counts := map[string]int{}
	tenth := 0
	const visitors = 400
	for range visitors {
		resp, err := http.Get(p + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		exp := resp.Header.Get("X-Bespoke-Experiments")
		counts[exp]++
		if (exp == "hero=b") != (resp.Header.Get("X-Hit-B") == "1") {
			t.Fatalf("header %q but rule hero-b matched=%v", exp, resp.Header.Get("X-Hit-B") == "1")
		}
		if resp.Header.Get("X-Hit-Tenth") == "1" {
			tenth++
		}
		// The same visitor again: the same variant.
		req, _ := http.NewRequest(http.MethodGet, p+"/", nil)
		for _, c := range resp.Cookies() {
			req.AddCookie(c)
		}
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if got := again.Header.Get("X-Bespoke-Experiments"); got != exp {
			t.Fatalf("returning visitor: variant %q, first visit %q", got, exp)
		}
	}
	// Binomial(400, 0.5) is within 140..260 with overwhelming probability;
	// the bucketing's precise proportions are tested on 10,000 visitors
	// in plugin.
	if counts["hero=a"] < 140 || counts["hero=b"] < 140 || counts["hero=a"]+counts["hero=b"] != visitors {
		t.Errorf("variants %v", counts)
	}
	if tenth < 15 || tenth > 70 {
		t.Errorf("rollout 10%%: %d of %d visitors", tenth, visitors)
	}
}

// startProxy serves a small HTML origin through a proxy running src with
// rc, and returns the proxy's URL.
func startProxy(t *testing.T, src string, rc reqctx.Config) string {
	t.Helper()
	return startProxyWith(t, src, rc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>t</title><h1>Hello</h1>")
	}))
}

// startProxyWith is startProxy in front of an origin of the caller's.
func startProxyWith(t *testing.T, src string, rc reqctx.Config, h http.Handler) string {
	t.Helper()
	origin := httptest.NewServer(h)
	t.Cleanup(origin.Close)
	u, _ := url.Parse(origin.URL)
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile("attrs.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Load(context.Background(), eng, "attrs", res.Artifact, rc)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Config{Origin: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(s)
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		s.Close(context.Background())
		eng.Close(context.Background())
	})
	return srv.URL
}

// TestGeoIPPagesArePrivate: a page made from what a GeoIP lookup gave the
// visitor goes out private (a cache in front writes X-Forwarded-For
// itself, so no Vary can keep two visitors' copies apart), with or
// without the rule's edit; one made from a CDN's header keeps the
// origin's caching, as does one whose rules read what the header gave.
func TestGeoIPPagesArePrivate(t *testing.T) {
	rc := geoIPContext(t)
	src := "rules:\n  - name: eu\n    when: geo.continent == \"EU\"\n    actions:\n      - append: { select: body, html: \"<p>EU</p>\" }\n" +
		"  - name: lyon\n    when: geo.city == \"Lyon\"\n    actions:\n      - set_inner: { select: h1, text: Salut }\n"
	countryOnly := "rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions:\n      - set_inner: { select: h1, text: Bonjour }\n"
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "<!doctype html><title>t</title><body><h1>Hello</h1></body>")
	})
	city, country := startProxyWith(t, src, rc, origin), startProxyWith(t, countryOnly, rc, origin)
	for _, tt := range []struct {
		name, proxy string
		headers     []string
		private     bool
	}{
		{"the database says the US: no edit, private all the same", city, []string{"X-Forwarded-For", "198.51.100.128"}, true},
		{"the database says Lyon", city, []string{"X-Forwarded-For", "198.51.100.5"}, true},
		{"the CDN says France, the database the city", city, []string{"CF-IPCountry", "FR", "X-Forwarded-For", "198.51.100.5"}, true},
		{"the CDN says the US, and the rules read the country alone", country, []string{"CF-IPCountry", "US", "X-Forwarded-For", "198.51.100.5"}, false},
		{"the database says the US, and the rules read the country", country, []string{"X-Forwarded-For", "198.51.100.128"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tt.proxy+"/", nil)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cc := resp.Header.Get("Cache-Control")
			if got := strings.Contains(cc, "private"); got != tt.private {
				t.Errorf("Cache-Control %q (Vary %q): private %v, want %v", cc, resp.Header.Values("Vary"), got, tt.private)
			}
		})
	}
}

// TestVaryByPath: a response's Vary names what the rules that may apply
// on its path read, and what only their actions' values read when they
// applied, and no more: a redirect of "/old" for French visitors made
// every page and style sheet of the route vary with the country, and,
// located by a GeoIP lookup, every page private; so did a header naming
// the country for editors previewing.
func TestVaryByPath(t *testing.T) {
	rc := geoIPContext(t)
	src := `rules:
  - name: old-fr
    when: path == "/old" and geo.country == "FR"
    actions:
      - redirect: { to: "/fr/" }
  - name: shop-phones
    when: path starts_with "/shop/" and device.type == "mobile"
    actions:
      - insert_before: { select: h1, html: "<p>app</p>" }
  - name: preview-header
    when: header("X-Preview") == "1"
    actions:
      - set_header: { name: X-Bespoke-Preview, value: "on; country={{ geo.country or 'unknown' }}" }
`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		if strings.HasSuffix(r.URL.Path, ".css") {
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, "h1{color:red}")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>t</title><body><h1>Hello</h1></body>")
	})
	u := startProxyWith(t, src, rc, origin)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		path, xff  string
		preview    bool
		vary, lack []string
		private    bool
	}{
		{"/", "198.51.100.128", false, []string{"X-Preview"}, []string{"Cf-Ipcountry", "X-Forwarded-For", "User-Agent"}, false},
		{"/style.css", "198.51.100.128", false, []string{"X-Preview"}, []string{"Cf-Ipcountry", "X-Forwarded-For", "User-Agent"}, false},
		{"/shop/tents", "198.51.100.128", false, []string{"User-Agent"}, []string{"Cf-Ipcountry", "X-Forwarded-For"}, false},
		{"/old", "198.51.100.128", false, []string{"Cf-Ipcountry"}, nil, true},
		// The header names the country only for an editor previewing.
		{"/style.css", "198.51.100.128", true, []string{"X-Preview", "Cf-Ipcountry"}, nil, true},
	} {
		req, _ := http.NewRequest(http.MethodGet, u+tt.path, nil)
		req.Header.Set("X-Forwarded-For", tt.xff)
		if tt.preview {
			req.Header.Set("X-Preview", "1")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		vary := strings.Join(resp.Header.Values("Vary"), ", ")
		for _, h := range tt.vary {
			if !strings.Contains(vary, h) {
				t.Errorf("%s: Vary %q lacks %s", tt.path, vary, h)
			}
		}
		for _, h := range tt.lack {
			if strings.Contains(vary, h) {
				t.Errorf("%s: Vary %q names %s, which no rule that may apply there reads", tt.path, vary, h)
			}
		}
		cc := resp.Header.Get("Cache-Control")
		if got := strings.Contains(cc, "private"); got != tt.private {
			t.Errorf("%s: Cache-Control %q, private %v, want %v", tt.path, cc, got, tt.private)
		}
	}
}

// TestBase64ThroughTheProxy: a page personalized by the tier a gateway
// passes in X-Userinfo, JSON in base64, varies with X-Userinfo whether
// or not the rule applied: a shared cache in front keeps the page as the
// origin sent it for visitors the rule leaves alone, one copy per value
// of the header, and never hands it to a gold member (whose page is
// private, as every personalized page is).
func TestBase64ThroughTheProxy(t *testing.T) {
	src := `rules:
  - name: gold
    when: json(base64(header("X-Userinfo")), "tier") == "gold"
    actions:
      - set_inner: { select: h1, text: "Welcome back, gold member" }
`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>t</title><body><h1>Hello</h1></body>")
	})
	u := startProxyWith(t, src, reqctx.Config{}, origin)
	const gold = "Welcome back, gold member"
	for _, tt := range []struct {
		name, userinfo, h1 string
	}{
		// {"sub":"8f1c","tier":"gold"}: standard alphabet, padded, as
		// Kong writes it.
		{"a gold member", "eyJzdWIiOiI4ZjFjIiwidGllciI6ImdvbGQifQ==", gold},
		// The same, URL-safe and unpadded, as a JWT's payload.
		{"a gold member, URL-safe", "eyJzdWIiOiI4ZjFjIiwidGllciI6ImdvbGQifQ", gold},
		{"a free member", "eyJ0aWVyIjoiZnJlZSJ9", "Hello"},
		{"JSON not in base64", `{"tier":"gold"}`, "Hello"},
		{"no header", "", "Hello"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, u+"/", nil)
			if tt.userinfo != "" {
				req.Header.Set("X-Userinfo", tt.userinfo)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "<h1>"+tt.h1+"</h1>") {
				t.Errorf("page %q, want <h1>%s</h1>", body, tt.h1)
			}
			var vary []string
			for _, v := range resp.Header.Values("Vary") {
				for _, h := range strings.Split(v, ",") {
					vary = append(vary, http.CanonicalHeaderKey(strings.TrimSpace(h)))
				}
			}
			if !slices.Contains(vary, "X-Userinfo") {
				t.Errorf("Vary %q does not name X-Userinfo", vary)
			}
			if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "private") != (tt.h1 == gold) {
				t.Errorf("Cache-Control %q, personalized %v", cc, tt.h1 == gold)
			}
		})
	}
}

// geoIPContext locates visitors with the test GeoIP database, their
// address from X-Forwarded-For when loopback sends it, or by
// Cloudflare's headers.
func geoIPContext(t *testing.T) reqctx.Config {
	t.Helper()
	db, err := geo.OpenDB("../../../testdata/geoip/test-city.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	trusted, _ := geo.ParsePrefixes("127.0.0.0/8,::1/128")
	return reqctx.Config{Geo: geo.New(geo.Config{TrustedProxies: trusted, Providers: []geo.Provider{geo.Cloudflare}, DB: db})}
}
