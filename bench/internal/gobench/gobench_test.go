package gobench

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		want Result
	}{
		{
			line: "BenchmarkRewrite/passthrough-2         	     100	    203261 ns/op	 504.87 MB/s	    3864 B/op	       0 allocs/op",
			ok:   true,
			want: Result{Name: "Rewrite/passthrough", Procs: 2, Iterations: 100, Metrics: map[string]float64{"ns/op": 203261, "MB/s": 504.87, "B/op": 3864, "allocs/op": 0}},
		},
		{
			line: "BenchmarkMemmove-2                     	     100	      1824 ns/op	56255.34 MB/s",
			ok:   true,
			want: Result{Name: "Memmove", Procs: 2, Iterations: 100, Metrics: map[string]float64{"ns/op": 1824, "MB/s": 56255.34}},
		},
		{
			line: "BenchmarkDecide-2   	 1835641	       646.6 ns/op	       4 B/op	       0 allocs/op",
			ok:   true,
			want: Result{Name: "Decide", Procs: 2, Iterations: 1835641, Metrics: map[string]float64{"ns/op": 646.6, "B/op": 4, "allocs/op": 0}},
		},
		{
			// GOMAXPROCS=1 has no suffix; a custom metric from b.ReportMetric.
			line: "BenchmarkCompileRules/1000 	      24	  41873625 ns/op	      1000 rules	 4.200 ms/compile",
			ok:   true,
			want: Result{Name: "CompileRules/1000", Procs: 1, Iterations: 24, Metrics: map[string]float64{"ns/op": 41873625, "rules": 1000, "ms/compile": 4.2}},
		},
		{
			line: "BenchmarkDecideRules/size-10-8	   50000	     15230 ns/op",
			ok:   true,
			want: Result{Name: "DecideRules/size-10", Procs: 8, Iterations: 50000, Metrics: map[string]float64{"ns/op": 15230}},
		},
		{line: "BenchmarkDemoDecide", ok: false},                                               // the name alone, from -list or -v
		{line: "BenchmarkX-2 	 abc	 12 ns/op", ok: false},                                      // no iteration count
		{line: "BenchmarkX-2 	 10	 12 ns/op	 7", ok: false},                                    // value without unit
		{line: "--- FAIL: BenchmarkX-2", ok: false},                                            // failure header
		{line: "    bench_test.go:42: BenchmarkX 1 2 3", ok: false},                            // a log line
		{line: "ok  	github.com/bespoke-edge/bespoke/host/internal/rewrite	0.114s", ok: false}, // the package summary
	} {
		got, ok := ParseLine(tc.line)
		if ok != tc.ok {
			t.Errorf("%q: ok %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if ok && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

const output = `goos: linux
goarch: amd64
pkg: github.com/bespoke-edge/bespoke/host/internal/rewrite
cpu: AMD EPYC
BenchmarkRewrite/passthrough-2         	    5000	    203261 ns/op	 504.87 MB/s	    3864 B/op	       0 allocs/op
BenchmarkRewrite/passthrough-2         	    5000	    201000 ns/op	 510.00 MB/s	    3864 B/op	       0 allocs/op
BenchmarkRewrite/passthrough-2         	    5000	    250000 ns/op	 410.00 MB/s	    3864 B/op	       0 allocs/op
BenchmarkMemmove-2                     	  600000	      1824 ns/op	56255.34 MB/s
PASS
ok  	github.com/bespoke-edge/bespoke/host/internal/rewrite	3.114s
goos: linux
goarch: amd64
pkg: github.com/bespoke-edge/bespoke/host/internal/engine
cpu: AMD EPYC
BenchmarkDecide-2   	 1835641	       646.6 ns/op	       4 B/op	       0 allocs/op
BenchmarkDecide-2   	 1835641	       650.0 ns/op	       4 B/op	       0 allocs/op
PASS
ok  	github.com/bespoke-edge/bespoke/host/internal/engine	2.012s
`

func TestParseAndSummarize(t *testing.T) {
	res, err := Parse(strings.NewReader(output))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("%d results, want 6", len(res))
	}
	if res[5].Pkg != "github.com/bespoke-edge/bespoke/host/internal/engine" {
		t.Fatalf("pkg %q", res[5].Pkg)
	}
	sum := Summarize(res)
	if len(sum) != 3 {
		t.Fatalf("%d summaries: %+v", len(sum), sum)
	}
	rw := sum[0]
	if rw.Name != "Rewrite/passthrough" || rw.Runs != 3 {
		t.Fatalf("%+v", rw)
	}
	if got := rw.Metrics["MB/s"]; got != (Stat{Median: 504.87, Min: 410, Max: 510, N: 3}) {
		t.Fatalf("MB/s %+v", got)
	}
	if got, _ := sum[2].Get("ns/op"); got != 648.3 {
		t.Fatalf("median of two runs %v, want their mean", got)
	}
	if _, ok := sum[1].Get("allocs/op"); ok {
		t.Fatal("a metric the benchmark never reported")
	}
}

func TestParseList(t *testing.T) {
	const list = `?   	github.com/bespoke-edge/bespoke	[no test files]
# github.com/bespoke-edge/bespoke/host/internal/reqctx
host/internal/reqctx/reqctx.go:124:13: b.geo.Headers undefined (type *geo.Resolver has no field or method Headers)
FAIL	github.com/bespoke-edge/bespoke/host/cmd/bespoke [build failed]
BenchmarkDecide
ok  	github.com/bespoke-edge/bespoke/host/internal/engine	0.010s
TestOnly
ok  	github.com/bespoke-edge/bespoke/host/internal/config	0.010s
BenchmarkRewrite
BenchmarkMemmove
ok  	github.com/bespoke-edge/bespoke/host/internal/rewrite	0.009s
FAIL	github.com/bespoke-edge/bespoke/host/internal/site [build failed]
`
	benches, failed, err := ParseList(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"github.com/bespoke-edge/bespoke/host/internal/engine":  {"BenchmarkDecide"},
		"github.com/bespoke-edge/bespoke/host/internal/rewrite": {"BenchmarkRewrite", "BenchmarkMemmove"},
	}
	if !reflect.DeepEqual(benches, want) {
		t.Fatalf("benches %v", benches)
	}
	if len(failed) != 2 || !strings.Contains(failed["github.com/bespoke-edge/bespoke/host/cmd/bespoke"], "b.geo.Headers undefined") {
		t.Fatalf("failed %q", failed)
	}
	if failed["github.com/bespoke-edge/bespoke/host/internal/site"] != "[build failed]" {
		t.Fatalf("failed %q", failed)
	}
}
