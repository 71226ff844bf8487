package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
)

// validatorsOrigin serves a page and a style sheet with
// http.ServeContent, which answers If-None-Match and If-Modified-Since
// with 304.
func validatorsOrigin() http.Handler {
	modified := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		if r.URL.Path == "/site.css" {
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Etag", `"c1"`)
			http.ServeContent(w, r, "", modified, strings.NewReader("body{}"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Etag", `"v1"`)
		http.ServeContent(w, r, "", modified, strings.NewReader(`<!doctype html><p id="x">Hello</p>`))
	})
}

// TestStaleCopyAfterARuleStartsEditing: a visitor who got a page before
// a rule edited it holds the origin's ETag and Last-Modified; once a
// rule edits the page, revalidating with either gets the edited page,
// not a 304 that keeps the old copy. The edited page's own tag
// revalidates, and a style sheet the rule matches too keeps its 304s,
// as the origin sent them.
func TestStaleCopyAfterARuleStartsEditing(t *testing.T) {
	e := newEnv(t, validatorsOrigin(), []byte(`rules:
  - name: elsewhere
    when: path == "/other"
    actions:
      - set_inner: { select: "#x", text: Bonjour }
`))
	doc := []string{"Sec-Fetch-Dest", "document"}
	before := e.get(t, "/", doc...)
	etag, modified := before.Header.Get("Etag"), before.Header.Get("Last-Modified")
	if etag != `"v1"` || modified == "" || strings.Contains(before.body, "Bonjour") {
		t.Fatalf("before the rule: ETag %q, Last-Modified %q, %q", etag, modified, before.body)
	}
	e.load(t, "rules.yaml", []byte(`rules:
  - name: everywhere
    actions:
      - set_inner: { select: "#x", text: Bonjour }
`))
	for _, conds := range [][]string{
		{"If-None-Match", etag},
		{"If-Modified-Since", modified},
		{"If-None-Match", etag, "If-Modified-Since", modified},
		{"If-None-Match", "*"},
	} {
		r := e.get(t, "/", append(conds, doc...)...)
		if r.StatusCode != 200 || !strings.Contains(r.body, "Bonjour") || r.Header.Get("Last-Modified") != "" {
			t.Errorf("%q: %d %q, Last-Modified %q; want the edited page", conds, r.StatusCode, r.body, r.Header.Get("Last-Modified"))
		}
	}
	edited := e.get(t, "/", doc...)
	if rev := e.get(t, "/", append([]string{"If-None-Match", edited.Header.Get("Etag")}, doc...)...); rev.StatusCode != 304 || rev.Header.Get("Etag") != edited.Header.Get("Etag") {
		t.Errorf("revalidating the edited page (%s): %d, ETag %q", edited.Header.Get("Etag"), rev.StatusCode, rev.Header.Get("Etag"))
	}

	css := e.get(t, "/site.css")
	for _, h := range [][]string{
		{"Sec-Fetch-Dest", "style", "If-None-Match", `"c1"`},
		{"Accept", "text/css", "If-Modified-Since", css.Header.Get("Last-Modified")},
		// A cache that keeps the edited page and the style sheet
		// under one URL lists both tags: the origin's 304 names the
		// style sheet's, and stands for it.
		{"Sec-Fetch-Dest", "style", "If-None-Match", edited.Header.Get("Etag") + `, "c1"`},
	} {
		r := e.get(t, "/site.css", h...)
		if r.StatusCode != 304 || r.Header.Get("Etag") != `"c1"` || r.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("style sheet, %q: %d, ETag %q, Cache-Control %q; want the origin's 304", h, r.StatusCode, r.Header.Get("Etag"), r.Header.Get("Cache-Control"))
		}
	}
}

// TestNotModifiedVariesAsItsPage: a 304 carries the Vary of the 200 it
// stands for (RFC 9110 15.4.5): the edited page's (the headers the rules
// read, and Accept-Encoding), the unedited page's, and the style
// sheet's.
func TestNotModifiedVariesAsItsPage(t *testing.T) {
	e := newEnv(t, validatorsOrigin(), []byte(`rules:
  - name: fr
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#x", text: Bonjour }
`))
	vary := func(r response) string { return strings.Join(r.Header.Values("Vary"), ", ") }
	for _, tt := range []struct {
		name, path string
		headers    []string
	}{
		{"edited page", "/", []string{"CF-IPCountry", "FR", "Sec-Fetch-Dest", "document"}},
		{"unedited page", "/", []string{"CF-IPCountry", "US", "Sec-Fetch-Dest", "document"}},
		{"style sheet", "/site.css", []string{"CF-IPCountry", "FR", "Sec-Fetch-Dest", "style"}},
	} {
		page := e.get(t, tt.path, tt.headers...)
		rev := e.get(t, tt.path, append([]string{"If-None-Match", page.Header.Get("Etag")}, tt.headers...)...)
		if rev.StatusCode != 304 || vary(rev) != vary(page) {
			t.Errorf("%s: %d, Vary %q; the 200's %q", tt.name, rev.StatusCode, vary(rev), vary(page))
		}
	}
	// A page's URL revalidated by a request that says it loads an image
	// (an <img src> pointing at it, or anyone who says so): a shared
	// cache puts the 304's Vary on its copy of the page (RFC 9111 4.3.4,
	// as Varnish does), so it is the page's, not an image's, which would
	// have dropped the country its copies vary with.
	page := e.get(t, "/", "CF-IPCountry", "US", "Sec-Fetch-Dest", "document")
	rev := e.get(t, "/", "CF-IPCountry", "US", "Sec-Fetch-Dest", "image", "Accept", "image/*", "If-None-Match", page.Header.Get("Etag"))
	if rev.StatusCode != 304 || !strings.Contains(vary(rev), "Cf-Ipcountry") || vary(rev) != vary(page) {
		t.Errorf("a page revalidated as an image: %d, Vary %q; the page's %q", rev.StatusCode, vary(rev), vary(page))
	}
}

