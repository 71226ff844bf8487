package proxy_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/internal/testproc"
	"github.com/bespoke-edge/bespoke/internal/warmup"
)

// mapOrigin serves the cards page with a strong ETag; with vary, a few
// bytes near its top change with every response, the same length, so
// that the map is found: in its elements ("markup": the request
// number's digits, each in <b> when even, <i> when odd), which no map
// can take for unchanged, or in the page's text ("text"), a class list
// that holds none of the selectors' classes ("class"), a token's and a
// nonce's values ("nonce"), a comment's text ("comment") or a script's
// ("script"), which a map that looks for volatile values does; or a
// script's text changes length too
// ("script-length"), and the map is found by the page's URL. A varying
// page has no ETag, but "nonce-etag", "nonce" with a strong ETag that
// hashes the page's bytes, as some origins make theirs: a new identity
// every time, found by the page's URL too.
func mapOrigin(vary string, compress bool) http.Handler {
	page := cardsPage()
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := page
		switch vary {
		case "markup":
			var digits strings.Builder
			for _, d := range fmt.Sprintf("%06d", n.Add(1)%1000000) {
				e := "bi"[d%2]
				fmt.Fprintf(&digits, "<%c>%c</%c>", e, d, e)
			}
			body = strings.Replace(page, `<ul class="cards">`, `<p>Request `+digits.String()+`</p><ul class="cards">`, 1)
		case "class":
			body = strings.Replace(page, `<ul class="cards">`, fmt.Sprintf(`<p class="served-by r%06d">Request</p><ul class="cards">`, n.Add(1)%1000000), 1)
		case "text":
			body = strings.Replace(page, `<ul class="cards">`, fmt.Sprintf(`<p>Request %06d</p><ul class="cards">`, n.Add(1)%1000000), 1)
		case "nonce", "nonce-etag":
			// A CSRF token and a CSP nonce of the same length in every
			// response: volatile values (rewrite's volatile.go).
			i := n.Add(1)
			body = strings.Replace(page, "<title>", fmt.Sprintf(`<meta name="csrf-token" content="tok-%016d">`+
				`<script nonce="n-%012d">var t = 1;</script><title>`, i*7919, i), 1)
		case "comment":
			// A page that says when and where it was rendered.
			i := n.Add(1)
			body = strings.Replace(page, "<title>", fmt.Sprintf(`<!-- rendered in %06d us by web-%02d --><title>`, i*37%1000000, i%16), 1)
		case "script":
			// A page that hands its scripts a request id.
			body = strings.Replace(page, "<title>", fmt.Sprintf(`<script>var requestId = "r-%012d";</script><title>`, n.Add(1)*7919), 1)
		case "script-length":
			// The same, one byte longer each time: a new length, so a
			// new identity, each time.
			i := n.Add(1)
			body = strings.Replace(page, "<title>", fmt.Sprintf(`<script>var requestId = "r-%0*d";</script><title>`, int(i)+4, i), 1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if compress {
			var b bytes.Buffer
			z := gzip.NewWriter(&b)
			io.WriteString(z, body)
			z.Close()
			body = b.String()
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		switch vary {
		case "":
			w.Header().Set("ETag", `"cards-1"`)
		case "nonce-etag":
			w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sha256.Sum256([]byte(body))))
		}
		io.WriteString(w, body)
	})
}

// streamed serves what h serves as a page sent as it is rendered:
// without its Content-Length and ETag, in pieces, each flushed (chunked).
func streamed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			if k != "Content-Length" && k != "Etag" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		for body := rec.Body.Bytes(); len(body) > 0; {
			n := min(len(body), 700)
			w.Write(body[:n])
			w.(http.Flusher).Flush()
			body = body[n:]
		}
	})
}

