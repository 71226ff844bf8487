// Package guest assembles plugin modules by hand: a manifest and the body of
// bespoke_decide become a module that satisfies the ABI. It is how a guest
// written without the rule compiler is packaged, and how tests build
// modules that misbehave on purpose (trap, loop, exhaust memory, step
// outside the bounded subset).
package guest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Module describes a hand-made guest. Its function index space is: the
// Imports, bespoke_decide, the Funcs, then the string helpers when
// Helpers is set (see HelperIndex).
type Module struct {
	// Manifest is embedded as is, except: ABI is set to plugin.ABIVersion,
	// and a zero Layout is computed with plugin.NewLayout (with Data's
	// length).
	Manifest plugin.Manifest
	// Decide is the body of bespoke_decide: () -> i32. It must leave one
	// i32 on the stack (0 for success). nil decides nothing and succeeds.
	Decide *wasm.Code
	// Locals are Decide's local variables.
	Locals []wasm.ValType
	// ExtraPages is memory beyond what the layout needs.
	ExtraPages uint32
	// Imports names the host functions the module imports
	// (plugin.ImportRegexMatch, plugin.ImportSeen), in index order.
	Imports []string
	// Funcs are more functions, after bespoke_decide.
	Funcs []Func
	// Helpers appends the string helpers of the bounded subset.
	Helpers bool
	// Data is the module's constant data, placed at Layout.Data.
	Data []byte
}

// Func is a function of a hand-made guest.
type Func struct {
	Name            string
	Params, Results []wasm.ValType
	Locals          []wasm.ValType
	Body            *wasm.Code
}

// DecideIndex is the function index of bespoke_decide in g.
func (g *Module) DecideIndex() uint32 { return uint32(len(g.Imports)) }

// FuncIndex is the function index of g.Funcs[i].
func (g *Module) FuncIndex(i int) uint32 { return uint32(len(g.Imports) + 1 + i) }

// HelperIndex is the function index of a string helper (with Helpers
// set).
func (g *Module) HelperIndex(h bounded.Helper) uint32 {
	return g.FuncIndex(len(g.Funcs)) + uint32(h-bounded.StartsWith)
}

// Layout returns the layout Build gives g.
func (g *Module) Layout() plugin.Layout {
	if g.Manifest.Layout != (plugin.Layout{}) {
		return g.Manifest.Layout
	}
	m := g.Manifest
	return plugin.NewLayout(len(m.Slots), len(m.Rules), len(m.Experiments), len(g.Data))
}

// Build encodes the module.
func Build(g Module) ([]byte, error) {
	m := g.Manifest
	m.ABI = plugin.ABIVersion
	m.Layout = g.Layout()
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
	i32 := []wasm.ValType{wasm.I32}
	mod := &wasm.Module{}
	for _, name := range g.Imports {
		var t uint32
		switch name {
		case plugin.ImportRegexMatch:
			t = mod.Type([]wasm.ValType{wasm.I32, wasm.I32}, i32)
		case plugin.ImportSeen:
			t = mod.Type(i32, i32)
		default:
			return nil, fmt.Errorf("guest: %q is not a host function", name)
		}
		mod.Imports = append(mod.Imports, wasm.Import{Module: plugin.ImportModule, Name: name, Type: t})
	}
	mod.Funcs = append(mod.Funcs, wasm.Func{Name: "decide", Type: mod.Type(nil, i32), Locals: g.Locals, Body: g.Decide})
	for _, f := range g.Funcs {
		mod.Funcs = append(mod.Funcs, wasm.Func{Name: f.Name, Type: mod.Type(f.Params, f.Results), Locals: f.Locals, Body: f.Body})
	}
	if g.Helpers {
		t := mod.Type(bounded.HelperParams, bounded.HelperResults)
		sw := g.HelperIndex(bounded.StartsWith)
		for _, h := range []bounded.Helper{bounded.StartsWith, bounded.EndsWith, bounded.Contains} {
			mod.Funcs = append(mod.Funcs, bounded.HelperFunc(h, t, sw))
		}
	}
	mod.MemoryMin = (m.Layout.Heap+plugin.PageSize-1)/plugin.PageSize + 1 + g.ExtraPages
	mod.Globals = append(mod.Globals, wasm.Global{Type: wasm.I32, Init: plugin.ABIVersion})
	mod.Exports = append(mod.Exports,
		wasm.Export{Name: plugin.ExportMemory, Kind: wasm.ExportMemory},
		wasm.Export{Name: plugin.ExportDecide, Kind: wasm.ExportFunc, Index: g.DecideIndex()},
		wasm.Export{Name: plugin.ExportABIVersion, Kind: wasm.ExportGlobal},
	)
	if len(g.Data) > 0 {
		mod.Data = append(mod.Data, wasm.Data{Offset: m.Layout.Data, Bytes: g.Data})
	}
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

// Patch returns the module wasm with its manifest section changed by
// edit: a manifest edited by hand, as a plugin's author (or anyone who
// can write the file) may edit it. Tests use it to make a compiled
// plugin say what no checked rule file says. The manifest is decoded
// and encoded again without being validated; the other sections are
// copied as they are.
func Patch(wasm []byte, edit func(*plugin.Manifest)) ([]byte, error) {
	sections, err := plugin.CustomSections(wasm)
	if err != nil {
		return nil, err
	}
	raw, ok := sections[plugin.SectionManifest]
	if !ok {
		return nil, fmt.Errorf("guest: the module has no %q section", plugin.SectionManifest)
	}
	var m plugin.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	edit(&m)
	manifest, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	// The module's header, then each section: the manifest's written
	// again with the new payload.
	const header = 8
	out := append([]byte(nil), wasm[:header]...)
	b := wasm[header:]
	for len(b) > 0 {
		size, n := binary.Uvarint(b[1:])
		body := b[1+n : 1+n+int(size)]
		next := b[1+n+int(size):]
		if b[0] == 0 {
			nameLen, k := binary.Uvarint(body)
			if string(body[k:k+int(nameLen)]) == plugin.SectionManifest {
				payload := append(append([]byte(nil), body[:k+int(nameLen)]...), manifest...)
				out = append(out, 0)
				out = binary.AppendUvarint(out, uint64(len(payload)))
				out = append(out, payload...)
				b = next
				continue
			}
		}
		out = append(out, b[:1+n+int(size)]...)
		b = next
	}
	return out, nil
}
