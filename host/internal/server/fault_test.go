package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/server"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/bespoke-edge/bespoke/internal/testproc"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// faultOrigin is a TCP origin that misbehaves as told, per request path.
func faultOrigin(t *testing.T) string {
	t.Helper()
	return "http://" + testproc.Serve(t, serveFault).Addr().String()
}

func serveFault(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	page := "<html><body><h1 id=\"t\">origin page</h1>" + strings.Repeat("<p>filler</p>", 2000) + "</body></html>"
	switch req.URL.Path {
	case "/reset-mid-body":
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(page))
		io.WriteString(c, page[:len(page)/3])
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN
		}
	case "/break-early":
		// The start of a page that names no charset (held until the
		// 1024 bytes the browser's prescan reads), then a closed
		// connection.
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(page), page[:300])
	case "/break-plain":
		// Passed as it comes: 300 bytes, then a closed connection.
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(page), page[:300])
	case "/stall-headers":
		time.Sleep(3 * time.Second)
	case "/stall-body":
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(page))
		io.WriteString(c, page[:100])
		time.Sleep(3 * time.Second)
	case "/headers-200k", "/headers-300k":
		// Headers as large as a browser takes (Chrome: 256 KiB), or
		// larger.
		n := 200 << 10
		if req.URL.Path == "/headers-300k" {
			n = 300 << 10
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Big: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", strings.Repeat("x", n), len(page), page)
	case "/garbage":
		io.WriteString(c, "HTTP/9.9 banana\r\n\x00\x01\x02 not http at all\r\n\r\n")
	default:
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(page), page)
	}
}

func faultConfig(t *testing.T, origin string) *config.Config {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	os.WriteFile(path, []byte("rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#t\", text: personalized }\n"), 0o644)
	access := false
	cfg := &config.Config{
		CacheDir: "-",
		Log:      config.Log{Access: &access},
		Seen:     config.Seen{Store: "off"},
		Routes:   []config.Route{{Name: "fault", Origin: origin, Rules: path}},
	}
	cfg.Limits.Upstream.ResponseHeaderTimeout = config.Duration(time.Second)
	return cfg
}

func TestOriginFaults(t *testing.T) {
	r := start(t, faultConfig(t, faultOrigin(t)))
	client := &http.Client{Timeout: 10 * time.Second}
	tests := []struct {
		path    string
		status  int
		within  time.Duration
		bodyErr bool // the body is cut short: the visitor sees a broken transfer, not a wrong page
	}{
		{"/", 200, time.Second, false},
		{"/stall-headers", 504, 2500 * time.Millisecond, false},
		{"/garbage", 502, time.Second, false},
		{"/headers-200k", 200, time.Second, false},
		{"/headers-300k", 502, time.Second, false},
		{"/reset-mid-body", 200, 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			resp, err := client.Get(r.url + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			_, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if took > tt.within {
				t.Errorf("took %v, want under %v", took, tt.within)
			}
			if tt.bodyErr != (rerr != nil) {
				t.Errorf("body error %v, want error: %v", rerr, tt.bodyErr)
			}
		})
	}
	// The origin refuses connections.
	r2 := start(t, faultConfig(t, "http://"+testproc.RefusedAddr(t)))
	resp, err := client.Get(r2.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("refused origin: status %d, want 502", resp.StatusCode)
	}
	// The process survived all of it.
	if resp, err := client.Get(r.url + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the faults: %v", err)
	}
}

