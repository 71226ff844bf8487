package rules_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/rules"
)

// loadSchema compiles rules/schema.json, which checks it against the JSON
// Schema draft it names.
func loadSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	b, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema.json is not a valid JSON Schema: %v", err)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	return s, raw
}

// asJSON reads YAML as the JSON value an editor's YAML language server
// validates.
func asJSON(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// docExamples returns the ```yaml blocks (not the ```yaml error ones) of a
// Markdown file.
func docExamples(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		out = append(out, strings.Join(lines[i+1:j], "\n")+"\n")
		i = j
	}
	return out
}

// TestSchemaAcceptsValidFiles validates the demo rule file and every
// example of SYNTAX.md and GUIDE.md against the schema: what compiles,
// an editor must not underline.
func TestSchemaAcceptsValidFiles(t *testing.T) {
	s, _ := loadSchema(t)
	demo, err := os.ReadFile("../testdata/demo/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"testdata/demo/rules.yaml": string(demo)}
	for _, doc := range []string{"SYNTAX.md", "GUIDE.md"} {
		for i, ex := range docExamples(t, doc) {
			if !strings.Contains(ex, "rules:") {
				continue // a fragment, not a file
			}
			files[doc+" example "+string(rune('A'+i%26))+strings.Repeat("'", i/26)] = ex
		}
	}
	if len(files) < 14 {
		t.Fatalf("only %d files to validate", len(files))
	}
	for name, src := range files {
		if err := s.Validate(asJSON(t, src)); err != nil {
			t.Errorf("%s: the schema rejects a valid file: %v", name, err)
		}
	}
}

// TestSchemaRejectsStructuralMistakes checks the mistakes a schema can see
// as one types: unknown fields and actions, missing fields, wrong types.
func TestSchemaRejectsStructuralMistakes(t *testing.T) {
	s, _ := loadSchema(t)
	for _, src := range []string{
		"rules:\n  - name: a\n    wen: x\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    actions:\n      - set_iner: { select: a, text: b }\n",
		"rules:\n  - name: a\n    actions:\n      - set_inner: { text: b }\n",
		"rules:\n  - name: a\n    actions:\n      - set_inner: { select: a, text: b, html: c }\n",
		"rules:\n  - name: a\n",
		"rules:\n  - name: two words\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    actions: [remove: a]\n    rollout: lots\n",
		"rules:\n  - name: a\n    actions: [remove: a]\n    rollout: 0.5\n",
		"experiments:\n  - name: x\n    variants: { a: 0.5, b: 0.5 }\nrules: []\n",
		"rules:\n  - name: a\n    actions: [remove: a]\n    at_most: thrice\n",
		"rule:\n  - name: a\n",
		"rules:\n  - name: a\n    actions: [redirect: { to: /x, status: 404 }]\n",
		"rules: []\ntests:\n  - name: t\n    expect:\n      matches: [a]\n",
		"rules: []\ntests:\n  - name: t\n    request: { time: now }\n    expect: { match: a }\n",
		"rules: []\ntests:\n  - name: t\n    expect: { page: { \"#a\": { txt: b } } }\n",
		"version: 2\nrules: []\n",
	} {
		if err := s.Validate(asJSON(t, src)); err == nil {
			t.Errorf("the schema accepts:\n%s", src)
		}
	}
}

// TestSchemaMatchesParser checks that the schema lists exactly the fields
// and actions the parser reads, so that neither drifts from the other.
func TestSchemaMatchesParser(t *testing.T) {
	_, raw := loadSchema(t)
	defs := raw["definitions"].(map[string]any)
	props := func(v any) []string {
		var out []string
		for k := range v.(map[string]any)["properties"].(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(l []string) []string {
		l = slices.Clone(l)
		sort.Strings(l)
		return l
	}
	test := defs["test"].(map[string]any)["properties"].(map[string]any)
	pageObj := test["page"].(map[string]any)["oneOf"].([]any)[1]
	checkObj := test["expect"].(map[string]any)["properties"].(map[string]any)["page"].(map[string]any)["additionalProperties"].(map[string]any)["oneOf"].([]any)[1]
	parts := map[string]any{
		"file": raw, "rule": defs["rule"], "experiment": defs["experiment"], "test": defs["test"],
		"request": test["request"], "expect": test["expect"], "page": pageObj, "check": checkObj,
		"then": test["then"].(map[string]any)["items"],
	}
	for part, fields := range syntax.Fields() {
		got, ok := parts[part]
		if !ok {
			t.Errorf("the schema has no %s", part)
			continue
		}
		if g, w := props(got), sorted(fields); !slices.Equal(g, w) {
			t.Errorf("%s: the schema has %v, the parser reads %v", part, g, w)
		}
	}
	ops := defs["action"].(map[string]any)["properties"].(map[string]any)
	for op, fields := range syntax.OpFields() {
		spec, ok := ops[op].(map[string]any)
		if !ok {
			t.Errorf("the schema lacks action %s", op)
			continue
		}
		if _, isObj := spec["properties"]; !isObj {
			// The short form: one of a value or an object.
			spec = spec["oneOf"].([]any)[1].(map[string]any)
		}
		if g, w := props(spec), sorted(fields); !slices.Equal(g, w) {
			t.Errorf("action %s: the schema has %v, the parser reads %v", op, g, w)
		}
	}
	if len(ops) != len(syntax.OpFields()) {
		t.Errorf("the schema has %d actions, the parser %d", len(ops), len(syntax.OpFields()))
	}
}

// TestSchemaRefusesWhatCheckRefuses lists values of the right type that
// check refuses: the schema underlines each too, so that an editor does
// not show as fine a file check rejects.
func TestSchemaRefusesWhatCheckRefuses(t *testing.T) {
	s, _ := loadSchema(t)
	for _, src := range []string{
		"rules:\n  - name: a\n    actions:\n      - json_hide_seen: { path: items, id: \"\" }\n",
		"rules:\n  - name: a\n    actions:\n      - json_reorder: { path: items, id: \"\", order: [x] }\n",
		"rules:\n  - name: a\n    actions:\n      - hide_seen: { select: li, id: \"@data-id\", mark: { first: 0 } }\n",
		"rules:\n  - name: a\n    actions:\n      - json_hide_seen: { path: items, id: id, mark: { first: 0 } }\n",
		"rules:\n  - name: a\n    rollout: \"0.5\"\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    rollout: 150%\n    actions: [remove: a]\n",
		"experiments:\n  - name: x\n    variants: { a: \"0.5\", b: 101% }\nrules: []\n",
		"rules:\n  - name: a\n    at_most: 3 per 30s\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    at_most: 0 per 1d\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    at_most: 251 times per 1d\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    at_most: { times: 251, per: 1d }\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    at_most: { times: 2, per: 59s }\n    actions: [remove: a]\n",
		"rules:\n  - name: a\n    actions: [remove: a]\ntests:\n  - name: t\n    expect: {}\n",
		"rules:\n  - name: a\n    actions: [remove: a]\ntests:\n  - name: t\n    expect: { match: [a] }\n    then: [{ url: /x }]\n",
	} {
		if rules.Check("r.yaml", []byte(src)) == nil {
			t.Errorf("check accepts:\n%s", src)
		}
		if err := s.Validate(asJSON(t, src)); err == nil {
			t.Errorf("the schema accepts what check refuses:\n%s", src)
		}
	}
}

// TestSchemaShares checks the schema's patterns for shares and caps
// against what check reads: each value here is accepted by both, or by
// neither.
func TestSchemaShares(t *testing.T) {
	s, _ := loadSchema(t)
	for _, v := range []string{"50", "50%", "0.5%", "100%", "100", "12.5%", "0", "0%", "20 %", "1", "99.99%", "0.5", "150%", "101", "100.5%", "20%%", ".5"} {
		src := "rules:\n  - name: a\n    rollout: \"" + v + "\"\n    actions: [remove: a]\n"
		if c, sc := rules.Check("r.yaml", []byte(src)) == nil, s.Validate(asJSON(t, src)) == nil; c != sc {
			t.Errorf("rollout: %q: check accepts it: %v, the schema: %v", v, c, sc)
		}
	}
	for _, v := range []string{"3 per 7d", "1 per 1m", "2 times per 1d", "1 time per 90s", "250 per 1h30m", "3 per 1d12h", "3 per 60s", "3 per 30s", "0 per 1d", "251 per 1d", "3 per 0m", "3 per 1y", "3 per 7 d"} {
		src := "rules:\n  - name: a\n    at_most: " + v + "\n    actions: [remove: a]\n"
		if c, sc := rules.Check("r.yaml", []byte(src)) == nil, s.Validate(asJSON(t, src)) == nil; c != sc {
			t.Errorf("at_most: %s: check accepts it: %v, the schema: %v", v, c, sc)
		}
	}
}
