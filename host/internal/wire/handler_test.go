package wire

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// roundTrip sends a GET through a HandlerTransport of h.
func roundTrip(t *testing.T, h http.HandlerFunc) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://bespoke-origin.invalid/page?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return (&HandlerTransport{Handler: h, Logger: quiet}).RoundTrip(req)
}

// TestHandlerTransport: what a handler writes, however it writes it,
// is the response the proxy reads, and what goes wrong in it is an error
// where the pipe it replaced gave one.
func TestHandlerTransport(t *testing.T) {
	page := strings.Repeat("<p>0123456789</p>", 10000) // 170 KB
	for _, c := range []struct {
		name   string
		h      http.HandlerFunc
		status int
		body   string
		// err: the round trip fails; readErr: reading the body does,
		// after body.
		err, readErr string
	}{
		{"one write", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, page)
		}, 200, page, "", ""},
		{"many small writes, then a 0-byte one", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(page); i += 7 {
				io.WriteString(w, page[i:min(i+7, len(page))])
			}
			w.Write(nil)
		}, 200, page, "", ""},
		{"one buffer reused for every write", func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 4096)
			src := strings.NewReader(page)
			for {
				n, err := src.Read(buf)
				w.Write(buf[:n])
				clear(buf) // Write has returned: the bytes were copied out
				if err != nil {
					return
				}
			}
		}, 200, page, "", ""},
		{"status, then the body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK) // ignored, as net/http does
			io.WriteString(w, "gone")
		}, 404, "gone", "", ""},
		{"an informational status first", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "hi")
		}, 200, "hi", "", ""},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 200, "", "", ""},
		{"writes from another goroutine, one at a time", func(w http.ResponseWriter, r *http.Request) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				io.WriteString(w, page[:1000])
			}()
			<-done
			io.WriteString(w, page[1000:])
		}, 200, page, "", ""},
		{"a panic before the headers", func(w http.ResponseWriter, r *http.Request) {
			panic("boom")
		}, 0, "", "handler panicked: boom", ""},
		{"a panic after some of the body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<p>start")
			panic("boom")
		}, 200, "<p>start", "", "handler panicked: boom"},
		{"http.ErrAbortHandler after the headers", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<p>start")
			panic(http.ErrAbortHandler)
		}, 200, "<p>start", "", http.ErrAbortHandler.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := roundTrip(t, c.h)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("round trip: %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			got, err := io.ReadAll(resp.Body)
			if string(got) != c.body {
				t.Errorf("body: %d bytes, want %d", len(got), len(c.body))
			}
			switch {
			case c.readErr == "" && err != nil:
				t.Errorf("read: %v", err)
			case c.readErr != "" && (err == nil || err.Error() != c.readErr):
				t.Errorf("read: %v, want %q", err, c.readErr)
			}
		})
	}
}

