package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/bespoke-edge/bespoke/host/engine"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/codegen"
	"github.com/bespoke-edge/bespoke/rules/diag"
	"github.com/bespoke-edge/bespoke/rules/eval"
	"github.com/bespoke-edge/bespoke/rules/ir"
)

// The compiled module and the reference evaluator must agree on every
// program and context. These tests generate both at random; a failure
// prints the seed, and BESPOKE_SEED=N replays it.

// words are the strings random programs compare with and random contexts
// hold, few enough that comparisons often hold.
var words = []string{"", "FR", "US", "fr", "mobile", "desktop", "pro", "a", "ab", "abc", "b", "bca", "/shop", "/shop/tents", "3", "-2.5", "10", " 7 ", "x y", "é", "0"}

// randomProgram builds a program over a few slots.
func randomProgram(r *rand.Rand) *ir.Program {
	p := &ir.Program{Source: "random.yaml"}
	nslots := 1 + r.IntN(6)
	for i := range nslots {
		if i == 0 && r.IntN(3) == 0 {
			p.Slots = append(p.Slots, plugin.Slot{Attr: "visitor.new"})
			continue
		}
		p.Slots = append(p.Slots, plugin.Slot{Attr: "cookie", Arg: "c" + strconv.Itoa(i)})
	}
	syms := map[string]int{}
	sym := func(s string) int {
		if i, ok := syms[s]; ok {
			return i
		}
		syms[s] = len(p.Symbols)
		p.Symbols = append(p.Symbols, s)
		return syms[s]
	}
	pats := []string{"^a", "b$", "[0-9]+", "^/shop(/.*)?$", "é"}
	pat := map[string]int{}
	pattern := func() int {
		s := pats[r.IntN(len(pats))]
		if i, ok := pat[s]; ok {
			return i
		}
		pat[s] = len(p.Patterns)
		p.Patterns = append(p.Patterns, s)
		return pat[s]
	}
	var gen func(depth int) ir.Node
	gen = func(depth int) ir.Node {
		slot := r.IntN(nslots)
		k := r.IntN(13)
		if k == 12 {
			if len(p.Experiments) == 0 {
				k = r.IntN(12)
			} else {
				e := r.IntN(len(p.Experiments))
				vs := []int{r.IntN(len(p.Experiments[e].Variants))}
				if r.IntN(2) == 0 {
					vs = append(vs, r.IntN(len(p.Experiments[e].Variants)))
				}
				return &ir.VariantIs{Exp: e, Variants: vs}
			}
		}
		if depth <= 0 && k < 4 {
			k += 4
		}
		switch k {
		case 0, 1:
			n := 2 + r.IntN(3)
			var xs []ir.Node
			for range n {
				xs = append(xs, gen(depth-1))
			}
			if k == 0 {
				return &ir.And{X: xs}
			}
			return &ir.Or{X: xs}
		case 2:
			return &ir.Not{X: gen(depth - 1)}
		case 3:
			if len(p.Segments) > 0 {
				return &ir.SegmentRef{Index: r.IntN(len(p.Segments))}
			}
			return &ir.Const{Value: r.IntN(2) == 0}
		case 4:
			return &ir.Exists{Slot: slot}
		case 5:
			return &ir.Truthy{Slot: slot}
		case 6, 7:
			n := 1 + r.IntN(3)
			var ss []int
			for range n {
				ss = append(ss, sym(words[r.IntN(len(words))]))
			}
			return &ir.SymIn{Slot: slot, Syms: ss}
		case 8:
			return &ir.StrTest{Slot: slot, Op: ir.StrOp(1 + r.IntN(3)), Arg: words[r.IntN(len(words))]}
		case 9, 10:
			vals := []float64{-2.5, 0, 3, 7, 10, 1e9}
			return &ir.NumCmp{Slot: slot, Op: ir.NumOp(1 + r.IntN(5)), Value: vals[r.IntN(len(vals))]}
		default:
			return &ir.Match{Slot: slot, Pattern: pattern()}
		}
	}
	for i := range r.IntN(3) {
		p.Segments = append(p.Segments, &ir.Segment{Name: "s" + strconv.Itoa(i), Cond: gen(2)})
	}
	for i := range r.IntN(3) {
		// Each experiment buckets by a slot of its own; weights may leave
		// part of the traffic out.
		p.Slots = append(p.Slots, plugin.Slot{Attr: "bucket", Arg: "seed" + strconv.Itoa(i), From: &plugin.Slot{Attr: "visitor.id"}})
		x := &ir.Experiment{Name: "x" + strconv.Itoa(i), Bucket: len(p.Slots) - 1, Cond: &ir.Const{Value: true}}
		if r.IntN(2) == 0 {
			x.Cond = gen(1)
		}
		left := plugin.Buckets
		for v := range 1 + r.IntN(4) {
			w := r.IntN(left + 1)
			left -= w
			x.Variants = append(x.Variants, "v"+strconv.Itoa(v))
			x.Weights = append(x.Weights, w)
		}
		p.Experiments = append(p.Experiments, x)
	}
	nrules := 1 + r.IntN(140) // more than two decision words now and then
	for i := range nrules {
		p.Rules = append(p.Rules, &ir.Rule{Name: "r" + strconv.Itoa(i), Pos: diag.Pos{Line: i + 1, Col: 1}, Cond: gen(3)})
	}
	return p
}

