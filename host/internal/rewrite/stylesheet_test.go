package rewrite

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// styleSelectors returns the selectors of the style rules in the page's
// <style> elements, as their authors wrote them, each once: the rules at
// the top level and inside @media, @supports, @layer, @container and
// @document, not the preludes of other at-rules (@font-face, @keyframes'
// percentages) nor nested rules.
func styleSelectors(page string) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Data != "style" || n.Namespace != "" || n.FirstChild == nil {
			continue
		}
		for _, list := range ruleSelectors(n.FirstChild.Data) {
			for _, sel := range splitSelectorList(list) {
				if sel = strings.Join(strings.Fields(sel), " "); sel != "" && !seen[sel] {
					seen[sel] = true
					out = append(out, sel)
				}
			}
		}
	}
	return out
}

// ruleSelectors returns the preludes of a style sheet's style rules (see
// styleSelectors).
func ruleSelectors(css string) []string {
	// A style sheet's "<!--" and "-->" are tokens CSS ignores, for pages
	// that hid their styles from browsers older than <style>.
	css = strings.NewReplacer("<!--", "    ", "-->", "   ").Replace(css)
	var out []string
	// rules[d] says whether the block at depth d holds rules (the sheet,
	// a conditional group) or declarations and anything else.
	rules := []bool{true}
	start := 0
	for i := 0; i < len(css); i++ {
		switch c := css[i]; c {
		case '/':
			if strings.HasPrefix(css[i:], "/*") {
				end := strings.Index(css[i+2:], "*/")
				if end < 0 {
					return out
				}
				css = css[:i] + " " + css[i+2+end+2:]
			}
		case '"', '\'':
			end := strings.IndexByte(css[i+1:], c)
			if end < 0 {
				return out
			}
			i += end + 1
		case '\\':
			i++
		case ';':
			start = i + 1
		case '{':
			prelude := strings.TrimSpace(css[start:i])
			holds := false
			if rules[len(rules)-1] {
				if name, ok := strings.CutPrefix(prelude, "@"); ok {
					name = strings.ToLower(strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '(' || r == '\n' || r == '\t' })[0])
					holds = slices.Contains([]string{"media", "supports", "layer", "container", "document", "-moz-document"}, name)
				} else if prelude != "" {
					out = append(out, prelude)
				}
			}
			rules = append(rules, holds)
			start = i + 1
		case '}':
			if len(rules) > 1 {
				rules = rules[:len(rules)-1]
			}
			start = i + 1
		}
	}
	return out
}

// splitSelectorList splits a selector list at its commas, outside
// parentheses, brackets and strings.
func splitSelectorList(list string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(list); i++ {
		switch c := list[i]; c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case '"', '\'':
			if end := strings.IndexByte(list[i+1:], c); end >= 0 {
				i += end + 1
			}
		case '\\':
			i++
		case ',':
			if depth == 0 {
				out = append(out, list[start:i])
				start = i + 1
			}
		}
	}
	return append(out, list[start:])
}

// styleSample returns up to n of the page's style sheet selectors that
// can be compared (see comparable), picked by rng. For Chromium, which
// needs none of cascadia's exceptions, they are those that do not read
// the class attribute's value, where its test marks what selectors
// select, and are ASCII (a page without a declared charset is
// windows-1252 there).
func styleSample(page string, rng *rand.Rand, n int, forChromium bool) []string {
	var sels []string
	for _, sel := range styleSelectors(page) {
		if forChromium {
			if readsClassValue(sel) || strings.ContainsFunc(sel, func(r rune) bool { return r >= utf8.RuneSelf }) {
				continue
			}
			if _, err := selector.Parse(sel); err != nil {
				continue
			}
			if _, err := cascadia.Compile(sel); err != nil {
				continue
			}
		} else if _, ok := comparable(sel, page); !ok {
			continue
		}
		sels = append(sels, sel)
	}
	if len(sels) > n {
		rng.Shuffle(len(sels), func(i, j int) { sels[i], sels[j] = sels[j], sels[i] })
		sels = sels[:n]
	}
	return sels
}

// readsClassValue reports whether sel has an attribute selector on class
// other than [class] and [class~=w], which a word added to the value does
// not change.
func readsClassValue(sel string) bool {
	l, err := selector.Parse(sel)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(selectorAttrs(l), func(a selector.Attr) bool {
		return strings.EqualFold(a.Name, "class") && a.Op != selector.Exists && a.Op != selector.Includes
	})
}

