package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
)

// Rules for testdata/pages/shop.html: five edits on elements the page has,
// the same edits on elements it has not, and the edits plus hide_seen over
// its 60 product cards.
const (
	benchEdits = `
      - set_inner: { select: ".listing-head h1", text: 'Picked for you in {{ geo.country or "your area" }}' }
      - set_attr: { select: "#promo-strip a", name: href, value: '/offers?seg={{ cookie("seg") or "none" }}' }
      - add_class: { select: body, class: bench-p }
      - insert_before: { select: "#listing", html: '<div class="bench-banner">Members save 10%</div>' }
      - remove: "#legacy-promo"
`
	benchNone = `rules:
  - name: absent
    actions:
      - set_inner: { select: "#bench-absent .title", text: 'x' }
      - add_class: { select: "#bench-absent", class: y }
`
	benchEditRules = "rules:\n  - name: edits\n    when: cookie(\"seg\") exists\n    actions:" + benchEdits
	benchSeenRules = benchEditRules + `  - name: fresh
    actions:
      - hide_seen: { select: "li.card", id: "@data-item-id", keep_at_least: 4 }
`
)

// BenchmarkProxy is the time of one request of the shop page through the
// proxy, in process, against httputil.ReverseProxy with pooled copy
// buffers (as bench/'s goproxy is tuned) sent the same requests: the
// client, the origin and both servers share the process, one request at
// a time, so ns/op is how long a request takes end to end (client,
// proxy and origin overlap on the CPUs, and wait on the sockets), not
// what it costs the machine; the ratio between sub-benchmarks is what
// personalization adds to that time. Its proxies keep no edit maps, so every
// response is rewritten in full (the path of a first view, or of a page
// that changes throughout): BenchmarkProxyEditMaps is the same with the
// origin bench/ runs, which the proxy splices.
// bench/ runs the same comparison out of process, under load.
func BenchmarkProxy(b *testing.B) {
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		b.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)

	run := func(b *testing.B, h http.Handler) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		var jar string
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Header.Set("CF-IPCountry", "FR")
			req.Header.Set("Cookie", "seg=gold; "+jar)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
			// Keep the visitor's cookies, as a browser would, but let
			// the seen-filter start over when it fills up.
			var parts []string
			for _, c := range resp.Cookies() {
				parts = append(parts, c.Name+"="+c.Value)
			}
			if len(parts) > 0 {
				jar = strings.Join(parts, "; ")
			}
		}
	}

	b.Run("goproxy", func(b *testing.B) {
		// Tuned as bench/ tunes it: pooled copy buffers (without them,
		// each response allocates a 32 KiB buffer, two thirds of its
		// bytes allocated). The same requests as bespoke's, cookies
		// included: it sets none, so the jar stays empty.
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = proxy.NewTransport()
		rp.BufferPool = &copyBuffers{}
		run(b, rp)
	})
	for _, tc := range []struct{ name, rules string }{
		{"none", benchNone}, {"edits", benchEditRules}, {"seen", benchSeenRules},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := benchProxy(b, u, tc.rules, true, proxy.Config{})
			run(b, p)
		})
	}
}

// bigJSON is an API response of about 4.7 MB: 20,000 products.
func bigJSON() []byte {
	var b strings.Builder
	b.WriteString(`{"page":1,"items":[`)
	for i := range 20000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"sku-%05d","title":"Trail product number %d with a longer name","price":%d.99,"currency":"EUR","tags":["outdoor","camping","sale"],"stock":{"count":%d,"warehouse":"LYS-2"},"rating":4.%d,"new":false}`, i, i, i%300, i%17, i%10)
	}
	b.WriteString(`],"total":20000}`)
	return []byte(b.String())
}

// BenchmarkProxyJSON is one request of a 4.7 MB JSON response through the
// proxy with json_hide_seen and json_limit, in process (client, origin
// and proxy: B/op is the whole request's), a visitor's seen cookie
// carried from one request to the next.
func BenchmarkProxyJSON(b *testing.B) {
	doc := bigJSON()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		w.Write(doc)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	p := benchProxy(b, u, "rules:\n  - name: api\n    actions:\n      - json_hide_seen: { path: items, id: id, keep_at_least: 8 }\n      - json_limit: { path: items, n: 10000 }\n", true, proxy.Config{})
	srv := httptest.NewServer(p)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var jar string
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("GET", srv.URL+"/api", nil)
		if jar != "" {
			req.Header.Set("Cookie", jar)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
		for _, c := range resp.Cookies() {
			jar = c.Name + "=" + c.Value
		}
	}
}

// benchProxy is a proxy in front of origin running rulesYAML, with the
// seen cookie store when withSeen (cfg's Origin, Logger and Seen are set
// here; everything is closed when b ends).
func benchProxy(b *testing.B, origin *url.URL, rulesYAML string, withSeen bool, cfg proxy.Config) *proxy.Proxy {
	b.Helper()
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(context.Background()) })
	cfg.Origin = origin
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if withSeen {
		if cfg.Seen, err = seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")}); err != nil {
			b.Fatal(err)
		}
	}
	p := proxy.New(cfg)
	res, err := compiler.Compile("bench.yaml", []byte(rulesYAML))
	if err != nil {
		b.Fatal(err)
	}
	s, err := site.Load(context.Background(), eng, "bench", res.Artifact, reqctx.Config{})
	if err != nil {
		b.Fatal(err)
	}
	p.Swap(s)
	b.Cleanup(func() { s.Close(context.Background()) })
	return p
}
