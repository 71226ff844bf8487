// Package codegen lowers rule IR to a WebAssembly module that satisfies the
// plugin ABI and stays inside the bounded subset (package internal/bounded):
// no loop but the string helpers', no call cycle, no language runtime.
//
// A decision runs in three steps, each distinct condition computed at most
// once (ir.Share):
//
//  1. atoms: every cheap test of slot values (exists, ==, in, numbers),
//     every substring test, regular expression and seen() that at least
//     eagerUses conditions use, and every combination of them used more
//     than once, is computed straight away into bits of i64 words; an
//     `in` list is a bitmask of the value's symbol;
//  2. experiments assign their variants;
//  3. rules, 64 to a function, combine atom bits with bitwise operations
//     and set their bit of the Decision. A condition that needs a string
//     helper or the host (substrings, regular expressions, seen) and few
//     rules use is asked only when the rest of the rule has not decided,
//     and remembered for the decision when several rules use it: a
//     regular expression is matched at most once per pattern and slot.
package codegen

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Compiler names this code generator in manifests.
const Compiler = plugin.BoundedCompiler + "/2"

// rulesPerFunc is how many rules one generated function decides: one u64
// word of the decision bitset, and functions small enough that the Wasm
// compiler's per-function costs stay flat as rule files grow.
const rulesPerFunc = 64

// eagerUses is how many conditions must use a substring test, a regular
// expression or seen() for it to be computed with the atoms, up front,
// rather than when a rule needs it. A test that many rules ask about is
// asked in most decisions anyway, and the rules that use it become
// branch-free bit operations: on 10,000 generated rules, deciding costs
// about a fifth of the time it does when they are asked on demand.
const eagerUses = 4

// heapRoom is the space the initial memory leaves above the heap's start,
// enough for a typical request's values without growing memory.
const heapRoom = 32 << 10

// Generate returns the module for p, with its manifest in custom sections.
func Generate(p *ir.Program) ([]byte, error) {
	a, err := GenerateArtifact(p)
	if err != nil {
		return nil, err
	}
	return a.Wasm, nil
}

// GenerateArtifact is Generate, which also returns the manifest it wrote
// into the module: the compiler hands it to the host as it is, where
// plugin.ReadArtifact would decode the same from the module's bytes
// (rules.TestArtifactManifest checks they are equal).
func GenerateArtifact(p *ir.Program) (*plugin.Artifact, error) {
	g := &gen{p: p, sh: ir.Share(p), mod: &wasm.Module{}, consts: map[string]uint32{}, bitmaps: map[int]uint32{}}
	return g.generate()
}

// class is how a shared node is computed.
type class uint8

const (
	// eager nodes depend on slot values alone (and are cheap, or used by
	// eagerUses conditions or more): computed once per decision before
	// anything else, without a branch.
	eager class = iota
	// inline nodes are cheap but read an experiment's variant, decided
	// after the atoms: computed where they are used.
	inline
	// costly nodes call a string helper or the host: computed only when
	// needed, and remembered when used more than once.
	costly
)

type gen struct {
	p       *ir.Program
	sh      *ir.Shared
	mod     *wasm.Module
	layout  plugin.Layout
	data    []byte
	consts  map[string]uint32 // constant text -> address
	bitmaps map[int]uint32    // node of a long `in` list -> address of its bitmap
	syms    symbolTable

	class []class
	atom  []int // atom index of each node, or -1
	atoms []int // node of each atom
	memo  []int // memo index of each node, or -1
	memos []int // node of each memo

	fnRegex, fnSeen                uint32
	useRegex, useSeen              bool
	fnAtoms, fnChunks, fnMemos     uint32
	fnPrefix, fnSuffix, fnContains uint32
	gAtoms, gKnown, gValue         uint32 // first global of each kind of word
}

// Types used by the module.
var (
	tNoneI32 = []wasm.ValType{wasm.I32}
	tTwoI32  = []wasm.ValType{wasm.I32, wasm.I32}
)

