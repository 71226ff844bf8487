package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawOrigin is an origin that answers each request with what script
// returns for it (i counts the requests of its connection, from 0), as
// raw bytes; close ends the connection after them, and an empty answer
// closes it without one. It counts its connections.
type rawOrigin struct {
	addr  string
	conns atomic.Int32
}

type script func(req *http.Request, conn, i int) (answer string, close bool)

func startRaw(t testing.TB, s script) *rawOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{addr: ln.Addr().String()}
	var accepting, wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	// The origin's end closes its connections itself: a client's pool may
	// keep one idle after the test (http.Transport hands a connection back
	// to its pool on a goroutine of its own, after the body's end, and
	// dials ahead of need).
	t.Cleanup(func() {
		ln.Close()
		accepting.Wait()
		mu.Lock()
		for nc := range open {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	accepting.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[nc] = true
			mu.Unlock()
			n := int(o.conns.Add(1)) - 1
			wg.Go(func() {
				defer func() {
					nc.Close()
					mu.Lock()
					delete(open, nc)
					mu.Unlock()
				}()
				br := bufio.NewReader(nc)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					answer, done := s(req, n, i)
					if answer == "" {
						return
					}
					if _, err := io.WriteString(nc, answer); err != nil || done {
						return
					}
				}
			})
		}
	})
	return o
}

func settings() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ReadBufferSize:      32 << 10,
	}
}

// outcome is what a client sees of a response.
type outcome struct {
	Err              string // "" or where it failed: roundtrip or body
	Status           string
	Proto            string
	Header, Trailer  http.Header
	Body             string
	ContentLength    int64
	Close            bool
	Informational    []int
	TransferEncoding []string
	Uncompressed     bool
}

func fetch(rt http.RoundTripper, method, url string) outcome {
	return fetchCtx(context.Background(), rt, method, url)
}

// fetchWithin is fetch with a deadline: an answer that never ends (a
// length longer than what was sent, on a kept connection) is a timeout
// for both transports.
func fetchWithin(rt http.RoundTripper, method, url string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return fetchCtx(ctx, rt, method, url)
}

func fetchCtx(ctx context.Context, rt http.RoundTripper, method, url string) outcome {
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return outcome{Err: "roundtrip", Informational: got}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	o := outcome{Status: resp.Status, Proto: resp.Proto, Header: resp.Header, Trailer: resp.Trailer, Body: string(b),
		ContentLength: resp.ContentLength, Close: resp.Close, Informational: got, TransferEncoding: resp.TransferEncoding,
		Uncompressed: resp.Uncompressed}
	if err != nil {
		o.Err = "body"
	}
	return o
}

