package main

// `bespoke serve` as operators run it: the binary, built once, on
// loopback, with real clients (Go's, curl, raw TCP) and a certificate
// authority made by the test.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

var built struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// binary builds bespoke once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "bespoke-bin")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "bespoke")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// served is a running `bespoke serve`.
type served struct {
	url    string // http://127.0.0.1:port or https://...
	addr   string
	stderr *syncbuf.Buffer
	cmd    *exec.Cmd
}

var servingLine = regexp.MustCompile(`serving \d+ route\(s\) through (https?)://(\S+)`)

// stopAtCleanup interrupts cmd when the test ends, as Ctrl-C would, and
// waits for it to exit, killing it past 30 s.
func stopAtCleanup(t *testing.T, cmd *exec.Cmd) {
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// serveBinary starts `bespoke serve` with args (plus a loopback listener
// and no admin listener) and waits until it serves.
func serveBinary(t *testing.T, args ...string) *served {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "", "--cache-dir", "-", "--access-log=false"}, args...)
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{stderr: &syncbuf.Buffer{}, cmd: cmd}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, cmd)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for line := range lines {
		if m := servingLine.FindStringSubmatch(line); m != nil {
			s.url, s.addr = m[1]+"://"+m[2], m[2]
			go func() {
				for range lines {
				}
			}()
			return s
		}
	}
	t.Fatalf("bespoke serve did not start:\n%s", s.stderr)
	return nil
}

// recordingOrigin serves a page and remembers the paths it was asked for.
type recordingOrigin struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRecordingOrigin(t *testing.T) *recordingOrigin {
	o := &recordingOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		o.mu.Lock()
		o.paths = append(o.paths, r.Method+" "+r.URL.Path)
		o.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *recordingOrigin) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.paths...)
}

func writeRules(t *testing.T, rules string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const helloRules = `rules:
  - name: hello
    actions:
      - set_inner: { select: "#t", text: Bonjour }
`

const smuggling = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: chunked\r\n\r\n" +
	"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// sendRaw writes a request stream on a fresh connection and reads
// everything the server sends until it closes the connection.
func sendRaw(t *testing.T, c net.Conn, stream string) string {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, stream); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading the answer: %v (got %q)", err, b)
	}
	return string(b)
}

