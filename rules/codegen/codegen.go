// Package codegen lowers rule IR to a WebAssembly module that satisfies the
// plugin ABI: straight-line code per rule, segments as memoized functions,
// and three small string helpers. There is no language runtime in the
// module; the only loops are over the bytes of values the host wrote, so a
// decision's cost is bounded by the module's size and its input.
package codegen

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/plugin/bounded"
	"github.com/bespoke-edge/bespoke/plugin/wasm"
	"github.com/bespoke-edge/bespoke/rules/ir"
)

// Compiler names this code generator in manifests.
const Compiler = plugin.BoundedCompiler + "/1"

// rulesPerFunc is how many rules one generated function decides: one u64
// word of the decision bitset, and functions small enough that the Wasm
// compiler's per-function costs stay flat as rule files grow.
const rulesPerFunc = 64

// heapRoom is the space the initial memory leaves above the heap's start,
// enough for a typical request's values without growing memory.
const heapRoom = 32 << 10

// Generate returns the module for p, with its manifest in custom sections.
func Generate(p *ir.Program) ([]byte, error) {
	g := &gen{p: p, mod: &wasm.Module{}, consts: map[string]uint32{}}
	return g.generate()
}

type gen struct {
	p      *ir.Program
	mod    *wasm.Module
	layout plugin.Layout
	data   []byte
	consts map[string]uint32 // constant text -> address

	fnRegex    uint32
	useRegex   bool
	fnSeen     uint32
	useSeen    bool
	fnPrefix   uint32
	fnSuffix   uint32
	fnContains uint32
	segFuncs   []uint32
	segGlobals []uint32
}

// Types used by the module.
var (
	tNoneI32 = []wasm.ValType{wasm.I32}
	tStr     = []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}
	tTwoI32  = []wasm.ValType{wasm.I32, wasm.I32}
)

