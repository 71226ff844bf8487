package host_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host"
)

// newHandler is New with the tests' defaults, closed when t ends.
func newHandler(t *testing.T, cfg host.Config) *host.Handler {
	t.Helper()
	cfg.CacheDir, cfg.Logger, cfg.Secret = "-", quiet, []byte(secret)
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// pageOrigin serves page.
func pageOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	t.Cleanup(o.Close)
	return o
}

// TestReloadAfterClose: a reload after Close, or racing it, loads
// nothing into the closed engine (which used to panic in wazero) and says
// ErrClosed.
func TestReloadAfterClose(t *testing.T) {
	o := pageOrigin(t)
	h := newHandler(t, host.Config{Origin: o.URL, Rules: []byte(greeting)})
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(context.Background()); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("Reload after Close: %v, want ErrClosed", err)
	}
	if g := h.Generation(); g != 0 {
		t.Fatalf("Generation after Close = %d, want 0", g)
	}
	for i := range 20 {
		h := newHandler(t, host.Config{Origin: o.URL, Rules: []byte(greeting)})
		done := make(chan error, 1)
		go func() { done <- h.Reload(context.Background()) }()
		time.Sleep(time.Duration(i%5) * 200 * time.Microsecond)
		h.Close(context.Background())
		if err := <-done; err != nil && !errors.Is(err, host.ErrClosed) {
			t.Fatalf("Reload racing Close: %v", err)
		}
	}
}

// TestWatchRacesClose: Close waits for the watcher's reload in flight; a
// load that went on past Close compiled into a closed engine and
// panicked on the watcher's goroutine, which ended the process.
func TestWatchRacesClose(t *testing.T) {
	o := pageOrigin(t)
	p := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(p, []byte(greeting), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Two versions in turn, each a different file to load.
			src := greeting + strings.Repeat("\n", i%2)
			os.WriteFile(p+".tmp", []byte(src), 0o644)
			os.Rename(p+".tmp", p)
			time.Sleep(time.Millisecond)
		}
	})
	defer func() { close(stop); writer.Wait() }()
	for i := range 40 {
		h := newHandler(t, host.Config{Origin: o.URL, RulesFile: p, Watch: time.Millisecond})
		time.Sleep(time.Duration(i%10) * time.Millisecond)
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReloadErrors: Reload's error wraps its cause, and Watch with
// embedded Rules is refused rather than ignored.
func TestReloadErrors(t *testing.T) {
	o := pageOrigin(t)
	p := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(p, []byte(greeting), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, host.Config{Origin: o.URL, RulesFile: p})
	os.Remove(p)
	if err := h.Reload(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Reload of a removed file: %v, want an error wrapping fs.ErrNotExist", err)
	}
	if g := h.Generation(); g != 1 {
		t.Fatalf("the rules serving are generation %d, want 1", g)
	}
	if h := newHandler(t, host.Config{Origin: o.URL}); h.Reload(context.Background()) != nil {
		t.Fatal("Reload with no rules failed")
	}
	_, err := host.New(context.Background(), host.Config{Origin: o.URL, Rules: []byte(greeting), Watch: time.Second, CacheDir: "-", Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "Watch watches RulesFile") {
		t.Fatalf("Watch with Rules: %v", err)
	}
	_, err = host.New(context.Background(), host.Config{Origin: o.URL, TrustedProxies: []string{"not-a-cidr"}, CacheDir: "-", Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "TrustedProxies") || strings.Contains(err.Error(), "geo.") {
		t.Fatalf("a bad TrustedProxies is named as the config file's key: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if h, err := host.New(ctx, host.Config{Origin: o.URL, Rules: []byte(greeting), CacheDir: "-", Logger: quiet}); !errors.Is(err, context.Canceled) {
		if h != nil {
			h.Close(context.Background())
		}
		t.Fatalf("New with a cancelled ctx: %v", err)
	}
}

// TestCloseClosesOriginConns: Close releases the connections its
// transport keeps to the origin, as it does the rest; they used to stay
// open until the idle timeout (90 s), with their goroutines, for every
// handler an embedder (or Caddy, on each reload) replaced.
func TestCloseClosesOriginConns(t *testing.T) {
	var open atomic.Int64
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	o.Start()
	defer o.Close()
	h := newHandler(t, host.Config{Origin: o.URL, Rules: []byte(greeting)})
	front := httptest.NewServer(h)
	defer front.Close()
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, front.URL+"/", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if open.Load() == 0 {
		t.Fatal("no connection to the origin is kept: the test proves nothing")
	}
	h.Close(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := open.Load(); n > 0 {
		t.Fatalf("%d connections to the origin still open after Close", n)
	}
}

// TestNextTrailersAndEarlyHints: what Next writes besides its headers
// and body reaches the visitor as a server's handler's would, through
// the proxy: trailers (announced, and http.TrailerPrefix ones) and a 103
// Early Hints. Both used to be dropped.
func TestNextTrailersAndEarlyHints(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", r.URL.Query().Get("type"))
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, page)
		w.Header().Set("X-Sum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	})
	h := newHandler(t, host.Config{Next: app, Rules: []byte(greeting)})
	front := httptest.NewServer(h)
	defer front.Close()
	for _, typ := range []string{"text/plain", "text/html; charset=utf-8"} {
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, h.Get("Link"))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", front.URL+"/?ref=newsletter&type="+url.QueryEscape(typ), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.HasPrefix(typ, "text/html") && !strings.Contains(string(body), "Thanks for reading") {
			t.Errorf("%s: not personalized: %s", typ, body)
		}
		if got := resp.Trailer.Get("X-Sum") + "," + resp.Trailer.Get("X-Late"); got != "abc,late" {
			t.Errorf("%s: trailers %v, want X-Sum: abc and X-Late: late", typ, resp.Trailer)
		}
		if len(hints) != 1 || hints[0] != "</style.css>; rel=preload; as=style" {
			t.Errorf("%s: 1xx responses %q, want the 103 with its Link", typ, hints)
		}
	}
}

// unwrapOnly is an embedder's ResponseWriter wrapper that reaches the
// server's writer by Unwrap alone, as http.ResponseController allows.
type unwrapOnly struct{ http.ResponseWriter }

func (w unwrapOnly) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestFlushThroughUnwrap: an event stream is flushed event by event also
// when the embedder wraps the ResponseWriter in a type that flushes only
// through Unwrap; the proxy used to ask for http.Flusher alone, and held
// every event until the stream ended.
func TestFlushThroughUnwrap(t *testing.T) {
	release := make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "data: second\n\n")
	}))
	defer o.Close()
	defer close(release)
	h := newHandler(t, host.Config{Origin: o.URL, Rules: []byte(greeting)})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(unwrapOnly{w}, r)
	}))
	defer front.Close()
	resp, err := http.Get(front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, len("data: first\n\n"))
		n, _ := io.ReadFull(resp.Body, b)
		got <- string(b[:n])
	}()
	select {
	case s := <-got:
		if s != "data: first\n\n" {
			t.Fatalf("first event %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first event was not flushed while the origin held the stream open")
	}
}

