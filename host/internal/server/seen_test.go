package server_test

// "Already seen" and frequency caps end to end: the real server on
// loopback, real origins, a real redis-server where the store is Redis,
// and visitors that keep their cookies as a browser does.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/server"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/bespoke-edge/bespoke/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// visitor is one browser: a cookie jar, and the headers it sends.
type visitor struct {
	t      *testing.T
	client *http.Client
}

func newVisitor(t *testing.T) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, client: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}}
}

// get fetches url with the headers given as name, value pairs.
func (v *visitor) get(url string, headers ...string) got {
	v.t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		v.t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return got{resp, b, rerr}
}

// navigate fetches a page as a browser navigating to it.
func (v *visitor) navigate(url string, headers ...string) got {
	v.t.Helper()
	return v.get(url, append([]string{"Sec-Fetch-Dest", "document", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}, headers...)...)
}

var cardRE = regexp.MustCompile(`<li class="card"[^>]*data-item-id="([^"]+)"`)

func cards(body []byte) []string {
	var out []string
	for _, m := range cardRE.FindAllSubmatch(body, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// jsonIDs reads the ids of the array at key ("" for a root array).
func jsonIDs(t *testing.T, body []byte, key string) []string {
	t.Helper()
	var raw json.RawMessage = body
	if key != "" {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		raw = doc[key]
	}
	var items []struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	var out []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it.ID, &s) != nil {
			s = string(it.ID) // a number
		}
		out = append(out, s)
	}
	return out
}

// demoPage are the demo page's cards and the demo API's item ids, in
// order.
func demoItems(t *testing.T) (page, api []string) {
	t.Helper()
	html, err := fs.ReadFile(demo.Site(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := fs.ReadFile(demo.Site(), "api/recommendations.json")
	if err != nil {
		t.Fatal(err)
	}
	page, api = cards(html), jsonIDs(t, doc, "items")
	if len(page) != 36 || len(api) != 30 {
		t.Fatalf("the demo has %d cards and %d API items, want 36 and 30", len(page), len(api))
	}
	return page, api
}

// redisServer starts a redis-server of the test's own on addr (a free
// port when empty) and returns its address and a function that stops it.
// Without redis-server the test is skipped, or fails when CI is set.
func redisServer(t *testing.T, addr string) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not found; CI must install it")
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	if addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("redis-server on %s exited", addr)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			if testproc.Owns(cmd.Process.Pid, addr) { // not another test's server
				return addr, stop
			}
		}
	}
	t.Fatalf("redis-server on %s did not start", addr)
	return "", nil
}

// waitWrites waits until the Redis store has written n saves, so that
// the next visit reads them (saves are written in the background).
func waitWrites(t *testing.T, admin string, n int) {
	t.Helper()
	// The store is named for the test's one route, whatever it is.
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^bespoke_seen_redis_total\{event="write",store="[^"]+"\} %d$`, n))
	var m string
	for range 50 {
		if m = scrape(t, admin); want.MatchString(m) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Redis writes: want %s\n%s", want, grep(m, "bespoke_seen_redis_total"))
}

// TestDemoVisits: three visits to the demo page and to its API, with the
// seen-filter in a cookie and in Redis: each visit shows the next items
// the visitor has not been shown (12 cards, 10 API items), and once all
// were shown the ones shown longest ago come back.
func TestDemoVisits(t *testing.T) {
	pageItems, apiItems := demoItems(t)
	for _, store := range []string{"cookie", "redis"} {
		t.Run(store, func(t *testing.T) {
			cfg, _ := demoConfig(t, string(demo.Rules()))
			cfg.Seen = config.Seen{Store: store}
			cfg.SecretFile = secretFile(t)
			if store == "redis" {
				addr, _ := redisServer(t, "")
				cfg.Seen.Redis = "redis://" + addr + "/0"
				cfg.Seen.Timeout = durationOf(5 * time.Second)
			}
			r := start(t, cfg)
			writes := 0
			settle := func() {
				if store == "redis" {
					writes++
					waitWrites(t, r.admin, writes)
				}
			}
			page := newVisitor(t)
			for visit, want := range [][]string{pageItems[:12], pageItems[12:24], pageItems[24:36], pageItems[:12]} {
				g := page.navigate(r.url + "/")
				if got := cards(g.body); !slices.Equal(got, want) {
					t.Fatalf("page visit %d shows %q,\nwant %q", visit+1, got, want)
				}
				if cc := g.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "no-cache") {
					t.Errorf("page visit %d: Cache-Control %q", visit+1, cc)
				}
				settle()
			}
			api := newVisitor(t)
			for visit, want := range [][]string{apiItems[:10], apiItems[10:20], apiItems[20:30], apiItems[:10]} {
				g := api.get(r.url+"/api/recommendations.json", "Sec-Fetch-Dest", "empty", "Accept", "application/json")
				if got := jsonIDs(t, g.body, "items"); !slices.Equal(got, want) {
					t.Fatalf("API visit %d shows %q,\nwant %q", visit+1, got, want)
				}
				settle()
			}
		})
	}
}