// TestOriginBreaksOffAccessLog: what the access log says of an origin
// that breaks off is what the visitor got, on the wire. Before any of
// the response went, a 502 (logged status=502, its bytes, as an origin
// failure); after, the status and the bytes sent, all of which the
// visitor gets before the connection closes, as aborted.
func TestOriginBreaksOffAccessLog(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	access := true
	cfg.Log.Access = &access
	var logs syncbuf.Buffer
	r := startWithLog(t, cfg, &logs)
	for _, c := range []struct {
		path, status, outcome string
	}{
		{"/break-early", "502", "upstream_error"},
		{"/reset-mid-body", "200", "aborted"},
		{"/break-plain", "200", "aborted"},
	} {
		t.Run(c.path, func(t *testing.T) {
			// As curl does: one request on a connection of its own, and
			// whatever comes back until it closes.
			conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n", c.path)
			wire, _ := io.ReadAll(conn)
			if len(wire) == 0 {
				t.Fatal("an empty reply")
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), nil)
			if err != nil {
				t.Fatalf("%v: %q", err, wire)
			}
			body, berr := io.ReadAll(resp.Body)
			if got := strconv.Itoa(resp.StatusCode); got != c.status {
				t.Fatalf("status %s, want %s", got, c.status)
			}
			if c.status == "200" && berr == nil {
				t.Fatalf("the body came whole (%d bytes); want it cut", len(body))
			}
			if c.status == "502" && (berr != nil || !strings.Contains(string(body), "the origin broke off its response")) {
				t.Fatalf("the 502's body: %q, %v", body, berr)
			}
			line := regexp.MustCompile(`msg=request route=fault method=GET path=` + c.path + ` status=(\d+) .*outcome=(\S+).* bytes=(\d+)`)
			var m []string
			for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				m = line.FindStringSubmatch(logs.String())
			}
			if m == nil {
				t.Fatalf("no access line:\n%s", logs.String())
			}
			if m[1] != c.status || m[2] != c.outcome || m[3] != strconv.Itoa(len(body)) {
				t.Errorf("logged status=%s outcome=%s bytes=%s; the visitor got %s, %d bytes of the body (want outcome %s):\n%s",
					m[1], m[2], m[3], c.status, len(body), c.outcome, logs.String())
			}
		})
	}
}

// TestSlowloris: a visitor sending headers a byte at a time is cut off by
// the read-header timeout, and does not hold up others.
func TestSlowloris(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	cfg.Limits.ReadHeader = config.Duration(500 * time.Millisecond)
	r := start(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closedAt := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") {
			if _, err := c.Write([]byte{b}); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		buf := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(buf)
		closedAt <- time.Since(start)
	}()
	if resp, err := http.Get(r.url + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("another visitor was held up: %v", err)
	}
	if d := <-closedAt; d > 3*time.Second {
		t.Fatalf("the slow connection stayed open %v", d)
	}
}

