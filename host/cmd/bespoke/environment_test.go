package main

// `bespoke serve` when the machine around it misbehaves: too few file
// descriptors for its visitors.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// startLimited starts `bespoke serve` with args under prlimit's limit of
// open files, and returns its visitors' and admin listeners' addresses.
func startLimited(t *testing.T, files int, args ...string) (addr, admin string, stderr *syncbuf.Buffer) {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed: the test runs bespoke with few file descriptors")
	}
	limit := fmt.Sprintf("--nofile=%d:%d", files, files)
	base := []string{limit, binary(t), "serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}
	if !slices.Contains(args, "--config") {
		base = append(base, "--cache-dir", "-", "--access-log=false") // else the file's
	}
	args = append(base, args...)
	cmd := exec.Command(prlimit, args...)
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	stderr = &syncbuf.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, cmd)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[2]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if addr == "" {
		if strings.Contains(stderr.String(), "prlimit:") {
			t.Skipf("prlimit cannot set the limit here: %s", stderr)
		}
		t.Fatalf("bespoke serve did not start:\n%s", stderr)
	}
	adminLine := regexp.MustCompile(`msg="admin listening" addr=(\S+)`)
	waitFor(t, 20*time.Second, "the admin listener's line", func() bool {
		m := adminLine.FindStringSubmatch(stderr.String())
		if m != nil {
			admin = m[1]
		}
		return m != nil
	})
	return addr, admin, stderr
}

// flood sends visitors requests at once, each on a connection of its
// own kept open, idle, once answered (a browser's keep-alive) until every
// visitor is done, and returns how many got each status ("no answer"
// for those none answered in 20 s).
func flood(addr string, visitors int) map[string]int {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[string]int{}
		conns    []net.Conn
	)
	for range visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := "no answer"
			defer func() {
				mu.Lock()
				statuses[got]++
				mu.Unlock()
			}()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				got = "dial: " + err.Error()
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: shop\r\n\r\n"); err != nil {
				got = "write: " + err.Error()
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					got = "no answer: " + err.Error()
				}
				return
			}
			io.Copy(io.Discard, resp.Body)
			got = resp.Status
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	return statuses
}

// servesAsBefore checks that, the load gone, bespoke serves as before,
// keep-alive on again.
func servesAsBefore(t *testing.T, addr string) {
	t.Helper()
	for i := range 20 {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d after the load: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "Bonjour") {
			t.Fatalf("request %d after the load: %s %.100s", i, resp.Status, b)
		}
	}
}