func (g *gen) generate() (*plugin.Artifact, error) {
	g.plan()
	g.syms = newSymbolTable(g.p, g.sh)
	g.collectData()
	g.layout = plugin.NewLayout(len(g.p.Slots), len(g.p.Rules), len(g.p.Experiments), len(g.data))
	for k, off := range g.consts {
		g.consts[k] = off + g.layout.Data
	}
	for k, off := range g.bitmaps {
		g.bitmaps[k] = off + g.layout.Data
	}

	m := g.mod
	// Function index space: imports, then decide, atom words, rule chunks,
	// remembered conditions, helpers.
	if g.useRegex {
		g.fnRegex = uint32(len(m.Imports))
		m.Imports = append(m.Imports, wasm.Import{Module: plugin.ImportModule, Name: plugin.ImportRegexMatch, Type: m.Type(tTwoI32, tNoneI32)})
	}
	if g.useSeen {
		g.fnSeen = uint32(len(m.Imports))
		m.Imports = append(m.Imports, wasm.Import{Module: plugin.ImportModule, Name: plugin.ImportSeen, Type: m.Type([]wasm.ValType{wasm.I32}, tNoneI32)})
	}
	base := uint32(len(m.Imports))
	words := wordsFor(len(g.atoms))
	chunks := (len(g.p.Rules) + rulesPerFunc - 1) / rulesPerFunc
	g.fnAtoms = base + 1
	g.fnChunks = g.fnAtoms + uint32(words)
	g.fnMemos = g.fnChunks + uint32(chunks)
	g.fnPrefix = g.fnMemos + uint32(len(g.memos))
	g.fnSuffix, g.fnContains = g.fnPrefix+1, g.fnPrefix+2

	// Globals: the ABI version, the atom words, then which remembered
	// conditions are known and their values.
	m.Globals = append(m.Globals, wasm.Global{Type: wasm.I32, Init: plugin.ABIVersion})
	g.gAtoms = uint32(len(m.Globals))
	for range words {
		m.Globals = append(m.Globals, wasm.Global{Type: wasm.I64, Mutable: true})
	}
	g.gKnown = uint32(len(m.Globals))
	for range 2 * g.memoWords() {
		m.Globals = append(m.Globals, wasm.Global{Type: wasm.I64, Mutable: true})
	}
	g.gValue = g.gKnown + uint32(g.memoWords())

	m.Funcs = append(m.Funcs, g.decide(words, chunks))
	for w := range words {
		m.Funcs = append(m.Funcs, g.atomWord(w))
	}
	for c := range chunks {
		m.Funcs = append(m.Funcs, g.chunk(c))
	}
	for i := range g.memos {
		m.Funcs = append(m.Funcs, g.memoFunc(i))
	}
	t := m.Type(bounded.HelperParams, bounded.HelperResults)
	for _, h := range []bounded.Helper{bounded.StartsWith, bounded.EndsWith, bounded.Contains} {
		m.Funcs = append(m.Funcs, bounded.HelperFunc(h, t, g.fnPrefix))
	}

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

	man := g.manifest()
	manifest, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	m.Customs = append(m.Customs,
		wasm.Custom{Name: plugin.SectionABI, Payload: binary.LittleEndian.AppendUint32(nil, plugin.ABIVersion)},
		wasm.Custom{Name: plugin.SectionManifest, Payload: manifest},
	)
	return &plugin.Artifact{Wasm: m.Encode(), Manifest: man}, nil
}

// wordsFor is the number of 64-bit words holding n bits.
func wordsFor(n int) int { return (n + 63) / 64 }

func (g *gen) memoWords() int { return wordsFor(len(g.memos)) }

