package wire

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
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
		{"a declared length, written whole", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			io.WriteString(w, page[:1000])
			io.WriteString(w, page[1000:])
		}, 200, page, "", ""},
		{"a declared length, and the handler returns short of it", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			io.WriteString(w, page[:1000])
		}, 200, page[:1000], "", "unexpected EOF: the handler wrote 1000 bytes of the 170000 its Content-Length declared"},
		{"a declared length, nothing written", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
		}, 200, "", "", "unexpected EOF: the handler wrote 0 bytes of the 5 its Content-Length declared"},
		{"a declared length on a 304, no body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNotModified)
		}, 304, "", "", ""},
		{"a panic before the headers", func(w http.ResponseWriter, r *http.Request) {
			panic("boom")
		}, 0, "", "handler panicked: boom", ""},
		{"a panic after some of the body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>start")
			panic("boom")
		}, 200, "<p>start", "", "handler panicked: boom"},
		{"http.ErrAbortHandler after the headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>start")
			panic(http.ErrAbortHandler)
		}, 200, "<p>start", "", http.ErrAbortHandler.Error()},
		{"a panic after the first bytes of an untyped body, kept for its type", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<p>start")
			panic("boom")
		}, 0, "", "handler panicked: boom", ""},
		{"an untyped body flushed, then a panic", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<p>start")
			w.(http.Flusher).Flush()
			panic("boom")
		}, 200, "<p>start", "", "handler panicked: boom"},
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

// TestHandlerTransportHead: a handler answering a HEAD declares the
// length of the body a GET would get, and writes none of it: no body
// falls short.
func TestHandlerTransportHead(t *testing.T) {
	req, err := http.NewRequest(http.MethodHead, "http://bespoke-origin.invalid/page", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&HandlerTransport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "1000")
	}), Logger: quiet}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("read: %v", err)
	}
	if resp.ContentLength != 1000 {
		t.Errorf("ContentLength %d, want 1000", resp.ContentLength)
	}
}

// TestHandlerTransportClose: closing the body mid-page fails the
// handler's writes from then on, and the handler returns. It writes
// more than the pipe holds: the write that finds no room waits for the
// close.
func TestHandlerTransportClose(t *testing.T) {
	writeErr := make(chan error, 1)
	resp, err := roundTrip(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("<p>chunk</p>", 1000)
		for i := 0; i < 4*pipeCap/len(chunk); i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				// A handler that goes on writing gets the same error.
				if _, err2 := io.WriteString(w, "more"); !errors.Is(err2, io.ErrClosedPipe) {
					err = errors.New("a write after the close did not fail")
				}
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 30)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-writeErr; !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("the handler's write after the close: %v, want io.ErrClosedPipe", err)
	}
	if n, err := resp.Body.Read(buf); n != 0 || err == nil {
		t.Fatalf("a read after the close: %d, %v", n, err)
	}
	resp.Body.Close() // a second Close is harmless
}

// TestHandlerTransportConcurrent: round trips at once, each read whole
// or closed part way, each get their own handler's bytes, and every
// handler returns.
func TestHandlerTransportConcurrent(t *testing.T) {
	var handlers sync.WaitGroup
	tr := &HandlerTransport{Logger: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
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
	handlers.Wait() // each returns once its body is read or closed
}

// TestHandlerTransportLockedWriter: a handler whose output is written by
// a goroutine that holds its thread, as FrankenPHP's PHP threads write
// from a cgo callback, is served.
func TestHandlerTransportLockedWriter(t *testing.T) {
	page := strings.Repeat("<p>php</p>", 5000)
	resp, err := roundTrip(t, func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			w.Header().Set("Content-Type", "text/html")
			for i := 0; i < len(page); i += 8192 {
				io.WriteString(w, page[i:min(i+8192, len(page))])
			}
		}()
		<-done
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != page {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(page))
	}
}

// TestHandlerTransportWorkers: a request after one has finished runs on
// the goroutine that served it (which kept its stack), a handler's
// panic leaves the goroutine serving, and Close ends the goroutines that
// wait.
func TestHandlerTransportWorkers(t *testing.T) {
	gids := make(chan string, 1)
	tr := &HandlerTransport{Logger: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gids <- goroutineID()
		if r.URL.Query().Get("panic") != "" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	})}
	get := func(query string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://bespoke-origin.invalid/?"+query, nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		id := <-gids
		waitIdle(t, &tr.workers, 1)
		return id
	}
	first := get("")
	if second := get("panic=1"); second != first {
		t.Fatalf("the second request ran on goroutine %s, the first on %s", second, first)
	}
	if third := get(""); third != first {
		t.Fatalf("after a panic, the next request ran on goroutine %s, not %s", third, first)
	}
	tr.Close()
	waitIdle(t, &tr.workers, 0)
	get2 := func() {
		req, _ := http.NewRequest("GET", "http://bespoke-origin.invalid/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("after Close: %q", b)
		}
		resp.Body.Close()
		<-gids
	}
	get2() // still served, on a goroutine that ends after it
	waitIdle(t, &tr.workers, 0)
}

// TestHandlerTransportWorkersBound: however many requests ran at once, at
// most maxIdle goroutines wait for the next.
func TestHandlerTransportWorkersBound(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	tr := &HandlerTransport{Logger: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
	})}
	defer tr.Close()
	n := maxIdle + 16
	started.Add(n)
	var reqs sync.WaitGroup
	for range n {
		reqs.Add(1)
		go func() {
			defer reqs.Done()
			req, _ := http.NewRequest("GET", "http://bespoke-origin.invalid/", nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}()
	}
	started.Wait() // n handlers run at once, each on a goroutine
	close(release)
	reqs.Wait()
	waitIdle(t, &tr.workers, maxIdle)
}

// waitIdle returns once n workers wait; the test's timeout ends a wait
// that never does.
func waitIdle(t *testing.T, ws *workers, n int32) {
	t.Helper()
	for ws.idle.Load() != n {
		runtime.Gosched()
	}
}

// goroutineID is the running goroutine's number, from its stack's
// first line ("goroutine 7 [running]:").
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	return f[1]
}