// statusError is an in-process upstream's failure that says its status.
type statusError int

func (e statusError) Error() string   { return http.StatusText(int(e)) }
func (e statusError) HTTPStatus() int { return int(e) }
func (e statusError) Unwrap() error   { return http.ErrAbortHandler }

// TestNextFailureStatus: a Next that fails with a status the visitor gets
// it, with a body that names it (a 503 said "502 Bad Gateway").
func TestNextFailureStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		body string
	}{
		{http.ErrAbortHandler, http.StatusBadGateway, "502 Bad Gateway"},
		{statusError(http.StatusServiceUnavailable), http.StatusServiceUnavailable, "503 Service Unavailable"},
		{statusError(http.StatusGatewayTimeout), http.StatusGatewayTimeout, "504 Gateway Timeout"},
	} {
		h := newHandler(t, host.Config{Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(c.err) }), Rules: []byte(greeting)})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != c.code || !strings.HasPrefix(w.Body.String(), c.body) {
			t.Errorf("%v: %d %q, want %d %q", c.err, w.Code, w.Body.String(), c.code, c.body)
		}
	}
}

// TestCloseWaitsForResponsesInFlight: a request holds the plugin until
// its response is written, so Close waits for a response that streams
// after its decision, and says ctx's error when that outlasts ctx; the
// response still ends personalized.
func TestCloseWaitsForResponsesInFlight(t *testing.T) {
	decided := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<html><body><p id="greet">Hello</p>`)
		close(decided) // the decision was made before the request reached Next
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, `</body></html>`)
	})
	h := newHandler(t, host.Config{Next: app, Rules: []byte(greeting)})
	front := httptest.NewServer(h)
	defer front.Close()
	body := make(chan string, 1)
	go func() {
		resp, err := http.Get(front.URL + "/?ref=newsletter")
		if err != nil {
			body <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body <- string(b)
	}()
	<-decided
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close while a response streams: %v, want ctx's error", err)
	}
	if b := <-body; !strings.Contains(b, "Thanks for reading our newsletter") {
		t.Errorf("the response in flight did not end personalized: %q", b)
	}
}
