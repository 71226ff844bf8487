package rewrite

import (
	"bytes"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/corpus"
)

// The public corpus of real pages: the test pages of Mozilla's
// Readability, as a Go port ships them in its module (pinned here by
// version and checksum, fetched from the Go module proxy like any
// module): 134 pages saved from news sites, blogs, wikis and shops
// (BBC, CNN, the New York Times, Wikipedia, Medium, Le Monde, Yahoo, …),
// 1 KB to 1.5 MB, with the markup, scripts, comments and errors of
// pages as servers send them.
const (
	realPagesModule = "codeberg.org/readeck/go-readability/v2@v2.1.3"
	realPagesSum    = "h1:6SR63+o3nHiZT6Ntq2Px4nNd2eSfrtsDpdM4uL3id9c="
)

// realPages returns the corpus's pages by name, fetching the module
// into the module cache when it is not there yet; or, with
// BESPOKE_PAGES set to a directory, the pages saved there instead
// (every *.html under it), for an operator to check the rewriter on
// their own site's pages with every test of the public corpus.
func realPages(t testing.TB) map[string][]byte {
	t.Helper()
	if dir := os.Getenv("BESPOKE_PAGES"); dir != "" {
		return pagesUnder(t, dir)
	}
	dir := corpus.Module(t, realPagesModule, realPagesSum)
	files, err := filepath.Glob(filepath.Join(dir, "test-pages", "*", "source.html"))
	if err != nil || len(files) < 100 {
		t.Fatalf("%d pages in %s (%v): the corpus is not what it was", len(files), dir, err)
	}
	pages := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(filepath.Dir(f))] = b
	}
	return pages
}

// pagesUnder returns the *.html files under dir by their path in it.
func pagesUnder(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	pages := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		pages[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil || len(pages) == 0 {
		t.Fatalf("BESPOKE_PAGES=%s: %d pages (%v)", dir, len(pages), err)
	}
	return pages
}

// realPageSample returns the corpus's page names in order, all of them,
// or under the race detector (ten times slower; make test runs it) one
// in every, picked by the seed: each run checks others, and a failure
// names the seed that reproduces it.
func realPageSample(t testing.TB, pages map[string][]byte, every uint64) ([]string, uint64) {
	names := slices.Sorted(maps.Keys(pages))
	s := seed(t)
	if !raceEnabled {
		return names, s
	}
	var some []string
	for i, n := range names {
		if uint64(i)%every == s%every {
			some = append(some, n)
		}
	}
	return some, s
}

// TestRealPagesDifferential is TestBrowserDifferential on the public
// corpus: on each page, the rewriter's element tree is the browser's
// (x/net/html), but where a by-design difference explains it, and each
// selector of browserSelectors selects the elements cascadia selects.
func TestRealPagesDifferential(t *testing.T) {
	pages := realPages(t)
	names, s := realPageSample(t, pages, 16)
	stats := map[string]int{}
	nDerived := 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			derived := pageSelectors(t, string(pages[name]), s, 40, true)
			nDerived += len(derived)
			for k, v := range checkPageWith(t, string(pages[name]), derived) {
				stats[k] += v
			}
		})
	}
	for _, d := range append(designDiffs, diffReference) {
		t.Logf("%s: %d selections differ (%s)", d.name, stats[d.name], d.why)
	}
	t.Logf("%d of the corpus's %d pages (BESPOKE_SEED=%d), %d selectors and %d made from the pages' own classes, ids and attributes (pageSelectors)",
		len(names), len(pages), s, len(browserSelectors), nDerived)
}

