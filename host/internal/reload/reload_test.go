package reload_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reload"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
)

// slot is a Target: it holds the serving site, as the proxy does.
type slot struct{ s atomic.Pointer[site.Site] }

func (t *slot) Swap(s *site.Site) *site.Site { return t.s.Swap(s) }

func rulesNamed(name string) string {
	return "rules:\n  - name: " + name + "\n    actions:\n      - add_class: { select: body, class: x }\n"
}

// setup returns a rule file, the target, and a reloader loading the file.
func setup(t *testing.T) (string, *slot, *reload.Reloader) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(rulesNamed("first")), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	target := &slot{}
	t.Cleanup(func() {
		if s := target.s.Load(); s != nil {
			s.Close(context.Background())
		}
		eng.Close(context.Background())
	})
	load := func(ctx context.Context) (*site.Site, error) {
		return site.LoadFile(ctx, eng, path, reqctx.Config{})
	}
	r := reload.New(target, load, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Track(path)
	return path, target, r
}

func ruleName(t *testing.T, target *slot) string {
	t.Helper()
	s := target.s.Load()
	if s == nil || len(s.Manifest().Rules) == 0 {
		return ""
	}
	return s.Manifest().Rules[0].Name
}

func TestReloadSwapsAndRetires(t *testing.T) {
	path, target, r := setup(t)
	ctx := context.Background()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	first := target.s.Load()
	if r.Generation() != 1 || ruleName(t, target) != "first" {
		t.Fatalf("generation %d, rule %q", r.Generation(), ruleName(t, target))
	}
	// A request holding the first plugin keeps it open across the reload.
	if !first.Hold() {
		t.Fatal("could not hold the serving plugin")
	}
	os.WriteFile(path, []byte(rulesNamed("second")), 0o644)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Generation() != 2 || ruleName(t, target) != "second" {
		t.Fatalf("generation %d, rule %q", r.Generation(), ruleName(t, target))
	}
	if first.Hold() {
		t.Error("a retired plugin accepted a new holder")
	}
	first.Drop()
	if got := r.Last(); got == nil || got.Err != nil || got.Generation != 2 {
		t.Errorf("last result %+v", got)
	}
}

// TestReloadHonoursContext: a reload asked with a context already done
// loads nothing and returns the context's error.
func TestReloadHonoursContext(t *testing.T) {
	path, target, r := setup(t)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(rulesNamed("second")), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Reload(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ruleName(t, target) != "first" || r.Generation() != 1 {
		t.Fatalf("serving %q generation %d after a cancelled reload", ruleName(t, target), r.Generation())
	}
}

func TestBadPluginKeepsTheOldOne(t *testing.T) {
	path, target, r := setup(t)
	ctx := context.Background()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("rules:\n  - name: x\n    when: geo.contry == \"FR\"\n    actions: [remove: p]\n"), 0o644)
	var seen reload.Result
	r.OnResult = func(res reload.Result) { seen = res }
	err := r.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:3:11") {
		t.Fatalf("err = %v, want the position of the mistake", err)
	}
	if ruleName(t, target) != "first" || r.Generation() != 1 {
		t.Fatalf("serving %q generation %d after a rejected reload", ruleName(t, target), r.Generation())
	}
	if seen.Err == nil || seen.Generation != 1 {
		t.Errorf("OnResult got %+v", seen)
	}
}

