// Package engine runs rule modules: it compiles an artifact once (with a
// file-backed compilation cache), keeps a bounded pool of warm instances,
// and per request writes the Context into an instance's memory, makes one
// call, and reads the Decision back.
//
// A module whose running time is bounded (compiled by bespoke in this
// process, or verified by package internal/bounded, as a compiled .wasm file
// is) runs without termination checks; any other module runs with them
// and a deadline per decision. An instance whose call fails (a trap, a
// guest error, a timeout) is closed and never returned to the pool. A
// Module can be retired while requests are in flight: it is closed when
// the last of them ends.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Config configures an Engine. The zero Config is usable: see each field
// for what zero means.
type Config struct {
	// CacheDir is where compiled machine code is kept between runs, so a
	// restart or reload of a known artifact skips compilation. Empty means
	// the user's cache directory (bespoke/wasm under os.UserCacheDir), or
	// memory only when there is none or it cannot be created (a read-only
	// container); "-" means memory only. A directory given that cannot be
	// created is an error. It keeps the code of the cacheKeep plugins
	// written last: each edit of a rule file is a new plugin.
	CacheDir string
	// PoolSize bounds the instances of one module, and so the decisions
	// made at once. 0 means 2 × GOMAXPROCS.
	PoolSize int
	// Warm is how many instances are created when a module loads, so that
	// the first requests do not pay for instantiation. 0 means 1.
	Warm int
	// MemoryLimitPages caps each instance's linear memory in 64 KiB pages.
	// 0 means 64 (4 MiB), far above what rule modules use.
	MemoryLimitPages uint32
	// DecideTimeout bounds one decision of a module that may loop (one
	// outside the bounded subset, see package internal/bounded, or any
	// module with AlwaysInterrupt). An instance still running past it is
	// closed and the request is served unpersonalized. It also bounds,
	// for every module, how long a decision waits for an instance to
	// come free (ErrBusy). 0 means 50 ms.
	DecideTimeout time.Duration
	// AlwaysInterrupt applies DecideTimeout to every module, including
	// compiled rules and verified modules, whose running time is already
	// bounded by construction.
	AlwaysInterrupt bool
	// Stats, when not nil, accumulates the counters of every module the
	// engine loads, so that they survive reloads; nil gives each module
	// counters of its own.
	Stats *Stats
}

func (c Config) withDefaults() Config {
	if c.PoolSize <= 0 {
		c.PoolSize = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Warm <= 0 {
		c.Warm = 1
	}
	c.Warm = min(c.Warm, c.PoolSize)
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = 64
	}
	if c.DecideTimeout <= 0 {
		c.DecideTimeout = 50 * time.Millisecond
	}
	return c
}

// Engine loads modules. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	cache wazero.CompilationCache
	// dir is the cache directory, "" when the cache is in memory;
	// dirErr says why the default one is not used (see CacheDirError).
	dir    string
	dirErr error
	// mem is the cache in memory of the plugins compiled when dir could
	// not be written (see Module.CacheError); made at the first.
	memOnce sync.Once
	mem     wazero.CompilationCache
}

// New returns an engine. It fails only when the cache directory cannot be
// created.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg}
	dir := cfg.CacheDir
	if dir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(d, "bespoke", "wasm")
		} else {
			dir, e.dirErr = "-", fmt.Errorf("no user cache directory: %w", err)
		}
	}
	if dir != "-" {
		c, err := wazero.NewCompilationCacheWithDir(dir)
		switch {
		case err == nil:
			pruneCache(dir, cacheKeep)
			e.cache, e.dir = c, dir
			return e, nil
		case cfg.CacheDir != "":
			return nil, fmt.Errorf("cache directory %s: %w (give a directory bespoke may write, or - to keep compiled code in memory only)", dir, err)
		}
		// The default place cannot be written: the cache is only a
		// saving, so memory it is.
		e.dirErr = fmt.Errorf("user cache directory %s: %w", dir, err)
	}
	e.cache = wazero.NewCompilationCache()
	return e, nil
}

