package proxy_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/demo"
	"github.com/bespoke-edge/bespoke/host/proxy"
	"github.com/bespoke-edge/bespoke/host/seen"
)

// chromium returns the path of a headless-capable Chromium, or skips the
// test when there is none, except in CI, which installs one
// (`.ci/run`): there a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not installed (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// A desktop Chrome on Linux: what Chromium's own Client Hints say it is,
// so that the hints and the User-Agent agree (headless Chromium's own
// User-Agent names it HeadlessChrome, which is classified as a bot).
const desktopChrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

var cardID = regexp.MustCompile(`<li class="card"[^>]*data-item-id="([^"]+)"`)

// TestBrowserSeesPersonalizedDemo loads the demo shop through the proxy in
// a real browser, twice with the same profile, and reads the document the
// browser built: the rewritten markup must parse into the page the rules
// meant (German announcement bar for a German-speaking visitor outside the
// euro zone, the first-visit offer once), and the second view must hide
// the cards the first one showed, through the browser's own cookie jar.
func TestBrowserSeesPersonalizedDemo(t *testing.T) {
	bin := chromium(t)
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("browser-test-key-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, demo.Handler(), demo.Rules(), func(c *proxy.Config) { c.Seen = store })
	profile := t.TempDir()
	view := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--user-data-dir="+profile, "--accept-lang=de-CH,de", "--user-agent="+desktopChrome,
			"--dump-dom", e.proxy.URL+"/")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		return string(out)
	}
	ids := func(dom string) []string {
		var out []string
		for _, m := range cardID.FindAllStringSubmatch(dom, -1) {
			out = append(out, m[1])
		}
		return out
	}

	first := view()
	for _, want := range []string{"Kostenloser Versand ab 50 CHF", "New here? Join Northwind Club"} {
		if !strings.Contains(first, want) {
			t.Errorf("first view: the page lacks %q", want)
		}
	}
	shown := ids(first)
	if len(shown) < 20 {
		t.Fatalf("first view: %d cards in the document, want the whole grid", len(shown))
	}

	second := view()
	if strings.Contains(second, "New here? Join Northwind Club") {
		t.Error("second view: still offered the first-visit promo")
	}
	if !strings.Contains(second, "Kostenloser Versand ab 50 CHF") {
		t.Error("second view: the announcement bar is no longer German")
	}
	again := ids(second)
	if len(again) >= len(shown) || len(again) < 8 {
		t.Fatalf("second view: %d cards after %d on the first, want fewer and at least 8", len(again), len(shown))
	}
	// The cards still shown are those not seen, topped up with seen ones
	// only to keep 8.
	before := map[string]bool{}
	for _, id := range shown {
		before[id] = true
	}
	unseen := 0
	for _, id := range again {
		if !before[id] {
			unseen++
		}
	}
	if len(again) > 8 && unseen != len(again) {
		t.Errorf("second view shows %d cards of which %d were seen, with more than the 8 kept", len(again), len(again)-unseen)
	}
	t.Logf("first view %d cards, second %d (%d unseen)", len(shown), len(again), unseen)
}
