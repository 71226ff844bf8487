package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// edgeRules edit every HTML page (the body's class) and every JSON
// document, so that a response that passes untouched does so because of
// what it is, not because nothing applied.
const edgeRules = `rules:
  - name: everywhere
    actions:
      - add_class: { select: body, class: edited }
      - json_set: { path: edited, json: "true" }
`

// edgeServer serves origin through the server with edgeRules, access
// logs on (their handler wraps the ResponseWriter).
func edgeServer(t *testing.T, origin http.Handler) *running {
	t.Helper()
	o := httptest.NewServer(origin)
	t.Cleanup(o.Close)
	cfg := ruleConfig(t, o.URL, edgeRules)
	access := true
	cfg.Log.Access = &access
	cfg.Log.DebugHeaders = true
	return start(t, cfg)
}

// TestUpgradePassesThrough: a WebSocket handshake goes to the origin and
// its 101 comes back, after which the connection is the origin's, both
// ways, byte for byte, while the rules edit every page. The test of the
// same name in host covers the handler; this one, what `bespoke serve`
// wraps it in (the request-smuggling guard, which stops following an
// upgraded connection, and the access log).
func TestUpgradePassesThrough(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		// Echo lines, upper-cased, until the client closes.
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(strings.ToUpper(line))
			brw.Flush()
		}
	})
	u, _ := url.Parse(edgeServer(t, origin).url)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", u.Host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("status %d, Upgrade %q, want 101 and websocket", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	for _, msg := range []string{"hello\n", "<body>not html\n"} {
		io.WriteString(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got != strings.ToUpper(msg) {
			t.Errorf("echo of %q: %q", msg, got)
		}
	}
}

// TestEventStreamStreams: a text/event-stream response reaches the
// client event by event, while the origin is still sending: the origin
// waits for the client to have read the first event before it sends the
// second.
func TestEventStreamStreams(t *testing.T) {
	release := make(chan struct{})
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(30 * time.Second):
			return
		}
		io.WriteString(w, "data: second\n\n")
	})
	resp, err := http.Get(edgeServer(t, origin).url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: first\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(20 * time.Second):
		close(release)
		t.Fatal("the first event did not arrive while the origin held the stream open")
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest of the stream %q", rest)
	}
}

// TestZstdPreferringOrigin: browsers offer zstd and deflate, which the
// proxy cannot undo; an origin that prefers zstd would answer in it and
// the page would go out unpersonalized. The origin is offered what the
// proxy can undo instead, in the visitor's order, and the visitor still
// gets the origin's gzip back, edited.
func TestZstdPreferringOrigin(t *testing.T) {
	page := `<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1>` + strings.Repeat("<p>text</p>", 50) + `</body></html>`
	offered := make(chan string, 4)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae := r.Header.Get("Accept-Encoding")
		offered <- ae
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch {
		case strings.Contains(ae, "zstd"):
			w.Header().Set("Content-Encoding", "zstd")
			io.WriteString(w, "(zstd frames the proxy cannot read)")
		case strings.Contains(ae, "gzip"):
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped(t, []byte(page)))
		default:
			io.WriteString(w, page)
		}
	})
	r := edgeServer(t, origin)
	for _, tc := range []struct{ accept, offered, encoding string }{
		{"gzip, deflate, br, zstd", "gzip, br", "gzip"},
		{"zstd", "identity", ""},
	} {
		g := do(t, "GET", r.url+"/", "Accept-Encoding", tc.accept)
		if got := <-offered; got != tc.offered {
			t.Errorf("visitor accepts %q: the origin was offered %q, want %q", tc.accept, got, tc.offered)
		}
		body := g.body
		if g.Header.Get("Content-Encoding") != tc.encoding {
			t.Fatalf("visitor accepts %q: Content-Encoding %q, want %q", tc.accept, g.Header.Get("Content-Encoding"), tc.encoding)
		}
		if tc.encoding == "gzip" {
			body = gunzip(t, body)
		}
		if !bytes.Contains(body, []byte(`<body class="edited">`)) {
			t.Errorf("visitor accepts %q: the page was not edited: %.200q", tc.accept, body)
		}
	}
}