// TestBadRequestInput: oversized headers are refused with 431, an
// oversized URL with 414, and broken
// cookies or invalid UTF-8 in headers are ignored: the page is served.
func TestBadRequestInput(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	cfg.Limits.MaxHeaderBytes = 16 << 10
	r := start(t, cfg)
	get := func(header, value string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", r.url+"/", nil)
		req.Header.Set(header, value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("Cookie", "big="+strings.Repeat("x", 64<<10)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB cookie: status %d, want 431", got)
	}
	// The limit is the one configured: net/http reads 4 KiB more.
	if got := get("Cookie", "big="+strings.Repeat("x", 16<<10+1024)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a head 1 KiB over the limit: status %d, want 431", got)
	}
	if got := get("Cookie", "big="+strings.Repeat("x", 16<<10-1024)); got != http.StatusOK {
		t.Errorf("a head 1 KiB under the limit: status %d, want 200", got)
	}
	// A request-target that alone takes the head past the limit is URI
	// Too Long (RFC 9112 3); past twice the limit net/http answers 431
	// before any handler runs.
	getPath := func(path string) int {
		t.Helper()
		resp, err := http.Get(r.url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := getPath("/?q=" + strings.Repeat("x", 16<<10+1024)); got != http.StatusRequestURITooLong {
		t.Errorf("a URL 1 KiB over the limit: status %d, want 414", got)
	}
	if got := getPath("/" + strings.Repeat("x", 30<<10)); got != http.StatusRequestURITooLong {
		t.Errorf("a URL of 30 KiB: status %d, want 414", got)
	}
	if got := getPath("/?q=" + strings.Repeat("x", 16<<10-1024)); got != http.StatusOK {
		t.Errorf("a URL 1 KiB under the limit: status %d, want 200", got)
	}
	if got := get("Cookie", "big="+strings.Repeat("x", 30<<10)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 30 KiB cookie: status %d, want 431", got)
	}
	for _, tc := range [][2]string{
		{"Cookie", "bsk_vid=\xff\xfe; bsk_seen=%%%; =; ;;; a"},
		{"Accept-Language", "\xff\xfe;q=abc, ,;;"},
		{"User-Agent", "Mozilla/5.0 \xc3\x28 (invalid UTF-8)"},
		{"CF-IPCountry", "\xe2\x82"},
		{"Sec-CH-UA", `"unterminated`},
	} {
		if got := get(tc[0], tc[1]); got != http.StatusOK {
			t.Errorf("%s: %q: status %d, want 200", tc[0], tc[1], got)
		}
	}
}

// TestBrokenHTTP2ClientsLogBounded: what net/http logs of a visitor's
// connection (an HTTP/2 client that breaks the protocol: a frame on a
// stream it may not use) is a line per connection, written before any
// handler runs; a flood of such clients wrote one each, unbounded. They
// are logged as the proxy's warnings are, a few in a period, the rest
// counted in the next line's left_out.
func TestBrokenHTTP2ClientsLogBounded(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	cfg.H2C = true
	var logs syncbuf.Buffer
	r := startWithLog(t, cfg, &logs)
	addr := strings.TrimPrefix(r.url, "http://")
	// The client preface, an empty SETTINGS frame, then a DATA frame on
	// stream 0: a connection error (RFC 9113 6.1).
	broken := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
		"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	const conns = 40
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, broken)
		// Up to the server's GOAWAY, written after its log line.
		for head := make([]byte, 9); ; {
			if _, err := io.ReadFull(c, head); err != nil {
				t.Fatalf("no GOAWAY: %v", err)
			}
			io.CopyN(io.Discard, c, int64(head[0])<<16|int64(head[1])<<8|int64(head[2]))
			if head[3] == 0x7 {
				break
			}
		}
		c.Close()
	}
	n := strings.Count(logs.String(), "server connection error")
	if n == 0 || n > 10 {
		t.Errorf("%d lines for %d broken connections, want 1 to 10:\n%s", n, conns, &logs)
	}
}

// misbehavingPlugin writes a hand-made plugin whose decision fails.
func misbehavingPlugin(t *testing.T, body *wasm.Code) string {
	t.Helper()
	b, err := guest.Build(guest.Module{
		Manifest: plugin.Manifest{Compiler: "hand-written", Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}},
		Decide:   body,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(path, b, 0o644)
	return path
}

// TestMisbehavingPlugins: a plugin that traps, loops or exhausts its
// memory never costs the visitor the page, and is counted.
func TestMisbehavingPlugins(t *testing.T) {
	for name, body := range map[string]*wasm.Code{
		"trap":   guest.Trap(),
		"loop":   guest.Loop(),
		"memory": guest.GrowMemory(),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := faultConfig(t, faultOrigin(t))
			cfg.Routes[0].Rules = ""
			cfg.Routes[0].Plugin = misbehavingPlugin(t, body)
			cfg.Limits.DecideTimeout = durationOf(20 * time.Millisecond)
			cfg.Limits.MemoryPages = 32
			r := start(t, cfg)
			for range 3 {
				start := time.Now()
				resp, err := http.Get(r.url + "/")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), "origin page") {
					t.Fatalf("status %d: the original page was not served", resp.StatusCode)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("took %v", d)
				}
			}
			// A request is counted once its handler returns, which can be
			// just after the visitor has the page.
			m := scrapeUntil(t, r.admin, `bespoke_requests_total{outcome="fail_open",route="fault"} 3`)
			if !strings.Contains(m, `bespoke_requests_total{outcome="fail_open",route="fault"} 3`) {
				t.Errorf("fail-open not counted:\n%s", grep(m, "bespoke_requests_total"))
			}
			if !strings.Contains(m, `bespoke_plugin_failures_total{reason=`) {
				t.Errorf("plugin failure not counted:\n%s", grep(m, "bespoke_plugin_failures"))
			}
		})
	}
}