// scrapeCounter returns the value of the metric line of admin's
// /metrics that series (a name and its labels) names.
func scrapeCounter(t *testing.T, admin, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in the metrics", series)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// helloOrigin is an origin of one small page.
func helloOrigin(t *testing.T) *httptest.Server {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	t.Cleanup(origin.Close)
	return origin
}

// TestServeBoundsConnections: with 64 file descriptors, 120 visitors at
// once, each keeping its connection open once answered, all get their
// page: bespoke lets in as many connections as leaves descriptors for
// the origin's (limits.max_connections, derived from ulimit -n), the
// others waiting in the listen queue while it closes its idle
// keep-alive connections. Let in up to the limit, visitors took the
// descriptors the origin's connections needed, and got 502s. It says
// at start that the bound is low, and logs the waits once a second at
// most, counting each.
func TestServeBoundsConnections(t *testing.T) {
	origin := helloOrigin(t)
	start := time.Now()
	addr, admin, stderr := startLimited(t, 64, "--origin", origin.URL, "--rules", writeRules(t, helloRules))
	const visitors = 120
	statuses := flood(addr, visitors)
	t.Logf("%d visitors at once with 64 file descriptors: %v", visitors, statuses)
	if statuses["200 OK"] != visitors {
		t.Fatalf("%d of %d visitors got their page: %v\n%s", statuses["200 OK"], visitors, statuses, stderr)
	}
	servesAsBefore(t, addr)

	waits := scrapeCounter(t, admin, "bespoke_connection_limit_waits_total")
	limit := scrapeCounter(t, admin, "bespoke_visitor_connections_limit")
	lines := strings.Count(stderr.String(), "visitors' connections at their limit")
	elapsed := time.Since(start)
	t.Logf("limit %v, waits counted: %v, logged in %d lines over %v", limit, waits, lines, elapsed.Round(time.Millisecond))
	if limit <= 0 || limit >= 32 {
		t.Errorf("bespoke_visitor_connections_limit = %v with 64 file descriptors, want under 32", limit)
	}
	if waits == 0 || lines == 0 {
		t.Errorf("the waits were not counted (%v) or not logged (%d lines):\n%s", waits, lines, stderr)
	}
	if max := int(elapsed/time.Second) + 1; lines > max {
		t.Errorf("%d lines about waits in %v, more than one a second:\n%s", lines, elapsed, stderr)
	}
	if !strings.Contains(stderr.String(), "few file descriptors") {
		t.Errorf("the start did not say the bound is low:\n%s", stderr)
	}
	if strings.Contains(stderr.String(), "accepting a visitor's connection failed") {
		t.Errorf("out of file descriptors under the bound:\n%s", stderr)
	}
}

// TestServeOutOfFileDescriptors: with 64 file descriptors and
// limits.max_connections set past them, 120 visitors at once, each
// keeping its connection open once answered, are all answered: bespoke
// closes its idle keep-alive connections while it is out of
// descriptors, so that those queued get theirs. It kept every descriptor
// for the connections it had accepted, and the visitors queued behind
// them waited, unanswered, for a keep-alive connection to time out (2
// minutes), while Go's http.Server logged each retry of the accept. Out
// of descriptors it logs once a second at most and counts each failure;
// once the load is gone it serves as before.
func TestServeOutOfFileDescriptors(t *testing.T) {
	origin := helloOrigin(t)
	conf := filepath.Join(t.TempDir(), "bespoke.yaml")
	if err := os.WriteFile(conf, []byte("cache_dir: \"-\"\nlog:\n  access: false\nlimits:\n  max_connections: 1000\nroutes:\n  - origin: "+origin.URL+"\n    rules: "+writeRules(t, helloRules)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	addr, admin, stderr := startLimited(t, 64, "--config", conf)

	const visitors = 120
	statuses := flood(addr, visitors)
	answered := 0
	for s, n := range statuses {
		if strings.HasPrefix(s, "200") || strings.HasPrefix(s, "502") {
			answered += n
		}
	}
	t.Logf("%d visitors at once with 64 file descriptors: %v", visitors, statuses)
	if answered != visitors || statuses["200 OK"] == 0 {
		t.Fatalf("%d of %d visitors answered (200, or 502 when the origin could not be dialled for want of descriptors): %v\n%s", answered, visitors, statuses, stderr)
	}
	servesAsBefore(t, addr)

	failures := scrapeCounter(t, admin, `bespoke_accept_errors_total{listener="visitors"}`)
	lines := strings.Count(stderr.String(), "accepting a visitor's connection failed")
	elapsed := time.Since(start)
	t.Logf("accept failures counted: %v, logged in %d lines over %v", failures, lines, elapsed.Round(time.Millisecond))
	if failures == 0 || lines == 0 {
		t.Errorf("the accept failures were not counted (%v) or not logged (%d lines):\n%s", failures, lines, stderr)
	}
	if max := int(elapsed/time.Second) + 1; lines > max {
		t.Errorf("%d lines about accept failures in %v, more than one a second:\n%s", lines, elapsed, stderr)
	}
}

// TestServeStoppedWhileStarting: a SIGTERM or SIGINT that comes while
// bespoke serve starts (its rules compiling) stops it once they have
// compiled, with status 0, before it listens: it went on to open its
// listeners, printed that it served, and then stopped, or, its port
// taken meanwhile, failed with status 1 on a port it was not to serve.
func TestServeStoppedWhileStarting(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer origin.Close()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal, come while the rules compiled
	var stdout, stderr syncbuf.Buffer
	err = serveContext(ctx, []string{"--origin", origin.URL, "--rules", writeRules(t, helloRules), "--listen", taken.Addr().String(),
		"--admin", "", "--cache-dir", "-"}, &stdout, &stderr)
	if err != nil {
		t.Errorf("stopped while starting: %v\n%s", err, &stderr)
	}
	if strings.Contains(stdout.String(), "serving") {
		t.Errorf("said it served: %q", &stdout)
	}
	if !strings.Contains(stderr.String(), "stopped before serving") {
		t.Errorf("did not say it stopped before serving:\n%s", &stderr)
	}
}

// bigRules is a rule file of n rules, which take a while to compile
// (20,000: about a second).
func bigRules(t *testing.T, n int) string {
	var rules strings.Builder
	rules.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&rules, "  - name: r%d\n    when: cookie(\"c%d\") == \"x\"\n    actions:\n      - set_inner: { select: \"#t\", text: T%d }\n", i, i, i)
	}
	return writeRules(t, rules.String())
}

// startCompiling starts bespoke serve on rules and returns once it runs
// (its first line logged, the signals asked for), while they compile.
func startCompiling(t *testing.T, rules string) (cmd *exec.Cmd, exited <-chan error, stdout, stderr *syncbuf.Buffer) {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(origin.Close)
	cmd = exec.Command(binary(t), "serve", "--listen", "127.0.0.1:0", "--admin", "", "--cache-dir", "-", "--origin", origin.URL, "--rules", rules)
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	stdout, stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, 20*time.Second, "serve's first line", func() bool { return strings.Contains(stderr.String(), "msg=bespoke") })
	return cmd, done, stdout, stderr
}

