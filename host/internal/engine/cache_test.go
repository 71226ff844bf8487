package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