// itemsOrigin serves /list, a page of 20 items, and /api, the same as
// JSON (plus other documents tests ask for by path).
func itemsOrigin(t *testing.T, extra map[string]string) string {
	var page strings.Builder
	page.WriteString(`<!doctype html><html><head><title>Items</title><link rel="stylesheet" href="/site.css"></head><body><main id="main"><ul class="cards">`)
	var api strings.Builder
	api.WriteString(`{"items":[`)
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&page, `<li class="card" data-item-id="i%02d">Item %d</li>`, i, i)
		if i > 1 {
			api.WriteByte(',')
		}
		fmt.Fprintf(&api, `{"id":"i%02d"}`, i)
	}
	page.WriteString(`</ul></main></body></html>`)
	api.WriteString(`]}`)
	docs := map[string]string{"/list": page.String(), "/api": api.String(), "/site.css": "body { margin: 0 }", "/logo.svg": "<svg/>",
		"/other": `<!doctype html><html><body><p>No main here.</p></body></html>`}
	for k, v := range extra {
		docs[k] = v
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, ".css"):
			w.Header().Set("Content-Type", "text/css")
		case strings.HasSuffix(r.URL.Path, ".svg"):
			w.Header().Set("Content-Type", "image/svg+xml")
		case strings.HasPrefix(body, "{") || strings.HasPrefix(body, "["):
			w.Header().Set("Content-Type", "application/json")
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(origin.Close)
	return origin.URL
}

func seenConfig(t *testing.T, origin, rules string) *config.Config {
	cfg := ruleConfig(t, origin, rules)
	cfg.Seen = config.Seen{Store: "cookie"}
	cfg.SecretFile = secretFile(t)
	return cfg
}

