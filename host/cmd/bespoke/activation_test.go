package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// TestRestartOnPassedSocket: bespoke serve on a socket a service manager
// holds (systemd's socket activation; here the test holds it) is stopped
// and started again under load, as `systemctl restart` does with a
// .socket unit, the second process with other rules: no request fails,
// for those sent while neither process accepts wait in the socket's
// queue, and each answer comes whole from one process or the other.
func TestRestartOnPassedSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bespoke serve twice under load")
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><body><h1 id="t">Hello</h1><p>`+strings.Repeat("page ", 2000)+`</p></body></html>`)
	}))
	t.Cleanup(origin.Close)
	sock, addr := passedSocket(t)
	start := func(greeting string) (*exec.Cmd, *syncbuf.Buffer) {
		rules := writeRules(t, strings.ReplaceAll(helloRules, "Bonjour", greeting))
		return startActivated(t, []*os.File{sock}, "visitors",
			"serve", "--admin", "", "--cache-dir", "-", "--access-log=false", "--origin", origin.URL, "--rules", rules)
	}
	stop := func(cmd *exec.Cmd, out *syncbuf.Buffer) {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("bespoke serve exited with %v:\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("bespoke serve did not stop:\n%s", out)
		}
	}

	var (
		counts   sync.Map // greeting → *atomic.Int64
		failures atomic.Int64
		failed   sync.Once
		firstErr string
		halt     = make(chan struct{})
		wg       sync.WaitGroup
	)
	count := func(g string) int64 {
		v, _ := counts.LoadOrStore(g, new(atomic.Int64))
		return v.(*atomic.Int64).Load()
	}
	url := "http://" + addr + "/"
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A request made while no process serves waits in the
			// passed socket's queue for the next one to start: its
			// rules compile, which on a loaded machine (the race
			// detector's tests of other packages beside) took more
			// than 20 s.
			client := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for n := 0; n < 20000; n++ {
				select {
				case <-halt:
					return
				default:
				}
				resp, err := client.Get(url)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = &statusError{resp.StatusCode}
					}
				}
				greeting := ""
				for _, g := range []string{"Bonjour", "Hola"} {
					if strings.Contains(string(body), `<h1 id="t">`+g+`</h1>`) {
						greeting = g
					}
				}
				if err == nil && (greeting == "" || !strings.HasSuffix(string(body), "</html>")) {
					err = io.ErrUnexpectedEOF
				}
				if err != nil {
					failures.Add(1)
					failed.Do(func() { firstErr = err.Error() })
					continue
				}
				v, _ := counts.LoadOrStore(greeting, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}()
	}
	waitFor := func(g string, n int64) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for count(g) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d answers with %s after 90 s, want %d (%d failed)", count(g), g, n, failures.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	first, out1 := start("Bonjour")
	waitFor("Bonjour", 50)
	stop(first, out1)
	second, out2 := start("Hola")
	waitFor("Hola", 50)
	close(halt)
	wg.Wait()
	stop(second, out2)

	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed across the restart (the first: %s)", n, firstErr)
	}
	t.Logf("answered: %d by the first process, %d by the second", count("Bonjour"), count("Hola"))
	if !strings.Contains(out2.String(), "listening on the sockets the service manager passed") {
		t.Errorf("the second process did not say it took the passed socket:\n%s", out2)
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// passedSocket opens a listening socket on loopback as a service manager
// would, to pass to bespoke: its file and its address.
func passedSocket(t *testing.T) (*os.File, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, ln.Addr().String()
}

// startActivated starts bespoke with args, passed the sockets as systemd
// passes them (LISTEN_FDS, LISTEN_FDNAMES names, colon-separated), its
// output in the buffer returned; it is killed when the test ends.
func startActivated(t *testing.T, socks []*os.File, names string, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	// The shell's pid is the one bespoke runs as once it execs, as
	// LISTEN_PID must name.
	cmd := exec.Command("sh", append([]string{"-c", fmt.Sprintf(`LISTEN_PID=$$ LISTEN_FDS=%d LISTEN_FDNAMES=%s exec "$0" "$@"`, len(socks), names), binary(t)}, args...)...)
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	cmd.ExtraFiles = socks
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, out
}
