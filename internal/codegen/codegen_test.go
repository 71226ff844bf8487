package codegen_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// host runs one module as the ABI says, and counts the host calls of each
// decision. It is the engine's contract written out plainly, so that the
// code generator is tested on its own.
type host struct {
	t        *testing.T
	man      *plugin.Manifest
	patterns []*regexp.Regexp
	mod      api.Module
	vals     []plugin.Value
	seen     map[string]bool
	regex    map[[2]int32]int // calls by (pattern, slot)
	asked    map[int32]int    // seen calls by symbol
}

func newHost(t *testing.T, wasm []byte) *host {
	t.Helper()
	art, err := plugin.ReadArtifact(wasm)
	if err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, man: art.Manifest}
	for _, p := range art.Manifest.Patterns {
		h.patterns = append(h.patterns, regexp.MustCompile(p))
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	i32 := []api.ValueType{api.ValueTypeI32}
	regex := func(_ context.Context, _ api.Module, stack []uint64) {
		p, s := api.DecodeI32(stack[0]), api.DecodeI32(stack[1])
		h.regex[[2]int32{p, s}]++
		v := h.vals[s]
		stack[0] = 0
		if v.Present && h.patterns[p].MatchString(v.Str) {
			stack[0] = 1
		}
	}
	seen := func(_ context.Context, _ api.Module, stack []uint64) {
		sym := api.DecodeI32(stack[0])
		h.asked[sym]++
		stack[0] = 0
		if h.seen[h.man.Symbols[sym]] {
			stack[0] = 1
		}
	}
	_, err = rt.NewHostModuleBuilder(plugin.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(regex), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, i32).Export(plugin.ImportRegexMatch).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(seen), i32, i32).Export(plugin.ImportSeen).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.mod, err = rt.Instantiate(ctx, wasm); err != nil {
		t.Fatal(err)
	}
	return h
}

// decide writes the values into the slot table and heap, interning each
// against its slot's symbols, and calls the module.
func (h *host) decide(vals []plugin.Value, seen map[string]bool) plugin.Decision {
	h.vals, h.seen = vals, seen
	h.regex, h.asked = map[[2]int32]int{}, map[int32]int{}
	l, mem := h.man.Layout, h.mod.Memory()
	heap := l.Heap
	for i, v := range vals {
		var e [plugin.SlotSize]byte
		sym := int32(plugin.NoSymbol)
		if v.Present {
			for _, id := range h.man.Slots[i].Symbols {
				if h.man.Symbols[id] == v.Str {
					sym = int32(id)
				}
			}
			if h.man.Slots[i].Bytes {
				if !mem.Write(heap, []byte(v.Str)) {
					h.t.Fatal("value does not fit")
				}
				binary.LittleEndian.PutUint32(e[plugin.SlotPtr:], heap)
				binary.LittleEndian.PutUint32(e[plugin.SlotLen:], uint32(len(v.Str)))
				heap += uint32(len(v.Str))
			}
			flags := uint32(plugin.FlagPresent)
			if v.Number {
				flags |= plugin.FlagNumber
				binary.LittleEndian.PutUint64(e[plugin.SlotNum:], math.Float64bits(v.Num))
			}
			binary.LittleEndian.PutUint32(e[plugin.SlotFlags:], flags)
		}
		binary.LittleEndian.PutUint32(e[plugin.SlotSym:], uint32(sym))
		mem.Write(l.Slots+uint32(i)*plugin.SlotSize, e[:])
	}
	res, err := h.mod.ExportedFunction(plugin.ExportDecide).Call(context.Background())
	if err != nil || res[0] != 0 {
		h.t.Fatalf("decide: %v %v", res, err)
	}
	var d plugin.Decision
	words := plugin.DecisionWords(len(h.man.Rules))
	raw, _ := mem.Read(l.Decision, uint32(8*words))
	for w := range words {
		d.Matched = append(d.Matched, binary.LittleEndian.Uint64(raw[8*w:]))
	}
	for e := range h.man.Experiments {
		v, _ := mem.ReadUint32Le(l.Variants + uint32(4*e))
		d.Variants = append(d.Variants, int32(v))
	}
	return d
}

func seed(t *testing.T) uint64 {
	if s := os.Getenv("BESPOKE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if os.Getenv("CI") != "" {
		// CI checks that a change breaks nothing known, with the same
		// programs every run; local runs explore new ones.
		return 20261202
	}
	return rand.Uint64()
}

