package check

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// visitorCookie is the proxy's visitor id cookie, and visitorIDLen the
// length of the ids it issues (16 random bytes, base64url).
const (
	visitorCookie = "bsk_vid"
	visitorIDLen  = 22
)

// tests checks the test cases: every attribute, rule, experiment and
// variant they name must exist, every value must be one its attribute can
// take, and every way of giving the same thing (a time, a visitor) is
// given once.
func (c *checker) tests() {
	ruleIndex := map[string]int{}
	var ruleNames []string
	for i, r := range c.file.Rules {
		ruleIndex[r.Name] = i
		ruleNames = append(ruleNames, r.Name)
	}
	rule := func(n *syntax.Text) (int, bool) {
		i, ok := ruleIndex[n.Value]
		if !ok {
			if c.file.Lost[n.Value] {
				return 0, false
			}
			e := c.errorf(n.Pos, "no rule is named %q", n.Value)
			if h := diag.DidYouMean(n.Value, ruleNames); h != "" {
				e.WithHint("%s", h)
			} else if len(ruleNames) > 0 && len(ruleNames) <= 12 {
				e.WithHint("the rules are %s", quoteList(ruleNames))
			}
			return 0, false
		}
		return i, true
	}
	names := map[string]int{} // the line of each name's first test
	for _, t := range c.file.Tests {
		if line, dup := names[t.Name]; dup && t.Name != "" {
			c.errorf(t.Pos, "a test named %q already exists at line %d", t.Name, line).WithHint("test names must be unique: bespoke test reports by name")
		} else {
			names[t.Name] = t.Pos.Line
		}
		out := &ir.Test{Name: t.Name, Pos: t.Pos, Values: map[string]string{}}
		var nowPos *diag.Pos
		for _, cv := range t.Context {
			if p := c.contextValue(out, cv); p != nil {
				nowPos = p
			}
		}
		if r := t.Request; r != nil {
			out.Request = &ir.Request{Method: r.Method, URL: r.URL, Headers: r.Headers, Cookies: r.Cookies}
			c.testRequestNames(r)
			c.testCookies(out, r)
			c.testCountryHeaders(r)
			if r.At != nil {
				if nowPos != nil {
					c.errorf(r.At.Pos, "the time is given twice: here and as `now` at line %d", nowPos.Line).WithHint("keep one of them")
				} else if at, ok := c.time(r.At.Value, r.At.Pos); ok {
					out.At = at
				}
			}
		}
		for _, s := range t.Seen {
			if strings.TrimSpace(s.Value) == "" {
				c.errorf(s.Pos, "an item id cannot be empty").WithHint("write the id of an item the visitor was shown: seen: [promo]")
				continue
			}
			out.Seen = append(out.Seen, s.Value)
		}
		for _, sh := range t.Shown {
			i, ok := rule(sh.Name)
			if !ok {
				continue
			}
			if c.file.Rules[i].AtMost == nil {
				c.errorf(sh.Name.Pos, "rule %q has no at_most, so how often it was shown changes nothing", sh.Name.Value).
					WithHint("shown: counts the rules with a frequency cap (at_most: 3 per 7d)")
				continue
			}
			if out.Shown == nil {
				out.Shown = map[int]int{}
			}
			out.Shown[i] = sh.N
		}
		out.Page = testPage(t.Page)
		resolve := func(list []*syntax.Text) ([]int, []diag.Pos) {
			var idx []int
			var pos []diag.Pos
			for _, n := range list {
				if i, ok := rule(n); ok {
					idx, pos = append(idx, i), append(pos, n.Pos)
				}
			}
			return idx, pos
		}
		// both reports a rule a test (or a view) expects to match and not
		// to match: it can never pass.
		both := func(what string, match, noMatch []*syntax.Text) {
			for _, n := range noMatch {
				if i := slices.IndexFunc(match, func(m *syntax.Text) bool { return m.Value == n.Value }); i >= 0 {
					c.errorf(n.Pos, "%s expects rule %q both to match (line %d) and not to match, so it can never pass", what, n.Value, match[i].Pos.Line).
						WithHint("keep %s in match: or in no_match:", n.Value)
				}
			}
		}
		out.Match, out.MatchPos = resolve(t.Match)
		out.NoMatch, out.NoMatchPos = resolve(t.NoMatch)
		both(fmt.Sprintf("test %q", t.Name), t.Match, t.NoMatch)
		c.expect(out, &t.Expect)
		if len(t.Match)+len(t.NoMatch) == 0 && !t.Expect.Written() && !t.Incomplete {
			c.errorf(t.Pos, "test %q expects nothing", t.Name).WithHint("add expect: { match: [rule], no_match: [rule] }, or what the page must show (expect: { page: ... })")
		}
		for i, tv := range t.Then {
			view := &ir.Test{Name: fmt.Sprintf("%s, view %d", t.Name, i+2), Pos: tv.Pos, Page: testPage(tv.Page)}
			if tv.URL != nil {
				view.URL = tv.URL.Value
			}
			view.Match, view.MatchPos = resolve(tv.Match)
			view.NoMatch, view.NoMatchPos = resolve(tv.NoMatch)
			both(fmt.Sprintf("view %d of test %q", i+2, t.Name), tv.Match, tv.NoMatch)
			c.expect(view, &tv.Expect)
			if len(tv.Match)+len(tv.NoMatch) == 0 && !tv.Expect.Written() && !tv.Incomplete {
				c.errorf(tv.Pos, "view %d of test %q expects nothing", i+2, t.Name).WithHint("add expect: { match: [rule], no_match: [rule] }, or what the page must show (expect: { page: ... })")
			}
			out.Then = append(out.Then, view)
		}
		if timed := nowPos != nil || t.Request != nil && t.Request.At != nil; !timed && !t.Incomplete {
			// The rules the test says match or not, and those that write
			// what it checks (a page's text may come from any rule: one
			// that writes elsewhere is left out, or warning of each would
			// be noise).
			rules := append(slices.Clone(out.Match), out.NoMatch...)
			for i := range c.prog.Rules {
				if c.writesChecked(i, out) {
					rules = append(rules, i)
				}
			}
			c.clockTest(t, out, rules)
		}
		c.prog.Tests = append(c.prog.Tests, out)
	}
}

