package rewrite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// wordSelectors are selectors with many compounds of one class or one
// id, for pages whose classes and ids are classes and ids: the page's
// own words among them, compounds of those alone, in combinators and
// under :not().
func wordSelectors(classes, ids []string) []string {
	var sels []string
	for _, c := range classes {
		sels = append(sels, "."+c)
	}
	for _, id := range ids {
		sels = append(sels, "#"+id)
	}
	for i := 0; i+1 < len(classes); i += 2 {
		sels = append(sels, "."+classes[i]+" ."+classes[i+1], "."+classes[i]+" > :not(."+classes[i+1]+")")
	}
	// With a tag: looked up by class in the tag's group (tables.tagWords).
	for _, c := range classes {
		sels = append(sels, "div."+c, "p."+c, "li."+c)
	}
	for i := 0; i < len(ids) && i < len(classes); i++ {
		sels = append(sels, "#"+ids[i]+" ."+classes[i])
	}
	return sels
}

var (
	wordClassAttr = regexp.MustCompile(`(?i)\bclass\s*=\s*["']?([^"'>]*)`)
	wordIDAttr    = regexp.MustCompile(`(?i)\bid\s*=\s*["']?([^"'\s>]*)`)
	wordIdent     = regexp.MustCompile(`^-?[A-Za-z_][A-Za-z0-9_-]*$`)
)

// pageWords returns up to n classes and n ids that page's tags carry, as
// CSS identifiers.
func pageWords(page []byte, n int) (classes, ids []string) {
	seen := map[string]bool{}
	for _, m := range wordClassAttr.FindAllSubmatch(page, -1) {
		for _, w := range regexp.MustCompile(`\S+`).FindAll(m[1], -1) {
			if s := string(w); len(classes) < n && wordIdent.MatchString(s) && !seen["."+s] {
				seen["."+s] = true
				classes = append(classes, s)
			}
		}
	}
	for _, m := range wordIDAttr.FindAllSubmatch(page, -1) {
		if s := string(m[1]); len(ids) < n && wordIdent.MatchString(s) && !seen["#"+s] {
			seen["#"+s] = true
			ids = append(ids, s)
		}
	}
	return classes, ids
}

