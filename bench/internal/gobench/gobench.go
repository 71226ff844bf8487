// Package gobench reads the standard output of `go test -bench` and
// summarizes repeated runs (-count N) by their median.
package gobench

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Result is one benchmark line.
type Result struct {
	// Pkg is the import path from the preceding "pkg:" line.
	Pkg string
	// Name is the benchmark's name without the "Benchmark" prefix and the
	// GOMAXPROCS suffix: "Rewrite/passthrough".
	Name string
	// Procs is the GOMAXPROCS suffix (1 when absent).
	Procs int
	// Iterations is b.N.
	Iterations int64
	// Metrics maps each unit ("ns/op", "MB/s", "B/op", "allocs/op", or a
	// custom one from b.ReportMetric) to its value.
	Metrics map[string]float64
}

// Parse reads benchmark lines from go test output and ignores every other
// line (logs, PASS, ok, goos/goarch/cpu headers).
func Parse(r io.Reader) ([]Result, error) {
	var out []Result
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if res, ok := ParseLine(line); ok {
			res.Pkg = pkg
			out = append(out, res)
		}
	}
	return out, sc.Err()
}

// ParseLine parses one benchmark result line: a name starting with
// "Benchmark", an iteration count, then value-unit pairs.
func ParseLine(line string) (Result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return Result{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Result{}, false
	}
	res := Result{Iterations: n, Procs: 1, Metrics: map[string]float64{}}
	res.Name, res.Procs = splitProcs(strings.TrimPrefix(f[0], "Benchmark"))
	if res.Name == "" {
		return Result{}, false
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false
		}
		res.Metrics[f[i+1]] = v
	}
	return res, true
}

// splitProcs removes the "-N" that go test appends when GOMAXPROCS > 1.
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 {
		return name, 1
	}
	p, err := strconv.Atoi(name[i+1:])
	if err != nil || p <= 0 {
		return name, 1
	}
	return name[:i], p
}

// Stat is the summary of one metric over the runs of a benchmark: the
// median, the smallest and largest values, and how many there were.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summary is one benchmark over all its runs: its package, name, number
// of runs, and each metric's Stat by unit.
type Summary struct {
	Pkg     string          `json:"pkg"`
	Name    string          `json:"name"`
	Runs    int             `json:"runs"`
	Metrics map[string]Stat `json:"metrics"`
}

// Get returns the median of unit and whether the benchmark reported it.
func (s Summary) Get(unit string) (float64, bool) {
	st, ok := s.Metrics[unit]
	return st.Median, ok
}

// Summarize groups results by package and name, in order of first
// appearance, and takes the median, minimum and maximum of every metric.
func Summarize(results []Result) []Summary {
	type key struct{ pkg, name string }
	idx := map[key]int{}
	var out []Summary
	vals := []map[string][]float64{}
	for _, r := range results {
		k := key{r.Pkg, r.Name}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Summary{Pkg: r.Pkg, Name: r.Name, Metrics: map[string]Stat{}})
			vals = append(vals, map[string][]float64{})
		}
		out[i].Runs++
		for u, v := range r.Metrics {
			vals[i][u] = append(vals[i][u], v)
		}
	}
	for i := range out {
		for u, vs := range vals[i] {
			out[i].Metrics[u] = Describe(vs)
		}
	}
	return out
}

// Describe returns the median, minimum and maximum of vs; the median of
// an even count is the mean of the two middle values.
func Describe(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// ParseList reads the output of `go test -list '^Benchmark' PKGS...`:
// each package's benchmark names come before the "ok  <pkg>" line that
// closes it. Packages whose test binary failed to build are returned in
// failed, with go's message for them.
func ParseList(r io.Reader) (benches map[string][]string, failed map[string]string, err error) {
	benches = map[string][]string{}
	failed = map[string]string{}
	var names []string
	var msg []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) == 1 && strings.HasPrefix(f[0], "Benchmark"):
			names = append(names, f[0])
		case f[0] == "ok" && len(f) >= 2:
			if len(names) > 0 {
				benches[f[1]] = names
			}
			names, msg = nil, nil
		case f[0] == "FAIL" && len(f) >= 2:
			why := strings.Join(f[2:], " ")
			if len(msg) > 0 {
				why = strings.Join(msg, "; ")
			}
			failed[f[1]] = why
			names, msg = nil, nil
		case f[0] == "?":
			names, msg = nil, nil
		case strings.HasPrefix(line, "#"):
			msg = nil
		default:
			if len(msg) < 3 && !strings.HasPrefix(f[0], "Test") && !strings.HasPrefix(f[0], "Example") && !strings.HasPrefix(f[0], "Fuzz") {
				msg = append(msg, strings.TrimSpace(line))
			}
		}
	}
	return benches, failed, sc.Err()
}
