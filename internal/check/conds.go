package check

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// cond checks a condition.
func (c *checker) cond(e syntax.Expr) ir.Node {
	switch e := e.(type) {
	case *syntax.Logical:
		// `day == "sat" or "sun"`: the hint of a bare value names the
		// comparison beside it, with every value of the chain.
		outer := c.valuesHint == nil
		if outer {
			c.valuesHint = valuesHint(e)
		}
		x, y := c.cond(e.X), c.cond(e.Y)
		if outer {
			c.valuesHint = nil
		}
		if e.Op == "and" {
			return &ir.And{Pos: e.OpPos, X: flatten[*ir.And](x, y, func(n *ir.And) []ir.Node { return n.X })}
		}
		return &ir.Or{Pos: e.OpPos, X: flatten[*ir.Or](x, y, func(n *ir.Or) []ir.Node { return n.X })}
	case *syntax.Not:
		return &ir.Not{Pos: e.OpPos, X: c.cond(e.X)}
	case *syntax.BoolLit:
		return &ir.Const{Pos: e.ValuePos, Value: e.Value}
	case *syntax.Ident:
		if i, ok := c.segIndex[e.Name]; ok {
			c.segment(i, e.NamePos)
			if c.segVariant[i] {
				c.usesVariant(e.NamePos)
			}
			return &ir.SegmentRef{Pos: e.NamePos, Index: i}
		}
		return c.truthy(e)
	case *syntax.Call:
		if e.Fun.Name == "geo.within" {
			return c.within(e)
		}
		if e.Fun.Name == "seen" {
			return c.seen(e)
		}
		if e.Fun.Name == "variant" {
			c.errorf(e.Fun.NamePos, "variant(...) names a variant; compare it").WithHint("write %s", usage("variant"))
			return bad(e)
		}
		return c.truthy(e)
	case *syntax.Exists:
		if v, ok := e.X.(*syntax.Call); ok && v.Fun.Name == "variant" {
			// Enrolled in the experiment, whatever the variant.
			x, ok := c.experimentRef(v)
			if !ok {
				return bad(e)
			}
			all := make([]int, len(c.file.Experiments[x].Variants))
			for i := range all {
				all[i] = i
			}
			return &ir.VariantIs{Pos: e.OpPos, Exp: x, Variants: all}
		}
		_, slot, ok := c.attr(e.X)
		if !ok {
			return bad(e)
		}
		return &ir.Exists{Pos: e.OpPos, Slot: slot}
	case *syntax.Compare:
		return c.compare(e)
	}
	if h := c.valuesHint; h != nil && *h != "" && isLiteral(e) {
		c.errorf(e.Pos(), "%s is a value, not a condition", e).WithHint("for one of several values, write %s", *h)
		return bad(e)
	}
	c.errorf(e.Pos(), "%s is a value, not a condition", e).WithHint("compare it with an attribute, for example %s", valueTest(e))
	return bad(e)
}

// isLiteral reports whether e is a string or number written as it is.
func isLiteral(e syntax.Expr) bool {
	switch e.(type) {
	case *syntax.StringLit, *syntax.NumberLit:
		return true
	}
	return false
}

// valuesHint returns, for a chain of or/and whose operands are one
// comparison of an attribute with a value (== or in) and bare values
// (`day == "sat" or "sun"`), the condition meant: day in ["sat", "sun"];
// "" for another chain. Never nil.
func valuesHint(e *syntax.Logical) *string {
	var ops []syntax.Expr
	var walk func(x syntax.Expr)
	walk = func(x syntax.Expr) {
		if l, ok := x.(*syntax.Logical); ok && l.Op == e.Op {
			walk(l.X)
			walk(l.Y)
			return
		}
		ops = append(ops, x)
	}
	walk(e)
	hint := ""
	var cmp *syntax.Compare
	var vals []string
	for _, x := range ops {
		switch x := x.(type) {
		case *syntax.Compare:
			if cmp != nil || x.Op != "==" && x.Op != "in" {
				return &hint
			}
			cmp = x
			if l, ok := x.Y.(*syntax.ListLit); ok && x.Op == "in" {
				for _, v := range l.Elems {
					vals = append(vals, v.String())
				}
			} else {
				vals = append(vals, x.Y.String())
			}
		default:
			if !isLiteral(x) {
				return &hint
			}
			vals = append(vals, x.String())
		}
	}
	if cmp != nil {
		hint = fmt.Sprintf("%s in [%s]", cmp.X, strings.Join(vals, ", "))
	}
	return &hint
}

// valueTest returns a condition that compares the value e with an
// attribute that may hold it, for a hint: geo.country == "FR" for a
// country code, path == "/sale" for a path, a cookie otherwise (a
// cookie may hold any text or number).
func valueTest(e syntax.Expr) string {
	switch e := e.(type) {
	case *syntax.StringLit:
		if _, ok := countryNames[e.Value]; ok {
			return "geo.country == " + e.String()
		}
		if strings.HasPrefix(e.Value, "/") && !strings.Contains(e.Value, "?") {
			return "path == " + e.String()
		}
	case *syntax.ListLit:
		return `cookie("name") in ` + e.String()
	}
	return `cookie("name") == ` + e.String()
}

// usesVariant notes a dependency on an experiment's variant, which an
// experiment's own condition may not have.
func (c *checker) usesVariant(pos diag.Pos) {
	if c.curSegment >= 0 {
		c.segVariant[c.curSegment] = true
	}
	if c.inExperiment {
		c.errorf(pos, "an experiment's `when` cannot depend on variants").WithHint("experiments are decided before rules; target the experiment with attributes")
	}
}

// flatten joins nested and/or of the same kind into one list, so
// `a and b and c` is one node with three operands. The list of x, the
// left operand's node, is extended in place: cond builds a new node for
// every operand, which nothing else holds, and a chain of n terms (read
// left-deep) is then joined in O(n), not by n copies of a growing list.
func flatten[T ir.Node](x, y ir.Node, ops func(T) []ir.Node) []ir.Node {
	var out []ir.Node
	if t, ok := x.(T); ok {
		out = ops(t)
	} else {
		out = []ir.Node{x}
	}
	if t, ok := y.(T); ok {
		return append(out, ops(t)...)
	}
	return append(out, y)
}

