package proxy_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// cardsPage is an origin page with 12 cards.
func cardsPage() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><title>Shop</title></head><body><ul class="cards">`)
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "\n  <li class=\"card\" data-item-id=\"sku-%d\"><h3>Item %d</h3></li>", i, i)
	}
	b.WriteString("\n</ul></body></html>")
	return b.String()
}

func cardsOrigin() http.Handler {
	page := cardsPage()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/items" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"items":[{"id":"sku-1"},{"id":"sku-2"},{"id":"sku-3"},{"id":"sku-4"},{"id":"sku-5"},{"id":"sku-6"}],"banner":{"title":"Hello"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
}

const seenRules = `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "li.card", id: "@data-item-id", keep_at_least: 2 }
      - json_hide_seen: { path: items, id: id, keep_at_least: 2 }
      - json_set: { path: banner.title, value: "Hello {{ geo.country or 'you' }}" }
`

var itemRE = regexp.MustCompile(`data-item-id="(sku-\d+)"`)

func items(body string) []string {
	var out []string
	for _, m := range itemRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// newSeenEnv is an env whose proxy has a seen-store and caps.
func newSeenEnv(t *testing.T, store seen.Store) *env {
	t.Helper()
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	return newEnv(t, cardsOrigin(), []byte(seenRules), func(c *proxy.Config) {
		c.Seen, c.Caps = store, capStore
	})
}

// cookieJar keeps the cookies of responses, as a browser would.
type cookieJar map[string]string

func (j cookieJar) header() string {
	var parts []string
	for k, v := range j {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

func (j cookieJar) keep(r response) {
	for _, c := range r.Cookies() {
		j[c.Name] = c.Value
	}
}

// testSecondViewHidesSeen: the first view shows 12 cards, the second view
// hides them (keeping 2), through the real proxy.
func testSecondViewHidesSeen(t *testing.T, store seen.Store) {
	e := newSeenEnv(t, store)
	jar := cookieJar{}
	first := e.get(t, "/")
	jar.keep(first)
	if rs, ok := store.(*seen.RedisStore); ok {
		rs.Flush(time.Second) // saves are written in the background
	}
	if got := items(first.body); len(got) != 12 {
		t.Fatalf("first view shows %d items, want all 12", len(got))
	}
	second := e.get(t, "/", "Cookie", jar.header())
	got := items(second.body)
	if len(got) != 2 || got[0] != "sku-1" || got[1] != "sku-2" {
		t.Fatalf("second view shows %v, want the 2 kept [sku-1 sku-2]", got)
	}
	// JSON responses share the same seen-filter.
	jar.keep(second)
	if rs, ok := store.(*seen.RedisStore); ok {
		rs.Flush(time.Second)
	}
	api := e.get(t, "/api/items", "Cookie", jar.header(), "CF-IPCountry", "FR")
	var doc struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Banner struct {
			Title string `json:"title"`
		} `json:"banner"`
	}
	if err := json.Unmarshal([]byte(api.body), &doc); err != nil {
		t.Fatalf("JSON response does not decode: %v\n%s", err, api.body)
	}
	if len(doc.Items) != 2 || doc.Banner.Title != "Hello FR" {
		t.Errorf("JSON response %+v", doc)
	}
	if api.Header.Get("Content-Length") != strconv.Itoa(len(api.body)) {
		t.Errorf("Content-Length %q for %d bytes", api.Header.Get("Content-Length"), len(api.body))
	}
}

func TestSecondViewHidesSeenWithCookie(t *testing.T) {
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	testSecondViewHidesSeen(t, store)
}

func TestSecondViewHidesSeenWithRedis(t *testing.T) {
	addr := startRedis(t)
	store, err := seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + addr + "/0", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testSecondViewHidesSeen(t, store)
}

func TestGPCWritesNoSeenState(t *testing.T) {
	store, _ := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	e := newSeenEnv(t, store)
	r := e.get(t, "/", "Sec-GPC", "1")
	for _, c := range r.Cookies() {
		t.Errorf("cookie %s written despite Sec-GPC: 1", c.Name)
	}
	if len(items(r.body)) != 12 {
		t.Error("the page was not served")
	}
}

// TestHeadOfAHideSeenPage: HEAD answers with the headers GET would
// (a page that records what it shows is private and no-cache, so that a
// cache does not freshen its copy of the page with the HEAD's), but
// shows no item, so it records none: it sets no seen cookie.
func TestHeadOfAHideSeenPage(t *testing.T) {
	store, _ := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	e := newSeenEnv(t, store)
	get := e.get(t, "/")
	req, _ := http.NewRequest(http.MethodHead, e.proxy.URL+"/", nil)
	head, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if get.Header.Get("Cache-Control") != "private, no-cache" {
		t.Errorf("GET: Cache-Control %q", get.Header.Get("Cache-Control"))
	}
	for _, k := range []string{"Cache-Control", "Vary", "Etag", "Content-Type", "Last-Modified"} {
		if g, h := strings.Join(get.Header.Values(k), ", "), strings.Join(head.Header.Values(k), ", "); g != h {
			t.Errorf("%s: GET %q, HEAD %q", k, g, h)
		}
	}
	for _, c := range head.Cookies() {
		if c.Name == seen.DefaultCookieName {
			t.Errorf("HEAD recorded items seen: %s", c)
		}
	}
	for _, c := range get.Cookies() {
		if c.Name == seen.DefaultCookieName {
			return
		}
	}
	t.Errorf("GET recorded no item seen: %q", get.Header.Values("Set-Cookie"))
}

// TestCrossSitePostKeepsTheSeenCookie: a form another site posts to a
// page (a payment's return) comes without the SameSite=Lax seen cookie,
// and the browser stores the cookie its response sets: the page is
// served, and its items are not written over what the visitor had seen.
func TestCrossSitePostKeepsTheSeenCookie(t *testing.T) {
	store, _ := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	e := newSeenEnv(t, store)
	req, _ := http.NewRequest(http.MethodPost, e.proxy.URL+"/", strings.NewReader("paid=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(items(string(body))) != 12 {
		t.Fatalf("status %d, %d items", resp.StatusCode, len(items(string(body))))
	}
	for _, c := range resp.Cookies() {
		if c.Name == seen.DefaultCookieName {
			t.Errorf("the visitor's seen cookie was written over: %s", c)
		}
	}
	// Not tracked, as a visitor who declined: nothing is saved, and
	// nothing counted as a save that failed.
	if n, m := e.p.Stats().SeenSaveErrors.Load(), e.p.Stats().SeenSkipped.Load(); n != 0 || m != 0 {
		t.Errorf("%d seen saves failed, %d skipped: the request is not tracked", n, m)
	}
}

func TestTamperedSeenCookieIsReplaced(t *testing.T) {
	store, _ := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	e := newSeenEnv(t, store)
	r := e.get(t, "/", "Cookie", "bsk_seen=AAAA%%%not-a-filter; bsk_vid=x")
	if r.StatusCode != 200 || len(items(r.body)) != 12 {
		t.Fatalf("status %d, %d items", r.StatusCode, len(items(r.body)))
	}
	if e.p.Stats().SeenDropped.Load() == 0 {
		t.Error("the broken cookie was not counted as dropped")
	}
}

func TestRedisDownServesPage(t *testing.T) {
	addr := testproc.RefusedAddr(t)
	store, err := seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + addr + "/0", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newSeenEnv(t, store)
	start := time.Now()
	r := e.get(t, "/")
	if r.StatusCode != 200 || len(items(r.body)) != 12 {
		t.Fatalf("status %d, %d items", r.StatusCode, len(items(r.body)))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a dead Redis delayed the page %v", d)
	}
}

// startRedis starts a real redis-server on a free loopback port.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not found; CI must install it")
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			if testproc.Owns(cmd.Process.Pid, addr) { // not another test's server
				return addr
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

func TestFrequencyCap(t *testing.T) {
	src := `rules:
  - name: promo
    at_most: 2 per 1d
    actions:
      - set_header: { name: X-Promo, value: shown }
