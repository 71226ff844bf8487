package rulegen_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
)

func TestRulesCompile(t *testing.T) {
	for _, n := range []int{1, 10, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := rulegen.Rules(n, 1)
			res, err := compiler.Compile("gen.yaml", src)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.Artifact.Manifest.Rules); got != n {
				t.Fatalf("%d rules compiled, want %d", got, n)
			}
			if !bytes.Equal(src, rulegen.Rules(n, 1)) {
				t.Fatal("not deterministic")
			}
		})
	}
}

// TestProgramReachesEveryPath: random programs hold, over a few seeds,
// every kind of test, shared conditions, an in list over more than 64
// symbols of one slot, and a pattern tested on one slot by two rules.
func TestProgramReachesEveryPath(t *testing.T) {
	kinds := map[string]bool{}
	shared, wide, repeated := false, false, false
	for s := range uint64(30) {
		p := rulegen.Program(rand.New(rand.NewPCG(s, 1)))
		sh := ir.Share(p)
		matches := map[[2]int]int{}
		for _, n := range sh.Nodes {
			if n.Uses > 1 && n.Op != ir.SLeaf {
				shared = true
			}
			if n.Uses == 0 || n.Op != ir.SLeaf {
				continue
			}
			kinds[fmt.Sprintf("%T", n.Leaf)] = true
			switch l := n.Leaf.(type) {
			case *ir.SymIn:
				wide = wide || p.Slots[l.Slot].Arg == "wide"
			case *ir.Match:
				matches[[2]int{l.Pattern, l.Slot}] += n.Uses
			}
		}
		for _, uses := range matches {
			repeated = repeated || uses > 1
		}
	}
	for _, k := range []string{"*ir.Exists", "*ir.Truthy", "*ir.SymIn", "*ir.StrTest", "*ir.NumCmp", "*ir.Match", "*ir.Seen", "*ir.VariantIs"} {
		if !kinds[k] {
			t.Errorf("no %s in 30 random programs", k)
		}
	}
	if !shared || !wide || !repeated {
		t.Errorf("shared conditions %v, wide in lists %v, repeated patterns %v", shared, wide, repeated)
	}
}