func bad(e syntax.Expr) ir.Node { return &ir.Const{Pos: e.Pos()} }

func (c *checker) truthy(e syntax.Expr) ir.Node {
	a, slot, ok := c.attr(e)
	if !ok {
		return bad(e)
	}
	if a.Type != plugin.Bool {
		c.errorf(e.Pos(), "%s is %s, not a condition", e, a.Type).
			WithHint("compare it (%s == \"...\") or test that it is there (%s exists)", e, e)
		return bad(e)
	}
	return &ir.Truthy{Pos: e.Pos(), Slot: slot}
}

// within is geo.within(lat, lon, km): the visitor is at most km kilometres
// from a point. The host computes the distance; the module compares it.
func (c *checker) within(e *syntax.Call) ir.Node {
	if len(e.Args) != 3 {
		c.errorf(e.Fun.NamePos, "geo.within takes a latitude, a longitude and a distance in kilometres; found %d arguments", len(e.Args)).WithHint("write %s", usage("geo.within"))
		return bad(e)
	}
	var n [3]float64
	for i, a := range e.Args {
		lit, ok := a.(*syntax.NumberLit)
		if !ok {
			c.errorf(a.Pos(), "geo.within needs numbers, found %s", a).WithHint("write %s", usage("geo.within"))
			return bad(e)
		}
		n[i] = lit.Value
	}
	switch {
	case n[0] < -90 || n[0] > 90:
		c.errorf(e.Args[0].Pos(), "latitude %g is not between -90 and 90", n[0])
		return bad(e)
	case n[1] < -180 || n[1] > 180:
		c.errorf(e.Args[1].Pos(), "longitude %g is not between -180 and 180", n[1])
		return bad(e)
	case n[2] <= 0:
		c.errorf(e.Args[2].Pos(), "the distance must be more than 0 kilometres")
		return bad(e)
	}
	point := strconv.FormatFloat(n[0], 'f', -1, 64) + "," + strconv.FormatFloat(n[1], 'f', -1, 64)
	slot := c.slot(plugin.Slot{Attr: "geo.distance", Arg: point})
	return &ir.NumCmp{Pos: e.Fun.NamePos, Slot: slot, Op: ir.LE, Value: n[2]}
}

// seen is seen("item"): the visitor's seen-filter holds the item.
func (c *checker) seen(e *syntax.Call) ir.Node {
	if len(e.Args) != 1 {
		c.errorf(e.Fun.NamePos, "seen takes one item id").WithHint(`write seen("promo-summer")`)
		return bad(e)
	}
	lit, ok := e.Args[0].(*syntax.StringLit)
	if !ok || lit.Value == "" {
		c.errorf(e.Args[0].Pos(), "the item id must be a quoted, non-empty text").WithHint(`write seen("promo-summer")`)
		return bad(e)
	}
	return &ir.Seen{Pos: e.Fun.NamePos, Item: c.symbol(lit.Value)}
}

// experimentRef resolves variant("name") to an experiment index.
func (c *checker) experimentRef(v *syntax.Call) (int, bool) {
	if len(v.Args) != 1 {
		c.errorf(v.Fun.NamePos, "variant takes the experiment's name").WithHint("write %s", usage("variant"))
		return 0, false
	}
	lit, ok := v.Args[0].(*syntax.StringLit)
	if !ok {
		c.errorf(v.Args[0].Pos(), "the experiment's name must be quoted").WithHint("write %s", usage("variant"))
		return 0, false
	}
	x, ok := c.expIndex[lit.Value]
	if !ok && c.file.Lost[lit.Value] {
		return 0, false
	}
	if !ok {
		var names []string
		for _, e := range c.file.Experiments {
			names = append(names, e.Name)
		}
		e := c.errorf(lit.ValuePos, "no experiment is named %q", lit.Value)
		if h := diag.DidYouMean(lit.Value, names); h != "" {
			e.WithHint("%s", h)
		} else if len(names) == 0 {
			e.WithHint("declare it under experiments:")
		}
		return 0, false
	}
	c.usesVariant(v.Fun.NamePos)
	return x, true
}