// TestWordDispatch checks that looking compounds up by the element's
// classes and id (tables.byClass, byID) selects what testing each
// compound selects: the same program rewrites every page the same with
// the lookup and without it. The pages are the hand-written malformed
// ones and generated ones (many in quirks mode, where classes fold
// case, and with character references in class lists), the saved
// pages and the public corpus, each with selectors made of its own
// classes and ids.
func TestWordDispatch(t *testing.T) {
	defer func(n, m int) { wordDispatch, attrDispatch = n, m }(wordDispatch, attrDispatch)
	check := func(name string, page []byte, sels []string) {
		t.Helper()
		edits := make([]Edit, len(sels))
		for i := range edits {
			edits[i] = Edit{Selector: i, Op: AddClass, Attr: fmt.Sprintf("w%d", i)}
		}
		wordDispatch, attrDispatch = 1<<30, 1<<30
		want := rewriteAll(mustCompile(sels...), edits, string(page))
		wordDispatch, attrDispatch = 1, 1
		prog := mustCompile(sels...)
		got := rewriteAll(prog, edits, string(page))
		if got != want {
			t.Errorf("%s: the lookup by class and id changes the rewrite\nselectors %q\n got %.300q\nwant %.300q", name, sels, got, want)
		}
	}
	malformed := wordSelectors([]string{"x", "y", "z", "X", "Y"}, []string{"a", "b", "c", "A"})
	corpus := slices.Clone(malformedCases)
	rng := rand.New(rand.NewPCG(seed(t), 7))
	for range 300 {
		corpus = append(corpus, malformedPage(rng))
	}
	// Attribute tests, grouped by name (tables.byAttr).
	attrs := []string{"[data-k]", "[data-k=v]", `[data-k="w v"]`, "[data-k~=w]", "[data-k^=w]", "[data-k|=v]",
		"[DATA-K=v]", "[data-k=V i]", "[data-n='1']", "[data-n]", `[data-n$="1"]`, "[type=hidden]", "[type=HIDDEN]",
		"[type]", "div [data-k]", ":not([data-n]) > [data-k=v]"}
	// Equality tests are looked up by value: many values, the i and s
	// flags, attributes HTML compares without case, and svg's
	// namespaced ones.
	attrs = append(attrs, `[xml\:lang=en]`, `[xlink\:href="#a"]`, "[data-k=v s]", "[lang=EN]", "[data-k='']", `[data-k="&"]`, "[data-k='a&b']")
	for i := range 30 {
		attrs = append(attrs, fmt.Sprintf("[data-k=v%d]", i), fmt.Sprintf("[data-n=V%d i]", i))
	}
	corpus = append(corpus,
		`<p data-k=v3 data-n=v4><svg><a xlink:href="#a" xml:lang=en data-k=v>x</a></svg><math xml:lang=EN></math><p lang=en data-k="a&amp;b">`,
		`<div data-k="" data-n="v29"><span data-k="&amp;" data-n=V1>y</span><input type=HIDDEN data-k=V></div>`)
	for i, page := range corpus {
		check(fmt.Sprintf("malformed page %d", i), []byte(page), malformed)
		check(fmt.Sprintf("malformed page %d, attributes", i), []byte(page), attrs)
	}
	shopAttrs := []string{"[data-item-id]", "[data-item-id^=p-]", "[data-brand=vela]", "[data-price]",
		"[data-position='3']", "[aria-label]", "[aria-hidden=true]", `[href^="/p/"]`, "[href*=vela]", "[href]",
		"[loading=lazy]", "[type=submit]", "[type=SUBMIT]"}
	for _, sp := range savedPages {
		check("saved:"+sp.name+", attributes", savedPage(t, sp.name), shopAttrs)
	}
	pages := realPages(t)
	names, _ := realPageSample(t, pages, 5)
	for _, sp := range savedPages {
		names = append(names, "saved:"+sp.name)
	}
	for _, name := range names {
		page := pages[name]
		if page == nil {
			page = savedPage(t, name[len("saved:"):])
		}
		classes, ids := pageWords(page, 12)
		if len(classes) < 3 {
			continue
		}
		check(name, page, wordSelectors(classes, ids))
		// The same without its doctype, in quirks mode, where classes
		// and ids are looked up with their ASCII letters in lower case.
		if quirks := doctypeRE.ReplaceAll(page, nil); len(quirks) < len(page) {
			upper := slices.Clone(classes)
			for i := range upper {
				if i%2 == 1 {
					upper[i] = strings.ToUpper(upper[i])
				}
			}
			check(name+" without its doctype", quirks, wordSelectors(upper, ids))
		}
	}
	// Values with character references, looked up decoded, in quirks
	// mode and not, and classes and ids that differ in case only.
	sels := []string{".x", ".X", ".y", "#a", "#A", `.x\&y`, `#a\&b`, `#a\&amp\;b`, ".é", ".É", ".a .X", "#Z", "#z",
		"p.x", "p.X", "p.y", `p.x\&y`, "p.é", "b.x", "b.X", "b.y"}
	body := `<p class="X">1</p><p class="x y">2</p><p id="A">3</p><p id="a&amp;b">4</p><p class="x&amp;y">5</p>` +
		`<p class="&#88;">6</p><p id="&#65;">7</p><p class="É é">8</p><div class=a><b class="&#x58; y">9</b></div>` +
		`<p id="z&#32;">10</p><p id=Z>11</p><p class="x&#9;y">12</p>`
	for _, head := range []string{"", "<!DOCTYPE html>", `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">`} {
		check("references, doctype "+head, []byte(head+body), sels)
	}
}

// doctypeRE is a page's doctype.
var doctypeRE = regexp.MustCompile(`(?i)^\s*<!doctype[^>]*>`)

// savedPage reads the saved page name of testdata/pages.
func savedPage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", name+".html"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzWordDispatch: on any page, looking classes, ids and an attribute's
// values up (by their words, decoded, folded in quirks mode) selects
// what testing each compound selects.
func FuzzWordDispatch(f *testing.F) {
	for _, c := range malformedCases {
		f.Add(c)
	}
	f.Add(`<p class="X &#88; é" id="a&amp;b" data-k=V1><svg><a xlink:href="#a" data-k=v2 class=x></a></svg>`)
	f.Add(`<!DOCTYPE html><div id=A class="x&#9;y"><span data-k="v1" data-n="V2">`)
	sels := []string{".x", ".X", ".y", ".é", ".É", "#a", "#A", `#a\&b`, "#z", ".x .y", "#a .X", ":not(.y) > .x",
		"p.x", "p.X", "p.y", "p.é", "b.x", "b.y", "b.X", "p.x .y",
		"[data-k=v1]", "[data-k=V1]", "[data-k=v2 i]", "[data-n=v2 i]", "[data-k]", "[data-k^=v]", `[xlink\:href="#a"]`, "[type=hidden]"}
	edits := make([]Edit, len(sels))
	for i := range edits {
		edits[i] = Edit{Selector: i, Op: AddClass, Attr: "class", Value: fmt.Sprintf("w%d", i)}
	}
	f.Fuzz(func(t *testing.T, page string) {
		if len(page) > 64<<10 {
			return
		}
		defer func(n, m int) { wordDispatch, attrDispatch = n, m }(wordDispatch, attrDispatch)
		wordDispatch, attrDispatch = 1<<30, 1<<30
		want := rewriteAll(mustCompile(sels...), edits, page)
		wordDispatch, attrDispatch = 1, 1
		if got := rewriteAll(mustCompile(sels...), edits, page); got != want {
			t.Fatalf("the lookups change the rewrite of %q\n got %q\nwant %q", page, got, want)
		}
	})
}