`
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	e := newEnv(t, cardsOrigin(), []byte(src), func(c *proxy.Config) { c.Caps = capStore })
	jar := cookieJar{}
	var shown int
	for range 4 {
		r := e.get(t, "/", "Cookie", jar.header())
		jar.keep(r)
		if r.Header.Get("X-Promo") == "shown" {
			shown++
		}
	}
	if shown != 2 {
		t.Fatalf("the capped rule applied %d times in 4 views, want 2", shown)
	}
}

// TestCappedRuleNotPrefetched: a prefetched or prerendered page, which
// counts no view but which the browser shows when the visitor goes
// there without asking again, gets no capped rule: it used to get it,
// uncounted, on every navigation a site's speculation rules prefetched.
func TestCappedRuleNotPrefetched(t *testing.T) {
	src := `rules:
  - name: promo
    at_most: 2 per 1d
    actions:
      - set_inner: { select: "ul.cards", text: PROMO }
  - name: always
    actions:
      - set_header: { name: X-Always, value: "yes" }
`
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	e := newEnv(t, cardsOrigin(), []byte(src), func(c *proxy.Config) { c.Caps = capStore })
	jar := cookieJar{}
	for _, h := range [][]string{{"Sec-Purpose", "prefetch"}, {"Sec-Purpose", "prefetch;prerender"}, {"Purpose", "prefetch"}, {"X-Moz", "prefetch"}} {
		for range 3 {
			r := e.get(t, "/", append([]string{"Cookie", jar.header()}, h...)...)
			jar.keep(r)
			if strings.Contains(r.body, "PROMO") || r.Header.Get("X-Always") != "yes" {
				t.Fatalf("%q: promo shown %v, X-Always %q", h, strings.Contains(r.body, "PROMO"), r.Header.Get("X-Always"))
			}
			// What it got is no visitor's page: no shared cache keeps it
			// for a navigation.
			if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
				t.Fatalf("%q: Cache-Control %q", h, cc)
			}
		}
	}
	// Views still count, from zero: the prefetches counted nothing.
	shown := 0
	for range 3 {
		r := e.get(t, "/", "Cookie", jar.header())
		jar.keep(r)
		if strings.Contains(r.body, "PROMO") {
			shown++
		}
	}
	if shown != 2 {
		t.Fatalf("after the prefetches, the capped rule showed on %d of 3 views, want 2", shown)
	}
}

func TestExperimentExposed(t *testing.T) {
	src := `experiments:
  - name: hero-test
    meta: true
    variants: { a: 50, b: 50 }
