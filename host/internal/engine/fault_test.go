package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

func loadGuest(t *testing.T, e *engine.Engine, body *wasm.Code) *engine.Module {
	t.Helper()
	return loadGuestAs(t, e, body, "hand-written")
}

// loadGuestAs loads a hand-made module whose manifest names compiler.
func loadGuestAs(t *testing.T, e *engine.Engine, body *wasm.Code, compiler string) *engine.Module {
	t.Helper()
	b, err := guest.Build(guest.Module{
		Manifest: plugin.Manifest{Compiler: compiler, Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}},
		Decide:   body,
	})
	if err != nil {
		t.Fatal(err)
	}
	art, err := plugin.ReadArtifact(b)
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

func TestTrapDiscardsInstance(t *testing.T) {
	m := loadGuest(t, newEngine(t, engine.Config{PoolSize: 2}), guest.Trap())
	var d plugin.Decision
	for i := range 3 {
		err := m.Decide(context.Background(), nil, nil, &d)
		if err == nil || !strings.Contains(err.Error(), "trapped") {
			t.Fatalf("decision %d: err = %v, want a trap", i, err)
		}
	}
	if got := m.Stats().Discarded.Load(); got != 3 {
		t.Errorf("discarded %d instances, want 3 (a trapped instance is never reused)", got)
	}
	if got := m.Stats().Failures.Load(); got != 3 {
		t.Errorf("failures = %d", got)
	}
}

func TestLoopingGuestTimesOut(t *testing.T) {
	m := loadGuest(t, newEngine(t, engine.Config{DecideTimeout: 20 * time.Millisecond}), guest.Loop())
	if ok, why := m.Bounded(); ok || why == nil || !strings.Contains(why.Error(), "loop") {
		t.Fatalf("Bounded() = %v, %v; want false, because of the loop", ok, why)
	}
	var d plugin.Decision
	start := time.Now()
	err := m.Decide(context.Background(), nil, nil, &d)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the loop ran %v", took)
	}
	if m.Stats().Timeouts.Load() != 1 {
		t.Errorf("timeouts = %d", m.Stats().Timeouts.Load())
	}
}