// TestEditMapsServeWhatTheRewriterDoes: through the real proxy, a
// visitor's views of a page are the same with edit maps as without, on a
// page that comes back the same (spliced after the first view), on one
// whose elements change every time (each view falls back to the
// rewriter), and on one whose text, a class list, nonce and token, a
// comment or a script's text change every time, the script's length too
// (spliced after the first view: volatile values), with hide_seen and
// its cookie; and pages streamed as they are rendered, without a length
// or an ETag, which are known by their URL.
func TestEditMapsServeWhatTheRewriterDoes(t *testing.T) {
	for _, c := range []struct {
		vary           string
		gzip, streamed bool
	}{{"", false, false}, {"markup", false, false}, {"text", false, false}, {"class", false, false}, {"", true, false},
		{"nonce", false, false}, {"comment", false, false}, {"script", false, false}, {"script-length", false, false}, {"nonce-etag", false, false},
		{"", false, true}, {"", true, true}, {"markup", false, true}, {"nonce", false, true}, {"script-length", false, true}} {
		vary := c.vary
		t.Run(fmt.Sprintf("vary=%q,gzip=%v,streamed=%v", c.vary, c.gzip, c.streamed), func(t *testing.T) {
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
				origin := mapOrigin(vary, c.gzip)
				if c.streamed {
					origin = streamed(origin)
				}
				envs[i] = newEnv(t, origin, []byte(seenRules), func(c *proxy.Config) {
					c.Seen, c.EditMapCache = store, size
					c.StreamPause = time.Minute // a busy machine's waits are no pause
				})
			}
			jars := []cookieJar{{}, {}}
			for view := range 5 {
				var bodies [2]string
				for i, e := range envs {
					r := e.get(t, "/", "Cookie", jars[i].header(), "Accept-Encoding", "identity")
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
			hits, misses, fells, vol := st.Hits.Load(), st.Misses.Load(), st.Fallbacks.Load(), st.Volatile.Load()
			// A page with a nonce: the first map, which did not look for
			// volatile values, fails; the next miss builds one that does,
			// and it serves the views after.
			want := map[string][4]int64{"": {4, 0, 1, 0}, "text": {2, 2, 2, 1}, "class": {2, 2, 2, 1}, "nonce": {2, 2, 2, 1}, "comment": {2, 2, 2, 1}, "script": {2, 2, 2, 1}, "script-length": {2, 2, 2, 1}, "nonce-etag": {2, 2, 2, 1}}[vary]
			if c.streamed {
				// Known by its URL alone, a page gets a map from its
				// second view on: one view later.
				want = map[string][4]int64{"": {3, 0, 2, 0}, "nonce": {1, 1, 3, 1}, "script-length": {1, 1, 3, 1}}[vary]
			}
			if vary == "markup" && (hits != 0 || vol != 0 || fells == 0) || vary != "markup" && [4]int64{hits, vol, misses, fells} != want {
				t.Errorf("hits %d (volatile %d), misses %d, fallbacks %d", hits, vol, misses, fells)
			}
			// A page of a new length each time keeps its first map too,
			// under the length it had.
			maps := map[string]int{"markup": 0, "script-length": 2, "nonce-etag": 2}[vary]
			if maps == 0 && vary != "markup" || c.streamed {
				maps = 1 // (a streamed page has one identity: its URL)
			}
			if vary != "markup" && envs[1].p.EditMaps().Len() != maps {
				t.Errorf("the cache holds %d maps, want %d", envs[1].p.EditMaps().Len(), maps)
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

// BenchmarkProxyEditMaps is BenchmarkProxy's "seen" case (the shop page,
// five edits and hide_seen, the visitor's seen cookie carried) with the
// origin sending a strong ETag and the page's length: "rewrite" without
// edit maps, "splice" with them (every request after the first is
// spliced), "none" with them and BenchmarkProxy's rules that match
// nothing, and "varying" with them and an origin that changes a few
// bytes of markup near the top of every response (each request is
// rewritten in full to past the change, then spliced: resumed), against
// "rewrite-varying", that origin without edit maps; "goproxy" is a plain httputil.ReverseProxy in front of the
// same origin, the floor. The "-parallel" cases send from 32 clients at
// once, as bench/ does: there, requests that miss overlap the one that
// builds a map, and each request's buffers compete for the caches.
func BenchmarkProxyEditMaps(b *testing.B) {
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		b.Fatal(err)
	}
	warmup := warmup.Page(page)
	always := func(*proxy.MapStats) bool { return true }
	spliced := func(s *proxy.MapStats) bool { return s.Hits.Load() > 0 && s.Fallbacks.Load() == 0 }
	resumed := func(s *proxy.MapStats) bool { return s.Hits.Load() == 0 && s.Resumed.Load() > 0 }
	// Right after <body>: an element named after the response's number,
	// which the tree builder reads, so no map can take one response for
	// another, even of requests sent at once; past it, the page is the
	// map's page again. (A number in the body's class no longer does: a
	// class list with the same of the selectors' classes splices.)
	at := bytes.Index(page, []byte(`<body`))
	at += bytes.IndexByte(page[at:], '>') + 1
	for _, c := range []struct {
		name     string
		rules    string // "" for a plain httputil.ReverseProxy
		maps     int
		vary     bool
		parallel bool
		check    func(*proxy.MapStats) bool
		streamed bool // no ETag, no Content-Length: chunked, as pages rendered as they are sent
	}{
		{"goproxy", "", 0, false, false, always, false},
		{"rewrite", benchSeenRules, 0, false, false, always, false},
		{"splice", benchSeenRules, 32 << 20, false, false, spliced, false},
		{"none", benchNone, 32 << 20, false, false, spliced, false},
		{"splice-streamed", benchSeenRules, 32 << 20, false, false, spliced, true},
		{"rewrite-streamed", benchSeenRules, 0, false, false, always, true},
		{"rewrite-varying", benchSeenRules, 0, true, false, always, false},
		{"varying", benchSeenRules, 32 << 20, true, false, resumed, false},
		{"goproxy-parallel", "", 0, false, true, always, false},
		{"splice-parallel", benchSeenRules, 32 << 20, false, true, spliced, false},
		{"none-parallel", benchNone, 32 << 20, false, true, spliced, false},
		{"rewrite-varying-parallel", benchSeenRules, 0, true, true, always, false},
		{"varying-parallel", benchSeenRules, 32 << 20, true, true, resumed, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var n atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body := page
				if r.URL.Path == "/warmup" {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					w.Write(warmup)
					return
				}
				if c.vary {
					k := strconv.FormatInt(n.Add(1), 10)
					el := "<v" + k + ">x</v" + k + ">"
					body = append(append(append(make([]byte, 0, len(page)+len(el)), page[:at]...), el...), page[at:]...)
				}
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if !c.streamed {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					w.Header().Set("ETag", `"shop-1"`)
				}
				w.Write(body)
			}))
			defer origin.Close()
			u, _ := url.Parse(origin.URL)
			var h http.Handler
			var p *proxy.Proxy
			if c.rules == "" {
				// Tuned as bench/ tunes it: pooled copy buffers.
				rp := httputil.NewSingleHostReverseProxy(u)
				rp.Transport = proxy.NewTransport()
				rp.BufferPool = &copyBuffers{}
				h = rp
			} else {
				p = benchProxy(b, u, c.rules, true, proxy.Config{EditMapCache: c.maps})
				h = p
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
			var out atomic.Int64
			get := func(path string, jar *string) {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.Header.Set("CF-IPCountry", "FR")
				req.Header.Set("Cookie", "seg=gold; "+*jar)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				out.Add(n)
				if resp.StatusCode != 200 {
					b.Error(resp.Status)
					return
				}
				if path == "/warmup" {
					var parts []string
					for _, c := range resp.Cookies() {
						parts = append(parts, c.Name+"="+c.Value)
					}
					*jar = strings.Join(parts, "; ")
				}
			}
			// A returning visitor who saw a third of the items, as
			// bench/'s are: their cookies stay as that first view set
			// them (carried on, every item would be seen after one
			// request, and hide_seen would leave 4 of 60). Then one
			// request, as a page's first visitor: the map is built (when
			// the page does not vary) before the timer starts.
			var jar string
			get("/warmup", &jar)
			get("/", &jar)
			if c.streamed {
				get("/", &jar) // known by its URL, a page's map is made on its second view
			}
			out.Store(0)
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			b.ResetTimer()
			if c.parallel {
				b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						j := jar
						get("/", &j)
					}
				})
			} else {
				for b.Loop() {
					get("/", &jar)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(out.Load())/float64(b.N), "out-B/op")
			if p == nil {
				return
			}
			st := p.EditMapStats()
			counts := fmt.Sprintf("hits %d, misses %d, fallbacks %d, resumed %d", st.Hits.Load(), st.Misses.Load(), st.Fallbacks.Load(), st.Resumed.Load())
			b.Log(counts)
			if !c.check(st) {
				b.Fatal(counts)
			}
		})
	}
}