// TestSameAsHTTPTransport sends the same requests to origins that frame
// their answers in every way HTTP/1.x allows (and some it does not),
// through http.Transport and through Transport: what the client sees
// must be the same, request after request on the same transport, as
// connections are kept, closed and reopened.
func TestSameAsHTTPTransport(t *testing.T) {
	const page = "<!doctype html><p>hello</p>"
	cases := []struct {
		name   string
		method string
		answer func(i int) (string, bool)
	}{
		{"length", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\n\r\n" + page, false
		}},
		{"chunked with trailer", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n", false
		}},
		{"until close", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page, true
		}},
		{"connection close", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true
		}},
		{"http/1.0", "GET", func(int) (string, bool) {
			return "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true
		}},
		{"http/1.0 keep-alive", "GET", func(int) (string, bool) {
			return "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false
		}},
		{"head", "HEAD", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n", false
		}},
		{"no content", "GET", func(int) (string, bool) { return "HTTP/1.1 204 No Content\r\n\r\n", false }},
		{"not modified", "GET", func(int) (string, bool) {
			return "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false
		}},
		{"empty body", "GET", func(int) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false }},
		{"early hints", "GET", func(int) (string, bool) {
			return "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
		}},
		{"many 1xx", "GET", func(int) (string, bool) {
			return strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 8) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
		}},
		{"redirect", "GET", func(int) (string, bool) {
			return "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n", false
		}},
		{"error status", "GET", func(int) (string, bool) {
			return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy", false
		}},
		{"gzip passes as it is", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00", false
		}},
		{"truncated body", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true
		}},
		{"truncated chunk", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", true
		}},
		{"bad status line", "GET", func(int) (string, bool) { return "HTTP/1.1 2000 OK\r\n\r\n", true }},
		{"not http", "GET", func(int) (string, bool) { return "SSH-2.0-OpenSSH\r\n", true }},
		{"no answer", "GET", func(int) (string, bool) { return "", true }},
		{"bad length", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", true
		}},
		{"every other closes", "GET", func(i int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", i%2 == 1
		}},
		{"folded and repeated headers", "GET", func(int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Long: one\r\n two\r\nContent-Length: 2\r\n\r\nok", false
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := startRaw(t, func(_ *http.Request, _, i int) (string, bool) { return c.answer(i) })
			std := settings()
			defer std.CloseIdleConnections()
			ours := New(settings())
			defer ours.CloseIdleConnections()
			for i := range 4 {
				url := fmt.Sprintf("http://%s/p?i=%d", o.addr, i)
				want := fetch(std, c.method, url)
				got := fetch(ours, c.method, url)
				if !reflect.DeepEqual(got, want) && !reflect.DeepEqual(got, fresh(fetch, c.method, url)) {
					t.Fatalf("request %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
		})
	}
}

// fresh is what a new http.Transport answers, on a new connection. When
// an origin sends more than its answer (a body to a HEAD, past its
// length), http.Transport may take the next request to that connection
// before its reading goroutine sees the bytes nobody asked for, and then
// fail or read them as the answer, while Transport, which looks before
// it reuses a connection, opens a new one: its answer must then be a new
// connection's.
func fresh(fetch func(http.RoundTripper, string, string) outcome, method, url string) outcome {
	std := settings()
	defer std.CloseIdleConnections()
	return fetch(std, method, url)
}

// counted is an httptest server that counts its connections.
func counted(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

func get(t *testing.T, rt http.RoundTripper, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKeepsConnections(t *testing.T) {
	s, conns := counted(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	tr := New(settings())
	defer tr.CloseIdleConnections()
	for i := range 50 {
		if got, want := get(t, tr, fmt.Sprintf("%s/%d", s.URL, i)), fmt.Sprintf("/%d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("50 requests in turn opened %d connections, want 1", n)
	}
	if st := tr.Stats(); st != (Stats{Dials: 1, Reuses: 49, Idle: 1}) {
		t.Errorf("stats %+v, want 1 dial, 49 reuses, 1 idle", st)
	}
}

// TestBodyClosedEarly: the rest of a body nobody read must not be taken
// for the next response.
func TestBodyClosedEarly(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	s, conns := counted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "small")
	})
	tr := New(settings())
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", s.URL+"/big", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	io.ReadFull(resp.Body, buf)
	resp.Body.Close()
	if _, err := resp.Body.Read(buf); !errors.Is(err, errClosedBody) {
		t.Errorf("read after close: %v, want %v", err, errClosedBody)
	}
	if got := get(t, tr, s.URL+"/small"); got != "small" {
		t.Fatalf("after a body closed early: %q", got)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the first is closed with its body)", n)
	}
}

// TestIdleConnectionClosedByOrigin: the origin closes a kept connection
// without saying so (as servers do at their idle timeout), before or
// while the next request is written.
func TestIdleConnectionClosedByOrigin(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	t.Run("after the answer", func(t *testing.T) {
		o := startRaw(t, func(_ *http.Request, _, _ int) (string, bool) { return ok, true })
		tr := New(settings())
		defer tr.CloseIdleConnections()
		for i := range 5 {
			// The close reaches the client's socket while the connection
			// is idle: the check before reuse sees it.
			if got := get(t, tr, "http://"+o.addr+"/"); got != "ok" {
				t.Fatalf("request %d: %q", i, got)
			}
			waitClosed(t, tr, o.addr)
		}
		if n := o.conns.Load(); n != 5 {
			t.Errorf("%d connections, want 5", n)
		}
		if st := tr.Stats(); st.Dials != 5 || st.Stale != 4 || st.Retries != 0 {
			t.Errorf("stats %+v, want 5 dials, 4 stale connections, no retry", st)
		}
	})
	t.Run("instead of the next answer", func(t *testing.T) {
		// The first connection takes a second request and closes without
		// an answer: it is sent again on a new connection.
		o := startRaw(t, func(_ *http.Request, conn, i int) (string, bool) {
			if conn == 0 && i == 1 {
				return "", true
			}
			return ok, false
		})
		tr := New(settings())
		defer tr.CloseIdleConnections()
		for i := range 3 {
			if got := get(t, tr, "http://"+o.addr+"/"); got != "ok" {
				t.Fatalf("request %d: %q", i, got)
			}
		}
		if n := o.conns.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
		if st := tr.Stats(); st.Dials != 2 || st.Retries != 1 {
			t.Errorf("stats %+v, want 2 dials, 1 retry", st)
		}
	})
	for _, kept := range []int{3, maxRetries + 4} {
		t.Run(fmt.Sprintf("every one of %d kept connections instead of the next answer", kept), func(t *testing.T) {
			// Connections kept, each of which takes a second request
			// and closes without an answer (an origin that dropped its
			// idle connections at once): the request goes to the next,
			// then to a new one; past maxRetries kept ones, to a new
			// one at once. It used to be sent again once only, and got
			// a 502; then at most maxRetries times, and a pool of more
			// got one.
			var first sync.WaitGroup
			first.Add(kept)
			o := startRaw(t, func(_ *http.Request, conn, i int) (string, bool) {
				switch {
				case conn < kept && i == 0:
					first.Done()
					first.Wait() // requests at once: as many connections
				case conn < kept:
					return "", true
				}
				return ok, false
			})
			tr := New(settings())
			defer tr.CloseIdleConnections()
			var wg sync.WaitGroup
			for range kept {
				wg.Go(func() {
					if got := get(t, tr, "http://"+o.addr+"/"); got != "ok" {
						t.Errorf("%q", got)
					}
				})
			}
			wg.Wait()
			if got := get(t, tr, "http://"+o.addr+"/"); got != "ok" {
				t.Fatalf("after the kept connections failed: %q", got)
			}
			retries := min(kept, maxRetries)
			if st := tr.Stats(); st.Dials != int64(kept+1) || st.Retries != int64(retries) {
				t.Errorf("stats %+v, want %d dials, %d retries", st, kept+1, retries)
			}
		})
	}
	t.Run("a new connection is not sent again", func(t *testing.T) {
		o := startRaw(t, func(*http.Request, int, int) (string, bool) { return "", true })
		tr := New(settings())
		req, _ := http.NewRequest("GET", "http://"+o.addr+"/", nil)
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("no error from an origin that never answers")
		}
		if n := o.conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})
}

