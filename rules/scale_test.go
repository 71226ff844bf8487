package rules_test

import (
	"fmt"
	"strings"
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

// BenchmarkCompileLongCondition compiles one rule whose condition joins n
// tests with and (half of them negated) on one line: ns/term stays flat
// as n grows when parsing (each token's column), joining the terms and
// looking for contradictions are linear.
func BenchmarkCompileLongCondition(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			terms := make([]string, n)
			for i := range terms {
				terms[i] = fmt.Sprintf(`query("q%d") != "x"`, i)
				if i%2 == 1 {
					terms[i] = fmt.Sprintf(`not (query("q%d") == "x")`, i)
				}
			}
			src := []byte("rules:\n  - name: r\n    when: " + strings.Join(terms, " and ") + "\n    actions:\n      - remove: \"#x\"\n")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rules.Compile("long.yaml", src); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/term")
		})
	}
}
