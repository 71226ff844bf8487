package device

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	publicFile = flag.String("corpus", publicPath,
		"labelled corpus TestCorpusReport measures (TSV, gzip-compressed when it ends in .gz)")
	missesFile = flag.String("misses", "", "write the development half's misses of TestCorpusReport to this file")
)

// publicPath is the labelled corpus of public User-Agents; see its
// README.md for the sources and the labels.
var publicPath = filepath.Join("..", "..", "..", "testdata", "useragents", "public", "public.tsv.gz")

// publicCase is one line of a labelled corpus. "?" in a label column
// means not labelled: the line counts for the other labels only; "-"
// means the empty string (an OS or browser Info leaves unnamed).
type publicCase struct {
	source  string
	typ     Type
	os      string
	browser string
	ua      string
	hints   Hints
	// relabelled marks a string a source labelled as a device that
	// carries a crawler's contact URL; see contactURL.
	relabelled bool
}

// contactURL reports the "+http://…" contact address by which automated
// clients identify themselves to site operators ("Googlebot/2.1
// (+http://www.google.com/bot.html)"). No browser sends one, so a string
// that does is scored as a bot whatever type its source gave it: the few
// sources that call such strings devices (an RSS reader, a read-later
// fetcher, a mobile transcoding gateway labelled by the device it fetches
// for) disagree with bespoke's definition of a bot, not with its rules.
// The rule is mechanical and applies to both halves alike.
func contactURL(ua string) bool {
	return strings.Contains(ua, "+http://") || strings.Contains(ua, "+https://")
}

// heldOut reports whether a case belongs to the held-out half: the split
// is by a hash of the User-Agent and hints, so it is the same on every
// run and for every version of the classifier.
func (c *publicCase) heldOut() bool {
	h := fnv.New64a()
	io.WriteString(h, c.ua)
	for _, s := range []string{c.hints.Mobile, c.hints.Platform, c.hints.PlatformVersion, c.hints.UA, c.hints.Model} {
		io.WriteString(h, "\t"+s)
	}
	return h.Sum64()&1 == 1
}

var publicTypes = []Type{Mobile, Tablet, Desktop, TV, Console, Wearable, Bot}

