// Package check turns a parsed rule file into IR: it resolves attribute,
// segment and experiment names, checks types and literal values, validates
// selectors, regular expressions and action fields, lowers schedules,
// rollouts and experiments to conditions over slots, and interns everything
// the module will compare. Every error names file:line:col and, where it
// can, the name the editor probably meant.
package check

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Check checks f and returns its IR, or a diag.List of every error.
func Check(f *syntax.File) (*ir.Program, error) {
	p, l := Run(f)
	if err := l.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// Run checks f, which may be incomplete (see syntax.ParsePartial), and
// returns its IR (nil when it has errors) and every problem found, errors
// and warnings. References to what f lost are not reported again.
func Run(f *syntax.File) (*ir.Program, diag.List) {
	c := &checker{
		file:     f,
		prog:     &ir.Program{Source: f.Name},
		slots:    map[string]int{},
		syms:     map[string]int{},
		patterns: map[string]int{},
		regexps:  map[string]compiledRegexp{},
		sels:     map[string]int{},
		segIndex: map[string]int{},
		expIndex: map[string]int{},
	}
	c.declareExperiments()
	c.segments()
	c.experiments()
	c.rules()
	if len(c.errs.Errors()) == 0 {
		c.contradictions()
		c.valueCost()
	}
	c.tests()
	if f.Pages != nil {
		c.prog.Pages, c.prog.PagesAt = f.Pages.Value, f.Pages.Pos
	}
	c.errs.Sort()
	if len(c.errs.Errors()) > 0 {
		return nil, c.errs
	}
	return c.prog, c.errs
}

type checker struct {
	file *syntax.File
	prog *ir.Program
	errs diag.List
	// valuesHint, inside a chain of or/and, is the condition its bare
	// values most likely meant (see valuesHint), for their hint.
	valuesHint *string
	// bucketUsers names, by bucket slot, the experiment or rollout that
	// first bucketed visitors with it (see shareBucket).
	bucketUsers map[int]string
	// capped counts the rules with at_most.
	capped   int
	slots    map[string]int // by plugin.Slot.Key
	syms     map[string]int
	patterns map[string]int
	// regexps holds each pattern compiled once: a rule file repeats its
	// patterns, and compiling one costs more than the rest of its test.
	regexps  map[string]compiledRegexp
	sels     map[string]int
	segIndex map[string]int
	segFile  []int   // the file's index of each of prog.Segments
	segState []uint8 // 0 unchecked, 1 in progress, 2 done
	expIndex map[string]int
	// inExperiment is set while checking an experiment's condition, which
	// may not depend on variants (experiments are decided before rules).
	inExperiment bool
	segVariant   []bool // segment i uses variant()
	curSegment   int    // segment being checked, or -1
}

func (c *checker) errorf(pos diag.Pos, format string, args ...any) *diag.Error {
	e := diag.Errorf(pos, format, args...)
	c.errs.Add(e)
	return e
}

// maxCookieLife is the longest a browser keeps a cookie: Chrome and
// Firefox cut a longer Max-Age to 400 days.
const maxCookieLife = 400 * 24 * time.Hour

func (c *checker) warnf(pos diag.Pos, format string, args ...any) *diag.Error {
	e := diag.Warningf(pos, format, args...)
	c.errs.Add(e)
	return e
}

func (c *checker) slot(s plugin.Slot) int {
	k := s.Key()
	if i, ok := c.slots[k]; ok {
		return i
	}
	i := len(c.prog.Slots)
	c.slots[k] = i
	c.prog.Slots = append(c.prog.Slots, s)
	return i
}

func (c *checker) symbol(s string) int {
	if i, ok := c.syms[s]; ok {
		return i
	}
	i := len(c.prog.Symbols)
	c.syms[s] = i
	c.prog.Symbols = append(c.prog.Symbols, s)
	return i
}

// compiledRegexp is regexp.Compile's answer for one pattern.
type compiledRegexp struct {
	re  *regexp.Regexp
	err error
}

// regexp compiles pattern, or returns what compiling it returned before.
func (c *checker) regexp(pattern string) (*regexp.Regexp, error) {
	r, ok := c.regexps[pattern]
	if !ok {
		r.re, r.err = regexp.Compile(pattern)
		c.regexps[pattern] = r
	}
	return r.re, r.err
}

func (c *checker) pattern(s string) int {
	if i, ok := c.patterns[s]; ok {
		return i
	}
	i := len(c.prog.Patterns)
	c.patterns[s] = i
	c.prog.Patterns = append(c.prog.Patterns, s)
	return i
}

func (c *checker) segments() {
	c.curSegment = -1
	// A segment named like an attribute is left out of the program, so
	// the program's indexes, which references and segState use, are not
	// the file's: segFile maps one to the other.
	for i, s := range c.file.Segments {
		if _, ok := plugin.LookupAttr(s.Name); ok {
			c.errorf(s.NamePos, "segment %q has the name of an attribute", s.Name).WithHint("rename the segment, for example %s_visitors", strings.ReplaceAll(s.Name, ".", "_"))
			continue
		}
		c.segIndex[s.Name] = len(c.prog.Segments)
		c.segFile = append(c.segFile, i)
		c.prog.Segments = append(c.prog.Segments, &ir.Segment{Name: s.Name, Pos: s.NamePos})
	}
	c.segState = make([]uint8, len(c.prog.Segments))
	c.segVariant = make([]bool, len(c.prog.Segments))
	for i, s := range c.prog.Segments {
		c.segment(i, s.Pos)
	}
}

// segment checks segment i once; a segment that refers back to itself,
// directly or through others, is an error at the reference that closes the
// cycle.
func (c *checker) segment(i int, ref diag.Pos) bool {
	switch c.segState[i] {
	case 1:
		c.errorf(ref, "segment %q refers to itself", c.prog.Segments[i].Name).WithHint("a segment cannot depend on itself, even through other segments")
		return false
	case 2:
		return true
	}
	c.segState[i] = 1
	outer := c.curSegment
	c.curSegment = i
	s := c.file.Segments[c.segFile[i]]
	c.prog.Segments[i].Cond = c.cond(s.When)
	c.curSegment = outer
	if outer >= 0 && c.segVariant[i] {
		c.segVariant[outer] = true
	}
	c.segState[i] = 2
	return true
}

// declareExperiments records experiment names first, so segments and rules
// can refer to them wherever they are written.
func (c *checker) declareExperiments() {
	for i, e := range c.file.Experiments {
		if prev, dup := c.expIndex[e.Name]; dup && e.Name != "" {
			c.errorf(e.NamePos, "an experiment named %q already exists at line %d", e.Name, c.file.Experiments[prev].NamePos.Line)
			continue
		}
		c.expIndex[e.Name] = i
	}
}

// experiments lowers experiments: weights to bucket ranges, `by` to a
// bucket slot, `when` to the enrolment condition.
func (c *checker) experiments() {
	for i, e := range c.file.Experiments {
		x := &ir.Experiment{Name: e.Name, Pos: e.NamePos, Meta: e.Meta, Cond: &ir.Const{Pos: e.Pos, Value: true}}
		if e.When != nil {
			c.inExperiment = true
			x.Cond = c.cond(e.When)
			c.inExperiment = false
		}
		// The variants' ranges are rounded in turn, at their ends: a
		// variant's buckets are the rounded sum of the weights up to it
		// less that of the weights before it. Weights finer than a
		// bucket that add up to 100% then enroll every bucket, each
		// variant within a bucket of its weight; rounded one by one,
		// 12.345% and 87.655% made 10,001 buckets.
		total, sum := 0, 0.0
		seen := map[string]bool{}
		for _, v := range e.Variants {
			if seen[v.Name] {
				c.errorf(v.Pos, "variant %q is listed twice", v.Name)
			}
			seen[v.Name] = true
			sum += v.Percent
			w := int(math.Round(sum*plugin.Buckets/100)) - total
			if w == 0 {
				// A variant kept at 0 while an experiment ramps: its
				// rules never match, which the editor should hear.
				what := "0% is no visitor"
				if v.Percent > 0 {
					what = fmt.Sprintf("%g%% is less than the smallest share, 0.01%%, and rounds to no visitor", v.Percent)
				}
				c.warnf(v.Pos, "variant %q of experiment %q is given to no visitor, so a rule that tests for it never matches: %s", v.Name, e.Name, what).
					WithHint("give it at least 0.01%%, or remove it and the rules that test for it").WithCode("never-matches")
			}
			x.Variants = append(x.Variants, v.Name)
			x.Weights = append(x.Weights, w)
			total += w
		}
		if total > plugin.Buckets {
			c.errorf(e.Pos, "the variants of %q add up to %.6g%%, more than 100%%", e.Name, sum).
				WithHint("weights are shares of traffic; below 100%% the rest is not enrolled")
		}
		seed := e.Seed
		if seed == "" {
			seed = e.Name
		}
		x.Bucket = c.bucketSlot(e.By, seed)
		if c.expIndex[e.Name] == i {
			// A second experiment of the name is an error already: that
			// it shares the first's seed, its name, goes without saying.
			c.shareBucket(x.Bucket, fmt.Sprintf("experiment %q", e.Name), seed, e.Pos)
		}
		if e.Meta {
			// The host appends the <meta> tag to the page's head.
			c.selector(&syntax.Text{Value: "head", Pos: e.Pos})
		}
		c.prog.Experiments = append(c.prog.Experiments, x)
	}
}

// shareBucket warns when a second experiment or rollout buckets visitors
// with the same seed (and attribute) as another: their splits are then
// the same split (a 50% rollout named as an experiment holds exactly
// its first half), which an editor who named them alike did not mean.
func (c *checker) shareBucket(slot int, user, seed string, pos diag.Pos) {
	if c.bucketUsers == nil {
		c.bucketUsers = map[int]string{}
	}
	first, ok := c.bucketUsers[slot]
	if !ok {
		c.bucketUsers[slot] = user
		return
	}
	c.warnf(pos, "%s buckets visitors with the seed %q, as %s does: the two split them alike, not independently", user, seed, first).
		WithHint("give one of them a seed of its own (seed: %s-2026), unless they are meant to split visitors together", seed).WithCode("shared-seed")
}

// bucketSlot returns the slot of a visitor's bucket for a seed, bucketed by
// the attribute by (nil: visitor.id).
func (c *checker) bucketSlot(by syntax.Expr, seed string) int {
	from := plugin.Slot{Attr: "visitor.id"}
	if by != nil {
		a, slot, ok := c.attr(by)
		if ok {
			if a.Type != plugin.String {
				c.errorf(by.Pos(), "visitors are bucketed by a text attribute; %s is %s", by, a.Type).WithHint("bucket by visitor.id, a cookie or a header")
			} else {
				from = c.prog.Slots[slot]
			}
		}
	}
	return c.slot(plugin.Slot{Attr: "bucket", Arg: seed, From: &plugin.Slot{Attr: from.Attr, Arg: from.Arg, From: from.From}})
}

func (c *checker) rules() {
	names := make(map[string]diag.Pos, len(c.file.Rules))
	c.prog.Rules = slices.Grow(c.prog.Rules, len(c.file.Rules))
	for _, r := range c.file.Rules {
		if prev, ok := names[r.Name]; ok && r.Name != "" {
			c.errorf(r.NamePos, "a rule named %q already exists at line %d", r.Name, prev.Line).WithHint("rule names must be unique: they appear in logs, headers and tests")
		}
		names[r.Name] = r.NamePos
		rule := &ir.Rule{Name: r.Name, Description: r.Description, Pos: r.Pos}
		var conds []ir.Node
		if r.When != nil {
			conds = append(conds, c.cond(r.When))
		}
		conds = append(conds, c.schedule(r)...)
		if cp := r.AtMost; cp != nil {
			if c.capped++; c.capped == plugin.MaxCappedRules+1 {
				c.errorf(cp.Pos, "rule %q is capped rule number %d; a visitor's counts hold %d", r.Name, c.capped, plugin.MaxCappedRules).
					WithHint("past that, a rule's count is forgotten and it shows more often than its cap: cap fewer rules, or join rules that show together into one").WithCode("too-many-caps")
			}
			if cp.Window > maxCookieLife {
				c.warnf(cp.Pos, "a window of %d days is longer than a browser keeps a cookie (400 days): a visitor whose counts are in their cookie starts over 400 days after their last counted view", int(cp.Window/(24*time.Hour))).
					WithHint("write a window of 400d or less").WithCode("cap-window-too-long")
			}
			window := int(cp.Window.Seconds())
			slot := c.slot(plugin.Slot{Attr: "cap", Arg: strconv.Itoa(window) + ":" + r.Name})
			rule.Cap = &plugin.Cap{Times: cp.Times, Window: window, Slot: slot}
			switch cp.Untracked {
			case "", "hide":
			case "show":
				rule.Cap.ShowUntracked = true
			default:
				c.errorf(cp.UntrackedPos, "untracked is %q; expected hide (the default: the rule does not apply to a visitor it cannot count) or show", cp.Untracked).
					WithHint("%s", diag.DidYouMean(cp.Untracked, []string{"hide", "show"}))
			}
			conds = append(conds, &ir.NumCmp{Pos: cp.Pos, Slot: slot, Op: ir.LT, Value: float64(cp.Times)})
		}
		if ro := r.Rollout; ro != nil && ro.Percent >= 0 {
			seed := ro.Seed
			if seed == "" {
				seed = r.Name
			}
			slot := c.bucketSlot(ro.By, seed)
			c.shareBucket(slot, fmt.Sprintf("the rollout of rule %q", r.Name), seed, ro.Pos)
			limit := math.Round(ro.Percent * plugin.Buckets / 100)
			conds = append(conds, &ir.NumCmp{Pos: ro.Pos, Slot: slot, Op: ir.LT, Value: limit})
			if limit == 0 && !r.Disabled {
				what := "0% is no visitor"
				if ro.Percent > 0 {
					what = fmt.Sprintf("%g%% is less than the smallest share, 0.01%%, and rounds to no visitor", ro.Percent)
				}
				c.warnf(ro.Pos, "rule %q never matches: rollout: %s", r.Name, what).
					WithHint("to switch a rule off, write enabled: false").WithCode("never-matches")
			}
		}
		switch {
		case r.Disabled:
			rule.Cond = &ir.Const{Pos: r.Pos, Value: false}
			rule.Disabled = true
		case len(conds) == 0:
			rule.Cond = &ir.Const{Pos: r.Pos, Value: true}
		case len(conds) == 1:
			rule.Cond = conds[0]
		default:
			rule.Cond = &ir.And{Pos: r.Pos, X: conds}
		}
		rule.Actions = make([]plugin.Action, 0, len(r.Actions))
		for _, a := range r.Actions {
			if act, ok := c.action(a); ok {
				rule.Actions = append(rule.Actions, act)
			}
		}
		c.twice(r)
		c.prog.Rules = append(c.prog.Rules, rule)
	}
}

// schedule lowers `from` and `until` to comparisons with now.
func (c *checker) schedule(r *syntax.Rule) []ir.Node {
	var out []ir.Node
	var from, until time.Time
	parse := func(t *syntax.Text) (time.Time, bool) {
		v, err := parseTime(t.Value)
		if err != nil {
			c.errorf(t.Pos, "%q %s", t.Value, err).WithHint("%s", timeHint(v, err, "2026-12-24T18:00:00+01:00"))
			return v, false
		}
		return v, true
	}
	now := -1
	if r.From != nil {
		if t, ok := parse(r.From); ok {
			from = t
			now = c.slot(plugin.Slot{Attr: "now"})
			out = append(out, &ir.NumCmp{Pos: r.From.Pos, Slot: now, Op: ir.GE, Value: float64(t.Unix())})
		}
	}
	if r.Until != nil {
		if t, ok := parse(r.Until); ok {
			until = t
			now = c.slot(plugin.Slot{Attr: "now"})
			out = append(out, &ir.NumCmp{Pos: r.Until.Pos, Slot: now, Op: ir.LT, Value: float64(t.Unix())})
		}
	}
	switch {
	case !from.IsZero() && !until.IsZero() && !until.After(from):
		e := c.errorf(r.Until.Pos, "`until` is not after `from`, so the rule never applies")
		f, u := strings.TrimSpace(r.From.Value), strings.TrimSpace(r.Until.Value)
		if until.Before(from) {
			// Written the wrong way round, most likely.
			e.WithHint("swap them: from: %s, until: %s", u, f)
		} else {
			// The same instant, perhaps in two offsets: until is excluded.
			e.WithHint("the rule stops applying at its until; give an until later than %s", f)
		}
	case !until.IsZero() && !until.After(time.Now()) && !r.Disabled:
		c.warnf(r.Until.Pos, "rule %q never matches: its `until`, %s, is past", r.Name, strings.TrimSpace(r.Until.Value)).
			WithHint("give a later until, or remove the rule").WithCode("never-matches")
	}
	return out
}

// twice warns of an action of rule r that sets what an earlier action of
// r sets: one header on one side, one cookie, or a redirect. The first
// is applied and the other never is (package plan keeps the first of
// each, as it keeps the earlier rule's), which the rule, unlike two
// rules that conflict, cannot have meant.
func (c *checker) twice(r *syntax.Rule) {
	first := map[string]*syntax.Action{}
	for _, a := range r.Actions {
		var key, what string
		pos := a.Pos
		switch {
		case a.Op == plugin.OpRedirect:
			key, what = "redirect", "redirects"
		case a.Op == plugin.OpSetHeader && a.Name != nil:
			on := "response"
			if a.On != nil && strings.EqualFold(a.On.Value, "request") {
				on = "request"
			}
			name := http.CanonicalHeaderKey(a.Name.Value)
			key, what, pos = on+" "+name, "sets the "+name+" header", a.Name.Pos
		case a.Op == plugin.OpSetCookie && a.Name != nil:
			key, what, pos = "cookie "+a.Name.Value, "sets the cookie "+a.Name.Value, a.Name.Pos
		default:
			continue
		}
		if f, ok := first[key]; ok {
			c.warnf(pos, "rule %q %s twice: the first, on line %d, applies, and this one never does", r.Name, what, f.Pos.Line).
				WithHint("remove one, or move it to a rule of its own with a when: of its own").WithCode("never-applies")
			continue
		}
		first[key] = a
	}
}
