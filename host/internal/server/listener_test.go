package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// failingListener fails its first Accepts with err, then accepts.
type failingListener struct {
	net.Listener
	fails atomic.Int32
	err   error
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, l.err
	}
	return l.Listener.Accept()
}

// TestTLSListenerOutlivesAcceptErrors: with TLS, an accept that fails
// with EMFILE (the process out of file descriptors, for a moment) is
// retried, and the next visitor is served; it ended the accepting
// goroutine, and the listener accepted no one again while /readyz said
// ready.
func TestTLSListenerOutlivesAcceptErrors(t *testing.T) {
	cfg := testTLSConfig(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: raw, err: &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}}
	fl.fails.Store(3)
	l := newVisitorListener(fl, cfg, 5*time.Second, nil, slog.New(slog.DiscardHandler))
	defer l.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	go func() {
		c, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
		}
	}()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no connection was accepted after the accept errors")
	}
}

// TestPlainHTTPToTheTLSPort: a plain HTTP request to the TLS listener is
// answered 400, saying why, as net/http's and nginx's are.
func TestPlainHTTPToTheTLSPort(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newVisitorListener(raw, testTLSConfig(t), 5*time.Second, nil, slog.New(slog.DiscardHandler))
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// The request line's target in absolute form (a client that takes
	// the port for a proxy's, a health check that names the URL) too.
	for _, request := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"PUT http://x/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, request)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("%q: %v", request, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("%q: %d %q", request, resp.StatusCode, body)
		}
	}
}

func testTLSConfig(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// TestAdminListenerOutlivesAcceptErrors: the admin listener out of file
// descriptors (a scrape while visitors take every one) retries its
// accepts, and logs so through the server's log, in its format, once a
// second at most, each counted: Go's http.Server logged each retry
// through the standard logger, a line of its own format ("2026/12/07
// 04:49:37 http: Accept error: …") in a log of JSON.
func TestAdminListenerOutlivesAcceptErrors(t *testing.T) {
	var std syncbuf.Buffer
	log.SetOutput(&std)
	defer log.SetOutput(os.Stderr)
	access := false
	cfg := &config.Config{CacheDir: "-", Admin: new(string), Log: config.Log{Access: &access}, Seen: config.Seen{Store: "off"},
		Routes: []config.Route{{Name: "r", Origin: "http://127.0.0.1:1"}}}
	cfg.Defaults()
	var logs syncbuf.Buffer
	s, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Secret: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn := &failingListener{Listener: raw, err: &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}}
	adminLn.fails.Store(6)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, adminLn) }()
	defer func() {
		cancel()
		<-served
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + raw.Addr().String() + "/metrics")
	if err != nil {
		t.Fatalf("the admin API after its accept errors: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `bespoke_accept_errors_total{listener="admin"} 6`) {
		t.Errorf("the accept errors were not counted:\n%s", grepLines(string(b), "bespoke_accept_errors_total"))
	}
	if std.String() != "" {
		t.Errorf("logged through the standard logger, not the server's:\n%s", &std)
	}
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a line of the log is not JSON: %q", line)
		}
		if strings.HasPrefix(fmt.Sprint(rec["msg"]), "accepting an admin connection failed") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d lines about the admin listener's accept errors, want 1:\n%s", lines, &logs)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