// testPage is the page a test, or one of its views, gives; nil for none.
func testPage(p *syntax.TestPage) *ir.Page {
	if p == nil {
		return nil
	}
	out := &ir.Page{Pos: p.Pos}
	if p.File != nil {
		out.File = p.File.Value
	}
	if p.Body != nil {
		out.Body = p.Body.Value
	}
	if p.Type != nil {
		out.Type = p.Type.Value
	}
	return out
}

// forcedRollout puts the test's visitor in or out of the rollout of rule
// arg (context: { rollout(rule): in }), as variant(x) forces a variant:
// the bucket the rollout reads is set to the first (in) or the last
// (out), whatever the visitor's id.
func (c *checker) forcedRollout(out *ir.Test, cv syntax.ContextValue, rule string) {
	var r *syntax.Rule
	for _, x := range c.file.Rules {
		if x.Name == rule {
			r = x
		}
	}
	switch {
	case r == nil:
		e := c.errorf(cv.Attr.Pos, "no rule is named %q", rule)
		var names []string
		for _, x := range c.file.Rules {
			names = append(names, x.Name)
		}
		if h := diag.DidYouMean(rule, names); h != "" {
			e.WithHint("%s", h)
		} else if len(names) > 0 && len(names) <= 12 {
			e.WithHint("the rules are %s", quoteList(names))
		}
		return
	case r.Rollout == nil || r.Rollout.Percent < 0:
		c.errorf(cv.Attr.Pos, "rule %q has no rollout", rule).WithHint("rollout(rule) puts the test's visitor in or out of a rule's rollout: 20%%")
		return
	}
	v := strings.ToLower(strings.TrimSpace(cv.Value.Value))
	if v != "in" && v != "out" {
		c.errorf(cv.Value.Pos, "rollout(%s) is in or out, not %q", rule, cv.Value.Value).WithHint("write rollout(%s): in", rule)
		return
	}
	limit := math.Round(r.Rollout.Percent * plugin.Buckets / 100)
	if v == "in" && limit == 0 || v == "out" && limit >= plugin.Buckets {
		other := map[string]string{"in": "out", "out": "in"}[v]
		c.errorf(cv.Value.Pos, "rule %q rolls out to %g%%: no visitor is %s", rule, r.Rollout.Percent, v).
			WithHint("leave rollout(%s) out: every visitor is %s", rule, other)
		return
	}
	seed := r.Rollout.Seed
	if seed == "" {
		seed = r.Name
	}
	bucket := 0
	if v == "out" {
		bucket = plugin.Buckets - 1
	}
	if out.Buckets == nil {
		out.Buckets = map[string]int{}
	}
	out.Buckets[c.prog.Slots[c.bucketSlot(r.Rollout.By, seed)].Key()] = bucket
}

