package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/internal/warmup"
)

// memOrigin is an origin in memory: it answers every request with the
// page, as bench/'s origin does (Content-Type, Content-Length, a strong
// ETag), with no socket in between.
// With vary set it stamps a request number near the top of each
// response, as bench/'s varying origin does, so that no two responses are
// the same bytes (the copy it stamps is made from a second buffer, to
// keep the origin's own cost small): "markup" as the page's first
// elements, <xd>d</xd> for each digit d, which no edit map can take
// for unchanged; "class" in the body's class
// list, which holds none of the selectors' classes, and "nonce" in its
// description's value, which edit maps take for volatile; "length"
// there too, the value from 0 to 3 bytes longer in turn, and no ETag, as
// a page that hands out a counter or a time says no validator.
type memOrigin struct {
	page   []byte
	warmup []byte // served for /warmup (see warmupJar)
	vary   string
	n      int
	stamps [][]byte
	at     int
}

func (o *memOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	body := o.page
	if r.URL.Path == "/warmup" {
		h := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
		return &http.Response{Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: io.NopCloser(bytes.NewReader(o.warmup)), ContentLength: int64(len(o.warmup)), Request: r}, nil
	}
	if o.vary != "" {
		if o.stamps == nil {
			// The body's class, or a meta element's content; or six
			// elements after the body's start tag.
			marker := map[string]string{"markup": `<body`, "class": `<body class="`, "nonce": `content='`, "length": `content='`}[o.vary]
			o.at = bytes.Index(o.page, []byte(marker)) + len(marker)
			page := o.page
			if o.vary == "markup" {
				o.at += bytes.IndexByte(o.page[o.at:], '>') + 1
				page = slices.Concat(o.page[:o.at], bytes.Repeat([]byte(digitElement), 6), o.page[o.at:])
			}
			o.stamps = [][]byte{page}
			for k := 1; o.vary == "length" && k < 4; k++ {
				o.stamps = append(o.stamps, slices.Concat(o.page[:o.at], bytes.Repeat([]byte("0"), k), o.page[o.at:]))
			}
		}
		o.n++
		body = o.stamps[o.n%len(o.stamps)]
		if o.vary == "markup" {
			for k, m := 5, o.n; k >= 0; k, m = k-1, m/10 {
				e, d := body[o.at+k*len(digitElement):], '0'+byte(m%10)
				e[2], e[4], e[8] = d, d, d
			}
		} else {
			copy(body[o.at:], strconv.Itoa(100000+o.n%100000))
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if o.vary != "length" {
		h.Set("ETag", `"shop-1"`)
	}
	h.Set("Cache-Control", "public, max-age=60")
	return &http.Response{
		Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		Request: r,
	}, nil
}

// digitElement is the slot of one digit of memOrigin's "markup" stamp.
const digitElement = "<x0>0</x0>"

// discardWriter is a visitor's connection that takes every byte at once.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardWriter) Flush()                      {}

// BenchmarkHandler is the CPU one request of the shop page costs the
// proxy itself, with no socket on either side: the origin is a
// RoundTripper answering from memory and the visitor a ResponseWriter
// that takes every byte. What a plain httputil.ReverseProxy costs on the
// same path (goproxy) is the floor; the difference is what deciding,
// splicing, the seen cookie and the response's headers add. The visitor is
// a returning one who saw a third of the items elsewhere (a view of
// warmup.Page), as bench/'s are, and gets the other
// 40 (out-B/op: the bytes sent);
// seen-varying is seen on a page whose elements near its top differ in
// every response: rewritten in full up to where its map is found again
// (see rewrite's resync.go), then spliced; seen-nomap is seen with no
// edit map at all, the full rewriter on every request (a page that
// differs everywhere, or whose map is gone); seen-class is seen on a page
// whose class list differs (in no class a selector names) and seen-nonce
// on one that differs in a value the map takes for volatile, seen-length
// in one that also changes length.
// bench/ measures the same targets with the network, under load.
func BenchmarkHandler(b *testing.B) {
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		b.Fatal(err)
	}
	warmup := warmup.Page(page)
	u, _ := url.Parse("http://origin.test")
	for _, c := range []struct {
		name, rules, vary string
	}{
		{"goproxy", "", ""}, {"none", benchNone, ""}, {"edits", benchEditRules, ""},
		{"seen", benchSeenRules, ""}, {"seen-varying", benchSeenRules, "markup"}, {"seen-nomap", benchSeenRules, ""},
		{"seen-class", benchSeenRules, "class"},
		{"seen-nonce", benchSeenRules, "nonce"},
		{"seen-length", benchSeenRules, "length"},
	} {
		b.Run(c.name, func(b *testing.B) {
			origin := &memOrigin{page: page, warmup: warmup, vary: c.vary}
			var h http.Handler
			var bp *proxy.Proxy
			if c.rules == "" {
				rp := httputil.NewSingleHostReverseProxy(u)
				rp.Transport = origin
				rp.BufferPool = &copyBuffers{}
				h = rp
			} else {
				cache := 32 << 20
				if c.name == "seen-nomap" {
					cache = 0
				}
				bp = benchProxy(b, u, c.rules, true, proxy.Config{Transport: origin, EditMapCache: cache})
				h = bp
			}
			get := func(path, jar string) *discardWriter {
				r, _ := http.NewRequest("GET", "http://shop.test"+path, nil)
				r.RemoteAddr = "127.0.0.1:40000"
				r.Header.Set("CF-IPCountry", "FR")
				r.Header.Set("Cookie", "seg=gold; "+jar)
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, r)
				if w.status != 200 && w.status != 0 || w.n == 0 {
					b.Fatalf("status %d, %d bytes", w.status, w.n)
				}
				return w
			}
			// A returning visitor who saw a third of the items, as
			// bench/'s are: their cookies stay as that first view set
			// them (carried on, every item would be seen after one
			// request, and hide_seen would leave 4 of 60).
			jar := cookiesOf(get("/warmup", "").h)
			out := 0
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				out += get("/", jar).n
			}
			b.ReportMetric(float64(out)/float64(b.N), "out-B/op")
			// Each names the path it measures: the varying page is
			// rewritten in full up to its change, then spliced; the
			// others splice whole after their first views (but for
			// nomap, which never does).
			if bp != nil && b.N > 8 {
				st := bp.EditMapStats()
				hits, resumed := st.Hits.Load(), st.Resumed.Load()
				switch {
				case c.name == "seen-nomap" && hits+resumed != 0,
					c.vary == "markup" && (hits != 0 || resumed < int64(b.N)-8),
					c.vary != "markup" && c.name != "seen-nomap" && hits == 0:
					b.Fatalf("%d of %d requests spliced whole, %d resumed", hits, b.N, resumed)
				}
			}
		})
	}
}

// cookiesOf is what a browser sends back of h's Set-Cookie lines.
func cookiesOf(h http.Header) string {
	var parts []string
	for _, sc := range h.Values("Set-Cookie") {
		parts = append(parts, strings.SplitN(sc, ";", 2)[0])
	}
	return strings.Join(parts, "; ")
}