// CacheDirError says why compiled code is kept in memory only when no
// cache directory was given (Config.CacheDir empty): the user's cache
// directory is not defined ($HOME unset) or cannot be written (a
// read-only home, another user's). It is nil when that directory is
// used, or one was given ("-" for memory).
func (e *Engine) CacheDirError() error { return e.dirErr }

// isDigestName reports whether name is a SHA-256 digest in hex, as the
// runtime names the modules it caches.
func isDigestName(name string) bool {
	if len(name) != 64 {
		return false
	}
	for i := range len(name) {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// cacheKeep is how many compiled plugins a cache directory keeps.
const cacheKeep = 64

// pruneCache removes from the compilation cache in dir all but the keep
// files written last. The runtime writes a file a module it compiles and
// never removes one, so that without pruning a rule file edited and
// reloaded all day would fill the disk with the code of every version:
// it runs when an engine starts and after each load.
// A file in use is only read at load; one removed is compiled and written
// again at the next load that wants it. The runtime keeps a directory a
// version of itself: those of others are pruned alike, as they age.
func pruneCache(dir string, keep int) {
	type entry struct {
		path string
		mod  time.Time
	}
	var files []entry
	subs, _ := os.ReadDir(dir)
	for _, sub := range subs {
		// Only what the runtime wrote: a directory a version
		// (wazero-v1.12.0-amd64-linux), a file a module, named by its
		// digest. A directory given may hold other files: they stay.
		if !sub.IsDir() || !strings.HasPrefix(sub.Name(), "wazero-") {
			continue
		}
		ents, _ := os.ReadDir(filepath.Join(dir, sub.Name()))
		for _, f := range ents {
			if !isDigestName(f.Name()) {
				continue
			}
			if info, err := f.Info(); err == nil && info.Mode().IsRegular() {
				files = append(files, entry{filepath.Join(dir, sub.Name(), f.Name()), info.ModTime()})
			}
		}
	}
	if len(files) <= keep {
		return
	}
	slices.SortFunc(files, func(a, b entry) int { return b.mod.Compare(a.mod) })
	for _, f := range files[keep:] {
		os.Remove(f.path)
	}
}

// Close releases the compilation cache. Modules loaded by e must be closed
// first.
func (e *Engine) Close(ctx context.Context) error {
	if e.mem != nil {
		e.mem.Close(ctx)
	}
	return e.cache.Close(ctx)
}

// memCache returns the engine's cache in memory, for the plugins its
// cache directory could not keep.
func (e *Engine) memCache() wazero.CompilationCache {
	e.memOnce.Do(func() { e.mem = wazero.NewCompilationCache() })
	return e.mem
}

// Module is a loaded artifact with its pool of instances. It is safe for
// concurrent use.
type Module struct {
	cfg      Config
	manifest *plugin.Manifest
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	patterns []*regexp.Regexp
	interns  []interner // per slot

	// interrupt is set for modules that may loop: they run with wazero's
	// termination checks and a deadline per decision. unbounded says why.
	interrupt bool
	unbounded error
	// maxValue, for a module without checks, is the longest value it may
	// be given (bounded.Result.MaxValue); -1 is no bound.
	maxValue int64
	// patternSize is each pattern's program size, what regex_match
	// costs per byte of its value.
	patternSize []int
	imports     []string // host functions the module imports

	idle  chan *instance
	slots chan struct{} // one token per live instance

	// cacheErr says why the module's code was compiled in memory, not
	// kept in the cache directory (see CacheError).
	cacheErr error

	inflight atomic.Int64
	retired  atomic.Bool
	closing  atomic.Bool // set before the runtime closes
	closed   sync.Once
	closeErr error

	stats *Stats
}

// Stats are a module's counters since it loaded.
type Stats struct {
	Decisions  atomic.Int64 // successful decisions
	Failures   atomic.Int64 // traps, guest errors and timeouts
	Timeouts   atomic.Int64 // failures that were timeouts
	Instances  atomic.Int64 // instances created
	Live       atomic.Int64 // instances alive now
	Discarded  atomic.Int64 // instances closed after a failure
	Waits      atomic.Int64 // acquisitions that had to wait for an instance
	Busy       atomic.Int64 // waits that ended with no instance (ErrBusy)
	Oversized  atomic.Int64 // decisions refused a value too long (ErrValueTooLong)
	LiveMemory atomic.Int64 // bytes of linear memory held by live instances
}

// Load compiles an artifact and warms its pool. It fails with a clear error
// when the module does not satisfy the ABI.
func (e *Engine) Load(ctx context.Context, art *plugin.Artifact) (m *Module, err error) {
	// A panic of the runtime's validator, compiler or instantiation on a
	// malformed module (a plugin file damaged or forged in a way the
	// checks miss) is the load's error: on the watcher's goroutine it
	// would end the process that serves the previous plugin.
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("plugin refused: the runtime failed on it (%v): the file is damaged or not a plugin", p)
		}
	}()
	m, err = e.load(ctx, art)
	if err == nil && e.dir != "" {
		// Each new plugin (each edit of a rule file, reloaded) wrote its
		// code: the directory keeps to cacheKeep over a process's life,
		// not only from its start.
		pruneCache(e.dir, cacheKeep)
	}
	return m, err
}