func (g *gen) generate() ([]byte, error) {
	// Constants first: the layout depends on their size.
	for _, s := range g.p.Segments {
		g.collect(s.Cond)
	}
	for _, r := range g.p.Rules {
		g.collect(r.Cond)
	}
	for _, x := range g.p.Experiments {
		g.collect(x.Cond)
	}
	g.layout = plugin.NewLayout(len(g.p.Slots), len(g.p.Rules), len(g.p.Experiments), len(g.data))
	for k, off := range g.consts {
		g.consts[k] = off + g.layout.Data
	}

	m := g.mod
	// Function index space: imports, then defined functions in this order:
	// decide, rule chunks, segments, helpers.
	if g.useRegex {
		g.fnRegex = uint32(len(m.Imports))
		m.Imports = append(m.Imports, wasm.Import{Module: plugin.ImportModule, Name: plugin.ImportRegexMatch, Type: m.Type(tTwoI32, tNoneI32)})
	}
	if g.useSeen {
		g.fnSeen = uint32(len(m.Imports))
		m.Imports = append(m.Imports, wasm.Import{Module: plugin.ImportModule, Name: plugin.ImportSeen, Type: m.Type([]wasm.ValType{wasm.I32}, tNoneI32)})
	}
	base := uint32(len(m.Imports))
	chunks := (len(g.p.Rules) + rulesPerFunc - 1) / rulesPerFunc
	next := base + 1 + uint32(chunks)
	for range g.p.Segments {
		g.segFuncs = append(g.segFuncs, next)
		next++
	}
	g.fnPrefix, g.fnSuffix, g.fnContains = next, next+1, next+2

	// Globals: the ABI version, then one memo per segment.
	m.Globals = append(m.Globals, wasm.Global{Type: wasm.I32, Init: plugin.ABIVersion})
	for range g.p.Segments {
		g.segGlobals = append(g.segGlobals, uint32(len(m.Globals)))
		m.Globals = append(m.Globals, wasm.Global{Type: wasm.I32, Mutable: true, Init: -1})
	}

	// decide
	decide := &wasm.Code{}
	for _, gl := range g.segGlobals {
		decide.I32Const(-1).GlobalSet(gl)
	}
	// Experiments are decided first: rules may depend on their variants.
	for i, x := range g.p.Experiments {
		g.experiment(decide, i, x)
	}
	for c := range chunks {
		decide.Call(base + 1 + uint32(c))
	}
	decide.I32Const(0)
	m.Funcs = append(m.Funcs, wasm.Func{Name: "decide", Type: m.Type(nil, tNoneI32), Locals: []wasm.ValType{wasm.I32}, Body: decide})

	for c := range chunks {
		lo, hi := c*rulesPerFunc, min((c+1)*rulesPerFunc, len(g.p.Rules))
		code := &wasm.Code{}
		for i := lo; i < hi; i++ {
			g.cond(code, g.p.Rules[i].Cond)
			code.I64ExtendI32U().I64Const(int64(i - lo)).I64Shl().LocalGet(localMask).I64Or().LocalSet(localMask)
		}
		code.I32Const(0).LocalGet(localMask).I64Store(g.layout.Decision + uint32(8*c))
		name := fmt.Sprintf("rules %d-%d", lo, hi-1)
		if hi-lo == 1 {
			name = "rule " + g.p.Rules[lo].Name
		}
		m.Funcs = append(m.Funcs, wasm.Func{Name: name, Type: m.Type(nil, nil), Locals: []wasm.ValType{wasm.I32, wasm.I64}, Body: code})
	}

	for i, s := range g.p.Segments {
		gl := g.segGlobals[i]
		code := &wasm.Code{}
		code.GlobalGet(gl).I32Const(0).I32GeS().If(wasm.BlockI32).GlobalGet(gl).Else()
		g.cond(code, s.Cond)
		code.GlobalSet(gl).GlobalGet(gl).End()
		m.Funcs = append(m.Funcs, wasm.Func{Name: "segment " + s.Name, Type: m.Type(nil, tNoneI32), Locals: []wasm.ValType{wasm.I32}, Body: code})
	}
	g.helpers()

	pages := (uint64(g.layout.Heap) + heapRoom + plugin.PageSize - 1) / plugin.PageSize
	m.MemoryMin = uint32(pages)
	if len(g.data) > 0 {
		m.Data = append(m.Data, wasm.Data{Offset: g.layout.Data, Bytes: g.data})
	}
	m.Exports = append(m.Exports,
		wasm.Export{Name: plugin.ExportMemory, Kind: wasm.ExportMemory, Index: 0},
		wasm.Export{Name: plugin.ExportDecide, Kind: wasm.ExportFunc, Index: base},
		wasm.Export{Name: plugin.ExportABIVersion, Kind: wasm.ExportGlobal, Index: 0},
	)

	manifest, err := json.Marshal(g.manifest())
	if err != nil {
		return nil, err
	}
	m.Customs = append(m.Customs,
		wasm.Custom{Name: plugin.SectionABI, Payload: binary.LittleEndian.AppendUint32(nil, plugin.ABIVersion)},
		wasm.Custom{Name: plugin.SectionManifest, Payload: manifest},
	)
	return m.Encode(), nil
}

func (g *gen) manifest() *plugin.Manifest {
	m := &plugin.Manifest{
		ABI:        plugin.ABIVersion,
		Compiler:   Compiler,
		Source:     g.p.Source,
		SourceHash: g.p.SourceHash,
		Layout:     g.layout,
		Slots:      g.slotUses(),
		Symbols:    g.p.Symbols,
		Patterns:   g.p.Patterns,
		Selectors:  g.p.Selectors,
	}
	if m.Slots == nil {
		m.Slots = []plugin.Slot{}
	}
	if m.Symbols == nil {
		m.Symbols = []string{}
	}
	for _, r := range g.p.Rules {
		acts := r.Actions
		if acts == nil {
			acts = []plugin.Action{}
		}
		m.Rules = append(m.Rules, plugin.Rule{Name: r.Name, Pos: plugin.Pos{Line: r.Pos.Line, Col: r.Pos.Col}, Actions: acts, Cap: r.Cap})
	}
	if m.Rules == nil {
		m.Rules = []plugin.Rule{}
	}
	for _, x := range g.p.Experiments {
		m.Experiments = append(m.Experiments, plugin.Experiment{Name: x.Name, Variants: x.Variants, Weights: x.Weights, Meta: x.Meta})
	}
	return m
}