// TestEditMapsAfterReload: a reload's new plugin uses the maps made for
// the old one when it selects the same elements and reads the same ids
// (only what the rules do changed), and never when it does not.
func TestEditMapsAfterReload(t *testing.T) {
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, mapOrigin("", false), []byte(seenRules), func(c *proxy.Config) { c.EditMapCache, c.Seen = 1<<20, store })
	e.get(t, "/")
	e.get(t, "/")
	st := e.p.EditMapStats()
	if st.Hits.Load() != 1 {
		t.Fatalf("hits %d before the reload, want 1", st.Hits.Load())
	}
	// The same selector and ids; another number of items kept.
	e.load(t, "rules.yaml", []byte(strings.Replace(seenRules, "keep_at_least: 2 }", "keep_at_least: 5 }", 1)))
	jar := cookieJar{}
	for view := range 3 {
		r := e.get(t, "/", "Cookie", jar.header())
		jar.keep(r)
		if n := len(items(r.body)); view > 0 && n != 5 {
			t.Fatalf("after a reload that kept the selectors, view %d shows %d items, want the 5 kept", view, n)
		}
	}
	if st.Hits.Load() != 4 || st.Misses.Load() != 1 {
		t.Fatalf("after a reload that kept the selectors: hits %d, misses %d; the map was not carried over", st.Hits.Load(), st.Misses.Load())
	}
	// Another id: the old maps must not serve.
	e.load(t, "rules.yaml", []byte("rules:\n  - name: top\n    actions:\n      - limit: { select: \"li.card\", n: 3 }\n"))
	r := e.get(t, "/")
	if n := len(items(r.body)); n != 3 {
		t.Fatalf("after the reload, %d items, want 3", n)
	}
	if st.Hits.Load() != 4 || st.Misses.Load() != 2 {
		t.Fatalf("after the reload: hits %d, misses %d; the old map was used", st.Hits.Load(), st.Misses.Load())
	}
	if r := e.get(t, "/"); len(items(r.body)) != 3 || st.Hits.Load() != 5 {
		t.Fatalf("the new plugin's map is not used: hits %d, %d items", st.Hits.Load(), len(items(r.body)))
	}
}

