package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeldBytesMetric: what the bodies held whole take is on the admin
// listener, with limits.held_bytes, and back at 0 once they are sent.
func TestHeldBytesMetric(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"banner":{"title":"Hi"},"pad":"%s"}`, strings.Repeat("x", 512<<10))
	}))
	defer origin.Close()
	cfg := faultConfig(t, origin.URL)
	rules := filepath.Join(t.TempDir(), "json.yaml")
	os.WriteFile(rules, []byte("rules:\n  - name: j\n    actions:\n      - json_set: { path: banner.title, value: Hello }\n"), 0o644)
	cfg.Routes[0].Rules = rules
	cfg.Limits.HeldBytes = 3 << 20
	r := start(t, cfg)
	resp, err := http.Get(r.url + "/api")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"title":"Hello"`) {
		t.Errorf("the document was not edited: %.60s", b)
	}
	m := scrapeUntil(t, r.admin, "bespoke_held_bytes 0\n")
	if got := sample(m, "bespoke_held_bytes"); got != 0 {
		t.Errorf("bespoke_held_bytes = %v once the document was sent, want 0", got)
	}
	if got := sample(m, "bespoke_held_bytes_limit"); got != 3<<20 {
		t.Errorf("bespoke_held_bytes_limit = %v, want %d", got, 3<<20)
	}
}
