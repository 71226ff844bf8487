package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bespoke-edge/bespoke/host/demo"
	"github.com/bespoke-edge/bespoke/host/proxy"
	"github.com/bespoke-edge/bespoke/host/seen"
)

// mapOrigin serves the cards page with a strong ETag; with vary, a few
// bytes near its top change with every response (the same length, so
// that the map is found and does not match).
func mapOrigin(vary bool) http.Handler {
	page := cardsPage()
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := page
		if vary {
			body = strings.Replace(page, "<title>Shop</title>", fmt.Sprintf("<title>S%03d</title>", n.Add(1)%1000), 1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if !vary {
			w.Header().Set("ETag", `"cards-1"`)
		}
		io.WriteString(w, body)
	})
}

// TestEditMapsServeWhatTheRewriterDoes: through the real proxy, a
// visitor's views of a page are the same with edit maps as without, on a
// page that comes back the same (spliced after the first view) and on one
// that changes every time (each view falls back to the rewriter), with
// hide_seen and its cookie.
func TestEditMapsServeWhatTheRewriterDoes(t *testing.T) {
	for _, vary := range []bool{false, true} {
		t.Run(fmt.Sprintf("vary=%v", vary), func(t *testing.T) {
			envs := make([]*env, 2)
			for i := range envs {
				store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
				if err != nil {
					t.Fatal(err)
				}
				size := 0
				if i == 1 {
					size = 1 << 20
				}
				envs[i] = newEnv(t, mapOrigin(vary), []byte(seenRules), func(c *proxy.Config) {
					c.Seen, c.EditMapCache = store, size
				})
			}
			jars := []cookieJar{{}, {}}
			for view := range 5 {
				var bodies [2]string
				for i, e := range envs {
					r := e.get(t, "/", "Cookie", jars[i].header())
					jars[i].keep(r)
					bodies[i] = strings.ReplaceAll(r.body, "<title>S", "<title>")
				}
				if bodies[0] != bodies[1] {
					t.Fatalf("view %d differs with edit maps:\nwithout %s\n   with %s", view, bodies[0], bodies[1])
				}
				if n := len(items(bodies[1])); view > 0 && n != 2 {
					t.Fatalf("view %d shows %d items, want the 2 kept", view, n)
				}
			}
			st := envs[1].p.EditMapStats()
			hits, misses, fells := st.Hits.Load(), st.Misses.Load(), st.Fallbacks.Load()
			if !vary && (hits != 4 || misses != 1 || fells != 0) || vary && (hits != 0 || fells == 0) {
				t.Errorf("hits %d, misses %d, fallbacks %d", hits, misses, fells)
			}
			if !vary && envs[1].p.EditMaps().Len() != 1 {
				t.Errorf("the cache holds %d maps, want 1", envs[1].p.EditMaps().Len())
			}
		})
	}
}

// TestEditMapsDemo: the demo site's pages, for visitors of several
// countries and devices, are the same with edit maps as without.
func TestEditMapsDemo(t *testing.T) {
	plain := newEnv(t, demo.Handler(), demo.Rules())
	mapped := newEnv(t, demo.Handler(), demo.Rules(), func(c *proxy.Config) { c.EditMapCache = 4 << 20 })
	for round := range 3 {
		for v, country := range []string{"FR", "US", "DE", ""} {
			for _, path := range []string{"/", "/c/tents", "/p/1"} {
				// One visitor per country: the experiments pick the same.
				vid := fmt.Sprintf("bsk_vid=visitor%015d", v)
				h := []string{"CF-IPCountry", country, "User-Agent", chrome, "Cookie", vid}
				a, b := plain.get(t, path, h...), mapped.get(t, path, h...)
				if a.StatusCode != b.StatusCode || a.body != b.body {
					t.Fatalf("round %d %s %s: differs with edit maps (status %d, %d)\nwithout %s\n   with %s", round, country, path, a.StatusCode, b.StatusCode, a.body, b.body)
				}
			}
		}
	}
	st := mapped.p.EditMapStats()
	if st.Hits.Load() == 0 {
		t.Errorf("no page was spliced (misses %d, fallbacks %d)", st.Misses.Load(), st.Fallbacks.Load())
	}
}
