package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/server"
)

// TestForgedGeographyThroughProxy serves a page greeting French visitors,
// trusting only the proxy at 127.0.0.2, and sends it requests over
// loopback from that proxy and from 127.0.0.1, a visitor connecting
// directly. A visitor's forwarding and CDN headers choose nothing; the
// proxy's are believed, and of its forwarding headers only what it
// appended, whatever the visitor wrote before it.
func TestForgedGeographyThroughProxy(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(db, server.CityDB(t, "FR"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := markedOrigin(t, "A")
	conf := fmt.Sprintf("geo: { geoip: %q, trusted_proxies: \"127.0.0.2/32\", providers: \"cloudflare\", header: \"X-Country\" }\nroutes:\n  - { name: shop, origin: %q, rules: greet.yaml }\n", db, o.URL)
	rules := `rules:
  - name: fr
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#t", text: Bonjour }
`
	ls := startLive(t, conf, map[string]string{"greet.yaml": rules})
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}}
	}
	visitor, proxy := from("127.0.0.1"), from("127.0.0.2")
	// 203.0.113.0/24 is in France, 198.51.100.0/24 nowhere.
	tests := []struct {
		name    string
		proxied bool
		headers []string
		want    string
	}{
		{"visitor: X-Forwarded-For", false, []string{"X-Forwarded-For", "203.0.113.5"}, "Hello"},
		{"visitor: X-Forwarded-For naming the proxy", false, []string{"X-Forwarded-For", "203.0.113.5, 127.0.0.2"}, "Hello"},
		{"visitor: Forwarded", false, []string{"Forwarded", "for=203.0.113.5"}, "Hello"},
		{"visitor: CF-IPCountry", false, []string{"CF-IPCountry", "FR"}, "Hello"},
		{"visitor: lower-case cf-ipcountry", false, []string{"cf-ipcountry", "fr"}, "Hello"},
		{"visitor: the operator's header", false, []string{"X-Country", "FR"}, "Hello"},
		{"visitor: everything", false, []string{"X-Forwarded-For", "203.0.113.5", "Forwarded", "for=203.0.113.5", "CF-IPCountry", "FR", "X-Country", "FR"}, "Hello"},
		{"proxy: X-Forwarded-For", true, []string{"X-Forwarded-For", "203.0.113.5"}, "Bonjour"},
		{"proxy: visitor's entry left of theirs", true, []string{"X-Forwarded-For", "203.0.113.5, 198.51.100.1"}, "Hello"},
		{"proxy: visitor's own line before the proxy's", true, []string{"X-Forwarded-For", "203.0.113.5", "X-Forwarded-For", "198.51.100.1"}, "Hello"},
		{"proxy: Forwarded", true, []string{"Forwarded", `for="203.0.113.5:4711"`}, "Bonjour"},
		{"proxy: Forwarded after a visitor's unterminated quote", true, []string{"Forwarded", `for="198.51.100.1, for=203.0.113.5`}, "Bonjour"},
		{"proxy: visitor's Forwarded left of theirs", true, []string{"Forwarded", `for=203.0.113.5, for=198.51.100.1`}, "Hello"},
		{"proxy: CF-IPCountry", true, []string{"CF-IPCountry", "FR"}, "Bonjour"},
		{"proxy: CF-IPCountry XX", true, []string{"CF-IPCountry", "XX", "X-Forwarded-For", "198.51.100.1"}, "Hello"},
		{"proxy: the operator's header", true, []string{"X-Country", "fr"}, "Bonjour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := visitor
			if tt.proxied {
				client = proxy
			}
			req, _ := http.NewRequest("GET", ls.url+"/", nil)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header[tt.headers[i]] = append(req.Header[tt.headers[i]], tt.headers[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, after, _ := strings.Cut(string(body), `<h1 id="t">`)
			got, _, _ := strings.Cut(after, "<")
			if got != tt.want {
				t.Errorf("greeting %q, want %q (%s)", got, tt.want, resp.Status)
			}
		})
	}
}