// waitClosed waits until the idle connection to addr sees its origin's
// close (at most 5 s).
func waitClosed(t *testing.T, tr *Transport, addr string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		tr.mu.Lock()
		list := tr.idle[addr]
		closed := len(list) == 0 || !list[len(list)-1].peek.quiet()
		tr.mu.Unlock()
		if closed {
			return
		}
	}
	t.Fatal("the origin's close never reached the idle connection")
}

// TestUnsolicitedAnswer: bytes an origin sends on an idle connection
// (a 408 before it closes, a body longer than its length) must never be
// read as the answer to the next request.
func TestUnsolicitedAnswer(t *testing.T) {
	timeout := "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
	t.Run("with the answer", func(t *testing.T) {
		o := startRaw(t, func(_ *http.Request, _, _ int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + timeout, false
		})
		tr := New(settings())
		defer tr.CloseIdleConnections()
		for i := range 3 {
			if got := get(t, tr, "http://"+o.addr+"/"); got != "ok" {
				t.Fatalf("request %d: %q", i, got)
			}
		}
	})
	t.Run("later", func(t *testing.T) {
		// The origin's first connection sends a 408 once it is idle, and
		// stays open; the next request must go on a new connection.
		ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		trigger, sent := make(chan struct{}), make(chan struct{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var conns atomic.Int32
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				n := conns.Add(1)
				go func() {
					defer nc.Close()
					br := bufio.NewReader(nc)
					for {
						req, err := http.ReadRequest(br)
						if err != nil {
							return
						}
						io.Copy(io.Discard, req.Body)
						io.WriteString(nc, ok)
						if n == 1 {
							<-trigger
							io.WriteString(nc, timeout)
							close(sent)
							io.Copy(io.Discard, nc) // stays open
							return
						}
					}
				}()
			}
		}()
		addr := ln.Addr().String()
		tr := New(settings())
		defer tr.CloseIdleConnections()
		if got := get(t, tr, "http://"+addr+"/"); got != "ok" {
			t.Fatal(got)
		}
		close(trigger)
		<-sent
		waitClosed(t, tr, addr)
		if got := get(t, tr, "http://"+addr+"/"); got != "ok" {
			t.Fatalf("after an unsolicited 408: %q", got)
		}
		if n := conns.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
}

func TestResponseHeaderTimeout(t *testing.T) {
	o := startRaw(t, func(*http.Request, int, int) (string, bool) {
		time.Sleep(2 * time.Second)
		return "", true
	})
	s := settings()
	s.ResponseHeaderTimeout = 50 * time.Millisecond
	tr := New(s)
	req, _ := http.NewRequest("GET", "http://"+o.addr+"/", nil)
	_, err := tr.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
}

func TestResponseHeaderLimit(t *testing.T) {
	o := startRaw(t, func(*http.Request, int, int) (string, bool) {
		return "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\nContent-Length: 2\r\n\r\nok", true
	})
	s := settings()
	s.MaxResponseHeaderBytes = 4 << 10
	s.ReadBufferSize = 4 << 10
	tr := New(s)
	req, _ := http.NewRequest("GET", "http://"+o.addr+"/", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("err %v, want %v", err, errHeaderTooLarge)
	}
}

// TestCanceled: the request's context ends the exchange wherever it is,
// with the context's error, and the connection is not kept.
func TestCanceled(t *testing.T) {
	release := make(chan struct{})
	s, conns := counted(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/headers":
			<-release
		case "/body":
			io.WriteString(w, "start")
			w.(http.Flusher).Flush()
			<-release
		default:
			io.WriteString(w, "ok")
		}
	})
	defer close(release)
	tr := New(settings())
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/headers", nil)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting for headers: %v, want %v", err, context.Canceled)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "GET", s.URL+"/body", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) || string(b) != "start" {
		t.Fatalf("reading the body: %q, %v; want \"start\", %v", b, err, context.Canceled)
	}
	resp.Body.Close()

	before := conns.Load()
	if got := get(t, tr, s.URL+"/"); got != "ok" {
		t.Fatal(got)
	}
	if conns.Load() != before+1 {
		t.Error("a canceled request's connection was kept")
	}
}

