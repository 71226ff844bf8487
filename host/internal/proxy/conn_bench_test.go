package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// BenchmarkConnMemory is the memory one open keep-alive connection of a
// visitor holds on a net/http server in front of the proxy, between two
// requests: 256 connections each send one request of the shop page
// through the proxy, personalized as bench/'s bespoke-seen target is (the
// goroutines' stacks grow with what the request ran, and stay grown), and
// stay open; the live heap and goroutine stacks grown,
// after a collection, divided by the connections, is bytes/conn. The
// clients are raw TCP connections whose own share (a few hundred bytes
// each) is included. The capacity model (bench/capacity) reads it.
func BenchmarkConnMemory(b *testing.B) {
	const conns = 256
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
	p := benchProxy(b, u, benchSeenRules, true, proxy.Config{})
	for b.Loop() {
		srv := httptest.NewServer(p)
		addr := srv.Listener.Addr().String()
		before := liveMemory()
		open := make([]net.Conn, 0, conns)
		for range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench\r\nCookie: seg=a\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			open = append(open, c)
		}
		after := liveMemory()
		b.ReportMetric(float64(after-before)/conns, "bytes/conn")
		for _, c := range open {
			c.Close()
		}
		srv.Close()
	}
}

// liveMemory is the live heap and the goroutine stacks after a
// collection.
func liveMemory() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}