// TestNoTransformPassesUntouched: a page whose origin says
// Cache-Control: no-transform, and one served as XHTML, reach the visitor
// as the origin sent them, and are counted; the next page, without
// either, is edited.
func TestNoTransformPassesUntouched(t *testing.T) {
	page := `<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1></body></html>`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/signed":
			w.Header().Set("Cache-Control", "public, max-age=60, no-transform")
		case "/page.xhtml":
			w.Header().Set("Content-Type", "application/xhtml+xml")
		}
		io.WriteString(w, page)
	})
	r := edgeServer(t, origin)
	g := do(t, "GET", r.url+"/signed")
	if g.err != nil || string(g.body) != page || g.Header.Get("Cache-Control") != "public, max-age=60, no-transform" {
		t.Errorf("no-transform page: %q, Cache-Control %q, err %v; want it as the origin sent it", g.body, g.Header.Get("Cache-Control"), g.err)
	}
	if u := g.Header.Get("X-Bespoke-Untouched"); u != "no_transform" {
		t.Errorf("X-Bespoke-Untouched %q, want no_transform (debug headers are on)", u)
	}
	limitCount(t, r.admin, "no_transform", "untouched")
	if g := do(t, "GET", r.url+"/page.xhtml"); string(g.body) != page || g.Header.Get("X-Bespoke-Untouched") != "xhtml" {
		t.Errorf("an XHTML page was changed: %q (X-Bespoke-Untouched %q)", g.body, g.Header.Get("X-Bespoke-Untouched"))
	}
	limitCount(t, r.admin, "xhtml", "untouched")
	if g := do(t, "GET", r.url+"/other"); !bytes.Contains(g.body, []byte(`<body class="edited">`)) || g.Header.Get("X-Bespoke-Untouched") != "" {
		t.Errorf("a page without no-transform was not edited: %q (X-Bespoke-Untouched %q)", g.body, g.Header.Get("X-Bespoke-Untouched"))
	}
}

// TestJSONWithByteOrderMark: a JSON document some servers send after a
// UTF-8 byte order mark (which browsers' decoders drop) is edited like
// any other, and sent without the mark, with its new length; left
// unchanged, it is the origin's bytes.
func TestJSONWithByteOrderMark(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Path == "/edited.json" {
			io.WriteString(w, "\uFEFF{\"items\":[1,2]}")
			return
		}
		io.WriteString(w, "\uFEFF[1,2]") // no field to set: unchanged
	})
	r := edgeServer(t, origin)
	g := do(t, "GET", r.url+"/edited.json")
	if want := `{"items":[1,2],"edited":true}`; g.err != nil || string(g.body) != want || g.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
		t.Errorf("got %q (Content-Length %q, err %v), want %q", g.body, g.Header.Get("Content-Length"), g.err, want)
	}
	if g := do(t, "GET", r.url+"/same.json"); string(g.body) != "\uFEFF[1,2]" || g.Header.Get("X-Bespoke-Untouched") != "" {
		t.Errorf("a document the edit leaves as it was: %q (X-Bespoke-Untouched %q)", g.body, g.Header.Get("X-Bespoke-Untouched"))
	}
}

// TestDeclinedH2CUpgrade: a client that offers HTTP/2 by Upgrade: h2c
// (curl --http2 on an http:// URL) is answered over HTTP/1.1, as net/http
// takes no such upgrade, with or without --h2c; the offer is this hop's
// and does not reach the origin, and the connection goes on carrying
// HTTP/1.1 requests, a chunked one too, which the request-smuggling
// guard had refused once it saw an Upgrade header.
func TestDeclinedH2CUpgrade(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upgrade=%q settings=%q body=%q", r.Header.Get("Upgrade"), r.Header.Get("HTTP2-Settings"), b)
	})
	u, _ := url.Parse(edgeServer(t, origin).url)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /first HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", u.Host)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 || string(body) != `upgrade="" settings="" body=""` {
		t.Fatalf("the upgrade offer: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	fmt.Fprintf(conn, "POST /second HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", u.Host)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `upgrade="" settings="" body="hello"` {
		t.Fatalf("a chunked request after the declined upgrade: %d %q", resp.StatusCode, body)
	}
}

