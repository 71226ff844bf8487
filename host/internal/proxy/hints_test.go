package proxy_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// TestEarlyHintsPassThrough: an origin's 103 Early Hints reach the
// visitor before the page, the page is still edited, and the access log
// has the final status, not the hint's.
func TestEarlyHintsPassThrough(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1></body></html>`)
	})
	var logs syncbuf.Buffer
	e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - add_class: { select: body, class: edited }\n"), func(c *proxy.Config) {
		c.AccessLog = true
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	var hints []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if h.Get("Link") == "</style.css>; rel=preload; as=style" {
			hints = append(hints, code)
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", e.proxy.URL+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !slices.Equal(hints, []int{http.StatusEarlyHints}) || resp.StatusCode != 200 || !strings.Contains(string(body), `<body class="edited">`) {
		t.Errorf("hints %v, status %d, body %q", hints, resp.StatusCode, body)
	}
	if log := logs.String(); !strings.Contains(log, "status=200") {
		t.Errorf("the access log does not have the final status:\n%s", log)
	}
}

// TestEarlyHintsKeepTheHeadersSetBefore: the headers a server's
// handlers set on the response before the proxy (Caddy's header
// directive and its Server and Alt-Svc, an embedding program's session
// cookie or HSTS) go out on the final response when the origin sent 103
// Early Hints first, as they do without: httputil.ReverseProxy clears
// the response's header map after each informational response it
// forwards, and they were lost with the hint's (the cookie going out on
// the 103 alone, which browsers ignore). So on the 502 of an origin that
// broke off after its hint.
func TestEarlyHintsKeepTheHeadersSetBefore(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		if r.URL.Path == "/broken" {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1></body></html>`)
	})
	e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - add_class: { select: body, class: edited }\n"))
	e.proxy.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		w.Header().Add("Set-Cookie", "session=abc; HttpOnly")
		e.p.ServeHTTP(w, r)
	})
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", http.StatusOK, `<body class="edited">`},
		{"/broken", http.StatusBadGateway, "502 Bad Gateway"},
	} {
		var hints []int
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, code)
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", e.proxy.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !slices.Equal(hints, []int{http.StatusEarlyHints}) || resp.StatusCode != c.status || !strings.Contains(string(body), c.body) {
			t.Fatalf("%s: hints %v, status %d, body %q", c.path, hints, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
			t.Errorf("%s: Strict-Transport-Security %q, want the one set before the proxy", c.path, got)
		}
		if got := resp.Header.Values("Set-Cookie"); !slices.Contains(got, "session=abc; HttpOnly") {
			t.Errorf("%s: Set-Cookie %q, want the one set before the proxy", c.path, got)
		}
	}
}

// TestNoEarlyHintsToHTTP10: HTTP/1.0 has no informational responses,
// and a client of it reads a 103 as the response (RFC 9110 15.2: a
// server must not send one to it); the origin, asked in HTTP/1.1, sends
// its hint anyway, and it was passed on. An HTTP/1.0 visitor gets the
// final response alone, with the headers set before the proxy.
func TestNoEarlyHintsToHTTP10(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1></body></html>`)
	})
	e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - add_class: { select: body, class: edited }\n"))
	e.proxy.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		e.p.ServeHTTP(w, r)
	})
	conn, err := net.Dial("tcp", e.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.0\r\nHost: shop.example\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<body class="edited">`) {
		t.Fatalf("the first response is a %d: %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
		t.Errorf("Strict-Transport-Security %q, want the one set before the proxy", got)
	}
}