// variantNames resolves variant names of experiment x.
func (c *checker) variantNames(x int, lits []syntax.Expr) ([]int, bool) {
	exp := c.file.Experiments[x]
	var names []string
	for _, v := range exp.Variants {
		names = append(names, v.Name)
	}
	var out []int
	for _, l := range lits {
		s, ok := l.(*syntax.StringLit)
		if !ok {
			c.errorf(l.Pos(), "variant names are quoted texts, found %s", l)
			return nil, false
		}
		i := slices.Index(names, s.Value)
		if i < 0 && (exp.Incomplete || len(names) == 0) {
			// Its variants may be what could not be read, or it has
			// none, which is reported where it is defined.
			return nil, false
		}
		if i < 0 {
			e := c.errorf(s.ValuePos, "experiment %q has no variant %q; its variants are %s", exp.Name, s.Value, quoteList(names))
			if h := diag.DidYouMean(s.Value, names); h != "" {
				e.WithHint("%s", h)
			}
			return nil, false
		}
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out, true
}

func (c *checker) compareVariant(e *syntax.Compare, v *syntax.Call) ir.Node {
	x, ok := c.experimentRef(v)
	if !ok {
		return bad(e)
	}
	var lits []syntax.Expr
	switch e.Op {
	case "==", "!=":
		lits = []syntax.Expr{e.Y}
	case "in", "not in":
		l, isList := e.Y.(*syntax.ListLit)
		if !isList {
			c.errorf(e.Y.Pos(), "%s needs a list of variant names", e.Op)
			return bad(e)
		}
		lits = l.Elems
	default:
		c.errorf(e.OpPos, "a variant is compared with ==, !=, in or not in, not %s", e.Op)
		return bad(e)
	}
	vs, ok := c.variantNames(x, lits)
	if !ok {
		return bad(e)
	}
	var n ir.Node = &ir.VariantIs{Pos: e.OpPos, Exp: x, Variants: vs}
	if e.Op == "!=" || e.Op == "not in" {
		n = &ir.Not{Pos: e.OpPos, X: n}
	}
	return n
}

// swapped writes e, whose attribute is on the right, as the comparison
// that means the same with the attribute on the left: 3 < x is x > 3,
// and a value "in" an attribute is that value (x == "FR"), or, in a
// list attribute, the list containing it (languages contains "de").
func swapped(e *syntax.Compare) string {
	op := e.Op
	switch op {
	case "<":
		op = ">"
	case "<=":
		op = ">="
	case ">":
		op = "<"
	case ">=":
		op = "<="
	case "in", "not in":
		if id, ok := e.Y.(*syntax.Ident); ok {
			if a, found := plugin.LookupAttr(id.Name); found && a.Type == plugin.List {
				s := fmt.Sprintf("%s contains %s", e.Y, e.X)
				if op == "not in" {
					s = "not " + s
				}
				return s
			}
		}
		if _, isList := e.X.(*syntax.ListLit); !isList {
			op = map[string]string{"in": "==", "not in": "!="}[op]
		}
	}
	return fmt.Sprintf("%s %s %s", e.Y, op, e.X)
}

func (c *checker) compare(e *syntax.Compare) ir.Node {
	if v, ok := e.X.(*syntax.Call); ok && v.Fun.Name == "variant" {
		return c.compareVariant(e, v)
	}
	if !isAttrRef(e.X) {
		if isAttrRef(e.Y) {
			c.errorf(e.X.Pos(), "the attribute goes on the left of %s", e.Op).WithHint("write %s", swapped(e))
			return bad(e)
		}
		if id, isIdent := e.X.(*syntax.Ident); isIdent {
			if _, isSeg := c.segIndex[id.Name]; isSeg {
				c.errorf(id.NamePos, "%s is a segment: it is a condition on its own and cannot be compared", id.Name)
				return bad(e)
			}
		}
	}
	a, slot, ok := c.attr(e.X)
	if !ok {
		return bad(e)
	}
	if isAttrRef(e.Y) {
		c.errorf(e.Y.Pos(), "compare an attribute with a value, not with another attribute").WithHint("write the value you expect, for example %s %s \"...\"", e.X, e.Op)
		return bad(e)
	}
	if a.Type == plugin.List {
		return c.compareList(e, a, slot)
	}
	negate := false
	switch e.Op {
	case "!=":
		negate = true
		fallthrough
	case "==":
		return not(negate, e, c.equal(e, a, slot, e.Y))
	case "not in":
		negate = true
		fallthrough
	case "in":
		l, isList := e.Y.(*syntax.ListLit)
		if !isList {
			c.errorf(e.Y.Pos(), "%s needs a list, such as [\"FR\", \"BE\"]", e.Op).WithHint("or compare with ==")
			return bad(e)
		}
		if len(l.Elems) == 0 {
			c.errorf(l.Lbrack, "the list is empty, so this never holds").WithHint("add values to the list or remove the condition")
			return bad(e)
		}
		return not(negate, e, c.in(e, a, slot, l))
	case "contains", "starts_with", "ends_with":
		s, ok := c.stringOperand(e, a)
		if !ok {
			return bad(e)
		}
		if !c.stringOpHolds(e, a, s) {
			return bad(e)
		}
		op := map[string]ir.StrOp{"contains": ir.Contains, "starts_with": ir.Prefix, "ends_with": ir.Suffix}[e.Op]
		arg := a.Fold.Apply(s.Value)
		if a.Type == plugin.Any && op == ir.Contains {
			// JSON: an array contains an item; a text contains a substring.
			return &ir.Or{Pos: e.OpPos, X: []ir.Node{
				&ir.StrTest{Pos: e.OpPos, Slot: slot, Op: ir.Contains, Arg: plugin.ListValue([]string{arg})},
				&ir.And{Pos: e.OpPos, X: []ir.Node{
					&ir.Not{Pos: e.OpPos, X: &ir.StrTest{Pos: e.OpPos, Slot: slot, Op: ir.Prefix, Arg: plugin.ListSep}},
					&ir.StrTest{Pos: e.OpPos, Slot: slot, Op: ir.Contains, Arg: arg},
				}},
			}}
		}
		return &ir.StrTest{Pos: e.OpPos, Slot: slot, Op: op, Arg: arg}
	case "matches":
		s, ok := c.stringOperand(e, a)
		if !ok {
			return bad(e)
		}
		if _, err := c.regexp(s.Value); err != nil {
			msg := c.errorf(s.ValuePos, "invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			if re, ok := wildcardPattern(s.Value); ok {
				msg.WithHint("a pattern is a regular expression, not a wildcard: for %q write %s", s.Value, quotePattern(re))
			} else {
				msg.WithHint("patterns use RE2 syntax (no look-around or back-references)")
			}
			return bad(e)
		}
		if !c.stringOpHolds(e, a, s) {
			return bad(e)
		}
		pattern := s.Value
		if a.Fold != plugin.FoldNone {
			// The attribute's values are normalized to one case, as the
			// texts compared with them are: a pattern ignores case, so
			// that "^f" reads FR as starts_with "f" does.
			pattern = "(?i)" + pattern
		}
		return &ir.Match{Pos: e.OpPos, Slot: slot, Pattern: c.pattern(pattern)}
	case "<", "<=", ">", ">=":
		if a.Type == plugin.Bool {
			c.errorf(e.OpPos, "%s is yes/no and cannot be compared with %s", e.X, e.Op)
			return bad(e)
		}
		if a.Type == plugin.String && !numericText(a) {
			if versionText(a) {
				c.errorf(e.OpPos, "%s is a version text; %s compares numbers", e.X, e.Op).
					WithHint("compare versions with semver(%s) %s %s", e.X, e.Op, versionLiteral(e.Y)).WithCode("never-matches")
			} else {
				c.errorf(e.OpPos, "%s is a text (%s); %s compares numbers, so this never holds", e.X, textKind(a), e.Op).
					WithHint("compare texts with ==, in, starts_with or matches").WithCode("never-matches")
			}
			return bad(e)
		}
		v, ok := c.number(e, a, e.Y)
		if !ok {
			return bad(e)
		}
		if y, isNum := e.Y.(*syntax.NumberLit); isNum && !c.numberTest(a, e.String(), e.Op, v, y.ValuePos) {
			return bad(e)
		}
		if a.Name == "now" {
			c.pastTime(e, v)
		}
		op := map[string]ir.NumOp{"<": ir.LT, "<=": ir.LE, ">": ir.GT, ">=": ir.GE}[e.Op]
		return &ir.NumCmp{Pos: e.OpPos, Slot: slot, Op: op, Value: v}
	}
	c.errorf(e.OpPos, "unknown operator %s", e.Op)
	return bad(e)
}

// wildcardPattern returns the regular expression that means what the
// wildcard w (*.html, as a shell or a spreadsheet writes one: * any
// text, ? one character) means, when w starts with a * or a ?, which no
// regular expression does, so that w is refused and was most likely
// meant so; ok is false otherwise.
func wildcardPattern(w string) (re string, ok bool) {
	if !strings.HasPrefix(w, "*") && !strings.HasPrefix(w, "?") {
		return "", false
	}
	var b strings.Builder
	b.WriteString("^")
	for _, r := range w {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re = strings.TrimSuffix(strings.TrimPrefix(b.String(), "^.*"), ".*$")
	if re == "" || re == "^" || re == "$" {
		return "", false
	}
	return re, true
}

// quotePattern quotes a regular expression as a condition's string:
// the string keeps a backslash before a character it gives no meaning
// ("\.html$" reads as \.html$), so most patterns are written as they are.
func quotePattern(re string) string {
	if strings.ContainsAny(re, "\"'") || strings.Contains(re, `\\`) || strings.Contains(re, `\n`) || strings.Contains(re, `\t`) {
		return strconv.Quote(re)
	}
	return `"` + re + `"`
}

func not(negate bool, e *syntax.Compare, n ir.Node) ir.Node {
	if negate {
		return &ir.Not{Pos: e.OpPos, X: n}
	}
	return n
}

// pastTime warns of a test that now is before t (Unix seconds) when t
// is past: it never holds again, as a campaign's end left in a rule, and
// as an until that passed. (That now is after a time past always holds,
// and says nothing: a start date passes as it should.)
func (c *checker) pastTime(e *syntax.Compare, t float64) {
	if (e.Op == "<" || e.Op == "<=") && t <= float64(time.Now().Unix()) {
		c.warnf(e.OpPos, "`%s` never holds: that time is past", e).
			WithHint("give a later time, or remove the rule if its time is over").WithCode("never-matches")
	}
}

// number reads the literal a numeric comparison of attribute a needs: a
// number, a time for now, a version for semver.
func (c *checker) number(e *syntax.Compare, a plugin.Attr, y syntax.Expr) (float64, bool) {
	switch y := y.(type) {
	case *syntax.NumberLit:
		if !c.numberOperand(e, a, y) {
			return 0, false
		}
		return y.Value, true
	case *syntax.StringLit:
		switch a.Name {
		case "now":
			t, err := parseTime(y.Value)
			if err != nil {
				c.errorf(y.ValuePos, "%q %s", y.Value, err).WithHint("%s", timeHint(t, err, `"2026-12-24T18:00:00+01:00"`))
				return 0, false
			}
			return float64(t.Unix()), true
		case "semver":
			v, ok := plugin.SemverNumber(y.Value)
			if !ok {
				c.errorf(y.ValuePos, "%q is not a version", y.Value).WithHint("write a version such as \"2.3\" or \"1.10.0-beta\"")
				return 0, false
			}
			return v, true
		}
	}
	c.errorf(y.Pos(), "%s compares numbers; found %s", e.Op, y).WithHint("write a number without quotes, for example %s %s 3", e.X, e.Op)
	return 0, false
}

// compareList checks a comparison on a list attribute (languages): it
// contains an item, or any item is in a list.
func (c *checker) compareList(e *syntax.Compare, a plugin.Attr, slot int) ir.Node {
	item := func(x syntax.Expr) (ir.Node, bool) {
		s, ok := x.(*syntax.StringLit)
		if !ok {
			c.errorf(x.Pos(), "%s holds texts; found %s", e.X, x)
			return nil, false
		}
		v, ok := c.literal(a, s.Value, s.ValuePos)
		if !ok {
			return nil, false
		}
		return &ir.StrTest{Pos: e.OpPos, Slot: slot, Op: ir.Contains, Arg: plugin.ListValue([]string{v})}, true
	}
	switch e.Op {
	case "contains":
		n, ok := item(e.Y)
		if !ok {
			return bad(e)
		}
		return n
	case "in", "not in":
		l, ok := e.Y.(*syntax.ListLit)
		if !ok || len(l.Elems) == 0 {
			c.errorf(e.Y.Pos(), "%s needs a non-empty list", e.Op)
			return bad(e)
		}
		var xs []ir.Node
		for _, el := range l.Elems {
			n, ok := item(el)
			if !ok {
				return bad(e)
			}
			xs = append(xs, n)
		}
		var n ir.Node = &ir.Or{Pos: e.OpPos, X: xs}
		if len(xs) == 1 {
			n = xs[0]
		}
		return not(e.Op == "not in", e, n)
	}
	c.errorf(e.OpPos, "%s is a list; test it with contains, in or exists, not %s", e.X, e.Op).
		WithHint("for example %s contains \"de\"", e.X)
	return bad(e)
}

// stringOpHolds reports an error, and false, for a text test no value
// of a can pass (stringOpNever), with a hint at what was probably meant.
func (c *checker) stringOpHolds(e *syntax.Compare, a plugin.Attr, s *syntax.StringLit) bool {
	if a.Name == "path" && e.Op != "matches" && strings.ContainsAny(s.Value, "?#") {
		// The path is without its query; it holds a ? only when a
		// request encodes one (%3F), which no link does by mistake: a
		// warning, not an error.
		w := c.warnf(s.ValuePos, "path is the request path, without its query, so `%s` holds only for a path with an encoded %s in it", e, s.Value[strings.IndexAny(s.Value, "?#"):][:1]).WithCode("never-matches")
		_, q, _ := strings.Cut(s.Value, "?")
		if k, _, _ := strings.Cut(q, "="); k != "" {
			w.WithHint("test the query with query(%q)", k)
		}
		return true
	}
	what, never := stringOpNever(a, e.Op, s.Value, c.regexp)
	if !never {
		return true
	}
	err := c.errorf(s.ValuePos, "%s is %s, so `%s` never holds", a.Name, what, e).WithCode("never-matches")
	switch {
	case a.Name == "language":
		if i := strings.IndexAny(s.Value, "-_"); i > 0 {
			err.WithHint("write language == %q: the region is not part of it", strings.ToLower(s.Value[:i]))
		}
	case a.Values != nil:
		if meant := valueAliases[a.Name][strings.ToLower(strings.TrimSpace(s.Value))]; meant != "" {
			err.WithHint("did you mean %s == %q?", a.Name, meant)
		} else if h := diag.DidYouMean(a.Fold.Apply(s.Value), a.Values); h != "" {
			err.WithHint("%s", h)
		}
	case a.Name == "geo.country":
		word := strings.Trim(s.Value, "^$")
		if meant := meantCountry(a.Fold.Apply(word)); meant != "" {
			err.WithHint("did you mean geo.country == %q (%s)?", meant, countryNames[meant])
		} else {
			err.WithHint("compare the code: geo.country == \"FR\", or in [\"FR\", \"BE\"]")
		}
	}
	return false
}

func (c *checker) stringOperand(e *syntax.Compare, a plugin.Attr) (*syntax.StringLit, bool) {
	s, ok := e.Y.(*syntax.StringLit)
	if l, isList := e.Y.(*syntax.ListLit); !ok && isList && len(l.Elems) > 0 {
		// header("user-agent") contains ["Firefox", "Chrome"]: any of
		// them, joined by or.
		var alts []string
		for _, el := range l.Elems {
			alts = append(alts, fmt.Sprintf("%s %s %s", e.X, e.Op, el))
		}
		c.errorf(e.Y.Pos(), "%s needs one quoted text; found a list", e.Op).WithHint("for any of several, join them with or: %s", strings.Join(alts, " or "))
		return nil, false
	}
	if !ok {
		c.errorf(e.Y.Pos(), "%s needs a quoted text; found %s", e.Op, e.Y).WithHint("write %s %s \"%s\"", e.X, e.Op, strings.Trim(e.Y.String(), `"`))
		return nil, false
	}
	if a.Type != plugin.String && a.Type != plugin.Any {
		c.errorf(e.OpPos, "%s is %s; %s works on text", e.X, a.Type, e.Op)
		return nil, false
	}
	if e.Op != "matches" {
		c.percentEncoded(e, a, s)
	}
	c.decomposed(s)
	if a.Name == "host" && (e.Op == "starts_with" || e.Op == "ends_with" || e.Op == "contains") {
		if err := c.idnHost(s.Value, s.ValuePos, e.Op != "starts_with", e.Op != "ends_with"); err != nil {
			err.WithCode("never-matches")
			return nil, false
		}
	}
	if a.Name == "path" && e.Op == "starts_with" || a.Name == "host" && (e.Op == "starts_with" || e.Op == "ends_with") {
		if _, ok := c.literal(a, s.Value, s.ValuePos); !ok {
			return nil, false
		}
	}
	return s, true
}

// versionLiteral writes a literal as a quoted version for a hint.
func versionLiteral(y syntax.Expr) string {
	if n, ok := y.(*syntax.NumberLit); ok {
		return `"` + n.Raw + `"`
	}
	return y.String()
}

// equal checks `attr == literal`.
func (c *checker) equal(e *syntax.Compare, a plugin.Attr, slot int, y syntax.Expr) ir.Node {
	switch y := y.(type) {
	case *syntax.StringLit:
		switch a.Type {
		case plugin.Bool:
			c.errorf(y.ValuePos, "%s is yes/no; compare it with true or false, without quotes", e.X)
			return bad(e)
		case plugin.Number:
			if a.Name == "now" || a.Name == "semver" {
				v, ok := c.number(e, a, y)
				if !ok {
					return bad(e)
				}
				c.instant(e, a, y)
				return &ir.NumCmp{Pos: e.OpPos, Slot: slot, Op: ir.EQ, Value: v}
			}
			c.errorf(y.ValuePos, "%s is a number; write the number without quotes", e.X)
			return bad(e)
		}
		v, ok := c.closedValue(e, a, y)
		if !ok {
			return bad(e)
		}
		return &ir.SymIn{Pos: e.OpPos, Slot: slot, Syms: []int{c.symbol(v)}}
	case *syntax.NumberLit:
		if a.Type == plugin.Bool {
			c.errorf(y.ValuePos, "%s is yes/no; compare it with true or false", e.X)
			return bad(e)
		}
		if a.Values != nil {
			c.errorf(y.ValuePos, "%s is one of %s, not a number", e.X, quoteList(a.Values))
			return bad(e)
		}
		if !c.numberOperand(e, a, y) {
			return bad(e)
		}
		if !c.numberTest(a, e.String(), e.Op, y.Value, y.ValuePos) {
			return bad(e)
		}
		c.inexactNumber(e, y)
		return &ir.NumCmp{Pos: e.OpPos, Slot: slot, Op: ir.EQ, Value: y.Value}
	case *syntax.Ident:
		c.unquoted(e, a, y)
		return bad(e)
	case *syntax.BoolLit:
		if a.Type == plugin.Any {
			// A JSON true or false reads as the text "true" or "false".
			return &ir.SymIn{Pos: e.OpPos, Slot: slot, Syms: []int{c.symbol(strconv.FormatBool(y.Value))}}
		}
		if a.Type != plugin.Bool {
			c.errorf(y.ValuePos, "%s is %s, not yes/no", e.X, a.Type).WithHint("quote the value if you mean the text %q", y.String())
			return bad(e)
		}
		var n ir.Node = &ir.Truthy{Pos: e.OpPos, Slot: slot}
		if !y.Value {
			n = &ir.Not{Pos: e.OpPos, X: n}
		}
		return n
	}
	if _, isList := y.(*syntax.ListLit); isList {
		op := map[string]string{"==": "in", "!=": "not in"}[e.Op]
		c.errorf(y.Pos(), "%s compares with one value; found a list", e.Op).WithHint("to test several values write %s %s %s", e.X, op, y)
		return bad(e)
	}
	c.errorf(y.Pos(), "%s compares with one value; found %s", e.Op, y)
	return bad(e)
}

// unquoted reports a bare word where a text was meant: geo.country == FR.
// The hint quotes the value a compares with as it should be written (UK
// quoted would be refused in turn: "GB").
func (c *checker) unquoted(e *syntax.Compare, a plugin.Attr, y *syntax.Ident) {
	if _, isSeg := c.segIndex[y.Name]; isSeg {
		c.errorf(y.NamePos, "%s is a segment, a condition on its own: it cannot be compared", y.Name).
			WithHint("combine it with and: %s %s ... and %s", e.X, e.Op, y.Name)
		return
	}
	if c.file.Lost[y.Name] {
		return
	}
	e2 := c.errorf(y.NamePos, "%s is not quoted, so it reads as the name of an attribute or segment, and none is named so", y.Name).WithCode("unquoted")
	if a.Type == plugin.Bool {
		// visitor.new == yes: a yes/no attribute compares with true or
		// false, which a quoted "yes" is refused for in turn.
		op := map[string]string{"in": "==", "not in": "!="}[e.Op]
		if op == "" {
			op = e.Op
		}
		switch strings.ToLower(y.Name) {
		case "yes", "y", "on":
			e2.WithHint("%s is yes/no: write %s %s true", e.X, e.X, op)
		case "no", "n", "off":
			e2.WithHint("%s is yes/no: write %s %s false", e.X, e.X, op)
		default:
			e2.WithHint("%s is yes/no: compare it with true or false", e.X)
		}
		return
	}
	v := meantText(a, y.Name)
	if e.Op == "in" || e.Op == "not in" {
		e2.WithHint("texts are quoted: %q", v)
	} else {
		e2.WithHint("texts are quoted: %s %s %q", e.X, e.Op, v)
	}
}

// textKind says what a text attribute holds, for messages.
func textKind(a plugin.Attr) string {
	if a.Values != nil {
		return "one of " + quoteList(a.Values)
	}
	return a.Doc
}

// numberOperand checks that attribute a can be compared with the number y:
// a time and a version are written as quoted texts, and most texts the
// host derives (a country, a path) never read as numbers.
func (c *checker) numberOperand(e *syntax.Compare, a plugin.Attr, y *syntax.NumberLit) bool {
	switch {
	case a.Name == "now":
		t := time.Unix(int64(y.Value), 0).UTC().Format(time.RFC3339)
		c.errorf(y.ValuePos, "now is a time: compare it with an RFC 3339 time in quotes, not the number %s", y.Raw).
			WithHint("for example now %s \"%s\"", e.Op, t).WithCode("never-matches")
		return false
	case a.Name == "semver":
		c.errorf(y.ValuePos, "semver compares versions: write the version in quotes").
			WithHint("write %s %s \"%s\"", e.X, e.Op, y.Raw).WithCode("never-matches")
		return false
	case a.Type == plugin.String && versionText(a):
		c.errorf(e.OpPos, "%s is a version text, not a number", e.X).
			WithHint("compare versions with semver(%s) %s \"%s\"", e.X, e.Op, y.Raw).WithCode("never-matches")
		return false
	case a.Type == plugin.String && !numericText(a):
		c.errorf(y.ValuePos, "%s is a text (%s) and is never a number, so this never holds", e.X, textKind(a)).
			WithHint("compare it with a quoted text: %s == \"...\"", e.X).WithCode("never-matches")
		return false
	}
	return true
}

// closedValue folds a literal as the host folds the attribute, and checks
// it is a value the attribute can take.
func (c *checker) closedValue(e *syntax.Compare, a plugin.Attr, y *syntax.StringLit) (string, bool) {
	c.percentEncoded(e, a, y)
	c.decomposed(y)
	v, ok := c.literal(a, y.Value, y.ValuePos)
	if ok && a.Name == "geo.timezone" && offsetZones[y.Value] {
		c.warnf(y.ValuePos, "%q stands for %s alone: the time zone database makes this name of an offset a name of that place's zone, and a visitor's zone is their place's (Europe/Paris, Europe/Berlin)", y.Value, v).
			WithHint(`list the zones meant: geo.timezone in ["Europe/Paris", "Europe/Berlin"], or test the hour with visitor.hour`)
	}
	return v, ok
}

// offsetZones are the zones of the database named after an offset
// rather than a place, each now a name of one place's zone (CET of
// Europe/Brussels, EST of America/Panama): a rule meant for every place
// on that offset holds for the one place.
var offsetZones = map[string]bool{
	"CET": true, "EET": true, "MET": true, "WET": true, "EST": true, "MST": true, "HST": true,
	"EST5EDT": true, "CST6CDT": true, "MST7MDT": true, "PST8PDT": true,
}

// decomposed warns of a text whose accented letter is written
// decomposed, a letter then a combining accent (u and U+0308), as text
// pasted from a PDF or a macOS file name may be: it looks like the
// composed letter (ü, U+00FC) that browsers and CDNs send, and the two
// never compare equal. Values are compared as their bytes, so the text
// is left as written; the warning names the first such letter.
func (c *checker) decomposed(y *syntax.StringLit) {
	if norm.NFC.IsNormalString(y.Value) {
		return
	}
	for i, r := range y.Value {
		if unicode.Is(unicode.M, r) {
			continue
		}
		j := i + utf8.RuneLen(r)
		for j < len(y.Value) {
			m, n := utf8.DecodeRuneInString(y.Value[j:])
			if !unicode.Is(unicode.M, m) {
				break
			}
			j += n
		}
		seg := y.Value[i:j]
		if comp := norm.NFC.String(seg); j > i+utf8.RuneLen(r) && comp != seg {
			c.warnf(y.ValuePos, "%q holds %q written decomposed (%s, a letter and a combining accent), as text pasted from a PDF may be, while browsers and CDNs send the composed %q (%s): the two look alike and never compare equal", y.Value, seg, codePoints(seg), comp, codePoints(comp)).
				WithHint("retype the accented letters")
			return
		}
	}
}

// codePoints writes s as its code points: U+0075 U+0308.
func codePoints(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "U+%04X", r)
	}
	return b.String()
}

