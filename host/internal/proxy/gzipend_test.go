package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
)

const gzipEndRules = `rules:
  - name: r
    actions:
      - set_inner: { select: "#t1", text: Bonjour }
`

// gzipEnd is how an origin's gzip-encoded page ends: the bytes it sends
// (cut from the page's whole gzip stream), how the transfer is framed,
// and whether it ends cleanly (its Content-Length met, its last chunk
// sent) or breaks off.
type gzipEnd struct {
	name    string
	cut     func(gz []byte) []byte
	chunked bool
	// early: the deflate data stops short, not only the trailer.
	early bool
	// broken: the origin announces the whole stream's length, or
	// chunks without the last one, and closes the connection after cut's
	// bytes.
	broken bool
}

func gzipEnds() []gzipEnd {
	noTrailer := func(gz []byte) []byte { return gz[:len(gz)-8] }
	halfTrailer := func(gz []byte) []byte { return gz[:len(gz)-4] }
	early := func(gz []byte) []byte { return gz[:len(gz)/2] }
	return []gzipEnd{
		{name: "no trailer, length", cut: noTrailer},
		{name: "no trailer, chunked", cut: noTrailer, chunked: true},
		{name: "half the trailer, length", cut: halfTrailer},
		{name: "deflate ends early, length", cut: early, early: true},
		{name: "deflate ends early, chunked", cut: early, chunked: true, early: true},
		{name: "broke off, length", cut: early, early: true, broken: true},
		{name: "broke off, chunked", cut: early, chunked: true, early: true, broken: true},
	}
}

// gzipEndOrigin serves page gzip-encoded, ended as c says.
func gzipEndOrigin(page string, c gzipEnd) http.Handler {
	var whole bytes.Buffer
	zw := gzip.NewWriter(&whole)
	io.WriteString(zw, page)
	zw.Close()
	sent := c.cut(whole.Bytes())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/p" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		switch {
		case !c.chunked && c.broken:
			w.Header().Set("Content-Length", fmt.Sprint(whole.Len()))
		case !c.chunked:
			w.Header().Set("Content-Length", fmt.Sprint(len(sent)))
		}
		w.Write(sent)
		w.(http.Flusher).Flush()
		if c.broken {
			// The connection closes with neither the rest of the length
			// nor the last chunk.
			panic(http.ErrAbortHandler)
		}
	})
}

// decodedPrefix is what a gzip decoder makes of the bytes an origin sent
// as c says: all it decoded before the stream's end.
func decodedPrefix(t *testing.T, page string, c gzipEnd) string {
	t.Helper()
	var whole bytes.Buffer
	zw := gzip.NewWriter(&whole)
	io.WriteString(zw, page)
	zw.Close()
	zr, err := gzip.NewReader(bytes.NewReader(c.cut(whole.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("decoding the cut stream: %v, want an unexpected EOF", err)
	}
	return string(b)
}

// TestGzipWithoutTrailer: a gzip-encoded page whose transfer ended
// cleanly, but whose gzip stream lacks its trailer or ends mid-deflate
// (an origin that cut it, or never writes the trailer), is shown by
// browsers as far as it decodes. The proxy, which decodes it to edit
// it, serves it so, edited and encoded whole again. An origin that broke
// off mid-transfer is still one that broke off: a 502, or a cut
// transfer, never a page that looks whole.
func TestGzipWithoutTrailer(t *testing.T) {
	page := brokenPage(40 << 10)
	for _, c := range gzipEnds() {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, gzipEndOrigin(page, c), []byte(gzipEndRules))
			req, _ := http.NewRequest("GET", e.proxy.URL+"/p", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Do(req)
			if err != nil {
				if c.broken {
					return // cut before the headers were read whole
				}
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, readErr := io.ReadAll(resp.Body)
			if c.broken {
				if resp.StatusCode == http.StatusOK && readErr == nil {
					t.Fatalf("a 200 of %d bytes that ended cleanly; want a 502 or a cut transfer", len(raw))
				}
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d; want a 502 or a cut transfer", resp.StatusCode)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || readErr != nil {
				t.Fatalf("status %d, %d bytes, %v; want the page as it decodes", resp.StatusCode, len(raw), readErr)
			}
			got := string(raw)
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(zr)
				if err != nil {
					t.Fatalf("the proxy's gzip stream: %v", err)
				}
				got = string(b)
			}
			want := strings.Replace(decodedPrefix(t, page, c), `<h3 id="t1">Item 1</h3>`, `<h3 id="t1">Bonjour</h3>`, 1)
			if got != want {
				t.Errorf("got %d bytes, want the %d the stream decodes to, edited\n got ...%q\nwant ...%q",
					len(got), len(want), got[max(0, len(got)-80):], want[max(0, len(want)-80):])
			}
		})
	}
}

// TestBrowserGzipWithoutTrailer: for each gzip stream that ends early in
// a transfer that ended cleanly, Chromium shows, through the proxy, the
// document it shows from the origin itself, edited.
func TestBrowserGzipWithoutTrailer(t *testing.T) {
	bin := chromium.Path(t)
	page := brokenPage(40 << 10)
	for _, c := range gzipEnds() {
		if c.broken {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, gzipEndOrigin(page, c), []byte(gzipEndRules))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			direct := chromium.Run(ctx, t, bin, t.TempDir(), "--dump-dom", e.origin.URL+"/p")
			proxied := chromium.Run(ctx, t, bin, t.TempDir(), "--dump-dom", e.proxy.URL+"/p")
			ids := cardIDs(direct)
			if len(ids) < 10 {
				t.Fatalf("Chromium shows %d cards from the origin:\n%.400s", len(ids), direct)
			}
			if got := cardIDs(proxied); !slices.Equal(got, ids) {
				t.Errorf("through the proxy Chromium shows %d cards, from the origin %d", len(got), len(ids))
			}
			if !strings.Contains(proxied, `<h3 id="t1">Bonjour</h3>`) {
				t.Errorf("the page through the proxy is not edited:\n%.400s", proxied)
			}
			want := strings.Replace(direct, `<h3 id="t1">Item 1</h3>`, `<h3 id="t1">Bonjour</h3>`, 1)
			i := 0
			for i < min(len(proxied), len(want)) && proxied[i] == want[i] {
				i++
			}
			// A deflate stream cut mid-block: Go's inflate may stop a
			// symbol short of zlib's, Chromium's (here a character of
			// the last text node, which a zero byte more makes it
			// emit). A stream whole but for its trailer decodes the
			// same.
			slack := 0
			if c.early {
				slack = 8
			}
			if len(want)-len(proxied) > slack || len(proxied) > len(want) || !strings.HasSuffix(proxied, want[len(want)-(len(proxied)-i):]) {
				t.Errorf("through the proxy Chromium builds another document than from the origin, edited (%d and %d bytes), from byte %d:\n got %q\nwant %q",
					len(proxied), len(want), i, proxied[max(0, i-40):min(len(proxied), i+80)], want[max(0, i-40):min(len(want), i+80)])
			}
		})
	}
}
