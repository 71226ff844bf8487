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
	dir := t.TempDir()
	rules := func(name string) string {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte("rules:\n  - name: mark\n    actions:\n      - set_header: { name: X-Route, value: "+name+" }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	access := false
	cfg := &config.Config{
		CacheDir: "-",
		Log:      config.Log{Access: &access},
		Seen:     config.Seen{Store: "off"},
		Routes: []config.Route{
			{Name: "site", Origin: origin.URL, Rules: rules("site")},
			{Name: "members", Path: "/members/", Origin: origin.URL, Rules: rules("members")},
		},
	}
	addr := strings.TrimPrefix(start(t, cfg).url, "http://")
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
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		conn.Write([]byte("GET " + tt.target + " HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Fatalf("%s: %v", tt.target, err)
		}
		resp.Body.Close()
		conn.Close()
		if got := resp.Header.Get("X-Route"); got != tt.route {
			t.Errorf("%s: served by route %q, want %q", tt.target, got, tt.route)
		}
		if got := resp.Header.Get("X-Origin-Path"); !strings.HasSuffix(got, "|"+strings.ReplaceAll(tt.target, "%2e", ".")) {
			t.Errorf("%s: the origin got %q, want the path as sent", tt.target, got)
		}
	}
}