// secretFile holds a fixed key: item digests, and so the seen-filter's
// rare false positives, are the same on every run.
func secretFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("seen-test-secret-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// TestImpressions: a list shows 20 items of which only the first 5 count
// as seen (the ones above the fold): the next visit hides those 5 only;
// with the cookie store and with Redis.
func TestImpressions(t *testing.T) {
	for _, store := range []string{"cookie", "redis"} {
		t.Run(store, func(t *testing.T) {
			cfg := seenConfig(t, itemsOrigin(t, nil), `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul.cards > li", id: "@data-item-id", mark: { first: 5 } }
      - json_hide_seen: { path: items, id: id, mark: { first: 5 } }
`)
			if store == "redis" {
				addr, _ := redisServer(t, "")
				cfg.Seen = config.Seen{Store: "redis", Redis: "redis://" + addr + "/0", Timeout: durationOf(5 * time.Second)}
			}
			r := start(t, cfg)
			page, api := newVisitor(t), newVisitor(t)
			for visit, want := range [][]string{ids("i", 1, 20), ids("i", 6, 20), ids("i", 11, 20)} {
				if got := cards(page.navigate(r.url + "/list").body); !slices.Equal(got, want) {
					t.Fatalf("page visit %d shows %q, want %q", visit+1, got, want)
				}
				if got := jsonIDs(t, api.get(r.url+"/api", "Sec-Fetch-Dest", "empty").body, "items"); !slices.Equal(got, want) {
					t.Fatalf("API visit %d shows %q, want %q", visit+1, got, want)
				}
				if store == "redis" {
					waitWrites(t, r.admin, 2*(visit+1))
				}
			}
		})
	}
}

// TestRedisDigestsKeyed: the Redis store keys its item digests with the
// secret, as the cookie store does: two deployments with other secrets
// write states of other layouts (the layout's tag holds the salt), so a
// copy of the database cannot be tested for candidate item ids without
// the secret, and both stores take the same items for seen.
func TestRedisDigestsKeyed(t *testing.T) {
	addr, _ := redisServer(t, "")
	var tags [][]byte
	for db, secret := range []string{"first-secret-0123456789abcdefgh", "other-secret-0123456789abcdefgh"} {
		cfg := seenConfig(t, itemsOrigin(t, nil), "rules:\n  - name: fresh\n    actions:\n      - hide_seen: { select: \"ul.cards > li\", id: \"@data-item-id\" }\n")
		path := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(path, []byte(secret), 0o600)
		cfg.SecretFile = path
		cfg.Seen = config.Seen{Store: "redis", Redis: fmt.Sprintf("redis://%s/%d", addr, db+1), Timeout: durationOf(5 * time.Second)}
		r := start(t, cfg)
		newVisitor(t).navigate(r.url + "/list")
		waitWrites(t, r.admin, 1)
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db + 1})
		keys, err := c.Keys(context.Background(), "*").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %q, %v; want the visitor's state", keys, err)
		}
		v, err := c.Get(context.Background(), keys[0]).Bytes()
		c.Close()
		if err != nil || len(v) < 5 {
			t.Fatalf("state %q, %v", v, err)
		}
		tags = append(tags, v[1:5])
	}
	if bytes.Equal(tags[0], tags[1]) {
		t.Fatalf("two secrets, one layout tag %x: item digests are not keyed", tags[0])
	}
}

// TestCapsCountPageViews: two capped rules, 2 a day each: one sets a
// header on every response it matches, one inserts a popup into pages
// that have #main. Style sheets, images, prefetches and pages where the
// popup has no place do not count for the popup; the header counts on
// the page views it was sent with (HTML or JSON), not on assets.
func TestCapsCountPageViews(t *testing.T) {
	r := start(t, seenConfig(t, itemsOrigin(t, nil), `rules:
  - name: promo-header
    at_most: 2 per 1d
    actions:
      - set_header: { name: X-Promo, value: "on" }
  - name: popup
    at_most: 2 per 1d
    actions:
      - insert_before: { select: "#main", html: '<div id="popup">Join us</div>' }
`))
	v := newVisitor(t)
	popups := 0
	view := func(g got) (header, popup bool) {
		return g.Header.Get("X-Promo") == "on", bytes.Contains(g.body, []byte(`id="popup"`))
	}
	// Assets a page loads: the rules match them, nothing counts.
	for _, a := range []struct{ path, dest string }{{"/site.css", "style"}, {"/logo.svg", "image"}, {"/site.css", ""}} {
		g := v.get(r.url+a.path, "Sec-Fetch-Dest", a.dest)
		if h, _ := view(g); !h {
			t.Fatalf("%s: the header rule did not apply", a.path)
		}
		if slices.ContainsFunc(g.Cookies(), func(c *http.Cookie) bool { return c.Name == "bsk_caps" }) {
			t.Errorf("%s (%s) set the caps cookie", a.path, a.dest)
		}
	}
	// A prefetch of the page counts nothing, and the browser may show it
	// without asking again: it gets no capped rule.
	if _, p := view(v.get(r.url+"/list", "Sec-Fetch-Dest", "document", "Sec-Purpose", "prefetch")); p {
		t.Fatal("the prefetched page has the capped popup, uncounted")
	}
	// A JSON response and a page without #main: the header counts twice,
	// the popup never.
	v.get(r.url+"/api", "Sec-Fetch-Dest", "empty")
	if _, p := view(v.navigate(r.url + "/other")); p {
		t.Fatal("a popup on a page without #main")
	}
	for visit := range 4 {
		h, p := view(v.navigate(r.url + "/list"))
		if h {
			t.Errorf("visit %d: the header rule applied after 2 page views", visit+1)
		}
		if p {
			popups++
		}
		if wantP := visit < 2; p != wantP {
			t.Errorf("visit %d of the page: popup %v, want %v", visit+1, p, wantP)
		}
	}
	if popups != 2 {
		t.Errorf("the popup capped at 2 a day showed %d times", popups)
	}
}

