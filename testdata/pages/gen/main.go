// Command gen writes the saved pages in testdata/pages: news.html,
// shop.html and article.html, and the small SVG images they show (img/).
//
// The pages stand for what real origins send: large, mostly valid HTML with
// the sloppiness found in the wild (see ../README.md for the list). They are
// inputs to the rewriter's golden tests and benchmarks, so the output is
// deterministic: each page draws from its own fixed-seed generator and
// nothing depends on the clock, the map order or the Go version. Running
// the command twice gives the same bytes.
//
// From the repository root:
//
//	go run ./testdata/pages/gen          # rewrite the files
//	go run ./testdata/pages/gen -check   # exit 1 if a file differs from what gen makes
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	out := flag.String("o", "", "output `dir` (default: testdata/pages, found from the repository root or from testdata/pages itself)")
	check := flag.Bool("check", false, "compare the files on disk with the generated ones instead of writing them")
	flag.Parse()

	dir := *out
	if dir == "" {
		var err error
		if dir, err = defaultDir(); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(2)
		}
	}

	files := generate()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	stale := 0
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		data := files[name]
		if *check {
			old, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(old, data) {
				fmt.Fprintf(os.Stderr, "gen: %s is stale (run go run ./testdata/pages/gen)\n", path)
				stale++
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if !strings.HasPrefix(name, "img/") {
			fmt.Printf("%-14s %7d bytes  %6.1f KiB\n", name, len(data), float64(len(data))/1024)
		}
	}
	if *check {
		if stale > 0 {
			os.Exit(1)
		}
		fmt.Printf("gen: %d files up to date\n", len(names))
	}
}