// TestDeclinedTrackingVaries: a page whose visitor declines tracking
// (Sec-GPC: 1) gets none of the seen-filter's cookies and may be public;
// its Vary names Sec-GPC, so that no shared cache hands it to a visitor
// whose views the filter records.
func TestDeclinedTrackingVaries(t *testing.T) {
	e := newEnv(t, validatorsOrigin(), []byte(`rules:
  - name: fresh
    actions:
      - hide_seen: { select: "#x", id: "@id" }
`), func(c *proxy.Config) {
		c.Seen, _ = seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	})
	for _, gpc := range []string{"1", ""} {
		h := []string{"Sec-Fetch-Dest", "document"}
		if gpc != "" {
			h = append(h, "Sec-GPC", gpc)
		}
		r := e.get(t, "/", h...)
		if vary := strings.Join(r.Header.Values("Vary"), ", "); !strings.Contains(vary, "Sec-Gpc") {
			t.Errorf("Sec-GPC %q: Vary %q, Cache-Control %q", gpc, vary, r.Header.Get("Cache-Control"))
		}
	}
}

// TestUntouchedResponseRevalidates: a request that may be for a page the
// rules rewrite reaches the origin without the visitor's validators (see
// TestStaleCopyAfterARuleStartsEditing), so when what comes back goes
// untouched (a page past the rewrite limit, a style sheet asked for by a
// client that does not say it loads one), the proxy answers them as the
// origin would have: a 304 for the copy the visitor has, whole or
// asked for by a range, and the response otherwise.
func TestUntouchedResponseRevalidates(t *testing.T) {
	e := newEnv(t, validatorsOrigin(), []byte(editEverywhere), func(c *proxy.Config) { c.MaxRewriteBytes = 16 })
	page := e.get(t, "/", "Sec-Fetch-Dest", "document")
	modified := page.Header.Get("Last-Modified")
	if page.StatusCode != 200 || page.Header.Get("Etag") != `"v1"` || strings.Contains(page.body, "Bonjour") {
		t.Fatalf("the page past the limit: %d, ETag %q: %q", page.StatusCode, page.Header.Get("Etag"), page.body)
	}
	earlier := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	for _, tt := range []struct {
		name, path string
		headers    []string
		status     int
	}{
		{"its ETag", "/", []string{"If-None-Match", `"v1"`}, 304},
		{"its ETag, weak", "/", []string{"If-None-Match", `W/"v1"`}, 304},
		{"a list with it", "/", []string{"If-None-Match", `"v0", "v1"`}, 304},
		{"another ETag", "/", []string{"If-None-Match", `"v0"`}, 200},
		{"its date", "/", []string{"If-Modified-Since", modified}, 304},
		{"an earlier date", "/", []string{"If-Modified-Since", earlier}, 200},
		{"another ETag and its date", "/", []string{"If-None-Match", `"v0"`, "If-Modified-Since", modified}, 200},
		{"its ETag and a range", "/", []string{"If-None-Match", `"v1"`, "Range", "bytes=0-4"}, 304},
		{"its ETag and a range past its end", "/", []string{"If-None-Match", `"v1"`, "Range", "bytes=9999-"}, 304},
		{"another ETag and a range", "/", []string{"If-None-Match", `"v0"`, "Range", "bytes=0-4"}, 206},
		{"another ETag and a range past its end", "/", []string{"If-None-Match", `"v0"`, "Range", "bytes=9999-"}, 416},
		{"a style sheet asked for as a page, its ETag", "/site.css", []string{"If-None-Match", `"c1"`}, 304},
		{"a style sheet asked for as a page, its date", "/site.css", []string{"If-Modified-Since", modified}, 304},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, tt.path, append([]string{"Sec-Fetch-Dest", "document"}, tt.headers...)...)
			if r.StatusCode != tt.status {
				t.Fatalf("%d %q, want %d", r.StatusCode, r.body, tt.status)
			}
			if tt.status == 304 && (r.body != "" || r.Header.Get("Content-Length") != "" || r.Header.Get("Content-Range") != "" ||
				r.Header.Get("Cache-Control") != "public, max-age=60" || !strings.HasPrefix(r.Header.Get("Etag"), `"`)) {
				t.Errorf("304 with %q, headers %v", r.body, r.Header)
			}
		})
	}
}