// TestUntrackedVisitors: a visitor whose counts cannot be kept (Global
// Privacy Control, a declined consent cookie) never gets a capped rule
// unless its editor chose untracked: show; nothing is written for them.
func TestUntrackedVisitors(t *testing.T) {
	cfg := seenConfig(t, itemsOrigin(t, nil), `rules:
  - name: hidden-by-default
    at_most: 2 per 1d
    actions:
      - set_header: { name: X-Default, value: "on" }
  - name: shown-anyway
    at_most: { times: 2, per: 1d, untracked: show }
    actions:
      - set_header: { name: X-Show, value: "on" }
  - name: fresh
    actions:
      - hide_seen: { select: "ul.cards > li", id: "@data-item-id" }
`)
	cfg.Seen.ConsentCookie, cfg.Seen.ConsentDeny = "consent", []string{"no"}
	r := start(t, cfg)
	for name, headers := range map[string][]string{
		"Sec-GPC":          {"Sec-GPC", "1"},
		"declined consent": {"Cookie", "consent=no"},
	} {
		t.Run(name, func(t *testing.T) {
			v := newVisitor(t)
			for visit := range 4 {
				g := v.navigate(r.url+"/list", headers...)
				if g.Header.Get("X-Default") != "" {
					t.Errorf("visit %d: the capped rule applied to a visitor it cannot count", visit+1)
				}
				if g.Header.Get("X-Show") != "on" {
					t.Errorf("visit %d: the rule with untracked: show did not apply", visit+1)
				}
				if got := cards(g.body); len(got) != 20 {
					t.Errorf("visit %d: %d cards; nothing is recorded, so nothing is hidden", visit+1, len(got))
				}
				for _, c := range g.Cookies() {
					t.Errorf("visit %d: cookie %s written", visit+1, c.Name)
				}
			}
		})
	}
	// A visitor who can be counted gets both, twice.
	v := newVisitor(t)
	var seenDefault int
	for range 4 {
		if v.navigate(r.url+"/list").Header.Get("X-Default") == "on" {
			seenDefault++
		}
	}
	if seenDefault != 2 {
		t.Errorf("a counted visitor got the capped rule %d times, want 2", seenDefault)
	}
}