rules:
  - name: b
    when: variant("hero-test") == "b"
    actions:
      - add_class: { select: body, class: "variant-{{ variant(\"hero-test\") }}" }
`
	e := newEnv(t, cardsOrigin(), []byte(src))
	counts := map[string]int{}
	for i := range 40 {
		id := fmt.Sprintf("AAAAAAAAAAAAAAAAAAAA%02d", i)
		r := e.get(t, "/", "Cookie", "bsk_vid="+id)
		h := r.Header.Get("X-Bespoke-Experiments")
		if !strings.HasPrefix(h, "hero-test=") {
			t.Fatalf("experiments header %q", h)
		}
		v := strings.TrimPrefix(h, "hero-test=")
		counts[v]++
		if !strings.Contains(r.body, `<meta name="bespoke-experiment" content="hero-test=`+v+`">`) {
			t.Fatalf("no meta tag for %s", v)
		}
		if (v == "b") != strings.Contains(r.body, `class="variant-b"`) {
			t.Fatalf("variant %s and the page disagree", v)
		}
		// The same visitor always gets the same variant.
		if again := e.get(t, "/", "Cookie", "bsk_vid="+id).Header.Get("X-Bespoke-Experiments"); again != h {
			t.Fatalf("visitor %s moved from %s to %s", id, h, again)
		}
	}
	if counts["a"] == 0 || counts["b"] == 0 {
		t.Errorf("40 visitors all got one variant: %v", counts)
	}
}

// TestUntrackedVisitorsAreNotEnrolled: a new visitor who declines
// tracking (Sec-GPC: 1, which Brave sends on every request, or the
// consent cookie's no) has no visitor id, so no experiment or rollout by
// visitor id enrolls them: every page they see is the same, and no page
// of theirs is reported as an exposure. With an id from before they
// declined they keep their variant, as the id's cookie stays.
func TestUntrackedVisitorsAreNotEnrolled(t *testing.T) {
	src := `experiments:
  - name: hero-test
    meta: true
    variants: { a: 50, b: 50 }
  - name: by-account
    by: cookie("account")
    variants: { x: 50, y: 50 }
