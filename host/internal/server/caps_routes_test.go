package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestCapsOfTwoRoutes: two routes of one host (path prefixes), each with
// its own capped rule, share the visitor's counts (one cookie, Path=/);
// a view counted on one route keeps the other's counts.
func TestCapsOfTwoRoutes(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>x</title></head><body><div id="main">hello</div></body></html>`)
	}))
	t.Cleanup(o.Close)
	origin := o.URL
	cfg := seenConfig(t, origin, `rules:
  - name: shop-popup
    at_most: 2 per 1d
    actions:
      - insert_before: { select: "#main", html: '<div id="popup">Shop</div>' }
`)
	blog := filepath.Join(t.TempDir(), "blog.yaml")
	os.WriteFile(blog, []byte(`rules:
  - name: blog-popup
    at_most: 2 per 1d
    actions:
      - insert_before: { select: "#main", html: '<div id="popup">Blog</div>' }
`), 0o644)
	cfg.Routes = []config.Route{
		{Name: "shop", Origin: origin, Rules: cfg.Routes[0].Rules, Path: "/shop"},
		{Name: "blog", Origin: origin, Rules: blog, Path: "/blog"},
	}
	r := start(t, cfg)
	v := newVisitor(t)
	popups := 0
	for range 6 {
		g := v.navigate(r.url + "/blog/list")
		if bytes.Contains(g.body, []byte(`id="popup">Blog`)) {
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
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>x</title></head><body><div id="main">hello</div></body></html>`)
	}))
	t.Cleanup(o.Close)
	origin := o.URL
	cfg := seenConfig(t, origin, `rules:
  - name: shop-popup
    at_most: 5 per 1d
    actions:
      - insert_before: { select: "#main", html: '<div id="popup">Shop</div>' }
`)
	blog := filepath.Join(t.TempDir(), "blog.yaml")
	os.WriteFile(blog, []byte(`rules:
  - name: blog-popup
    at_most: 1 per 8w
    actions:
      - insert_before: { select: "#main", html: '<div id="popup">Blog</div>' }
`), 0o644)
	cfg.Routes = []config.Route{
		{Name: "shop", Origin: origin, Rules: cfg.Routes[0].Rules, Path: "/shop"},
		{Name: "blog", Origin: origin, Rules: blog, Path: "/blog"},
	}
	r := start(t, cfg)
	v := newVisitor(t)
	maxAge := func(g got) int {
		for _, c := range g.Cookies() {
			if c.Name == "bsk_caps" {
				return c.MaxAge
			}
		}
		return -1
	}
	b := v.navigate(r.url + "/blog/list")
	if !bytes.Contains(b.body, []byte(`id="popup">Blog`)) {
		t.Fatal("no blog popup")
	}
	s := v.navigate(r.url + "/shop/list")
	if maxAge(s) < 56*24*3600 {
		t.Errorf("the blog's 8-week count now lives %d s (%.0f days)", maxAge(s), float64(maxAge(s))/86400)
	}
}