// TestJSONParity: JSON responses behave as pages do.
func TestJSONParity(t *testing.T) {
	var big strings.Builder
	big.WriteString(`{"items":[`)
	for i := range 10000 {
		if i > 0 {
			big.WriteByte(',')
		}
		fmt.Fprintf(&big, `{"id":"p%05d","title":"Product %d"}`, i, i)
	}
	big.WriteString(`]}`)
	origin := itemsOrigin(t, map[string]string{
		"/root":  `[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"},{"id":"e"},{"id":"f"}]`,
		"/dup":   `{"debug":1,"x":1,"debug":2,"title":"old","title":"shown"}`,
		"/typed": `[{"id":1},{"id":"1"},{"id":2}]`,
		"/big":   big.String(),
	})
	var logs syncbuf.Buffer
	r := startWithLog(t, seenConfig(t, origin, `rules:
  - name: root
    when: path == "/root"
    actions:
      - json_hide_seen: { path: "@this", id: id }
      - json_limit: { path: "@this", n: 2 }
  - name: dup
    when: path == "/dup"
    actions:
      - json_remove: debug
      - json_set: { path: title, value: new }
  - name: mark-string-one
    when: path == "/typed" and query("mark") == "1"
    actions:
      - mark_seen: "1"
  - name: typed
    when: path == "/typed"
    actions:
      - json_hide_seen: { path: "@this", id: id, mark: false }
  - name: big
    when: path == "/big"
    actions:
      - json_hide_seen: { path: items, id: id }
`), &logs)

	t.Run("a root array, recorded after every edit", func(t *testing.T) {
		v := newVisitor(t)
		for visit, want := range [][]string{{"a", "b"}, {"c", "d"}, {"e", "f"}} {
			if got := jsonIDs(t, v.get(r.url+"/root").body, ""); !slices.Equal(got, want) {
				t.Fatalf("visit %d shows %q, want %q", visit+1, got, want)
			}
		}
	})
	t.Run("repeated keys: what a last-wins parser reads", func(t *testing.T) {
		g := newVisitor(t).get(r.url + "/dup")
		if string(g.body) != `{"x":1,"title":"old","title":"new"}` {
			t.Errorf("got %s", g.body)
		}
		var doc struct {
			Title string
			Debug *int
		}
		if err := json.Unmarshal(g.body, &doc); err != nil || doc.Title != "new" || doc.Debug != nil {
			t.Errorf("encoding/json reads %+v (%v)", doc, err)
		}
		if strings.Contains(g.Header.Get("Cache-Control"), "private") {
			// Its rule reads the path alone: every visitor gets this.
			t.Error("the response a rule on the path edited is private")
		}
	})
	t.Run("the number 1 and the string 1 are two items", func(t *testing.T) {
		v := newVisitor(t)
		// The first view records the string "1" only (mark_seen; the
		// list records nothing: mark: false).
		if g := v.get(r.url + "/typed?mark=1"); string(g.body) != `[{"id":1},{"id":"1"},{"id":2}]` {
			t.Fatalf("first view: %s", g.body)
		}
		if g := v.get(r.url + "/typed"); string(g.body) != `[{"id":1},{"id":2}]` {
			t.Fatalf("after seeing the string 1: %s", g.body)
		}
	})
	t.Run("a response records at most its share, and says so", func(t *testing.T) {
		v := newVisitor(t)
		first := v.get(r.url + "/big")
		if n := len(jsonIDs(t, first.body, "items")); n != 10000 {
			t.Fatalf("the first response shows %d items", n)
		}
		if !slices.ContainsFunc(first.Cookies(), func(c *http.Cookie) bool { return c.Name == "bsk_seen" }) {
			t.Fatal("no seen cookie: the filter would never work for this visitor")
		}
		second := jsonIDs(t, v.get(r.url+"/big").body, "items")
		// The default record limit is a quarter of the capacity: 250 were
		// recorded, and are hidden; of the others, a few are taken for
		// seen (the filter's false positives, about 0.25% at 250 items).
		if len(second) > 10000-250 || len(second) < 10000-250-100 || second[0] != "p00250" {
			t.Fatalf("the second response shows %d items from %s; want the 9,750 not recorded", len(second), second[0])
		}
		m := scrape(t, r.admin)
		want := fmt.Sprintf(`bespoke_seen_unrecorded_items_total{route="r"} %d`, 9750+len(second)-250)
		if !strings.Contains(m, want) {
			t.Errorf("unrecorded items:\n%s", grep(m, "bespoke_seen_unrecorded"))
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "unrecorded=9750") {
			t.Errorf("no warning logged:\n%s", logs.String())
		}
	})
}

