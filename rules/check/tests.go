package check

import (
	"net/http"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
	"github.com/bespoke-edge/bespoke/rules/ir"
	"github.com/bespoke-edge/bespoke/rules/syntax"
)

// tests checks the test cases: attribute names in contexts and rule names in
// expectations must exist.
func (c *checker) tests() {
	ruleIndex := map[string]int{}
	var ruleNames []string
	for i, r := range c.file.Rules {
		ruleIndex[r.Name] = i
		ruleNames = append(ruleNames, r.Name)
	}
	names := map[string]bool{}
	for _, t := range c.file.Tests {
		if names[t.Name] {
			c.errorf(t.Pos, "a test named %q already exists", t.Name)
		}
		names[t.Name] = true
		out := &ir.Test{Name: t.Name, Pos: t.Pos, Values: map[int]string{}}
		for _, cv := range t.Context {
			s, ok := c.testAttr(cv.Attr)
			if !ok {
				continue
			}
			a, _ := plugin.LookupAttr(s.Attr)
			v := cv.Value.Value
			if a.Values != nil {
				folded := a.Fold.Apply(v)
				if !slices.Contains(a.Values, folded) {
					c.errorf(cv.Value.Pos, "%q is not a value of %s, which is one of %s", v, a.Name, quoteList(a.Values)).WithHint("%s", diag.DidYouMean(folded, a.Values))
					continue
				}
			}
			if a.Type == plugin.Bool && v != "true" && v != "false" {
				c.errorf(cv.Value.Pos, "%s is yes/no: write true or false", a.Name)
				continue
			}
			if i, read := c.slots[s.Key()]; read {
				out.Values[i] = a.Fold.Apply(v)
			}
		}
		if r := t.Request; r != nil {
			out.Request = &ir.Request{Method: r.Method, URL: r.URL, Headers: r.Headers, Cookies: r.Cookies}
		}
		resolve := func(list []*syntax.Text) []int {
			var idx []int
			for _, n := range list {
				i, ok := ruleIndex[n.Value]
				if !ok {
					e := c.errorf(n.Pos, "no rule is named %q", n.Value)
					if h := diag.DidYouMean(n.Value, ruleNames); h != "" {
						e.WithHint("%s", h)
					}
					continue
				}
				idx = append(idx, i)
			}
			return idx
		}
		out.Match = resolve(t.Match)
		out.NoMatch = resolve(t.NoMatch)
		if len(t.Match)+len(t.NoMatch) == 0 {
			c.errorf(t.Pos, "test %q expects nothing", t.Name).WithHint("add expect: { match: [rule], no_match: [rule] }")
		}
		c.prog.Tests = append(c.prog.Tests, out)
	}
}

// testAttr reads an attribute as a test context names it: geo.country,
// cookie(plan), cookie("plan") or cookie.plan.
func (c *checker) testAttr(t *syntax.Text) (plugin.Slot, bool) {
	name, arg := t.Value, ""
	if i := strings.IndexByte(name, '('); i > 0 && strings.HasSuffix(name, ")") {
		name, arg = name[:i], strings.Trim(name[i+1:len(name)-1], `"' `)
	} else if i := strings.IndexByte(name, '.'); i > 0 {
		if a, ok := plugin.LookupAttr(name[:i]); ok && a.Arg != "" {
			name, arg = name[:i], name[i+1:]
		}
	}
	a, ok := plugin.LookupAttr(name)
	if !ok {
		e := c.errorf(t.Pos, "unknown attribute %q", t.Value)
		if h := diag.DidYouMean(name, plugin.AttrNames()); h != "" {
			e.WithHint("%s", h)
		}
		return plugin.Slot{}, false
	}
	if (a.Arg != "") != (arg != "") {
		c.errorf(t.Pos, "%s needs a %s: write %s(name)", a.Name, a.Arg, a.Name)
		return plugin.Slot{}, false
	}
	if a.Name == "header" {
		arg = http.CanonicalHeaderKey(arg)
	}
	return plugin.Slot{Attr: a.Name, Arg: arg}, true
}
