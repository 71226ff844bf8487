package proxy_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// brokenResponse is what a brokenOrigin sends for a path: a response of
// Content-Type ctype whose body is body, framed by a Content-Length (or
// in one chunk, when chunked) that announces all of it, of which only
// the first sent bytes go before the connection is closed. sent < 0
// sends the whole body. etag, when set, is sent as the ETag.
type brokenResponse struct {
	ctype, body, etag string
	chunked           bool
	sent              int
}

// brokenOrigin is an origin on a raw socket that breaks off its
// responses where told: status line, headers, part of the body, then a
// closed connection, as an origin that crashes mid-response. Its
// responses change per request (then), so that a page can first be seen
// whole (for its edit map) and then broken.
type brokenOrigin struct {
	ln   net.Listener
	mu   sync.Mutex
	then map[string][]brokenResponse
}

func newBrokenOrigin(t *testing.T) *brokenOrigin {
	t.Helper()
	o := &brokenOrigin{then: map[string][]brokenResponse{}}
	o.ln = testproc.Serve(t, o.serve)
	return o
}

// set makes the next requests of path get rs, one each; the last one
// stays for the requests after.
func (o *brokenOrigin) set(path string, rs ...brokenResponse) {
	o.mu.Lock()
	o.then[path] = rs
	o.mu.Unlock()
}

func (o *brokenOrigin) url() *url.URL {
	return &url.URL{Scheme: "http", Host: o.ln.Addr().String()}
}

func (o *brokenOrigin) serve(c net.Conn) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	o.mu.Lock()
	rs := o.then[req.URL.Path]
	var r brokenResponse
	if len(rs) > 0 {
		r = rs[0]
		if len(rs) > 1 {
			o.then[req.URL.Path] = rs[1:]
		}
	}
	o.mu.Unlock()
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + r.ctype + "\r\n")
	if r.etag != "" {
		b.WriteString("ETag: " + r.etag + "\r\n")
	}
	body := r.body
	if r.chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(&b, "%x\r\n", len(body))
		if r.sent < 0 {
			body += "\r\n0\r\n\r\n"
		}
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	}
	if r.sent >= 0 {
		body = body[:r.sent]
	}
	b.WriteString(body)
	// One write: the headers and what is sent of the body arrive
	// together, and the close right after them, as from an origin that
	// crashed while it wrote the page.
	io.WriteString(c, b.String())
}

// brokenPage is a page of cards, with or without a charset in its
// <meta>, of about n bytes.
func brokenPage(n int) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><title>Shop</title></head><body><ul class="cards">`)
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "\n  <li class=\"card\" data-item-id=\"sku-%d\"><h3 id=\"t%d\">Item %d</h3><p>%s</p></li>", i, i, i, strings.Repeat("Lorem ipsum dolor sit amet. ", 4))
	}
	b.WriteString("\n</ul></body></html>")
	return b.String()
}

const brokenRules = `rules:
  - name: r
    actions:
      - set_inner: { select: "#t1", text: Bonjour }
      - hide_seen: { select: "li.card", id: "@data-item-id", keep_at_least: 2 }
      - json_set: { path: banner.title, value: "Hi" }