// TestVisitorLeavesWhileDeciding: a visitor who leaves while a plugin
// decides (one that loops until its deadline) is counted as aborted, as
// one who leaves before the origin answers is, not as the plugin's
// failure: the plugin did nothing wrong that a dashboard should page for.
func TestVisitorLeavesWhileDeciding(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	cfg.Routes[0].Rules = ""
	cfg.Routes[0].Plugin = misbehavingPlugin(t, guest.Loop())
	cfg.Limits.DecideTimeout = durationOf(2 * time.Second)
	r := start(t, cfg)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", r.url+"/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("got %d before the plugin's deadline", resp.StatusCode)
		}
		cancel()
	}
	m := scrapeUntil(t, r.admin, `bespoke_requests_total{outcome="aborted",route="fault"} 3`)
	if !strings.Contains(m, `bespoke_requests_total{outcome="aborted",route="fault"} 3`) {
		t.Errorf("the visitors who left are not counted as aborted:\n%s", grep(m, "bespoke_requests_total"))
	}
	for l := range strings.Lines(grep(m, "bespoke_plugin_failures_total{")) {
		if !strings.HasSuffix(strings.TrimSpace(l), " 0") {
			t.Errorf("counted as a plugin failure: %s", l)
		}
	}
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sample returns the value of the series named (with its labels) in the
// scraped metrics m, or -1 when it is not there.
func sample(m, series string) float64 {
	for line := range strings.Lines(m) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// scrapeUntil scrapes until the metrics contain want, for at most a second.
func scrapeUntil(t *testing.T, admin, want string) string {
	t.Helper()
	var m string
	for range 50 {
		if m = scrape(t, admin); strings.Contains(m, want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsAndHealth scrapes /metrics and checks the counters move.
func TestMetricsAndHealth(t *testing.T) {
	cfg, _ := demoConfig(t, generationRules(1))
	r := start(t, cfg)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(r.admin + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	before := scrape(t, r.admin)
	for _, cc := range []string{"FR", "US", "FR"} {
		req, _ := http.NewRequest("GET", r.url+"/", nil)
		req.Header.Set("CF-IPCountry", cc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	after := scrapeUntil(t, r.admin, `bespoke_requests_total{outcome="personalized",route="demo"} 3`)
	for _, want := range []string{
		`bespoke_requests_total{outcome="personalized",route="demo"} 3`,
		`bespoke_reloads_total{result="ok",route="demo"} 1`,
		`bespoke_plugin_generation{route="demo"} 1`,
		`bespoke_decide_duration_seconds_count{route="demo"} 3`,
		`bespoke_pool_instances{route="demo"}`,
		`bespoke_rewrite_bytes_total{kind="html",route="demo"}`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(before, `bespoke_requests_total{outcome="personalized",route="demo"} 3`) {
		t.Error("counters did not start from zero")
	}
	// The three pages came over the origin pool: at least two of them on
	// a connection kept from an earlier one.
	if dials, reuses := sample(after, `bespoke_origin_dials_total{route="demo"}`), sample(after, `bespoke_origin_reuses_total{route="demo"}`); dials < 1 || reuses < 2 || !strings.Contains(after, `bespoke_origin_idle_connections{route="demo"}`) {
		t.Errorf("origin pool metrics: %v dials, %v reuses", dials, reuses)
	}
	resp, _ := http.Get(r.admin + "/_bespoke/status")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"generation": 1`) {
		t.Errorf("status: %s", b)
	}
}

// TestGracefulShutdown: a request in flight when the server stops
// completes, whole and rewritten, while new connections are refused and
// the admin listener says the process is alive and not ready. The
// origin holds the end of the page until the server has stopped
// accepting, so the request is in flight for the whole shutdown.
func TestGracefulShutdown(t *testing.T) {
	sent := make(chan struct{})
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<html><body><h1 id="t">origin page</h1>`)
		w.(http.Flusher).Flush()
		close(sent)
		<-release
		io.WriteString(w, `<p id="tail">the end</p></body></html>`)
	}))
	defer origin.Close()
	cfg := faultConfig(t, origin.URL)
	// Far above what the request needs: shutdown must wait for it, not
	// give up on it.
	cfg.ShutdownGrace = durationOf(time.Minute)
	r := start(t, cfg)
	resp, err := http.Get(r.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-sent
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	// Shutdown has begun once the listener refuses connections.
	addr := strings.TrimPrefix(r.url, "http://")
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
	}
	select {
	case <-stopped:
		t.Fatal("the server stopped while a request was in flight")
	default:
	}
	// Meanwhile the admin listener answers: alive, not ready.
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusServiceUnavailable} {
		resp, err := http.Get(r.admin + path)
		if err != nil {
			t.Fatalf("%s while draining: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s while draining: %d, want %d", path, resp.StatusCode, want)
		}
	}
	close(release)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the request in flight was cut: %v", err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != `<html><body><h1 id="t">personalized</h1><p id="tail">the end</p></body></html>` {
		t.Fatalf("the request in flight got %d %q", resp.StatusCode, body)
	}
	<-stopped
	if _, err := http.Get(r.url + "/"); err == nil {
		t.Fatal("the server still accepts after shutdown")
	}
}

// TestVisitorsWhoNeverRead: with one origin connection allowed, a visitor
// who asks for a large body and never reads holds it only until a write
// to them waits send_timeout; the next visitor then gets the origin.
// Without a send timeout, the next visitor's wait for a connection ends
// at the response header timeout, with a 504, counted. It used to wait
// for as long as the first visitor stayed, and every visitor with it.
func TestVisitorsWhoNeverRead(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB: more than the sockets hold
	var asked atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.URL.Path == "/big" {
			asked.Add(1)
			w.Write(big)
			return
		}
		io.WriteString(w, "small")
	}))
	defer origin.Close()
	for _, tt := range []struct {
		name   string
		send   time.Duration
		status int
	}{
		{"a send timeout frees the connection", 300 * time.Millisecond, http.StatusOK},
		{"the wait for a connection ends at the response header timeout", time.Hour, http.StatusGatewayTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := faultConfig(t, origin.URL)
			cfg.Limits.SendTimeout = config.Duration(tt.send)
			cfg.Limits.Upstream.MaxConnsPerHost = 1
			cfg.Limits.Upstream.ResponseHeaderTimeout = config.Duration(2 * time.Second)
			r := start(t, cfg)
			addr := strings.TrimPrefix(r.url, "http://")
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			before := asked.Load()
			fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			// Its response is on its way, and stuck, before the next asks.
			for deadline := time.Now().Add(10 * time.Second); asked.Load() == before && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			}
			time.Sleep(200 * time.Millisecond)
			client := &http.Client{Timeout: 30 * time.Second}
			resp, err := client.Get(r.url + "/small")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("the next visitor got %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

// TestSendTimeoutOverHTTP2: over HTTP/2 (h2c), an event stream whose
// pauses are shorter than send_timeout, but add up to more, goes on: a
// stream's deadline resets it when it passes, written to or not, and one
// left standing between writes cut such streams. A request with headers
// under max_header_bytes is served: HTTP/2 takes the limit as it is.
func TestSendTimeoutOverHTTP2(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			if i > 0 {
				time.Sleep(350 * time.Millisecond)
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	}))
	defer origin.Close()
	cfg := faultConfig(t, origin.URL)
	cfg.H2C = true
	cfg.Limits.SendTimeout = config.Duration(500 * time.Millisecond)
	r := start(t, cfg)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := client.Get(r.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || err != nil || strings.Count(string(body), "data:") != 3 {
		t.Fatalf("%s: %d events, %v: %q", resp.Proto, strings.Count(string(body), "data:"), err, body)
	}
	req, _ := http.NewRequest("GET", r.url+"/", nil)
	req.Header.Set("Cookie", "big="+strings.Repeat("x", 60<<10))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("60 KiB of headers over HTTP/2: %d", resp.StatusCode)
	}
}

