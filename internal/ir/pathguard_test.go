package ir_test

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestPathGuard: each rule's path guard, as the compiler writes it in
// the manifest, is the part of its condition on the path that it needs.
func TestPathGuard(t *testing.T) {
	tests := []struct {
		when string
		want string // the guard's JSON; "" for none
	}{
		{`geo.country == "FR"`, ``},
		{`path == "/old"`, `{"op":"in","args":["/old"]}`},
		{`path == "/old" and geo.country == "FR"`, `{"op":"in","args":["/old"]}`},
		{`geo.country == "FR" and path in ["/a", "/b"]`, `{"op":"in","args":["/a","/b"]}`},
		{`path starts_with "/shop/" and not path ends_with ".json"`, `{"op":"and","x":[{"op":"starts_with","args":["/shop/"]},{"op":"not","x":[{"op":"ends_with","args":[".json"]}]}]}`},
		{`path == "/a" or geo.country == "FR"`, ``},
		{`path == "/a" or (path == "/b" and geo.country == "FR")`, `{"op":"or","x":[{"op":"in","args":["/a"]},{"op":"in","args":["/b"]}]}`},
		{`not (path == "/a" and geo.country == "FR")`, ``},
		{`not (path == "/a" or path contains "x")`, `{"op":"not","x":[{"op":"or","x":[{"op":"in","args":["/a"]},{"op":"contains","args":["x"]}]}]}`},
		{`path matches "^/p/[0-9]+$" and device.type == "mobile"`, `{"op":"matches"}`},
		{`on_shop and geo.country == "FR"`, `{"op":"starts_with","args":["/shop"]}`},
		{`not on_shop`, `{"op":"not","x":[{"op":"starts_with","args":["/shop"]}]}`},
		{`french_shop`, `{"op":"starts_with","args":["/shop"]}`},
		{`query("ref") == "mail" and path == "/q"`, `{"op":"in","args":["/q"]}`},
	}
	for _, tt := range tests {
		src := "segments:\n  on_shop: path starts_with \"/shop\"\n  french_shop: on_shop and geo.country == \"FR\"\nrules:\n  - name: r\n    when: '" + tt.when + "'\n    actions:\n      - set_header: { name: X-R, value: \"1\" }\n"
		res, err := compiler.Compile("guard.yaml", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", tt.when, err)
			continue
		}
		got := ""
		if g := res.Artifact.Manifest.Rules[0].Path; g != nil {
			b, _ := json.Marshal(g)
			got = string(b)
		}
		if got != tt.want {
			t.Errorf("when: %s\nguard %s\nwant  %s", tt.when, got, tt.want)
		}
	}
}

// TestPathGuardNeverExcludesAMatch: for random programs whose first slot
// is the path, and random contexts, no rule the reference evaluator
// finds matching has a guard that does not hold of the context's path.
// A guard that did would leave out of Vary what the rule read, and a
// shared cache would give one visitor's page to another.
func TestPathGuardNeverExcludesAMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	guarded, excluded := 0, 0
	for range 3000 {
		p := rulegen.Program(r)
		p.Slots[0] = plugin.Slot{Attr: "path"}
		ev, err := eval.New(p)
		if err != nil {
			t.Fatal(err)
		}
		var res []*regexp.Regexp
		for _, s := range p.Patterns {
			res = append(res, regexp.MustCompile(s))
		}
		match := func(i int, s string) bool { return res[i].MatchString(s) }
		guards := make([]*plugin.PathCond, len(p.Rules))
		for ri := range p.Rules {
			guards[ri] = p.PathGuard(ri)
			if guards[ri] != nil {
				guarded++
			}
		}
		for range 20 {
			vals := rulegen.Values(r, p)
			vals[0].Present = true // a request always has a path
			seen := rulegen.SeenFilter(r)
			d := ev.Eval(&eval.Env{Values: vals, Seen: func(item string) bool { return seen[item] }})
			for ri, g := range guards {
				if g.Holds(vals[0].Str, match) {
					continue
				}
				excluded++
				if d.Has(ri) {
					b, _ := json.Marshal(g)
					t.Fatalf("rule %d matches on path %q, but its guard %s does not hold there", ri, vals[0].Str, b)
				}
			}
		}
	}
	t.Logf("%d rules guarded; %d rule-contexts excluded by their path", guarded, excluded)
	if excluded == 0 {
		t.Error("no guard excluded a path: the test tests nothing")
	}
}