// instant warns of now compared for equality with a time (==, !=, in,
// not in): now is the request's second, so `now == "2026-12-25T00:00:00Z"`
// holds during that second alone, where a day or an hour was meant.
func (c *checker) instant(e *syntax.Compare, a plugin.Attr, y *syntax.StringLit) {
	if a.Name != "now" {
		return
	}
	c.warnf(y.ValuePos, "now is the request's time, to the second, so `now %s %q` compares with that one second only", e.Op, y.Value).
		WithHint(`for a period, compare with its start and its end: now >= "2026-12-25T00:00:00+01:00" and now < "2026-12-26T00:00:00+01:00"`).WithCode("never-matches")
}

// quotedListItem reports el, a quoted item of list l that attribute a,
// a number or yes/no, is compared with: visitor.hour in ["9", "10"]. The
// hint gives the list without quotes when each item reads as a number.
func (c *checker) quotedListItem(e *syntax.Compare, a plugin.Attr, l *syntax.ListLit, el *syntax.StringLit) {
	if a.Type != plugin.Number {
		c.errorf(el.ValuePos, "%s is %s; compare it with true or false, without quotes", e.X, a.Type)
		return
	}
	err := c.errorf(el.ValuePos, "%s is a number; write the list's numbers without quotes", e.X)
	items := make([]string, 0, len(l.Elems))
	for _, it := range l.Elems {
		s := it.String()
		if q, ok := it.(*syntax.StringLit); ok {
			if _, isNum := plugin.ParseNumber(q.Value); !isNum {
				return
			}
			s = strings.TrimSpace(q.Value)
		}
		items = append(items, s)
	}
	err.WithHint("write %s %s [%s]", e.X, e.Op, strings.Join(items, ", "))
}

