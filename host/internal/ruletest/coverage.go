package ruletest

import (
	"fmt"
	"strings"

	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
)

// actionFate is what became of one action of a matched rule in one test.
type actionFate uint8

const (
	// fatePlanned: the action was in the visitor's plan (a header, a
	// cookie, a redirect, an item to mark seen).
	fatePlanned actionFate = iota + 1
	// fateNoPage: a page or JSON edit in the visitor's plan, with no
	// page to apply it to: whether it does anything is not known.
	fateNoPage
	// fateApplied: the action changed the test's page.
	fateApplied
	// fateNoElement: a page edit whose selector matched nothing on the
	// test's page (or a JSON edit whose path did not).
	fateNoElement
	// fateSkipped: the action lost a conflict to an earlier rule.
	fateSkipped
	// fateOtherPage: a page edit when the test's page was JSON, or a JSON
	// edit when it was HTML.
	fateOtherPage
	// fateTaken: a page edit whose selector selects something on the
	// test's page, where another action took the element (an earlier
	// rule's on the same one, or one that replaced an element around it).
	fateTaken
	// fateRefused: a page edit that would have written values of the
	// request where the element, as the edits leave it, runs them as
	// code (a <meta>'s content that another edit gives http-equiv), and
	// was not applied there.
	fateRefused
)

// fateRank orders the fates of an action, the best last: a test that
// applied it says more than one that planned it, and so on.
var fateRank = map[actionFate]int{fateApplied: 8, fatePlanned: 7, fateRefused: 6, fateTaken: 5, fateNoElement: 4, fateOtherPage: 3, fateNoPage: 2, fateSkipped: 1}

// recordActions notes what became of every action of the matched rules.
// page is the test's page, nil when it had none.
func (r *Result) recordActions(s *site.Site, prog *ir.Program, v *visit.Result, page *visit.Page, out *visit.Output) {
	m := s.Manifest()
	for _, sk := range v.Plan.Skipped {
		r.actions[[2]int{sk.Rule, sk.Action}] = fateSkipped
	}
	edits, jsonEdits := visit.EditActions(m, v.Plan)
	for i, ai := range edits {
		ri := v.Plan.EditRules[i]
		if ri < 0 || ai < 0 {
			continue
		}
		fate := fateNoPage
		switch {
		case r.Rendered && r.json:
			fate = fateOtherPage
		case r.Rendered && out != nil:
			fate = fateNoElement
			switch {
			case i < len(out.Applied) && out.Applied[i] > 0:
				fate = fateApplied
			case i < len(out.Refused) && out.Refused[i] > 0:
				fate = fateRefused
			case page != nil && i < len(out.Applied) && v.AppliedWith(page, v.Plan.Edits[i:i+1])[0] > 0:
				fate = fateTaken
			}
		}
		r.actions[[2]int{ri, ai}] = fate
	}
	for i, ai := range jsonEdits {
		ri := v.Plan.JSONRules[i]
		if ri < 0 || ai < 0 {
			continue
		}
		fate := fateNoPage
		switch {
		case r.Rendered && !r.json:
			fate = fateOtherPage
		case r.Rendered && out != nil:
			fate = fateNoElement
			if i < len(out.JSONApplied) && out.JSONApplied[i] {
				fate = fateApplied
			}
		}
		r.actions[[2]int{ri, ai}] = fate
	}
	for _, ri := range r.matched {
		for ai, a := range m.Rules[ri].Actions {
			k := [2]int{ri, ai}
			if _, known := r.actions[k]; known || plugin.ElementOp(a.Op) || plugin.JSONOp(a.Op) {
				continue
			}
			r.actions[k] = fatePlanned
		}
	}
}

// Coverage says what of a rule file its tests never exercise.
type Coverage struct {
	Rules, RulesMatched     int
	Actions, ActionsApplied int
	// Unmatched are the rules no test matched.
	Unmatched []string
	// Unapplied are the actions no test applied, each with why.
	Unapplied []string
}

// CoverageOf sums up what the tests of prog exercised: a rule is covered
// when some test matches it; an action when some test applies it (a page
// edit changes the test's page; a header, cookie or redirect is not
// overruled by an earlier rule). A page edit that tests only planned,
// none of them having a page, is not applied: what it selects on a page
// is not known.
func CoverageOf(prog *ir.Program, results []Result) Coverage {
	var c Coverage
	matched := map[int]bool{}
	best := map[[2]int]actionFate{}
	for _, r := range results {
		for _, ri := range r.matched {
			matched[ri] = true
		}
		for k, f := range r.actions {
			if fateRank[f] > fateRank[best[k]] {
				best[k] = f
			}
		}
	}
	for ri, rule := range prog.Rules {
		c.Rules++
		c.Actions += len(rule.Actions)
		if !matched[ri] {
			c.Unmatched = append(c.Unmatched, fmt.Sprintf("%s (%s:%d:%d)", rule.Name, prog.Source, rule.Pos.Line, rule.Pos.Col))
			for _, a := range rule.Actions {
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): its rule never matched", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col))
			}
			continue
		}
		c.RulesMatched++
		for ai, a := range rule.Actions {
			switch best[[2]int{ri, ai}] {
			case fateApplied, fatePlanned:
				c.ActionsApplied++
			case fateNoElement:
				what := "its selector matched nothing on the tests' pages"
				switch a.Op {
				case plugin.OpHideSeen, plugin.OpLimit, plugin.OpReorder:
					what = "it changed nothing on the tests' pages"
				case plugin.OpJSONSet, plugin.OpJSONRemove:
					what = "its path matched nothing in the tests' JSON"
				case plugin.OpJSONHideSeen, plugin.OpJSONLimit, plugin.OpJSONReorder:
					what = "it changed nothing in the tests' JSON"
				}
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): %s", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col, what))
			case fateTaken:
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): another action took its element on the tests' pages (an earlier rule's on the same element, or one that replaced or removed an element around it; bespoke explain --html names it)", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col))
			case fateRefused:
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): refused on the tests' pages: its value comes from the request, and the element, as the edits leave it, would run it as code (bespoke explain --html says where)", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col))
			case fateOtherPage:
				what := "no test's page is HTML"
				if plugin.JSONOp(a.Op) {
					what = "no test's page is JSON"
				}
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): %s", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col, what))
			case fateNoPage:
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): planned, but no test that matched its rule had a page to apply it to (give the file pages:, or a test page:)", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col))
			case fateSkipped:
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): an earlier rule won it in every test", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col))
			default:
				c.Unapplied = append(c.Unapplied, fmt.Sprintf("%s: %s (%s:%d:%d): never applied", rule.Name, describeAction(prog, a), prog.Source, a.Pos.Line, a.Pos.Col))
			}
		}
	}
	return c
}

func describeAction(prog *ir.Program, a plugin.Action) string {
	var b strings.Builder
	b.WriteString(a.Op)
	switch {
	case a.Select >= 0 && a.Select < len(prog.Selectors):
		fmt.Fprintf(&b, " %q", prog.Selectors[a.Select])
	case a.Path != "":
		fmt.Fprintf(&b, " %s", a.Path)
	case a.Name != "":
		fmt.Fprintf(&b, " %s", a.Name)
	}
	return b.String()
}
