package server_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// TestNginxOriginCompresses: nginx, as most sites run it (gzip on, the
// rest its defaults: gzip_proxied off), compresses nothing asked by a
// request that carries Via, which it takes for a proxy's that may cache
// the answer for clients that do not take gzip; IIS does the same. Every
// request bespoke sent the origin carried its own Via, and every page a
// visitor got through it came uncompressed, ten times its size, edited or
// not, where nginx and httputil.ReverseProxy in front of the same origin
// pass it on compressed. A request that comes without a Via now goes to
// the origin without one, as theirs do; one that came with a Via (a CDN's
// in front) has this hop added to it.
func TestNginxOriginCompresses(t *testing.T) {
	dir := t.TempDir()
	page := "<!doctype html><html><body><ul>" + strings.Repeat(`<li class="card">an item of the shop</li>`, 500) + "</ul></body></html>"
	for name, body := range map[string]string{"page.html": page, "notes.txt": strings.Repeat("a line of plain text\n", 500)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	addr := testproc.Nginx(t, "the test of an nginx origin's compression", func(addr string) string {
		return fmt.Sprintf(`  types { text/html html; text/plain txt; }
  gzip on;
  gzip_types text/plain;
  server {
    listen %s;
    root %s;
  }`, addr, dir)
	})
	r := start(t, ruleConfig(t, "http://"+addr, edgeRules))
	for _, tt := range []struct{ path, want string }{
		{"/page.html", `class="edited"`}, // edited, and compressed again
		{"/notes.txt", "a line of plain text"},
	} {
		g := do(t, "GET", r.url+tt.path, "Accept-Encoding", "gzip")
		if g.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", tt.path, g.StatusCode)
		}
		if ce := g.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Errorf("%s: Content-Encoding %q (%d bytes), want gzip", tt.path, ce, len(g.body))
			continue
		}
		zr, err := gzip.NewReader(strings.NewReader(string(g.body)))
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %v, %.80q, want %q in it", tt.path, err, b, tt.want)
		}
	}
}