// TestEditMapMetrics: the edit maps' counts and the cache's bytes are
// exported.
func TestEditMapMetrics(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, mapOrigin("", false), []byte(seenRules), func(c *proxy.Config) { c.EditMapCache, c.Metrics = 1<<20, m })
	e.get(t, "/")
	e.get(t, "/")
	e.get(t, "/")
	got := metricValues(t, m)
	if got["bespoke_editmap_hits_total"] != 2 || got["bespoke_editmap_misses_total"] != 1 || got["bespoke_editmap_fallbacks_total"] != 0 ||
		got["bespoke_editmap_cache_bytes"] <= 0 || got["bespoke_editmap_cache_maps"] != 1 {
		t.Errorf("metrics %v", got)
	}
}

// metricValues returns the value of every counter and gauge m holds, by
// name (of a family with several series, the last one's).
func metricValues(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			switch {
			case s.GetCounter() != nil:
				got[f.GetName()] = s.GetCounter().GetValue()
			case s.GetGauge() != nil:
				got[f.GetName()] = s.GetGauge().GetValue()
			}
		}
	}
	return got
}

// TestEditMapTooLarge: a map that, with the visitor's edits, could take
// the rewrite past rewrite_buffer is not used, and the pages it would
// have served are counted as such, not as misses (a map is cached).
func TestEditMapTooLarge(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, mapOrigin("", false), []byte(seenRules), func(c *proxy.Config) {
		c.EditMapCache, c.Metrics, c.RewriteBuffer = 1<<20, m, 4<<10
	})
	for range 3 {
		e.get(t, "/")
	}
	got := metricValues(t, m)
	if got["bespoke_editmap_too_large_total"] != 2 || got["bespoke_editmap_misses_total"] != 1 || got["bespoke_editmap_hits_total"] != 0 {
		t.Errorf("metrics %v", got)
	}
}

// copyBuffers lends a plain httputil.ReverseProxy pooled copy buffers, as
// bench/'s goproxy target does.
type copyBuffers struct{ p sync.Pool }

func (c *copyBuffers) Get() []byte {
	if b, ok := c.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (c *copyBuffers) Put(b []byte) { c.p.Put(&b) }

// TestEditMapsTakePage: through the real proxy, a page no edit of the
// visitor's selects anything on is sent from where the splice read it
// (rewrite.Options.Direct); it is the origin's page, and when a later
// response of it gains, past its first blocks, an element an edit
// selects, the edit applies there as it does without edit maps: here the
// element's start tag is across a block's boundary.
func TestEditMapsTakePage(t *testing.T) {
	const rules = `rules:
  - name: promo
    actions:
      - insert_before: { select: ".promo", html: "<p class=inserted>new</p>" }
      - set_attr: { select: ".promo a", name: href, value: "/offer" }
`
	var b strings.Builder
	b.WriteString("<!doctype html><html><head><title>T</title></head><body>")
	for i := 0; b.Len() < 20<<10-64; i++ {
		fmt.Fprintf(&b, "<p class=\"f\" data-i=\"%05d\">filler %d</p>\n", i, i)
	}
	// The div's start tag starts 8 bytes before the fifth block ends.
	b.WriteString("<!--" + strings.Repeat("-", 5*rewrite.SpliceBlock-8-b.Len()-7) + "-->")
	base := b.String()
	var changed atomic.Bool
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := "plain"
		if changed.Load() {
			class = "promo" // the same length: only the sixth block differs
		}
		body := base + `<div class="` + class + `"><a href="/x">x</a></div></body></html>`
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("ETag", `"take-1"`)
		io.WriteString(w, body)
	})
	plain := newEnv(t, origin, []byte(rules))
	mapped := newEnv(t, origin, []byte(rules), func(c *proxy.Config) { c.EditMapCache = 1 << 20 })
	for view, change := range []bool{false, false, false, true, false, true} {
		changed.Store(change)
		want := plain.get(t, "/", "Accept-Encoding", "identity")
		got := mapped.get(t, "/", "Accept-Encoding", "identity")
		if got.body != want.body || got.Status != want.Status {
			t.Fatalf("view %d (changed %v) differs with edit maps:\nwithout …%s\n   with …%s", view, change, tail(want.body), tail(got.body))
		}
		if strings.Contains(got.body, "inserted") != change {
			t.Fatalf("view %d: the edit applied %v, the page changed %v", view, !change, change)
		}
	}
	st := mapped.p.EditMapStats()
	if st.Hits.Load() < 2 || st.Fallbacks.Load() < 1 {
		t.Errorf("hits %d, fallbacks %d: want the unchanged views spliced and the changed ones fallen back", st.Hits.Load(), st.Fallbacks.Load())
	}
}