// TestSendTimeoutOfALongResponse: over HTTP/1.1, a response that streams
// for longer than send_timeout, each write well within it, reaches the
// visitor whole, its end included (the end's deadline was counted from
// the handler's start, and the last bytes and the chunked terminator
// were cut).
func TestSendTimeoutOfALongResponse(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><body>")
		for i := range 6 {
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(w, "<p>part %d</p>", i)
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "</body></html>")
	}))
	defer origin.Close()
	cfg := faultConfig(t, origin.URL)
	cfg.Limits.SendTimeout = config.Duration(300 * time.Millisecond)
	r := start(t, cfg)
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(r.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(body), "</body></html>") {
		t.Fatalf("%v: %q", err, body)
	}
}

// TestSendTimeoutBetweenRequests: on a connection kept alive longer than
// send_timeout between two requests, what net/http writes on its own for
// the second (a 100 Continue before the body is read, a 400 for a
// request it cannot parse) reaches the visitor, although the deadline
// set for the end of the first response has passed: net/http clears it
// once that end is written (were it left, those writes would fail and
// the visitor see the connection close).
func TestSendTimeoutBetweenRequests(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "got %q", body)
	}))
	defer origin.Close()
	cfg := faultConfig(t, origin.URL)
	cfg.Limits.SendTimeout = config.Duration(200 * time.Millisecond)
	r := start(t, cfg)
	addr := strings.TrimPrefix(r.url, "http://")
	for _, tt := range []struct {
		name, second string
		body         string // sent once the 100 Continue came
		want         []string
	}{
		{"a 100 Continue", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "hello",
			[]string{"HTTP/1.1 100 Continue", "HTTP/1.1 200 OK", `got "hello"`}},
		{"a 400", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: five\r\n\r\n", "",
			[]string{"HTTP/1.1 400 Bad Request"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			time.Sleep(400 * time.Millisecond) // twice the send timeout, idle
			io.WriteString(c, tt.second)
			var got bytes.Buffer
			if tt.body != "" {
				line, err := br.ReadString('\n')
				got.WriteString(line)
				if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
					t.Fatalf("no 100 Continue: %q, %v", line, err)
				}
				io.WriteString(c, tt.body)
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			rest, _ := io.ReadAll(br)
			got.Write(rest)
			for _, w := range tt.want {
				if !strings.Contains(got.String(), w) {
					t.Errorf("the second request's answer lacks %q: %q", w, got.String())
				}
			}
		})
	}
}

