package main

import (
	"fmt"
	"regexp"
	"strings"
)

// Selectors are the elements the personalization scenario edits on a
// page, one per edit. The bespoke rule files and the nginx sub_filter
// configuration are both rendered from them, so every target edits the
// same elements.
type Selectors struct {
	// Inner gets set_inner, Attr set_attr href, Class add_class, Before
	// insert_before, Remove remove.
	Inner, Attr, Class, Before, Remove string
	// Card is the repeated item hide_seen works on; CardID its id
	// attribute.
	Card, CardID string
}

// pageSelectors fit the saved pages; a page not listed (an .html file
// given to -page) uses the demo shop's.
var pageSelectors = map[string]Selectors{
	"demo": {Inner: "#hero .hero-title", Attr: "#hero .cta", Class: "body", Before: "#hero", Remove: "#promo", Card: "li.card", CardID: "data-item-id"},
	// The product listing: heading, promo-strip link, the product grid's
	// container and the legacy CMS widget (upper-case, unquoted markup).
	"shop": {Inner: ".listing-head h1", Attr: "#promo-strip a", Class: "body", Before: "#listing", Remove: "#legacy-promo", Card: "li.card", CardID: "data-item-id"},
	// The front page: first section heading, sign-in link, main column,
	// leaderboard ad; items are the story teasers.
	"news": {Inner: "#h-top", Attr: "a.signin", Class: "body", Before: "#main", Remove: "#ad-top", Card: "article.teaser", CardID: "data-item-id"},
	// The blog post: title, blog name link, main column, mentions; items
	// are the related posts.
	"article": {Inner: "h1.p-name", Attr: "a.blog-title", Class: "body", Before: "#main", Remove: "#mentions", Card: "li.related-post", CardID: "data-item-id"},
}

func selectorsFor(page string) Selectors {
	if s, ok := pageSelectors[page]; ok {
		return s
	}
	return pageSelectors["demo"]
}

// absentSelectors are for bespoke-none: the same actions on selectors no
// page has, so the rewriter scans the whole page and edits nothing.
var absentSelectors = Selectors{
	Inner:  "#bench-absent .title",
	Attr:   "#bench-absent a",
	Class:  "body.bench-absent",
	Before: "#bench-absent-before",
	Remove: "#bench-absent-remove",
	Card:   "li.bench-absent",
	CardID: "data-item-id",
}

// element is one element found in a page: its start tag and, when it has
// one, everything up to its end tag.
type element struct {
	Open  string // the start tag, as written
	Whole string // start tag, content and end tag
	Close string // the end tag
	start int    // offset of Open in the page
}

