package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestPruneCache: the cache keeps the files written last, across the
// runtime versions' directories, and leaves alone what the runtime did
// not write: a directory given may be shared.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	var paths []string
	var foreign []string
	for _, f := range []string{"someone-elses-app/data", "wazero-v1.12.0-amd64-linux/notes.txt", "top-level-file"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("keep"), 0o644)
		old := now.Add(-time.Hour)
		os.Chtimes(p, old, old)
		foreign = append(foreign, p)
	}
	for i := range 10 {
		sub := filepath.Join(dir, []string{"wazero-v1.12.0-amd64-linux", "wazero-v1.11.0-amd64-linux"}[i%2])
		os.MkdirAll(sub, 0o755)
		p := filepath.Join(sub, strings.Repeat(string(rune('a'+i%6)), 63)+string(rune('0'+i)))
		if err := os.WriteFile(p, []byte("code"), 0o644); err != nil {
			t.Fatal(err)
		}
		// File i was written i minutes ago.
		os.Chtimes(p, now, now.Add(-time.Duration(i)*time.Minute))
		paths = append(paths, p)
	}
	os.Mkdir(filepath.Join(dir, "wazero-v1.12.0-amd64-linux", "sub"), 0o755)
	for _, keep := range []int{20, 10, 4} {
		pruneCache(dir, keep)
		for i, p := range paths {
			_, err := os.Stat(p)
			if kept := err == nil; kept != (i < keep) {
				t.Errorf("keep %d: file %d (written %d minutes ago) kept: %v", keep, i, i, kept)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "wazero-v1.12.0-amd64-linux", "sub")); err != nil {
		t.Error("a directory in the cache was removed")
	}
	for _, p := range foreign {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s, which the runtime did not write, was removed", p)
		}
	}
}

// TestCacheDirFallsBack: the default cache directory, when it cannot be
// created (a read-only home in a container), leaves the engine with a
// cache in memory; a directory given that cannot be created is an error
// that names it and says what to give.
func TestCacheDirFallsBack(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(file, "cache")) // below a file: cannot be made
	t.Setenv("HOME", filepath.Join(file, "home"))
	e, err := New(Config{})
	if err != nil {
		t.Fatalf("default cache directory not writable: %v", err)
	}
	e.Close(t.Context())
	_, err = New(Config{CacheDir: filepath.Join(file, "wasm")})
	if err == nil || !strings.Contains(err.Error(), "cache directory "+filepath.Join(file, "wasm")) || !strings.Contains(err.Error(), "or - to keep compiled code in memory only") {
		t.Errorf("a cache directory given that cannot be made: %v", err)
	}
}

// TestCacheDirStaysBounded: a process that loads plugin after plugin (a
// rule file edited and reloaded all day) keeps the cache directory to
// the cacheKeep plugins compiled last, not only at its start; the code
// of the plugin loaded last stays.
func TestCacheDirStaysBounded(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(t.Context())
	cached := func() map[string]bool {
		files, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
		set := map[string]bool{}
		for _, f := range files {
			set[f] = true
		}
		return set
	}
	var written []string // by the last load
	for i := range cacheKeep + 8 {
		b, err := guest.Build(guest.Module{
			Manifest: plugin.Manifest{Compiler: "hand-written", Rules: []plugin.Rule{{Name: fmt.Sprintf("version-%d", i), Actions: []plugin.Action{}}}},
			Decide:   guest.Trap(),
		})
		if err != nil {
			t.Fatal(err)
		}
		art, err := plugin.ReadArtifact(b)
		if err != nil {
			t.Fatal(err)
		}
		before := cached()
		m, err := e.Load(t.Context(), art)
		if err != nil {
			t.Fatal(err)
		}
		m.Close(t.Context())
		written = written[:0]
		for f := range cached() {
			if !before[f] {
				written = append(written, f)
			}
		}
	}
	files := cached()
	if len(files) > cacheKeep {
		t.Errorf("the cache directory holds %d compiled plugins after %d loads, want at most %d", len(files), cacheKeep+8, cacheKeep)
	}
	if len(written) == 0 {
		t.Fatal("the last load wrote nothing to the cache")
	}
	for _, f := range written {
		if !files[f] {
			t.Errorf("%s, the code of the plugin loaded last, was removed", f)
		}
	}
}

// TestCacheDirThatCannotBeWritten: a cache directory that can no longer
// be written (removed, its disk full, remounted read-only) costs a
// plugin its saving, not its load: a reload of changed rules compiles
// in memory, and says why its code was not kept.
func TestCacheDirThatCannotBeWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	e, err := New(Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(t.Context())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	b, err := guest.Build(guest.Module{
		Manifest: plugin.Manifest{Compiler: "hand-written", Rules: []plugin.Rule{{Name: "after-the-cache-went", Actions: []plugin.Action{}}}},
		Decide:   guest.MatchAll(plugin.NewLayout(0, 1, 0, 0), 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Load(t.Context(), art)
	if err != nil {
		t.Fatalf("a plugin was refused for a cache directory that cannot be written: %v", err)
	}
	defer m.Close(t.Context())
	var d plugin.Decision
	if err := m.Decide(t.Context(), nil, nil, &d); err != nil || !d.Has(0) {
		t.Errorf("the plugin compiled in memory decided %v, %v", d.Rules(nil), err)
	}
	if m.CacheError() == nil || !strings.Contains(m.CacheError().Error(), dir) {
		t.Errorf("CacheError() = %v, want why the code was not kept in %s", m.CacheError(), dir)
	}
}