// TestCanceledBeforeSent: a request whose context is already done (the
// visitor left while the plugin decided) is not sent, on a kept
// connection or a new one, as http.Transport does not send it: the
// origin gets no request, and the caller the context's error rather than
// an answer it would write to a visitor who is gone.
func TestCanceledBeforeSent(t *testing.T) {
	var served atomic.Int32
	s, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/left" {
			served.Add(1)
		}
		io.WriteString(w, "ok")
	})
	tr := New(settings())
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 50 {
		if i%2 == 0 {
			get(t, tr, s.URL+"/") // a kept connection for the next one
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/left", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: got %s for a request whose context was done", i, resp.Status)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("request %d: %v, want %v", i, err, context.Canceled)
		}
	}
	// The origin's handler may still be running for one just sent.
	time.Sleep(50 * time.Millisecond)
	if n := served.Load(); n != 0 {
		t.Errorf("the origin was sent %d requests whose context was done", n)
	}
}

func TestDirect(t *testing.T) {
	body := strings.NewReader("x")
	cases := []struct {
		method, url string
		body        io.Reader
		header      string
		want        bool
	}{
		{"GET", "http://o/", nil, "", true},
		{"HEAD", "http://o/", nil, "", true},
		{"GET", "https://o/", nil, "", false},
		{"POST", "http://o/", body, "", false},
		{"POST", "http://o/", nil, "", false},
		{"OPTIONS", "http://o/", nil, "", false},
		{"GET", "http://o/", nil, "websocket", false},
		{"GET", "http:///no-host", nil, "", false},
	}
	tr := New(settings())
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, c.url, c.body)
		if c.header != "" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", c.header)
		}
		if got := tr.Direct(req); got != c.want {
			t.Errorf("%s %s upgrade %q: Direct %v, want %v", c.method, c.url, c.header, got, c.want)
		}
	}
	proxied := settings()
	proxied.Proxy = http.ProxyFromEnvironment
	req, _ := http.NewRequest("GET", "http://o/", nil)
	if New(proxied).Direct(req) {
		t.Error("a proxy is http.Transport's to use, but GET went direct")
	}
}