// selectorAttrs returns the attribute selectors of l, those inside :not
// included.
func selectorAttrs(l selector.List) []selector.Attr {
	var out []selector.Attr
	for _, c := range l {
		for _, cp := range c.Compounds {
			out = append(out, cp.Attrs...)
			for _, p := range cp.Pseudos {
				out = append(out, selectorAttrs(p.Not)...)
			}
		}
	}
	return out
}

// comparable reports whether the rewriter's and cascadia's answers to sel
// on page can be compared, or why not: where cascadia differs from
// browsers (see pageSelectors), and where the rewriter refuses what it
// cannot decide in one pass.
func comparable(sel, page string) (string, bool) {
	l, err := selector.Parse(sel)
	if err != nil {
		return "the rewriter refuses it", false
	}
	if _, err := cascadia.Compile(sel); err != nil {
		return "cascadia refuses it", false
	}
	for _, a := range selectorAttrs(l) {
		switch {
		case a.Fold:
			return "an attribute HTML compares without case", false
		case a.Name == "href" && strings.Contains(page, "xlink:href"):
			return "[href] on a page with svg links", false
		case a.Name == "class" && strings.TrimFunc(a.Value, isHTMLSpace) != a.Value:
			return "a class value with spaces at its ends", false
		}
	}
	return "", true
}

// TestRealPagesStylesheets is TestRealPagesDifferential with the
// selectors the corpus's pages style themselves with: written by their
// authors, for their own markup (combinators over real nesting, the
// classes frameworks write, :not and :nth-child as sites use them). Each
// one both the rewriter and cascadia read must select what cascadia
// selects, but where cascadia is known to differ from browsers; the test
// logs how many of the corpus's selectors the rewriter reads, and why it
// refuses the others, which SYNTAX.md's subset explains. Each page
// gives it 100 of its selectors (10 under the race detector), picked by
// the seed; BESPOKE_SELECTORS=all gives every one.
func TestRealPagesStylesheets(t *testing.T) {
	pages := realPages(t)
	names, s := realPageSample(t, pages, 16)
	// Each selector costs a rewrite of the page and a match on both
	// trees: a page's sample, picked by the seed, unless all are asked
	// for.
	perPage := 100
	if raceEnabled {
		perPage = 10
	}
	if os.Getenv("BESPOKE_SELECTORS") == "all" {
		perPage = math.MaxInt
	}
	rng := rand.New(rand.NewPCG(s, 5))
	refused := map[string]int{}
	compared, comparableN, total := 0, 0, 0
	for _, name := range names {
		page := string(pages[name])
		var sels []string
		for _, sel := range styleSelectors(page) {
			total++
			why, ok := comparable(sel, page)
			if why == "cascadia refuses it" {
				// Browsers drop a rule whose selector they cannot read:
				// one bespoke reads would edit what the page's author
				// never styled.
				t.Errorf("%s: the rewriter reads %q, which cascadia refuses", name, sel)
			}
			if !ok {
				refused[why]++
				continue
			}
			sels = append(sels, sel)
		}
		comparableN += len(sels)
		if len(sels) > perPage {
			rng.Shuffle(len(sels), func(i, j int) { sels[i], sels[j] = sels[j], sels[i] })
			sels = sels[:perPage]
		}
		if len(sels) == 0 {
			continue
		}
		compared += len(sels)
		t.Run(name, func(t *testing.T) { checkPageWith(t, page, sels) })
	}
	// Whether the corpus and the extraction are what they were is a
	// question for the whole corpus: the few pages of a sample (one in
	// 16 under the race detector) may hold next to no style sheet, and
	// so may a site's own pages (BESPOKE_PAGES).
	corpusTotal := 0
	for _, p := range pages {
		corpusTotal += len(styleSelectors(string(p)))
	}
	if corpusTotal < 50*len(pages) && os.Getenv("BESPOKE_PAGES") == "" || compared == 0 && total > 0 {
		t.Fatalf("%d selectors in the style sheets of the corpus's %d pages (%d in the %d sampled), %d compared: the corpus or the extraction is not what it was", corpusTotal, len(pages), total, len(names), compared)
	}
	var whys []string
	for _, why := range slices.Sorted(maps.Keys(refused)) {
		whys = append(whys, fmt.Sprintf("%s %d", why, refused[why]))
	}
	t.Logf("%d of the corpus's %d pages (BESPOKE_SEED=%d): %d selectors in their style sheets, %d comparable, %d compared (BESPOKE_SELECTORS=all for every one); not comparable: %s", len(names), len(pages), s, total, comparableN, compared, strings.Join(whys, ", "))
}