// TestTrailersOfAHeldPage: a page held back whole while it is rewritten
// (for its seen cookie) keeps the origin's trailers over HTTP/1.1 as over
// HTTP/2: it went out with a Content-Length over HTTP/1.1, which leaves
// net/http no way to send them, while its Trailer header still announced
// them.
func TestTrailersOfAHeldPage(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, `<!doctype html><html><body><ul><li data-id="a">A</li><li data-id="b">B</li></ul></body></html>`)
		w.Header().Set("X-Checksum", "abc123")
	}))
	t.Cleanup(origin.Close)
	cfg := ruleConfig(t, origin.URL, `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "li", id: "@data-id", demote: true }
      - add_class: { select: body, class: edited }
`)
	cfg.Seen = config.Seen{}
	cfg.H2C = true
	r := start(t, cfg)
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	defer h2.CloseIdleConnections()
	for _, tr := range []*http.Transport{{}, h2} {
		for i := range 3 { // the first view, and views spliced from its edit map
			resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get(r.url + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !strings.Contains(string(body), `class="edited"`) {
				t.Fatalf("%s, view %d: %v %q", resp.Proto, i, err, body)
			}
			if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
				t.Errorf("%s, view %d: trailer %q, Content-Length %d, Set-Cookie %q", resp.Proto, i, got, resp.ContentLength, resp.Header.Values("Set-Cookie"))
			}
		}
	}
}

// TestCutTransferOfAnHTTP10Visitor: a rewritten page goes to an HTTP/1.0
// client without a length, its end marked by the connection's close;
// when its origin breaks off mid-body, the connection is reset rather
// than closed, through the server's wrappers of it (the smuggling
// guard, the connection limit), so that the client does not take the
// part for the page. The test of the same name in proxy covers the
// other ways a transfer is cut.
func TestCutTransferOfAnHTTP10Visitor(t *testing.T) {
	page := `<!doctype html><html><head><meta charset="utf-8"></head><body>` + strings.Repeat("<p>filler of the page</p>\n", 8000) + `</body></html>`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", fmt.Sprint(len(page)))
		io.WriteString(w, page[:len(page)/2])
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	})
	u, _ := url.Parse(edgeServer(t, origin).url)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET /page HTTP/1.0\r\nHost: %s\r\n\r\n", u.Host)
	got, err := io.ReadAll(conn)
	if head, _, _ := strings.Cut(string(got), "\r\n\r\n"); !strings.HasPrefix(head, "HTTP/1.0 200 ") || !strings.Contains(string(got), `<body class="edited">`) {
		t.Fatalf("want the start of the rewritten page, got %q", head)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the cut transfer ended with %v after %d bytes, want a reset", err, len(got))
	}
}

// TestChunkedHTTP10Request: an HTTP/1.0 request whose body is chunked
// has a framing HTTP/1.0 does not have (RFC 9112 6.1): net/http reads no
// body for it, and the origin got the POST empty, answered as any other,
// the visitor's upload gone, on a connection kept open to read the
// chunks as the next request. It is refused with a 400, as nginx does,
// reaches no origin, and the connection closes.
func TestChunkedHTTP10Request(t *testing.T) {
	var got []string
	var mu sync.Mutex
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	u, _ := url.Parse(edgeServer(t, origin).url)
	for _, tt := range []struct{ name, head string }{
		{"chunked", "Transfer-Encoding: chunked\r\n"},
		{"chunked, keep-alive", "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n"},
		{"with a length too", "Transfer-Encoding: chunked\r\nContent-Length: 15\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(conn, "POST /form HTTP/1.0\r\nHost: %s\r\n%s\r\n5\r\nhello\r\n0\r\n\r\n", u.Host, tt.head)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("the connection stayed open (%v)", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) > 0 {
				t.Errorf("the origin got %q", got)
			}
		})
	}
}
