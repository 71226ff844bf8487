package main

// `bespoke serve` behind real shared caches (nginx's proxy_cache, and
// Varnish and Squid where installed), in front of an origin that sends
// what origins send: Cache-Control, ETag, Last-Modified, ranges, 304s.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// testSecret is the BESPOKE_SECRET serveBinary gives the process: it
// signs the preview links the tests mint.
const testSecret = "0123456789abcdef0123456789abcdef"

// nginxCache starts nginx with proxy_cache, its defaults otherwise, in
// front of backend (host:port), and returns its address. Its responses
// say in X-Cache whether they came from the cache (HIT).
func nginxCache(t *testing.T, backend string) string {
	t.Helper()
	return testproc.Nginx(t, "the tests behind a shared cache", func(addr string) string {
		return fmt.Sprintf(`  proxy_cache_path %[1]s keys_zone=pages:1m;
  server {
    listen %[2]s;
    location / {
      proxy_pass http://%[3]s;
      proxy_cache pages;
      add_header X-Cache $upstream_cache_status always;
    }
  }`, t.TempDir(), addr, backend)
	})
}

// get sends a request with header (name, value pairs) and returns the
// response and its body.
func get(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestPreviewNotForSharedCaches: a page seen through a preview link
// (bespoke serve --dev-preview), at a time when the rules leave it alone,
// goes out without the origin's instructions to shared caches that they
// follow ahead of Cache-Control: private (X-Accel-Expires, which nginx
// reads; CDN-Cache-Control, Surrogate-Control, which CDNs do), as a
// personalized page does: the visitors after get the page the rules make
// now, not the editor's preview of another day, nor its header.
func TestPreviewNotForSharedCaches(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("X-Accel-Expires", "60")
		w.Header().Set("CDN-Cache-Control", "max-age=60")
		io.WriteString(w, `<!doctype html><html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	t.Cleanup(origin.Close)
	rules := writeRules(t, `rules:
  - name: season
    when: now >= "2020-01-01T00:00:00Z"
    actions:
      - set_inner: { select: "#t", text: Season }
`)
	s := serveBinary(t, "--origin", origin.URL, "--rules", rules, "--dev-preview", "--geo-providers", "none")
	cache := "http://" + nginxCache(t, s.addr)

	links := preview.NewLinks([]byte(testSecret))
	tok := links.Token(preview.Preview{At: time.Date(2019, 6, 1, 12, 0, 0, 0, time.UTC)})
	for _, how := range []struct{ name, path, cookie string }{
		{"link", "/?" + preview.Param + "=" + tok, ""},
		{"cookie", "/", preview.Cookie + "=" + tok},
	} {
		hdr := []string{}
		if how.cookie != "" {
			hdr = append(hdr, "Cookie", how.cookie)
		}
		resp, body := get(t, "GET", cache+how.path, hdr...)
		if !strings.Contains(body, ">Hello<") || resp.Header.Get(preview.Header) == "" {
			t.Fatalf("%s: the preview of 2019 through the cache: %s %q, %s", how.name, resp.Status, body, resp.Header)
		}
		// What nginx reads it keeps to itself (X-Accel-Expires): the
		// headers are those bespoke sends.
		resp, _ = get(t, "GET", s.url+how.path, hdr...)
		for _, h := range []string{"X-Accel-Expires", "Cdn-Cache-Control"} {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("%s: the preview went out with %s: %s", how.name, h, v)
			}
		}
	}
	// The preview by its cookie was asked for at the page's own URL.
	resp, body := get(t, "GET", cache+"/")
	if !strings.Contains(body, ">Season<") || resp.Header.Get(preview.Header) != "" {
		t.Errorf("the visitor after the preview got %q, %s %q (X-Cache %s)", body, preview.Header, resp.Header.Get(preview.Header), resp.Header.Get("X-Cache"))
	}
}
