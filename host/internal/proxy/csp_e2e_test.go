package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// TestInsertedScriptsGetEachResponsesNonce: the page's nonce changes with
// every response, in its header and in its own scripts; the script a rule
// inserts carries the nonce of the response it is in, whether the page
// was rewritten in full or spliced from the edit map of an earlier
// response (where the page's nonces are volatile values).
func TestInsertedScriptsGetEachResponsesNonce(t *testing.T) {
	var n atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := fmt.Sprintf("n%08dxyz", n.Add(1))
		w.Header().Set("Content-Security-Policy", "script-src 'nonce-"+nonce+"'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page := fmt.Sprintf(`<!doctype html><html><head><script nonce="%s">page()</script></head><body><main><p>%s</p></main></body></html>`,
			nonce, strings.Repeat("text ", 2000))
		w.Header().Set("Content-Length", fmt.Sprint(len(page)))
		io.WriteString(w, page)
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: tracked
    actions:
      - insert_before: { select: main, html: '<script>track()</script>' }
`), func(c *proxy.Config) { c.EditMapCache = 1 << 20 })
	inserted := regexp.MustCompile(`<script nonce="([^"]+)">track\(\)</script><main>`)
	for i := range 6 {
		r := e.get(t, "/")
		policy := r.Header.Get("Content-Security-Policy")
		m := inserted.FindStringSubmatch(r.body)
		if m == nil || policy != "script-src 'nonce-"+m[1]+"'" {
			t.Fatalf("response %d: policy %q, inserted script %q", i, policy, m)
		}
	}
	if s := e.p.EditMapStats(); s.Hits.Load() == 0 || s.Volatile.Load() == 0 {
		t.Errorf("%d responses spliced from the edit map, %d of them with volatile values; want some", s.Hits.Load(), s.Volatile.Load())
	}
}
