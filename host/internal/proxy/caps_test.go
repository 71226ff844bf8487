package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
)

// popupRules cap a popup before #main at two views a day.
const popupRules = `rules:
  - name: popup
    at_most: 2 per 1d
    actions:
      - insert_before: { select: "#main", html: '<div id="popup">Join us</div>' }
`

// revalidatingOrigin serves /list, a page with #main, and /other, one
// without, each with a strong ETag and Cache-Control: no-cache (the
// browser asks before each showing), answering 304 to its own ETag.
func revalidatingOrigin() http.Handler {
	pages := map[string]string{
		"/list":  `<!doctype html><html><body><main id="main"><p>Items</p></main></body></html>`,
		"/other": `<!doctype html><html><body><p>No main here.</p></body></html>`,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		etag := `"v1` + strings.ReplaceAll(r.URL.Path, "/", "-") + `"`
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, page)
	})
}

// TestCapsRevalidatedCopy: a 304 counts a capped rule only when the copy
// it revalidates showed it. A page where the popup's selector selects
// nothing kept the plan's ETag, and every revalidation of it (a reload,
// a back button) counted the popup the page never showed, until the
// visitor had used the cap up without seeing it once.
func TestCapsRevalidatedCopy(t *testing.T) {
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	e := newEnv(t, revalidatingOrigin(), []byte(popupRules), func(c *proxy.Config) { c.Caps = capStore })
	jar, lastETag := cookieJar{}, map[string]string{}
	nav := func(path, etag string) response {
		t.Helper()
		h := []string{"Sec-Fetch-Dest", "document", "Cookie", jar.header()}
		if etag != "" {
			h = append(h, "If-None-Match", etag)
		}
		r := e.get(t, path, h...)
		jar.keep(r)
		return r
	}
	for _, c := range []struct {
		name string
		path string
		// reload sends the ETag the page last came with, if any; status
		// is what comes, and popup whether a 200 shows it.
		reload bool
		status int
		popup  bool
	}{
		{"a page without #main", "/other", false, 200, false},
		{"its reload: no ETag to send", "/other", true, 200, false},
		{"another reload", "/other", true, 200, false},
		{"the page with #main", "/list", false, 200, true},
		{"its reload: the copy shows the popup, counted", "/list", true, 304, false},
		{"the page with #main once more: the cap is used up", "/list", false, 200, false},
	} {
		etag := ""
		if c.reload {
			etag = lastETag[c.path]
		}
		r := nav(c.path, etag)
		if r.StatusCode != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, r.StatusCode, c.status)
		}
		if got := strings.Contains(r.body, `id="popup"`); r.StatusCode == 200 && got != c.popup {
			t.Fatalf("%s: popup %v, want %v", c.name, got, c.popup)
		}
		if r.StatusCode == http.StatusOK {
			lastETag[c.path] = r.Header.Get("ETag")
		}
	}
}

// TestCappedHeaderVariesWithGPC: a route whose capped rule sets a
// header, and edits no page, served a visitor who sends Sec-GPC: 1 (whom
// the rule skips) the origin's page, public, with a Vary that did not
// name Sec-GPC: a shared cache in front then gave that copy, without the
// rule, to every new visitor. The page and the JSON document name it.
func TestCappedHeaderVariesWithGPC(t *testing.T) {
	src := `rules:
  - name: promo
    at_most: 2 per 1d
    actions:
      - set_header: { name: X-Promo, value: shown }
`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		if r.URL.Path == "/api" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":1}`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><body>hi</body></html>")
	})
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	e := newEnv(t, origin, []byte(src), func(c *proxy.Config) { c.Caps = capStore })
	for _, c := range []struct {
		path, dest, gpc string
		promo           bool
	}{
		{"/", "document", "1", false},
		{"/", "document", "", true},
		{"/api", "empty", "1", false},
		{"/api", "empty", "", true},
	} {
		h := []string{"Sec-Fetch-Dest", c.dest}
		if c.gpc != "" {
			h = append(h, "Sec-GPC", c.gpc)
		}
		r := e.get(t, c.path, h...)
		if got := r.Header.Get("X-Promo") == "shown"; got != c.promo {
			t.Fatalf("%s, Sec-GPC %q: promo %v, want %v", c.path, c.gpc, got, c.promo)
		}
		vary, cc := strings.Join(r.Header.Values("Vary"), ", "), r.Header.Get("Cache-Control")
		if !strings.Contains(vary, "Sec-Gpc") && !strings.Contains(cc, "private") {
			t.Errorf("%s, Sec-GPC %q: shared-cacheable (Cache-Control %q) with Vary %q", c.path, c.gpc, cc, vary)
		}
	}
}