func tail(s string) string { return s[max(0, len(s)-160):] }

// TestEditMapsStreamedPages: a page sent as it is rendered, whose origin
// waits mid-page, reaches the visitor up to the pause while the origin
// waits, as without edit maps. A map made from a view whose origin
// paused records the place, and its splices write there what a rewrite
// has by then (rewrite.Splicer.Pause): every view is spliced. A map made
// from a view sent at once does not know the place: the first two views
// spliced with it whose origin paused there (the third and fourth: each
// holds the part of a block it had through the pause) make the page's
// next views go without a map, counted as streamed. The origin of the
// other views waits, mid-page, until the visitor has what it sent: a
// splice that held it would never get it.
func TestEditMapsStreamedPages(t *testing.T) {
	for _, c := range []struct {
		name                   string
		from                   int    // the first view whose origin pauses
		known                  string // what else than its URL knows the page: "etag", "length" or ""
		hits, misses, streamed int64
	}{
		{"pauses from the first view", 0, "", 4, 2, 0},
		{"pauses from the first spliced view", 2, "", 2, 2, 2},
		// A page with a validator or a length that the origin sends as
		// it renders: the same.
		{"ETag, pauses from the first view", 0, "etag", 5, 1, 0},
		{"ETag, pauses from the first spliced view", 2, "etag", 3, 1, 2},
		{"length, pauses from the first view", 0, "length", 5, 1, 0},
		{"length, pauses from the first spliced view", 2, "length", 3, 1, 2},
		// An ETag of its own each time: the map is its URL's (views 1
		// to 3 spliced with it), and the URL's map goes with the pauses;
		// a new identity is no view of a page streaming (a miss).
		{"a new ETag each time, pauses from the first spliced view", 2, "new etag", 3, 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			streamedPages(t, c.from, c.known, c.hits, c.misses, c.streamed)
		})
	}
}