// TestForgedCompilerClaimTimesOut: a module read from a file that claims
// to come from bespoke's compiler is not believed; it loops, and is still
// stopped at the deadline.
func TestForgedCompilerClaimTimesOut(t *testing.T) {
	m := loadGuestAs(t, newEngine(t, engine.Config{DecideTimeout: 20 * time.Millisecond}), guest.Loop(), plugin.BoundedCompiler+"/1")
	var d plugin.Decision
	if err := m.Decide(context.Background(), nil, nil, &d); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

// TestVerifiedGuestRunsBounded: a hand-written guest inside the bounded
// subset, read from its bytes, runs as compiled rules do: no deadline,
// no allocation per decision.
func TestVerifiedGuestRunsBounded(t *testing.T) {
	l := plugin.NewLayout(0, 1, 0, 0)
	m := loadGuest(t, newEngine(t, engine.Config{}), guest.MatchAll(l, 1))
	if ok, why := m.Bounded(); !ok {
		t.Fatalf("not bounded: %v", why)
	}
	var d plugin.Decision
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if err := m.Decide(ctx, nil, nil, &d); err != nil || !d.Has(0) {
			t.Fatalf("err %v, matched %v", err, d.Rules(nil))
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decision; a bounded module runs without a deadline's context and timer", allocs)
	}
}

// TestAlwaysInterrupt puts a deadline on a module that is in the subset.
func TestAlwaysInterrupt(t *testing.T) {
	l := plugin.NewLayout(0, 1, 0, 0)
	m := loadGuest(t, newEngine(t, engine.Config{AlwaysInterrupt: true}), guest.MatchAll(l, 1))
	if ok, why := m.Bounded(); ok || why == nil {
		t.Fatalf("Bounded() = %v, %v with AlwaysInterrupt", ok, why)
	}
	var d plugin.Decision
	if err := m.Decide(context.Background(), nil, nil, &d); err != nil || !d.Has(0) {
		t.Fatalf("err %v, matched %v", err, d.Rules(nil))
	}
}

func TestHandWrittenGuest(t *testing.T) {
	// loadGuest's manifest has one rule; a guest that sets bits beyond
	// its rules must not make the host report rules that do not exist.
	l := plugin.NewLayout(0, 1, 0, 0)
	m := loadGuest(t, newEngine(t, engine.Config{}), guest.MatchAll(l, 64))
	var d plugin.Decision
	if err := m.Decide(context.Background(), nil, nil, &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Rules(nil); len(got) != 1 || got[0] != 0 {
		t.Fatalf("matched %v, want [0]", got)
	}
}

func TestRefusesForeignImports(t *testing.T) {
	_, err := loadRaw(t, func(mod *wasm.Module, ty uint32) (uint32, wasm.ValType) {
		mod.Imports = append(mod.Imports, wasm.Import{Module: "env", Name: "abort", Type: ty})
		return 1, wasm.I32
	})
	if err == nil || !strings.Contains(err.Error(), "env.abort") {
		t.Fatalf("err = %v, want it to name env.abort", err)
	}
}

// TestABIGlobalOfAnotherType: an ABI version exported as an i64 is
// refused as such (it was "built for ABI 1, but this host speaks ABI 1").
func TestABIGlobalOfAnotherType(t *testing.T) {
	_, err := loadRaw(t, func(*wasm.Module, uint32) (uint32, wasm.ValType) { return 0, wasm.I64 })
	if err == nil || !strings.Contains(err.Error(), "bespoke_abi_version as i64: the ABI asks for an immutable i32") {
		t.Fatalf("err = %v, want it to say the global is an i64", err)
	}
}

// loadRaw loads a module written without package guest's checks: a
// decide of type () -> i32 (ty) returning 0, one page of memory, the ABI
// global and the ABI's custom sections. edit adds to it before decide
// (imports) and returns decide's function index and the global's type.
func loadRaw(t *testing.T, edit func(mod *wasm.Module, ty uint32) (uint32, wasm.ValType)) (*engine.Module, error) {
	t.Helper()
	mod := &wasm.Module{}
	ty := mod.Type(nil, []wasm.ValType{wasm.I32})
	decide, global := edit(mod, ty)
	mod.Funcs = append(mod.Funcs, wasm.Func{Type: ty, Body: (&wasm.Code{}).I32Const(0)})
	mod.MemoryMin = 1
	mod.Globals = append(mod.Globals, wasm.Global{Type: global, Init: plugin.ABIVersion})
	mod.Exports = append(mod.Exports,
		wasm.Export{Name: plugin.ExportMemory, Kind: wasm.ExportMemory},
		wasm.Export{Name: plugin.ExportDecide, Kind: wasm.ExportFunc, Index: decide},
		wasm.Export{Name: plugin.ExportABIVersion, Kind: wasm.ExportGlobal})
	b := mod.Encode()
	good, _ := guest.Build(guest.Module{Decide: guest.Trap()})
	secs, _ := plugin.CustomSections(good)
	b = appendCustom(b, plugin.SectionABI, secs[plugin.SectionABI])
	b = appendCustom(b, plugin.SectionManifest, secs[plugin.SectionManifest])
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	return newEngine(t, engine.Config{}).Load(context.Background(), art)
}

func appendCustom(b []byte, name string, payload []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, payload...)
	b = append(b, 0)
	n := len(body)
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

// TestHostPanicDiscardsInstance: a panic of Go code during a decision,
// in a host function the guest calls (a seen lookup) or around the call
// (reading the decision out), is the decision's error, and the instance
// it left in an unknown state is discarded: with a pool of one, the
// decisions after it still get an instance.
func TestHostPanicDiscardsInstance(t *testing.T) {
	m := load(t, newEngine(t, engine.Config{PoolSize: 1}), seenProgram())
	vals := []plugin.Value{{}}
	for i, c := range []struct {
		name string
		seen engine.Seen
		d    *plugin.Decision
	}{
		{"in a host function", func(string) bool { panic("seen store bug") }, &plugin.Decision{}},
		{"reading the decision out", func(string) bool { return true }, nil},
	} {
		err := m.Decide(context.Background(), vals, c.seen, c.d)
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		if got := m.Stats().Discarded.Load(); got != int64(i+1) {
			t.Fatalf("%s: %d instances discarded, want %d (err %v)", c.name, got, i+1, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var d plugin.Decision
		err = m.Decide(ctx, vals, func(string) bool { return true }, &d)
		cancel()
		if err != nil || !d.Has(0) {
			t.Fatalf("after a panic %s: err %v, matched %v: the pool lost its instance", c.name, err, d.Rules(nil))
		}
	}
}

// TestLiveMemoryCountsPluginGrowth: the memory a plugin grows itself
// (memory.grow) is in Stats.LiveMemory while its instance lives, and
// leaves it with the instance, trapped or not: the gauge never goes
// below what live instances hold.
func TestLiveMemoryCountsPluginGrowth(t *testing.T) {
	grows := (&wasm.Code{}).I32Const(2).MemoryGrow().Drop().I32Const(0)
	m := loadGuest(t, newEngine(t, engine.Config{PoolSize: 1}), grows)
	var d plugin.Decision
	if err := m.Decide(context.Background(), nil, nil, &d); err != nil {
		t.Fatal(err)
	}
	first := m.Stats().LiveMemory.Load()
	if err := m.Decide(context.Background(), nil, nil, &d); err != nil {
		t.Fatal(err)
	}
	if got := m.Stats().LiveMemory.Load(); got != first+2*plugin.PageSize {
		t.Errorf("LiveMemory %d after a second call that grew 2 pages, want %d", got, first+2*plugin.PageSize)
	}

	trapped := loadGuest(t, newEngine(t, engine.Config{PoolSize: 1}), guest.GrowMemory())
	for range 3 {
		if err := trapped.Decide(context.Background(), nil, nil, &d); err == nil {
			t.Fatal("a plugin that exhausts its memory decided")
		}
	}
	if got, live := trapped.Stats().LiveMemory.Load(), trapped.Stats().Live.Load(); got != 0 || live != 0 {
		t.Errorf("LiveMemory %d with %d live instances after 3 traps, want 0", got, live)
	}
}

// TestLoopingPluginUnderConcurrency: more decisions at once than the pool
// has instances, on a plugin that loops or traps. Every decision ends,
// within a few decision timeouts: the slot of an instance discarded after
// a timeout or a trap goes to a waiter, which makes a new instance, and a
// wait longer than the timeout ends with ErrBusy. (Before, waiters only
// watched for released instances, and a discarded one woke none of them.)
func TestLoopingPluginUnderConcurrency(t *testing.T) {
	for _, c := range []struct {
		name  string
		wasm  *wasm.Code
		fails func(error) bool
	}{
		{"loop", guest.Loop(), func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, engine.ErrBusy)
		}},
		{"trap", guest.Trap(), func(err error) bool {
			return err != nil && (strings.Contains(err.Error(), "trapped") || errors.Is(err, engine.ErrBusy))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const timeout = 50 * time.Millisecond
			m := loadGuest(t, newEngine(t, engine.Config{PoolSize: 2, DecideTimeout: timeout}), c.wasm)
			// Requests that would wait until the client leaves: bound the
			// test, not the engine.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const n = 16
			errs := make(chan error, n)
			for range n {
				go func() {
					var d plugin.Decision
					errs <- m.Decide(ctx, nil, nil, &d)
				}()
			}
			for range n {
				if err := <-errs; !c.fails(err) {
					t.Errorf("err = %v, want a failure of the plugin or ErrBusy", err)
				}
			}
			if ctx.Err() != nil {
				t.Fatal("decisions waited until the caller's context ended")
			}
		})
	}
}

// valueCostProgram tests one value with contains, against a literal of
// n bytes: its cost per byte of the value grows with n.
func valueCostProgram(n int, patterns ...string) *ir.Program {
	p := &ir.Program{
		Source: "cost.yaml",
		Slots:  []plugin.Slot{{Attr: "header", Arg: "X-A"}},
		Rules: []*ir.Rule{
			{Name: "long", Cond: &ir.StrTest{Slot: 0, Op: ir.Contains, Arg: strings.Repeat("b", n)}},
		},
		Patterns: patterns,
	}
	for i := range patterns {
		p.Rules = append(p.Rules, &ir.Rule{Name: "re" + strconv.Itoa(i), Cond: &ir.Match{Slot: 0, Pattern: i}})
	}
	return p
}

// TestValuesBoundedModulesRead: a module without a deadline may read a
// value only as long as its tests keep it within the bounded cost; a
// longer one is refused before it runs (ErrValueTooLong), the module
// going on for others. A module whose tests cost too much per byte for
// a 4 KiB value runs with a deadline instead.
func TestValuesBoundedModulesRead(t *testing.T) {
	e := newEngine(t, engine.Config{})
	m := load(t, e, valueCostProgram(200))
	if ok, why := m.Bounded(); !ok {
		t.Fatalf("a contains of 200 bytes: not bounded: %v", why)
	}
	var d plugin.Decision
	long := plugin.Value{Str: strings.Repeat("a", 60000), Present: true}
	if err := m.Decide(context.Background(), []plugin.Value{long}, nil, &d); !errors.Is(err, engine.ErrValueTooLong) || !strings.Contains(err.Error(), `header("X-A") is 60000 bytes`) {
		t.Fatalf("a 60 KB value: %v, want ErrValueTooLong naming the value", err)
	}
	if m.Stats().Oversized.Load() != 1 || m.Stats().Failures.Load() != 1 {
		t.Errorf("oversized %d, failures %d", m.Stats().Oversized.Load(), m.Stats().Failures.Load())
	}
	ok := plugin.Value{Str: strings.Repeat("a", 3800) + strings.Repeat("b", 200), Present: true}
	if err := m.Decide(context.Background(), []plugin.Value{ok}, nil, &d); err != nil || !d.Has(0) {
		t.Fatalf("a value of 4 KB: %v, matched %v", err, d.Rules(nil))
	}

	costly := load(t, e, valueCostProgram(2000))
	if ok, why := costly.Bounded(); ok || !errors.Is(why, engine.ErrValueCost) {
		t.Fatalf("a contains of 2000 bytes: Bounded() = %v, %v; want a deadline for its cost per byte", ok, why)
	}
	if err := costly.Decide(context.Background(), []plugin.Value{long}, nil, &d); err != nil {
		t.Fatalf("with a deadline, a 60 KB value is decided: %v", err)
	}
}

// TestRegexCostPerCall: a regex_match that would take longer than a
// bounded decision (a large program over a long value) traps, with or
// without a deadline, rather than running for seconds in a host call
// that no deadline interrupts.
func TestRegexCostPerCall(t *testing.T) {
	e := newEngine(t, engine.Config{})
	for _, n := range []int{1, 2000} { // without a deadline, with one
		m := load(t, e, valueCostProgram(n, "(?:a|aa){1,1000}b"))
		var d plugin.Decision
		start := time.Now()
		err := m.Decide(context.Background(), []plugin.Value{{Str: strings.Repeat("a", 60000), Present: true}}, nil, &d)
		if err == nil || !strings.Contains(err.Error(), "too long") {
			t.Errorf("literal of %d: %v, want the value refused as too long", n, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("literal of %d: %v", n, took)
		}
		if err := m.Decide(context.Background(), []plugin.Value{{Str: "aab", Present: true}}, nil, &d); err != nil || !d.Has(1) {
			t.Errorf("literal of %d, a short value: %v, matched %v", n, err, d.Rules(nil))
		}
	}
}

// TestStartFunctionRefused: a module with a start function, which the
// runtime would run at each new instance without a deadline, is refused
// at load with the reason.
func TestStartFunctionRefused(t *testing.T) {
	b, err := guest.Build(guest.Module{
		Manifest: plugin.Manifest{Compiler: "hand-written", Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}},
		Funcs:    []guest.Func{{Name: "init", Body: &wasm.Code{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The start section (8) goes before the element (9) or code (10)
	// section; the start function is the one after bespoke_decide.
	var out []byte
	out = append(out, b[:8]...)
	inserted := false
	for r := b[8:]; len(r) > 0; {
		id := r[0]
		size, n := binary.Uvarint(r[1:])
		end := 1 + n + int(size)
		if !inserted && id >= 9 && id != 0 {
			out = append(out, 8, 1, 1)
			inserted = true
		}
		out = append(out, r[:end]...)
		r = r[end:]
	}
	art, err := plugin.ReadArtifact(out)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newEngine(t, engine.Config{}).Load(context.Background(), art)
	if err == nil || !strings.Contains(err.Error(), "start function") {
		t.Fatalf("err = %v, want the start function refused", err)
	}
}

// TestLongValueTestedForEquality: a value past a bounded module's bound
// is refused only where it is read byte by byte: one the rules compare
// whole is decided, one a regex reads is refused (oversized).
func TestLongValueTestedForEquality(t *testing.T) {
	p := valueCostProgram(100, "^a+$")
	p.Slots = append(p.Slots, plugin.Slot{Attr: "cookie", Arg: "session"})
	p.Symbols = []string{"on"}
	p.Rules = append(p.Rules, &ir.Rule{Name: "session", Cond: &ir.SymIn{Slot: 1, Syms: []int{0}}},
		&ir.Rule{Name: "re-session", Cond: &ir.Match{Slot: 1, Pattern: 0}})
	m := load(t, newEngine(t, engine.Config{}), p)
	if ok, why := m.Bounded(); !ok {
		t.Fatalf("not bounded: %v", why)
	}
	long := plugin.Value{Str: strings.Repeat("a", 60000), Present: true}
	var d plugin.Decision
	// The regex reads the session cookie: refused, counted.
	err := m.Decide(context.Background(), []plugin.Value{{Str: "x", Present: true}, long}, nil, &d)
	if !errors.Is(err, engine.ErrValueTooLong) || m.Stats().Oversized.Load() != 1 {
		t.Fatalf("a 60 KB value a regex reads: %v, oversized %d", err, m.Stats().Oversized.Load())
	}
	// Without the regex rule, the same value compared whole is decided.
	p.Rules = p.Rules[:len(p.Rules)-1]
	p.Rules[1] = &ir.Rule{Name: "re-header", Cond: &ir.Match{Slot: 0, Pattern: 0}}
	m = load(t, newEngine(t, engine.Config{}), p)
	if err := m.Decide(context.Background(), []plugin.Value{{Str: "aaa", Present: true}, long}, nil, &d); err != nil || !d.Has(1) {
		t.Fatalf("a 60 KB value compared whole: %v, matched %v", err, d.Rules(nil))
	}
}

// TestDamagedPluginsAreRefused: a plugin file with a byte changed, each
// byte of a compiled one in turn, loads or is refused with an error; it
// never panics (the runtime's validator did, on a function whose type
// index was out of range, which ended a process reloading such a file).
func TestDamagedPluginsAreRefused(t *testing.T) {
	good, err := codegen.Generate(smallProgram())
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, engine.Config{Warm: 1})
	loads, refused := 0, 0
	for i := 8; i < len(good); i++ {
		for _, v := range []byte{good[i] ^ 0x01, good[i] + 9, 0x7f, 0xff} {
			if v == good[i] {
				continue
			}
			b := slices.Clone(good)
			b[i] = v
			art, err := plugin.ReadArtifact(b)
			if err != nil {
				continue // the ABI's sections: refused before the engine
			}
			loads++
			m, err := func() (m *engine.Module, err error) {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("byte %d set to %#x: Load panicked: %v", i, v, p)
					}
				}()
				return e.Load(context.Background(), art)
			}()
			if err != nil {
				refused++
				continue
			}
			m.Close(context.Background())
		}
	}
	if loads < 500 || refused == 0 {
		t.Fatalf("%d damaged modules loaded, %d refused: the sweep reached too few", loads, refused)
	}
}

// TestDecisionStartsEmpty: a guest that writes the bit of a rule only
// when it matches (as plugin/README.md's contract allows) decides each
// visitor afresh: one instance serves one visitor after another, and the
// decision and variants it reads start empty, not as the last visitor's.
func TestDecisionStartsEmpty(t *testing.T) {
	g := guest.Module{Manifest: plugin.Manifest{
		Compiler:    "hand-written",
		Slots:       []plugin.Slot{{Attr: "cookie", Arg: "plan"}},
		Rules:       []plugin.Rule{{Name: "pro", Actions: []plugin.Action{}}},
		Experiments: []plugin.Experiment{{Name: "x", Variants: []string{"a", "b"}, Weights: []int{plugin.Buckets / 2, plugin.Buckets / 2}}},
	}}
	l := g.Layout()
	// if the slot is present: rule 0 matches, variant 1.
	g.Decide = (&wasm.Code{}).I32Const(0).I32Load(l.Slots + plugin.SlotFlags).If(wasm.BlockEmpty).
		I32Const(0).I64Const(1).I64Store(l.Decision).
		I32Const(0).I32Const(1).I32Store(l.Variants).
		End().I32Const(0)
	b, err := guest.Build(g)
	if err != nil {
		t.Fatal(err)
	}
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newEngine(t, engine.Config{PoolSize: 1, Warm: 1}).Load(context.Background(), art)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	for i, v := range []plugin.Value{{Str: "pro", Present: true}, {}, {}} {
		var d plugin.Decision
		if err := m.Decide(context.Background(), []plugin.Value{v}, nil, &d); err != nil {
			t.Fatal(err)
		}
		want, variant := v.Present, int32(-1)
		if want {
			variant = 1
		}
		if d.Has(0) != want || len(d.Variants) != 1 || d.Variants[0] != variant {
			t.Errorf("visitor %d (plan present: %v): rule matched %v, variants %v", i, v.Present, d.Has(0), d.Variants)
		}
	}
}

// TestLoopFreeGuestsTimeOut: a module without a loop that runs long, its
// calls multiplying or recursing, is stopped at the deadline like one
// that loops. The runtime checks for the deadline only at the head of a
// loop: a module refused by the verifier for the calls it makes (2^40
// of them, from 40 functions of a few bytes) ran with a deadline it
// never looked at, for some twenty minutes, and the process's next
// garbage collection, which waits for every goroutine to stop, waited
// for it with every request (bespoke serve stopped answering, /metrics
// included); a recursion ran until its stack overflowed, some 0.6 s
// past a 50 ms deadline.
func TestLoopFreeGuestsTimeOut(t *testing.T) {
	i32 := []wasm.ValType{wasm.I32}
	for _, c := range []struct {
		name  string
		funcs func(g *guest.Module) []guest.Func
	}{
		{"calls that multiply", func(g *guest.Module) []guest.Func {
			var fs []guest.Func
			for i := range 40 {
				c := (&wasm.Code{}).I32Const(1)
				if i < 39 {
					c = (&wasm.Code{}).Call(g.FuncIndex(i + 1)).Call(g.FuncIndex(i + 1)).I32Add()
				}
				fs = append(fs, guest.Func{Name: "f", Results: i32, Body: c})
			}
			return fs
		}},
		{"recursion", func(g *guest.Module) []guest.Func {
			return []guest.Func{{Name: "again", Results: i32, Body: (&wasm.Code{}).Call(g.FuncIndex(0)).I32Const(1).I32Add()}}
		}},
		{"mutual recursion", func(g *guest.Module) []guest.Func {
			return []guest.Func{
				{Name: "ping", Results: i32, Body: (&wasm.Code{}).Call(g.FuncIndex(1)).I32Const(1).I32Add()},
				{Name: "pong", Results: i32, Body: (&wasm.Code{}).Call(g.FuncIndex(0)).I32Const(1).I32Add()},
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := guest.Module{Manifest: plugin.Manifest{Compiler: "hand-written", Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}}}
			g.Funcs = c.funcs(&g)
			g.Decide = (&wasm.Code{}).Call(g.FuncIndex(0)).Drop().I32Const(0)
			b, err := guest.Build(g)
			if err != nil {
				t.Fatal(err)
			}
			art, err := plugin.ReadArtifact(b)
			if err != nil {
				t.Fatal(err)
			}
			const timeout = 50 * time.Millisecond
			m, err := newEngine(t, engine.Config{DecideTimeout: timeout}).Load(context.Background(), art)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := m.Bounded(); ok {
				t.Fatal("runs without a deadline")
			}
			for i := range 2 {
				done := make(chan error, 1)
				start := time.Now()
				go func() {
					var d plugin.Decision
					done <- m.Decide(context.Background(), nil, nil, &d)
				}()
				select {
				case err := <-done:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("decision %d: %v, want a deadline error", i, err)
					}
					// Some 60 ms on an idle machine; the bound leaves
					// room for a busy one, not for minutes.
					if took := time.Since(start); took > 2*time.Second {
						t.Errorf("decision %d: stopped after %v, with a deadline of %v", i, took, timeout)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("decision %d: still running after 5 s, with a deadline of %v", i, timeout)
				}
			}
			if got := m.Stats().Timeouts.Load(); got != 2 {
				t.Errorf("%d timeouts counted, want 2", got)
			}
			m.Close(context.Background())
		})
	}
}