// TestCapsDroppedCounted: a caps cookie the proxy cannot read (signed with
// another key, as a proxy whose secret differs from the others' finds
// every visitor's) is counted by reason: the capped rules started each
// visitor over and nothing said so.
func TestCapsDroppedCounted(t *testing.T) {
	other, _ := caps.New([]byte("another-proxy-key-0123456789"), nil)
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	m := metrics.New()
	e := newEnv(t, revalidatingOrigin(), []byte(popupRules), func(c *proxy.Config) { c.Caps, c.Metrics = capStore, m })

	// A cookie of the other proxy's, as a visitor brings it here.
	r := httptest.NewRequest(http.MethodGet, "/list", nil)
	counts := other.Load(r)
	counts.Hit("1d:popup", 24*time.Hour)
	foreign := counts.Cookie(24*time.Hour, false).Value

	for _, tt := range []struct{ cookie, reason string }{
		{foreign, "tampered"},
		{"%%%", "malformed"},
	} {
		e.get(t, "/list", "Sec-Fetch-Dest", "document", "Cookie", caps.CookieName+"="+tt.cookie)
		fams, _ := m.Registry.Gather()
		found := false
		for _, f := range fams {
			if f.GetName() != "bespoke_caps_dropped_total" {
				continue
			}
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					found = found || l.GetName() == "reason" && l.GetValue() == tt.reason && s.GetCounter().GetValue() == 1
				}
			}
		}
		if !found {
			t.Errorf("no series bespoke_caps_dropped_total{reason=%q} at 1", tt.reason)
		}
	}
	if n := e.p.Stats().CapsDropped.Load(); n != 2 {
		t.Errorf("CapsDropped %d, want 2", n)
	}
	// A visitor without the cookie, or with a good one, drops nothing.
	e.get(t, "/list", "Sec-Fetch-Dest", "document")
	if n := e.p.Stats().CapsDropped.Load(); n != 2 {
		t.Errorf("CapsDropped %d after a visitor without the cookie, want 2", n)
	}
}

// TestFullCountsKeepLiveCaps: a visitor whose counts are full (64
// entries), most of them of rules the file no longer has, sees a new
// capped rule: the entry it takes the place of is a dead one. It was the
// oldest, the count of a rule still capped, which then showed again
// within its window.
func TestFullCountsKeepLiveCaps(t *testing.T) {
	const rules = `rules:
  - name: popup
    at_most: 2 per 1d
    actions:
      - set_header: { name: X-Popup, value: shown }
  - name: banner
    at_most: 1 per 1d
    actions:
      - set_header: { name: X-Banner, value: shown }
`
	key := []byte("0123456789abcdef")
	capStore, _ := caps.New(key, nil)
	e := newEnv(t, cardsOrigin(), []byte(rules), func(c *proxy.Config) { c.Caps = capStore })
	// The visitor's cookie: the popup, seen twice an hour ago, then 63
	// rules of an earlier file.
	at := time.Now().Add(-time.Hour)
	earlier, _ := caps.New(key, func() time.Time { return at })
	counts := earlier.Load(httptest.NewRequest(http.MethodGet, "/", nil))
	counts.Hit("86400:popup", 24*time.Hour)
	counts.Hit("86400:popup", 24*time.Hour)
	at = at.Add(time.Minute)
	for i := range 63 {
		counts.Hit(fmt.Sprintf("86400:retired-%d", i), 24*time.Hour)
	}
	jar := cookieJar{caps.CookieName: counts.Cookie(24*time.Hour, false).Value}
	for view := 1; view <= 2; view++ {
		r := e.get(t, "/", "Sec-Fetch-Dest", "document", "Cookie", jar.header())
		jar.keep(r)
		if r.Header.Get("X-Popup") != "" {
			t.Fatalf("view %d: the popup, at its cap, showed again", view)
		}
		if got, want := r.Header.Get("X-Banner") != "", view == 1; got != want {
			t.Errorf("view %d: banner shown %v, want %v", view, got, want)
		}
	}
}