var (
	tagRE  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*/?>`)
	attrRE = regexp.MustCompile(`([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?`)

	compoundRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9-]*|\*)?((?:[#.][a-zA-Z0-9_-]+)*)$`)
	idClassRE  = regexp.MustCompile(`[#.][a-zA-Z0-9_-]+`)
)

// voidElements never have an end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// compound is one simple selector sequence: tag, #id and .classes.
type compound struct {
	tag, id string
	classes []string
}

func parseCompound(s string) (compound, error) {
	var c compound
	m := compoundRE.FindStringSubmatch(s)
	if m == nil {
		return c, fmt.Errorf("selector %q: only tag, #id and .class are supported here", s)
	}
	if m[1] != "*" {
		c.tag = strings.ToLower(m[1])
	}
	for _, p := range idClassRE.FindAllString(m[2], -1) {
		if p[0] == '#' {
			c.id = p[1:]
		} else {
			c.classes = append(c.classes, p[1:])
		}
	}
	return c, nil
}

func (c compound) matches(tag, attrs string) bool {
	if c.tag != "" && !strings.EqualFold(c.tag, tag) {
		return false
	}
	id, class := "", ""
	for _, a := range attrRE.FindAllStringSubmatch(attrs, -1) {
		v := a[2] + a[3] + a[4]
		switch strings.ToLower(a[1]) {
		case "id":
			id = v
		case "class":
			class = v
		}
	}
	if c.id != "" && c.id != id {
		return false
	}
	have := strings.Fields(class)
	for _, want := range c.classes {
		found := false
		for _, h := range have {
			found = found || h == want
		}
		if !found {
			return false
		}
	}
	return true
}

// findElement returns the first element of page that matches sel, a
// descendant selector of tag/#id/.class compounds ("#hero .cta"). It is
// enough for the harness's own well-formed pages: it finds the literal
// bytes that an nginx sub_filter must match, and checks that the rule
// selectors exist before anything is measured.
func findElement(page, sel string) (element, error) {
	parts := strings.Fields(sel)
	if len(parts) == 0 {
		return element{}, fmt.Errorf("empty selector")
	}
	lo, hi := 0, len(page)
	var el element
	for i, p := range parts {
		c, err := parseCompound(p)
		if err != nil {
			return element{}, err
		}
		found := false
		for _, m := range tagRE.FindAllStringSubmatchIndex(page[lo:hi], -1) {
			tag, attrs := page[lo+m[2]:lo+m[3]], page[lo+m[4]:lo+m[5]]
			if !c.matches(tag, attrs) {
				continue
			}
			el = element{Open: page[lo+m[0] : lo+m[1]], start: lo + m[0]}
			end := lo + m[1]
			if !voidElements[strings.ToLower(tag)] && !strings.HasSuffix(el.Open, "/>") {
				closeAt, closeLen := matchingClose(page, end, tag)
				if closeAt < 0 {
					return element{}, fmt.Errorf("selector %q: <%s> at offset %d has no end tag", sel, tag, el.start)
				}
				el.Close = page[closeAt : closeAt+closeLen]
				el.Whole = page[el.start : closeAt+closeLen]
				if i < len(parts)-1 {
					lo, hi = end, closeAt
				}
			} else {
				el.Whole = el.Open
			}
			found = true
			break
		}
		if !found {
			return element{}, fmt.Errorf("selector %q matches nothing (no %q)", sel, p)
		}
	}
	return el, nil
}

// matchingClose finds the end tag that closes the element of name tag
// whose content starts at from, counting nested elements of the same name.
func matchingClose(page string, from int, tag string) (at, n int) {
	re := regexp.MustCompile(`(?i)<(/?)` + regexp.QuoteMeta(tag) + `(?:[\s/>])`)
	depth := 1
	for _, m := range re.FindAllStringSubmatchIndex(page[from:], -1) {
		if m[3] > m[2] {
			depth--
			if depth == 0 {
				start := from + m[0]
				end := strings.IndexByte(page[start:], '>')
				if end < 0 {
					return -1, 0
				}
				return start, end + 1
			}
		} else {
			depth++
		}
	}
	return -1, 0
}

// allElements returns every element of page matching a single compound
// selector such as "li.card", with its extent.
func allElements(page, sel string) []element {
	parts := strings.Fields(sel)
	if len(parts) == 0 {
		return nil
	}
	c, err := parseCompound(parts[len(parts)-1])
	if err != nil {
		return nil
	}
	var out []element
	for _, m := range tagRE.FindAllStringSubmatchIndex(page, -1) {
		tag, attrs := page[m[2]:m[3]], page[m[4]:m[5]]
		if !c.matches(tag, attrs) {
			continue
		}
		el := element{Open: page[m[0]:m[1]], start: m[0], Whole: page[m[0]:m[1]]}
		if at, n := matchingClose(page, m[1], tag); at >= 0 {
			el.Close, el.Whole = page[at:at+n], page[m[0]:at+n]
		}
		out = append(out, el)
	}
	return out
}

// keepEvery returns page with only the items whose index is offset
// modulo n: the page a visitor saw elsewhere, so that its seen-filter
// holds a third of this page's items rather than all of them.
func keepEvery(page, sel string, n, offset int) string {
	var b strings.Builder
	last := 0
	for i, el := range allElements(page, sel) {
		if i%n == offset || el.start < last {
			continue
		}
		b.WriteString(page[last:el.start])
		last = el.start + len(el.Whole)
	}
	b.WriteString(page[last:])
	return b.String()
}

// countElements counts the start tags in page matching a single compound
// selector such as "li.card".
func countElements(page, sel string) int {
	parts := strings.Fields(sel)
	if len(parts) == 0 {
		return 0
	}
	c, err := parseCompound(parts[len(parts)-1])
	if err != nil {
		return 0
	}
	n := 0
	for _, m := range tagRE.FindAllStringSubmatch(page, -1) {
		if c.matches(m[1], m[2]) {
			n++
		}
	}
	return n
}

// withAttr returns the start tag open with attribute name set to value,
// added before the closing ">" when absent.
func withAttr(open, name, value string) string {
	re := regexp.MustCompile(`(\s` + regexp.QuoteMeta(name) + `\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)`)
	if loc := re.FindStringSubmatchIndex(open); loc != nil {
		return open[:loc[4]] + `"` + value + `"` + open[loc[5]:]
	}
	end := strings.LastIndexByte(open, '>')
	if strings.HasSuffix(open, "/>") {
		end--
	}
	return open[:end] + ` ` + name + `="` + value + `"` + open[end:]
}

// withClass returns the start tag open with class added to its classes.
func withClass(open, class string) string {
	re := regexp.MustCompile(`\sclass\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))`)
	if m := re.FindStringSubmatch(open); m != nil {
		old := m[2] + m[3] + m[4]
		return withAttr(open, "class", strings.TrimSpace(old+" "+class))
	}
	return withAttr(open, "class", class)
}