// TestHandlerTransportRequest: the handler sees the request as a server
// would, and the response its length.
func TestHandlerTransportRequest(t *testing.T) {
	var uri, host string
	resp, err := roundTrip(t, func(w http.ResponseWriter, r *http.Request) {
		uri, host = r.RequestURI, r.Host
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if uri != "/page?x=1" || host != "bespoke-origin.invalid" {
		t.Errorf("the handler saw %q on %q", uri, host)
	}
	if resp.ContentLength != 2 {
		t.Errorf("ContentLength %d, want 2", resp.ContentLength)
	}
}

// TestHandlerTransportClose: closing the body mid-page fails the
// handler's writes from then on, and returns once the handler has.
func TestHandlerTransportClose(t *testing.T) {
	var writeErr atomic.Value
	var returned atomic.Bool
	resp, err := roundTrip(t, func(w http.ResponseWriter, r *http.Request) {
		defer returned.Store(true)
		for i := 0; i < 100; i++ {
			if _, err := io.WriteString(w, "<p>chunk</p>"); err != nil {
				writeErr.Store(err)
				// A handler that goes on writing gets the same error.
				if _, err := io.WriteString(w, "more"); !errors.Is(err, io.ErrClosedPipe) {
					writeErr.Store(errors.New("a write after the close did not fail"))
				}
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 30)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !returned.Load() {
		t.Fatal("Close returned before the handler did")
	}
	if err, _ := writeErr.Load().(error); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("the handler's write after the close: %v, want io.ErrClosedPipe", err)
	}
	if n, err := resp.Body.Read(buf); n != 0 || err == nil {
		t.Fatalf("a read after the close: %d, %v", n, err)
	}
	resp.Body.Close() // a second Close is harmless
}

// TestHandlerTransportCloseWhileReading: a Close from another goroutine
// while a Read waits for the handler waits for that Read, and the
// handler's next write fails.
func TestHandlerTransportCloseWhileReading(t *testing.T) {
	release := make(chan struct{})
	var second error
	resp, err := roundTrip(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		<-release
		_, second = io.WriteString(w, "second")
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(buf) // runs the handler: it waits on release
		read <- err
	}()
	closed := make(chan struct{})
	go func() {
		time.Sleep(10 * time.Millisecond)
		resp.Body.Close()
		close(closed)
	}()
	time.Sleep(30 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("Close returned while a Read was running the handler")
	default:
	}
	close(release)
	if err := <-read; err != nil {
		t.Fatalf("the read under way: %v", err)
	}
	<-closed
	if !errors.Is(second, io.ErrClosedPipe) {
		t.Fatalf("the handler's write after the close: %v", second)
	}
	if string(buf) != "secon" {
		t.Fatalf("the read under way got %q", buf)
	}
}

// TestHandlerTransportConcurrent: round trips at once, each read whole
// or closed part way, each get their own handler's bytes and leave no
// handler running.
func TestHandlerTransportConcurrent(t *testing.T) {
	var running atomic.Int32
	tr := &HandlerTransport{Logger: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		defer running.Add(-1)
		id := r.URL.Query().Get("id")
		for i := 0; i < 50; i++ {
			if _, err := io.WriteString(w, "<p>"+id+"</p>"); err != nil {
				return
			}
		}
	})}
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func() {
			var err error
			defer func() { errs <- err }()
			for i := 0; i < 50 && err == nil; i++ {
				id := strconv.Itoa(g*1000 + i)
				req, _ := http.NewRequest("GET", "http://bespoke-origin.invalid/?id="+id, nil)
				resp, rerr := tr.RoundTrip(req)
				if rerr != nil {
					err = rerr
					return
				}
				want := strings.Repeat("<p>"+id+"</p>", 50)
				if i%2 == 1 {
					buf := make([]byte, 10)
					io.ReadFull(resp.Body, buf)
					resp.Body.Close()
					if string(buf) != want[:10] {
						err = errors.New("round trip " + id + " read " + string(buf))
					}
					continue
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != want {
					err = errors.New("round trip " + id + " read another page")
				}
			}
		}()
	}
	for g := 0; g < 16; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := running.Load(); n != 0 {
		t.Fatalf("%d handlers still running after every body was closed", n)
	}
}

// TestHandlerTransportRunners: the coroutine that ran a request runs the
// next, a handler's write after it returned neither reaches nor disturbs
// the next request's response, and Close ends what is kept.
func TestHandlerTransportRunners(t *testing.T) {
	leaked := make(chan http.ResponseWriter, 1)
	tr := &HandlerTransport{Logger: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("leak") != "" {
			leaked <- w
		}
		io.WriteString(w, "page "+r.URL.Query().Get("id"))
	})}
	get := func(query string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://bespoke-origin.invalid/?"+query, nil)
		resp, err := tr.RoundTrip(req)
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
	for i := range 5 {
		if got := get("id=" + strconv.Itoa(i)); got != "page "+strconv.Itoa(i) {
			t.Fatalf("request %d got %q", i, got)
		}
		if n := len(tr.idle); n != 1 {
			t.Fatalf("after request %d, %d runners kept, want 1", i, n)
		}
	}
	first := tr.idle[0]
	get("id=a&leak=1")
	w := <-leaked
	if tr.idle[0] != first {
		t.Fatal("a request ran on a new runner while one was idle")
	}
	if _, err := io.WriteString(w, "late"); !errors.Is(err, errWriteAfterReturn) {
		t.Fatalf("a write after the handler returned: %v", err)
	}
	if got := get("id=b"); got != "page b" {
		t.Fatalf("the next request got %q", got)
	}

	tr.Close()
	if len(tr.idle) != 0 {
		t.Fatal("Close kept runners")
	}
	if got := get("id=c"); got != "page c" {
		t.Fatalf("a request after Close got %q", got)
	}
	if len(tr.idle) != 0 {
		t.Fatal("a runner was kept after Close")
	}
}
