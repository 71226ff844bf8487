package bounded_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// seedModules are real modules: compiled rule files and the base guest,
// with their manifests.
func seedModules(t testing.TB) ([][]byte, []*plugin.Manifest) {
	t.Helper()
	demo, err := os.ReadFile("../../testdata/demo/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var mods [][]byte
	var mans []*plugin.Manifest
	for _, src := range [][]byte{demo, rulegen.Rules(3, 1), rulegen.Rules(40, 2)} {
		res, err := compiler.Compile("seed.yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, res.Artifact.Wasm)
		mans = append(mans, res.Artifact.Manifest)
	}
	b := build(t, baseGuest())
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	return append(mods, b), append(mans, art.Manifest)
}

// check verifies b against m and, when the verifier accepts it, holds
// the module to what acceptance promises.
func check(t *testing.T, b []byte, m *plugin.Manifest) {
	// Admit reads any bytes, and says why with a *bounded.Error.
	if err := bounded.Admit(b); err != nil {
		var be *bounded.Error
		if !errors.As(err, &be) {
			t.Fatalf("Admit: error %v is a %T, not a *bounded.Error", err, err)
		}
	} else {
		interruptible(t, b)
	}
	res, err := bounded.Verify(b, m)
	if err != nil {
		var be *bounded.Error
		if !errors.As(err, &be) {
			t.Fatalf("error %v is a %T, not a *bounded.Error", err, err)
		}
		return
	}
	if res.Cost > bounded.MaxCost || res.PerByte > bounded.MaxCost || res.PerByte < 0 {
		t.Fatalf("accepted with cost %d + %d per byte, over %d", res.Cost, res.PerByte, bounded.MaxCost)
	}
	if v := res.MaxValue(); v >= 0 && res.Cost+res.PerByte*v > bounded.MaxCost {
		t.Fatalf("MaxValue %d: %d + %d × %d is over %d", v, res.Cost, res.PerByte, v, bounded.MaxCost)
	}
	behaves(t, b, m)
}

// interruptible holds bounded.Interruptible, on a module Admit admits,
// to what the host needs of it: it refuses only a module the runtime
// refuses, and what it writes is valid when the module was.
func interruptible(t *testing.T, b []byte) {
	t.Helper()
	out, ierr := bounded.Interruptible(b)
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	if err := hostFuncs(ctx, rt); err != nil {
		t.Fatal(err)
	}
	_, err := rt.CompileModule(ctx, b)
	switch {
	case err != nil:
	case ierr != nil:
		t.Fatalf("Interruptible refused a module the runtime accepts: %v", ierr)
	default:
		if _, err := rt.CompileModule(ctx, out); err != nil {
			t.Fatalf("Interruptible made a valid module invalid: %v", err)
		}
	}
}

// behaves runs a module the verifier accepted as the host would run it,
// but under a deadline: the runtime must find it valid (the verifier
// accepts nothing the specification rejects), and a decision must end,
// trapped or not, long before the deadline.
func behaves(t *testing.T, b []byte, m *plugin.Manifest) {
	t.Helper()
	ctx := context.Background()
	// Validity first, without the host's memory limit (a module may ask
	// for more memory than a host allows: that host refuses it, and that
	// is no fault of the verifier's). The interpreter validates as the
	// compiler does, for less.
	check := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer check.Close(ctx)
	if err := hostFuncs(ctx, check); err != nil {
		t.Fatal(err)
	}
	if _, err := check.CompileModule(ctx, b); err != nil {
		t.Fatalf("the verifier accepted a module the runtime finds invalid: %v", err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithMemoryLimitPages(64).WithCloseOnContextDone(true))
	defer rt.Close(ctx)
	if err := hostFuncs(ctx, rt); err != nil {
		t.Fatal(err)
	}
	compiled, err := rt.CompileModule(ctx, b)
	if err != nil {
		return // over the memory limit: refused at load
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return // refused at instantiation (its data does not fit its memory): the host refuses it too
	}
	mem := mod.Memory()
	l := m.Layout
	// Values as the host writes them: 64 bytes each, in the heap.
	const valueLen = 64
	need := uint64(l.Heap) + valueLen
	if size := uint64(mem.Size()); need > size {
		if _, ok := mem.Grow(uint32((need - size + plugin.PageSize - 1) / plugin.PageSize)); !ok {
			return
		}
	}
	value := make([]byte, valueLen)
	for i := range value {
		value[i] = 'a' + byte(i%3)
	}
	mem.Write(l.Heap, value)
	for i := range m.Slots {
		var e [plugin.SlotSize]byte
		binary.LittleEndian.PutUint32(e[plugin.SlotPtr:], l.Heap)
		binary.LittleEndian.PutUint32(e[plugin.SlotLen:], valueLen)
		binary.LittleEndian.PutUint32(e[plugin.SlotFlags:], plugin.FlagPresent)
		mem.Write(l.Slots+uint32(i)*plugin.SlotSize, e[:])
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = mod.ExportedFunction(plugin.ExportDecide).Call(dctx)
	if dctx.Err() != nil {
		t.Fatalf("an accepted module ran past the deadline: %v", err)
	}
}

// hostFuncs defines the host functions, answering from their argument.
func hostFuncs(ctx context.Context, rt wazero.Runtime) error {
	answer := func(_ context.Context, _ api.Module, stack []uint64) { stack[0] &= 1 }
	i32 := []api.ValueType{api.ValueTypeI32}
	_, err := rt.NewHostModuleBuilder(plugin.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(answer), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, i32).Export(plugin.ImportRegexMatch).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(answer), i32, i32).Export(plugin.ImportSeen).
		Instantiate(ctx)
	return err
}

// TestMutatedModules mutates real modules at random (reproducible with
// BESPOKE_SEED) and verifies each: the verifier never panics, and what
// it accepts behaves.
func TestMutatedModules(t *testing.T) {
	seed := rand.Uint64()
	if os.Getenv("CI") != "" {
		seed = 20261202 // the same mutations every CI run; local runs explore
	}
	if s := os.Getenv("BESPOKE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with BESPOKE_SEED=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 11))
	mods, mans := seedModules(t)
	n := 1500
	if testing.Short() {
		n = 300
	}
	accepted := 0
	for range n {
		k := r.IntN(len(mods))
		b := mutate(r, mods[k])
		if _, err := bounded.Verify(b, mans[k]); err == nil {
			accepted++
		}
		check(t, b, mans[k])
	}
	t.Logf("%d of %d mutated modules accepted", accepted, n)
}

// mutate changes one to four bytes of b: flips, insertions, deletions.
func mutate(r *rand.Rand, b []byte) []byte {
	out := append([]byte{}, b...)
	for range 1 + r.IntN(4) {
		i := 8 + r.IntN(len(out)-8)
		switch r.IntN(4) {
		case 0:
			out[i] ^= 1 << r.IntN(8)
		case 1:
			out[i] = byte(r.IntN(256))
		case 2:
			out = append(out[:i], append([]byte{byte(r.IntN(256))}, out[i:]...)...)
		default:
			out = append(out[:i], out[i+1:]...)
		}
	}
	return out
}

// FuzzVerify: random and mutated modules never make the verifier panic,
// and every module it accepts compiles and ends its decision.
func FuzzVerify(f *testing.F) {
	mods, mans := seedModules(f)
	for _, b := range mods {
		f.Add(b)
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	// Outside the subset without a loop: calls that multiply, and a
	// recursion, which only Interruptible makes stop at a deadline.
	f.Add(build(f, chain(40)))
	rec := baseGuest()
	rec.Funcs = append(rec.Funcs, guest.Func{Name: "again", Results: []wasm.ValType{wasm.I32}, Body: (&wasm.Code{}).Call(rec.FuncIndex(0))})
	rec.Decide = (&wasm.Code{}).Call(rec.FuncIndex(0))
	f.Add(build(f, rec))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := mans[0]
		if art, err := plugin.ReadArtifact(b); err == nil {
			m = art.Manifest
		}
		check(t, b, m)
	})
}
