package rules_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/rules"
)

// TestSyntaxExamples compiles every example of SYNTAX.md: a ```yaml block
// must compile; a ```yaml error block must fail with the error its first
// line gives (# error: line:col: message).
func TestSyntaxExamples(t *testing.T) { checkDocExamples(t, "SYNTAX.md", 10, false) }

// TestGuideExamples does the same for GUIDE.md.
func TestGuideExamples(t *testing.T) { checkDocExamples(t, "GUIDE.md", 5, false) }

// TestReadmeExamples does the same for the rule files of the README (its
// other YAML is configuration; a ```yaml fragment block is part of a
// file).
func TestReadmeExamples(t *testing.T) { checkDocExamples(t, "../README.md", 1, true) }

func checkDocExamples(t *testing.T, path string, least int, onlyRuleFiles bool) {
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	lines := strings.Split(string(doc), "\n")
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimSpace(lines[i])
		if fence != "```yaml" && fence != "```yaml error" {
			continue
		}
		start := i + 1
		j := start
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		src := strings.Join(lines[start:j], "\n") + "\n"
		name := path + ":" + strconv.Itoa(start)
		if onlyRuleFiles && !strings.HasPrefix(src, "rules:") && !strings.Contains(src, "\nrules:") {
			i = j
			continue
		}
		blocks++
		res, err := rules.Compile("example.yaml", []byte(src))
		if fence == "```yaml" {
			if err != nil {
				t.Errorf("%s: example does not compile:\n%v", name, err)
			} else {
				checkManifest(t, name, res)
			}
		} else {
			want := strings.TrimPrefix(lines[start], "# error: ")
			if err == nil {
				t.Errorf("%s: example compiles, want error %q", name, want)
			} else if got := strings.SplitN(err.Error(), "\n", 2)[0]; got != "example.yaml:"+want {
				t.Errorf("%s: error\n got %s\nwant example.yaml:%s", name, got, want)
			}
		}
		i = j
	}
	if blocks < least {
		t.Fatalf("found only %d examples in %s", blocks, path)
	}
}
