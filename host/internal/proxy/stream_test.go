package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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