// TestRealPagesSplice is TestSpliceDifferential on the public corpus: for
// each page and each splice program (those of the splice tests, and one
// made from the page's own classes, ids and values), a map of the page,
// then splices of
// the page as it was, with its volatile values rewritten, and changed as
// a later response might be, with random edits and random writes, must
// be what the Rewriter makes of the page served.
func TestRealPagesSplice(t *testing.T) {
	pages := realPages(t)
	names, s := realPageSample(t, pages, 4)
	rng := rand.New(rand.NewPCG(s, 11))
	cases, used := 0, 0
	for _, name := range names {
		page := pages[name]
		programs := splicePrograms()
		// And a program of selectors made from the page's own classes,
		// ids and values (pageSelectors), which select what editors'
		// rules select: many elements, with values to read.
		if own := pageSelectors(t, string(page), s, 12, true); len(own) > 0 {
			p, err := CompileStrings(own)
			if err != nil {
				t.Fatal(err)
			}
			programs = append(programs, struct {
				p    *Program
				nsel int
			}{p, len(own)})
		}
		for _, sp := range programs {
			m := recordMap(rng, sp.p, page, true)
			if m == nil {
				continue // past the map builder's bound, or one the page cannot have
			}
			for k := range 3 {
				served, what := page, name+" as it was"
				switch {
				case k == 1 && len(m.vol) > 0:
					served, what = revalue(rng, page, m, rng.IntN(3) == 0), name+" restamped"
				case k == 2:
					var how string
					served, how = mutate(rng, page)
					what = name + " " + how
				}
				u, _ := spliceCase(t, rng, sp.p, m, served, randomEdits(rng, sp.nsel), 0, what)
				cases++
				if u {
					used++
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("no page was spliced with its map")
	}
	t.Logf("%d of the corpus's %d pages (BESPOKE_SEED=%d): %d splices against the Rewriter, %d with their map", len(names), len(pages), s, cases, used)
}

// BenchmarkRewriteCorpus rewrites every page of the public corpus in
// turn, as the proxy feeds it (32 KiB writes), and reports the bytes of
// all of them over the time: pass-through with the benchmark's five
// edits matching nothing, edits with five that match on most pages (the
// first h1, links, the body, the first main and aside), and hideseen
// that adds a hide_seen over list items.
func BenchmarkRewriteCorpus(b *testing.B) {
	pages := realPages(b)
	names := slices.Sorted(maps.Keys(pages))
	total := 0
	for _, n := range names {
		total += len(pages[n])
	}
	for _, c := range []struct {
		name  string
		sels  []string
		edits []Edit
		seen  SeenSet
	}{
		{"passthrough", passSelectors, fiveEdits, nil},
		{"edits", []string{"h1", "a[href]", "body", "main", "aside"}, fiveEdits, nil},
		{"hideseen", []string{"h1", "a[href]", "body", "main", "aside", "li"},
			append(slices.Clone(fiveEdits), Edit{Selector: 5, Op: HideSeen, Attr: "id", N: 4}), &benchSeen{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			prog, err := CompileStrings(c.sels)
			if err != nil {
				b.Fatal(err)
			}
			var out bytes.Buffer
			pass := func() {
				for _, n := range names {
					page := pages[n]
					out.Reset()
					rw := prog.NewRewriter(&out, c.edits, Options{Seen: c.seen})
					for i := 0; i < len(page); i += 32 << 10 {
						rw.Write(page[i:min(i+32<<10, len(page))])
					}
					rw.Close()
					rw.Release()
				}
			}
			warm(pass)
			b.SetBytes(int64(total))
			b.ReportAllocs()
			for b.Loop() {
				pass()
			}
		})
	}
}

// TestRealPagesChunking: each page of the public corpus comes out the
// same, byte for byte, written whole and in writes of 61 and 4,093
// bytes, with the pathological pages' program and edits (every kind of
// selector and list edit); a program whose selectors match nothing
// leaves it untouched; and the rewriter's work stays under 8 steps a
// byte (with -tags rewritework, as make test runs): real pages cost
// about 2.4 at most, the pathological ones up to 6.6.
func TestRealPagesChunking(t *testing.T) {
	pages := realPages(t)
	names, s := realPageSample(t, pages, 4)
	none := mustCompile("#never", ".never p", "x-never > y")
	opt := Options{MaxBuffer: 16 << 20, Seen: hideEverySeen{}}
	worst, worstName := 0.0, ""
	for _, name := range names {
		page := string(pages[name])
		whole, _ := rewrite(t, pathologicalProgram(), pathologicalEdits, opt, page, chunker(len(page)+1, nil))
		for _, size := range []int{61, 4093} {
			if got, _ := rewrite(t, pathologicalProgram(), pathologicalEdits, opt, page, chunker(size, nil)); got != whole {
				i := 0
				for i < min(len(got), len(whole)) && got[i] == whole[i] {
					i++
				}
				t.Fatalf("%s: in writes of %d bytes the output differs at %d: %q, whole %q", name, size, i,
					got[max(0, i-40):min(len(got), i+40)], whole[max(0, i-40):min(len(whole), i+40)])
			}
		}
		if got, _ := rewrite(t, none, []Edit{{Op: Remove}, {Selector: 1, Op: AddClass, Attr: "c"}, {Selector: 2, Op: Limit}}, opt, page, chunker(61, nil)); got != page {
			t.Fatalf("%s: no edit matches, yet the page changed", name)
		}
		if trackWork {
			if w := float64(rewriteWork(pages[name], 61)) / float64(len(page)); w > worst {
				worst, worstName = w, name
			}
		}
	}
	if trackWork {
		t.Logf("the most work a byte: %.1f steps (%s)", worst, worstName)
		if worst > 8 {
			t.Errorf("%s costs %.1f steps a byte: a real page should not cost what the pathological ones do", worstName, worst)
		}
	}
	t.Logf("%d of the corpus's %d pages (BESPOKE_SEED=%d)", len(names), len(pages), s)
}