// TestServeSignalledWhileCompiling: the binary sent SIGTERM while it
// compiles a large rule file stops once the rules have compiled, status
// 0, without saying it serves.
func TestServeSignalledWhileCompiling(t *testing.T) {
	cmd, exited, stdout, stderr := startCompiling(t, bigRules(t, 20000))
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after SIGTERM:\n%s", stderr)
	}
	if strings.Contains(stderr.String(), "plugin loaded") && !strings.Contains(stderr.String(), "stopped before serving") {
		t.Errorf("did not say it stopped before serving:\n%s", stderr)
	}
	if strings.Contains(stdout.String(), "serving") {
		t.Errorf("said it served: %q", stdout)
	}
}

// TestServeSignalledTwice: a second SIGTERM, or SIGINT, while bespoke
// serve stops (here draining a request its origin holds, within a grace
// of 30 s) exits at once, status 1, saying so ("while stopping": sent
// while it started, the message said "while draining", with nothing to
// drain; a stop during start-up can be too quick for a test to send a
// second signal in, so the drain stands for it).
func TestServeSignalledTwice(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			held, release := make(chan struct{}, 1), make(chan struct{})
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case held <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(origin.Close)
			t.Cleanup(func() { close(release) })
			s := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, helloRules), "--grace", "30s")
			cmd, stderr, url := s.cmd, s.stderr, s.url
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			go http.Get(url + "/")
			select {
			case <-held:
			case <-time.After(10 * time.Second):
				t.Fatal("the request did not reach the origin")
			}
			cmd.Process.Signal(sig)
			waitFor(t, 10*time.Second, "the drain", func() bool { return strings.Contains(stderr.String(), "shutting down") })
			cmd.Process.Signal(sig)
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Errorf("exit: %v, want status 1\n%s", err, stderr)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("still running 20 s after two signals:\n%s", stderr)
			}
			if want := "bespoke serve: " + sig.String() + " again while stopping: exiting now"; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
		})
	}
}