func (e *Engine) load(ctx context.Context, art *plugin.Artifact) (*Module, error) {
	cfg := e.cfg
	m := &Module{
		cfg:      cfg,
		manifest: art.Manifest,
		idle:     make(chan *instance, cfg.PoolSize),
		slots:    make(chan struct{}, cfg.PoolSize),
		stats:    cfg.Stats,
	}
	if m.stats == nil {
		m.stats = &Stats{}
	}
	if err := bounded.Admit(art.Wasm); err != nil {
		return nil, fmt.Errorf("plugin refused: %w", err)
	}
	for _, s := range art.Manifest.Slots {
		m.interns = append(m.interns, newInterner(art.Manifest.Symbols, s.Symbols))
	}
	for _, p := range art.Manifest.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("plugin pattern %q: %w", p, err)
		}
		m.patterns = append(m.patterns, re)
		m.patternSize = append(m.patternSize, bounded.PatternSize(p))
	}
	// A module the verifier finds in the bounded subset (rules compiled
	// in this process or read from a file, a hand-written guest that
	// keeps to it) has no unbounded loop: its time is bounded by its size
	// and the lengths of the values it reads, so it runs without
	// termination checks (which cost a goroutine and a timer per call),
	// and is not given a value longer than keeps it within
	// bounded.MaxCost (see Decide). One whose contains tests and regexes
	// cost so much per byte that a value of MinValueBound bytes would go
	// past it, and any module outside the subset, which may loop, get
	// checks and a deadline.
	m.maxValue = -1
	switch {
	case cfg.AlwaysInterrupt:
		m.unbounded = errAlwaysInterrupt
	default:
		var res *bounded.Result
		res, m.unbounded = bounded.Verify(art.Wasm, art.Manifest)
		if m.unbounded == nil {
			m.maxValue = res.MaxValue()
			if m.maxValue >= 0 && m.maxValue < MinValueBound {
				m.unbounded = fmt.Errorf("%w: its tests of values cost %d instructions per byte, and a value of %d bytes could take more than the bounded subset's time", ErrValueCost, res.PerByte, MinValueBound)
				m.maxValue = -1
			}
		}
	}
	m.interrupt = m.unbounded != nil
	// The runtime checks for the deadline only at the head of a loop: a
	// module that may run long without one (its calls multiply, it
	// recurses) gets one at the start of every function, or its deadline
	// would never be looked at, and the process's garbage collector,
	// which waits for every goroutine to stop, with it.
	code := art.Wasm
	if m.interrupt {
		var err error
		if code, err = bounded.Interruptible(art.Wasm); err != nil {
			return nil, fmt.Errorf("plugin refused: %w", err)
		}
	}
	// A runtime per module, so each has its own memory limit and closing
	// it frees everything it holds; the compilation cache is shared.
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(m.interrupt)
	m.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	ok := false
	defer func() {
		if !ok {
			m.runtime.Close(ctx)
			if m.compiled != nil {
				m.compiled.Close(ctx)
			}
		}
	}()
	if err := m.hostModule(ctx); err != nil {
		return nil, err
	}
	compiled, err := m.runtime.CompileModule(ctx, code)
	if err != nil && e.dir != "" && ctx.Err() == nil {
		// The runtime fails a compilation whose code it cannot write
		// to the cache directory (removed, its disk full, remounted
		// read-only): the cache is only a saving, so the plugin is
		// compiled again in memory, where only a plugin that does not
		// compile fails again.
		m.runtime.Close(ctx)
		m.runtime = wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(e.memCache()))
		if herr := m.hostModule(ctx); herr != nil {
			return nil, herr
		}
		var merr error
		if compiled, merr = m.runtime.CompileModule(ctx, code); merr == nil {
			m.cacheErr, err = err, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("compiling plugin: %w", err)
	}
	m.compiled = compiled
	if m.imports, err = checkExports(compiled); err != nil {
		return nil, err
	}
	for range cfg.Warm {
		inst, err := m.newInstance(ctx)
		if err != nil {
			return nil, err
		}
		m.slots <- struct{}{}
		m.idle <- inst
	}
	ok = true
	return m, nil
}

