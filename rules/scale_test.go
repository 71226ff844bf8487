package rules_test

import (
	"fmt"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/rules"
)

// BenchmarkCompileRules is the whole compile of a rule file (parse, check,
// IR, Wasm and manifest) against the number of rules.
func BenchmarkCompileRules(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src := rulegen.Rules(n, 1)
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rules.Compile("gen.yaml", src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