// TestServeRefusesSmuggling: a request with both Transfer-Encoding and
// Content-Length, or a header folded onto the next line, is refused with
// 400 and its connection closed, so the
// request hidden in its body never reaches the origin; plain and TLS.
// Honest chunked uploads and pipelined requests still work.
func TestServeRefusesSmuggling(t *testing.T) {
	origin := newRecordingOrigin(t)
	rules := writeRules(t, helloRules)
	plain := serveBinary(t, "--origin", origin.URL, "--rules", rules)

	c, err := net.Dial("tcp", plain.addr)
	if err != nil {
		t.Fatal(err)
	}
	answer := sendRaw(t, c, smuggling)
	if !strings.HasPrefix(answer, "HTTP/1.1 400 ") || strings.Count(answer, "HTTP/1.1 ") != 1 {
		t.Fatalf("answer to a smuggling attempt:\n%s", answer)
	}

	// A header folded onto the next line, which net/http joins: refused
	// as nginx refuses it, and never passed on.
	c, _ = net.Dial("tcp", plain.addr)
	answer = sendRaw(t, c, "POST /folded HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n websocket\r\nContent-Length: 0\r\n\r\n")
	if !strings.HasPrefix(answer, "HTTP/1.1 400 ") || !strings.Contains(answer, "folded") {
		t.Fatalf("answer to a folded header:\n%s", answer)
	}

	c, _ = net.Dial("tcp", plain.addr)
	honest := "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
		"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=b" +
		"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	answer = sendRaw(t, c, honest)
	if strings.Count(answer, "HTTP/1.1 200 ") != 3 {
		t.Fatalf("honest pipelined requests:\n%s", answer)
	}

	ca := newTestCA(t)
	certFile, keyFile := ca.leaf(t, t.TempDir(), "first")
	secure := serveBinary(t, "--origin", origin.URL, "--rules", rules, "--tls-cert", certFile, "--tls-key", keyFile)
	tc, err := tls.Dial("tcp", secure.addr, &tls.Config{RootCAs: ca.pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	answer = sendRaw(t, tc, smuggling)
	if !strings.HasPrefix(answer, "HTTP/1.1 400 ") || strings.Count(answer, "HTTP/1.1 ") != 1 {
		t.Fatalf("answer to a smuggling attempt over TLS:\n%s", answer)
	}

	for _, p := range origin.seen() {
		if strings.Contains(p, "smuggled") || p == "POST /" || p == "POST /folded" {
			t.Errorf("the origin was sent %s", p)
		}
	}
	if got := origin.seen(); len(got) != 3 {
		t.Errorf("the origin was sent %v, want the three honest requests", got)
	}
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bespoke test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf issues a certificate for 127.0.0.1 and localhost whose common name
// is name, and writes it and its key into dir as cert.pem and key.pem,
// each replaced at once (rename), as a certificate manager would.
func (ca *testCA) leaf(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// servedName is the common name of the certificate a new connection gets.
func servedName(t *testing.T, addr string, pool *x509.CertPool) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestServeTLS: HTTP/2 over TLS to Go's client and to curl, Secure
// cookies, TLS 1.2 at least, and a certificate replaced on disk while
// serving is the one new connections get, without a restart.
func TestServeTLS(t *testing.T) {
	origin := newRecordingOrigin(t)
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.leaf(t, dir, "first")
	s := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, helloRules+`experiments:
  - name: e
    variants: { a: 100 }
`), "--tls-cert", certFile, "--tls-key", keyFile, "--watch", "100ms")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("serving on %s", s.url)
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || !strings.Contains(string(body), "Bonjour") {
		t.Fatalf("%s %d: %q", resp.Proto, resp.StatusCode, body)
	}
	secure := false
	for _, c := range resp.Cookies() {
		secure = secure || c.Name == "bsk_vid" && c.Secure
	}
	if !secure {
		t.Errorf("no Secure visitor cookie over TLS: %q", resp.Header.Values("Set-Cookie"))
	}
	if _, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: ca.pool, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 was accepted")
	}

	if curl, err := exec.LookPath("curl"); err == nil {
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		os.WriteFile(caFile, ca.pem, 0o644)
		out, err := exec.Command(curl, "--http2", "--cacert", caFile, "-sS", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", s.url+"/").CombinedOutput()
		if err != nil || string(out) != "2 200" {
			t.Errorf("curl --http2: %q, %v", out, err)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("curl not found; CI must install it")
	} else {
		t.Log("curl is not installed (apt-get install curl): checked with Go's client only")
	}

	// Replace the certificate while serving.
	if name := servedName(t, s.addr, ca.pool); name != "first" {
		t.Fatalf("served %q", name)
	}
	ca.leaf(t, dir, "second")
	deadline := time.Now().Add(30 * time.Second)
	for servedName(t, s.addr, ca.pool) != "second" {
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate was not served:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken pair (the key of another certificate) is not loaded: the
	// last good one keeps serving.
	other := t.TempDir()
	_, strayKey := ca.leaf(t, other, "stray")
	b, _ := os.ReadFile(strayKey)
	os.WriteFile(keyFile+".tmp", b, 0o600)
	os.Rename(keyFile+".tmp", keyFile)
	for !strings.Contains(s.stderr.String(), "TLS certificate not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("the broken pair was not noticed:\n%s", s.stderr)
		}
		servedName(t, s.addr, ca.pool)
		time.Sleep(50 * time.Millisecond)
	}
	if name := servedName(t, s.addr, ca.pool); name != "second" {
		t.Errorf("after a broken pair, served %q", name)
	}
}

// TestServeH2C: with --h2c, HTTP/2 without TLS, for a load balancer.
func TestServeH2C(t *testing.T) {
	origin := newRecordingOrigin(t)
	s := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, helloRules), "--h2c")
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr}).Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || !strings.Contains(string(body), "Bonjour") {
		t.Fatalf("%s: %q", resp.Proto, body)
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "--http2-prior-knowledge", "-sS", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", s.url+"/").CombinedOutput()
		if err != nil || string(out) != "2 200" {
			t.Errorf("curl --http2-prior-knowledge: %q, %v", out, err)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("curl not found; CI must install it")
	}
	// Without --h2c, no HTTP/2 in the clear.
	plain := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, helloRules))
	if resp, err := (&http.Client{Transport: tr}).Get(plain.url + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("HTTP/2 without TLS was served without --h2c: %s", resp.Proto)
	}
}

