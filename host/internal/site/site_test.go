package site_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/eval"
)

func loadDemo(tb testing.TB) (*site.Site, *compiler.Result) {
	tb.Helper()
	return loadSite(tb, demo.RulesName, demo.Rules())
}

// loadSite compiles a rule file and loads it on an engine of its own,
// closed with the test.
func loadSite(tb testing.TB, name string, src []byte) (*site.Site, *compiler.Result) {
	tb.Helper()
	return loadSiteAs(tb, inProcess, name, src)
}

// mode is how a plugin reaches the engine.
type mode string

const (
	// inProcess: the rule file is compiled in this process and the
	// artifact handed to the engine (serve --rules).
	inProcess mode = "in-process"
	// fromFile: the rule file is compiled, written to a .wasm file, and
	// that file is loaded (serve --plugin, plugin: in the configuration).
	fromFile mode = "from-file"
)

var modes = []mode{inProcess, fromFile}

// loadSiteAs compiles a rule file and loads it in the given mode on an
// engine of its own, closed with the test.
func loadSiteAs(tb testing.TB, how mode, name string, src []byte) (*site.Site, *compiler.Result) {
	tb.Helper()
	res, err := compiler.Compile(name, src)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		tb.Fatal(err)
	}
	var s *site.Site
	switch how {
	case inProcess:
		s, err = site.Load(context.Background(), eng, name, res.Artifact, reqctx.Config{})
	case fromFile:
		path := filepath.Join(tb.TempDir(), strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))+".wasm")
		if err = os.WriteFile(path, res.Artifact.Wasm, 0o644); err == nil {
			s, err = site.LoadFile(context.Background(), eng, path, reqctx.Config{})
		}
	}
	if err != nil {
		eng.Close(context.Background())
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Close(context.Background())
		eng.Close(context.Background())
	})
	return s, res
}

// TestDemoRuleTests runs the tests written in the demo rule file, as
// `bespoke test` does.
func TestDemoRuleTests(t *testing.T) {
	s, res := loadDemo(t)
	results, err := ruletest.RunWith(context.Background(), s, res.Program, ruletest.Options{Pages: demo.Site()})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("the demo rules have no tests")
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %v (matched %v)", r.Test.Name, r.Failures, r.Matched)
		}
	}
}

func TestDemoModuleIsSmall(t *testing.T) {
	_, res := loadDemo(t)
	if n := len(res.Artifact.Wasm); n >= 64<<10 {
		t.Fatalf("demo module is %d bytes, over 64 KiB", n)
	}
}

// benchRequest returns a function deciding for the request the benchmarks
// use: a phone in Lyon with a few cookies, so most slots have a value.
func benchRequest() func(*site.Site) *site.Request {
	hr := httptest.NewRequest("GET", "/?utm_campaign=winter-sale", nil)
	hr.Header.Set("CF-IPCountry", "FR")
	hr.Header.Set("Cf-Ipcity", "Lyon")
	hr.Header.Set("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.8")
	hr.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
	hr.Header.Set("Cookie", "bsk_vid=AAAAAAAAAAAAAAAAAAAAAA; club=gold; cart_items=2")
	return func(s *site.Site) *site.Request {
		out := s.NewRequest()
		s.Decide(context.Background(), hr, reqctx.ResolveVisitor(hr), false, nil, out)
		return out
	}
}

// BenchmarkDemoDecide is the per-request cost of deciding with the demo
// rules: building the context from the request, the pooled Wasm call, and
// the plan.
func BenchmarkDemoDecide(b *testing.B) {
	s, _ := loadDemo(b)
	decide := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		r := decide(s)
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		s.Release(r)
	}
}

// BenchmarkDemoContext is the context build alone.
func BenchmarkDemoContext(b *testing.B) {
	s, _ := loadDemo(b)
	hr := httptest.NewRequest("GET", "/", nil)
	hr.Header.Set("CF-IPCountry", "FR")
	hr.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
	hr.Header.Set("Cookie", "bsk_vid=AAAAAAAAAAAAAAAAAAAAAA; club=gold; cart_items=2")
	v := reqctx.ResolveVisitor(hr)
	b.ReportAllocs()
	for b.Loop() {
		s.BuildValues(hr, v)
	}
}