// defaultDir finds testdata/pages from the repository root or from inside
// testdata/pages.
func defaultDir() (string, error) {
	for _, dir := range []string{filepath.Join("testdata", "pages"), "."} {
		if _, err := os.Stat(filepath.Join(dir, "gen", "main.go")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("run from the repository root or from testdata/pages, or give -o")
}

// generate returns every file, by slash-separated path under testdata/pages.
func generate() map[string][]byte {
	files := map[string][]byte{
		"news.html":    newsPage(),
		"shop.html":    shopPage(),
		"article.html": articlePage(),
	}
	for name, svg := range images() {
		files["img/"+name] = []byte(svg)
	}
	return files
}

// rng is SplitMix64: tiny, fast and fully specified here, so the pages do
// not change when the standard library's generators do.
type rng struct{ state uint64 }

func newRNG(seed uint64) *rng { return &rng{state: seed} }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance is true with probability pct/100.
func (r *rng) chance(pct int) bool { return r.intn(100) < pct }

func (r *rng) pick(s []string) string { return s[r.intn(len(s))] }

// shuffled returns a shuffled copy of s.
func (r *rng) shuffled(s []string) []string {
	c := append([]string(nil), s...)
	for i := len(c) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		c[i], c[j] = c[j], c[i]
	}
	return c
}

// doc accumulates a page.
type doc struct{ bytes.Buffer }

// f writes a formatted string.
func (d *doc) f(format string, args ...any) { fmt.Fprintf(d, format, args...) }

// l writes lines, each followed by a newline.
func (d *doc) l(lines ...string) {
	for _, s := range lines {
		d.WriteString(s)
		d.WriteByte('\n')
	}
}

// esc escapes text for HTML content and double-quoted attributes.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// slug turns a title into a URL path segment, keeping ASCII letters and digits.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// clock formats minutes after midnight as "7:05 AM".
func clock(min int) string {
	h, m := min/60, min%60
	ampm := "AM"
	if h >= 12 {
		ampm = "PM"
	}
	if h > 12 {
		h -= 12
	}
	if h == 0 {
		h = 12
	}
	return fmt.Sprintf("%d:%02d %s", h, m, ampm)
}

// images returns the local SVG images the pages refer to, by file name. The
// "-2x" files are the high-density candidates of the srcset attributes.
func images() map[string]string {
	m := map[string]string{}
	news := [][3]string{
		{"#2b4a6f", "#e3ecf5", "#f2b84b"}, {"#6b2d2d", "#f5e6e3", "#e8a33d"},
		{"#2d5a3d", "#e4f1e8", "#c9d96b"}, {"#47306b", "#ece6f5", "#e86b8a"},
		{"#1f4f5c", "#e0f0f2", "#f28c52"}, {"#5c4a1f", "#f4eedd", "#6ba3d9"},
		{"#333c47", "#e9ecef", "#59c3a1"}, {"#703c1a", "#f7ebe1", "#4d8fcc"},
	}
	for i, c := range news {
		for _, v := range []struct {
			suffix string
			w, h   int
		}{{"", 320, 180}, {"-2x", 640, 360}} {
			m[fmt.Sprintf("news-%d%s.svg", i+1, v.suffix)] = fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 180" width="%d" height="%d">`+
				`<rect width="320" height="180" fill="%s"/>`+
				`<circle cx="%d" cy="%d" r="%d" fill="%s"/>`+
				`<path d="M0 %d L%d %d L%d %d L320 %d V180 H0 Z" fill="%s" opacity=".85"/>`+
				`<rect x="16" y="150" width="%d" height="10" rx="5" fill="%s" opacity=".6"/></svg>`+"\n",
				v.w, v.h, c[1], 60+i*25, 50+i%3*10, 22+i%4*4, c[2],
				130+i%3*8, 80+i*11, 70+i%4*9, 200+i*7, 120-i%3*6, 140+i%2*10, c[0],
				90+i*14, c[0])
		}
	}
	shoes := []string{"#d9442b", "#2b6cd9", "#1c1c1c", "#3aa15d", "#e0b020", "#8a4fd1", "#f06a9b", "#5a6b7a"}
	for i, c := range shoes {
		for _, v := range []struct {
			suffix string
			w, h   int
		}{{"", 400, 300}, {"-2x", 800, 600}} {
			m[fmt.Sprintf("shoe-%d%s.svg", i+1, v.suffix)] = fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="%d" height="%d">`+
				`<rect width="400" height="300" fill="#f3f3f1"/>`+
				`<ellipse cx="200" cy="236" rx="150" ry="12" fill="#000" opacity=".08"/>`+
				`<path d="M70 200 C70 150 110 120 150 118 L190 96 C215 120 250 140 300 150 C340 158 350 190 340 214 L80 218 C72 214 70 208 70 200 Z" fill="%s"/>`+
				`<path d="M72 212 L340 208 C338 222 330 230 316 230 L86 232 C76 230 72 222 72 212 Z" fill="#fafafa" stroke="#ccc"/>`+
				`<path d="M160 128 L176 150 M176 116 L192 138 M192 106 L206 128" stroke="#fff" stroke-width="6" stroke-linecap="round"/>`+
				`<path d="M230 170 C260 176 290 178 320 176" stroke="#fff" stroke-width="5" fill="none" opacity=".7"/></svg>`+"\n",
				v.w, v.h, c)
		}
	}
	m["legacy-badge.svg"] = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 88 31" width="88" height="31">` +
		`<rect width="88" height="31" fill="#ffd23f" stroke="#a07a00"/><text x="44" y="20" font-family="Verdana,sans-serif" font-size="10" text-anchor="middle" fill="#3a2c00">MEMBER DEAL</text></svg>` + "\n"
	m["diagram-states.svg"] = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 200" width="640" height="200" font-family="sans-serif" font-size="13">` +
		`<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0 0 L10 5 L0 10 Z" fill="#555"/></marker></defs>` +
		`<rect width="640" height="200" fill="#fbfaf7"/>` +
		`<g fill="#fff" stroke="#555"><rect x="20" y="80" width="110" height="40" rx="8"/><rect x="190" y="30" width="120" height="40" rx="8"/><rect x="190" y="130" width="120" height="40" rx="8"/><rect x="370" y="80" width="120" height="40" rx="8"/><rect x="540" y="80" width="80" height="40" rx="8"/></g>` +
		`<g text-anchor="middle" fill="#222"><text x="75" y="105">data</text><text x="250" y="55">tag open</text><text x="250" y="155">char ref</text><text x="430" y="105">attr value</text><text x="580" y="105">emit</text></g>` +
		`<g stroke="#555" fill="none" marker-end="url(#a)"><path d="M130 92 L190 56"/><path d="M130 108 L190 144"/><path d="M310 50 L370 90"/><path d="M310 150 L370 110"/><path d="M490 100 L540 100"/></g>` +
		`<g fill="#777" font-size="11"><text x="150" y="66">&lt;</text><text x="150" y="140">&amp;</text><text x="505" y="92">&gt;</text></g></svg>` + "\n"
	return m
}