// TestPersonalizedAgrees: `bespoke explain` and `bespoke serve` use one
// definition of a personalized page: the same verdict for each rule file
// and visitor, and what serve does with it (outcome, Cache-Control,
// X-Bespoke-Experiments).
func TestPersonalizedAgrees(t *testing.T) {
	const visitor = "AAECAwQFBgcICQoLDA0ODw"
	tests := []struct {
		name  string
		rules string
		want  bool
		// shared: the rules that changed the response read the URL
		// alone, so it is personalized but not private.
		shared bool
	}{
		{"an experiment enrols the visitor, its rule does not match", `experiments:
  - name: e
    variants: { a: 100, b: 0 }
rules:
  - name: b
    when: variant("e") == "b"
    actions:
      - set_inner: { select: "#t", text: B }
`, true, false},
		{"nothing matches", `rules:
  - name: fr
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#t", text: Bonjour }
`, false, false},
		{"an experiment whose audience excludes the visitor", `experiments:
  - name: e
    when: geo.country == "FR"
    variants: { a: 100 }
rules:
  - name: a
    when: variant("e") == "a"
    actions:
      - set_inner: { select: "#t", text: A }
`, false, false},
		{"a page edit", helloRules, true, true},
		{"a response header", `rules:
  - name: h
    actions:
      - set_header: { name: X-Hello, value: "1" }
`, true, true},
		{"a response header for a country", `rules:
  - name: h
    when: geo.country == "US"
    actions:
      - set_header: { name: X-Hello, value: "1" }
`, true, false},
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, `<html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	defer origin.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := writeRules(t, tt.rules)
			code, out, errOut := bespoke("explain", "--rules", rules, "--header", "CF-IPCountry: US", "--visitor", visitor, "--json")
			if code != 0 {
				t.Fatalf("explain: %d %s", code, errOut)
			}
			var ex struct{ Personalized bool }
			if err := json.Unmarshal([]byte(out), &ex); err != nil {
				t.Fatal(err)
			}
			s := serveBinary(t, "--origin", origin.URL, "--rules", rules, "--log-format", "json", "--access-log=true")
			req, _ := http.NewRequest("GET", s.url+"/", nil)
			req.Header.Set("CF-IPCountry", "US")
			req.AddCookie(&http.Cookie{Name: "bsk_vid", Value: visitor})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			private := strings.HasPrefix(resp.Header.Get("Cache-Control"), "private")
			outcome := ""
			for deadline := time.Now().Add(10 * time.Second); outcome == "" && time.Now().Before(deadline); {
				for _, line := range strings.Split(s.stderr.String(), "\n") {
					var l struct{ Msg, Outcome string }
					if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" {
						outcome = l.Outcome
					}
				}
				if outcome == "" {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if ex.Personalized != tt.want || private != (tt.want && !tt.shared) || (outcome == "personalized") != tt.want {
				t.Errorf("explain says personalized %v, serve answers Cache-Control %q and logs outcome %q; want personalized %v",
					ex.Personalized, resp.Header.Get("Cache-Control"), outcome, tt.want)
			}
			if exp := resp.Header.Get("X-Bespoke-Experiments"); (exp != "") != strings.Contains(tt.name, "enrols") {
				t.Errorf("X-Bespoke-Experiments %q", exp)
			}
		})
	}
}

// TestServeSignals: SIGHUP, whose default action ends a process, neither
// ends it while it starts (a reload hook run right after a start) nor
// while it drains (a log rotation's during a stop): the one sent while
// starting reloads once it serves, and the request in flight when
// SIGTERM came gets its whole body. The drain ends with status 0.
func TestServeSignals(t *testing.T) {
	page := strings.Repeat("<p>bonjour</p>\n", 2000)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/slow" {
			w.Write([]byte(page[:len(page)/2]))
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
		}
		io.WriteString(w, page[len(page)/2:])
	}))
	defer origin.Close()
	rules := writeRules(t, helloRules)
	cmd := exec.Command(binary(t), "serve", "--listen", "127.0.0.1:0", "--admin", "", "--cache-dir", "-", "--access-log=false",
		"--origin", origin.URL, "--rules", rules, "--grace", "20s")
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{})
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	// While it starts: once its first log line says serve runs (before
	// it, the process has not yet asked for any signal, and SIGHUP's
	// default action, the end, is all a process can have), over the
	// rest of its start (the rules compiled, the listener opened).
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "msg=bespoke"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log from serve:\n%s", stderr)
		}
	}
	for range 5 {
		cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(5 * time.Millisecond)
	}
	addr := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[2]
			break
		}
	}
	if addr == "" {
		t.Fatalf("bespoke serve did not start (%v):\n%s", cmd.ProcessState, stderr)
	}
	go io.Copy(io.Discard, stdout)
	// The SIGHUP sent while it started reloads once it serves.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "generation=2"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged after the SIGHUPs sent while starting:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// While it drains.
	body := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			body <- err.Error()
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			body <- err.Error()
			return
		}
		body <- string(b)
	}()
	time.Sleep(300 * time.Millisecond) // the request is in flight
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP)
	if got := <-body; got != page {
		t.Errorf("the request in flight got %d bytes of %d: %.100s", len(got), len(page), got)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Errorf("exit: %v\n%s", exitErr, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after SIGTERM:\n%s", stderr)
	}
}

// TestLogLevel: --log-level (log.level) is the least level logged. warn
// leaves out the access lines and the other info lines, keeping the
// origin's failure; debug adds the lines that were never written before
// it, such as a visitor leaving before the origin answered.
func TestLogLevel(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			<-r.Context().Done()
		case "/close":
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		}
	}))
	defer origin.Close()
	tests := []struct {
		level       string
		want, avoid []string
	}{
		{"debug", []string{`level=DEBUG msg="the visitor left before the origin answered"`, "level=INFO msg=request", `level=WARN msg="origin request failed"`}, nil},
		{"info", []string{"level=INFO msg=request", `level=WARN msg="origin request failed"`}, []string{"level=DEBUG"}},
		{"warn", []string{`level=WARN msg="origin request failed"`}, []string{"level=DEBUG", "level=INFO"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			s := serveBinary(t, "--origin", origin.URL, "--rules", writeRules(t, helloRules), "--access-log=true", "--log-level", tt.level)
			// The visitor gives up while the origin waits.
			(&http.Client{Timeout: 300 * time.Millisecond}).Get(s.url + "/slow")
			resp, err := http.Get(s.url + "/close")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d, want 502", resp.StatusCode)
			}
			// Every line is written once the process has exited.
			s.cmd.Process.Signal(os.Interrupt)
			s.cmd.Wait()
			logs := s.stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(logs, w) {
					t.Errorf("no %s in\n%s", w, logs)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(logs, a) {
					t.Errorf("%s in\n%s", a, logs)
				}
			}
		})
	}
}