// checkExports verifies the module's exports and imports against the ABI, so
// a hand-written module with a mistake is refused at load with a message
// that says which part is wrong.
func checkExports(c wazero.CompiledModule) (imported []string, err error) {
	fns := c.ExportedFunctions()
	d, ok := fns[plugin.ExportDecide]
	if !ok {
		return nil, fmt.Errorf("plugin does not export %q", plugin.ExportDecide)
	}
	if len(d.ParamTypes()) != 0 || len(d.ResultTypes()) != 1 || d.ResultTypes()[0] != api.ValueTypeI32 {
		return nil, fmt.Errorf("plugin export %q must have type () -> i32", plugin.ExportDecide)
	}
	if _, ok := c.ExportedMemories()[plugin.ExportMemory]; !ok {
		return nil, fmt.Errorf("plugin does not export its memory as %q", plugin.ExportMemory)
	}
	for _, im := range c.ImportedFunctions() {
		mod, name, _ := im.Import()
		imported = append(imported, name)
		want, known := hostFuncTypes[name]
		if mod != plugin.ImportModule || !known {
			return nil, fmt.Errorf("plugin imports %s.%s, which this host does not provide", mod, name)
		}
		if !sameTypes(im.ParamTypes(), want[0]) || !sameTypes(im.ResultTypes(), want[1]) {
			return nil, fmt.Errorf("plugin imports %s.%s with the wrong type", mod, name)
		}
	}
	return imported, nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var errAlwaysInterrupt = errors.New("the engine applies a deadline to every module")

// Bounded reports whether the module runs without termination checks and
// a deadline: it was compiled in this process, or it is in the bounded
// subset (package internal/bounded). When it is not, the error says why.
func (m *Module) Bounded() (bool, error) { return m.unbounded == nil, m.unbounded }

// CacheError says why the module's code was compiled in memory rather
// than kept in the engine's cache directory (one that could not be
// written), or nil.
func (m *Module) CacheError() error { return m.cacheErr }

// Imports reports whether the module imports the host function name.
func (m *Module) Imports(name string) bool { return slices.Contains(m.imports, name) }

// Manifest returns the module's manifest.
func (m *Module) Manifest() *plugin.Manifest { return m.manifest }

// Stats returns the module's counters.
func (m *Module) Stats() *Stats { return m.stats }

// ErrRetired is returned by Decide on a module that was retired.
var ErrRetired = errors.New("plugin module retired")

// Seen answers the seen host function: whether the visitor has seen an item.
type Seen func(item string) bool

// Decide runs the rules on one request's values (one per manifest slot)
// and fills d. It waits for a free instance as long as ctx allows, and at
// most the decision timeout (ErrBusy). On error the request should be
// served unpersonalized.
func (m *Module) Decide(ctx context.Context, vals []plugin.Value, seen Seen, d *plugin.Decision) error {
	if len(vals) != len(m.manifest.Slots) {
		return fmt.Errorf("decide: %d values for %d slots", len(vals), len(m.manifest.Slots))
	}
	m.inflight.Add(1)
	defer m.done()
	if m.closing.Load() {
		return ErrRetired
	}
	if m.maxValue >= 0 {
		// The values the module reads byte by byte (contains and the
		// like); a regex's is checked when it is asked (regexMatch). A
		// long value tested only for equality costs nothing per byte.
		for i := range vals {
			if vals[i].Present && m.manifest.Slots[i].Bytes && int64(len(vals[i].Str)) > m.maxValue {
				m.stats.Failures.Add(1)
				m.stats.Oversized.Add(1)
				// Named, so that the operator knows which value (a
				// visitor's long User-Agent) the rules test at length.
				return fmt.Errorf("%w: %s is %d bytes, past the %d its tests may read", ErrValueTooLong, m.manifest.Slots[i], len(vals[i].Str), m.maxValue)
			}
		}
	}
	inst, err := m.acquire(ctx)
	if err != nil {
		return err
	}
	err = decideOn(ctx, inst, vals, seen, d)
	if err != nil {
		if errors.Is(err, ErrValueTooLong) {
			m.stats.Oversized.Add(1)
		}
		m.stats.Failures.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			m.stats.Timeouts.Add(1)
		}
		m.discard(inst)
		return err
	}
	m.stats.Decisions.Add(1)
	m.release(inst)
	return nil
}

