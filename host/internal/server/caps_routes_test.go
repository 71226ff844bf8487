package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// twoRoutes starts a server with two routes of one host, /shop and
// /blog, each with a popup capped as given ("2 per 1d").
func twoRoutes(t *testing.T, shopCap, blogCap string) *running {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>x</title></head><body><div id="main">hello</div></body></html>`)
	}))
	t.Cleanup(o.Close)
	rules := func(name, limit string) string {
		return fmt.Sprintf("rules:\n  - name: %s-popup\n    at_most: %s\n    actions:\n      - insert_before: { select: \"#main\", html: '<div id=\"popup\">%s</div>' }\n", name, limit, name)
	}
	cfg := seenConfig(t, o.URL, rules("shop", shopCap))
	blog := filepath.Join(t.TempDir(), "blog.yaml")
	if err := os.WriteFile(blog, []byte(rules("blog", blogCap)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Routes = []config.Route{
		{Name: "shop", Origin: o.URL, Rules: cfg.Routes[0].Rules, Path: "/shop"},
		{Name: "blog", Origin: o.URL, Rules: blog, Path: "/blog"},
	}
	return start(t, cfg)
}

// TestCapsOfTwoRoutes: two routes of one host (path prefixes), each with
// its own capped rule, share the visitor's counts (one cookie, Path=/);
// a view counted on one route keeps the other's counts.
func TestCapsOfTwoRoutes(t *testing.T) {
	r := twoRoutes(t, "2 per 1d", "2 per 1d")
	v := newVisitor(t)
	popups := 0
	for range 6 {
		g := v.navigate(r.url + "/blog/list")
		if bytes.Contains(g.body, []byte(`id="popup">blog`)) {
			popups++
		}
		v.navigate(r.url + "/shop/list") // the shop's capped rule counts (for the first two)
	}
	if popups != 2 {
		t.Errorf("the blog's popup capped at 2 a day showed %d times in 6 views", popups)
	}
}

// TestCapsLifetimeAcrossRoutes: the counts are shared by the host's
// routes; a view counted on a route whose rules have short windows keeps
// the cookie long enough for the 8-week count another route keeps (it
// used to save it with its own 30 days).
func TestCapsLifetimeAcrossRoutes(t *testing.T) {
	r := twoRoutes(t, "5 per 1d", "1 per 8w")
	v := newVisitor(t)
	maxAge := func(g got) int {
		for _, c := range g.Cookies() {
			if c.Name == "bsk_caps" {
				return c.MaxAge
			}
		}
		return -1
	}
	if b := v.navigate(r.url + "/blog/list"); !bytes.Contains(b.body, []byte(`id="popup">blog`)) {
		t.Fatal("no blog popup")
	}
	if s := v.navigate(r.url + "/shop/list"); maxAge(s) < 56*24*3600 {
		t.Errorf("the blog's 8-week count now lives %d s (%.0f days)", maxAge(s), float64(maxAge(s))/86400)
	}
}
