package upstream

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// startNginxOrigin starts nginx serving dir as an origin that ends its
// keep-alive connections the ways real ones do: after three requests
// (saying so, Connection: close) and after 200 ms idle (silently).
func startNginxOrigin(t *testing.T, dir string) string {
	t.Helper()
	return testproc.Nginx(t, "the test against a real origin", func(addr string) string {
		return fmt.Sprintf(`  keepalive_requests 3;
  keepalive_timeout 200ms;
  server {
    listen %s;
    root %s;
    location /chunked { return 200 "chunked"; }
  }`, addr, dir)
	})
}

// TestNginxOrigin: against nginx, which closes its keep-alive
// connections after three requests and after 200 ms idle, every request
// is answered (none meets a connection nginx closed), and the answers
// are nginx's: pages, HEAD, 304 and 206.
func TestNginxOrigin(t *testing.T) {
	dir := t.TempDir()
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shop.html"), page, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	addr := startNginxOrigin(t, dir)
	base := "http://" + addr
	tr := New(settings())
	defer tr.CloseIdleConnections()

	do := func(method, path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", method, path, err)
		}
		return resp, b
	}
	var etag string
	for i := range 20 {
		if i%6 == 5 {
			time.Sleep(300 * time.Millisecond) // nginx closes the idle connection
		}
		switch i % 4 {
		case 0, 1:
			resp, b := do("GET", "/shop.html")
			if resp.StatusCode != 200 || !bytes.Equal(b, page) {
				t.Fatalf("request %d: %s, %d bytes, want the page (%d)", i, resp.Status, len(b), len(page))
			}
			etag = resp.Header.Get("Etag")
		case 2:
			resp, b := do("HEAD", "/shop.html")
			if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(page)) {
				t.Fatalf("HEAD: %s, %d bytes, length %d", resp.Status, len(b), resp.ContentLength)
			}
		case 3:
			resp, b := do("GET", "/shop.html", "If-None-Match", etag)
			if resp.StatusCode != 304 || len(b) != 0 {
				t.Fatalf("conditional GET: %s, %d bytes", resp.Status, len(b))
			}
			resp, b = do("GET", "/shop.html", "Range", "bytes=10-19")
			if resp.StatusCode != 206 || string(b) != string(page[10:20]) {
				t.Fatalf("range: %s, %q", resp.Status, b)
			}
		}
	}
	if resp, b := do("GET", "/chunked"); string(b) != "chunked" {
		t.Fatalf("GET /chunked: %s %q", resp.Status, b)
	}
	if resp, _ := do("GET", "/missing"); resp.StatusCode != 404 {
		t.Fatalf("GET /missing: %s", resp.Status)
	}

	// Many at once, over connections nginx ends every third request.
	var wg sync.WaitGroup
	errs := make(chan string, 160)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				req, _ := http.NewRequest("GET", base+"/shop.html", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					errs <- fmt.Sprintf("%d/%d: %v", g, i, err)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(b, page) {
					errs <- fmt.Sprintf("%d/%d: %d bytes, %v", g, i, len(b), err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		t.Fatalf("%d of 160 requests failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
}