func streamedPages(t *testing.T, from int, known string, wantHits, wantMisses, wantStreamed int64) {
	const marker = `<p id="waiting">Loading</p>`
	page := strings.Replace(cardsPage(), "</ul>", "</ul>"+marker, 1)
	cut := strings.Index(page, marker) + len(marker)
	type view struct {
		n        int
		release  chan struct{} // closed once the visitor has the first part
		timedOut *atomic.Bool  // the origin went on without it
	}
	views := make(chan view, 1)
	origin := func() http.Handler {
		var n atomic.Int64
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := <-views
			n.Add(1)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			switch known {
			case "etag":
				w.Header().Set("ETag", `"page-1"`)
			case "new etag":
				w.Header().Set("ETag", fmt.Sprintf(`"page-%d"`, v.n))
			case "length":
				w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			}
			io.WriteString(w, page[:cut])
			w.(http.Flusher).Flush()
			switch {
			case v.n < from:
				// The first views (the page noted, then its map made):
				// sent at once.
			case from > 0 && (v.n == from || v.n == from+1):
				// Pauses the map's views hold through: the second at the
				// same place tells the origin's pause from a far origin's
				// flight (TestEditMapsFarOrigin).
				time.Sleep(150 * time.Millisecond)
			default:
				// At least StreamPause, so that the view that makes the
				// map knows the origin paused.
				time.Sleep(40 * time.Millisecond)
				select {
				case <-v.release:
				case <-time.After(5 * time.Second):
					v.timedOut.Store(true)
				}
			}
			io.WriteString(w, page[cut:])
		})
	}
	rules := []byte(`rules:
  - name: cards
    actions:
      - add_class: { select: "li.card", class: picked }
      - set_attr: { select: "#waiting", name: data-seen, value: "yes" }
`)
	withMaps := newEnv(t, origin(), rules, func(c *proxy.Config) { c.EditMapCache, c.StreamPause = 1<<20, 20*time.Millisecond })
	without := newEnv(t, origin(), rules)
	for i := range 6 {
		var bodies [2]string
		for k, e := range []*env{without, withMaps} {
			v := view{n: i, release: make(chan struct{}), timedOut: new(atomic.Bool)}
			views <- v
			resp, err := http.Get(e.proxy.URL + "/page")
			if err != nil {
				t.Fatal(err)
			}
			// Read up to the marker, then let the origin go on.
			var got []byte
			buf := make([]byte, 512)
			for !strings.Contains(string(got), `Loading</p>`) {
				n, err := resp.Body.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			close(v.release)
			rest, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies[k] = string(got) + string(rest)
			if v.timedOut.Load() {
				t.Fatalf("view %d (maps %v): the first part did not reach the visitor while the origin waited", i, k == 1)
			}
		}
		if bodies[0] != bodies[1] {
			t.Fatalf("view %d differs with edit maps:\nwithout %s\n   with %s", i, bodies[0], bodies[1])
		}
		if !strings.Contains(bodies[1], `class="card picked"`) || !strings.Contains(bodies[1], `data-seen="yes"`) {
			t.Fatalf("view %d is not rewritten: %s", i, bodies[1])
		}
	}
	st := withMaps.p.EditMapStats()
	if hits, misses, streamed := st.Hits.Load(), st.Misses.Load(), st.Streamed.Load(); hits != wantHits || misses != wantMisses || streamed != wantStreamed {
		t.Errorf("hits %d, misses %d, streamed %d; want %d, %d, %d", hits, misses, streamed, wantHits, wantMisses, wantStreamed)
	}
}

// TestEditMapsStreamedURLsOnce: pages known by their URL alone that are
// asked for once each (a crawler's, a search's) make no map, which would
// cost as much as their rewrite; one asked for again makes one.
func TestEditMapsStreamedURLsOnce(t *testing.T) {
	e := newEnv(t, streamed(mapOrigin("", false)), []byte(seenRules), func(c *proxy.Config) {
		c.EditMapCache, c.StreamPause = 1<<20, time.Minute
	})
	for i := range 10 {
		if r := e.get(t, fmt.Sprintf("/search?q=%d", i)); r.StatusCode != 200 || len(items(r.body)) == 0 {
			t.Fatalf("search %d: %d %s", i, r.StatusCode, r.body)
		}
	}
	if n := e.p.EditMaps().Len(); n != 0 {
		t.Fatalf("%d maps made for pages asked for once", n)
	}
	e.get(t, "/search?q=3")
	if n := e.p.EditMaps().Len(); n != 1 {
		t.Fatalf("%d maps after a page was asked for again", n)
	}
	e.get(t, "/search?q=3")
	if st := e.p.EditMapStats(); st.Hits.Load() != 1 || st.Misses.Load() != 11 {
		t.Errorf("hits %d, misses %d", st.Hits.Load(), st.Misses.Load())
	}
}

// flightRelay stands between the proxy and an origin far away: it
// forwards each response in flights, as a TCP sender does in slow
// start, with a round trip between flights. The origin closes each
// connection after its response (one response per connection, one
// schedule of flights each). A flight ends where cut says, given the
// chunks' places in the response (see chunkSpans).
type flightRelay struct {
	ln     net.Listener
	origin string
	rtt    time.Duration
	cut    func(spans [][2]int) []int
}

func newFlightRelay(t *testing.T, origin string, rtt time.Duration, cut func(spans [][2]int) []int) *flightRelay {
	r := &flightRelay{origin: origin, rtt: rtt, cut: cut}
	r.ln = testproc.Serve(t, r.serve)
	return r
}

func (r *flightRelay) serve(c net.Conn) {
	defer c.Close()
	o, err := net.Dial("tcp", r.origin)
	if err != nil {
		return
	}
	defer o.Close()
	go io.Copy(o, c)
	resp, _ := io.ReadAll(o) // the origin closes after its response
	spans := chunkSpans(resp)
	at := 0
	for _, p := range r.cut(spans) {
		if p <= at || p >= len(resp) {
			continue
		}
		if _, err := c.Write(resp[at:p]); err != nil {
			return
		}
		at = p
		time.Sleep(r.rtt)
	}
	c.Write(resp[at:])
}