// TestSeenJSONGzip: a compressed JSON response the seen-filter edits is
// sent compressed, with its length; one it leaves as it is goes as the
// origin's bytes.
func TestSeenJSONGzip(t *testing.T) {
	doc := []byte(`{"items":[{"id":"a"},{"id":"b"},{"id":"c"}]}`)
	enc := gzipped(t, doc)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(enc)
	}))
	t.Cleanup(origin.Close)
	r := start(t, seenConfig(t, origin.URL, "rules:\n  - name: r\n    actions:\n      - json_hide_seen: { path: items, id: id, demote: true, mark: { first: 1 } }\n"))
	v := newVisitor(t)
	// The first view shows everything as it came, and records a.
	g := v.get(r.url+"/api", "Accept-Encoding", "gzip")
	if g.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(g.body, enc) {
		t.Fatalf("unchanged: Content-Encoding %q, %d bytes (origin %d)", g.Header.Get("Content-Encoding"), len(g.body), len(enc))
	}
	// The second puts a last, compressed again.
	g = v.get(r.url+"/api", "Accept-Encoding", "gzip")
	if g.Header.Get("Content-Encoding") != "gzip" || g.Header.Get("Content-Length") != strconv.Itoa(len(g.body)) {
		t.Fatalf("Content-Encoding %q, Content-Length %q for %d bytes", g.Header.Get("Content-Encoding"), g.Header.Get("Content-Length"), len(g.body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(g.body))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != `{"items":[{"id":"b"},{"id":"c"},{"id":"a"}]}` {
		t.Errorf("second view: %s", b)
	}
}

// startWithLog is start with the server's logs written to w, which the
// test may read while the server runs.
func startWithLog(t *testing.T, cfg *config.Config, w *syncbuf.Buffer) *running {
	t.Helper()
	return startWithHandler(t, cfg, slog.NewTextHandler(w, nil))
}

// startWithHandler is start with the server's logs handled by h.
func startWithHandler(t *testing.T, cfg *config.Config, h slog.Handler) *running {
	t.Helper()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Logger: slog.New(h)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	aln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, aln) }()
	r := &running{srv: srv, url: "http://" + ln.Addr().String(), admin: "http://" + aln.Addr().String()}
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(r.stop)
	return r
}

