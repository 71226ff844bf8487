package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/server"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// TestCacheDirInMemorySaidOnce: without cache_dir, a user cache
// directory that cannot be used ($HOME unset, read-only, another
// user's: here below a file) leaves compiled code in memory, and bespoke
// says so once at start, with the reason, however many routes: it
// served without a word, and every restart compiled the rules again.
func TestCacheDirInMemorySaidOnce(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer origin.Close()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	writable := t.TempDir()
	const said = "compiled plugin code is kept in memory only"
	for _, tc := range []struct {
		name     string
		cacheDir string
		xdg      string
		home     string
		lines    int
		reason   string
	}{
		{"no user cache directory", "", "", "", 1, "$HOME are defined"},
		{"one below a file", "", filepath.Join(file, "cache"), filepath.Join(file, "home"), 1, "not a directory"},
		{"one that can be written", "", writable, writable, 0, ""},
		{"memory asked for", "-", filepath.Join(file, "cache"), filepath.Join(file, "home"), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			if tc.home == "" {
				os.Unsetenv("HOME")
			}
			cfg := ruleConfig(t, origin.URL, "rules:\n  - name: a\n    actions:\n      - add_class: { select: body, class: x }\n")
			cfg.CacheDir = tc.cacheDir
			cfg.Routes = append(cfg.Routes, config.Route{Name: "b", Path: "/b/", Origin: origin.URL, Rules: cfg.Routes[0].Rules})
			cfg.Defaults()
			var logs syncbuf.Buffer
			srv, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Secret: []byte("0123456789abcdef")})
			if err != nil {
				t.Fatal(err)
			}
			srv.Close(context.Background())
			out := logs.String()
			if n := strings.Count(out, said); n != tc.lines || !strings.Contains(out, tc.reason) {
				t.Errorf("%d lines saying %q, want %d, with %q:\n%s", n, said, tc.lines, tc.reason, out)
			}
		})
	}
}
