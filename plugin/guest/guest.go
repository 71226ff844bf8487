// Package guest assembles plugin modules by hand: a manifest and the body of
// bespoke_decide become a module that satisfies the ABI. It is how a guest
// written without the rule compiler is packaged, and how tests build
// modules that misbehave on purpose (trap, loop, exhaust memory).
package guest

import (
	"encoding/binary"
	"encoding/json"

	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/plugin/wasm"
)

// Module describes a hand-made guest.
type Module struct {
	// Manifest is embedded as is, except: ABI is set to plugin.ABIVersion,
	// and a zero Layout is computed with plugin.NewLayout.
	Manifest plugin.Manifest
	// Decide is the body of bespoke_decide: () -> i32. It must leave one
	// i32 on the stack (0 for success). nil decides nothing and succeeds.
	Decide *wasm.Code
	// Locals are Decide's local variables.
	Locals []wasm.ValType
	// ExtraPages is memory beyond what the layout needs.
	ExtraPages uint32
}

// Build encodes the module.
func Build(g Module) ([]byte, error) {
	m := g.Manifest
	m.ABI = plugin.ABIVersion
	if m.Layout == (plugin.Layout{}) {
		m.Layout = plugin.NewLayout(len(m.Slots), len(m.Rules), len(m.Experiments), 0)
	}
	if m.Slots == nil {
		m.Slots = []plugin.Slot{}
	}
	if m.Symbols == nil {
		m.Symbols = []string{}
	}
	if m.Rules == nil {
		m.Rules = []plugin.Rule{}
	}
	manifest, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	if g.Decide == nil {
		g.Decide = (&wasm.Code{}).I32Const(0)
	}
	mod := &wasm.Module{}
	mod.Funcs = append(mod.Funcs, wasm.Func{Name: "decide", Type: mod.Type(nil, []wasm.ValType{wasm.I32}), Locals: g.Locals, Body: g.Decide})
	mod.MemoryMin = (m.Layout.Heap+plugin.PageSize-1)/plugin.PageSize + 1 + g.ExtraPages
	mod.Globals = append(mod.Globals, wasm.Global{Type: wasm.I32, Init: plugin.ABIVersion})
	mod.Exports = append(mod.Exports,
		wasm.Export{Name: plugin.ExportMemory, Kind: wasm.ExportMemory},
		wasm.Export{Name: plugin.ExportDecide, Kind: wasm.ExportFunc},
		wasm.Export{Name: plugin.ExportABIVersion, Kind: wasm.ExportGlobal},
	)
	mod.Customs = append(mod.Customs,
		wasm.Custom{Name: plugin.SectionABI, Payload: binary.LittleEndian.AppendUint32(nil, plugin.ABIVersion)},
		wasm.Custom{Name: plugin.SectionManifest, Payload: manifest},
	)
	return mod.Encode(), nil
}

// Trap returns the body of a decide that traps.
func Trap() *wasm.Code { return (&wasm.Code{}).Unreachable().I32Const(0) }

// Loop returns the body of a decide that never returns.
func Loop() *wasm.Code {
	return (&wasm.Code{}).Loop(wasm.BlockEmpty).Br(0).End().I32Const(0)
}

// MatchAll returns the body of a decide that matches rules 0..n-1 (n <= 64)
// and succeeds.
func MatchAll(l plugin.Layout, n int) *wasm.Code {
	var mask int64 = -1
	if n < 64 {
		mask = int64(1)<<n - 1
	}
	return (&wasm.Code{}).I32Const(0).I64Const(mask).I64Store(l.Decision).I32Const(0)
}

// GrowMemory returns the body of a decide that grows memory until the host
// refuses, then traps: a plugin that exhausts its memory limit.
func GrowMemory() *wasm.Code {
	c := &wasm.Code{}
	c.Loop(wasm.BlockEmpty)
	c.I32Const(16).MemoryGrow().I32Const(-1).I32Ne().BrIf(0)
	c.End()
	return c.Unreachable().I32Const(0)
}
