package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// TestTypesBrowsersDoNotRead: a page whose Content-Type browsers cannot
// read as a type, a space past ASCII (U+00A0, U+3000 in UTF-8) written
// around text/html, is shown as no page (Chromium offers it as a file),
// and passes as the origin sent it; the type, read as browsers read it,
// is rewritten.
func TestTypesBrowsersDoNotRead(t *testing.T) {
	src := `rules:
  - name: r
    actions:
      - set_inner: { select: "#t", text: "edited" }
`
	const page = `<!doctype html><p id=t>origin</p>`
	for _, c := range []struct {
		ct     string
		edited bool
	}{
		{"text/html", true},
		{"TEXT/HTML ; charset=utf-8", true},
		{"text/html\t;charset=utf-8", true},
		{"text/html\u00a0", false},
		{"text/html\u00a0; charset=utf-8", false},
		{"\u00a0text/html", false},
		{"text/html\u3000", false},
		{"text/html\u0085", false},
		{"text/html\u2028;charset=utf-8", false},
	} {
		t.Run(fmt.Sprintf("%q", c.ct), func(t *testing.T) {
			u := startProxyWith(t, src, reqctx.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{c.ct}
				io.WriteString(w, page)
			}))
			resp, err := http.Get(u + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := strings.Contains(string(body), "edited"); got != c.edited || !c.edited && string(body) != page {
				t.Errorf("edited %v, want %v: %q", got, c.edited, body)
			}
		})
	}
}