// exactDigits is how many significant digits any decimal number has
// that a 64-bit floating point number tells apart from every other.
const exactDigits = 15

// inexactNumber warns of a number compared for equality (==, !=, in,
// not in) that numbers next to it equal once read: numbers are compared
// as 64-bit floating point, so 9007199254740993, an id written as a
// number, is 9007199254740992 and holds for either. Every integer below
// 2^53 is exact; from there, and for a fraction of more than 15 digits,
// the text compares exactly.
func (c *checker) inexactNumber(e *syntax.Compare, y *syntax.NumberLit) {
	mant, _, _ := strings.Cut(strings.ToLower(strings.TrimLeft(y.Raw, "+-")), "e")
	integer := !strings.Contains(y.Raw, ".") && !strings.ContainsAny(y.Raw, "eE")
	digits := strings.TrimLeft(strings.Replace(mant, ".", "", 1), "0")
	if strings.Contains(mant, ".") {
		digits = strings.TrimRight(digits, "0")
	}
	switch {
	case integer && math.Abs(y.Value) >= 1<<53:
	case !integer && len(digits) > exactDigits:
	default:
		return
	}
	if e.Op == "in" || e.Op == "not in" {
		c.warnf(y.ValuePos, "%s has more digits than a number is compared with exactly (%d), so %s %s [...] holds for numbers next to it too", y.Raw, exactDigits, e.X, e.Op).
			WithHint("compare the texts: quote every item of the list")
		return
	}
	c.warnf(y.ValuePos, "%s has more digits than a number is compared with exactly (%d), so %s %s %s holds for numbers next to it too", y.Raw, exactDigits, e.X, e.Op, y.Raw).
		WithHint("compare the text: %s %s %q", e.X, e.Op, y.Raw)
}

