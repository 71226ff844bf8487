package visit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
)

const iPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

// load compiles src and loads it on an engine of its own.
func load(t *testing.T, src []byte) (*site.Site, *ir.Program) {
	t.Helper()
	res, err := compiler.Compile("rules.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Load(context.Background(), eng, "rules.yaml", res.Artifact, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close(context.Background())
		eng.Close(context.Background())
	})
	return s, res.Program
}

// proxyFor serves the demo origin through a real proxy deciding with s.
func proxyFor(t *testing.T, s *site.Site) (proxyURL string, origin *url.URL) {
	t.Helper()
	o := httptest.NewServer(demo.Handler())
	t.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	p := proxy.New(proxy.Config{Origin: u, DebugHeaders: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(s)
	ps := httptest.NewServer(p)
	t.Cleanup(func() {
		ps.Close()
		p.Swap(nil)
	})
	return ps.URL, u
}

func get(t *testing.T, target string, headers [][2]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	for _, h := range headers {
		if h[0] == "User-Agent" {
			req.Header.Set(h[0], h[1]) // the last one given, as in a Spec
		} else {
			req.Header.Add(h[0], h[1])
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestBucketsAsTheProxyDoes is the differential test of visitor identity:
// for many visitors, the variant the proxy gives a visitor cookie is the
// one a simulation gets for the same cookie, for the same id named as the
// visitor, and for the id given as visitor.id, on every run.
func TestBucketsAsTheProxyDoes(t *testing.T) {
	s, prog := load(t, demo.Rules())
	proxyURL, _ := proxyFor(t, s)
	seen := map[string]int{}
	for i := range 40 {
		id := visit.DerivedID("visitor " + string(rune('a'+i%26)) + strings.Repeat("!", i/26))
		resp, _ := get(t, proxyURL+"/", [][2]string{{"Cookie", "bsk_vid=" + id}, {"User-Agent", visit.DefaultUserAgent}})
		want := resp.Header.Get(plan.ExperimentsHeader)
		seen[want]++
		specs := map[string]visit.Spec{
			"cookie":     {Cookies: [][2]string{{"bsk_vid", id}}},
			"visitor":    {Visitor: id},
			"visitor.id": {Values: map[string]string{plugin.Slot{Attr: "visitor.id"}.Key(): id}},
		}
		for how, spec := range specs {
			for run := range 2 {
				res, err := visit.Run(context.Background(), s, prog, spec)
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Plan.Experiments; got != want {
					t.Fatalf("visitor %s named by %s (run %d): %q, the proxy says %q", id, how, run, got, want)
				}
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("40 visitors all got %v: the test shows nothing", seen)
	}
}

// TestRenderAsTheProxyDoes compares, byte for byte, the page a simulation
// renders with the page the proxy serves for the same visitor.
func TestRenderAsTheProxyDoes(t *testing.T) {
	s, prog := load(t, demo.Rules())
	proxyURL, origin := proxyFor(t, s)
	id := visit.DerivedID("render")
	for _, headers := range [][][2]string{
		{{"CF-IPCountry", "FR"}},
		{{"CF-IPCountry", "US"}, {"User-Agent", iPhone}},
		{{"CloudFront-Viewer-Country", "FR"}, {"CloudFront-Viewer-City", "Lyon"}, {"User-Agent", iPhone}},
		{{"CF-IPCountry", "CH"}, {"Accept-Language", "de-CH,de;q=0.9"}},
		{{"Cookie", "club=gold"}},
	} {
		all := append([][2]string{{"User-Agent", visit.DefaultUserAgent}}, headers...)
		all = append(all, [2]string{"Cookie", "bsk_vid=" + id})
		resp, body := get(t, proxyURL+"/?utm_campaign=winter-sale", all)
		spec := visit.Spec{URL: "/?utm_campaign=winter-sale", Headers: headers, Cookies: [][2]string{{"bsk_vid", id}}}
		_, out := simulate(t, s, prog, spec, origin)
		if !bytes.Equal(out.Body, body) {
			t.Errorf("%v: the simulated page differs from the proxy's (%d and %d bytes)", headers, len(out.Body), len(body))
		}
		for _, h := range []string{plan.ExperimentsHeader, "Set-Cookie"} {
			if g, w := strings.Join(out.Header.Values(h), "|"), strings.Join(resp.Header.Values(h), "|"); g != w {
				t.Errorf("%v: %s is %q, the proxy sends %q", headers, h, g, w)
			}
		}
	}
}

func TestForcedVariant(t *testing.T) {
	s, prog := load(t, []byte(`
experiments:
  - name: hero-test
    variants: { control: 50, bold: 30, photo: 20 }
  - name: home-only
    when: path == "/"
    variants: { a: 50, b: 50 }
  - name: b2b
    by: cookie("account")
    variants: { a: 50, b: 50 }
rules:
  - name: bold
    when: variant("hero-test") == "bold"
    actions: [add_class: { select: body, class: bold }]
`))
	// An experiment by an account enrolls no visitor without one, the
	// proxy never does: forced, it says so, and gives the variant to a
	// visitor with one.
	for _, c := range []struct {
		cookies [][2]string
		want    string
	}{{nil, ""}, {[][2]string{{"account", "4711"}}, "b"}} {
		res, err := visit.Run(context.Background(), s, prog, visit.Spec{Cookies: c.cookies, Variants: map[string]string{"b2b": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Variant(2); got != c.want {
			t.Errorf("cookies %v, b2b forced to b: got %q, want %q", c.cookies, got, c.want)
		}
		if enrolled := c.want != ""; enrolled != (len(res.Notes) == 0) || !enrolled && !strings.Contains(res.Notes[0], `cookie("account")`) {
			t.Errorf("cookies %v, b2b forced to b: notes %q", c.cookies, res.Notes)
		}
	}
	for _, want := range []string{"control", "bold", "photo"} {
		res, err := visit.Run(context.Background(), s, prog, visit.Spec{Visitor: "alice", Variants: map[string]string{"hero-test": want}})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Variant(0); got != want {
			t.Errorf("forced %s, got %s", want, got)
		}
		if res.Decision.Has(0) != (want == "bold") {
			t.Errorf("forced %s: rule bold matched = %v", want, res.Decision.Has(0))
		}
	}
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{URL: "/shop", Variants: map[string]string{"home-only": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "does not enroll") {
		t.Errorf("forcing a variant on a visitor the experiment does not enroll: notes %q", res.Notes)
	}
	for _, v := range []map[string]string{{"nope": "a"}, {"hero-test": "nope"}} {
		if _, err := visit.Run(context.Background(), s, prog, visit.Spec{Variants: v}); err == nil {
			t.Errorf("%v: no error", v)
		}
	}
}

func TestSeenShownAndTime(t *testing.T) {
	s, prog := load(t, []byte(`
rules:
  - name: popup
    at_most: 2 per 1d
    actions: [add_class: { select: body, class: popup }]
  - name: summer
    when: not seen("promo-summer")
    actions: [mark_seen: promo-summer]
  - name: saturday
    when: visitor.weekday == "saturday"
    actions: [add_class: { select: body, class: weekend }]
`))
	run := func(spec visit.Spec) *visit.Result {
		t.Helper()
		res, err := visit.Run(context.Background(), s, prog, spec)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if !run(visit.Spec{Shown: map[string]int{"popup": 1}}).Decision.Has(0) {
		t.Error("shown once of at most twice: not matched")
	}
	if run(visit.Spec{Shown: map[string]int{"popup": 2}}).Decision.Has(0) {
		t.Error("shown twice of at most twice: matched")
	}
	if run(visit.Spec{Seen: []string{"promo-summer"}}).Decision.Has(1) {
		t.Error("seen promo-summer: the rule still matched")
	}
	if res := run(visit.Spec{}); !res.Decision.Has(1) || len(res.Plan.MarkSeen) != 1 {
		t.Errorf("not seen: matched %v, marks %v", res.Decision.Has(1), res.Plan.MarkSeen)
	}
	// Friday 23:30 UTC is Saturday in Berlin; a visitor known only by
	// country is read in the country's zone when it keeps one time.
	at := time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC)
	if !run(visit.Spec{At: at, Headers: [][2]string{{"CF-IPCountry", "DE"}}}).Decision.Has(2) {
		t.Error("Friday 23:30 UTC from Germany: not Saturday")
	}
	if run(visit.Spec{At: at, Headers: [][2]string{{"CF-IPCountry", "US"}}}).Decision.Has(2) {
		t.Error("Friday 23:30 UTC from the US (several zones, so UTC): Saturday")
	}
	if _, err := visit.Run(context.Background(), s, prog, visit.Spec{Shown: map[string]int{"summer": 1}}); err == nil {
		t.Error("shown: of a rule without at_most: no error")
	}
}

func TestInvalidVisitorCookie(t *testing.T) {
	s, prog := load(t, demo.Rules())
	_, err := visit.Run(context.Background(), s, prog, visit.Spec{Cookies: [][2]string{{"bsk_vid", "alice"}}})
	if err == nil || !strings.Contains(err.Error(), "not a visitor id the proxy issues") {
		t.Fatalf("err = %v", err)
	}
}

func TestRenderJSON(t *testing.T) {
	s, prog := load(t, demo.Rules())
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{URL: "/api/recommendations.json", Visitor: "alice", Seen: []string{"sku-1001"}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := visit.PageFromFS(demo.Site(), "/api/recommendations.json")
	if err != nil || !page.JSON {
		t.Fatalf("page %v, err %v", page, err)
	}
	out, err := res.Render(page)
	if err != nil {
		t.Fatal(err)
	}
	applied := len(out.JSONApplied) > 0
	for _, a := range out.JSONApplied {
		applied = applied && a
	}
	if !applied || bytes.Contains(out.Body, []byte(`"sku-1001"`)) {
		t.Fatalf("applied %v; sku-1001 still in the JSON: %v", out.JSONApplied, bytes.Contains(out.Body, []byte(`"sku-1001"`)))
	}
	if out.Header.Get(plan.ExperimentsHeader) == "" {
		t.Error("a JSON page lacks the experiments header")
	}
}

func TestRedirect(t *testing.T) {
	s, prog := load(t, demo.Rules())
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{URL: "/sale-2025"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.Render(nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != http.StatusMovedPermanently || out.Header.Get("Location") != "/sale" {
		t.Fatalf("status %d, Location %q", out.Status, out.Header.Get("Location"))
	}
	// The demo's hero-test enrolls everyone: the redirect names the
	// variant, as the proxy's does (a variant may be a redirect).
	if got := out.Header.Get(plan.ExperimentsHeader); got == "" || got != res.Plan.Experiments {
		t.Errorf("%s of the redirect = %q, want %q", plan.ExperimentsHeader, got, res.Plan.Experiments)
	}
}

func TestPageFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":         {Data: []byte("home")},
		"stores.html":        {Data: []byte("stores")},
		"journal/index.html": {Data: []byte("journal")},
		"api/items.json":     {Data: []byte(`{"items":[]}`)},
	}
	for path, want := range map[string]string{"/": "home", "/?a=1": "home", "/stores": "stores", "/stores.html": "stores",
		"/journal/": "journal", "/journal": "journal", "/api/items.json": `{"items":[]}`} {
		p, err := visit.PageFromFS(fsys, path)
		if err != nil || string(p.Body) != want || p.JSON != strings.HasSuffix(path, ".json") {
			t.Errorf("%s: %+v, %v", path, p, err)
		}
	}
	// The error names the files looked for.
	for path, want := range map[string]string{
		"/nope":        "no page for /nope: no file nope.html or nope/index.html",
		"/a/b.htm?x=1": "no page for /a/b.htm?x=1: no file a/b.htm or a/b.htm.html or a/b.htm/index.html",
	} {
		if _, err := visit.PageFromFS(fsys, path); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", path, err, want)
		}
	}
}

// TestEditActions checks that every page edit is traced back to the action
// it came from.
func TestEditActions(t *testing.T) {
	s, prog := load(t, demo.Rules())
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{Headers: [][2]string{{"CF-IPCountry", "FR"}, {"CF-IPCity", "Lyon"}, {"User-Agent", iPhone}}})
	if err != nil {
		t.Fatal(err)
	}
	m := s.Manifest()
	edits, _ := visit.EditActions(m, res.Plan)
	if len(edits) < 8 {
		t.Fatalf("%d edits", len(edits))
	}
	for i, ai := range edits {
		ri := res.Plan.EditRules[i]
		if ri < 0 {
			continue
		}
		a := m.Rules[ri].Actions[ai]
		if a.Op != plan.OpName(res.Plan.Edits[i].Op) || a.Select != res.Plan.Edits[i].Selector {
			t.Errorf("edit %d (%s %q) traced to %s action %d (%s)", i, plan.OpName(res.Plan.Edits[i].Op), m.Selectors[res.Plan.Edits[i].Selector], m.Rules[ri].Name, ai, a.Op)
		}
	}
}

// TestUntrackedVisitor: a visitor who asks not to be tracked (Sec-GPC:
// 1) is decided as the proxy decides them: a capped rule applies when
// its editor chose untracked: show, and not by default (hide).
func TestUntrackedVisitor(t *testing.T) {
	s, prog := load(t, []byte(`
rules:
  - name: hidden
    at_most: 2 per 1d
    actions: [add_class: { select: body, class: a }]
  - name: shown
    at_most: { times: 2, per: 1d, untracked: show }
    actions: [add_class: { select: body, class: b }]
`))
	for _, c := range []struct {
		headers    [][2]string
		shown      map[string]int
		hide, show bool
		why        string // HeldCaps["hidden"]
	}{
		{nil, nil, true, true, ""},
		{[][2]string{{"Sec-GPC", "1"}}, nil, false, true, visit.HeldUntracked},
		{[][2]string{{"Sec-GPC", "0"}}, nil, true, true, ""},
		{nil, map[string]int{"hidden": 2, "shown": 2}, false, false, ""},
		// A visitor who declines is one the rules cannot count: what
		// their counts held before is not read (untracked: show applies
		// as if never counted).
		{[][2]string{{"Sec-GPC", "1"}}, map[string]int{"hidden": 2, "shown": 2}, false, true, visit.HeldUntracked},
		{[][2]string{{"Cookie", "consent=no"}}, map[string]int{"shown": 2}, false, true, visit.HeldDeclined},
		// The proxy's consent cookie (Spec.ConsentCookie) declines too.
		{[][2]string{{"Cookie", "consent=no"}}, nil, false, true, visit.HeldDeclined},
		{[][2]string{{"Cookie", "consent=yes"}}, nil, true, true, ""},
		{[][2]string{{"Cookie", "consent=no"}, {"Sec-GPC", "1"}}, nil, false, true, visit.HeldUntracked},
	} {
		res, err := visit.Run(context.Background(), s, prog, visit.Spec{Headers: c.headers, Shown: c.shown, ConsentCookie: "consent", ConsentDeny: []string{"no"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision.Has(0) != c.hide || res.Decision.Has(1) != c.show || res.HeldCaps["hidden"] != c.why || res.HeldCaps["shown"] != "" {
			t.Errorf("%v, shown %v: hidden %v, shown %v, held %q; want %v, %v, %q", c.headers, c.shown, res.Decision.Has(0), res.Decision.Has(1), res.HeldCaps, c.hide, c.show, c.why)
		}
		if res.Untracked != (c.why != "") {
			t.Errorf("%v: untracked %v", c.headers, res.Untracked)
		}
	}
}

// TestRequestAsTheProxyReadsIt: what a simulated request carries is read
// as the proxy reads the same request sent over HTTP: header values
// without the spaces around them, and the first well-formed of several
// visitor cookies.
func TestRequestAsTheProxyReadsIt(t *testing.T) {
	s, prog := load(t, []byte(`rules:
  - name: echo
    actions:
      - set_header: { name: X-Echo, value: "{{ header(\"X-A\") }}|{{ visitor.id }}" }
`))
	proxyURL, _ := proxyFor(t, s)
	id := visit.DerivedID("spaces")
	for _, value := range []string{" v ", "\tv", "v  ", "a b"} {
		resp, _ := get(t, proxyURL+"/", [][2]string{{"X-A", value}, {"Cookie", "bsk_vid=bad; bsk_vid=" + id}})
		want := resp.Header.Get("X-Echo")
		res, err := visit.Run(context.Background(), s, prog, visit.Spec{
			Headers: [][2]string{{"X-A", value}},
			Cookies: [][2]string{{"bsk_vid", "bad"}, {"bsk_vid", id}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, h := range res.Plan.ResponseHeaders {
			if h.Name == "X-Echo" {
				got = h.Value
			}
		}
		if got != want || want != strings.TrimSpace(value)+"|"+id {
			t.Errorf("header %q: simulated %q, the proxy %q", value, got, want)
		}
	}
}

// TestFragmentNeverSent: a URL pasted with its fragment is requested as
// a browser requests it, without: query("ref") is "mail", not "mail#top".
func TestFragmentNeverSent(t *testing.T) {
	s, prog := load(t, []byte(`rules:
  - name: echo
    actions:
      - set_header: { name: X-Ref, value: "{{ query(\"ref\") }}|{{ path }}" }
`))
	for _, u := range []string{"/?ref=mail#top", "/#top?ref=other", "/?ref=mail#"} {
		res, err := visit.Run(context.Background(), s, prog, visit.Spec{URL: u})
		if err != nil {
			t.Fatal(err)
		}
		want := "mail|/"
		if strings.HasPrefix(u, "/#") {
			want = "|/"
		}
		for _, h := range res.Plan.ResponseHeaders {
			if h.Name == "X-Ref" && h.Value != want {
				t.Errorf("%s: %q, want %q", u, h.Value, want)
			}
		}
	}
}

// TestOriginAskedAsByTheProxy: the request a simulation sends the origin
// carries the forwarding headers the proxy's would, so an origin that
// builds its links from them renders the same page.
func TestOriginAskedAsByTheProxy(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "Via"} {
			io.WriteString(w, h+"="+r.Header.Get(h)+"\n")
		}
	}))
	defer o.Close()
	u, _ := url.Parse(o.URL)
	s, prog := load(t, []byte("rules:\n  - name: r\n    actions:\n      - set_header: { name: X-R, value: x }\n"))
	p := proxy.New(proxy.Config{Origin: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(s)
	ps := httptest.NewServer(p)
	defer ps.Close()
	req, _ := http.NewRequest("GET", ps.URL+"/", nil)
	req.Host = "shop.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{Headers: [][2]string{{"Host", "shop.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := res.Fetch(context.Background(), nil, u)
	if err != nil {
		t.Fatal(err)
	}
	if string(page.Body) != string(want) || !strings.Contains(string(want), "X-Forwarded-Host=shop.example") {
		t.Errorf("the origin saw\n%s\nfrom the simulation, and\n%s\nfrom the proxy", page.Body, want)
	}
}

// TestJSONTypesAsTheProxyReads: a JSON Content-Type written loosely is
// JSON to a simulation as it is to the proxy, which edits it.
func TestJSONTypesAsTheProxyReads(t *testing.T) {
	for _, ct := range []string{"application/json;;", "application/json ; foo", `application/json; charset="utf-8`, "application/vnd.api+json"} {
		o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			io.WriteString(w, `{"a":1}`)
		}))
		u, _ := url.Parse(o.URL)
		s, prog := load(t, []byte("rules:\n  - name: r\n    actions:\n      - json_set: { path: a, json: '2' }\n"))
		res, err := visit.Run(context.Background(), s, prog, visit.Spec{})
		if err != nil {
			t.Fatal(err)
		}
		page, err := res.Fetch(context.Background(), nil, u)
		o.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, err := res.Render(page)
		if err != nil || !page.JSON || string(out.Body) != `{"a":2}` {
			t.Errorf("%s: JSON %v, rendered %s (%v)", ct, page.JSON, out.Body, err)
		}
	}
}

// proxyOf serves s through a real proxy in front of the origin h, the
// seen items and caps kept in cookies, until the test ends: the proxy's
// server, and the origin's URL.
func proxyOf(t *testing.T, s *site.Site, h http.Handler) (*httptest.Server, *url.URL) {
	t.Helper()
	o := httptest.NewServer(h)
	t.Cleanup(o.Close)
	origin, _ := url.Parse(o.URL)
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	capStore, err := caps.New([]byte("0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Config{Origin: origin, Seen: store, Caps: capStore, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(s)
	ps := httptest.NewServer(p)
	t.Cleanup(func() {
		ps.Close()
		p.Swap(nil)
	})
	return ps, origin
}

// TestNextVisitAsTheProxyKeeps is the differential test of visits one
// after another: a visitor on a phone visits the demo shop four times
// through a real proxy that keeps seen items and caps in cookies, and
// four times in a simulation where each visit's Spec is the previous
// one's Next. Each simulated page is the proxy's, byte for byte: the
// cards not seen yet come first, the capped invitation stops after two
// views, and the app banner's cookie hides it from the second visit on.
func TestNextVisitAsTheProxyKeeps(t *testing.T) {
	s, prog := load(t, demo.Rules())
	ps, origin := proxyOf(t, s, demo.Handler())

	jar := map[string]string{}
	spec := visit.Spec{Headers: [][2]string{{"User-Agent", iPhone}}}
	var cards []string
	for n := 1; n <= 4; n++ {
		headers := [][2]string{{"User-Agent", iPhone}}
		for k, v := range jar {
			headers = append(headers, [2]string{"Cookie", k + "=" + v})
		}
		resp, body := get(t, ps.URL+"/", headers)
		for _, c := range resp.Cookies() {
			jar[c.Name] = c.Value
		}
		if n == 1 {
			// The simulation names the visitor the proxy made up.
			spec.NewID = jar[reqctx.VisitorCookie]
		}
		res, out := simulate(t, s, prog, spec, origin)
		if !bytes.Equal(out.Body, body) {
			t.Errorf("visit %d: the simulated page differs from the proxy's:\n%s", n, firstDifference(out.Body, body))
		}
		for _, h := range []string{"Cache-Control", "Vary", plan.ExperimentsHeader} {
			if g, w := strings.Join(out.Header.Values(h), "|"), strings.Join(resp.Header.Values(h), "|"); g != w {
				t.Errorf("visit %d: %s is %q, the proxy sends %q", n, h, g, w)
			}
		}
		got := strings.Join(cardIDs(out.Body), " ")
		t.Logf("visit %d: matched %v, marked %v, counted %v, cards %s", n, res.Matched(), out.Marked, out.Counted, got)
		if got == "" || slices.Contains(cards, got) && n < 4 {
			t.Errorf("visit %d shows cards %q again", n, got)
		}
		cards = append(cards, got)
		wantInvite := n <= 2
		if has := bytes.Contains(out.Body, []byte(`id="newsletter-invite"`)); has != wantInvite {
			t.Errorf("visit %d: newsletter invitation shown %v, want %v", n, has, wantInvite)
		}
		if has := bytes.Contains(out.Body, []byte(`class="app-banner"`)); has != (n == 1) {
			t.Errorf("visit %d: app banner shown %v, want on the first visit only", n, has)
		}
		spec = res.Next(spec, out)
	}
	// Seen lists a card once a showing: the fourth visit showed the
	// first visit's 12 again.
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(spec.Seen)))); spec.Shown["newsletter-invite"] != 2 || distinct != 36 || len(spec.Seen) != 48 {
		t.Errorf("after four visits: shown %v, %d items seen (%d showings); want the invitation twice, the 36 cards, 48 showings", spec.Shown, distinct, len(spec.Seen))
	}
}

// simulate runs spec with s and rewrites the origin's page for it, as
// the proxy would.
func simulate(t *testing.T, s *site.Site, prog *ir.Program, spec visit.Spec, origin *url.URL) (*visit.Result, *visit.Output) {
	t.Helper()
	res, err := visit.Run(context.Background(), s, prog, spec)
	if err != nil {
		t.Fatal(err)
	}
	page, err := res.Fetch(context.Background(), nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.Render(page)
	if err != nil {
		t.Fatal(err)
	}
	return res, out
}

var cardRE = regexp.MustCompile(`class="card" data-item-id="([^"]+)"`)

func cardIDs(page []byte) []string {
	var out []string
	for _, m := range cardRE.FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// firstDifference shows where a and b part.
func firstDifference(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("at byte %d:\n  simulated: %q\n  proxy:     %q", i, a[from:min(len(a), i+80)], b[from:min(len(b), i+80)])
}

// TestNextVisit: what a view leaves for the next is what took effect: the
// mark_seen item of a rule whose edit applied (not of one whose selector
// found nothing), the rules' cookies, and, for a visitor who declines
// tracking, the cookies alone.
func TestNextVisit(t *testing.T) {
	s, prog := load(t, []byte(`rules:
  - name: promo
    when: not seen("promo-summer")
    actions:
      - insert_before: { select: main, html: '<div class="promo">Summer</div>' }
      - mark_seen: promo-summer
  - name: ghost
    when: not seen("ghost")
    actions:
      - insert_before: { select: "#nowhere", html: "x" }
      - mark_seen: ghost
  - name: hello
    actions:
      - set_cookie: { name: hello, value: "1", max_age: 1d }
`))
	page := &visit.Page{Body: []byte("<!doctype html><main>Hi</main>")}
	tests := []struct {
		name       string
		headers    [][2]string
		wantSeen   []string
		wantSecond bool // promo matches on the second visit
	}{
		{"a visitor", nil, []string{"promo-summer"}, false},
		{"a visitor who declines tracking", [][2]string{{"Sec-GPC", "1"}}, nil, true},
		// As the proxy, which records nothing for what the browser may
		// never show.
		{"a prefetch", [][2]string{{"Sec-Purpose", "prefetch"}}, nil, true},
		{"an image", [][2]string{{"Sec-Fetch-Dest", "image"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := visit.Spec{Headers: tt.headers, Cookies: [][2]string{{"hello", "0"}, {"other", "x"}}}
			res, err := visit.Run(context.Background(), s, prog, spec)
			if err != nil {
				t.Fatal(err)
			}
			out, err := res.Render(page)
			if err != nil {
				t.Fatal(err)
			}
			next := res.Next(spec, out)
			if !slices.Equal(next.Seen, tt.wantSeen) {
				t.Errorf("seen %q, want %q (marked %q)", next.Seen, tt.wantSeen, out.Marked)
			}
			if want := [][2]string{{"other", "x"}, {"hello", "1"}}; !slices.Equal(next.Cookies, want) {
				t.Errorf("cookies %q, want %q", next.Cookies, want)
			}
			if len(spec.Seen) != 0 || spec.Cookies[0][1] != "0" {
				t.Errorf("Next changed the Spec it was given: %+v", spec)
			}
			res2, err := visit.Run(context.Background(), s, prog, next)
			if err != nil {
				t.Fatal(err)
			}
			if got := res2.Decision.Has(0); got != tt.wantSecond {
				t.Errorf("second visit: promo matched %v, want %v", got, tt.wantSecond)
			}
			if !res2.Decision.Has(1) {
				t.Error("second visit: ghost, which took no effect, no longer matches")
			}
		})
	}
}

// TestCachingAsTheProxySends is the differential test of the caching
// headers a tool shows (explain, the rule tests): for pages and
// redirects, personalized for the visitor or the same for every visitor
// of the URL, the Cache-Control and Vary of the simulated response are
// those of a real proxy's for the same request. A rule's own
// Cache-Control (public, on a page made for French visitors) reads as the
// private one the proxy sends, not as the rule wrote it.
func TestCachingAsTheProxySends(t *testing.T) {
	s, prog := load(t, []byte(`
rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_header: { name: Cache-Control, value: "public, max-age=300" }
      - set_inner: { select: "#hero h1", text: Bonjour }
  - name: framed
    when: path == "/about"
    actions:
      - set_header: { name: X-Frame-Options, value: DENY }
  - name: moved
    when: path == "/sale-2025"
    actions:
      - redirect: { to: /sale, status: 301 }
  - name: members
    when: path == "/club" and cookie("club") == "gold"
    actions:
      - redirect: { to: /club/gold, status: 302 }
`))
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("CDN-Cache-Control", "max-age=600")
		io.WriteString(w, `<!doctype html><div id="hero"><h1>Hello</h1></div>`)
	})
	ps, originURL := proxyOf(t, s, origin)
	for _, tc := range []struct {
		name, path string
		headers    [][2]string
		want       string // the proxy's Cache-Control
	}{
		{"personalized page", "/", [][2]string{{"CF-IPCountry", "FR"}}, "private, max-age=300"},
		{"page no rule changed", "/", [][2]string{{"CF-IPCountry", "US"}}, "public, max-age=60"},
		{"page every visitor gets alike", "/about", nil, "public, max-age=60"},
		{"redirect every visitor gets", "/sale-2025", nil, ""},
		{"redirect for this visitor", "/club", [][2]string{{"Cookie", "club=gold"}}, "private, no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, res := viaProxyAndVisit(t, ps, s, prog, tc.path, tc.headers)
			if got := resp.Header.Get("Cache-Control"); got != tc.want {
				t.Fatalf("the proxy sends Cache-Control %q, the test expects %q", got, tc.want)
			}
			var page *visit.Page
			var err error
			if res.Plan.Redirect == nil {
				if page, err = res.Fetch(context.Background(), nil, originURL); err != nil {
					t.Fatal(err)
				}
			}
			out, err := res.Render(page)
			if err != nil {
				t.Fatal(err)
			}
			sameHeaders(t, out.Header, resp.Header, "Cache-Control", "CDN-Cache-Control", "Vary")
		})
	}
}

// TestCachingWithoutAPage: a visit rendered without a page (a test that
// checks only headers, explain without --html) still gets the
// Cache-Control and Vary the proxy sends with the page of an origin that
// sends none of its own: a rule's "Cache-Control: public" on a page made
// for French visitors reads as the private one the proxy sends, as it
// does with a page.
func TestCachingWithoutAPage(t *testing.T) {
	s, prog := load(t, []byte(`
experiments:
  - name: hero
    variants: { a: 50, b: 50 }
rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_header: { name: Cache-Control, value: "public, max-age=300" }
      - set_inner: { select: "#hero h1", text: Bonjour }
  - name: framed
    when: path == "/about"
    actions:
      - set_header: { name: X-Frame-Options, value: DENY }
  - name: bold
    when: path == "/exp" and variant("hero") == "b"
    actions:
      - set_inner: { select: "#hero h1", text: Bold }
  - name: promo
    when: path == "/promo"
    actions:
      - mark_seen: promo-1
`))
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><div id="hero"><h1>Hello</h1></div>`)
	})
	ps, _ := proxyOf(t, s, origin)
	const kept = "bsk_vid=0123456789abcdefABCDEF" // a returning visitor's id
	for _, tc := range []struct {
		name, path string
		headers    [][2]string
	}{
		{"personalized page", "/", [][2]string{{"CF-IPCountry", "FR"}, {"Cookie", kept}}},
		{"page no rule changed", "/", [][2]string{{"CF-IPCountry", "US"}, {"Cookie", kept}}},
		{"page every visitor gets alike", "/about", [][2]string{{"Cookie", kept}}},
		{"new visitor given an id", "/about", nil},
		{"variant of an experiment", "/exp", [][2]string{{"Cookie", kept}}},
		{"view recorded", "/promo", [][2]string{{"Cookie", kept}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, res := viaProxyAndVisit(t, ps, s, prog, tc.path, tc.headers)
			out, err := res.Render(nil)
			if err != nil {
				t.Fatal(err)
			}
			sameHeaders(t, out.Header, resp.Header, "Cache-Control", "Vary")
		})
	}
}

// TestUnchangedImpliedElement: an edit whose selector names an element
// the page leaves to the browser to make (no <body>, <head> or <tbody>
// tag, as minifiers leave them out) says so, and the experiments' meta
// tag says where the variants go instead; where the page has the tag,
// or the selector names none, the edit selects nothing as before.
func TestUnchangedImpliedElement(t *testing.T) {
	s, prog := load(t, []byte(`
experiments:
  - name: hero
    meta: true
    variants: { a: 50, b: 50 }
rules:
  - name: home
    actions:
      - add_class: { select: body, class: home }
  - name: sizes
    actions:
      - append: { select: "#sizes > tbody", html: "<tr><td>XL</td></tr>" }
  - name: typo
    actions:
      - remove: { select: "#nothing" }
`))
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{URL: "/"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		meta    = "meta: true writes the variants' <meta> at the end of the page's <head>, and this page has no <head> tag"
		body    = "its selector names body, which this page has no <body> tag for"
		tbody   = "its selector names tbody, which this page has no <tbody> tag for"
		nothing = "its selector selects nothing on this page"
	)
	for _, tc := range []struct {
		name, page string
		want       []string // for each edit of the plan, in order
	}{
		{"optional tags left out", `<!doctype html><meta charset=utf-8><title>Shop</title><p>Hi<table id=sizes><tr><td>S</table>`,
			[]string{meta, body, tbody, nothing}},
		{"every tag there", `<!DOCTYPE html><HTML><Head><title>Shop</title></Head><BODY class=x><table id=sizes><tbody><tr><td>S</table>`,
			[]string{"", "", "", nothing}},
		{"a tag in a comment is no proof it is missing", `<!doctype html><!-- <body> --><p>Hi`,
			[]string{meta, nothing, tbody, nothing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := &visit.Page{Body: []byte(tc.page)}
			out, err := res.Render(page)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Applied) != len(tc.want) {
				t.Fatalf("%d edits, want %d", len(out.Applied), len(tc.want))
			}
			for i, want := range tc.want {
				if want == "" {
					if out.Applied[i] == 0 {
						t.Errorf("edit %d applied to no element", i)
					}
					continue
				}
				if got := res.Unchanged(page, i); !strings.HasPrefix(got, want) {
					t.Errorf("edit %d: %q, want it to start %q", i, got, want)
				}
			}
		})
	}
}

// viaProxyAndVisit requests path with headers (and the simulation's
// User-Agent) through the proxy ps, and simulates the same visit with s:
// the proxy's response, its body closed, and the visit.
func viaProxyAndVisit(t *testing.T, ps *httptest.Server, s *site.Site, prog *ir.Program, path string, headers [][2]string) (*http.Response, *visit.Result) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ps.URL+path, nil)
	req.Header.Set("User-Agent", visit.DefaultUserAgent)
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	res, err := visit.Run(context.Background(), s, prog, visit.Spec{URL: path, Headers: headers})
	if err != nil {
		t.Fatal(err)
	}
	return resp, res
}

// sameHeaders reports each of names whose values in got (the
// simulation's) differ from the proxy's.
func sameHeaders(t *testing.T, got, proxy http.Header, names ...string) {
	t.Helper()
	for _, h := range names {
		if g, w := strings.Join(got.Values(h), "|"), strings.Join(proxy.Values(h), "|"); g != w {
			t.Errorf("%s is %q, the proxy sends %q", h, g, w)
		}
	}
}