// plan classifies the shared nodes and chooses the atoms and the
// remembered conditions. Operands come before the nodes made of them.
func (g *gen) plan() {
	n := len(g.sh.Nodes)
	g.class = make([]class, n)
	g.atom = make([]int, n)
	g.memo = make([]int, n)
	for k, sn := range g.sh.Nodes {
		g.atom[k], g.memo[k] = -1, -1
		switch sn.Op {
		case ir.SConst:
			g.class[k] = eager
		case ir.SLeaf:
			switch sn.Leaf.(type) {
			case *ir.VariantIs:
				g.class[k] = inline
			case *ir.StrTest, *ir.Match, *ir.Seen:
				g.class[k] = costly
				if sn.Uses >= eagerUses {
					g.class[k] = eager
				}
			default:
				g.class[k] = eager
			}
		default:
			for _, x := range sn.X {
				g.class[k] = max(g.class[k], g.class[x])
			}
		}
		if sn.Uses == 0 {
			continue
		}
		switch {
		case g.class[k] == eager && sn.Op != ir.SConst && (sn.Op == ir.SLeaf || sn.Uses > 1):
			// Every test of the context is an atom; a combination is one
			// when it is used twice (a segment, a repeated sub-condition).
			g.atom[k] = len(g.atoms)
			g.atoms = append(g.atoms, k)
		case g.class[k] == costly && sn.Uses > 1:
			g.memo[k] = len(g.memos)
			g.memos = append(g.memos, k)
		}
		if sn.Op == ir.SLeaf {
			switch sn.Leaf.(type) {
			case *ir.Match:
				g.useRegex = true
			case *ir.Seen:
				g.useSeen = true
			}
		}
	}
}

// collectData lays out the module's constants: the texts of substring
// tests, then the bitmaps of `in` lists over slots with more symbols than
// a 64-bit mask holds. Offsets are relative to Layout.Data until the
// layout is known.
func (g *gen) collectData() {
	for k, sn := range g.sh.Nodes {
		if sn.Uses == 0 || sn.Op != ir.SLeaf {
			continue
		}
		switch n := sn.Leaf.(type) {
		case *ir.StrTest:
			if _, ok := g.consts[n.Arg]; !ok {
				g.consts[n.Arg] = uint32(len(g.data))
				g.data = append(g.data, n.Arg...)
			}
		case *ir.SymIn:
			size := g.syms.count[n.Slot]
			if size <= 64 {
				continue
			}
			// One bit per symbol of the slot, and a last, clear bit for
			// "no symbol": offsets past the run are clamped to it.
			bm := make([]byte, size/8+1)
			for _, s := range n.Syms {
				o := g.syms.local[n.Slot][s]
				bm[o/8] |= 1 << (o % 8)
			}
			g.bitmaps[k] = uint32(len(g.data))
			g.data = append(g.data, bm...)
		}
	}
}

func (g *gen) manifest() *plugin.Manifest {
	m := &plugin.Manifest{
		ABI:        plugin.ABIVersion,
		Compiler:   Compiler,
		Source:     g.p.Source,
		SourceHash: g.p.SourceHash,
		Layout:     g.layout,
		Slots:      g.slotUses(),
		Symbols:    g.syms.names,
		// Copies, as a decoded manifest's are: the compiler hands over this
		// one with the program, and neither may change the other.
		Patterns:  slices.Clone(g.p.Patterns),
		Selectors: slices.Clone(g.p.Selectors),
	}
	if m.Slots == nil {
		m.Slots = []plugin.Slot{}
	}
	if m.Symbols == nil {
		m.Symbols = []string{}
	}
	for ri, r := range g.p.Rules {
		acts := slices.Clone(r.Actions)
		if acts == nil {
			acts = []plugin.Action{}
		}
		reads, seen := g.p.Reads(ri)
		m.Rules = append(m.Rules, plugin.Rule{Name: r.Name, Pos: plugin.Pos{Line: r.Pos.Line, Col: r.Pos.Col}, Actions: acts, Cap: r.Cap,
			Reads: reads, ReadsSeen: seen, ValueReads: g.p.ValueReads(ri), Path: g.p.PathGuard(ri)})
	}
	m.RuleReads = true
	if m.Rules == nil {
		m.Rules = []plugin.Rule{}
	}
	for xi, x := range g.p.Experiments {
		m.Experiments = append(m.Experiments, plugin.Experiment{Name: x.Name, Variants: x.Variants, Weights: x.Weights, Meta: x.Meta, Reads: g.p.ExperimentReads(xi)})
	}
	return m
}