// percentEncoded warns of a text that holds a percent escape (%C3%A9,
// %20), compared with the path, a query parameter or a cookie: their
// values are decoded, so the text holds only for a request that encodes
// the % itself (%25), which no link does; it was most likely copied
// from an address bar. A % that begins no escape (50%) is kept, as the
// host keeps it.
func (c *checker) percentEncoded(e *syntax.Compare, a plugin.Attr, y *syntax.StringLit) {
	switch a.Name {
	case "path", "query", "cookie":
	default:
		return
	}
	if !strings.Contains(y.Value, "%") {
		return
	}
	dec, err := url.PathUnescape(y.Value)
	if err != nil || dec == y.Value {
		return
	}
	w := c.warnf(y.ValuePos, "%q is percent-encoded, but %s is compared decoded (%s in a request is %q), so this holds only for a request that encodes each %% as %%25", y.Value, e.X, y.Value, dec).WithCode("never-matches")
	if utf8.ValidString(dec) {
		w.WithHint("write %q", dec)
	}
}

func (c *checker) in(e *syntax.Compare, a plugin.Attr, slot int, l *syntax.ListLit) ir.Node {
	var syms []int
	var nums []ir.Node
	quoted := false // a quoted item of a list of numbers or yes/no, said once
	for _, el := range l.Elems {
		switch el := el.(type) {
		case *syntax.StringLit:
			if a.Type != plugin.String && a.Type != plugin.Any && a.Name != "now" && a.Name != "semver" {
				if !quoted {
					c.quotedListItem(e, a, l, el)
				}
				quoted = true
				continue
			}
			if a.Type == plugin.Number {
				if v, ok := c.number(e, a, el); ok {
					c.instant(e, a, el)
					nums = append(nums, &ir.NumCmp{Pos: el.ValuePos, Slot: slot, Op: ir.EQ, Value: v})
				}
				continue
			}
			if v, ok := c.closedValue(e, a, el); ok {
				if s := c.symbol(v); !slices.Contains(syms, s) {
					syms = append(syms, s)
				}
			}
		case *syntax.NumberLit:
			if a.Type == plugin.Bool || a.Values != nil {
				c.errorf(el.ValuePos, "%s cannot be compared with a number", e.X).WithCode("never-matches")
				continue
			}
			if !c.numberOperand(e, a, el) || !c.numberTest(a, e.X.String()+" == "+el.Raw, e.Op, el.Value, el.ValuePos) {
				continue
			}
			c.inexactNumber(e, el)
			nums = append(nums, &ir.NumCmp{Pos: el.ValuePos, Slot: slot, Op: ir.EQ, Value: el.Value})
		case *syntax.Ident:
			c.unquoted(e, a, el)
		default:
			c.errorf(el.Pos(), "list items must be quoted texts or numbers; found %s", el)
		}
	}
	if len(syms) > 0 && len(nums) > 0 {
		c.errorf(l.Lbrack, "the list mixes texts and numbers").WithHint("quote every item, or none")
		return bad(e)
	}
	if len(nums) > 0 {
		if len(nums) == 1 {
			return nums[0]
		}
		return &ir.Or{Pos: e.OpPos, X: nums}
	}
	var n ir.Node = &ir.SymIn{Pos: e.OpPos, Slot: slot, Syms: syms}
	if a.Type == plugin.Any {
		// JSON: a text equal to one item, or an array holding one.
		xs := []ir.Node{n}
		for _, s := range syms {
			xs = append(xs, &ir.StrTest{Pos: e.OpPos, Slot: slot, Op: ir.Contains, Arg: plugin.ListValue([]string{c.prog.Symbols[s]})})
		}
		n = &ir.Or{Pos: e.OpPos, X: xs}
	}
	return n
}