rules:
  - name: b
    when: variant("hero-test") == "b"
    actions:
      - add_class: { select: body, class: variant-b }
  - name: half
    rollout: 50%
    actions:
      - set_header: { name: X-Half, value: "1" }
`
	e := newEnv(t, cardsOrigin(), []byte(src), func(c *proxy.Config) {
		c.ConsentCookie, c.ConsentDeny = "consent", []string{"no"}
	})
	declined := [][]string{
		{"Sec-GPC", "1"},
		{"Cookie", "consent=no"},
	}
	for _, h := range declined {
		for range 20 {
			r := e.get(t, "/", h...)
			if r.StatusCode != 200 {
				t.Fatalf("%v: status %d", h, r.StatusCode)
			}
			if x := r.Header.Get("X-Bespoke-Experiments"); x != "" {
				t.Fatalf("%v: a new visitor who declines is reported in %q", h, x)
			}
			if strings.Contains(r.body, "variant-b") || strings.Contains(r.body, "bespoke-experiment") || r.Header.Get("X-Half") != "" {
				t.Fatalf("%v: a new visitor who declines was enrolled: %s", h, r.Header)
			}
			if len(r.Cookies()) != 0 {
				t.Fatalf("%v: cookies set for a visitor who declines: %v", h, r.Header.Values("Set-Cookie"))
			}
		}
	}
	// An experiment by another value than the visitor id still enrolls
	// them: nothing is written, and the value is theirs on every page.
	r := e.get(t, "/", "Sec-GPC", "1", "Cookie", "account=42")
	if x := r.Header.Get("X-Bespoke-Experiments"); !strings.HasPrefix(x, "by-account=") || strings.Contains(x, "hero-test") {
		t.Errorf("by cookie(\"account\"): experiments %q", x)
	}
	// A visitor with an id keeps its variant after declining.
	for i := range 10 {
		id := fmt.Sprintf("AAAAAAAAAAAAAAAAAAAA%02d", i)
		before := e.get(t, "/", "Cookie", "bsk_vid="+id).Header.Get("X-Bespoke-Experiments")
		after := e.get(t, "/", "Cookie", "bsk_vid="+id, "Sec-GPC", "1").Header.Get("X-Bespoke-Experiments")
		if before == "" || after != before {
			t.Fatalf("visitor %s: %q, then %q with Sec-GPC", id, before, after)
		}
	}
}

// TestExperimentMetaWithoutAHeadTag: HTML lets a page leave out its
// <head> tag (minifiers that drop optional tags do), and the rewriter
// selects no element the page has no tag for: such a page gets no
// <meta name="bespoke-experiment">, as SYNTAX says, and its header
// still names the variant.
func TestExperimentMetaWithoutAHeadTag(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Shop</title><h1 id=hero>Hello</h1>`)
	})
	e := newEnv(t, origin, []byte(`experiments:
  - name: hero-test
    meta: true
    variants: { a: 50, b: 50 }
rules:
  - name: b
    when: variant("hero-test") == "b"
    actions:
      - add_class: { select: "#hero", class: b }
`))
	r := e.get(t, "/", "Cookie", "bsk_vid=AAAAAAAAAAAAAAAAAAAA00")
	if h := r.Header.Get("X-Bespoke-Experiments"); !strings.HasPrefix(h, "hero-test=") {
		t.Fatalf("experiments header %q", h)
	}
	if strings.Contains(r.body, "bespoke-experiment") {
		t.Fatalf("a page without a <head> tag got the meta tag; say so in SYNTAX's Experiments:\n%s", r.body)
	}
}

