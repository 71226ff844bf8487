// Package reload swaps a proxy's plugin without failing a request: the new
// plugin is loaded and warmed beside the old one, swapped in atomically, and
// the old one is closed when its last decision ends. A plugin that fails to
// load is rejected with its error and the old one keeps serving.
package reload

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
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

	mu sync.Mutex
	// closed: Close was called; a reload after it loads nothing. done
	// is closed then too, ending the watcher.
	closed bool
	done   chan struct{}
	// served: a load succeeded (a failed one then leaves a plugin
	// serving).
	served bool
	gen    atomic.Int64
	last   atomic.Pointer[Result]
	// files are what a load reads (see Track), read their content as the
	// last load began (nil before one).
	files []string
	read  [][32]byte
	// settle, in tests, replaces the wait between two looks at a
	// changed file; readFile, in tests, replaces os.ReadFile.
	settle   func()
	readFile func(string) ([]byte, error)

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
	return &Reloader{target: target, load: load, log: log, done: make(chan struct{})}
}

// Generation returns the generation currently serving (0 before the first
// successful load).
func (r *Reloader) Generation() int64 { return r.gen.Load() }

// Continue makes the first load generation gen+1: the route's plugin
// had generation gen in the configuration this one replaces, and its
// generations go on from there (bespoke_plugin_generation, the status).
// Call it before the first Reload.
func (r *Reloader) Continue(gen int64) { r.gen.Store(gen) }

// Last returns the result of the latest reload, or nil.
func (r *Reloader) Last() *Result { return r.last.Load() }

// Track names the files a load reads, for Watch; call it before the
// first Reload. Every reload then records their content as it begins,
// so that Watch reloads exactly when a file's content differs from what
// the last load read: a file written just before a load is not loaded
// twice, and one written during it or before the watcher's first look
// is not missed. (A file's modification time cannot tell: filesystems
// record it to the clock tick, or to the second.)
func (r *Reloader) Track(files ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files = files
}

// ErrClosed is returned by Reload after Close.
var ErrClosed = errors.New("reload: closed")

// Close ends the reloader's use: it waits for a reload in flight, and
// every Reload after it returns ErrClosed without loading. Whoever owns
// the engine plugins load into closes the reloader first, so that no load
// (a watcher's, a signal's) compiles into an engine being closed. A
// watcher ends.
func (r *Reloader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
}

// Reload loads a new generation and swaps it in. On error the serving
// plugin is left in place and the error returned; after Close it returns
// ErrClosed, and with ctx done, ctx's error, without loading.
func (r *Reloader) Reload(ctx context.Context) error { return r.reload(ctx, false) }