// experiment emits the assignment of experiment i: -1 unless the
// condition holds and the bucket is known, else the first variant whose
// range ends above the bucket (or -1 past the last range). The result is
// stored in the Decision's variant array, where rules read it.
func (g *gen) experiment(c *wasm.Code, i int, x *ir.Experiment) {
	c.I32Const(0)
	c.Block(wasm.BlockI32)
	c.I32Const(-1)
	g.cond(c, x.Cond)
	c.I32Eqz().BrIf(0).Drop()
	c.I32Const(-1)
	g.isNumber(c, x.Bucket)
	c.I32Eqz().BrIf(0).Drop()
	upper := 0.0
	for v, w := range x.Weights {
		upper += float64(w)
		c.I32Const(int32(v))
		g.slotField(c, x.Bucket, plugin.SlotNum)
		c.F64Const(upper).F64Lt().BrIf(0).Drop()
	}
	c.I32Const(-1)
	c.End()
	c.I32Store(g.layout.Variants + uint32(4*i))
}

// slotUses returns the program's slots with what the module does with each:
// which symbols it compares them with, and whether it reads their bytes.
func (g *gen) slotUses() []plugin.Slot {
	slots := make([]plugin.Slot, len(g.p.Slots))
	for i, s := range g.p.Slots {
		slots[i] = plugin.Slot{Attr: s.Attr, Arg: s.Arg, From: s.From}
	}
	seen := make([]map[int]bool, len(slots))
	var walk func(n ir.Node)
	walk = func(n ir.Node) {
		switch n := n.(type) {
		case *ir.And:
			for _, x := range n.X {
				walk(x)
			}
		case *ir.Or:
			for _, x := range n.X {
				walk(x)
			}
		case *ir.Not:
			walk(n.X)
		case *ir.SymIn:
			if seen[n.Slot] == nil {
				seen[n.Slot] = map[int]bool{}
			}
			for _, s := range n.Syms {
				if !seen[n.Slot][s] {
					seen[n.Slot][s] = true
					slots[n.Slot].Symbols = append(slots[n.Slot].Symbols, s)
				}
			}
		case *ir.StrTest:
			slots[n.Slot].Bytes = true
		}
	}
	for _, s := range g.p.Segments {
		walk(s.Cond)
	}
	for _, r := range g.p.Rules {
		walk(r.Cond)
	}
	for _, x := range g.p.Experiments {
		walk(x.Cond)
	}
	return slots
}

// collect gathers the texts substring tests compare with into the data
// segment, and notes which imports are needed.
func (g *gen) collect(n ir.Node) {
	switch n := n.(type) {
	case *ir.And:
		for _, x := range n.X {
			g.collect(x)
		}
	case *ir.Or:
		for _, x := range n.X {
			g.collect(x)
		}
	case *ir.Not:
		g.collect(n.X)
	case *ir.StrTest:
		if _, ok := g.consts[n.Arg]; !ok {
			g.consts[n.Arg] = uint32(len(g.data))
			g.data = append(g.data, n.Arg...)
		}
	case *ir.Match:
		g.useRegex = true
	case *ir.Seen:
		g.useSeen = true
	}
}

// Locals of rule-chunk functions: a scratch i32, then the decision word.
const (
	localScratch = 0
	localMask    = 1
)

func (g *gen) slotField(c *wasm.Code, slot int, field uint32) {
	c.I32Const(0)
	addr := g.layout.Slots + uint32(slot)*plugin.SlotSize + field
	switch field {
	case plugin.SlotNum:
		c.F64Load(addr)
	default:
		c.I32Load(addr)
	}
}