// clockAttrs are the attributes that read the time of the request.
var clockAttrs = []string{"now", "visitor.hour", "visitor.weekday"}

// clockTest warns of a test that gives no time, when one of rules (by
// index), which it expects to match or not, reads the clock, and the test does not set what it reads: it
// passes or fails by the day and hour it runs (a weekend rule's test
// fails on weekdays).
func (c *checker) clockTest(t *syntax.Test, out *ir.Test, rules []int) {
	for _, i := range rules {
		slot := c.clockSlot(i)
		if slot < 0 {
			continue
		}
		if _, set := out.Values[c.prog.Slots[slot].Key()]; set {
			continue
		}
		reads := "reads " + c.prog.Slots[slot].Attr
		for _, r := range c.file.Rules {
			if r.Name == c.prog.Rules[i].Name && (r.From != nil || r.Until != nil) && c.prog.Slots[slot].Attr == "now" {
				// What the editor wrote, not what it compiles to.
				reads = "applies between times (from:, until:)"
			}
		}
		c.warnf(t.Pos, "test %q gives no time, and rule %q %s: it passes or fails by when it runs", t.Name, c.prog.Rules[i].Name, reads).
			WithHint("give the test a time: request: { at: \"2026-01-10T10:00:00+01:00\" }, or set %s in its context", c.prog.Slots[slot].Attr)
		return
	}
}

