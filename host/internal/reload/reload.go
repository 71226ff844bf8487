// Package reload swaps a proxy's plugin without failing a request: the new
// plugin is loaded and warmed beside the old one, swapped in atomically, and
// the old one is closed when its last decision ends. A plugin that fails to
// load is rejected with its error and the old one keeps serving.
package reload

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/site"
)

// Loader loads a new generation of the plugin.
type Loader func(ctx context.Context) (*site.Site, error)

// Target is what a Reloader swaps plugins into (a *proxy.Proxy).
type Target interface {
	Swap(*site.Site) *site.Site
}

// Reloader loads plugins into a target. It is safe for concurrent use;
// reloads are serialized.
type Reloader struct {
	target Target
	load   Loader
	log    *slog.Logger

	mu   sync.Mutex
	gen  atomic.Int64
	last atomic.Pointer[Result]

	// OnResult, when not nil, is called after every reload attempt.
	OnResult func(Result)
}

// Result is the outcome of one reload.
type Result struct {
	Generation int64 // the generation serving after the attempt
	Err        error // nil when the new plugin was loaded
	At         time.Time
	Took       time.Duration
}

// New returns a reloader; log may be nil.
func New(target Target, load Loader, log *slog.Logger) *Reloader {
	if log == nil {
		log = slog.Default()
	}
	return &Reloader{target: target, load: load, log: log}
}

// Generation returns the generation currently serving (0 before the first
// successful load).
func (r *Reloader) Generation() int64 { return r.gen.Load() }

// Last returns the result of the latest reload, or nil.
func (r *Reloader) Last() *Result { return r.last.Load() }

// Reload loads a new generation and swaps it in. On error the serving
// plugin is left in place and the error returned.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	s, err := r.load(ctx)
	res := Result{At: start, Took: time.Since(start), Err: err, Generation: r.gen.Load()}
	if err != nil {
		r.log.Error("plugin rejected; the previous one keeps serving", "err", err, "generation", res.Generation)
	} else {
		s.Generation = r.gen.Add(1)
		res.Generation = s.Generation
		if old := r.target.Swap(s); old != nil {
			old.Retire()
		}
		r.log.Info("plugin loaded", "plugin", s.Name, "generation", s.Generation, "rules", len(s.Manifest().Rules), "took", res.Took)
		if ok, why := s.Module().Bounded(); !ok {
			r.log.Warn("plugin runs with a deadline per decision", "plugin", s.Name, "why", why)
		}
	}
	r.last.Store(&res)
	if r.OnResult != nil {
		r.OnResult(res)
	}
	return err
}

// Watch reloads whenever one of the files changes (content, not just
// modification time), checking every interval until ctx is done.
//
// Watch is usually started after the first load, in its own goroutine:
// a file written between that load and the goroutine's first look would
// otherwise be taken for the loaded one and never reloaded. So a file
// modified since the last reload attempt started is reloaded at once.
// Filesystems record modification times coarsely (to the kernel's clock
// tick, a few milliseconds behind the time a load starts at, or to the
// second, or two), so "since" reaches back mtimeSlack: a file written
// just before the last load may be loaded twice, never missed.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, files ...string) {
	sums := make([][32]byte, len(files))
	stale := false
	var since time.Time
	if last := r.last.Load(); last != nil {
		since = last.At.Add(-mtimeSlack)
	}
	for i, f := range files {
		sums[i] = fileSum(f)
		if fi, err := os.Stat(f); err == nil && !since.IsZero() && !fi.ModTime().Before(since) {
			stale = true
		}
	}
	if stale {
		r.Reload(ctx)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed := false
		for i, f := range files {
			if s := fileSum(f); s != sums[i] {
				sums[i] = s
				changed = true
			}
		}
		if changed {
			r.Reload(ctx)
		}
	}
}

// mtimeSlack is how much earlier than the last load's start a file's
// modification time may say it was written, and still be after it.
const mtimeSlack = 2 * time.Second

func fileSum(path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}