// cond emits code leaving 1 or 0 on the stack. and/or stop at the first
// operand that decides, like the reference evaluator, using a block whose
// result is the deciding constant.
func (g *gen) cond(c *wasm.Code, n ir.Node) {
	switch n := n.(type) {
	case *ir.Const:
		if n.Value {
			c.I32Const(1)
		} else {
			c.I32Const(0)
		}
	case *ir.And, *ir.Or:
		var xs []ir.Node
		var stop int32
		if a, ok := n.(*ir.And); ok {
			xs, stop = a.X, 0
		} else {
			xs, stop = n.(*ir.Or).X, 1
		}
		c.Block(wasm.BlockI32)
		for i, x := range xs {
			if i == len(xs)-1 {
				g.cond(c, x)
				break
			}
			c.I32Const(stop)
			g.cond(c, x)
			if stop == 0 {
				c.I32Eqz()
			}
			c.BrIf(0).Drop()
		}
		c.End()
	case *ir.Not:
		g.cond(c, n.X)
		c.I32Eqz()
	case *ir.SegmentRef:
		c.Call(g.segFuncs[n.Index])
	case *ir.Exists:
		g.slotField(c, n.Slot, plugin.SlotFlags)
		c.I32Const(plugin.FlagPresent).I32And()
	case *ir.Truthy:
		g.isNumber(c, n.Slot)
		g.slotField(c, n.Slot, plugin.SlotNum)
		c.F64Const(0).F64Ne().I32And()
	case *ir.SymIn:
		if len(n.Syms) == 1 {
			g.slotField(c, n.Slot, plugin.SlotSym)
			c.I32Const(int32(n.Syms[0])).I32Eq()
			return
		}
		g.slotField(c, n.Slot, plugin.SlotSym)
		c.LocalSet(localScratch)
		for i, s := range n.Syms {
			c.LocalGet(localScratch).I32Const(int32(s)).I32Eq()
			if i > 0 {
				c.I32Or()
			}
		}
	case *ir.StrTest:
		g.slotField(c, n.Slot, plugin.SlotFlags)
		c.I32Const(plugin.FlagPresent).I32And().If(wasm.BlockI32)
		g.slotField(c, n.Slot, plugin.SlotPtr)
		g.slotField(c, n.Slot, plugin.SlotLen)
		c.I32Const(int32(g.consts[n.Arg])).I32Const(int32(len(n.Arg)))
		switch n.Op {
		case ir.Prefix:
			c.Call(g.fnPrefix)
		case ir.Suffix:
			c.Call(g.fnSuffix)
		default:
			c.Call(g.fnContains)
		}
		c.Else().I32Const(0).End()
	case *ir.NumCmp:
		g.isNumber(c, n.Slot)
		g.slotField(c, n.Slot, plugin.SlotNum)
		c.F64Const(n.Value)
		switch n.Op {
		case ir.EQ:
			c.F64Eq()
		case ir.LT:
			c.F64Lt()
		case ir.LE:
			c.F64Le()
		case ir.GT:
			c.F64Gt()
		case ir.GE:
			c.F64Ge()
		}
		c.I32And()
	case *ir.Match:
		g.slotField(c, n.Slot, plugin.SlotFlags)
		c.I32Const(plugin.FlagPresent).I32And().If(wasm.BlockI32)
		c.I32Const(int32(n.Pattern)).I32Const(int32(n.Slot)).Call(g.fnRegex).I32Const(0).I32Ne()
		c.Else().I32Const(0).End()
	case *ir.Seen:
		c.I32Const(int32(n.Item)).Call(g.fnSeen).I32Const(0).I32Ne()
	case *ir.VariantIs:
		c.I32Const(0).I32Load(g.layout.Variants + uint32(4*n.Exp)).LocalSet(localScratch)
		for i, v := range n.Variants {
			c.LocalGet(localScratch).I32Const(int32(v)).I32Eq()
			if i > 0 {
				c.I32Or()
			}
		}
	default:
		panic(fmt.Sprintf("codegen: unknown node %T", n))
	}
}

// isNumber leaves 1 when the slot is present and numeric.
func (g *gen) isNumber(c *wasm.Code, slot int) {
	g.slotField(c, slot, plugin.SlotFlags)
	c.I32Const(plugin.FlagPresent | plugin.FlagNumber).I32And().I32Const(plugin.FlagPresent | plugin.FlagNumber).I32Eq()
}

// helpers emits starts_with, ends_with and contains over (ptr, len, cptr,
// clen): the bounded subset's string helpers, byte for byte, so that a
// host reading the module from a file can verify it (plugin/bounded).
func (g *gen) helpers() {
	t := g.mod.Type(bounded.HelperParams, bounded.HelperResults)
	for _, h := range []bounded.Helper{bounded.StartsWith, bounded.EndsWith, bounded.Contains} {
		g.mod.Funcs = append(g.mod.Funcs, bounded.HelperFunc(h, t, g.fnPrefix))
	}
}