// BenchmarkDemoWasmCall is the Wasm decision alone, on a built context:
// the demo rules compiled in this process, and the same rules loaded from
// the .wasm file `bespoke compile` writes.
func BenchmarkDemoWasmCall(b *testing.B) {
	for _, how := range modes {
		b.Run(string(how), func(b *testing.B) {
			s, _ := loadSiteAs(b, how, demo.RulesName, demo.Rules())
			decide := benchRequest()
			r := decide(s)
			vals := r.Values
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Module().Decide(context.Background(), vals, nil, &r.Decision); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDemoReference is the reference evaluator on the same context.
func BenchmarkDemoReference(b *testing.B) {
	s, res := loadDemo(b)
	decide := benchRequest()
	vals := decide(s).Values
	ev, err := eval.New(res.Program)
	if err != nil {
		b.Fatal(err)
	}
	env := &eval.Env{Values: vals}
	b.ReportAllocs()
	for b.Loop() {
		ev.Eval(env)
	}
}

// BenchmarkDemoRewrite is the rewrite of the demo home page with the plan
// of the benchmark visitor (a dozen edits), in MB/s.
func BenchmarkDemoRewrite(b *testing.B) {
	s, _ := loadDemo(b)
	decide := benchRequest()
	r := decide(s)
	page, err := fs.ReadFile(demo.Site(), "index.html")
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		rw := s.Program().NewRewriter(&out, r.Plan.Edits, rewrite.Options{})
		rw.Write(page)
		rw.Close()
		rw.Release()
	}
	if out.Len() == 0 {
		b.Fatal("no output")
	}
}

// BenchmarkDemoCopy is the ceiling for BenchmarkDemoRewrite: copying the
// same page through the same kind of writer.
func BenchmarkDemoCopy(b *testing.B) {
	page, err := fs.ReadFile(demo.Site(), "index.html")
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		out.Reset()
		io.Copy(&out, bytes.NewReader(page))
	}
}

// TestDecidePanicFailsOpen: a panic of the host's code while deciding
// (here, reading a request that is not there) is out.Err, a PanicError
// with its stack, and leaves an empty plan, after a decision whose plan
// had edits: nothing of either is applied. Deciding goes on after it.
func TestDecidePanicFailsOpen(t *testing.T) {
	s, _ := loadDemo(t)
	decide := benchRequest()
	if r := decide(s); r.Err != nil || len(r.Plan.Edits) == 0 {
		t.Fatalf("the bench request decides no edits (err %v): the test needs a plan to empty", r.Err)
	} else {
		s.Release(r)
	}
	out := s.NewRequest()
	s.Decide(context.Background(), nil, reqctx.Visitor{}, false, nil, out)
	var pe *site.PanicError
	if !errors.As(out.Err, &pe) || len(pe.Stack) == 0 {
		t.Fatalf("err = %v, want a PanicError with its stack", out.Err)
	}
	if len(out.Plan.Edits) != 0 || out.Plan.Redirect != nil || len(out.Plan.Cookies) != 0 {
		t.Fatalf("a plan is left after the panic: %+v", out.Plan)
	}
	s.Release(out)
	if r := decide(s); r.Err != nil || len(r.Plan.Edits) == 0 {
		t.Fatalf("after the panic: err %v, %d edits", r.Err, len(r.Plan.Edits))
	}
}

// TestVaryNonHTML: a response no page edit can change varies with the
// request headers of the rules that can change it (their conditions,
// the segments and experiments they name, the values they insert), not
// with those of every rule; a plugin whose manifest does not say what
// each rule reads varies with them all.
func TestVaryNonHTML(t *testing.T) {
	src := []byte(`segments:
  preview: header("X-Preview") == "1"
rules:
  - name: preview-header
    when: preview
    actions:
      - set_header: { name: X-Preview-On, value: "{{ header('X-Who') }}" }
  - name: french
    when: geo.country == "FR" and device.type == "mobile"
    actions:
      - set_inner: { select: h1, text: Bonjour }
  - name: fresh
    when: not seen("promo") and language == "fr"
    actions:
      - json_set: { path: banner, value: hi }
`)
	s, res := loadSite(t, "vary.yaml", src)
	got := strings.Join(s.VaryNonHTML(), ", ")
	if want := "Accept-Language, Cookie, X-Preview, X-Who"; got != want {
		t.Errorf("VaryNonHTML %s, want %s", got, want)
	}
	if all := strings.Join(s.Vary(), ", "); !strings.Contains(all, "Cf-Ipcountry") || !strings.Contains(all, "User-Agent") {
		t.Errorf("Vary %s lacks the page edits' headers", all)
	}
	// The same plugin, its manifest without what each rule reads.
	art := *res.Artifact
	m := *art.Manifest
	m.RuleReads = false
	art.Manifest = &m
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	old, err := site.Load(context.Background(), eng, "old", &art, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(context.Background())
	if got, want := old.VaryNonHTML(), old.Vary(); !slices.Equal(got, want) {
		t.Errorf("without reads: VaryNonHTML %v, want Vary's %v", got, want)
	}
}