// liveConn counts the connections a dialer opened and has not closed.
type liveConn struct {
	net.Conn
	live *atomic.Int32
	once sync.Once
}

func (c *liveConn) Close() error {
	c.once.Do(func() { c.live.Add(-1) })
	return c.Conn.Close()
}

// TestConnectionLimit: with MaxConnsPerHost, the connections of both
// pools (GETs sent directly, POSTs through http.Transport) stay within
// the limit together, and every request is answered.
func TestConnectionLimit(t *testing.T) {
	s, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		time.Sleep(time.Millisecond)
		fmt.Fprintf(w, "%s %s%s", r.Method, r.URL.Path, b)
	})
	var live, peak atomic.Int32
	st := settings()
	st.MaxConnsPerHost = 2
	d := &net.Dialer{}
	st.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n := live.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		return &liveConn{Conn: nc, live: &live}, nil
	}
	tr := New(st)
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				path := fmt.Sprintf("/%d-%d", g, i)
				var req *http.Request
				want := "GET " + path
				if (g+i)%3 == 0 {
					req, _ = http.NewRequest("POST", s.URL+path, strings.NewReader("!"))
					want = "POST " + path + "!"
				} else {
					req, _ = http.NewRequest("GET", s.URL+path, nil)
				}
				resp, err := tr.RoundTrip(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 240 requests failed", n)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d connections open at once, limit 2", p)
	}
}

// TestInvalidHeaders: a request whose header has a name or a value that
// HTTP/1.1 cannot carry is refused before anything is sent, as by
// http.Transport (a value with a line break would otherwise write a
// header of its own).
func TestInvalidHeaders(t *testing.T) {
	s, conns := counted(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, h := range [][2]string{{"X-Ok", "a\r\nInjected: 1"}, {"X-Ok", "a\nb"}, {"Bad Name", "v"}, {"Bad:Name", "v"}, {"X-Ok", "nul\x00"}} {
		for _, rt := range []http.RoundTripper{settings(), New(settings())} {
			req, _ := http.NewRequest("GET", s.URL+"/", nil)
			req.Header[h[0]] = []string{h[1]}
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
				t.Errorf("%T sent %q: %q", rt, h[0], h[1])
			}
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections opened for requests that were refused", n)
	}
}

// TestFallback: what Transport does not send itself reaches the origin
// through the http.Transport, with its body.
func TestFallback(t *testing.T) {
	s, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	})
	tr := New(settings())
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("POST", s.URL+"/", strings.NewReader("form=1"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "POST form=1" {
		t.Fatalf("got %q", b)
	}
	if st := tr.Stats(); st.Fallbacks != 1 || st.Dials != 0 {
		t.Errorf("stats %+v, want 1 request through http.Transport and no dial of its own", st)
	}
}

// TestIdleTimeout: connections idle for longer than the idle timeout are
// closed even if no request comes to find them.
func TestIdleTimeout(t *testing.T) {
	closed := make(chan struct{}, 1)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}
	s.Start()
	defer s.Close()
	st := settings()
	st.IdleConnTimeout = 50 * time.Millisecond
	tr := New(st)
	get(t, tr, s.URL+"/")
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was never closed")
	}
}