// TestExperimentPagesVaryWithTheAssignment: a page (HTML or JSON) names
// the visitor's variants and is private for an enrolled visitor; that of
// a visitor the experiment leaves out (its weights add up to less than
// 100%, its when does not hold) is shared-cacheable, so its Vary names
// what enrolment depends on, though no rule that can change that
// response reads it: else a shared cache gives the page without the
// variant (nor the experiments header) to the enrolled visitors after.
func TestExperimentPagesVaryWithTheAssignment(t *testing.T) {
	for _, tc := range []struct {
		name, rules, path, header string
		want                      []string
	}{
		{"JSON, rules edit pages alone", `experiments:
  - name: cta
    variants: { a: 30, b: 30 }
rules:
  - name: b
    when: variant("cta") == "b"
    actions:
      - add_class: { select: body, class: b }
`, "/api/items", "", []string{"Cookie"}},
		{"HTML, rules set headers elsewhere", `experiments:
  - name: cta
    variants: { a: 30, b: 30 }
rules:
  - name: elsewhere
    when: path == "/never"
    actions:
      - set_header: { name: X-Elsewhere, value: "1" }
`, "/", "", []string{"Cookie"}},
		{"JSON, enrolment by a header", `experiments:
  - name: cta
    when: header("X-Tier") == "gold"
    variants: { a: 50, b: 50 }
rules:
  - name: b
    when: variant("cta") == "b"
    actions:
      - add_class: { select: body, class: b }
`, "/api/items", "X-Tier", []string{"Cookie", "X-Tier"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cardsOrigin(), []byte(tc.rules))
			enrolled, shared := 0, 0
			for i := range 40 {
				id := fmt.Sprintf("AAAAAAAAAAAAAAAAAAAA%02d", i)
				headers := []string{"Cookie", "bsk_vid=" + id}
				if tc.header != "" && i%2 == 0 {
					headers = append(headers, tc.header, "gold")
				}
				r := e.get(t, tc.path, headers...)
				if r.Header.Get("X-Bespoke-Experiments") != "" {
					enrolled++
				}
				if strings.Contains(r.Header.Get("Cache-Control"), "private") {
					continue
				}
				shared++
				for _, h := range tc.want {
					if !varyNames(r.Header, h) {
						t.Fatalf("visitor %s left out of the experiment got a shared-cacheable %s with Vary %q, which does not name %s", id, tc.path, r.Header.Values("Vary"), h)
					}
				}
			}
			if enrolled == 0 || shared == 0 {
				t.Fatalf("of 40 visitors, %d enrolled, %d got a shared-cacheable response", enrolled, shared)
			}
		})
	}
}

