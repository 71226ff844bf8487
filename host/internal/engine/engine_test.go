package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
)

func newEngine(t testing.TB, cfg engine.Config) *engine.Engine {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = "-"
	}
	if cfg.DecideTimeout == 0 {
		// Modules loaded from artifacts get a deadline per decision; a
		// busy machine (these tests run with -race, beside other builds)
		// can take longer than the production 50 ms. Tests of deadlines
		// set theirs; for the rest it is only a hang guard.
		cfg.DecideTimeout = time.Minute
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// smallProgram: rule 0 matches cookie("plan") == "pro", rule 1 matches a
// regex on the same slot, rule 2 always, rule 3 when the value contains
// "xx" (so the module reads the value's bytes).
func smallProgram() *ir.Program {
	return &ir.Program{
		Source:   "small.yaml",
		Slots:    []plugin.Slot{{Attr: "cookie", Arg: "plan"}},
		Symbols:  []string{"pro"},
		Patterns: []string{"^p"},
		Rules: []*ir.Rule{
			{Name: "pro", Cond: &ir.SymIn{Slot: 0, Syms: []int{0}}},
			{Name: "p-anything", Cond: &ir.Match{Slot: 0, Pattern: 0}},
			{Name: "always", Cond: &ir.Const{Value: true}},
			{Name: "xx", Cond: &ir.StrTest{Slot: 0, Op: ir.Contains, Arg: "xx"}},
		},
	}
}

func load(t testing.TB, e *engine.Engine, p *ir.Program) *engine.Module {
	t.Helper()
	wasm, err := codegen.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	art, err := plugin.ReadArtifact(wasm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Load(context.Background(), art)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func TestDecide(t *testing.T) {
	m := load(t, newEngine(t, engine.Config{}), smallProgram())
	tests := []struct {
		name string
		val  plugin.Value
		want []int
	}{
		{"missing", plugin.Value{}, []int{2}},
		{"pro", plugin.Value{Str: "pro", Present: true}, []int{0, 1, 2}},
		{"prefix only", plugin.Value{Str: "plus", Present: true}, []int{1, 2}},
		{"other", plugin.Value{Str: "free", Present: true}, []int{2}},
		// Within the module's bound for values (its contains and regex
		// cost some 150 instructions per byte: about 110 KB).
		{"large value grows memory", plugin.Value{Str: "p" + strings.Repeat("x", 100<<10), Present: true}, []int{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d plugin.Decision
			if err := m.Decide(context.Background(), []plugin.Value{tt.val}, nil, &d); err != nil {
				t.Fatal(err)
			}
			got := d.Rules(nil)
			if len(got) != len(tt.want) {
				t.Fatalf("matched %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("matched %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestContextOverMemoryLimitFails(t *testing.T) {
	m := load(t, newEngine(t, engine.Config{MemoryLimitPages: 1}), smallProgram())
	var d plugin.Decision
	err := m.Decide(context.Background(), []plugin.Value{{Str: strings.Repeat("x", 100<<10), Present: true}}, nil, &d)
	if err == nil || !strings.Contains(err.Error(), "memory limit") {
		t.Fatalf("err = %v, want a memory limit error", err)
	}
	// The module keeps working for normal requests.
	if err := m.Decide(context.Background(), []plugin.Value{{Str: "pro", Present: true}}, nil, &d); err != nil || !d.Has(0) {
		t.Fatalf("after failure: err %v, matched %v", err, d.Rules(nil))
	}
}

func TestABIMismatchIsExplained(t *testing.T) {
	wasm, err := codegen.Generate(smallProgram())
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the ABI section's payload to version 99.
	i := strings.Index(string(wasm), plugin.SectionABI)
	binary.LittleEndian.PutUint32(wasm[i+len(plugin.SectionABI):], 99)
	_, err = plugin.ReadArtifact(wasm)
	var abi *plugin.ABIError
	if !errors.As(err, &abi) || abi.Got != 99 {
		t.Fatalf("err = %v, want ABIError{Got: 99}", err)
	}
	if !strings.Contains(err.Error(), "recompile") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

// TestPoolHammer decides from many goroutines on a small pool; run with
// -race. Every decision must be right, whatever instance made it.
func TestPoolHammer(t *testing.T) {
	m := load(t, newEngine(t, engine.Config{PoolSize: 3}), smallProgram())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var d plugin.Decision
			for range 300 {
				pro := r.IntN(2) == 0
				v := plugin.Value{Str: "free", Present: true}
				if pro {
					v.Str = "pro"
				}
				if err := m.Decide(context.Background(), []plugin.Value{v}, nil, &d); err != nil {
					errs <- err
					return
				}
				if d.Has(0) != pro {
					errs <- errors.New("wrong decision under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := m.Stats().Instances.Load(); n > 3 {
		t.Errorf("%d instances created, pool size is 3", n)
	}
}

// seenProgram is a program whose only rule asks the host seen("item-1"):
// each decision calls back into the host.
func seenProgram() *ir.Program {
	return &ir.Program{
		Source:  "seen.yaml",
		Slots:   []plugin.Slot{{Attr: "cookie", Arg: "plan"}},
		Symbols: []string{"item-1"},
		Rules:   []*ir.Rule{{Name: "seen", Cond: &ir.Seen{Item: 0}}},
	}
}

func TestAcquireHonoursContext(t *testing.T) {
	// The seen() callback below blocks, so the decision holds the pool's
	// only instance.
	m := load(t, newEngine(t, engine.Config{PoolSize: 1}), seenProgram())
	entered := make(chan struct{})
	unblock := make(chan struct{})
	held := make(chan error, 1)
	go func() {
		var d plugin.Decision
		held <- m.Decide(context.Background(), []plugin.Value{{}}, func(string) bool {
			close(entered)
			<-unblock
			return true
		}, &d)
	}()
	<-entered // the only instance is now busy inside the callback

	// A second decision must wait for an instance, and give up when its
	// context ends rather than block forever.
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		var d plugin.Decision
		waiting <- m.Decide(ctx, []plugin.Value{{}}, func(string) bool { return false }, &d)
	}()
	// It has not returned: the pool has no instance for it.
	for m.Stats().Waits.Load() == 0 {
		select {
		case err := <-waiting:
			t.Fatalf("Decide returned %v while the only instance was held", err)
		default:
			runtime.Gosched()
		}
	}
	cancel()
	err := <-waiting
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Decide: err = %v, want context.Canceled", err)
	}
	if n := m.Stats().Instances.Load(); n != 1 {
		t.Errorf("%d instances created, the pool size is 1", n)
	}
	close(unblock)
	if err := <-held; err != nil {
		t.Fatalf("the holding decision failed: %v", err)
	}
	// The instance came back: a decision with a live context gets it.
	var d plugin.Decision
	if err := m.Decide(context.Background(), []plugin.Value{{}}, func(string) bool { return true }, &d); err != nil || !d.Has(0) {
		t.Fatalf("after release: err %v, matched %v", err, d.Rules(nil))
	}
}

func TestRetireClosesAfterInflight(t *testing.T) {
	m := load(t, newEngine(t, engine.Config{}), smallProgram())
	m.Retire()
	var d plugin.Decision
	if err := m.Decide(context.Background(), []plugin.Value{{}}, nil, &d); !errors.Is(err, engine.ErrRetired) {
		t.Fatalf("err = %v, want ErrRetired", err)
	}
}

// TestGeneratedModulesValidate runs wabt's wasm-validate on generated
// modules, when it is installed (CI installs it).
func TestGeneratedModulesValidate(t *testing.T) {
	bin, err := exec.LookPath("wasm-validate")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("wasm-validate not found; CI must install wabt")
		}
		t.Skip("wasm-validate not installed (apt-get install wabt)")
	}
	r := rand.New(rand.NewPCG(7, 7))
	dir := t.TempDir()
	progs := []*ir.Program{smallProgram()}
	for range 20 {
		progs = append(progs, randomProgram(r))
	}
	for i, p := range progs {
		wasm, err := codegen.Generate(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "m.wasm")
		if err := os.WriteFile(path, wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, path).CombinedOutput(); err != nil {
			t.Fatalf("program %d: wasm-validate: %v\n%s", i, err, out)
		}
	}
}

func TestFileCacheSurvivesEngines(t *testing.T) {
	dir := t.TempDir()
	p := smallProgram()
	for i := range 2 {
		e := newEngine(t, engine.Config{CacheDir: dir})
		m := load(t, e, p)
		var d plugin.Decision
		if err := m.Decide(context.Background(), []plugin.Value{{Str: "pro", Present: true}}, nil, &d); err != nil || !d.Has(0) {
			t.Fatalf("engine %d: err %v", i, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) == 0 {
		t.Fatal("the compilation cache directory is empty")
	}
}

// BenchmarkDecide is one decision of a four-rule program (a symbol
// compare, a regular expression, a constant, a substring test) on a pooled
// instance, read from its bytes as a .wasm file is (a module compiled in
// process is verified the same way): bounded, run without termination
// checks, and with a deadline on every decision.
func BenchmarkDecide(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  engine.Config
	}{
		{"bounded", engine.Config{}},
		{"deadline", engine.Config{AlwaysInterrupt: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			wasm, err := codegen.Generate(smallProgram())
			if err != nil {
				b.Fatal(err)
			}
			art, err := plugin.ReadArtifact(wasm)
			if err != nil {
				b.Fatal(err)
			}
			m, err := newEngine(b, c.cfg).Load(context.Background(), art)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close(context.Background()) })
			vals := []plugin.Value{{Str: "pro", Present: true}}
			var d plugin.Decision
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Decide(ctx, vals, nil, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReloadsFreeCompiledCode: loading and closing changed rules again
// and again, as a watched file's saves do, holds no more memory than a
// few loads: a closed module's compiled code leaves the cache the
// engine's runtimes share (it used to stay for good, about 0.25 MiB per
// reload of 2,000 rules).
func TestReloadsFreeCompiledCode(t *testing.T) {
	e := newEngine(t, engine.Config{})
	art := func(i int) *plugin.Artifact {
		p := &ir.Program{Source: "many.yaml", Slots: []plugin.Slot{{Attr: "cookie", Arg: "plan"}}}
		for k := range 2000 {
			p.Rules = append(p.Rules, &ir.Rule{Name: fmt.Sprintf("r%d", k), Cond: &ir.StrTest{Slot: 0, Op: ir.Contains, Arg: fmt.Sprintf("v%d-%d", i, k)}})
		}
		wasm, err := codegen.Generate(p)
		if err != nil {
			t.Fatal(err)
		}
		a, err := plugin.ReadArtifact(wasm)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse)
	}
	cycle := func(a *plugin.Artifact) {
		m, err := e.Load(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	const reloads = 30
	// What one module holds while it is loaded.
	a := art(0)
	before := heap()
	m, err := e.Load(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	one := heap() - before
	m.Close(context.Background())
	a = nil
	base := heap()
	for i := range reloads {
		cycle(art(i + 1))
	}
	if grew := heap() - base; grew > 5*max(one, 64<<10) {
		t.Fatalf("%d reloads grew the heap by %d KiB; one loaded module holds %d KiB", reloads, grew>>10, one>>10)
	}
}