// TestSeenRedisOutage: Redis goes away and comes back on its address.
// Pages are served throughout; while it is away the outage shows in the
// metrics as the README says (load errors, saves skipped rather than
// counted as saved, the store down), and once it is back the filter
// works again without a restart of bespoke.
func TestSeenRedisOutage(t *testing.T) {
	addr, stop := redisServer(t, "")
	cfg := seenConfig(t, itemsOrigin(t, nil), `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul.cards > li", id: "@data-item-id", demote: true }
      - limit: { select: "ul.cards > li", n: 5 }
`)
	cfg.Seen = config.Seen{Store: "redis", Redis: "redis://" + addr + "/0", Timeout: durationOf(2 * time.Second)}
	r := start(t, cfg)
	v := newVisitor(t)
	metric := func(m, line string) bool { return strings.Contains(m, line) }

	if got := cards(v.navigate(r.url + "/list").body); !slices.Equal(got, ids("i", 1, 5)) {
		t.Fatalf("before the outage: %q", got)
	}
	waitWrites(t, r.admin, 1)

	stop()
	for visit := range 3 {
		// Served as if nothing had been seen.
		if got := cards(v.navigate(r.url + "/list").body); !slices.Equal(got, ids("i", 1, 5)) {
			t.Fatalf("outage visit %d: %q", visit+1, got)
		}
	}
	m := scrapeUntil(t, r.admin, "\nbespoke_seen_redis_up{store=\"r\"} 0\n")
	for _, want := range []string{
		`bespoke_seen_store_total{event="error",route="r"} 3`,
		`bespoke_seen_store_total{event="skipped",route="r"} 3`,
		`bespoke_seen_store_total{event="save",route="r"} 1`,
		"\nbespoke_seen_redis_up{store=\"r\"} 0\n",
		`bespoke_seen_redis_total{event="lost",store="r"} 1`,
	} {
		if !metric(m, want) {
			t.Errorf("during the outage, metrics lack %s:\n%s\n%s", want, grep(m, "bespoke_seen_store_total"), grep(m, "bespoke_seen_redis"))
		}
	}
	if metric(m, `event="dropped",route="r"`) {
		t.Errorf("an outage counted as dropped states:\n%s", grep(m, "bespoke_seen_store_total"))
	}

	redisServer(t, addr) // a new, empty server on the same address
	if m := scrapeUntil(t, r.admin, "\nbespoke_seen_redis_up{store=\"r\"} 1\n"); !metric(m, "\nbespoke_seen_redis_up{store=\"r\"} 1\n") {
		t.Fatalf("the store did not come back:\n%s", grep(m, "bespoke_seen_redis"))
	}
	// The new server holds nothing: the first visit starts over, the next
	// one is filtered.
	if got := cards(v.navigate(r.url + "/list").body); !slices.Equal(got, ids("i", 1, 5)) {
		t.Fatalf("after the outage: %q", got)
	}
	waitWrites(t, r.admin, 2)
	if got := cards(v.navigate(r.url + "/list").body); !slices.Equal(got, ids("i", 6, 10)) {
		t.Fatalf("the filter after the outage: %q", got)
	}
	if m := scrape(t, r.admin); !metric(m, `bespoke_seen_redis_total{event="reconnect",store="r"} 1`) {
		t.Errorf("no reconnect counted:\n%s", grep(m, "bespoke_seen_redis"))
	}
}

// TestFreshFirstKeepsTurning: demote then limit shows each visit the
// items shown longest ago, round after round, on a page and through a
// JSON API: within the seen-filter's current generation, an item shown
// fewer times comes first (before, once every item had been shown,
// every visit showed the first ones).
func TestFreshFirstKeepsTurning(t *testing.T) {
	var page, api strings.Builder
	page.WriteString(`<ul class="cards">`)
	api.WriteString(`{"items":[`)
	for i, id := range "ABCDEFGHI" {
		fmt.Fprintf(&page, `<li data-item-id="%c">%c</li>`, id, id)
		if i > 0 {
			api.WriteString(",")
		}
		fmt.Fprintf(&api, `{"id":"%c"}`, id)
	}
	page.WriteString(`</ul>`)
	api.WriteString(`]}`)
	for _, c := range []struct {
		name, contentType, body, actions, item string
	}{
		{"page", "text/html; charset=utf-8", page.String(), `
      - hide_seen: { select: "ul.cards > li", id: "@data-item-id", demote: true }
      - limit: { select: "ul.cards > li", n: 3 }`, `data-item-id="(.)"`},
		{"json", "application/json", api.String(), `
      - json_hide_seen: { path: items, id: id, demote: true }
      - json_limit: { path: items, n: 3 }`, `"id":"(.)"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				io.WriteString(w, c.body)
			}))
			t.Cleanup(origin.Close)
			r := start(t, seenConfig(t, origin.URL, "rules:\n  - name: fresh\n    actions:"+c.actions+"\n"))
			v := newVisitor(t)
			items := regexp.MustCompile(c.item)
			var got []string
			for range 9 {
				var shown string
				for _, m := range items.FindAllStringSubmatch(string(v.get(r.url+"/").body), -1) {
					shown += m[1]
				}
				got = append(got, shown)
			}
			want := []string{"ABC", "DEF", "GHI", "ABC", "DEF", "GHI", "ABC", "DEF", "GHI"}
			if !slices.Equal(got, want) {
				t.Errorf("visits showed %v, want %v", got, want)
			}
		})
	}
}