// TestCloseIdleStopsTheReaper: closing the idle connections stops the
// timer that would reap them, which kept a closed handler's transport
// alive until it fired.
func TestCloseIdleStopsTheReaper(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer s.Close()
	st := settings()
	st.IdleConnTimeout = time.Hour
	tr := New(st)
	get(t, tr, s.URL+"/")
	tr.mu.Lock()
	armed := tr.reaper != nil
	tr.mu.Unlock()
	tr.CloseIdleConnections()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !armed || tr.reaper != nil {
		t.Errorf("reaper armed with an idle connection: %v; after CloseIdleConnections: %v", armed, tr.reaper != nil)
	}
}

// TestConcurrent: many requests at once, some of whose bodies are left
// unread, each get their own answer.
func TestConcurrent(t *testing.T) {
	s, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat(r.URL.Path, 1+len(r.URL.Path)%7*500))
	})
	st := settings()
	st.MaxIdleConnsPerHost = 4
	tr := New(st)
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 8 {
		wg.Go(func() {
			for i := range 60 {
				path := fmt.Sprintf("/%d-%d", g, i)
				req, _ := http.NewRequest("GET", s.URL+path, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				if i%5 == 0 {
					resp.Body.Close()
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != strings.Repeat(path, 1+len(path)%7*500) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of 480 requests failed or got another's answer", n)
	}
}

// BenchmarkRoundTrip fetches the shop page from a loopback origin through
// http.Transport and through Transport, reading each body whole: one
// request at a time, and as many at once as the benchmark's parallelism.
// Besides the time per request it reports the CPU time per request
// (cpu-ns/op, the process's user and system time, the origin's
// included): one request at a time, http.Transport's reading goroutine
// runs on another CPU beside the caller, which can shorten the wait as
// it lengthens the work.
func BenchmarkRoundTrip(b *testing.B) {
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		b.Fatal(err)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer s.Close()
	fetch := func(b *testing.B, rt http.RoundTripper, buf []byte) {
		req, _ := http.NewRequest("GET", s.URL+"/shop", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
		resp.Body.Close()
	}
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"http.Transport", settings()}, {"upstream", New(settings())}} {
		b.Run(rt.name, func(b *testing.B) {
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				fetch(b, rt.rt, buf)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
		b.Run(rt.name+"/parallel", func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 32<<10)
				for pb.Next() {
					fetch(b, rt.rt, buf)
				}
			})
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// FuzzSameAsHTTPTransport: whatever bytes the origin answers with (then
// closing the connection, or keeping it for a second request), a client
// sees the same through Transport as through http.Transport.
func FuzzSameAsHTTPTransport(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n2\r\nok\r\n0\r\nX: 1\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
	} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, answer string, keep, head bool) {
		if strings.Contains(answer, " 101") {
			// A switch of protocols nothing asked for: http.Transport
			// hands the connection over, Transport refuses it; both end
			// in a 502 through httputil.ReverseProxy.
			t.Skip()
		}
		o := startRaw(t, func(*http.Request, int, int) (string, bool) { return answer, !keep })
		method := "GET"
		if head {
			method = "HEAD"
		}
		std := settings()
		std.ResponseHeaderTimeout = 2 * time.Second
		defer std.CloseIdleConnections()
		st := settings()
		st.ResponseHeaderTimeout = 2 * time.Second
		ours := New(st)
		defer ours.CloseIdleConnections()
		for i := range 2 {
			url := fmt.Sprintf("http://%s/%d", o.addr, i)
			want := fetchWithin(std, method, url)
			got := fetchWithin(ours, method, url)
			if !reflect.DeepEqual(got, want) && !reflect.DeepEqual(got, fresh(fetchWithin, method, url)) {
				t.Fatalf("request %d of %q:\n got %+v\nwant %+v", i, answer, got, want)
			}
		}
	})
}

// TestReadTimeout: an origin silent in the middle of a body has its
// transfer cut after ReadTimeout, over the Transport's own connections
// (GET) and the http.Transport's (POST) alike, with a timeout error
// that says so; an origin that keeps sending, however slowly, and a
// reader that takes its time between reads are not cut; a connection
// whose body ended is kept and serves the next request.
func TestReadTimeout(t *testing.T) {
	release := make(chan struct{})
	s, conns := counted(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stall":
			io.WriteString(w, "start")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/trickle":
			for i := range 6 {
				io.WriteString(w, strconv.Itoa(i))
				w.(http.Flusher).Flush()
				time.Sleep(40 * time.Millisecond)
			}
		default:
			io.WriteString(w, "ok")
		}
	})
	defer close(release)
	tr := New(settings())
	tr.ReadTimeout = 150 * time.Millisecond
	defer tr.CloseIdleConnections()

	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, s.URL+"/stall", strings.NewReader(""))
		if method == "GET" {
			req.Body = nil
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var stall *StallError
		var ne net.Error
		if string(b) != "start" || !errors.As(err, &stall) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%s of a stalling origin: %q, %v; want \"start\" and a StallError", method, b, err)
		}
		if waited := time.Since(start); waited < 100*time.Millisecond {
			t.Errorf("%s: cut after %v, before the timeout", method, waited)
		}
	}

	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, s.URL+"/trickle", strings.NewReader(""))
		if method == "GET" {
			req.Body = nil
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		// Bytes every 40 ms, read a byte at a time with pauses of the
		// reader's own of twice the timeout: nothing is cut.
		var got []byte
		one := make([]byte, 1)
		for {
			n, err := resp.Body.Read(one)
			got = append(got, one[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s of a slow origin, read slowly: %q, %v", method, got, err)
			}
			if len(got) == 2 {
				time.Sleep(2 * tr.ReadTimeout)
			}
		}
		resp.Body.Close()
		if string(got) != "012345" {
			t.Fatalf("%s: %q", method, got)
		}
	}

	before := conns.Load()
	for range 3 {
		if got := get(t, tr, s.URL+"/"); got != "ok" {
			t.Fatal(got)
		}
		time.Sleep(2 * tr.ReadTimeout) // past a deadline a kept connection would still hold
	}
	if n := conns.Load() - before; n > 1 {
		t.Errorf("%d connections for three requests in turn: the kept one was not reused", n)
	}
}