// TestShutdownGraceRunsOut: when the grace runs out, the log says what
// was cut: requests in flight, or, when none was, connections still
// open (one that never sent a request holds Shutdown up too). A grace of
// 0 is none: they are cut at once (it was taken for the default, 10s).
func TestShutdownGraceRunsOut(t *testing.T) {
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer origin.Close()
	defer close(release)
	for _, c := range []struct {
		name, want string
		request    bool
		grace      time.Duration
	}{
		{"a request in flight", "requests still in flight were cut", true, 300 * time.Millisecond},
		{"a connection whose request never came whole", "connections still open were closed, with no request in flight", false, 300 * time.Millisecond},
		{"a request in flight, no grace", "requests still in flight were cut", true, 0},
		{"a connection whose request never came whole, no grace", "connections still open were closed, with no request in flight", false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := faultConfig(t, origin.URL)
			cfg.ShutdownGrace = durationOf(c.grace)
			cfg.Defaults()
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			srv, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			aln, _ := net.Listen("tcp", "127.0.0.1:0")
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, ln, aln) }()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if c.request {
				io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				buf := make([]byte, 1)
				conn.Read(buf) // the response has begun
			} else {
				// A request begun and never finished: the connection is
				// active, and no handler runs.
				io.WriteString(conn, "GET / HT")
				time.Sleep(200 * time.Millisecond)
			}
			began := time.Now()
			cancel()
			<-done
			// Well short of the default grace, under the race detector too.
			if took := time.Since(began); took > c.grace+3*time.Second {
				t.Errorf("shutdown took %v with a grace of %v", took, c.grace)
			}
			if !strings.Contains(logs.String(), c.want) {
				t.Errorf("the log lacks %q:\n%s", c.want, logs.String())
			}
		})
	}
}