`

// TestOriginBreaksOffBeforeAnythingIsSent: an origin that sends its
// status, its headers and the start of a body, then closes the
// connection, is answered with a 502 when none of the response has
// reached the visitor yet (the start of a page held while it is
// rewritten, for its seen cookie, or for a JSON document's edits),
// logged, counted and access-logged as an origin failure; once some of
// it has reached the visitor, the transfer is cut, and the access log
// says what was sent (its status), as aborted.
func TestOriginBreaksOffBeforeAnythingIsSent(t *testing.T) {
	page := brokenPage(40 << 10)
	doc := `{"items":[{"id":"sku-1"},{"id":"sku-2"}],"banner":{"title":"Hello"}}`
	html, htmlUTF8 := "text/html", "text/html; charset=utf-8"
	cookieStore := func(c *proxy.Config) {
		c.Seen, _ = seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	}
	maps := func(c *proxy.Config) { c.EditMapCache = 4 << 20 }
	for _, c := range []struct {
		name string
		opts []func(*proxy.Config)
		// first are responses the page gets before (whole: its edit
		// map is made), then the broken one.
		first []brokenResponse
		then  brokenResponse
		// want is "502", or "cut": a 200 whose body breaks off, with
		// at least some bytes.
		want string
	}{
		// The page names no charset: it is held until the 1024 bytes
		// the browser's prescan reads have come.
		{name: "edited, length, start held", then: brokenResponse{ctype: html, body: page, sent: 300}, want: "502"},
		{name: "edited, chunked, start held", then: brokenResponse{ctype: html, body: page, chunked: true, sent: 300}, want: "502"},
		{name: "edited, no byte of the body", then: brokenResponse{ctype: htmlUTF8, body: page, sent: 0}, want: "502"},
		{name: "edited, chunked, no byte of the body", then: brokenResponse{ctype: htmlUTF8, body: page, chunked: true, sent: 0}, want: "502"},
		// Held whole for its seen cookie (hide_seen's list).
		{name: "held for the cookie, length", opts: []func(*proxy.Config){cookieStore}, then: brokenResponse{ctype: htmlUTF8, body: page, sent: 20 << 10}, want: "502"},
		{name: "held for the cookie, chunked", opts: []func(*proxy.Config){cookieStore}, then: brokenResponse{ctype: htmlUTF8, body: page, chunked: true, sent: 20 << 10}, want: "502"},
		// Spliced from its edit map, made from the page whole first.
		{
			name: "spliced, no byte of the body", opts: []func(*proxy.Config){maps},
			first: []brokenResponse{{ctype: htmlUTF8, body: page, etag: `"v1"`, sent: -1}},
			then:  brokenResponse{ctype: htmlUTF8, body: page, etag: `"v1"`, sent: 0}, want: "502",
		},
		{
			name: "spliced, held for the cookie", opts: []func(*proxy.Config){maps, cookieStore},
			first: []brokenResponse{{ctype: htmlUTF8, body: page, etag: `"v1"`, sent: -1}},
			then:  brokenResponse{ctype: htmlUTF8, body: page, etag: `"v1"`, sent: 20 << 10}, want: "502",
		},
		// A JSON document is read whole before it is edited.
		{name: "JSON, length", then: brokenResponse{ctype: "application/json", body: doc, sent: 20}, want: "502"},
		{name: "JSON, chunked", then: brokenResponse{ctype: "application/json", body: doc, chunked: true, sent: 20}, want: "502"},
		// Passed as it comes: a body that breaks off before its first
		// byte is a 502; after, the transfer is cut. Its headers go
		// when the origin pauses after them, so a break that reaches
		// the proxy a moment after the headers may find them sent.
		{name: "passed, no byte of the body", then: brokenResponse{ctype: "text/plain", body: page, sent: 0}, want: "either"},
		{name: "passed, length", then: brokenResponse{ctype: "text/plain", body: page, sent: 300}, want: "cut"},
		// A body of unknown length passed as it comes has its headers
		// sent at once (ReverseProxy flushes them for an event stream
		// or a long poll): a 502 only when the break comes first.
		{name: "passed, chunked", then: brokenResponse{ctype: "text/plain", body: page, chunked: true, sent: 300}, want: "cut"},
		{name: "passed, chunked, no byte of the body", then: brokenResponse{ctype: "text/plain", body: page, chunked: true, sent: 0}, want: "either"},
		// The start of the page rewritten went before the break.
		{name: "edited, start sent", then: brokenResponse{ctype: htmlUTF8, body: page, sent: 20 << 10}, want: "cut"},
	} {
		t.Run(c.name, func(t *testing.T) {
			origin := newBrokenOrigin(t)
			var logs syncbuf.Buffer
			m := metrics.New()
			opts := append([]func(*proxy.Config){func(cfg *proxy.Config) {
				cfg.Origin, cfg.Route, cfg.Metrics, cfg.AccessLog = origin.url(), "shop", m, true
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}}, c.opts...)
			e := newEnv(t, http.NotFoundHandler(), []byte(brokenRules), opts...)
			origin.set("/p", append(c.first, c.then)...)
			access := regexp.MustCompile(`msg=request route=shop method=GET path=/p status=(\d+) .*outcome=(\S+)`)
			// accessLines waits for n access lines and returns them: a
			// request's line is written once its handler returned, which
			// may be after its visitor read the response.
			accessLines := func(n int) [][]string {
				deadline := time.Now().Add(5 * time.Second)
				for {
					if all := access.FindAllStringSubmatch(logs.String(), -1); len(all) >= n {
						return all
					}
					if time.Now().After(deadline) {
						t.Fatalf("not %d access lines:\n%s", n, logs.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			for range c.first {
				if _, _, err := e.fetch(t, "GET", "/p", nil); err != nil {
					t.Fatalf("the page whole: %v", err)
				}
			}
			// The whole pages' lines first, so that the last line is the
			// broken page's.
			accessLines(len(c.first))
			resp, body, err := e.fetch(t, "GET", "/p", nil)
			want := c.want
			if want == "either" {
				if resp == nil {
					t.Fatalf("no response (%v)", err)
				}
				want = "cut"
				if resp.StatusCode == http.StatusBadGateway {
					want = "502"
				}
			}
			status := 0
			switch want {
			case "502":
				if err != nil {
					t.Fatalf("no response (%v); want a 502", err)
				}
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "502 Bad Gateway") {
					t.Fatalf("status %d, body %q; want a 502", resp.StatusCode, body)
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
				if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
					t.Errorf("the 502 sets cookies of the page that broke off: %q", sc)
				}
				status = 502
			case "cut":
				if resp == nil || err == nil {
					t.Fatalf("response %v, error %v, %d bytes; want the start of the page, then a cut", resp, err, len(body))
				}
				if resp.StatusCode != 200 || body == "" && c.then.sent > 0 {
					t.Fatalf("status %d, %d bytes; want the start of the page, then a cut", resp.StatusCode, len(body))
				}
				status = 200
			}
			outcome := metrics.UpstreamError
			if want == "cut" {
				outcome = metrics.Aborted
			}
			all := accessLines(len(c.first) + 1)
			line := all[len(all)-1]
			if line[1] != fmt.Sprint(status) || line[2] != outcome {
				t.Errorf("access log says status=%s outcome=%s; want %d and %s:\n%s", line[1], line[2], status, outcome, logs.String())
			}
			errs, aborted := 0.0, 0.0
			if outcome == metrics.UpstreamError {
				errs = 1
			} else {
				aborted = 1
			}
			if got := requestsTotal(t, m, "shop", metrics.UpstreamError); got != errs {
				t.Errorf("bespoke_requests_total{outcome=upstream_error} = %v, want %v", got, errs)
			}
			if got := requestsTotal(t, m, "shop", metrics.Aborted); got != aborted {
				t.Errorf("bespoke_requests_total{outcome=aborted} = %v, want %v", got, aborted)
			}
			if got := routeCounter(t, m, "bespoke_upstream_errors_total", "shop"); got != errs {
				t.Errorf("bespoke_upstream_errors_total = %v, want %v", got, errs)
			}
			if got := e.p.Stats().UpstreamErrors.Load(); got != int64(errs) {
				t.Errorf("Stats().UpstreamErrors = %d, want %v", got, errs)
			}
			if want == "502" && !strings.Contains(logs.String(), "level=WARN msg=\"the origin broke off its response before any of it was sent\" route=shop path=/p") {
				t.Errorf("no warning that the origin broke off:\n%s", logs.String())
			}
		})
	}
}

// TestCutTransferOfAnHTTP10Visitor: an HTTP/1.0 client gets a body of
// unknown length (a rewritten page, a chunked one passed as it comes)
// delimited by the close of the connection, so a transfer cut mid-body
// (the origin broke off; the page's compressed bytes stopped decoding)
// ended as a whole response does, and the client (ab, a health check,
// an nginx in front with its default proxy_http_version 1.0) took the
// part for the page. Such a connection is reset instead, which the
// client reads as the error it is; one that ended whole still closes.
func TestCutTransferOfAnHTTP10Visitor(t *testing.T) {
	page := brokenPage(40 << 10)
	htmlUTF8 := "text/html; charset=utf-8"
	// A compressed page whose bytes turn to garbage once its start has
	// gone to the visitor: the origin pauses there.
	var raw strings.Builder
	for i := 0; raw.Len() < 200<<10; i++ {
		fmt.Fprintf(&raw, "<p>%x</p>\n", uint64(i)*0x9E3779B97F4A7C15)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, `<!doctype html><html><body><h3 id="t1">Hello</h3>`+raw.String()[:30<<10])
	zw.Flush()
	pause := gz.Len()
	io.WriteString(zw, raw.String()[30<<10:])
	zw.Close()
	corrupt := gz.Bytes()
	for i := pause + 100; i < len(corrupt); i += 97 {
		corrupt[i] ^= 0x5a
	}
	garbled := testproc.Serve(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", htmlUTF8, len(corrupt))
		c.Write(corrupt[:pause])
		time.Sleep(200 * time.Millisecond)
		c.Write(corrupt[pause:])
	})
	for _, c := range []struct {
		name   string
		origin func(t *testing.T) *url.URL
		// cut: the transfer breaks off.
		cut bool
	}{
		{"edited, whole", func(t *testing.T) *url.URL {
			o := newBrokenOrigin(t)
			o.set("/p", brokenResponse{ctype: htmlUTF8, body: page, sent: -1})
			return o.url()
		}, false},
		{"edited, the origin breaks off", func(t *testing.T) *url.URL {
			o := newBrokenOrigin(t)
			o.set("/p", brokenResponse{ctype: htmlUTF8, body: page, sent: 20 << 10})
			return o.url()
		}, true},
		{"passed, chunked, the origin breaks off", func(t *testing.T) *url.URL {
			o := newBrokenOrigin(t)
			o.set("/p", brokenResponse{ctype: "text/plain", body: page, chunked: true, sent: 300})
			return o.url()
		}, true},
		{"edited, compressed, stops decoding", func(t *testing.T) *url.URL {
			return &url.URL{Scheme: "http", Host: garbled.Addr().String()}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, http.NotFoundHandler(), []byte(brokenRules), func(cfg *proxy.Config) { cfg.Origin = c.origin(t) })
			conn, err := net.Dial("tcp", e.proxy.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(conn, "GET /p HTTP/1.0\r\nHost: shop.example\r\nAccept-Encoding: gzip\r\n\r\n")
			got, err := io.ReadAll(conn)
			head, _, _ := strings.Cut(string(got), "\r\n\r\n")
			if !strings.HasPrefix(head, "HTTP/1.0 200 ") || strings.Contains(head, "Content-Length") {
				t.Fatalf("want a 200 of unknown length, got %q", head)
			}
			switch {
			case c.cut && !errors.Is(err, syscall.ECONNRESET):
				t.Errorf("the cut transfer ended with %v after %d bytes, want a reset", err, len(got))
			case !c.cut && err != nil:
				t.Errorf("the whole page ended with %v", err)
			}
		})
	}
}