// TestBodyWaits: a body says its next read would wait only when none of
// it is buffered and the origin has sent nothing more: before the part
// that came with the headers is read it does not; once the origin pauses
// it does; once the origin sends more, or closes, it does not (a read
// then answers at once, with bytes or the end).
func TestBodyWaits(t *testing.T) {
	for _, c := range []struct {
		name  string
		first string // of the body, with the headers
		then  string // after the pause; "" closes the connection
	}{
		{name: "headers, then the body", first: "", then: "hello"},
		{name: "headers and a part, then the rest", first: "he", then: "llo"},
		{name: "headers, then a close", first: "", then: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			goOn := make(chan struct{})
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n%s", c.first)
				select {
				case <-goOn:
				case <-time.After(10 * time.Second):
				}
				io.WriteString(conn, c.then)
			}()
			tr := New(settings())
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				close(goOn)
				t.Fatal(err)
			}
			defer resp.Body.Close()
			w := resp.Body.(interface{ Waits() bool })
			if c.first != "" {
				if w.Waits() {
					t.Errorf("waits with %q buffered", c.first)
				}
				b := make([]byte, len(c.first))
				if _, err := io.ReadFull(resp.Body, b); err != nil {
					t.Fatal(err)
				}
			}
			if !w.Waits() {
				t.Errorf("does not wait while the origin pauses")
			}
			close(goOn)
			deadline := time.Now().Add(10 * time.Second)
			for w.Waits() {
				if time.Now().After(deadline) {
					t.Fatal("still waits after the origin went on")
				}
				time.Sleep(time.Millisecond)
			}
			rest, err := io.ReadAll(resp.Body)
			switch {
			case c.then == "" && err == nil:
				t.Errorf("read %q to a clean end; want the break", rest)
			case c.then != "" && (err != nil || c.first+string(rest) != "hello"):
				t.Errorf("read %q, %v; want the rest of hello", rest, err)
			}
			if w.Waits() {
				t.Errorf("waits after the body's end")
			}
		})
	}
}
