package proxy_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// A desktop Chrome on Linux: what Chromium's own Client Hints say it is,
// so that the hints and the User-Agent agree (headless Chromium's own
// User-Agent names it HeadlessChrome, which is classified as a bot).
const desktopChrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

var cardID = regexp.MustCompile(`<li class="card"[^>]*data-item-id="([^"]+)"`)

// browser runs headless Chromium with one profile (its cookie jar) for
// the test.
type browser struct {
	bin, profile string
}

func newBrowser(t *testing.T) *browser {
	return &browser{bin: chromium.Path(t), profile: t.TempDir()}
}

// dom loads url as a desktop Chrome in German-speaking Switzerland, with
// every subresource the page asks for, and returns the document the
// browser built.
func (b *browser) dom(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return chromium.Run(ctx, t, b.bin, b.profile, "--accept-lang=de-CH,de", "--user-agent="+desktopChrome, "--dump-dom", url)
}

func cardIDs(dom string) []string {
	var out []string
	for _, m := range cardID.FindAllStringSubmatch(dom, -1) {
		out = append(out, m[1])
	}
	return out
}

// demoCards are the demo page's card ids, in page order.
func demoCards(t *testing.T) []string {
	t.Helper()
	page, err := fs.ReadFile(demo.Site(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	ids := cardIDs(string(page))
	if len(ids) != 36 {
		t.Fatalf("the demo page has %d cards, want 36", len(ids))
	}
	return ids
}

// TestBrowserSeesPersonalizedDemo loads the demo shop through the proxy in
// a real browser, four times with the same profile, and reads the
// document the browser built: the rewritten markup must parse into the
// page the rules meant (German announcement bar for a German-speaking
// visitor outside the euro zone, the first-visit offer once), and each
// visit must show 12 cards this visitor has not been shown, through the
// browser's own cookie jar, for as long as there are any: the first 12,
// the next 12, the last 12, then the first 12 again (seen longest ago).
func TestBrowserSeesPersonalizedDemo(t *testing.T) {
	b := newBrowser(t)
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("browser-test-key-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, demo.Handler(), demo.Rules(), func(c *proxy.Config) { c.Seen = store })
	cards := demoCards(t)

	first := b.dom(t, e.proxy.URL+"/")
	for _, want := range []string{"Kostenloser Versand ab 50 CHF", "New here? Join Northwind Club"} {
		if !strings.Contains(first, want) {
			t.Errorf("first visit: the page lacks %q", want)
		}
	}
	for visit, want := range [][]string{cards[:12], cards[12:24], cards[24:36], cards[:12]} {
		dom := first
		if visit > 0 {
			dom = b.dom(t, e.proxy.URL+"/")
		}
		if got := cardIDs(dom); !slices.Equal(got, want) {
			t.Fatalf("visit %d shows %q,\nwant %q", visit+1, got, want)
		}
		if visit > 0 {
			if strings.Contains(dom, "New here? Join Northwind Club") {
				t.Errorf("visit %d: still offered the first-visit promo", visit+1)
			}
			if !strings.Contains(dom, "Kostenloser Versand ab 50 CHF") {
				t.Errorf("visit %d: the announcement bar is no longer German", visit+1)
			}
		}
	}
}

// countingOrigin serves the demo site and counts its requests by path.
type countingOrigin struct {
	mu    sync.Mutex
	paths map[string]int
}

func (o *countingOrigin) handler() http.Handler {
	h := demo.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.paths[r.URL.Path]++
		o.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (o *countingOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.paths[path]
}

// TestBrowserCapCountsPageViews: the demo's newsletter invitation is
// capped at 2 a day. Chromium loads the page four times with its style
// sheet, images and icon, which the rule also matches: the invitation
// shows on the first two views and not after, so the assets did not
// count.
func TestBrowserCapCountsPageViews(t *testing.T) {
	b := newBrowser(t)
	capStore, err := caps.New([]byte("browser-test-caps-key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	origin := &countingOrigin{paths: map[string]int{}}
	e := newEnv(t, origin.handler(), demo.Rules(), func(c *proxy.Config) { c.Caps = capStore })
	var shown []bool
	for range 4 {
		shown = append(shown, strings.Contains(b.dom(t, e.proxy.URL+"/"), `id="newsletter-invite"`))
	}
	if !slices.Equal(shown, []bool{true, true, false, false}) {
		t.Errorf("the invitation capped at 2 a day showed on views %v", shown)
	}
	// The page views came with their subresources, through the proxy.
	if css, logo := origin.count("/static/site.css"), origin.count("/static/logo.svg"); css == 0 || logo == 0 {
		t.Errorf("the browser loaded the style sheet %d times and the logo %d times", css, logo)
	}
	t.Logf("origin requests: %v", origin.paths)
}

// TestBrowserRunsInsertedScriptUnderCSP: on a page whose
// Content-Security-Policy allows scripts and styles by nonce (a new one
// for every response), the script and style elements a rule inserts run
// in a real browser, as the page's own do: the rule's script sets an
// attribute, and reads the color the rule's style gives the heading.
func TestBrowserRunsInsertedScriptUnderCSP(t *testing.T) {
	b := newBrowser(t)
	var n atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		nonce := fmt.Sprintf("r%dAbC+/=", n.Add(1))
		w.Header().Set("Content-Security-Policy", fmt.Sprintf("default-src 'self'; script-src 'nonce-%s' 'strict-dynamic'; style-src 'nonce-%s'", nonce, nonce))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>csp</title><script nonce="%s">document.documentElement.dataset.page = "ran"</script></head><body><h1 id="t">Hello</h1></body></html>`, nonce)
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: tracked
    actions:
      - append: { select: body, html: '<style>#t { color: rgb(1, 2, 3) }</style><script>var h = document.getElementById("t"); document.documentElement.dataset.rule = "ran"; document.documentElement.dataset.color = getComputedStyle(h).color</script>' }
`))
	dom := b.dom(t, e.proxy.URL+"/")
	for _, want := range []string{`data-page="ran"`, `data-rule="ran"`, `data-color="rgb(1, 2, 3)"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the document lacks %s:\n%s", want, dom)
		}
	}
}
