package server_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestRoutingNormalizesPath: over a real listener, a path whose dot
// segments or repeated slashes lead under /members/ is served by the
// members' route, whose rules gate those pages, and not by the site's;
// the origin gets the path as the visitor sent it.
func TestRoutingNormalizesPath(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Origin-Path", r.URL.RawPath+"|"+r.URL.Path)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(origin.Close)
	addr := markedRoutes(t,
		config.Route{Name: "site", Origin: origin.URL},
		config.Route{Name: "members", Path: "/members/", Origin: origin.URL})
	tests := []struct{ target, route string }{
		{"/members/x", "members"},
		{"/blog/../members/x", "members"},
		{"/blog/%2e%2e/members/x", "members"},
		{"//members/x", "members"},
		{"/./members/x", "members"},
		{"/members/../blog", "site"},
		{"/blog", "site"},
	}
	for _, tt := range tests {
		resp := rawGet(t, addr, tt.target, "example.com")
		if got := resp.Header.Get("X-Route"); got != tt.route {
			t.Errorf("%s: served by route %q, want %q", tt.target, got, tt.route)
		}
		if got := resp.Header.Get("X-Origin-Path"); !strings.HasSuffix(got, "|"+strings.ReplaceAll(tt.target, "%2e", ".")) {
			t.Errorf("%s: the origin got %q, want the path as sent", tt.target, got)
		}
	}
}

// TestRoutingByHost: over a real listener, a Host names a route's host
// whatever its case, port and final dot, an IPv6 literal with or
// without a port, and a request in absolute form (GET http://host/, as
// sent to a proxy) goes by its target's host, not its Host header (RFC
// 9112 3.2.2).
func TestRoutingByHost(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(origin.Close)
	addr := markedRoutes(t,
		config.Route{Name: "site", Origin: origin.URL},
		config.Route{Name: "shop", Host: "shop.example.com", Origin: origin.URL},
		config.Route{Name: "books", Host: "bücher.example", Origin: origin.URL},
		config.Route{Name: "v6", Host: "2001:db8::1", Origin: origin.URL})
	tests := []struct{ target, host, route string }{
		{"/", "shop.example.com", "shop"},
		{"/", "SHOP.example.com.:8080", "shop"},
		{"/", "shop.example.com.", "shop"},
		{"/", "xn--bcher-kva.example", "books"},
		{"/", "[2001:db8::1]", "v6"},
		{"/", "[2001:db8::1]:8080", "v6"},
		{"/", "other.example", "site"},
		{"http://shop.example.com./x", "other.example", "shop"},
		{"http://other.example/x", "shop.example.com", "site"},
	}
	for _, tt := range tests {
		resp := rawGet(t, addr, tt.target, tt.host)
		if got := resp.Header.Get("X-Route"); got != tt.route {
			t.Errorf("%s with Host %s: served by route %q, want %q", tt.target, tt.host, got, tt.route)
		}
	}
}

// markedRoutes serves routes on a loopback port, each with rules that
// name it in an X-Route header, and returns the address.
func markedRoutes(t *testing.T, routes ...config.Route) string {
	t.Helper()
	dir := t.TempDir()
	for i := range routes {
		path := filepath.Join(dir, routes[i].Name+".yaml")
		if err := os.WriteFile(path, []byte("rules:\n  - name: mark\n    actions:\n      - set_header: { name: X-Route, value: "+routes[i].Name+" }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		routes[i].Rules = path
	}
	access := false
	cfg := &config.Config{
		CacheDir: "-",
		Log:      config.Log{Access: &access},
		Seen:     config.Seen{Store: "off"},
		Routes:   routes,
	}
	return strings.TrimPrefix(start(t, cfg).url, "http://")
}

// rawGet sends GET target with host as its Host, byte for byte as given
// (a client library would resolve the dot segments and merge slashes),
// and returns the response, its body closed.
func rawGet(t *testing.T, addr, target, host string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	conn.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", target, host, err)
	}
	resp.Body.Close()
	return resp
}
