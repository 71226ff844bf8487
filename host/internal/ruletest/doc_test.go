package ruletest_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
)

// TestDocumentedTestsPass runs the tests written in the examples of
// rules/SYNTAX.md, rules/GUIDE.md and the README, from the repository's
// root as the guide does: an example's tests must pass.
func TestDocumentedTestsPass(t *testing.T) {
	ran := 0
	for _, doc := range []string{"../../../rules/SYNTAX.md", "../../../rules/GUIDE.md", "../../../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```yaml" {
				continue
			}
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
				j++
			}
			src := strings.Join(lines[i+1:j], "\n") + "\n"
			if strings.Contains(src, "\ntests:") {
				s, prog := load(t, src)
				results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Dir: "../../.."})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range results {
					ran++
					if !r.Passed() {
						t.Errorf("%s:%d: test %q: %v", doc, i+1+r.Test.Pos.Line, r.Test.Name, r.Failures)
					}
				}
			}
			i = j
		}
	}
	if ran < 15 {
		t.Fatalf("only %d documented tests", ran)
	}
}