// TestStreamsCutAtShutdownAreLogged: HTTP/2 streams still running when
// the grace runs out are cut, and each has its access line (outcome
// aborted, the bytes sent) before the server says it stopped: the process
// exits then, and a line written after it was lost.
func TestStreamsCutAtShutdownAreLogged(t *testing.T) {
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer origin.Close()
	defer close(release)
	cfg := faultConfig(t, origin.URL)
	cfg.H2C = true
	access := true
	cfg.Log.Access = &access
	cfg.ShutdownGrace = durationOf(100 * time.Millisecond)
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil) }()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	const streams = 3
	for i := range streams {
		resp, err := client.Get(fmt.Sprintf("http://%s/stream%d", ln.Addr(), i))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 1)
		if _, err := resp.Body.Read(buf); err != nil || resp.ProtoMajor != 2 {
			t.Fatalf("%s: %v", resp.Proto, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	stopped := strings.Index(out, "msg=stopped")
	if stopped < 0 {
		t.Fatalf("no msg=stopped:\n%s", out)
	}
	for i := range streams {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "msg=request") && strings.Contains(l, fmt.Sprintf("path=/stream%d ", i)) {
				line = l
			}
		}
		if !strings.Contains(line, "outcome=aborted") || !strings.Contains(line, "bytes=7") {
			t.Errorf("stream %d: access line %q", i, line)
		} else if at := strings.Index(out, line); at > stopped {
			t.Errorf("stream %d: access line after msg=stopped:\n%s", i, out)
		}
	}
}

// TestHeaderLimitsOverHTTP2: over HTTP/2 a head past max_header_bytes is
// answered as over HTTP/1 (414 for the URL, else 431), up to twice the
// limit, the bound advertised as SETTINGS_MAX_HEADER_LIST_SIZE; past it
// net/http closes the connection (GOAWAY: PROTOCOL_ERROR or
// COMPRESSION_ERROR) before any handler runs, with no status, and a new
// connection is served.
func TestHeaderLimitsOverHTTP2(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	cfg.H2C = true
	cfg.Limits.MaxHeaderBytes = 16 << 10
	r := start(t, cfg)
	get := func(path string, headers int) (int, error) {
		t.Helper()
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", r.url+path, nil)
		for i := range headers {
			req.Header.Set(fmt.Sprintf("X-H%d", i), strings.Repeat("v", 1000))
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s", resp.Proto)
		}
		return resp.StatusCode, nil
	}
	for _, c := range []struct {
		name    string
		path    string
		headers int
		want    int
	}{
		{"under the limit", "/", 12, http.StatusOK},
		{"headers 1 KiB over the limit", "/", 18, http.StatusRequestHeaderFieldsTooLarge},
		{"a URL 1 KiB over the limit", "/?q=" + strings.Repeat("x", 16<<10+1024), 0, http.StatusRequestURITooLong},
		{"headers past twice the limit", "/", 40, 0},
		{"under the limit again", "/", 12, http.StatusOK},
	} {
		got, err := get(c.path, c.headers)
		if c.want == 0 {
			// (Go's client, once it has the server's settings, refuses
			// to send it at all, as curl does.)
			if err == nil {
				t.Errorf("%s: status %d; want the connection closed", c.name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: status %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

// TestLongPollWaitsOnTheHeaderTimeout: a long poll whose origin holds
// its response until it has news sends no headers meanwhile: the wait
// is bounded by limits.upstream.response_header_timeout, not by
// read_timeout, which bounds silences once the headers came. So the
// operator of a long poll raises the one OPERATIONS names for it.
func TestLongPollWaitsOnTheHeaderTimeout(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"news":1}`)
	}))
	t.Cleanup(origin.Close)
	for _, c := range []struct {
		name           string
		header, silent time.Duration
		status         int
	}{
		{"a read timeout past the hold does not keep it", time.Second, 30 * time.Second, http.StatusGatewayTimeout},
		{"a header timeout past the hold keeps it", 5 * time.Second, time.Second, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := faultConfig(t, origin.URL)
			cfg.Limits.Upstream.ResponseHeaderTimeout = config.Duration(c.header)
			cfg.Limits.Upstream.ReadTimeout = config.Duration(c.silent)
			r := start(t, cfg)
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(r.url + "/poll")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
}