// slotUses returns the program's slots with what the module does with each:
// which symbols it compares them with, and whether it reads their bytes.
func (g *gen) slotUses() []plugin.Slot {
	slots := make([]plugin.Slot, len(g.p.Slots))
	for i, s := range g.p.Slots {
		slots[i] = plugin.Slot{Attr: s.Attr, Arg: s.Arg, From: s.From}
		for o := range g.syms.count[i] {
			slots[i].Symbols = append(slots[i].Symbols, g.syms.base[i]+o)
		}
	}
	for _, sn := range g.sh.Nodes {
		if n, ok := sn.Leaf.(*ir.StrTest); ok && sn.Uses > 0 {
			slots[n.Slot].Bytes = true
		}
	}
	return slots
}

// symbolTable numbers the symbols of the manifest: each slot's symbols in
// one run of consecutive ids, so that an `in` list is a bitmask of the
// value's offset in its slot's run, then the items seen() asks about. A
// text compared with two slots is in both runs.
type symbolTable struct {
	names []string
	base  []int         // first id of each slot's run
	count []int         // length of each slot's run
	local []map[int]int // offset in its slot's run of each IR symbol
	seen  map[int]int   // id of each IR symbol seen() asks about
}

func newSymbolTable(p *ir.Program, sh *ir.Shared) symbolTable {
	t := symbolTable{base: make([]int, len(p.Slots)), count: make([]int, len(p.Slots)), local: make([]map[int]int, len(p.Slots)), seen: map[int]int{}}
	bySlot := make([][]int, len(p.Slots))
	var items []int
	for _, sn := range sh.Nodes {
		if sn.Uses == 0 {
			continue
		}
		switch n := sn.Leaf.(type) {
		case *ir.SymIn:
			bySlot[n.Slot] = append(bySlot[n.Slot], n.Syms...)
		case *ir.Seen:
			items = append(items, n.Item)
		}
	}
	for s, syms := range bySlot {
		slices.Sort(syms)
		syms = slices.Compact(syms)
		t.base[s], t.count[s] = len(t.names), len(syms)
		t.local[s] = make(map[int]int, len(syms))
		for o, sym := range syms {
			t.local[s][sym] = o
			t.names = append(t.names, p.Symbols[sym])
		}
	}
	slices.Sort(items)
	for _, it := range slices.Compact(items) {
		t.seen[it] = len(t.names)
		t.names = append(t.names, p.Symbols[it])
	}
	return t
}

// mask returns the bitmask of an `in` list over a slot of at most 64
// symbols: bit o for the symbol at offset o of the slot's run.
func (t *symbolTable) mask(n *ir.SymIn) uint64 {
	var m uint64
	for _, s := range n.Syms {
		m |= 1 << t.local[n.Slot][s]
	}
	return m
}

// decide is bespoke_decide: forget the remembered conditions of the last
// decision, compute the atoms, assign the experiments, decide the rules.
func (g *gen) decide(words, chunks int) wasm.Func {
	f := g.newFn(false)
	c := f.body
	for w := range 2 * g.memoWords() {
		c.I64Const(0).GlobalSet(g.gKnown + uint32(w))
	}
	for w := range words {
		c.Call(g.fnAtoms + uint32(w))
	}
	// Experiments are decided before rules, which may depend on their
	// variants.
	for i, x := range g.p.Experiments {
		g.experiment(f, i, x, g.sh.Experiments[i])
	}
	for k := range chunks {
		c.Call(g.fnChunks + uint32(k))
	}
	c.I32Const(0)
	return f.finish("decide", nil, tNoneI32)
}

