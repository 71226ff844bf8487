package syntax

import (
	"fmt"
	"strings"
	"testing"
)

// ruleFile returns a file of n rules; broken puts a YAML mistake in each
// (an unquoted # selector in a flow mapping, which hides the rest of the
// line from YAML).
func ruleFile(n int, broken bool) []byte {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		sel := `"#hero h1"`
		if broken {
			sel = `#hero h1`
		}
		fmt.Fprintf(&b, "  - name: r%d\n    when: geo.country == \"FR\" and device.type == \"mobile\"\n    actions:\n      - set_inner: { select: %s, text: \"Bonjour %d\" }\n      - add_class: { select: body, class: c%d }\n", i, sel, i, i)
	}
	return []byte(b.String())
}

// BenchmarkParseValid reads a valid file of 100 rules: recovery costs it
// nothing.
func BenchmarkParseValid(b *testing.B) {
	src := ruleFile(100, false)
	for b.Loop() {
		if _, errs := ParsePartial("r.yaml", src); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkParseBroken reads 100 rules with a YAML mistake in each: every
// mistake is found, and the other action of each rule kept.
func BenchmarkParseBroken(b *testing.B) {
	src := ruleFile(100, true)
	for b.Loop() {
		f, errs := ParsePartial("r.yaml", src)
		if len(errs) != 100 || len(f.Rules) != 100 {
			b.Fatalf("%d errors, %d rules", len(errs), len(f.Rules))
		}
	}
}
