package upstream

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startNginxOrigin starts nginx serving dir as an origin that ends its
// keep-alive connections the ways real ones do: after three requests
// (saying so, Connection: close) and after 200 ms idle (silently).
func startNginxOrigin(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("nginx is not installed; CI must install it (.ci/run)")
			}
			t.Skip("nginx is not installed (apt-get install nginx): the test against a real origin cannot run")
		}
	}
	run := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
%[4]s
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 3;
  keepalive_timeout 200ms;
  server {
    listen %[2]s;
    root %[3]s;
    location /chunked { return 200 "chunked"; }
  }
}
`, run, addr, dir, user)
	confPath := filepath.Join(run, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", run, "-c", confPath, "-e", filepath.Join(run, "error.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(run, "error.log"))
			t.Fatalf("nginx exited:\n%s\n%s", out.String(), log)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatal("nginx did not start listening")
	return ""
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
