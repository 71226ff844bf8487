package main

import (
	"slices"
	"testing"
)

// TestTopLevelFilter: -bench selects the benchmark functions go test
// runs for it, which match the pattern's first element before a "/" of
// each alternative: a pattern that names sub-benchmarks still finds the
// package and the function that holds them.
func TestTopLevelFilter(t *testing.T) {
	for _, tc := range []struct {
		pattern  string
		match    []string
		nomatch  []string
		wantsErr bool
	}{
		{"RewritePage/shop/passthrough", []string{"RewritePage"}, []string{"RewriteCorpus", "Splice"}, false},
		{"Pathological/deep|CookieRequest/lists", []string{"Pathological", "CookieRequest"}, []string{"RewritePage"}, false},
		{"Splice|Handler/seen", []string{"Splice", "Handler"}, []string{"Proxy"}, false},
		{"(?i)cookie|Wasm", []string{"CookieRequest", "DemoWasmCall"}, []string{"Splice", "wasmish"}, false},
		{"Decide(Rules|Wasm)/1000", []string{"DecideRules", "DecideWasm"}, []string{"Decide"}, false},
		{"Rewrite[/|]x", []string{"Rewrite/x", "Rewrite|x"}, []string{"RewritePage"}, false},
		{"/in-process", []string{"DemoWasmCall", "Splice"}, nil, false},
		{".", []string{"Splice"}, nil, false},
		{"Rewrite(", nil, nil, true},
	} {
		re, err := topLevelFilter(tc.pattern)
		if (err != nil) != tc.wantsErr {
			t.Errorf("%q: error %v", tc.pattern, err)
			continue
		}
		if err != nil {
			continue
		}
		for _, name := range tc.match {
			if !re.MatchString(name) {
				t.Errorf("%q (%s) does not select %s", tc.pattern, re, name)
			}
		}
		for _, name := range tc.nomatch {
			if re.MatchString(name) {
				t.Errorf("%q (%s) selects %s", tc.pattern, re, name)
			}
		}
	}
	// The package of a sub-benchmark named with -bench is run.
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	re, _ := topLevelFilter("RewritePage/shop/passthrough")
	if pkgs := benchmarkPackages(root, re); !slices.Equal(pkgs, []string{"./host/internal/rewrite"}) {
		t.Errorf("-bench RewritePage/shop/passthrough runs the benchmarks of %v, want ./host/internal/rewrite", pkgs)
	}
}
