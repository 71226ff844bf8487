package device

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var accuracyFile = flag.String("accuracy", "", "write the corpus accuracy figures and every miss to this file")

// corpusPath is the corpus of real User-Agents, shared with other tools.
var corpusPath = filepath.Join("..", "..", "..", "testdata", "useragents", "useragents.tsv")

// corpusCase is one line of the corpus. "-" in an expected column means
// the empty string.
type corpusCase struct {
	line    int
	typ     Type
	os      string
	browser string
	bot     bool
	ua      string
	hints   Hints
}

func loadCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []corpusCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	header := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if !header {
			want := []string{"type", "os", "browser", "bot", "user_agent", "ch_mobile", "ch_platform", "ch_platform_version", "ch_ua", "ch_model"}
			if !slices.Equal(cols, want) {
				tb.Fatalf("%s:%d: header is %q, want %q", corpusPath, n, cols, want)
			}
			header = true
			continue
		}
		if len(cols) < 5 || len(cols) > 10 {
			tb.Fatalf("%s:%d: %d columns, want 5 to 10", corpusPath, n, len(cols))
		}
		cols = append(cols, make([]string, 10-len(cols))...)
		dash := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		c := corpusCase{
			line: n, typ: Type(cols[0]), os: dash(cols[1]), browser: dash(cols[2]), ua: cols[4],
			hints: Hints{Mobile: cols[5], Platform: cols[6], PlatformVersion: cols[7], UA: cols[8], Model: cols[9]},
		}
		switch cols[3] {
		case "true":
			c.bot = true
		case "false":
		default:
			tb.Fatalf("%s:%d: bot is %q, want true or false", corpusPath, n, cols[3])
		}
		if !slices.Contains([]Type{Mobile, Tablet, Desktop, TV, Console, Wearable, Bot}, c.typ) {
			tb.Fatalf("%s:%d: type %q is not a device type", corpusPath, n, c.typ)
		}
		if c.os != "" && !slices.Contains(OSes, c.os) {
			tb.Fatalf("%s:%d: os %q is not one of %q", corpusPath, n, c.os, OSes)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return cases
}

// TestCorpus classifies every User-Agent of the corpus and reports the
// accuracy of each field. Type must stay at 98% or better (every miss is
// listed); bot, OS and browser have floors that catch regressions.
func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) < 400 {
		t.Errorf("corpus has %d User-Agents, want at least 400", len(cases))
	}
	fields := []string{"type", "bot", "os", "browser"}
	floors := map[string]float64{"type": 98, "bot": 100, "os": 97, "browser": 95}
	hits := map[string]int{}
	var misses []string
	hinted := 0
	for _, c := range cases {
		if c.hints != (Hints{}) {
			hinted++
		}
		got := Classify(c.ua, c.hints)
		check := func(field, got, want string) {
			if got == want {
				hits[field]++
				return
			}
			misses = append(misses, fmt.Sprintf("line %d: %s = %q, want %q: %q %+v", c.line, field, got, want, c.ua, c.hints))
		}
		check("type", string(got.Type), string(c.typ))
		check("bot", fmt.Sprint(got.Bot), fmt.Sprint(c.bot))
		check("os", got.OS, c.os)
		check("browser", got.Browser, c.browser)
	}
	if hinted < 20 {
		t.Errorf("corpus has %d cases with Client Hints, want at least 20", hinted)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "corpus: %d User-Agents (%d with Client Hints)\n", len(cases), hinted)
	for _, f := range fields {
		pct := 100 * float64(hits[f]) / float64(len(cases))
		fmt.Fprintf(&report, "  %-8s %6.2f%%  (%d/%d)\n", f, pct, hits[f], len(cases))
		if pct < floors[f] {
			t.Errorf("%s accuracy %.2f%% is below %.0f%%", f, pct, floors[f])
		}
	}
	for _, m := range misses {
		fmt.Fprintf(&report, "  miss %s\n", m)
	}
	t.Log(report.String())
	if *accuracyFile != "" {
		if err := os.WriteFile(*accuracyFile, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkClassify classifies the whole corpus, one User-Agent per
// operation, and reports the median time of one classification.
func BenchmarkClassify(b *testing.B) {
	cases := loadCorpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := &cases[i%len(cases)]
		Classify(c.ua, c.hints)
	}
	b.StopTimer()
	b.ReportMetric(medianClassify(cases), "median-ns/ua")
}

// medianClassify is the median over the corpus of each User-Agent's mean
// classification time.
func medianClassify(cases []corpusCase) float64 {
	const rounds = 200
	times := make([]float64, len(cases))
	for i, c := range cases {
		start := time.Now()
		for range rounds {
			Classify(c.ua, c.hints)
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / rounds
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// BenchmarkClassifyCached looks up the corpus in a warm cache.
func BenchmarkClassifyCached(b *testing.B) {
	cases := loadCorpus(b)
	c := NewCache(4096)
	for _, k := range cases {
		c.Classify(k.ua, k.hints)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := &cases[i%len(cases)]
		c.Classify(k.ua, k.hints)
	}
}

// BenchmarkClassifyCachedParallel looks up the corpus in a warm cache from
// every processor at once.
func BenchmarkClassifyCachedParallel(b *testing.B) {
	cases := loadCorpus(b)
	c := NewCache(4096)
	for _, k := range cases {
		c.Classify(k.ua, k.hints)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			k := &cases[i%len(cases)]
			c.Classify(k.ua, k.hints)
		}
	})
}
