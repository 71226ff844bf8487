package proxy_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// failOrigin serves a page large enough to stream in many reads, the
// same page gzipped, and a JSON document, and counts what it served.
type failOrigin struct {
	page, doc string
	mu        sync.Mutex
	served    map[string]int
}

func newFailOrigin() *failOrigin {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><title>Shop</title></head><body><h1>Hello</h1><ul class="cards">`)
	for i := 1; b.Len() < 200<<10; i++ {
		fmt.Fprintf(&b, "\n  <li class=\"card\" data-item-id=\"sku-%d\"><h3>Item %d</h3><p>%s</p></li>", i, i, strings.Repeat("Lorem ipsum dolor sit amet. ", 8))
	}
	b.WriteString("\n</ul></body></html>")
	return &failOrigin{page: b.String(), doc: `{"items":[{"id":"sku-1"},{"id":"sku-2"}],"banner":{"title":"Hello"}}`, served: map[string]int{}}
}

func (o *failOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.served[r.URL.Path]++
	o.mu.Unlock()
	switch r.URL.Path {
	case "/api":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, o.doc)
	case "/paused":
		// The start, then a pause longer than StreamPause: the proxy
		// sends the headers, at least, before the rest comes. (Not a
		// multiple of the proxy's reads, which would take the pause for
		// a busy origin's.)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Etag", `"v1"`)
		io.WriteString(w, o.page[:50000])
		w.(http.Flusher).Flush()
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, o.page[50000:])
	case "/gz":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, o.page)
		zw.Close()
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Etag", `"v1"`)
		io.WriteString(w, o.page)
	}
}

func (o *failOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.served[path]
}

const failRules = `rules:
  - name: r
    actions:
      - set_inner: { select: "h1", text: Bonjour }
      - hide_seen: { select: "li.card", id: "@data-item-id", keep_at_least: 2 }
      - json_set: { path: banner.title, value: "Hi" }
`

// fetch is env.get that returns a failed transfer instead of failing
// the test. It asks on a new connection: on a reused one, Go's client
// (like browsers) sends a GET again when the connection closes before
// any of the response came, and the test must see what one request got.
func (e *env) fetch(t *testing.T, method, path string, body io.Reader) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, e.proxy.URL+path, body)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestRewriterFailureFailsOpen: a rewriter that panics (a bug of ours,
// injected here) costs at most the response it happened in, never the
// process or the page's later visitors. Before the headers go, the
// visitor gets the origin's page; after, the transfer is cut, as when
// the origin breaks off. The page then passes untouched, its edit map
// forgotten, until the plugin changes; nothing the failed rewrite marked
// seen is saved; each failure is logged with its stack and counted.
func TestRewriterFailureFailsOpen(t *testing.T) {
	cookieStore := func(c *proxy.Config) {
		c.Seen, _ = seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	}
	for _, c := range []struct {
		name   string
		seen   bool   // a cookie store: pages are held back for the cookie
		method string // "" for GET
		body   string // a request body: the origin cannot be asked twice
		path   string
		at     int // FailRewriters(at); -2 fails the JSON edits instead
		maps   bool
		// What the visitor gets from the failed request: the origin's
		// page ("page"), the document ("doc"), a cut transfer ("cut"), or
		// a 502; and how often the origin was asked for it.
		want   string
		served int
	}{
		{name: "streamed, fails mid-page", path: "/paused", at: 100 << 10, want: "cut", served: 1},
		{name: "streamed, fails at the first bytes", path: "/page", at: 0, want: "page", served: 2},
		{name: "streamed, fails at the first bytes, with a body the origin cannot take twice", body: "q=1", path: "/page", at: 0, want: "502", served: 1},
		{name: "spliced, fails mid-page", path: "/paused", at: 100 << 10, maps: true, want: "cut", served: 1},
		{name: "spliced, fails at the first bytes", path: "/page", at: 0, maps: true, want: "page", served: 2},
		{name: "held for the cookie, fails mid-page", seen: true, path: "/page", at: 50 << 10, want: "page", served: 2},
		{name: "held for the cookie, fails at the end", seen: true, path: "/page", at: -1, want: "page", served: 2},
		{name: "held, with a body the origin cannot take twice", seen: true, body: "q=1", path: "/page", at: 50 << 10, want: "502", served: 1},
		{name: "compressed, fails at the first read", path: "/gz", at: 0, want: "page", served: 1},
		{name: "compressed and held, fails at the end", seen: true, path: "/gz", at: -1, want: "page", served: 1},
		{name: "JSON edits fail", seen: true, path: "/api", at: -2, want: "doc", served: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			origin := newFailOrigin()
			var logs syncbuf.Buffer
			opts := []func(*proxy.Config){func(cfg *proxy.Config) {
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}}
			if c.seen {
				opts = append(opts, cookieStore)
			}
			if c.maps {
				opts = append(opts, func(cfg *proxy.Config) { cfg.EditMapCache = 4 << 20 })
			}
			e := newEnv(t, origin, []byte(failRules), opts...)
			method := c.method
			if method == "" {
				method = http.MethodGet
			}
			request := func() (*http.Response, string, error) {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				return e.fetch(t, method, c.path, body)
			}
			if c.maps {
				for range 2 { // a map built, then used
					if _, _, err := request(); err != nil {
						t.Fatal(err)
					}
				}
				if e.p.EditMaps().Len() != 1 || e.p.EditMapStats().Hits.Load() != 1 {
					t.Fatalf("%d maps, %d hits before the failure, want 1 and 1", e.p.EditMaps().Len(), e.p.EditMapStats().Hits.Load())
				}
			}
			before := origin.count(c.path)
			var undo func()
			if c.at == -2 {
				undo = proxy.FailJSONEdits()
			} else {
				undo = proxy.FailRewriters(c.at)
			}
			defer undo()

			resp, body, err := request()
			want := origin.page
			if c.path == "/api" {
				want = origin.doc
			}
			switch c.want {
			case "cut":
				if err == nil {
					t.Fatalf("the transfer ended cleanly with %d bytes; it must be cut", len(body))
				}
			case "502":
				if err != nil || resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("got %v, %v; want a 502", resp, err)
				}
			default:
				if err != nil || resp.StatusCode != 200 || body != want {
					t.Fatalf("got %v, %d bytes, %v; want the origin's %d bytes", resp, len(body), err, len(want))
				}
				for _, sc := range resp.Header.Values("Set-Cookie") {
					if strings.HasPrefix(sc, "bespoke_seen=") {
						t.Errorf("the failed rewrite's seen items were saved: %s", sc)
					}
				}
			}
			if got := origin.count(c.path) - before; got != c.served {
				t.Errorf("the origin was asked %d times, want %d", got, c.served)
			}
			if n := e.p.Stats().RewriteFailures.Load(); n != 1 {
				t.Errorf("%d rewrite failures counted, want 1", n)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "stack=") {
				t.Errorf("the failure was not logged at Error with its stack:\n%s", logs.String())
			}
			if c.maps && e.p.EditMaps().Len() != 0 {
				t.Error("the failed page's edit map is still used")
			}

			// The next visitors get the page untouched, without meeting the
			// bug again (it is still there) or asking the origin twice.
			for range 2 {
				before := origin.count(c.path)
				resp, body, err := e.fetch(t, http.MethodGet, c.path, nil)
				if err != nil || resp.StatusCode != 200 || body != want {
					t.Fatalf("a later visitor got %v, %d bytes, %v; want the origin's %d bytes", resp, len(body), err, len(want))
				}
				if n := origin.count(c.path) - before; n != 1 {
					t.Fatalf("a later visitor's request reached the origin %d times", n)
				}
			}
			if n := e.p.Stats().RewriteFailures.Load(); n != 1 {
				t.Errorf("%d rewrite failures counted after the later visitors, want 1", n)
			}
			// bespoke_body_limits_total: the failure once, then each later
			// visitor's page, skipped.
			if n := e.p.Stats().Limited.Load(); n != 3 {
				t.Errorf("%d bodies counted as limited, want 3 (the failure, then 2 skipped)", n)
			}

			// A new plugin may not meet the bug: the page is rewritten again.
			undo()
			e.load(t, "rules.yaml", []byte(failRules))
			_, body, err = e.fetch(t, http.MethodGet, c.path, nil)
			if err != nil || body == want {
				t.Fatalf("after a reload the page is still not rewritten (%v)", err)
			}
		})
	}
}

// panicStore is a seen-store with a bug: its Load panics.
type panicStore struct{}

func (panicStore) Load(context.Context, *http.Request, string) (*seen.Set, seen.LoadInfo) {
	panic("seen store bug (injected by the test)")
}

func (panicStore) Save(context.Context, http.Header, string, *seen.Set, bool) error { return nil }

func (panicStore) InHeaders() bool    { return true }
func (panicStore) CookieName() string { return "" }

// TestVisitorStatePanicFailsOpen: a panic while loading what is known of
// the visitor (a bug of a Store's, or of bespoke's) serves the page
// unpersonalized, counted and logged with its stack, and sets no cookie:
// the visitor gets the page, not a closed connection.
func TestVisitorStatePanicFailsOpen(t *testing.T) {
	origin := newFailOrigin()
	var logs syncbuf.Buffer
	e := newEnv(t, origin, []byte(failRules), func(cfg *proxy.Config) {
		cfg.Seen = panicStore{}
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for i := range 2 {
		resp, body, err := e.fetch(t, http.MethodGet, "/page", nil)
		if err != nil || resp.StatusCode != 200 || body != origin.page {
			t.Fatalf("request %d: got %v, %d bytes, %v; want the origin's page", i, resp, len(body), err)
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("request %d set cookies after the panic: %q", i, c)
		}
	}
	if n := e.p.Stats().FailOpen.Load(); n != 2 {
		t.Errorf("%d requests counted as failed open, want 2", n)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "seen store bug") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("the panic was not logged at Error with its stack:\n%s", logs.String())
	}
}

// slowStart is an origin that sends the start of a page, then waits for
// release (or ten seconds) before the rest.
type slowStart struct {
	page    string
	release chan struct{}
	asked   atomic.Int32
}

func (o *slowStart) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.asked.Add(1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, o.page[:500])
	w.(http.Flusher).Flush()
	select {
	case <-o.release:
	case <-time.After(10 * time.Second):
	}
	io.WriteString(w, o.page[500:])
}

// TestResentPageStreams: a page asked of the origin again, after the
// rewriter failed on its first bytes, streams as the origin sends it:
// the visitor has the headers and the start while the origin still
// holds the rest (the abandoned rewrite's pacing had held every flush).
func TestResentPageStreams(t *testing.T) {
	o := &slowStart{page: newFailOrigin().page, release: make(chan struct{})}
	e := newEnv(t, o, []byte(failRules))
	defer proxy.FailRewriters(0)()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	done := make(chan struct{})
	go func() {
		// Released once the visitor has the start; else by the
		// origin's own ten seconds, which the test then reports.
		select {
		case <-done:
		case <-time.After(8 * time.Second):
		}
		close(o.release)
	}()
	resp, err := client.Get(e.proxy.URL + "/resent")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := make([]byte, 500)
	_, err = io.ReadFull(resp.Body, start)
	select {
	case <-o.release:
		t.Fatal("the start of the page came only once the origin sent the rest")
	default:
	}
	close(done)
	if err != nil || string(start) != o.page[:500] {
		t.Fatalf("start %q, %v", start, err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(start)+string(rest) != o.page {
		t.Fatalf("%d bytes, %v; want the origin's page", 500+len(rest), err)
	}
	if n := o.asked.Load(); n != 2 {
		t.Errorf("the origin was asked %d times, want 2 (the page, then again untouched)", n)
	}
}

// TestRewriterFailuresLogBounded: a rewriter that fails on every page (a
// bug that a template of the site meets) is logged as the other faults
// that come with every request are, a few lines in a period with
// left_out: each page is remembered as failed, but a site's many pages
// (a crawler's walk, a search's queries) wrote an Error line with its
// stack for each, at the traffic's rate.
func TestRewriterFailuresLogBounded(t *testing.T) {
	origin := newFailOrigin()
	var logs syncbuf.Buffer
	e := newEnv(t, origin, []byte(failRules), func(cfg *proxy.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	defer proxy.FailRewriters(0)()
	const pages = 40
	for i := range pages {
		resp, _, err := e.fetch(t, http.MethodGet, fmt.Sprintf("/page?n=%d", i), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d: %v, %v", i, resp, err)
		}
	}
	if n := e.p.Stats().RewriteFailures.Load(); n != pages {
		t.Errorf("%d rewrite failures counted, want %d", n, pages)
	}
	if n := strings.Count(logs.String(), "rewriting the response body failed"); n == 0 || n > 10 {
		t.Errorf("%d lines for %d failures, want 1 to 10", n, pages)
	}
}