// decideOn is inst.decide, with a panic of the host's code around the
// call (writing the values in, reading the decision out) returned as an
// error: the instance, in whatever state the panic left it, is then
// discarded like one that trapped, instead of never coming back to the
// pool. (wazero returns a panic of a host function as the call's error.)
func decideOn(ctx context.Context, inst *instance, vals []plugin.Value, seen Seen, d *plugin.Decision) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("decide panicked: %v\n%s", v, debug.Stack())
		}
	}()
	return inst.decide(ctx, vals, seen, d)
}

// ErrValueTooLong is returned by Decide, without running the module, when
// a value of the request is longer than the module, which runs without a
// deadline, may read in its bounded time: a header of 60 KB given to a
// rule that tests it with contains or a regex.
var ErrValueTooLong = errors.New("a value of the request is too long for the plugin's bounded time")

// ErrValueCost is why a module in the bounded subset runs with a deadline
// all the same (Module.Bounded): its contains tests and regexes cost so
// much per byte of a value that one of MinValueBound bytes could take it
// past bounded.MaxCost.
var ErrValueCost = errors.New("runs with a deadline for the cost of its tests per byte of a value")

// MinValueBound is bounded.MinValueBound.
const MinValueBound = bounded.MinValueBound

// ErrBusy is returned by Decide when no instance of the module came free
// within the decision timeout: every instance was deciding (a plugin that
// loops holds each for the whole timeout). The request is served
// unpersonalized, as when a decision times out.
var ErrBusy = errors.New("no plugin instance came free within the decision timeout")

// acquire takes an idle instance, creates one if the pool has room, or
// waits, for at most the decision timeout, for either: an instance
// released, or the slot of one discarded (a trap, a timeout), where a
// new instance is made.
func (m *Module) acquire(ctx context.Context) (*instance, error) {
	select {
	case inst := <-m.idle:
		return inst, nil
	default:
	}
	select {
	case m.slots <- struct{}{}:
		return m.newInSlot(ctx)
	default:
	}
	m.stats.Waits.Add(1)
	wait := time.NewTimer(m.cfg.DecideTimeout)
	defer wait.Stop()
	select {
	case inst := <-m.idle:
		return inst, nil
	case m.slots <- struct{}{}:
		return m.newInSlot(ctx)
	case <-wait.C:
		m.stats.Busy.Add(1)
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a plugin instance: %w", ctx.Err())
	}
}