// writesChecked reports whether rule ri writes what test out (or one
// of its views) checks: an element a page check names (or one inside
// it), a header, a cookie, a redirect or a JSON value. Elements are
// compared by their selectors as written, which is what an editor
// who makes one rule give way to another writes.
func (c *checker) writesChecked(ri int, out *ir.Test) bool {
	for _, a := range c.prog.Rules[ri].Actions {
		for _, t := range append([]*ir.Test{out}, out.Then...) {
			e := &t.Expect
			switch {
			case a.Select >= 0 && a.Select < len(c.prog.Selectors):
				for _, pc := range e.Page {
					if sameOrInside(pc.Selector, c.prog.Selectors[a.Select], replacesContent(a.Op)) && changesCheck(a.Op, pc) {
						return true
					}
				}
			case a.Op == plugin.OpSetHeader:
				list := e.Headers
				if a.On == "request" {
					list = e.RequestHeaders
				}
				if slices.ContainsFunc(list, func(x ir.Expected) bool { return strings.EqualFold(x.Name, a.Name) }) {
					return true
				}
			case a.Op == plugin.OpSetCookie:
				if slices.ContainsFunc(e.Cookies, func(x ir.Expected) bool { return x.Name == a.Name }) {
					return true
				}
			case a.Op == plugin.OpRedirect:
				if e.Redirect != nil {
					return true
				}
			case strings.HasPrefix(a.Op, "json_"):
				if len(e.JSON) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// sameOrInside reports whether selector check names the elements of
// selector action, or, with inside, elements inside them, as written
// (spaces aside).
func sameOrInside(check, action string, inside bool) bool {
	check, action = strings.Join(strings.Fields(check), " "), strings.Join(strings.Fields(action), " ")
	rest, ok := strings.CutPrefix(check, action)
	return ok && (rest == "" || inside && rest[0] == ' ')
}

// changesCheck reports whether an action of op on the elements page
// check pc reads can change what it finds: a banner inserted before
// them leaves them as they were, and a class added to them changes no
// text.
func changesCheck(op string, pc ir.PageCheck) bool {
	switch op {
	case plugin.OpInsertBefore, plugin.OpInsertAfter:
		return false
	case plugin.OpSetAttr, plugin.OpRemoveAttr:
		return len(pc.Attrs) > 0
	case plugin.OpAddClass, plugin.OpRemoveClass:
		return len(pc.Attrs) > 0 || len(pc.Classes) > 0
	}
	return true
}

// replacesContent reports whether an action of op changes what is
// inside its elements other than by adding to it: what an element
// inside them is, or whether it is there. (A banner prepended to a
// section leaves its heading's text as it was.)
func replacesContent(op string) bool {
	switch op {
	case plugin.OpSetInner, plugin.OpReplace, plugin.OpRemove, plugin.OpRemoveKeepContent, plugin.OpLimit, plugin.OpHideSeen, plugin.OpReorder:
		return true
	}
	return false
}

// clockSlot returns the first slot of a clock attribute rule ri reads
// (through its segments and experiments too), or -1.
func (c *checker) clockSlot(ri int) int {
	slots, _ := c.prog.Reads(ri)
	for _, slot := range slots {
		if slices.Contains(clockAttrs, c.prog.Slots[slot].Attr) {
			return slot
		}
	}
	return -1
}

// contextValue reads one attribute of a test's context into out. It
// returns the position of a `now`, which a request's `at` may not repeat.
func (c *checker) contextValue(out *ir.Test, cv syntax.ContextValue) *diag.Pos {
	name, arg := splitTestAttr(cv.Attr.Value)
	v := cv.Value.Value
	switch name {
	case "variant":
		c.forcedVariant(out, cv, arg)
		return nil
	case "now":
		if t, ok := c.time(v, cv.Value.Pos); ok {
			out.At = t
		}
		return &cv.Attr.Pos
	case "visitor.id":
		if strings.TrimSpace(v) == "" {
			c.errorf(cv.Value.Pos, "a visitor id cannot be empty").WithHint("name the visitor: visitor.id: alice")
		}
		out.Visitor = v
		return nil
	case "visitor.new":
		b, ok := c.testBool(name, cv.Value)
		if ok {
			out.New = &b
		}
		return nil
	case "cap":
		c.errorf(cv.Attr.Pos, "frequency caps are set with shown:, not in the context").
			WithHint("write shown: { rule-name: 2 }: the rule already applied twice in its window")
		return nil
	case "bucket":
		c.errorf(cv.Attr.Pos, "buckets come from the visitor id: name the visitor, force a variant, or put the visitor in or out of a rollout").
			WithHint(`write context: { visitor.id: alice }, context: { variant(experiment): name } or context: { rollout(rule): in }`)
		return nil
	case "rollout":
		c.forcedRollout(out, cv, arg)
		return nil
	case "geo.distance":
		c.errorf(cv.Attr.Pos, "the distance comes from the visitor's position").WithHint("give geo.lat and geo.lon")
		return nil
	case "json", "semver", "base64":
		c.errorf(cv.Attr.Pos, "%s(...) is computed from a cookie, header or query parameter: give that instead", name).
			WithHint(`for example context: { cookie(profile): '{"tier": "gold"}' }`)
		return nil
	}
	a, ok := plugin.LookupAttr(name)
	if !ok || a.Internal {
		e := c.errorf(cv.Attr.Pos, "unknown attribute %q", cv.Attr.Value)
		cands := append(plugin.AttrNames(), "variant", "now")
		if h := diag.DidYouMean(name, cands); h != "" {
			e.WithHint("%s", h)
		} else if name == "seen" || name == "shown" {
			e.WithHint("%s: is a field of the test, beside context:", name)
		} else if leaf := sameLeaf(name); leaf != "" && !strings.Contains(name, ".") {
			e.WithHint("did you mean %q?", leaf)
		} else {
			e.WithHint("a test's context names attributes (geo.country, cookie(plan)), variant(experiment) or now")
		}
		return nil
	}
	if (a.Arg != "") != (arg != "") {
		if a.Arg != "" {
			c.errorf(cv.Attr.Pos, "%s needs a %s: write %s(name)", a.Name, a.Arg, a.Name)
		} else {
			c.errorf(cv.Attr.Pos, "%s takes no argument", a.Name).WithHint("write %s", a.Name)
		}
		return nil
	}
	if a.Name == "header" {
		arg = http.CanonicalHeaderKey(arg)
	}
	slot := plugin.Slot{Attr: a.Name, Arg: arg}
	switch a.Type {
	case plugin.Bool:
		b, ok := c.testBool(a.Name, cv.Value)
		if !ok {
			return nil
		}
		v = strconv.FormatBool(b)
	case plugin.Number:
		if !c.contextNumber(a, v, cv.Value.Pos) {
			return nil
		}
	case plugin.List:
		var items []string
		for _, it := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			f, ok := c.literal(a, it, cv.Value.Pos)
			if !ok {
				return nil
			}
			items = append(items, f)
		}
		v = strings.Join(items, ",")
	default:
		f, ok := c.literal(a, v, cv.Value.Pos)
		if !ok {
			return nil
		}
		v = f
	}
	if !c.reads(slot) && len(c.file.Lost) == 0 {
		// (With a segment or a rule that could not be read, what reads
		// the value may be what was lost.)
		c.warnf(cv.Attr.Pos, "no rule reads %s, so this value changes nothing", slot).WithCode("unused-value")
	}
	out.Values[slot.Key()] = v
	return nil
}

// contextNumber checks the number v a test's context gives attribute a:
// a value out of a's range is one no visitor has, refused as such (read
// as the condition a == v, it was said to never hold, as if the test
// were a rule).
func (c *checker) contextNumber(a plugin.Attr, v string, pos diag.Pos) bool {
	r, ranged := numberRanges[a.Name]
	write := ""
	if ranged {
		kind := "a number"
		if r.whole {
			kind = "a whole number"
		}
		write = fmt.Sprintf("write %s from %g to %g", kind, r.min, r.max)
	}
	n, ok := plugin.ParseNumber(v)
	switch {
	case !ok:
		e := c.errorf(pos, "%s is a number; found %q", a.Name, v)
		if write != "" {
			e.WithHint("%s", write)
		}
		return false
	case !ranged:
		return true
	case n < r.min || n > r.max:
		c.errorf(pos, "%s: %s is out of range: %s is %s", a.Name, v, a.Name, r.what).WithHint("%s", write)
		return false
	case r.whole && n != math.Trunc(n):
		c.errorf(pos, "%s: %s is not a whole number: %s is %s", a.Name, v, a.Name, r.what).WithHint("%s", write)
		return false
	}
	return true
}

// splitTestAttr reads an attribute as a test context names it:
// geo.country, cookie(plan), cookie("plan"), cookie.plan, variant(x).
func splitTestAttr(s string) (name, arg string) {
	name = strings.TrimSpace(s)
	if i := strings.IndexByte(name, '('); i > 0 && strings.HasSuffix(name, ")") {
		return strings.TrimSpace(name[:i]), strings.Trim(name[i+1:len(name)-1], `"' `)
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if a, ok := plugin.LookupAttr(name[:i]); ok && a.Arg != "" {
			return name[:i], name[i+1:]
		}
	}
	return name, ""
}

// reads reports whether some slot of the program is slot, or is computed
// from it: a value for it can change a decision.
func (c *checker) reads(slot plugin.Slot) bool {
	key := slot.Key()
	var from func(s *plugin.Slot) bool
	from = func(s *plugin.Slot) bool {
		if s == nil {
			return false
		}
		if s.Attr == slot.Attr && s.Arg == slot.Arg && s.From == nil {
			return true
		}
		return from(s.From)
	}
	for i := range c.prog.Slots {
		s := &c.prog.Slots[i]
		if s.Key() == key || from(s.From) {
			return true
		}
		// The time zone, and so the hour and the day, follow the country.
		if slot.Attr == "geo.country" || slot.Attr == "geo.timezone" {
			if s.Attr == "visitor.hour" || s.Attr == "visitor.weekday" {
				return true
			}
		}
		if slot.Attr == "visitor.id" && s.Attr == "bucket" && s.From != nil && s.From.Attr == "visitor.id" {
			return true
		}
		if (slot.Attr == "geo.lat" || slot.Attr == "geo.lon") && s.Attr == "geo.distance" {
			return true
		}
	}
	return false
}

func (c *checker) testBool(attr string, v *syntax.Text) (bool, bool) {
	switch strings.ToLower(v.Value) {
	case "true", "yes":
		return true, true
	case "false", "no":
		return false, true
	}
	c.errorf(v.Pos, "%s is yes/no: write true or false, found %q", attr, v.Value)
	return false, false
}

// time reads an RFC 3339 time, or a number of seconds since 1970.
func (c *checker) time(v string, pos diag.Pos) (time.Time, bool) {
	v = strings.TrimSpace(v)
	t, err := parseTime(v)
	if err == nil {
		return t, true
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0), true
	}
	c.errorf(pos, "%q %s", v, err).WithHint("%s", timeHint(t, err, "2026-12-24T18:00:00+01:00"))
	return time.Time{}, false
}

// forcedVariant reads `variant(experiment): name` of a test's context.
func (c *checker) forcedVariant(out *ir.Test, cv syntax.ContextValue, exp string) {
	x, ok := c.experimentByName(exp, cv.Attr.Pos)
	if !ok {
		return
	}
	vi, ok := c.variantByName(x, cv.Value.Value, cv.Value.Pos)
	if !ok {
		return
	}
	if out.Variants == nil {
		out.Variants, out.VariantsPos = map[int]int{}, map[int]diag.Pos{}
	}
	out.Variants[x], out.VariantsPos[x] = vi, cv.Attr.Pos
}

func (c *checker) experimentByName(name string, pos diag.Pos) (int, bool) {
	if x, ok := c.expIndex[name]; ok && name != "" {
		return x, true
	}
	if c.file.Lost[name] {
		return 0, false
	}
	var names []string
	for _, e := range c.file.Experiments {
		names = append(names, e.Name)
	}
	e := c.errorf(pos, "no experiment is named %q", name)
	if h := diag.DidYouMean(name, names); h != "" {
		e.WithHint("%s", h)
	} else if len(names) > 0 {
		e.WithHint("the experiments are %s", quoteList(names))
	} else {
		e.WithHint("the file defines no experiment (experiments: at its top)")
	}
	return 0, false
}

func (c *checker) variantByName(x int, name string, pos diag.Pos) (int, bool) {
	exp := c.file.Experiments[x]
	var names []string
	for _, v := range exp.Variants {
		names = append(names, v.Name)
	}
	i := slices.Index(names, name)
	if i < 0 && (exp.Incomplete || len(names) == 0) {
		// Its variants may be what could not be read, or it has none,
		// which is reported where it is defined.
		return 0, false
	}
	if i < 0 {
		e := c.errorf(pos, "experiment %q has no variant %q; its variants are %s", exp.Name, name, quoteList(names))
		if h := diag.DidYouMean(name, names); h != "" {
			e.WithHint("%s", h)
		}
		return 0, false
	}
	return i, true
}

// testCookies checks the cookies of a test's request: bespoke's own are
// signed or checked by the proxy, so a test cannot make them up, except a
// well-formed visitor id, which names the visitor as the proxy would.
func (c *checker) testCookies(out *ir.Test, r *syntax.TestRequest) {
	for i, ck := range r.Cookies {
		name, v := ck[0], ck[1]
		pos := r.Pos
		if i < len(r.CookiePos) {
			pos = r.CookiePos[i]
		}
		switch {
		case name == visitorCookie:
			if !validVisitorID(v) {
				c.errorf(pos, "%q is not a visitor id the proxy issues (%d letters, digits, - or _), so it would treat this visitor as new, with a random id", v, visitorIDLen).
					WithHint("name the visitor with context: { visitor.id: %s }", v)
				continue
			}
			if out.Visitor != "" && out.Visitor != v {
				c.errorf(pos, "the visitor is named twice: %s here and %s in the context", v, out.Visitor).WithHint("keep one of them")
			}
		case strings.HasPrefix(name, "bsk_"):
			c.errorf(pos, "the %s cookie is signed by the proxy and cannot be written in a test", name).
				WithHint("give what it holds instead: seen: [item, ...] for what the visitor was shown, shown: { rule: n } for frequency caps")
		}
	}
}

// testRequestNames refuses a header or cookie name of a test's request
// that no request can carry ("X Tier"): the test would describe a
// visitor the proxy never sees, and its header or cookie no rule reads.
func (c *checker) testRequestNames(r *syntax.TestRequest) {
	for i, h := range r.Headers {
		if !escape.ValidToken(h[0]) && i < len(r.HeaderNamePos) {
			c.errorf(r.HeaderNamePos[i], "%q is not a header name", h[0]).WithHint("header names hold letters, digits and -")
		}
	}
	// A visitor's cookie may have any name a browser sends (the request
	// carries it as written), where one a rule sets is a token.
	for i, ck := range r.Cookies {
		if msg, hint := validArg("cookie", ck[0]); msg != "" && i < len(r.CookieNamePos) {
			c.errorf(r.CookieNamePos[i], "%s", msg).WithHint("%s", hint)
		}
	}
}

func validVisitorID(id string) bool {
	if len(id) != visitorIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// expect checks what a test expects the visitor to get.
func (c *checker) expect(out *ir.Test, e *syntax.Expect) {
	x := &out.Expect
	for _, nv := range e.Variants {
		xi, ok := c.experimentByName(nv.Name.Value, nv.Name.Pos)
		if !ok {
			continue
		}
		vi := -1
		if nv.Value != nil {
			if vi, ok = c.variantByName(xi, nv.Value.Value, nv.Value.Pos); !ok {
				continue
			}
		}
		if x.Variants == nil {
			x.Variants, x.VariantPos = map[int]int{}, map[int]diag.Pos{}
		}
		x.Variants[xi], x.VariantPos[xi] = vi, nv.Name.Pos
	}
	for _, pc := range e.Page {
		sel := strings.TrimSpace(pc.Select.Value)
		if n := len(c.errs); !c.validSelector(pc.Select) {
			if len(c.errs) > n && c.errs[n].Hint == "" && strings.Contains(c.errs[n].Msg, "streaming") {
				// The page a test checks is whole, but its checks take
				// the selectors rules take.
				c.errs[n].WithHint("a test's page: checks take the selectors rules take; name the element another way: by an id, a class or :nth-child(2)")
			}
			continue
		}
		chk := ir.PageCheck{Selector: sel, Count: pc.Count, HasCount: pc.HasCount, Pos: pc.Pos}
		if pc.Text != nil {
			chk.Text, chk.TextPos = &pc.Text.Value, pc.Text.Pos
		}
		if pc.Contains != nil {
			chk.Contains, chk.ContainsPos = &pc.Contains.Value, pc.Contains.Pos
		}
		for _, a := range pc.Attrs {
			if !validAttrName(a.Name.Value) {
				c.errorf(a.Name.Pos, "%q is not an attribute name", a.Name.Value).
					WithHint("attribute names hold letters, digits, - and _: attr: { %s: x }", strings.Join(strings.Fields(a.Name.Value), "-"))
				continue
			}
			chk.Attrs = append(chk.Attrs, expected(strings.ToLower(a.Name.Value), a))
		}
		for _, cl := range pc.Classes {
			switch {
			case strings.HasPrefix(cl.Value, "."):
				// As add_class's: no class list holds ".home".
				c.errorf(cl.Pos, "the class %q is written with a dot: a dot is how a selector names a class, not part of the class", cl.Value).
					WithHint("write the class without its dot: class: %s", strings.TrimLeft(cl.Value, "."))
				continue
			case len(strings.Fields(cl.Value)) > 1:
				c.errorf(cl.Pos, "%q is not one class: an element's class list holds classes without spaces", cl.Value).
					WithHint("give each class of the list: class: [%s]", strings.Join(strings.Fields(cl.Value), ", "))
				continue
			}
			chk.Classes, chk.ClassPos = append(chk.Classes, cl.Value), append(chk.ClassPos, cl.Pos)
		}
		x.Page = append(x.Page, chk)
	}
	for _, h := range e.Headers {
		if c.expectHeaderName(h.Name) {
			x.Headers = append(x.Headers, expected(http.CanonicalHeaderKey(h.Name.Value), h))
		}
	}
	for _, h := range e.RequestHeaders {
		if c.expectHeaderName(h.Name) {
			x.RequestHeaders = append(x.RequestHeaders, expected(http.CanonicalHeaderKey(h.Name.Value), h))
		}
	}
	for _, ck := range e.Cookies {
		if !escape.ValidToken(ck.Name.Value) {
			c.problem(ck.Name.Pos, escape.CheckCookieName(ck.Name.Value))
			continue
		}
		x.Cookies = append(x.Cookies, expected(ck.Name.Value, ck))
	}
	for _, j := range e.JSON {
		if strings.TrimSpace(j.Name.Value) == "" {
			c.errorf(j.Name.Pos, "the JSON path is empty").WithHint("write the path of the value, as gjson reads it: json: { items.0.id: sku-1 }")
			continue
		}
		x.JSON = append(x.JSON, expected(j.Name.Value, j))
	}
	if r := e.Redirect; r != nil {
		rd := &ir.Redirect{Status: r.Status, None: r.None, Pos: r.Pos}
		if r.To != nil {
			rd.To = r.To.Value
		}
		switch r.Status {
		case 0, 301, 302, 303, 307, 308:
		default:
			c.errorf(r.Pos, "%d is not a redirect status", r.Status).WithHint("rules redirect with 301, 302, 303, 307 or 308")
		}
		x.Redirect = rd
	}
}

func expected(name string, nv syntax.NameValue) ir.Expected {
	e := ir.Expected{Name: name, Pos: nv.Name.Pos}
	if nv.Value != nil {
		v := nv.Value.Value
		e.Value = &v
	}
	return e
}

func (c *checker) expectHeaderName(t *syntax.Text) bool {
	if !escape.ValidToken(t.Value) {
		c.errorf(t.Pos, "%q is not a header name", t.Value).WithHint("header names hold letters, digits and -")
		return false
	}
	return true
}

func validAttrName(n string) bool {
	return n != "" && !strings.ContainsAny(n, " \t\n\"'<>/=")
}

// countryHeaders are the CDNs' headers bespoke reads a visitor's country
// from, as net/http writes their names.
var countryHeaders = map[string]bool{
	"Cf-Ipcountry": true, "Cloudfront-Viewer-Country": true, "X-Vercel-Ip-Country": true, "Client-Geo-Country": true,
}

// testCountryHeaders warns of a test request whose CDN country header is
// not a country code, which the test's author rarely means: the host
// ignores a value that is not two letters (CF-IPCountry: FRA), and the
// test's visitor has no country; it keeps two letters (UK), which no
// rule can test for. Cloudflare's XX and ZZ (unknown) and T1 (Tor) are
// what CDNs send.
func (c *checker) testCountryHeaders(r *syntax.TestRequest) {
	for i, h := range r.Headers {
		if !countryHeaders[http.CanonicalHeaderKey(h[0])] {
			continue
		}
		code := strings.ToUpper(strings.TrimSpace(h[1]))
		if _, ok := countryNames[code]; ok || code == "XX" || code == "ZZ" || code == "T1" {
			continue
		}
		pos := r.Pos
		if i < len(r.HeaderPos) {
			pos = r.HeaderPos[i]
		}
		what := "bespoke ignores it, and this test's visitor has no country"
		if len(code) == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z' {
			what = fmt.Sprintf("the test's visitor comes from %q, which no rule can test for", code)
		}
		e := c.warnf(pos, "%s: %q is not a country code: %s", h[0], h[1], what)
		if meant := meantCountry(code); meant != "" {
			e.WithHint("did you mean %q (%s)?", meant, countryNames[meant])
		} else {
			e.WithHint("country codes are two letters: FR, DE, GB, US, ...")
		}
	}
}