func loadPublic(tb testing.TB, path string) []publicCase {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		defer z.Close()
		r = z
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	want := []string{"source", "type", "os", "browser", "user_agent", "ch_mobile", "ch_platform", "ch_platform_version", "ch_ua", "ch_model"}
	var cases []publicCase
	for n := 1; sc.Scan(); n++ {
		cols := strings.Split(sc.Text(), "\t")
		if n == 1 {
			if !slices.Equal(cols, want[:len(cols)]) || len(cols) < 5 {
				tb.Fatalf("%s:1: header is %q, want %q", path, cols, want)
			}
			continue
		}
		if len(cols) < 5 || len(cols) > len(want) {
			tb.Fatalf("%s:%d: %d columns, want 5 to %d", path, n, len(cols), len(want))
		}
		cols = append(cols, make([]string, len(want)-len(cols))...)
		dash := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		c := publicCase{source: cols[0], typ: Type(cols[1]), os: dash(cols[2]), browser: dash(cols[3]), ua: cols[4],
			hints: Hints{Mobile: cols[5], Platform: cols[6], PlatformVersion: cols[7], UA: cols[8], Model: cols[9]}}
		if c.typ != "?" && !slices.Contains(publicTypes, c.typ) {
			tb.Fatalf("%s:%d: type %q is not a device type", path, n, c.typ)
		}
		if c.os != "?" && c.os != "" && !slices.Contains(OSes, c.os) {
			tb.Fatalf("%s:%d: os %q is not one of %q", path, n, c.os, OSes)
		}
		if c.typ != "?" && c.typ != Bot && contactURL(c.ua) {
			c.typ, c.relabelled = Bot, true
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return cases
}

// ipadAsMac is the source tag of iPads whose browser sends a Mac's
// User-Agent and no Client Hints (Safari since iPadOS 13): no rule on
// the User-Agent can tell them from a Mac, so the report shows tablet
// recall with and without them.
const ipadAsMac = "/ipad-as-mac"

// scores are the agreement figures of one half of a corpus.
type scores struct {
	n, typeHits           int
	ipads, ipadHits       int
	tp, fp, fn            map[Type]int
	botTP, botFN, botFP   int
	humans                int
	osN, osHits           int
	browserN, browserHits int
	misses                []string
}

func score(cases []publicCase) *scores {
	s := &scores{tp: map[Type]int{}, fp: map[Type]int{}, fn: map[Type]int{}}
	for i := range cases {
		c := &cases[i]
		got := Classify(c.ua, c.hints)
		if c.os != "?" {
			s.osN++
			if got.OS == c.os {
				s.osHits++
			} else {
				s.misses = append(s.misses, fmt.Sprintf("os %s\t%s\t%s\t%q", c.os, got.OS, c.source, c.ua))
			}
		}
		if c.browser != "?" {
			s.browserN++
			if got.Browser == c.browser {
				s.browserHits++
			} else {
				s.misses = append(s.misses, fmt.Sprintf("browser %s\t%s\t%s\t%q", c.browser, got.Browser, c.source, c.ua))
			}
		}
		if c.typ == "?" {
			continue
		}
		s.n++
		if strings.HasSuffix(c.source, ipadAsMac) {
			s.ipads++
			if got.Type == c.typ {
				s.ipadHits++
			}
		}
		if got.Type == c.typ {
			s.typeHits++
			s.tp[c.typ]++
		} else {
			s.fn[c.typ]++
			s.fp[got.Type]++
			s.misses = append(s.misses, fmt.Sprintf("%s\t%s\t%s\t%q %+v", c.typ, got.Type, c.source, c.ua, c.hints))
		}
		if c.typ == Bot {
			if got.Bot {
				s.botTP++
			} else {
				s.botFN++
			}
		} else {
			s.humans++
			if got.Bot {
				s.botFP++
			}
		}
	}
	return s
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (s *scores) typeAccuracy() float64 { return pct(s.typeHits, s.n) }
func (s *scores) recall(t Type) float64 { return pct(s.tp[t], s.tp[t]+s.fn[t]) }

// tellableRecall is the recall of t without the iPads that send a Mac's
// User-Agent.
func (s *scores) tellableRecall(t Type) float64 {
	if t != Tablet {
		return s.recall(t)
	}
	return pct(s.tp[t]-s.ipadHits, s.tp[t]+s.fn[t]-s.ipads)
}
func (s *scores) botRecall() float64 { return pct(s.botTP, s.botTP+s.botFN) }
func (s *scores) botFPRate() float64 { return pct(s.botFP, s.humans) }

// TestCorpusReport classifies the labelled public corpus (or the file
// given with -corpus) and prints, for its development half, its held-out
// half and the whole, the precision and recall of each device type, bot
// recall and false-positive rate, OS and browser agreement, and the cost
// of one uncached classification. The goals are floors on the committed
// corpus, checked on both halves; a corpus given with -corpus is only
// reported.
func TestCorpusReport(t *testing.T) {
	cases := loadPublic(t, *publicFile)
	var dev, held []publicCase
	for _, c := range cases {
		if c.heldOut() {
			held = append(held, c)
		} else {
			dev = append(dev, c)
		}
	}
	halves := []struct {
		name string
		s    *scores
	}{{"dev", score(dev)}, {"held-out", score(held)}, {"all", score(cases)}}

	var b strings.Builder
	fmt.Fprintf(&b, "corpus %s: %d User-Agents, %d labelled with a type (%d and %d in the development and held-out halves)\n",
		filepath.Base(*publicFile), len(cases), halves[2].s.n, halves[0].s.n, halves[1].s.n)
	relabelled := 0
	for _, c := range cases {
		if c.relabelled {
			relabelled++
		}
	}
	fmt.Fprintf(&b, "%d labelled as devices by their source carry a crawler's +http contact URL and are scored as bots\n", relabelled)
	fmt.Fprintf(&b, "%-22s", "")
	for _, h := range halves {
		fmt.Fprintf(&b, " %22s", h.name)
	}
	b.WriteString("\n")
	row := func(label string, f func(s *scores) string) {
		fmt.Fprintf(&b, "%-22s", label)
		for _, h := range halves {
			fmt.Fprintf(&b, " %22s", f(h.s))
		}
		b.WriteString("\n")
	}
	frac := func(a, n int) string { return fmt.Sprintf("%6.2f%% (%d/%d)", pct(a, n), a, n) }
	row("type accuracy", func(s *scores) string { return frac(s.typeHits, s.n) })
	for _, ty := range publicTypes[:len(publicTypes)-1] {
		row(string(ty)+" recall", func(s *scores) string { return frac(s.tp[ty], s.tp[ty]+s.fn[ty]) })
		if ty == Tablet && halves[2].s.ipads > 0 {
			row("  without iPads as Macs", func(s *scores) string {
				return frac(s.tp[ty]-s.ipadHits, s.tp[ty]+s.fn[ty]-s.ipads)
			})
		}
		row(string(ty)+" precision", func(s *scores) string { return frac(s.tp[ty], s.tp[ty]+s.fp[ty]) })
	}
	row("bot recall", func(s *scores) string { return frac(s.botTP, s.botTP+s.botFN) })
	row("bot precision", func(s *scores) string { return frac(s.tp[Bot], s.tp[Bot]+s.fp[Bot]) })
	row("bot false positives", func(s *scores) string { return frac(s.botFP, s.humans) })
	row("os agreement", func(s *scores) string { return frac(s.osHits, s.osN) })
	row("browser agreement", func(s *scores) string { return frac(s.browserHits, s.browserN) })

	ns, allocs := classifyCost(cases)
	fmt.Fprintf(&b, "uncached Classify: %.0f ns per User-Agent (mean over the corpus), %.3f allocations per User-Agent\n", ns, allocs)
	t.Log("\n" + b.String())

	if *missesFile != "" {
		out := "want (type, or os or browser and the value)\tgot\tsource\tuser agent\n" + strings.Join(halves[0].s.misses, "\n") + "\n"
		if err := os.WriteFile(*missesFile, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if *publicFile != publicPath {
		return // another corpus: report only
	}
	if n := halves[2].s.n; n < 5000 {
		t.Errorf("corpus has %d User-Agents labelled with a type, want at least 5000", n)
	}
	for _, h := range halves[:2] {
		s := h.s
		if a := s.typeAccuracy(); a < 95 {
			t.Errorf("%s: type accuracy %.2f%%, want at least 95%%", h.name, a)
		}
		for _, ty := range publicTypes {
			// Classes with fewer than 20 examples in a half are reported,
			// not held to a floor: one miss would move them by 5%.
			if r := s.tellableRecall(ty); r < 90 && s.tp[ty]+s.fn[ty] >= 20 {
				t.Errorf("%s: %s recall %.2f%%, want at least 90%%", h.name, ty, r)
			}
		}
		if r := s.botRecall(); r < 90 {
			t.Errorf("%s: bot recall %.2f%%, want at least 90%%", h.name, r)
		}
		if fp := s.botFPRate(); fp > 0.2 {
			t.Errorf("%s: bot false positives %.2f%%, want at most 0.2%%", h.name, fp)
		}
	}
	if allocs > 0.01 {
		t.Errorf("uncached Classify allocates %.3f times per User-Agent, want none", allocs)
	}
}

// classifyCost is the mean time and allocation count of one uncached
// classification over cases. The time is reported, never asserted.
func classifyCost(cases []publicCase) (ns, allocs float64) {
	const rounds = 5
	start := time.Now()
	for range rounds {
		for i := range cases {
			Classify(cases[i].ua, cases[i].hints)
		}
	}
	ns = float64(time.Since(start).Nanoseconds()) / float64(rounds*len(cases))
	// testing.AllocsPerRun rounds down to whole allocations per run;
	// the rare inputs that allocate need the fraction.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range cases {
		Classify(cases[i].ua, cases[i].hints)
	}
	runtime.ReadMemStats(&after)
	return ns, float64(after.Mallocs-before.Mallocs) / float64(len(cases))
}

// BenchmarkClassifyPublic classifies the public corpus, one User-Agent
// per operation, uncached, and reports the median time of one
// classification.
func BenchmarkClassifyPublic(b *testing.B) {
	cases := loadPublic(b, publicPath)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := &cases[i%len(cases)]
		Classify(c.ua, c.hints)
	}
	b.StopTimer()
	corpus := make([]corpusCase, len(cases))
	for i, c := range cases {
		corpus[i] = corpusCase{ua: c.ua, hints: c.hints}
	}
	b.ReportMetric(medianClassify(corpus), "median-ns/ua")
}