// chunkSpans returns where the data of each chunk of a chunked HTTP/1.1
// response is, [start, end) in resp.
func chunkSpans(resp []byte) [][2]int {
	i := bytes.Index(resp, []byte("\r\n\r\n"))
	if i < 0 {
		return nil
	}
	i += 4
	var spans [][2]int
	for i < len(resp) {
		eol := bytes.Index(resp[i:], []byte("\r\n"))
		if eol < 0 {
			break
		}
		n, err := strconv.ParseInt(string(resp[i:i+eol]), 16, 64)
		if err != nil || n == 0 {
			break
		}
		start := i + eol + 2
		spans = append(spans, [2]int{start, start + int(n)})
		i = start + int(n) + 2
	}
	return spans
}

// TestEditMapsFarOrigin: an origin a round trip away whose chunked page
// comes in several flights keeps its map, since a read of a chunked
// body returns only at the end of one of the origin's chunks (net/http
// waits for the rest of a chunk in flight, for the Rewriter as for the
// Splicer): the waits between flights that end within a chunk are no
// pause. Flights that end where a chunk ends, the origin waiting there,
// may be one: twice at one place, the page gets no map for its next
// views (TestEditMapsStreamedPages); a flight that happened to end with
// a chunk, at another place each time, is not.
func TestEditMapsFarOrigin(t *testing.T) {
	page := cardsPage()
	for len(page) < 40<<10 {
		page = strings.Replace(page, "</ul>", "\n  <li class=\"card\" data-item-id=\"sku-x\"><h3>More</h3><p>"+strings.Repeat("text ", 40)+"</p></li></ul>", 1)
	}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Connection", "close")
		// Flushed every 3,000 bytes, as a server that renders the page
		// as it sends it: net/http sends chunks of 2 KB and less.
		for p := page; len(p) > 0; {
			n := min(3000, len(p))
			io.WriteString(w, p[:n])
			w.(http.Flusher).Flush()
			p = p[n:]
		}
	})
	rules := []byte(`rules:
  - name: cards
    actions:
      - add_class: { select: "li.card", class: picked }
`)
	// Flights of 2, 4 and 8 chunks, as slow start sends them, ending
	// within a chunk; or a flight that ends after a chunk and its CRLF,
	// at the same place on every view (the origin's own pause) or at
	// another each time (a coincidence of the network's).
	var views atomic.Int64
	flights := func(how string) func(spans [][2]int) []int {
		return func(spans [][2]int) []int {
			n := int(views.Add(1))
			var cuts []int
			for _, k := range []int{2, 6, 14} {
				if k < len(spans) {
					cuts = append(cuts, (spans[k][0]+spans[k][1])/2)
				}
			}
			switch k := min(1+5*n, len(spans)-1); how { // blocks further on each view
			case "same":
				cuts = append(cuts, spans[4][1]+2)
			case "moving":
				cuts = append(cuts, spans[k][1]+2)
			}
			slices.Sort(cuts)
			return cuts
		}
	}
	for _, c := range []struct {
		name, how    string
		wantStreamed bool
	}{
		{"flights end within chunks", "within", false},
		// The view that made the map waited there too: its splices
		// write what a rewrite has by then (TestEditMapsStreamedPages).
		{"a wait after a chunk, at one place", "same", false},
		{"a wait after a chunk, each time elsewhere", "moving", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			views.Store(0)
			var withMaps, without *env
			without = newEnv(t, origin, rules)
			relay := newFlightRelay(t, strings.TrimPrefix(without.origin.URL, "http://"), 60*time.Millisecond, flights(c.how))
			withMaps = newEnv(t, origin, rules, func(cfg *proxy.Config) {
				cfg.EditMapCache, cfg.StreamPause = 1<<20, 20*time.Millisecond
				cfg.Origin, _ = url.Parse("http://" + relay.ln.Addr().String())
			})
			want := without.get(t, "/page").body
			for i := range 4 {
				if got := withMaps.get(t, "/page").body; got != want {
					t.Fatalf("view %d differs from the rewrite of the page sent at once", i)
				}
			}
			st := withMaps.p.EditMapStats()
			hits, streamed := st.Hits.Load(), st.Streamed.Load()
			if c.wantStreamed {
				if streamed == 0 {
					t.Errorf("hits %d, streamed %d: the origin's waits after a chunk, twice at one place, are its pauses", hits, streamed)
				}
				return
			}
			if hits != 2 || streamed != 0 {
				t.Errorf("hits %d, streamed %d; want two views spliced (the first noted the page, the second made its map), none taken for paused", hits, streamed)
			}
		})
	}
}