// reload is Reload; changed: only when a tracked file's content differs
// from what the last load read (the watcher's reload), so that a change
// another reload loaded while the watcher waited for the file to settle
// is not loaded again, a new generation of the same rules, or a file
// rejected logged and counted twice.
func (r *Reloader) reload(ctx context.Context, changed bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		// Given up on while it waited for another reload: nothing is
		// loaded, and nothing is recorded as tried.
		return err
	}
	if len(r.files) > 0 {
		// Before the load reads them: a write in between reads as a
		// change, and reloads once more, rather than being missed.
		now, ok := r.sumFiles(r.files)
		switch {
		case changed && (!ok || slices.Equal(now, r.read)):
			return nil
		case ok:
			// (Not read: what was read stays what changes count
			// from, and a reload asked for loads all the same.)
			r.read = now
		}
	}
	start := time.Now()
	s, err := r.safeLoad(ctx)
	res := Result{At: start, Took: time.Since(start), Err: err, Generation: r.gen.Load()}
	switch {
	case err != nil && !r.served:
		// The first load: its caller reports the error (bespoke serve
		// prints it and exits), and no plugin keeps serving.
	case err != nil:
		r.log.Error("plugin rejected; the previous one keeps serving", "err", err, "generation", res.Generation)
	default:
		r.served = true
		s.Generation = r.gen.Add(1)
		res.Generation = s.Generation
		if old := r.target.Swap(s); old != nil {
			old.Retire()
		}
		r.log.Info("plugin loaded", "plugin", s.Name, "generation", s.Generation, "rules", len(s.Manifest().Rules), "took", res.Took)
		for _, w := range s.Warnings {
			r.log.Warn("rule file warning", "plugin", s.Name, "warning", w)
		}
		if err := s.Module().CacheError(); err != nil {
			r.log.Warn("compiled code not kept in the cache directory: the plugin was compiled in memory", "plugin", s.Name, "err", err)
		}
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

// safeLoad runs the loader, a panic in which is a rejected plugin: the
// one serving goes on, as it does when a file does not compile.
func (r *Reloader) safeLoad(ctx context.Context) (s *site.Site, err error) {
	defer func() {
		if v := recover(); v != nil {
			s, err = nil, fmt.Errorf("loading the plugin failed, a bug in bespoke: %v", v)
			r.log.Error("plugin load panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	return r.load(ctx)
}

// Watch reloads whenever the content of a tracked file (see Track)
// differs from what the last load read, whatever started that load (the
// watcher, a signal, the admin API), checking at once and then every
// interval until ctx is done. It is usually started after the first
// load, in its own goroutine.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	r.mu.Lock()
	files := r.files
	r.mu.Unlock()
	if len(files) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if r.look(ctx, files, min(interval, settleTime)) == ErrClosed {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.done:
			return
		case <-t.C:
		}
	}
}

// look reloads when the content of files differs from what the last
// load read, once they read the same twice, settle apart.
func (r *Reloader) look(ctx context.Context, files []string, settle time.Duration) error {
	now, ok := r.sumFiles(files)
	if !ok || !r.changed(now) {
		return nil
	}
	r.settled(ctx, files, settle)
	return r.reload(ctx, true)
}

// settleTime is how long a changed file must stay the same before it is
// loaded (the watch interval when shorter), and maxSettle how many times
// the watcher waits for it. A script that writes a rule file in place,
// rule by rule, pauses between its writes; at 50 ms, a file written a
// rule every 100 ms was served with part of its rules, and the parts
// that did not compile were logged as failed reloads.
const (
	settleTime = time.Second
	maxSettle  = 20
)

// settled waits until the files read the same twice, d apart (at most
// maxSettle times): a file being written in place (truncated, then
// written in pieces, as many editors and scripts save) may read as a
// shorter rule file that compiles, and would serve, until the next look,
// a plugin with rules missing.
func (r *Reloader) settled(ctx context.Context, files []string, d time.Duration) {
	before, _ := r.sumFiles(files)
	for range maxSettle {
		if r.settle != nil {
			r.settle()
		} else {
			select {
			case <-ctx.Done():
				return
			case <-r.done:
				return
			case <-time.After(d):
			}
		}
		now, ok := r.sumFiles(files)
		if ok && slices.Equal(now, before) {
			return
		}
		before = now
	}
}

// changed reports whether the tracked files' content, now, differs from
// what the last load read. Before any load, now is where changes count
// from.
func (r *Reloader) changed(now [][32]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil {
		r.read = now
		return false
	}
	return !slices.Equal(now, r.read)
}

// sumFiles returns the digests of files' contents, that of a file that
// cannot be read (removed, not allowed) all zeros, a content of its own
// that a load then reports. ok is false when a file could not be read
// for want of the process's resources (file descriptors, memory), which
// says nothing of the file: that look is skipped, and the next sees it.
// (Taken for a change, a watch look under a load that used every file
// descriptor was logged at Error as a plugin rejected, "open rules.yaml:
// too many open files", counted, and the file loaded again once it could
// be read, a new generation of the same rules.)
func (r *Reloader) sumFiles(files []string) (sums [][32]byte, ok bool) {
	read := r.readFile
	if read == nil {
		read = os.ReadFile
	}
	sums = make([][32]byte, len(files))
	for i, f := range files {
		b, err := read(f)
		switch {
		case err == nil:
			sums[i] = sha256.Sum256(b)
		case outOfResources(err):
			return nil, false
		}
	}
	return sums, true
}

// outOfResources reports whether err says the process, or the system,
// ran out of what opening or reading a file takes, rather than anything
// of the file.
func outOfResources(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