// template checks the interpolations of a text.
func (c *checker) template(t *syntax.Template) plugin.Template {
	if t == nil {
		return nil
	}
	var out plugin.Template
	for _, p := range t.Parts {
		if p.Value == nil {
			out = append(out, plugin.Part{Text: p.Text, Slot: -1})
			continue
		}
		if id, ok := p.Value.(*syntax.Ident); ok {
			if _, isSeg := c.segIndex[id.Name]; isSeg {
				c.errorf(id.NamePos, "%s is a segment; {{ }} inserts attributes", id.Name)
				continue
			}
		}
		if v, ok := p.Value.(*syntax.Call); ok && v.Fun.Name == "variant" {
			if x, ok := c.experimentRef(v); ok {
				out = append(out, plugin.Part{Slot: -1, Experiment: x + 1, Default: p.Default})
			}
			continue
		}
		_, slot, ok := c.attr(p.Value)
		if !ok {
			continue
		}
		out = append(out, plugin.Part{Slot: slot, Default: p.Default})
	}
	return out
}

// validSelector reports whether t is a selector bespoke accepts, and
// reports the mistake at its position when it is not.
func (c *checker) validSelector(t *syntax.Text) bool {
	s := strings.TrimSpace(t.Value)
	if at := typographicQuote(s); at >= 0 {
		// A selector pasted from a word processor: CSS reads “ as part
		// of a name, so it would parse and never select anything.
		pos := t.Pos
		if t.Map != nil {
			pos = t.Map(strings.Index(t.Value, s) + at)
		}
		r, _ := utf8.DecodeRuneInString(s[at:])
		fix := s
		if first, n := utf8.DecodeRuneInString(s); syntax.IsTypographicQuote(first) {
			if last, m := utf8.DecodeLastRuneInString(s); syntax.IsTypographicQuote(last) && len(s) > n+m {
				fix = strings.TrimSpace(s[n : len(s)-m])
			}
		}
		fix = syntax.StraightQuotes(fix)
		c.errorf(pos, "invalid selector %q: %q is a typographic quote, as word processors write them, not a straight one (\" or ')", s, r).
			WithHint("write the selector with straight quotes, or none: %s", yamlQuote(fix))
		return false
	}
	if _, err := selector.Parse(s); err != nil {
		var se *selector.Error
		pos := t.Pos
		msg, fix := err.Error(), ""
		if errors.As(err, &se) {
			lead := strings.Index(t.Value, s)
			if t.Map != nil {
				pos = t.Map(lead + se.Offset)
			}
			msg, fix = se.Msg, se.Fix
		}
		e := c.errorf(pos, "invalid selector %q: %s", s, msg)
		switch {
		case strings.Contains(fix, `\`):
			// A backslash is kept as written only in single quotes: in
			// double quotes YAML reads escapes of its own.
			e.WithHint("write the selector in single quotes, which keep the backslash: '%s'", strings.ReplaceAll(fix, "'", "''"))
		case fix != "":
			e.WithHint("write the selector as %s", yamlQuote(fix))
		}
		return false
	}
	return true
}

// typographicQuote returns the offset in the selector s of the first
// typographic quote outside its strings, or -1.
func typographicQuote(s string) int {
	var q byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case q != 0 && c == '\\':
			i += 2
			continue
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if syntax.IsTypographicQuote(r) {
				return i
			}
			i += size
			continue
		}
		i++
	}
	return -1
}

// yamlQuote quotes v for a rule file: in double quotes, unless it holds
// a double quote or a backslash (then in single quotes, which keep both).
func yamlQuote(v string) string {
	if !strings.ContainsAny(v, `"\`) {
		return `"` + v + `"`
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// selector validates a selector and interns it.
func (c *checker) selector(t *syntax.Text) int {
	s := strings.TrimSpace(t.Value)
	if !c.validSelector(t) {
		return -1
	}
	if i, ok := c.sels[s]; ok {
		return i
	}
	i := len(c.prog.Selectors)
	c.sels[s] = i
	c.prog.Selectors = append(c.prog.Selectors, s)
	return i
}
