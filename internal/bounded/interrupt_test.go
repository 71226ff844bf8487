package bounded_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestInterruptible: every function body of a module, with locals or
// without, starts with an empty loop after the rewrite, where the
// runtime checks for the deadline; the module still validates and
// decides as before. A module whose code section cannot be read is
// refused, saying where.
func TestInterruptible(t *testing.T) {
	i32 := []wasm.ValType{wasm.I32}
	g := baseGuest()
	g.Locals = []wasm.ValType{wasm.I64, wasm.I64, wasm.F64}
	g.Funcs = append(g.Funcs, guest.Func{Name: "one", Results: i32, Locals: []wasm.ValType{wasm.I32}, Body: (&wasm.Code{}).I32Const(1)})
	g.Decide = (&wasm.Code{}).Call(g.FuncIndex(0)).Drop().I32Const(0)
	good := build(t, g)
	// A code section whose size is written in 5 bytes, as a runtime
	// accepts: the rewrite writes its own.
	i := codeSection(t, good)
	size, n := readUleb(good[i+1:])
	padded := append(append(append([]byte{}, good[:i+1]...), 0x80|byte(size&0x7f), 0x80|byte(size>>7&0x7f), 0x80, 0x80, 0), good[i+1+n:]...)

	tests := []struct {
		name   string
		module []byte
		want   string // in the error; "" when rewritten
	}{
		{"a guest", good, ""},
		{"a code section's size in 5 bytes", padded, ""},
		{"no code", raw(t, func(m *wasm.Module) { m.Funcs = nil; m.Exports = m.Exports[:1] }), ""},
		{"a local of an unknown type", patchLocal(t, good, 0x40), "local of value type 0x40"},
		{"more bodies announced than there are", patchCount(t, good, 9), "malformed code section: at byte"},
		{"not wasm", []byte("\x00as"), "not a WebAssembly 1.0 module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := bounded.Interruptible(tt.module)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to say %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
			defer rt.Close(ctx)
			if err := hostFuncs(ctx, rt); err != nil {
				t.Fatal(err)
			}
			c, err := rt.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("the rewritten module is invalid: %v", err)
			}
			if len(c.ExportedFunctions()) == 0 {
				return
			}
			// Each body, after its locals, starts with the loop.
			checks := bytes.Count(out, []byte{0x03, 0x40, 0x0b}) - bytes.Count(tt.module, []byte{0x03, 0x40, 0x0b})
			if want := 2 + 3; checks != want { // decide, one, the 3 helpers
				t.Errorf("%d loops added, want %d", checks, want)
			}
			mod, err := rt.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatal(err)
			}
			res, err := mod.ExportedFunction(plugin.ExportDecide).Call(ctx)
			if err != nil || res[0] != 0 {
				t.Fatalf("decide: %v, %v", res, err)
			}
		})
	}
}

// codeSection returns the offset of the code section of b.
func codeSection(t *testing.T, b []byte) int {
	t.Helper()
	for i := 8; i < len(b); {
		size, n := readUleb(b[i+1:])
		if b[i] == 10 {
			return i
		}
		i += 1 + n + int(size)
	}
	t.Fatal("no code section")
	return 0
}

// patchLocal sets the type of the first local of decide, the first
// body, which must declare one run of locals.
func patchLocal(t *testing.T, b []byte, typ byte) []byte {
	out := append([]byte{}, b...)
	i := codeSection(t, out)
	_, n := readUleb(out[i+1:])
	i += 1 + n + 1 // the count of bodies, one byte
	_, n = readUleb(out[i:])
	i += n // the body's size
	if out[i] == 0 {
		t.Fatal("decide declares no locals")
	}
	_, n = readUleb(out[i+1:])
	out[i+1+n] = typ
	return out
}

// patchCount sets the count of bodies of the code section (one byte).
func patchCount(t *testing.T, b []byte, count byte) []byte {
	out := append([]byte{}, b...)
	i := codeSection(t, out)
	_, n := readUleb(out[i+1:])
	out[i+1+n] = count
	return out
}
