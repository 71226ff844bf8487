package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// TestOriginStatusOutOfRange: http.ReadResponse takes any three digits
// as a status code, and a final status under 100 cannot be written
// (net/http panics in WriteHeader). An origin that answers so is
// answered with a 502, over bespoke's own connections (GET) as over
// http.Transport's (POST), with or without rules; a status HTTP has
// passes as it came.
func TestOriginStatusOutOfRange(t *testing.T) {
	for _, c := range []struct {
		status string
		want   int
	}{
		{"099 Weird", http.StatusBadGateway},
		{"000 Zero", http.StatusBadGateway},
		{"042", http.StatusBadGateway},
		{"999 Odd", 999},
		{"200 OK", http.StatusOK},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		serve := func(conn net.Conn) {
			defer conn.Close()
			br := bufio.NewReader(conn)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(conn, "HTTP/1.1 "+c.status+"\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<p id=t>origin</p>\r\n")
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go serve(conn)
			}
		}()
		for _, rules := range []string{"", brokenRules} {
			opt := func(cfg *proxy.Config) { cfg.Origin = &url.URL{Scheme: "http", Host: ln.Addr().String()} }
			var src []byte
			if rules != "" {
				src = []byte(rules)
			}
			e := newEnv(t, http.NotFoundHandler(), src, opt)
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				var body io.Reader
				if method == http.MethodPost {
					body = strings.NewReader("x=1")
				}
				req, _ := http.NewRequest(method, e.proxy.URL+"/p", body)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("%s, %s, rules %t: %v; want %d", c.status, method, rules != "", err, c.want)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("%s, %s, rules %t: %d; want %d", c.status, method, rules != "", resp.StatusCode, c.want)
				}
			}
		}
	}
}
