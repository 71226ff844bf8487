package rulegen_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bespoke-edge/bespoke/rules"
	"github.com/bespoke-edge/bespoke/rules/rulegen"
)

func TestRulesCompile(t *testing.T) {
	for _, n := range []int{1, 10, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := rulegen.Rules(n, 1)
			res, err := rules.Compile("gen.yaml", src)
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