// experiment emits the assignment of experiment i: -1 unless the
// condition holds and the bucket is known, else the first variant whose
// range ends above the bucket (or -1 past the last range). The result is
// stored in the Decision's variant array, where rules read it.
func (g *gen) experiment(f *fn, i int, x *ir.Experiment, cond int) {
	c := f.body
	c.I32Const(0)
	c.Block(wasm.BlockI32)
	c.I32Const(-1)
	f.cond(cond)
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

// atomWord computes the atoms of word w into its global.
func (g *gen) atomWord(w int) wasm.Func {
	f := g.newFn(false)
	f.building, f.acc = w, f.local(wasm.I64)
	c := f.body
	lo, hi := w*64, min((w+1)*64, len(g.atoms))
	for a := lo; a < hi; a++ {
		f.eagerDef(g.atoms[a])
		c.I64ExtendI32U()
		if a > lo {
			c.I64Const(int64(a - lo)).I64Shl().LocalGet(f.acc).I64Or()
		}
		c.LocalSet(f.acc)
	}
	c.LocalGet(f.acc).GlobalSet(g.gAtoms + uint32(w))
	return f.finish(fmt.Sprintf("atoms %d-%d", lo, hi-1), nil, nil)
}

// chunk decides rules 64c to 64c+63 into word c of the Decision.
func (g *gen) chunk(k int) wasm.Func {
	f := g.newFn(true)
	mask := f.local(wasm.I64)
	c := f.body
	lo, hi := k*rulesPerFunc, min((k+1)*rulesPerFunc, len(g.p.Rules))
	for i := lo; i < hi; i++ {
		node, bit := g.sh.Rules[i], i-lo
		sn := g.sh.Nodes[node]
		switch {
		case sn.Op == ir.SConst && !sn.Value:
			continue
		case sn.Op == ir.SConst:
			c.I64Const(int64(uint64(1) << bit))
		case g.class[node] == eager:
			f.bits(node, bit)
			c.I64Const(int64(uint64(1) << bit)).I64And()
		default:
			f.cond(node)
			c.I64ExtendI32U()
			if bit > 0 {
				c.I64Const(int64(bit)).I64Shl()
			}
		}
		c.LocalGet(mask).I64Or().LocalSet(mask)
	}
	c.I32Const(0).LocalGet(mask).I64Store(g.layout.Decision + uint32(8*k))
	name := fmt.Sprintf("rules %d-%d", lo, hi-1)
	if hi-lo == 1 {
		name = "rule " + g.p.Rules[lo].Name
	}
	return f.finish(name, nil, nil)
}

// memoFunc computes remembered condition i, records it, and returns it.
func (g *gen) memoFunc(i int) wasm.Func {
	f := g.newFn(true)
	f.memoOf = g.memos[i]
	v := f.local(wasm.I32)
	c := f.body
	f.def(g.memos[i])
	word, bit := uint32(i/64), int64(uint64(1)<<(i%64))
	c.LocalTee(v).If(wasm.BlockEmpty)
	c.GlobalGet(g.gValue + word).I64Const(bit).I64Or().GlobalSet(g.gValue + word)
	c.End()
	c.GlobalGet(g.gKnown + word).I64Const(bit).I64Or().GlobalSet(g.gKnown + word)
	c.LocalGet(v)
	return f.finish(fmt.Sprintf("condition %d", g.memos[i]), nil, tNoneI32)
}

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

// isNumber leaves 1 when the slot is present and numeric.
func (g *gen) isNumber(c *wasm.Code, slot int) {
	g.slotField(c, slot, plugin.SlotFlags)
	c.I32Const(plugin.FlagPresent | plugin.FlagNumber).I32And().I32Const(plugin.FlagPresent | plugin.FlagNumber).I32Eq()
}