// TestHostCallsOncePerDecision: however many rules and segments test the
// same regular expression on the same slot, or the same seen item, a
// decision asks the host once at most; and the decisions are the
// reference evaluator's.
func TestHostCallsOncePerDecision(t *testing.T) {
	s := seed(t)
	t.Logf("seed %d (replay with BESPOKE_SEED=%d)", s, s)
	r := rand.New(rand.NewPCG(s, 3))
	repeated := 0
	for range 40 {
		p := rulegen.Program(r)
		// Every test of the context again, in rules of their own and
		// behind a condition: the compiled module must still ask once.
		for i, rule := range slices(p.Rules) {
			p.Rules = append(p.Rules, &ir.Rule{Name: "again" + strconv.Itoa(i), Cond: &ir.And{X: []ir.Node{&ir.Exists{Slot: 0}, rule.Cond}}})
		}
		wasm, err := codegen.Generate(p)
		if err != nil {
			t.Fatal(err)
		}
		h := newHost(t, wasm)
		ev, err := eval.New(p)
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			vals, seen := rulegen.Values(r, p), rulegen.SeenFilter(r)
			got := h.decide(vals, seen)
			want := ev.Eval(&eval.Env{Values: vals, Seen: func(item string) bool { return seen[item] }})
			if !want.Equal(&got) {
				t.Fatalf("decision %v %v, reference %v %v\n%s", got.Matched, got.Variants, want.Matched, want.Variants, p.Dump())
			}
			for k, n := range h.regex {
				if n > 1 {
					t.Fatalf("regex_match(pattern %d, slot %d) asked %d times in one decision", k[0], k[1], n)
				}
			}
			for k, n := range h.asked {
				if n > 1 {
					t.Fatalf("seen(%q) asked %d times in one decision", h.man.Symbols[k], n)
				}
			}
			repeated += len(h.regex)
		}
	}
	if repeated == 0 {
		t.Fatal("no decision asked for a regular expression: the test tests nothing")
	}
}

func slices(rs []*ir.Rule) []*ir.Rule { return append([]*ir.Rule(nil), rs...) }

// TestInLists: `in` lists over a slot with one, a few and more than 64
// symbols (a bitmap) hold exactly for their members; missing values and
// values no rule names match none.
func TestInLists(t *testing.T) {
	const n = 150
	p := &ir.Program{Slots: []plugin.Slot{{Attr: "cookie", Arg: "wide"}, {Attr: "cookie", Arg: "narrow"}}}
	for i := range n {
		p.Symbols = append(p.Symbols, "v"+strconv.Itoa(i))
	}
	lists := [][]int{{7}, {0, 63}, {64, 65}, {1, 149, 77, 3}, {149}}
	for i, l := range lists {
		p.Rules = append(p.Rules, &ir.Rule{Name: "wide" + strconv.Itoa(i), Pos: diag.Pos{Line: i + 1}, Cond: &ir.SymIn{Slot: 0, Syms: l}})
	}
	// A slot compared with a few symbols: a mask.
	p.Rules = append(p.Rules, &ir.Rule{Name: "narrow", Cond: &ir.SymIn{Slot: 1, Syms: []int{3, 5, 9}}})
	wasm, err := codegen.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t, wasm)
	if _, err := bounded.Verify(wasm, h.man); err != nil {
		t.Fatal(err)
	}
	ev, _ := eval.New(p)
	values := []plugin.Value{{}, {Present: true, Str: "not a symbol"}}
	for i := range n {
		values = append(values, plugin.Value{Present: true, Str: "v" + strconv.Itoa(i)})
	}
	for _, wv := range values {
		for _, nv := range values[:12] {
			vals := []plugin.Value{wv, nv}
			got := h.decide(vals, nil)
			want := ev.Eval(&eval.Env{Values: vals})
			if !want.Equal(&got) {
				t.Fatalf("values %q %q: decided %b, reference %b", wv.Str, nv.Str, got.Matched, want.Matched)
			}
		}
	}
	// Each slot's symbols are one run of ids.
	for i, s := range h.man.Slots {
		for j, id := range s.Symbols {
			if id != s.Symbols[0]+j {
				t.Fatalf("slot %d: symbols %v are not consecutive", i, s.Symbols)
			}
		}
	}
}

// TestDeterministic: the same program compiles to the same bytes (the
// compilation cache and golden files depend on it).
func TestDeterministic(t *testing.T) {
	for i := range 20 {
		r := rand.New(rand.NewPCG(uint64(i), 9))
		a, err := codegen.Generate(rulegen.Program(r))
		if err != nil {
			t.Fatal(err)
		}
		r = rand.New(rand.NewPCG(uint64(i), 9))
		b, _ := codegen.Generate(rulegen.Program(r))
		if !bytes.Equal(a, b) {
			t.Fatalf("program %d compiles to different modules", i)
		}
	}
}