// TestSeenCookieBeforeThePageEnds: with the cookie store, a page with
// hide_seen is held until the cookie can say what it showed. Without a
// map that is its end; with one, the end of its last list: the headers,
// with the cookie, leave while the origin still sends the rest. Should
// the rest differ from the map and show more items, the page says so in
// SeenLate (they are not in the cookie), and is otherwise what a full
// rewrite makes of it.
func TestSeenCookieBeforeThePageEnds(t *testing.T) {
	const block = 8 << 10
	var cards strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&cards, `<li class="card" data-item-id="sku-%d">Item %d</li>`, i, i)
	}
	head := `<!doctype html><html><head><title>Shop</title></head><body><ul class="cards">` + cards.String() + `</ul><p>`
	head += strings.Repeat("x", block-len(head)-len("</p>")) + "</p>"
	tail := strings.Repeat("<p>More of the page.</p>", 4000) + "</body></html>"
	// A page whose tail has a second list, the same ETag (an origin that
	// changed the page without telling).
	var more strings.Builder
	for i := 13; i <= 15; i++ {
		fmt.Fprintf(&more, `<li class="card" data-item-id="sku-%d">Item %d</li>`, i, i)
	}
	changed := strings.Replace(tail, "<p>More of the page.</p>", `<ul class="cards">`+more.String()+`</ul>`, 1)
	var mu sync.Mutex
	var wait chan struct{} // the origin waits on it after head, when set
	reached := make(chan struct{}, 1)
	rest := tail
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, head)
		w.(http.Flusher).Flush()
		mu.Lock()
		c, body := wait, rest
		mu.Unlock()
		if c != nil {
			reached <- struct{}{}
			<-c
		}
		io.WriteString(w, body)
	})
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, origin, []byte(seenRules), func(c *proxy.Config) { c.EditMapCache, c.Seen = 1<<20, store })
	full := newEnv(t, origin, []byte(seenRules), func(c *proxy.Config) { c.EditMapCache, c.Seen = 0, store })
	if r := e.get(t, "/"); len(items(r.body)) != 12 {
		t.Fatalf("first view: %d items, want 12", len(items(r.body)))
	}

	// view asks for the page with cookie while the origin waits after its
	// head, and returns the response once its headers came, and its body.
	view := func(e *env, cookie string) (*http.Response, string) {
		t.Helper()
		c := make(chan struct{})
		mu.Lock()
		wait = c
		mu.Unlock()
		defer func() {
			mu.Lock()
			wait = nil
			mu.Unlock()
		}()
		req, _ := http.NewRequest("GET", e.proxy.URL+"/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		type result struct {
			resp *http.Response
			err  error
		}
		got := make(chan result, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			got <- result{resp, err}
		}()
		<-reached
		var r result
		select {
		case r = <-got:
		case <-time.After(10 * time.Second):
			close(c)
			t.Fatal("no headers while the origin waits after the page's list: the page was held whole")
		}
		close(c)
		if r.err != nil {
			t.Fatal(r.err)
		}
		defer r.resp.Body.Close()
		b, err := io.ReadAll(r.resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return r.resp, string(b)
	}
	jar := cookieJar{}
	resp, body := view(e, "")
	jar.keep(response{Response: resp, body: body})
	if n := len(items(body)); n != 12 || jar[store.CookieName()] == "" {
		t.Fatalf("second view: %d items, seen cookie %q; want 12 and the cookie", n, jar[store.CookieName()])
	}
	if r := e.get(t, "/", "Cookie", jar.header()); len(items(r.body)) != 2 {
		t.Fatalf("the view after: %d items, want the 2 kept: the cookie sent before the page's end did not record its items", len(items(r.body)))
	}
	if n := e.p.Stats().SeenLate.Load(); n != 0 {
		t.Fatalf("SeenLate %d, want 0", n)
	}

	mu.Lock()
	rest = changed
	mu.Unlock()
	_, body = view(e, "") // a fresh visitor, so that all items show
	if want := full.get(t, "/"); body != want.body {
		t.Fatal("a page that differs from its map after its last list: not what a full rewrite makes of it")
	}
	if n := len(items(body)); n != 15 {
		t.Errorf("%d items, want all 15", n)
	}
	if n := e.p.Stats().SeenLate.Load(); n != 1 {
		t.Errorf("SeenLate %d after a page that showed items past its map's last list, want 1", n)
	}
}
