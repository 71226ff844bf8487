package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/plugin"
)

// The compiled module and the reference evaluator must agree on every
// program and context. These tests generate both at random; a failure
// prints the seed, and BESPOKE_SEED=N replays it.

// randomProgram and randomValues are the generators of package rulegen,
// which reach every path of the code generator.
func randomProgram(r *rand.Rand) *ir.Program { return rulegen.Program(r) }

func randomValues(r *rand.Rand, p *ir.Program) []plugin.Value { return rulegen.Values(r, p) }

func seed(t testing.TB) uint64 {
	if s := os.Getenv("BESPOKE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BESPOKE_SEED=%q: %v", s, err)
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
	if ok, why := mod.Bounded(); !ok && !errors.Is(why, engine.ErrValueCost) {
		t.Fatalf("the compiled module is not in the bounded subset: %v", why)
	}
	ev, err := eval.New(p)
	if err != nil {
		t.Fatal(err)
	}
	var d plugin.Decision
	for range n {
		vals := randomValues(r, p)
		filter := rulegen.SeenFilter(r)
		// The module asks seen() at most once per item per decision.
		asked := map[string]int{}
		seen := func(item string) bool {
			asked[item]++
			if asked[item] > 1 {
				t.Fatalf("seen(%q) asked %d times in one decision", item, asked[item])
			}
			return filter[item]
		}
		if err := mod.Decide(ctx, vals, seen, &d); err != nil {
			t.Fatalf("decide: %v", err)
		}
		want := ev.Eval(&eval.Env{Values: vals, Seen: func(item string) bool { return filter[item] }})
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
	// The modules come from artifacts, so each decision has a deadline;
	// these tests are about answers, and a busy machine can take longer
	// than the production 50 ms: the deadline is only a hang guard.
	eng, err := engine.New(engine.Config{CacheDir: "-", PoolSize: 2, DecideTimeout: time.Minute})
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
	eng, err := engine.New(engine.Config{CacheDir: "-", PoolSize: 1, DecideTimeout: time.Minute})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		checkAgree(t, eng, r, randomProgram(r), 20)
	})
}
