package caddybespoke_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/bespoke-edge/bespoke/internal/warmup"
)

// BenchmarkCaddy is the cost of one request of the shop page through a
// real Caddy in this process, on loopback: reverse_proxy alone (plain),
// and with the bespoke directive in front of it running
// testdata/pages/shop-rules.yaml (bespoke). One request at a time, the
// client and the origin in the process: ns/op is how long a request
// takes from the client to the origin and back, and the difference
// between the two is what the directive adds to it. In the …/parallel
// runs eight clients send requests at once, and ns/op is the machine's
// time per request with both CPUs busy. bench/'s
// caddy-plain and caddy-bespoke targets measure the same out of
// process, under load.
func BenchmarkCaddy(b *testing.B) {
	page, err := os.ReadFile("../testdata/pages/shop.html")
	if err != nil {
		b.Fatal(err)
	}
	warmup := warmup.Page(page)
	dir := b.TempDir()
	rules, err := filepath.Abs("../testdata/pages/shop-rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	origin := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warmup.html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(warmup)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("ETag", `"shop-1"`)
		h.Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	})}
	ports := freePorts(b, 3)
	plain, personal, originAddr := ports[0], ports[1], ports[2]
	ln, err := net.Listen("tcp", originAddr)
	if err != nil {
		b.Fatal(err)
	}
	go origin.Serve(ln)
	defer origin.Close()
	src := fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	log {
		output discard
	}
	storage file_system %s
}
http://%s {
	reverse_proxy %s {
		transport http {
			keepalive_idle_conns_per_host 256
		}
	}
}
http://%s {
	bespoke {
		rules %s
		secret "caddy bench secret, 32 bytes long"
		cache_dir -
	}
	reverse_proxy %s {
		transport http {
			keepalive_idle_conns_per_host 256
		}
	}
}
`, filepath.Join(dir, "data"), plain, originAddr, personal, rules, originAddr)
	if err := load(b, src); err != nil {
		b.Fatal(err)
	}
	defer caddy.Stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, c := range []struct{ name, addr string }{{"plain", plain}, {"bespoke", personal}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			// A returning visitor who saw a third of the items, as
			// bench/'s are: the cookies stay as that first view set them
			// (carried on, every item would be seen after one request).
			jar := visitShop(b, client, c.addr, "/warmup.html", "")
			visitShop(b, client, c.addr, "/shop.html", jar) // the page's first view makes its edit map
			for b.Loop() {
				visitShop(b, client, c.addr, "/shop.html", jar)
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			b.SetParallelism(4) // 8 clients on 2 CPUs, as the load keeps a proxy busy
			jar := visitShop(b, client, c.addr, "/warmup.html", "")
			visitShop(b, client, c.addr, "/shop.html", jar)
			// RunParallel, unlike b.Loop, times everything since the
			// function began.
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					visitShop(b, client, c.addr, "/shop.html", jar)
				}
			})
		})
	}
}

// visitShop asks addr for path as a returning visitor whose cookies are
// jar, and returns the cookies it set.
func visitShop(b *testing.B, client *http.Client, addr, path, jar string) string {
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Cookie", "seg=gold; "+jar)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n == 0 {
		b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
		var parts []string
		for _, s := range sc {
			parts = append(parts, strings.SplitN(s, ";", 2)[0])
		}
		jar = strings.Join(parts, "; ")
	}
	return jar
}