// TestUntrackedShowIgnoresCounts: a visitor who declines tracking, whose
// caps cookie still holds counts from before (the visitor counted, then
// declined), gets a rule with untracked: show as if never counted, as
// the rule language says: the proxy read the old counts, and the rule,
// at its cap there, did not show.
func TestUntrackedShowIgnoresCounts(t *testing.T) {
	const rules = `rules:
  - name: notice
    at_most: { times: 1, per: 1d, untracked: show }
    actions:
      - set_header: { name: X-Notice, value: shown }
  - name: popup
    at_most: 1 per 1d
    actions:
      - set_header: { name: X-Popup, value: shown }
`
	capStore, _ := caps.New([]byte("0123456789abcdef"), nil)
	e := newEnv(t, cardsOrigin(), []byte(rules), func(c *proxy.Config) {
		c.Caps, c.ConsentCookie, c.ConsentDeny = capStore, "consent", []string{"no"}
	})
	jar := cookieJar{}
	r := e.get(t, "/", "Sec-Fetch-Dest", "document")
	jar.keep(r)
	if r.Header.Get("X-Notice") == "" || r.Header.Get("X-Popup") == "" {
		t.Fatalf("first view, counted: notice %q, popup %q", r.Header.Get("X-Notice"), r.Header.Get("X-Popup"))
	}
	for _, tt := range []struct {
		name    string
		headers []string
	}{
		{"Sec-GPC", []string{"Sec-GPC", "1", "Cookie", jar.header()}},
		{"consent cookie", []string{"Cookie", jar.header() + "; consent=no"}},
	} {
		r := e.get(t, "/", append([]string{"Sec-Fetch-Dest", "document"}, tt.headers...)...)
		if r.Header.Get("X-Notice") == "" {
			t.Errorf("%s: the untracked: show rule, counted at its cap before, did not show", tt.name)
		}
		if r.Header.Get("X-Popup") != "" {
			t.Errorf("%s: the untracked: hide rule showed", tt.name)
		}
		if len(r.Cookies()) != 0 {
			t.Errorf("%s: cookies set for a visitor who declines: %v", tt.name, r.Header.Values("Set-Cookie"))
		}
	}
}

// TestRedisCapsKeysLiveTheirWindow: with the caps in Redis, a visitor's
// key lives as long as the longest window of the rules needs, and the
// key of a visitor whose id was just made (the client has not sent it
// back yet) lives seen.new_visitor_ttl: a client that never keeps
// cookies, a crawler with a new id on every request, held a 30-day key
// for each request. Once the visitor comes back with its id, its counts
// live the window, though the request counts nothing.
func TestRedisCapsKeysLiveTheirWindow(t *testing.T) {
	addr := startRedis(t)
	store, err := seen.NewRedisStore(seen.RedisConfig{URL: "redis://" + addr + "/0", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	capStore, err := caps.NewShared(store, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { raw.Close() })
	const rules = `rules:
  - name: invite
    at_most: 1 per 2d
    actions:
      - set_header: { name: X-Invite, value: shown }
  - name: promo
    when: path == "/promo"
    at_most: 3 per 1d
    actions:
      - set_header: { name: X-Promo, value: shown }
`
	e := newEnv(t, cardsOrigin(), []byte(rules), func(c *proxy.Config) { c.Seen, c.Caps = store, capStore })
	ttl := func(vid string) time.Duration {
		t.Helper()
		if !store.Flush(2 * time.Second) {
			t.Fatal("saves not written")
		}
		d, err := raw.TTL(context.Background(), store.CapsKey(vid)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	vidOf := func(r response) string {
		for _, c := range r.Cookies() {
			if c.Name == reqctx.VisitorCookie {
				return c.Value
			}
		}
		t.Fatalf("no visitor id set: %q", r.Header.Values("Set-Cookie"))
		return ""
	}
	const window = 48 * time.Hour
	for _, tt := range []struct {
		name string
		// views are the paths viewed: the first without a visitor id,
		// the others sending back the one it got.
		views []string
		// invite: whether each view shows the invite.
		invite   []bool
		min, max time.Duration // the key's TTL after the views
	}{
		{"a crawler's request", []string{"/"}, []bool{true}, time.Hour - time.Minute, time.Hour},
		{"a visitor back, counting nothing", []string{"/", "/"}, []bool{true, false}, window - time.Minute, window},
		{"a visitor back, counting", []string{"/", "/promo"}, []bool{true, false}, window - time.Minute, window},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vid := ""
			for i, path := range tt.views {
				var r response
				if i == 0 {
					r = e.get(t, path, "Sec-Fetch-Dest", "document")
					vid = vidOf(r)
				} else {
					r = e.get(t, path, "Sec-Fetch-Dest", "document", "Cookie", reqctx.VisitorCookie+"="+vid)
				}
				if got := r.Header.Get("X-Invite") != ""; got != tt.invite[i] {
					t.Errorf("view %d: invite shown %v, want %v", i+1, got, tt.invite[i])
				}
				if got, want := r.Header.Get("X-Promo") != "", path == "/promo"; got != want {
					t.Errorf("view %d: promo shown %v, want %v", i+1, got, want)
				}
				store.Flush(2 * time.Second)
			}
			if got := ttl(vid); got < tt.min || got > tt.max {
				t.Errorf("the caps key lives %v, want %v to %v", got, tt.min, tt.max)
			}
		})
	}
}
