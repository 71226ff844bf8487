package site_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/plugin"
)

// ruleCounts are the sizes the scale benchmarks compare.
var ruleCounts = []int{10, 100, 1000, 10000}

// scaleContexts builds the contexts of 64 different visitors (countries,
// devices, cookies, paths, languages) for a generated rule file of n
// rules, so that the decisions differ from one call to the next as they
// do in traffic.
func scaleContexts(tb testing.TB, n int) (*site.Site, *compiler.Result, [][]plugin.Value) {
	tb.Helper()
	return scaleContextsAs(tb, inProcess, n)
}

// scaleContextsAs is scaleContexts with the plugin loaded in the given
// mode.
func scaleContextsAs(tb testing.TB, how mode, n int) (*site.Site, *compiler.Result, [][]plugin.Value) {
	tb.Helper()
	s, res := loadSiteAs(tb, how, fmt.Sprintf("gen-%d.yaml", n), rulegen.Rules(n, 1))
	countries := []string{"FR", "DE", "US", "JP", "BE", "ES", "CH", "GB"}
	uas := []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	}
	paths := []string{"/", "/p/42", "/fr/soldes", "/journal/winter-camping", "/c/7/tents.html", "/?ref=camp-3"}
	plans := []string{"free", "pro", "gold", ""}
	var ctxs [][]plugin.Value
	for i := range 64 {
		hr := httptest.NewRequest("GET", paths[i%len(paths)], nil)
		hr.Header.Set("CF-IPCountry", countries[i%len(countries)])
		hr.Header.Set("User-Agent", uas[i/8%len(uas)])
		hr.Header.Set("Accept-Language", []string{"fr-FR,fr;q=0.9", "de", "en-US,en;q=0.8", "ja"}[i%4])
		hr.Header.Set("X-Tier", fmt.Sprintf("t%d", i%20))
		cookie := fmt.Sprintf("cart=%d", i%12)
		if p := plans[i%len(plans)]; p != "" {
			cookie += "; plan=" + p
		}
		if i%3 == 0 {
			cookie += "; seg=x"
		}
		hr.Header.Set("Cookie", cookie)
		ctxs = append(ctxs, s.BuildValues(hr, reqctx.ResolveVisitor(hr)))
	}
	return s, res, ctxs
}

// BenchmarkDecideRules is the Wasm decision (a pooled instance, one call)
// against the number of rules, on 64 different visitors in turn, with the
// rules compiled in this process and loaded from a .wasm file.
func BenchmarkDecideRules(b *testing.B) {
	for _, n := range ruleCounts {
		for _, how := range modes {
			b.Run(fmt.Sprintf("%d/%s", n, how), func(b *testing.B) {
				s, _, ctxs := scaleContextsAs(b, how, n)
				var d plugin.Decision
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if err := s.Module().Decide(context.Background(), ctxs[i%len(ctxs)], nil, &d); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
			})
		}
	}
}

// BenchmarkLoadRules is what it costs to make a generated rule file ready
// to decide, against the number of rules, with no compilation cache: in
// process, compiling the rule file, then compiling the module to machine
// code and creating its first instance; from a file, reading the .wasm,
// checking it, compiling it and creating its first instance.
func BenchmarkLoadRules(b *testing.B) {
	ctx := context.Background()
	for _, n := range ruleCounts {
		src := rulegen.Rules(n, 1)
		for _, how := range modes {
			b.Run(fmt.Sprintf("%d/%s", n, how), func(b *testing.B) {
				var path string
				if how == fromFile {
					res, err := compiler.Compile("gen.yaml", src)
					if err != nil {
						b.Fatal(err)
					}
					path = filepath.Join(b.TempDir(), "gen.wasm")
					if err := os.WriteFile(path, res.Artifact.Wasm, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					// A fresh engine each time: nothing compiled is cached.
					eng, err := engine.New(engine.Config{CacheDir: "-"})
					if err != nil {
						b.Fatal(err)
					}
					var s *site.Site
					if how == inProcess {
						var res *compiler.Result
						if res, err = compiler.Compile("gen.yaml", src); err == nil {
							s, err = site.Load(ctx, eng, "gen.yaml", res.Artifact, reqctx.Config{})
						}
					} else {
						s, err = site.LoadFile(ctx, eng, path, reqctx.Config{})
					}
					if err != nil {
						b.Fatal(err)
					}
					s.Close(ctx)
					eng.Close(ctx)
				}
			})
		}
	}
}

// BenchmarkReferenceRules is the reference evaluator on the same rules
// and visitors as BenchmarkDecideRules.
func BenchmarkReferenceRules(b *testing.B) {
	for _, n := range ruleCounts {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			_, res, ctxs := scaleContexts(b, n)
			ev, err := eval.New(res.Program)
			if err != nil {
				b.Fatal(err)
			}
			envs := make([]eval.Env, len(ctxs))
			for i := range ctxs {
				envs[i] = eval.Env{Values: ctxs[i]}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev.Eval(&envs[i%len(envs)])
				i++
			}
		})
	}
}

// TestScaleAgrees: on the generated rule files, the compiled module and
// the reference evaluator decide alike for every benchmark visitor, the
// module compiled in process or read from its .wasm file (which must be
// verified bounded, up to 10,000 rules).
func TestScaleAgrees(t *testing.T) {
	for _, n := range []int{10, 1000} {
		for _, how := range modes {
			t.Run(fmt.Sprintf("%d/%s", n, how), func(t *testing.T) { scaleAgrees(t, how, n) })
		}
	}
	if !testing.Short() {
		t.Run("10000/from-file", func(t *testing.T) { scaleAgrees(t, fromFile, 10000) })
	}
}

func scaleAgrees(t *testing.T, how mode, n int) {
	s, res, ctxs := scaleContextsAs(t, how, n)
	if ok, why := s.Module().Bounded(); !ok {
		t.Fatalf("runs with a deadline: %v", why)
	}
	ev, err := eval.New(res.Program)
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for i, vals := range ctxs {
		var d plugin.Decision
		if err := s.Module().Decide(context.Background(), vals, nil, &d); err != nil {
			t.Fatal(err)
		}
		want := ev.Eval(&eval.Env{Values: vals})
		if fmt.Sprint(d.Matched) != fmt.Sprint(want.Matched) {
			t.Fatalf("%d rules, visitor %d: wasm %v, reference %v", n, i, d.Matched, want.Matched)
		}
		for r := range res.Program.Rules {
			if d.Has(r) {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Fatalf("%d rules: no visitor matched any rule; the benchmark would measure nothing", n)
	}
}