// TestPanickingLoadKeepsTheOldOne: a load that panics (a bug, in the
// compiler or in loading) is a rejected plugin, as a file that does not
// compile is: the reloader, and the watcher's goroutine with it, go on,
// and the plugin serving stays.
func TestPanickingLoadKeepsTheOldOne(t *testing.T) {
	path, target, r := setup(t)
	ctx := context.Background()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	calls := 0
	p := reload.New(target, func(ctx context.Context) (*site.Site, error) {
		if calls++; calls == 1 {
			var s []int
			_ = s[calls]
		}
		return site.LoadFile(ctx, eng, path, reqctx.Config{})
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err = p.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "a bug in bespoke: runtime error: index out of range") {
		t.Fatalf("err = %v, want the panic as an error", err)
	}
	if ruleName(t, target) != "first" {
		t.Fatalf("serving %q after a load that panicked", ruleName(t, target))
	}
	// The next load, once whatever panicked is gone, swaps as usual.
	os.WriteFile(path, []byte(rulesNamed("second")), 0o644)
	if err := p.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if ruleName(t, target) != "second" {
		t.Fatalf("serving %q, want the second plugin", ruleName(t, target))
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	path, target, r := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Watch(ctx, 10*time.Millisecond); close(done) }()
	// Same content, new modification time: not a change.
	os.WriteFile(path, []byte(rulesNamed("first")), 0o644)
	os.WriteFile(path, []byte(rulesNamed("watched")), 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for ruleName(t, target) != "watched" {
		if time.Now().After(deadline) {
			t.Fatal("the change was not picked up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	// The watcher may have read the file half written (a rejected or an
	// empty plugin) before the whole of it: at least one reload, then.
	if r.Generation() < 2 {
		t.Errorf("generation %d, want at least 2", r.Generation())
	}
}

// TestWatchSeesChangesBeforeItStarts: a file written after the first load
// and before the watcher's first look is reloaded, not taken for the
// loaded one, even when the filesystem dates it before the load started
// (a coarse clock: the tick, or the second).
func TestWatchSeesChangesBeforeItStarts(t *testing.T) {
	path, target, r := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(rulesNamed("early")), 0o644); err != nil {
		t.Fatal(err)
	}
	coarse := r.Last().At.Add(-time.Second).Truncate(time.Second)
	if err := os.Chtimes(path, coarse, coarse); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Watch(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for ruleName(t, target) != "early" {
		if time.Now().After(deadline) {
			t.Fatal("a change made before the watcher started was not picked up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestWatchLoadsOnce: a file written just before the first load (as a
// deployment writes the rules, then starts bespoke) is the one loaded,
// and the watcher's first look does not load it again, whatever its
// modification time says; nor after a reload that something else asked
// for. The watcher's context is done before it starts, so it looks once
// and returns: any reload it made would be its only attempt, in Last.
func TestWatchLoadsOnce(t *testing.T) {
	path, _, r := setup(t)
	if err := os.WriteFile(path, []byte(rulesNamed("fresh")), 0o644); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(time.Second) // a clock ahead, or a coarse one
	if err := os.Chtimes(path, soon, soon); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"after the first load", "after a reload by signal"} {
		loaded := r.Last()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r.Watch(ctx, time.Hour)
		if r.Last() != loaded || r.Generation() != loaded.Generation {
			t.Errorf("%s: the watcher reloaded an unchanged file (generation %d, want %d)", step, r.Generation(), loaded.Generation)
		}
		if err := os.WriteFile(path, []byte(rulesNamed("signalled")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchWithoutFiles: a reloader that tracks no file (an embedded
// plugin) has nothing to watch, and Watch returns at once.
func TestWatchWithoutFiles(t *testing.T) {
	r := reload.New(&slot{}, func(context.Context) (*site.Site, error) { return nil, nil }, nil)
	done := make(chan struct{})
	go func() { r.Watch(context.Background(), time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch without files did not return")
	}
}

// TestWatchWaitsForTheWholeFile: a file written in place, in pieces, is
// loaded once it reads the same twice; a first piece that compiles on
// its own (a rule file cut between two rules) never serves.
func TestWatchWaitsForTheWholeFile(t *testing.T) {
	path, target, r := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	piece := rulesNamed("first-half")
	whole := piece + "  - name: second-half\n    actions:\n      - add_class: { select: body, class: y }\n"
	if err := os.WriteFile(path, []byte(piece), 0o644); err != nil {
		t.Fatal(err)
	}
	looks := 0
	reload.SetSettle(r, func() {
		// The writer's second piece lands while the watcher waits.
		if looks++; looks == 1 {
			if err := os.WriteFile(path, []byte(whole), 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	done := make(chan struct{})
	go func() { r.Watch(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.Generation() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the change was not loaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if n := len(target.s.Load().Manifest().Rules); n != 2 || r.Generation() != 2 || looks != 2 {
		t.Errorf("serving %d rules at generation %d after %d looks; want the whole file's 2, loaded once, after it read the same twice", n, r.Generation(), looks)
	}
}

// TestLoadLogsWarnings: a rule file that loads with warnings (a rule
// that never matches) names them in the log, where an operator deploying
// it looks.
func TestLoadLogsWarnings(t *testing.T) {
	path, target, _ := setup(t)
	src := "rules:\n  - name: nowhere\n    when: geo.country == \"FR\" and geo.country == \"DE\"\n    actions:\n      - add_class: { select: body, class: x }\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	var log strings.Builder
	r := reload.New(target, func(ctx context.Context) (*site.Site, error) {
		return site.LoadFile(ctx, eng, path, reqctx.Config{})
	}, slog.New(slog.NewTextHandler(&log, nil)))
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `level=WARN msg="rule file warning"`) || !strings.Contains(log.String(), `rule \"nowhere\" never matches`) {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestWatchLeavesWhatAReloadLoaded: a change the watcher saw, then loaded
// by a reload something else asked for while the watcher waited for the
// file to settle (SIGHUP, the admin API), is not loaded a second time by
// the watcher: no generation without a change, and a file rejected is
// logged and counted once.
func TestWatchLeavesWhatAReloadLoaded(t *testing.T) {
	for _, content := range []string{rulesNamed("second"), "rules:\n  - name: x\n    when: geo.contry == \"FR\"\n    actions: [remove: p]\n"} {
		path, _, r := setup(t)
		ctx := context.Background()
		if err := r.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		var results []reload.Result
		r.OnResult = func(res reload.Result) { results = append(results, res) }
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		reload.SetSettle(r, func() {
			// The operator's reload lands while the watcher waits.
			if len(results) == 0 {
				r.Reload(ctx)
			}
		})
		reload.Look(r, ctx)
		if len(results) != 1 {
			t.Errorf("%d loads of one change (%+v), want 1", len(results), results)
		}
		if good := content == rulesNamed("second"); good && r.Generation() != 2 {
			t.Errorf("generation %d after one change, want 2", r.Generation())
		}
	}
}

// TestWatchEndsAtClose: a watcher ends when its reloader is closed, its
// file unchanged and its context still running: a configuration replaced
// (bespoke serve --config reloaded) closes its routes' reloaders while
// the process goes on, and each watcher left would read its file every
// interval for as long.
func TestWatchEndsAtClose(t *testing.T) {
	_, _, r := setup(t)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		r.Watch(context.Background(), time.Hour)
		close(done)
	}()
	r.Close()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the watcher went on after Close")
	}
}

// TestWatchSkipsALookItCannotRead: a look at the rule file that fails
// for want of the process's resources (every file descriptor in use
// under load: "too many open files") says nothing of the file, and
// neither loads nor rejects anything; a file removed is a change, which
// the load then reports.
func TestWatchSkipsALookItCannotRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		reload bool
	}{
		{"out of file descriptors", &os.PathError{Op: "open", Path: "rules.yaml", Err: syscall.EMFILE}, false},
		{"the system out of files", &os.PathError{Op: "open", Path: "rules.yaml", Err: syscall.ENFILE}, false},
		{"out of memory", &os.PathError{Op: "read", Path: "rules.yaml", Err: syscall.ENOMEM}, false},
		{"the file removed", &os.PathError{Op: "open", Path: "rules.yaml", Err: syscall.ENOENT}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, r := setup(t)
			reload.SetSettle(r, func() {})
			if err := r.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			loaded := r.Last()
			reload.SetReadFile(r, func(string) ([]byte, error) { return nil, tc.err })
			if err := reload.Look(r, context.Background()); err != nil && !tc.reload {
				t.Fatal(err)
			}
			if tried := r.Last() != loaded; tried != tc.reload {
				t.Fatalf("a look that read %v: reload tried %v, want %v (generation %d, last error %v)", tc.err, tried, tc.reload, r.Generation(), r.Last().Err)
			}
			if tc.reload {
				return
			}
			// Readable again, the same: nothing to load either.
			reload.SetReadFile(r, os.ReadFile)
			if err := reload.Look(r, context.Background()); err != nil {
				t.Fatal(err)
			}
			if r.Last() != loaded || r.Generation() != loaded.Generation {
				t.Errorf("the unchanged file was loaded again once readable: generation %d, want %d", r.Generation(), loaded.Generation)
			}
		})
	}
}