// varyNames reports whether h's Vary names name.
func varyNames(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// TestRedirectVariantExposed: a variant that sends its visitors to
// another page (a new landing page, a checkout elsewhere) is exposed on
// its redirect, as the other variants are on the page: the experiment
// enrolls on / alone, so no page names the variant after the redirect.
func TestRedirectVariantExposed(t *testing.T) {
	src := `experiments:
  - name: landing
    when: path == "/"
    variants: { control: 50, new: 50 }
rules:
  - name: new-landing
    when: variant("landing") == "new"
    actions:
      - redirect: /new
`
	e := newEnv(t, cardsOrigin(), []byte(src))
	counts := map[string]int{}
	for i := range 40 {
		id := fmt.Sprintf("AAAAAAAAAAAAAAAAAAAA%02d", i)
		r := e.get(t, "/", "Cookie", "bsk_vid="+id)
		h := r.Header.Get("X-Bespoke-Experiments")
		counts[h]++
		switch h {
		case "landing=control":
			if r.StatusCode != http.StatusOK {
				t.Fatalf("visitor %s in control got a %d", id, r.StatusCode)
			}
		case "landing=new":
			if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/new" {
				t.Fatalf("visitor %s in new got a %d to %q", id, r.StatusCode, r.Header.Get("Location"))
			}
		default:
			t.Fatalf("visitor %s got a %d with the experiments header %q", id, r.StatusCode, h)
		}
	}
	if counts["landing=control"] == 0 || counts["landing=new"] == 0 {
		t.Errorf("40 visitors all got one variant: %v", counts)
	}
}

func TestCompressedOriginsAreReencoded(t *testing.T) {
	page := cardsPage()
	for _, enc := range []string{"gzip", "br"} {
		t.Run(enc, func(t *testing.T) {
			origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Encoding", enc)
				var zw io.WriteCloser
				if enc == "gzip" {
					zw = gzip.NewWriter(w)
				} else {
					zw = brotli.NewWriter(w)
				}
				io.WriteString(zw, page)
				zw.Close()
			})
			e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - remove: \"li.card:nth-child(n+3)\"\n"))
			req, _ := http.NewRequest("GET", e.proxy.URL+"/", nil)
			req.Header.Set("Accept-Encoding", "gzip, br")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("Content-Encoding"); got != enc {
				t.Fatalf("Content-Encoding %q, want %q", got, enc)
			}
			var body io.Reader
			if enc == "gzip" {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			} else {
				body = brotli.NewReader(resp.Body)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if got := items(string(b)); len(got) != 2 {
				t.Fatalf("%d items after rewriting, want 2", len(got))
			}
		})
	}
}

