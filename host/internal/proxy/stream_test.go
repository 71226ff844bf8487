package proxy_test

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// TestRewriteStreams: the visitor receives the rewritten start of a page
// while the origin is still holding back the rest. The origin sends the
// head and the hero, then waits until the client has read the rewritten
// hero: without streaming, neither side would move. The first part is
// smaller than the server's buffers (only a flush sends it), or larger
// (the proxy writes it in one write that passes them, and skips the
// flush).
func TestRewriteStreams(t *testing.T) {
	for _, fillers := range []int{3, 600} {
		t.Run(fmt.Sprint(fillers), func(t *testing.T) { testRewriteStreams(t, fillers) })
	}
}

func testRewriteStreams(t *testing.T, fillers int) {
	release := make(chan struct{})
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>t</title></head><body><h1 id="hero">Hello</h1>`)
		for i := range fillers {
			fmt.Fprintf(w, "<p class=\"filler\">paragraph %d of the first part</p>\n", i)
		}
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(30 * time.Second):
			return
		}
		io.WriteString(w, `<p id="tail">the end</p></body></html>`)
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: hero
    actions:
      - set_inner: { select: "#hero", text: "Bonjour" }
      - set_inner: { select: "#tail", text: "la fin" }
`))
	resp, err := http.Get(e.proxy.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := br.ReadString('\n')
			b.WriteString(line)
			if strings.Contains(b.String(), `<h1 id="hero">Bonjour</h1>`) || err != nil {
				got <- b.String()
				return
			}
		}
	}()
	select {
	case first := <-got:
		if !strings.Contains(first, "Bonjour") {
			t.Fatalf("the body ended before the rewritten hero: %q", first)
		}
	case <-time.After(20 * time.Second):
		close(release)
		t.Fatal("the rewritten start of the page did not arrive while the origin held the rest")
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), `<p id="tail">la fin</p>`) {
		t.Errorf("the end of the page was not rewritten: %q", rest[max(0, len(rest)-80):])
	}
}

// TestRewriteLimitIsAPlace: a page streamed past max_rewrite_bytes is
// rewritten up to that many bytes of it, wherever the origin's writes
// and the proxy's reads fall: an element before the limit is edited in
// every response, one past it in none, and every response is the same.
func TestRewriteLimitIsAPlace(t *testing.T) {
	const limit = 64 << 10
	var page strings.Builder
	page.WriteString("<!doctype html><html><body><h1>early</h1>")
	for page.Len() < limit-200 {
		page.WriteString("<p>filler paragraph of text</p>\n")
	}
	for page.Len() < limit+1000 {
		page.WriteString("<p>filler paragraph of text</p>\n")
	}
	page.WriteString("<h1>late</h1>")
	for page.Len() < limit+40<<10 {
		page.WriteString("<p>filler paragraph of text</p>\n")
	}
	page.WriteString("</body></html>")
	body := page.String()
	var n atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		rng := rand.New(rand.NewPCG(uint64(n.Add(1)), 3))
		for rest := body; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(48<<10))
			io.WriteString(w, rest[:k])
			w.(http.Flusher).Flush()
			rest = rest[k:]
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		}
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: h1
    actions:
      - set_inner: { select: h1, text: edited }
`), func(c *proxy.Config) { c.MaxRewriteBytes = limit })
	first := ""
	for i := range 12 {
		r := e.get(t, "/")
		if r.StatusCode != 200 || !strings.Contains(r.body, "<h1>edited</h1>") || !strings.Contains(r.body, "<h1>late</h1>") {
			t.Fatalf("response %d: %d, early edited %v, late untouched %v", i, r.StatusCode,
				strings.Contains(r.body, "<h1>edited</h1>"), strings.Contains(r.body, "<h1>late</h1>"))
		}
		if i == 0 {
			first = r.body
		} else if r.body != first {
			t.Fatalf("response %d differs from the first", i)
		}
	}
}

// TestPassedBodyStreamsWhileTheOriginPauses: a body of known length that
// passes untouched (a report, an export) reaches the visitor as it
// comes. The origin sends its headers, and some of the body or none,
// then waits until the visitor has what it sent (or, should that never
// come, until its own time runs out): the visitor must have it before
// the origin goes on. net/http would otherwise hold the headers and the
// first 2 KiB of the body until the rest came. A request with a body
// goes to the origin through Go's own transport, whose body cannot tell
// when it would wait: what came with a short read leaves before the
// next read.
func TestPassedBodyStreamsWhileTheOriginPauses(t *testing.T) {
	for _, c := range []struct {
		name   string
		method string
		rules  bool // a site is loaded (its rules edit pages, not this)
		first  int  // bytes of the body before the pause
	}{
		{name: "headers only", first: 0},
		{name: "headers and the start", first: 100},
		{name: "past the server's buffers", first: 20 << 10},
		{name: "with rules, headers only", rules: true, first: 0},
		{name: "with rules, headers and the start", rules: true, first: 100},
		{name: "POST, headers and the start", method: "POST", rules: true, first: 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.Repeat("date,item,total\n2026-01-01,widget,12\n", 2000)
			release := make(chan struct{})
			var resumed atomic.Bool
			origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/csv")
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, body[:c.first])
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				case <-time.After(5 * time.Second):
				}
				resumed.Store(true)
				io.WriteString(w, body[c.first:])
			})
			var rules []byte
			if c.rules {
				rules = []byte("rules:\n  - name: hero\n    actions:\n      - set_inner: { select: \"#hero\", text: Bonjour }\n")
			}
			e := newEnv(t, origin, rules)
			var reqBody io.Reader
			if c.method == "POST" {
				reqBody = strings.NewReader("from=2026-01-01")
			}
			req, _ := http.NewRequest(cmp.Or(c.method, "GET"), e.proxy.URL+"/report.csv", reqBody)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			defer client.CloseIdleConnections()
			resp, err := client.Do(req)
			if err != nil {
				close(release)
				t.Fatal(err)
			}
			defer resp.Body.Close()
			start := make([]byte, c.first)
			_, err = io.ReadFull(resp.Body, start)
			early := !resumed.Load()
			close(release)
			if err != nil {
				t.Fatalf("the start of the body: %v", err)
			}
			if !early {
				t.Errorf("the headers and the %d bytes the origin had sent reached the visitor only after the origin went on", c.first)
			}
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(start) + string(rest); got != body {
				t.Errorf("body of %d bytes, want the origin's %d", len(got), len(body))
			}
			if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(body)) {
				t.Errorf("Content-Length %q, want %d", cl, len(body))
			}
		})
	}
}