// newInSlot makes an instance in the slot the caller took.
func (m *Module) newInSlot(ctx context.Context) (*instance, error) {
	inst, err := m.newInstance(ctx)
	if err != nil {
		<-m.slots
		return nil, err
	}
	return inst, nil
}

func (m *Module) release(inst *instance) {
	if m.retired.Load() {
		m.discardQuiet(inst)
		return
	}
	inst.recount()
	m.idle <- inst
}

func (m *Module) discard(inst *instance) {
	m.stats.Discarded.Add(1)
	m.discardQuiet(inst)
}

func (m *Module) discardQuiet(inst *instance) {
	m.stats.Live.Add(-1)
	m.stats.LiveMemory.Add(-int64(inst.counted))
	inst.mod.Close(context.Background())
	<-m.slots
}

// Retire stops new decisions and closes the module once the decisions in
// flight have ended. It returns at once.
func (m *Module) Retire() {
	m.retired.Store(true)
	m.inflight.Add(1)
	m.done()
}

// Hold keeps m open, retired or not, until the matching Drop. A request
// holds the module it chose for as long as it uses it, so that a reload
// between choosing the plugin and deciding cannot close it under the
// request (which would serve that request unpersonalized). It reports
// false, holding nothing, when m is already retired: the caller should
// take the plugin that replaced it.
func (m *Module) Hold() bool {
	m.inflight.Add(1)
	if m.retired.Load() {
		m.done()
		return false
	}
	return true
}

// Drop ends a Hold.
func (m *Module) Drop() { m.done() }

// Retired reports whether Retire was called.
func (m *Module) Retired() bool { return m.retired.Load() }

// InFlight returns the holds on m (see Hold: the requests that chose it
// and have not ended, their responses included) plus the decisions under
// way; m closes, once retired, when it reaches 0.
func (m *Module) InFlight() int64 { return m.inflight.Load() }

func (m *Module) done() {
	if m.inflight.Add(-1) == 0 && m.retired.Load() {
		m.close()
	}
}

func (m *Module) close() {
	m.closed.Do(func() {
		m.closing.Store(true)
		for {
			select {
			case inst := <-m.idle:
				m.discardQuiet(inst)
				continue
			default:
			}
			break
		}
		m.closeErr = m.runtime.Close(context.Background())
		// The compiled module (machine code, and the decoded module with
		// its sections) lives in the engine's cache, shared by every
		// module's runtime, which closing the runtime leaves alone:
		// without this, each reload of changed rules kept it for good.
		// wazero counts its users, so a route that loaded the same rules
		// keeps it.
		m.compiled.Close(context.Background())
	})
}

// Close retires the module and waits for decisions in flight to end, at
// most until ctx is done.
func (m *Module) Close(ctx context.Context) error {
	m.Retire()
	for m.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	m.close()
	return m.closeErr
}

// interner maps a slot's value to the symbol it equals, among the symbols
// the module compares that slot with. Most slots are compared with a few
// symbols: comparing lengths then bytes beats hashing the value.
type interner struct {
	few  []string // symbol texts, when there are few
	ids  []int32
	many map[string]int32
}

const fewSymbols = 8

func newInterner(symbols []string, ids []int) interner {
	var in interner
	if len(ids) > fewSymbols {
		in.many = make(map[string]int32, len(ids))
	}
	for _, id := range ids {
		if id < 0 || id >= len(symbols) {
			continue
		}
		if in.many != nil {
			in.many[symbols[id]] = int32(id)
		} else {
			in.few = append(in.few, symbols[id])
			in.ids = append(in.ids, int32(id))
		}
	}
	return in
}

func (in *interner) lookup(v string) int32 {
	if in.many != nil {
		if id, ok := in.many[v]; ok {
			return id
		}
		return plugin.NoSymbol
	}
	for i, s := range in.few {
		if len(s) == len(v) && s == v {
			return in.ids[i]
		}
	}
	return plugin.NoSymbol
}