func randomValues(r *rand.Rand, p *ir.Program) []plugin.Value {
	vals := make([]plugin.Value, len(p.Slots))
	for i, s := range p.Slots {
		if r.IntN(5) == 0 {
			continue // missing
		}
		if s.Attr == "bucket" {
			b := float64(r.IntN(plugin.Buckets))
			vals[i] = plugin.Value{Present: true, Number: true, Num: b, Str: strconv.Itoa(int(b))}
			continue
		}
		if s.Attr == "visitor.new" {
			t := r.IntN(2) == 0
			vals[i] = plugin.Value{Present: true, Number: true, Str: strconv.FormatBool(t)}
			if t {
				vals[i].Num = 1
			}
			continue
		}
		str := words[r.IntN(len(words))]
		if r.IntN(4) == 0 {
			str += words[r.IntN(len(words))]
		}
		v := plugin.Value{Str: str, Present: true}
		v.Num, v.Number = plugin.ParseNumber(str)
		vals[i] = v
	}
	return vals
}

func seed(t testing.TB) uint64 {
	if s := os.Getenv("BESPOKE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BESPOKE_SEED=%q: %v", s, err)
		}
		return n
	}
	return rand.Uint64()
}

// checkAgree compiles p, loads it, and compares decisions on n contexts.
func checkAgree(t testing.TB, eng *engine.Engine, r *rand.Rand, p *ir.Program, n int) {
	t.Helper()
	wasm, err := codegen.Generate(p)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	art, err := plugin.ReadArtifact(wasm)
	if err != nil {
		t.Fatalf("read artifact: %v", err)
	}
	ctx := context.Background()
	// Loaded from its bytes, as a .wasm file is: the verifier must find
	// every module the compiler writes in the bounded subset.
	mod, err := eng.Load(ctx, art)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer mod.Close(ctx)
	if ok, why := mod.Bounded(); !ok {
		t.Fatalf("the compiled module is not in the bounded subset: %v", why)
	}
	ev, err := eval.New(p)
	if err != nil {
		t.Fatal(err)
	}
	var d plugin.Decision
	for range n {
		vals := randomValues(r, p)
		if err := mod.Decide(ctx, vals, nil, &d); err != nil {
			t.Fatalf("decide: %v", err)
		}
		want := ev.Eval(&eval.Env{Values: vals})
		if !want.Equal(&d) {
			for i, rule := range p.Rules {
				if want.Has(i) != d.Has(i) {
					t.Fatalf("rule %s = %s\nvalues %s\nreference %v, wasm %v", rule.Name, p.Format(rule.Cond), fmtValues(p, vals), want.Has(i), d.Has(i))
				}
			}
		}
	}
}

func fmtValues(p *ir.Program, vals []plugin.Value) string {
	s := ""
	for i, v := range vals {
		if v.Present {
			s += fmt.Sprintf("%s=%q ", p.Slots[i], v.Str)
		} else {
			s += fmt.Sprintf("%s=<missing> ", p.Slots[i])
		}
	}
	return s
}

func TestCompiledAgreesWithReference(t *testing.T) {
	s := seed(t)
	t.Logf("seed %d (replay with BESPOKE_SEED=%d)", s, s)
	r := rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
	eng, err := engine.New(engine.Config{CacheDir: "-", PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	programs := 60
	if testing.Short() {
		programs = 15
	}
	for range programs {
		checkAgree(t, eng, r, randomProgram(r), 200)
	}
}

// FuzzCompiledAgreesWithReference drives program and context generation
// from the fuzzer's bytes.
func FuzzCompiledAgreesWithReference(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(s, s*7)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-", PoolSize: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		checkAgree(t, eng, r, randomProgram(r), 20)
	})
}