// With the seen-filter and the caps in one shared Redis store: a page
// held back until its capped rule's edit applied still records what it
// showed (the page ends while held, before the save is scheduled), the
// count lives in Redis rather than a cookie, and the capped rule stops
// after its cap.
func TestSharedCapsAndSeenInRedis(t *testing.T) {
	addr := startRedis(t)
	store, err := seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + addr + "/0", Timeout: time.Second, Prefix: "shared-caps:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	capStore, err := caps.NewShared(store, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	const rules = `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "li.card", id: "@data-item-id", keep_at_least: 2 }
  - name: invite
    at_most: 1 per 1d
    actions:
      - insert_after: { select: "ul.cards", html: '<aside id="invite">join</aside>' }
`
	e := newEnv(t, cardsOrigin(), []byte(rules), func(c *proxy.Config) { c.Seen, c.Caps = store, capStore })
	jar := cookieJar{}
	first := e.get(t, "/")
	jar.keep(first)
	if _, ok := jar["bsk_vid"]; !ok {
		t.Fatal("no visitor id cookie: the state in Redis could not be found again")
	}
	if _, ok := jar[caps.CookieName]; ok {
		t.Error("a caps cookie was set; the counts belong in Redis")
	}
	if !store.Flush(2 * time.Second) {
		t.Fatal("saves not written")
	}
	if store.Saves.Load() != 2 {
		t.Fatalf("%d states written after the first view, want 2 (seen-state and caps)", store.Saves.Load())
	}
	if got := items(first.body); len(got) != 12 || !strings.Contains(first.body, `id="invite"`) {
		t.Fatalf("first view: %d items, invite %v", len(got), strings.Contains(first.body, `id="invite"`))
	}
	second := e.get(t, "/", "Cookie", jar.header())
	if got := items(second.body); len(got) != 2 {
		t.Errorf("second view shows %v, want the 2 kept", got)
	}
	if strings.Contains(second.body, `id="invite"`) {
		t.Error("the rule capped at 1 a day showed twice")
	}
}

// TestVisitorWhoLeavesKeepsWhatThePageShowed: a visitor who leaves a page
// before its end (a click on a card while the rest of the page still
// loads) was shown the lists that came before: a store that records the
// page's items after its body (Redis) records those, as the cookie store,
// which records them before the headers, does. It recorded none, and the
// next page showed the same cards again as unseen.
func TestVisitorWhoLeavesKeepsWhatThePageShowed(t *testing.T) {
	addr := startRedis(t)
	store, err := seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + addr + "/0", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	release := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(release) }) }
	t.Cleanup(stop)
	// The cards, then a tail that does not come until the test ends.
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page := cardsPage()
		io.WriteString(w, page[:strings.Index(page, "</ul>")+len("</ul>")]+strings.Repeat("\n<p>more</p>", 2000))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e := newEnv(t, origin, []byte(seenRules), func(c *proxy.Config) { c.Seen = store })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.proxy.URL+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "</ul>") {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("the page broke off before its cards: %v (%q)", err, got.String())
		}
	}
	if n := len(items(got.String())); n != 12 {
		t.Fatalf("the visitor was shown %d cards, want 12", n)
	}
	var vid string
	for _, c := range resp.Cookies() {
		if c.Name == "bsk_vid" {
			vid = c.Value
		}
	}
	if vid == "" {
		t.Fatalf("no visitor id: %q", resp.Header.Values("Set-Cookie"))
	}
	// The visitor leaves.
	cancel()
	resp.Body.Close()
	deadline := time.After(30 * time.Second)
	for e.p.Stats().Aborted.Load() == 0 {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("the proxy did not see the visitor leave")
		}
	}
	stop()
	store.Flush(5 * time.Second)
	set, info := store.Load(context.Background(), nil, vid)
	defer set.Release()
	if info.Source != seen.SourceRedis {
		t.Fatalf("nothing stored for the visitor who left: %+v", info)
	}
	for i := 1; i <= 12; i++ {
		if id := fmt.Sprintf("sku-%d", i); !set.Seen(id) {
			t.Errorf("%s, shown before the visitor left, is not seen", id)
		}
	}
}

// TestTwoListsOfOneDocument: an item the first list of a page shows is
// seen by the second, which hides it; so is one the first array of a
// JSON document shows by the second array. The JSON document recorded
// its arrays once every edit was done, and showed the item in both.
func TestTwoListsOfOneDocument(t *testing.T) {
	const rules = `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul > li", id: "@data-item-id" }
      - json_hide_seen: { path: recommended, id: id }
      - json_limit: { path: recommended, n: 2 }
      - json_hide_seen: { path: bestsellers, id: id }
`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"recommended":[{"id":"sku-1"},{"id":"sku-2"},{"id":"sku-3"}],"bestsellers":[{"id":"sku-1"},{"id":"sku-3"},{"id":"sku-4"}]}`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><body><ul><li data-item-id="sku-1">1</li><li data-item-id="sku-2">2</li></ul>`+
			`<ul><li data-item-id="sku-1">1</li><li data-item-id="sku-3">3</li><li data-item-id="sku-4">4</li></ul></body>`)
	})
	for _, name := range []string{"cookie", "redis"} {
		t.Run(name, func(t *testing.T) {
			var store seen.Store
			if name == "cookie" {
				store, _ = seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
			} else {
				rs, err := seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + startRedis(t) + "/0", Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rs.Close() })
				store = rs
			}
			e := newEnv(t, origin, []byte(rules), func(c *proxy.Config) { c.Seen = store })
			if got := strings.Join(items(e.get(t, "/").body), " "); got != "sku-1 sku-2 sku-3 sku-4" {
				t.Errorf("page: %s, want sku-1 sku-2 sku-3 sku-4 (sku-1 once)", got)
			}
			var doc struct{ Recommended, Bestsellers []struct{ ID string } }
			if err := json.Unmarshal([]byte(e.get(t, "/api").body), &doc); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range append(doc.Recommended, doc.Bestsellers...) {
				got = append(got, it.ID)
			}
			// The first array shows sku-1 and sku-2 (limited to 2): the
			// second shows sku-3, not shown above, and sku-4.
			if strings.Join(got, " ") != "sku-1 sku-2 sku-3 sku-4" {
				t.Errorf("JSON: %v, want [sku-1 sku-2 sku-3 sku-4] (sku-1 once)", got)
			}
		})
	}
}

// TestOwnCookiesStayWithTheProxy: the seen-filter's and the caps' cookies,
// which only the proxy reads, are not sent on to the origin (up to 3 KB
// more in each request's Cookie line, which an origin's limit on a
// header counts); the site's cookies and the visitor id are, and the
// proxy still reads its own.
func TestOwnCookiesStayWithTheProxy(t *testing.T) {
	store, _ := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	var mu sync.Mutex
	var sent []string
	cards := cardsOrigin()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, strings.Join(r.Header.Values("Cookie"), " | "))
		mu.Unlock()
		cards.ServeHTTP(w, r)
	})
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	e := newEnv(t, origin, []byte(seenRules), func(c *proxy.Config) { c.Seen, c.Caps = store, capStore })
	jar := cookieJar{}
	jar.keep(e.get(t, "/"))
	if jar[seen.DefaultCookieName] == "" {
		t.Fatalf("no seen cookie set: %v", jar)
	}
	jar["site"], jar[reqctx.VisitorCookie] = "1", "AAAAAAAAAAAAAAAAAAAAAA"
	jar[caps.CookieName] = "x"
	second := e.get(t, "/", "Cookie", jar.header())
	if got := items(second.body); len(got) != 2 {
		t.Errorf("second view shows %v: the proxy no longer reads its cookie", got)
	}
	mu.Lock()
	last := sent[len(sent)-1]
	mu.Unlock()
	for _, name := range []string{seen.DefaultCookieName, caps.CookieName} {
		if strings.Contains(last, name+"=") {
			t.Errorf("the origin got %s: %q", name, last)
		}
	}
	for _, want := range []string{"site=1", reqctx.VisitorCookie + "=AAAAAAAAAAAAAAAAAAAAAA"} {
		if !strings.Contains(last, want) {
			t.Errorf("the origin did not get %s: %q", want, last)
		}
	}
}

// TestMarkSeenNotHiddenOnItsOwnPage: an item a page marks seen (a
// mark_seen rule without page edits, which takes effect from the plan)
// is not hidden by a list of the same page: it is seen from the next
// page view on, with either store. The Redis store recorded it before
// the page's lists ran, and they hid it; the cookie store did not.
func TestMarkSeenNotHiddenOnItsOwnPage(t *testing.T) {
	const rules = `rules:
  - name: featured
    actions:
      - mark_seen: sku-2
  - name: fresh
    actions:
      - hide_seen: { select: "li.card", id: "@data-item-id" }
`
	for _, name := range []string{"cookie", "redis"} {
		t.Run(name, func(t *testing.T) {
			var store seen.Store
			var rs *seen.RedisStore
			if name == "cookie" {
				store, _ = seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
			} else {
				var err error
				rs, err = seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + startRedis(t) + "/0", Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rs.Close() })
				store = rs
			}
			e := newEnv(t, cardsOrigin(), []byte(rules), func(c *proxy.Config) { c.Seen = store })
			jar := cookieJar{}
			first := e.get(t, "/", "Sec-Fetch-Dest", "document")
			jar.keep(first)
			if got := items(first.body); len(got) != 12 {
				t.Errorf("first view shows %d cards %v, want all 12 (sku-2 is seen from the next view on)", len(got), got)
			}
			if rs != nil {
				rs.Flush(time.Second)
			}
			second := e.get(t, "/", "Sec-Fetch-Dest", "document", "Cookie", jar.header())
			if got := items(second.body); len(got) != 0 {
				t.Errorf("second view shows %v, want none: every card was seen", got)
			}
		})
	}
}
