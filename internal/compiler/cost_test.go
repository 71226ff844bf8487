package compiler_test

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
)

// TestValueCostWarning: the checker's estimate of what the rules' text
// tests cost per byte of a value agrees with the verifier's count in the
// compiled module: a file whose bound falls under a long header's length
// is warned of, at its costliest test, and one within it is not.
func TestValueCostWarning(t *testing.T) {
	rule := func(name, header, text string) string {
		return "  - name: " + name + "\n    when: header(\"" + header + "\") contains \"" + text + "\" or header(\"" + header + "\") matches \"^(a|b)+c$\"\n" +
			"    actions:\n      - set_header: { name: X-L, value: x }\n"
	}
	for _, tt := range []struct {
		name string
		src  string
		want string // in the warning; "" for none
	}{
		{"short texts", "rules:\n" + rule("a", "X-A", "Firefox") + rule("b", "X-B", "Chrome"), ""},
		// 1,000 generated rules decide values of up to some 6 KB.
		{"generated", string(rulegen.Rules(1000, 1)), "is not decided"},
		{"long texts", "rules:\n" + rule("a", "X-A", strings.Repeat("b", 30)) + rule("b", "X-B", strings.Repeat("c", 50)), "is not decided"},
		{"very long texts", "rules:\n" + rule("a", "X-A", strings.Repeat("b", 300)) + rule("b", "X-B", strings.Repeat("c", 900)), "runs with decide_timeout"},
	} {
		res, err := compiler.Compile("rules.yaml", []byte(tt.src))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var warned string
		for _, w := range res.Warnings {
			if w.Code == "value-cost" {
				warned = w.Error()
			}
		}
		if tt.want == "" && warned != "" || tt.want != "" && !strings.Contains(warned, tt.want) {
			t.Errorf("%s: warning %q, want one saying %q", tt.name, warned, tt.want)
		}
		// The verifier counts the same cost per byte, to a few percent
		// (the checker does not see the module's fixed part).
		v, err := bounded.Verify(res.Artifact.Wasm, res.Artifact.Manifest)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		bound := v.MaxValue()
		switch {
		case tt.want == "" && bound >= 0 && bound < 16<<10:
			t.Errorf("%s: no warning, and the module reads values of at most %d bytes", tt.name, bound)
		case tt.want != "" && (bound < 0 || bound >= 16<<10):
			t.Errorf("%s: warned, and the module reads values of up to %d bytes", tt.name, bound)
		}
	}
}
