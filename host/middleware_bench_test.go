package host_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host"
	"github.com/bespoke-edge/bespoke/internal/warmup"
)

// discard is a ResponseWriter that keeps only the headers and counts
// the body.
type discard struct {
	h      http.Header
	status int
	n      int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) WriteHeader(code int)        { w.status = code }
func (w *discard) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkMiddleware is the cost of one request of the shop page
// through host.Handler in front of an in-process handler (Config.Next,
// as the Caddy module runs it), which writes the page in 32 KiB writes
// as a reverse proxy copying an origin's body does, with its ETag and
// length; the rules are testdata/pages/shop-rules.yaml. "next" is that
// handler alone. ns/op is a request's time from the visitor's side, one
// at a time; in the …/parallel runs, GOMAXPROCS visitors send requests
// at once, and ns/op is the machine's time per request with every CPU
// busy, as under load.
func BenchmarkMiddleware(b *testing.B) {
	page, err := os.ReadFile("../testdata/pages/shop.html")
	if err != nil {
		b.Fatal(err)
	}
	warmup := warmup.Page(page)
	rules, err := os.ReadFile("../testdata/pages/shop-rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warmup" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(warmup)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("ETag", `"shop-1"`)
		h.Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(http.StatusOK)
		for i := 0; i < len(page); i += 32 << 10 {
			w.Write(page[i:min(i+32<<10, len(page))])
		}
	})
	for _, c := range []struct {
		name  string
		rules []byte
	}{{"next", nil}, {"seen", rules}} {
		for _, parallel := range []bool{false, true} {
			name := c.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				var h http.Handler = next
				if c.rules != nil {
					bh, err := host.New(context.Background(), host.Config{Next: next, Rules: c.rules, Secret: []byte(secret), Logger: quiet, CacheDir: "-"})
					if err != nil {
						b.Fatal(err)
					}
					defer bh.Close(context.Background())
					h = bh
				}
				b.SetBytes(int64(len(page)))
				b.ReportAllocs()
				// A returning visitor who saw a third of the items, as
				// bench/'s are: the cookies stay as that first view set
				// them (carried on, every item would be seen after one
				// request, and hide_seen would leave 4 of 60). Then the
				// page's first view, which makes its edit map: like
				// host.New, setup, not a request of the measured kind.
				jar := visitShop(b, h, "/warmup", "")
				visitShop(b, h, "/", jar)
				if !parallel {
					for b.Loop() {
						visitShop(b, h, "/", jar)
					}
					return
				}
				// RunParallel, unlike b.Loop, times everything since the
				// function began: host.New's compile of the rules too.
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						visitShop(b, h, "/", jar)
					}
				})
			})
		}
	}
}

// visitShop sends h one request for path of a returning visitor whose
// cookies are jar, and returns the cookies it set.
func visitShop(b *testing.B, h http.Handler, path, jar string) string {
	r, _ := http.NewRequest("GET", "http://shop.test"+path, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("CF-IPCountry", "FR")
	r.Header.Set("Cookie", "seg=gold; "+jar)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status != 200 && w.status != 0 || w.n == 0 {
		b.Fatalf("status %d, %d bytes", w.status, w.n)
	}
	if sc := w.h.Values("Set-Cookie"); len(sc) > 0 {
		var parts []string
		for _, s := range sc {
			parts = append(parts, strings.SplitN(s, ";", 2)[0])
		}
		jar = strings.Join(parts, "; ")
	}
	return jar
}
