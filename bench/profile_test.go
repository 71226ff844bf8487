package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartProfile takes a profile from net/http/pprof's handler, the
// one bespoke's admin listener serves, as -profile does during a
// throughput run, and finds it where the flag says: a gzipped protocol
// buffer, as go tool pprof reads. Without -profile, or for a target with
// no admin listener, it takes none.
func TestStartProfile(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	admin := httptest.NewServer(mux)
	defer admin.Close()

	dir := t.TempDir()
	h := &harness{opts: options{Profile: dir, Duration: time.Second}}
	tg := &target{targetDef: targetDef{Name: "bespoke-seen"}, admin: strings.TrimPrefix(admin.URL, "http://")}
	start := time.Now()
	if err := <-h.startProfile(context.Background(), tg, 2, ""); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the profile took %v: want the run's length, 1s", took)
	}
	// The latency run's profile goes beside the throughput run's.
	if err := <-h.startProfile(context.Background(), tg, 2, "-fixed"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bespoke-seen-r2.pprof", "bespoke-seen-r2-fixed.pprof"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s is not gzipped: % x", name, b[:min(len(b), 8)])
		}
	}

	for _, c := range []struct {
		name string
		h    *harness
		tg   *target
	}{
		{"no -profile", &harness{opts: options{Duration: time.Second}}, tg},
		{"no admin listener", h, &target{targetDef: targetDef{Name: "goproxy"}}},
	} {
		if err := <-c.h.startProfile(context.Background(), c.tg, 1, ""); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "goproxy-r1.pprof")); err == nil {
		t.Error("a target without an admin listener was profiled")
	}
}
