// Package ruletest runs the tests written next to rules: each test gives a
// visitor (a context, a request, or both) and says what the visitor must
// get: which rules match, which variants, and what the page, headers,
// cookies, redirect or JSON look like. A test runs through the compiled
// Wasm module and the proxy's own context builder, plan and rewriters (see
// package visit), and through the reference evaluator; the two must agree.
//
// Every test is deterministic: a visitor the test does not name is a new
// visitor whose id is derived from the test's name, so buckets, variants
// and rollouts are the same on every run.
package ruletest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Options configure a run. The zero Options are usable.
type Options struct {
	// Dir is the directory of the rule file: the page files of tests and
	// the file's `pages:` are relative to it. Empty means the working
	// directory.
	Dir string
	// Pages, when not nil, holds the origin's pages instead of the file's
	// `pages:` directory (the bundled demo site).
	Pages fs.FS
	// PagesName names Pages where a test says it lacks a page, as the
	// editor gave it ("site (--pages)"); empty names no place.
	PagesName string
	// ConsentCookie and ConsentDeny are the proxy's consent settings
	// (seen.consent_cookie, seen.consent_deny): a test visitor whose
	// cookie of that name holds one of the values declines tracking, as
	// one sending Sec-GPC: 1 does, and the proxy keeps nothing of their
	// views. Empty means Sec-GPC alone says so.
	ConsentCookie string
	ConsentDeny   []string
}

// Result is the outcome of one test.
type Result struct {
	Test *ir.Test
	// Matched are the rules that matched, by name; ThenMatched those of
	// each next view (Test.Then), in order, as far as they were run.
	Matched     []string
	ThenMatched [][]string
	// Failures says what went wrong; empty when the test passed.
	Failures []string
	// Notes say, when a page check failed, which edits could not apply
	// because the page leaves out the tag of an element their selector
	// names (visit.Result.Implied): the check reads the browser's page,
	// which has the element.
	Notes []string
	// Rendered says the test's page was rewritten (a page was given or
	// found for its URL).
	Rendered bool

	json bool // the rendered page is JSON

	matched []int
	// actions records what became of each action of the matched rules.
	actions map[[2]int]actionFate
}

// Passed reports whether the test passed.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// DefaultUserAgent is the User-Agent of test requests that give none: a
// desktop browser, since tests describe visitors, not scripts.
const DefaultUserAgent = visit.DefaultUserAgent

// Run runs every test of prog against s, which must be loaded from prog.
func Run(ctx context.Context, s *site.Site, prog *ir.Program) ([]Result, error) {
	return RunWith(ctx, s, prog, Options{})
}

// RunWith runs every test of prog against s with options.
func RunWith(ctx context.Context, s *site.Site, prog *ir.Program, opt Options) ([]Result, error) {
	var out []Result
	for _, t := range prog.Tests {
		out = append(out, runOne(ctx, s, prog, t, opt))
	}
	return out, nil
}

// Spec returns the visitor a test describes.
func Spec(prog *ir.Program, t *ir.Test) visit.Spec {
	spec := visit.Spec{Values: t.Values, Buckets: t.Buckets, Visitor: t.Visitor, New: t.New, At: t.At, Seen: t.Seen,
		NewID: visit.DerivedID("test:" + t.Name)}
	if r := t.Request; r != nil {
		spec.Method, spec.URL, spec.Headers, spec.Cookies = r.Method, r.URL, r.Headers, r.Cookies
	}
	if len(t.Variants) > 0 {
		spec.Variants = map[string]string{}
		for x, v := range t.Variants {
			e := prog.Experiments[x]
			spec.Variants[e.Name] = e.Variants[v]
		}
	}
	if len(t.Shown) > 0 {
		spec.Shown = map[string]int{}
		for ri, n := range t.Shown {
			spec.Shown[prog.Rules[ri].Name] = n
		}
	}
	return spec
}

// runOne runs a test: its view, then each of its next views with what
// the views before it left, as the proxy keeps it (visit.Result.Next).
func runOne(ctx context.Context, s *site.Site, prog *ir.Program, t *ir.Test, opt Options) Result {
	spec := Spec(prog, t)
	spec.ConsentCookie, spec.ConsentDeny = opt.ConsentCookie, opt.ConsentDeny
	res, v, out := runView(ctx, s, prog, t, spec, opt)
	page := t.Page
	for i, view := range t.Then {
		if v == nil || out == nil {
			res.Failures = append(res.Failures, fmt.Sprintf("view %d: %s: not run: the view before it was not served", i+2, view.Pos))
			break
		}
		spec = v.Next(spec, out)
		if view.URL != "" {
			spec.URL = view.URL
			page = nil
		}
		if view.Page == nil && page != nil {
			// The same address as the view before: the same page.
			same := *view
			same.Page = page
			view = &same
		}
		page = view.Page
		var next Result
		next, v, out = runView(ctx, s, prog, view, spec, opt)
		res.merge(next, fmt.Sprintf("view %d: ", i+2))
		res.ThenMatched = append(res.ThenMatched, next.Matched)
	}
	return res
}

// merge adds what a next view of the test found: its failures, prefixed,
// and the rules it matched and actions it applied, for coverage.
func (r *Result) merge(view Result, prefix string) {
	for _, f := range view.Failures {
		r.Failures = append(r.Failures, prefix+f)
	}
	for _, ri := range view.matched {
		if !slices.Contains(r.matched, ri) {
			r.matched = append(r.matched, ri)
		}
	}
	for k, f := range view.actions {
		if fateRank[f] > fateRank[r.actions[k]] {
			r.actions[k] = f
		}
	}
}

// runView runs one view of a test, t (the test or one of its next views),
// as spec describes it; it returns the decision and the response, nil
// when the visit could not be made.
func runView(ctx context.Context, s *site.Site, prog *ir.Program, t *ir.Test, spec visit.Spec, opt Options) (Result, *visit.Result, *visit.Output) {
	res := Result{Test: t, actions: map[[2]int]actionFate{}}
	var failures []failure
	fail := func(pos diag.Pos, format string, args ...any) {
		failures = append(failures, failure{pos, fmt.Sprintf(format, args...)})
	}
	// done says the failures in the order of the file, each at its
	// place, as the editor reads the test.
	done := func() Result {
		sort.SliceStable(failures, func(i, j int) bool {
			a, b := failures[i].pos, failures[j].pos
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		for _, f := range failures {
			res.Failures = append(res.Failures, f.pos.String()+": "+f.msg)
		}
		return res
	}
	v, err := visit.Run(ctx, s, prog, spec)
	if err != nil {
		fail(t.Pos, "%v", err)
		return done(), nil, nil
	}
	if v.Disagree {
		fail(t.Pos, "the compiled module and the reference evaluator disagree (a compiler bug; please report it)")
	}
	for _, n := range v.Notes {
		pos := t.Pos
		for xi, p := range t.VariantsPos {
			if v.NotEnrolled[prog.Experiments[xi].Name] == n {
				pos = p
			}
		}
		fail(pos, "%s", n)
	}
	res.Matched = v.Matched()
	res.matched = v.Decision.Rules(nil)
	for k, i := range t.Match {
		if !v.Decision.Has(i) {
			fail(at(t.MatchPos, k, t.Pos), "expected %s to match, but it did not%s", prog.Rules[i].Name, why(prog, v, i))
		}
	}
	for k, i := range t.NoMatch {
		if v.Decision.Has(i) {
			fail(at(t.NoMatchPos, k, t.Pos), "expected %s not to match, but it did%s", prog.Rules[i].Name, whyMatched(v, i))
		}
	}
	x := &t.Expect
	variants := make([]int, 0, len(x.Variants))
	for xi := range x.Variants {
		variants = append(variants, xi)
	}
	sort.Ints(variants)
	for _, xi := range variants {
		want, got := x.Variants[xi], v.Variant(xi)
		e := prog.Experiments[xi]
		switch {
		case want < 0 && got != "":
			fail(x.VariantPos[xi], "expected no variant of %s, got %q", e.Name, got)
		case want >= 0 && got != e.Variants[want]:
			if got == "" {
				got = "none (not enrolled: " + v.WhyNotEnrolled(prog, xi) + ")"
			} else {
				got = strconv.Quote(got)
			}
			fail(x.VariantPos[xi], "expected variant %q of %s, got %s", e.Variants[want], e.Name, got)
		}
	}
	page, perr := loadPage(prog, t, v, opt)
	needPage := len(x.Page) > 0 || len(x.JSON) > 0
	// What fails for want of a page is said at the first check that
	// reads it, or at the page the test names.
	pageChecks := t.Pos
	switch {
	case len(x.Page) > 0:
		pageChecks = x.Page[0].Pos
	case len(x.JSON) > 0:
		pageChecks = x.JSON[0].Pos
	}
	pageAt := pageChecks
	if t.Page != nil && t.Page.Pos.IsValid() {
		pageAt = t.Page.Pos
	}
	var output *visit.Output
	switch {
	case v.Plan.Redirect != nil:
		output, _ = v.Render(nil)
		if needPage {
			fail(pageChecks, "the visitor is redirected to %s, so there is no page to check", v.Plan.Redirect.Location)
		}
	case page != nil:
		output, err = v.Render(page)
		switch {
		case err != nil && page.JSON && t.Page != nil && t.Page.File != "":
			fail(pageAt, "the page is not valid JSON (%s, read as JSON): correct it, or write type: html", t.Page.File)
		case err != nil && page.JSON && t.Page != nil:
			fail(pageAt, "the page is not valid JSON (a body of type: json): correct it, or write type: html")
		case err != nil && page.JSON:
			fail(pageAt, "the page of %s is not valid JSON: correct it", v.Request.URL.Path)
		case err != nil:
			fail(pageAt, "%v", err)
		}
		res.Rendered, res.json = output != nil, page.JSON
	default:
		output, _ = v.Render(nil)
		// A page the test names and that cannot be read fails it, even
		// when it expects only rules: it does not test what it says.
		if needPage || perr != nil && t.Page != nil {
			switch {
			case perr != nil && t.Page == nil && opt.Pages == nil:
				fail(pageChecks, "no page to check: %v in %s (the file's pages:); save the page there, or give the test a page (page: { body: '<h1>Hi</h1>' })", perr, prog.Pages)
			case perr != nil && t.Page == nil && opt.PagesName != "":
				fail(pageChecks, "no page to check: %v in %s; save the page there, or give the test a page (page: { body: '<h1>Hi</h1>' })", perr, opt.PagesName)
			case perr != nil && t.Page != nil && errors.Is(perr, fs.ErrNotExist):
				// As the file is written, relative to the rule file.
				fail(pageAt, "no page to check: %s: no such file beside the rule file; save the page there, or give the test a page (page: { body: '<h1>Hi</h1>' })", t.Page.File)
			case perr != nil && t.Page != nil:
				var pe *fs.PathError
				if errors.As(perr, &pe) {
					perr = pe.Err
				}
				fail(pageAt, "no page to check: %s: %v", t.Page.File, perr)
			case perr != nil:
				fail(pageAt, "no page to check: %v", perr)
			default:
				fail(pageChecks, "no page to check: give the test a page (page: home.html, or page: { body: '<h1>Hi</h1>' }), or the file a pages: directory")
			}
		}
	}
	res.recordActions(s, prog, v, page, output)
	if output == nil {
		return done(), v, nil
	}
	set := setByRules(prog)
	checkHeaders(fail, "header", x.Headers, output.Header, set.headers)
	reqHeaders := http.Header{}
	for _, h := range v.Plan.RequestHeaders {
		reqHeaders.Set(h.Name, h.Value)
	}
	checkHeaders(fail, "request header", x.RequestHeaders, reqHeaders, set.requestHeaders)
	checkCookies(fail, x.Cookies, output.Header, set.cookies)
	checkRedirect(fail, x.Redirect, output)
	if res.Rendered && len(x.Page) > 0 {
		if page.JSON {
			fail(x.Page[0].Pos, "the page is JSON: check it with json:, not page:")
		} else {
			before := len(failures)
			checkPage(fail, prog, x.Page, page.Body, output.Body)
			if len(failures) > before {
				res.Notes = impliedNotes(s, v, page, output)
			}
		}
	}
	if res.Rendered && len(x.JSON) > 0 {
		if !page.JSON {
			fail(x.JSON[0].Pos, "the page is HTML: check it with page:, not json:")
		} else {
			checkJSON(fail, x.JSON, output.Body)
		}
	}
	return done(), v, output
}

// at is where the k-th of a list of checks is written,
// or the test's own place when the list has none (a test made in Go).
func at(list []diag.Pos, k int, test diag.Pos) diag.Pos {
	if k < len(list) && list[k].IsValid() {
		return list[k]
	}
	return test
}

// failer records the failure of a check written at pos.
type failer func(pos diag.Pos, format string, args ...any)

// failure is what failed, and where the check is written.
type failure struct {
	pos diag.Pos
	msg string
}

// why explains briefly why a rule of prog expected to match did not.
func why(prog *ir.Program, v *visit.Result, rule int) string {
	if prog.Rules[rule].Disabled {
		return ": the rule is switched off (enabled: false)"
	}
	if rule >= len(v.Traces) || v.Traces[rule].Cond == nil {
		return ""
	}
	t := v.Traces[rule].Cond
	// The first operand that failed is the reason.
	for t != nil && len(t.Children) > 0 {
		var next *eval.Trace
		for _, c := range t.Children {
			if c.Evaluated && !c.Result {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		t = next
	}
	if t == nil || t.Result {
		return ""
	}
	if c := prog.Rules[rule].Cap; c != nil && v.HeldCaps[prog.Rules[rule].Name] != "" {
		// The cap failed, read as used up: not for the views the
		// visitor was shown.
		count := prog.Slots[c.Slot].String() + " = "
		if slices.ContainsFunc(t.Values, func(s string) bool { return strings.HasPrefix(s, count) }) {
			return ": " + v.HeldCaps[prog.Rules[rule].Name]
		}
	}
	s := ": " + t.Text
	if t.Segment != "" {
		s = ": segment " + t.Segment
	}
	if len(t.Values) > 0 {
		s += " (" + strings.Join(t.Values, ", ") + ")"
	}
	return s + " does not hold"
}

// whyMatched explains briefly why a rule expected not to match did: its
// condition, with the values it read.
func whyMatched(v *visit.Result, rule int) string {
	if rule >= len(v.Traces) {
		return ""
	}
	t := v.Traces[rule].Cond
	if t == nil || t.Text == "true" && len(t.Children) == 0 {
		return ": it has no condition, so it applies to every visitor"
	}
	var values []string
	var walk func(t *eval.Trace)
	walk = func(t *eval.Trace) {
		if !t.Evaluated {
			return
		}
		for _, x := range t.Values {
			if !slices.Contains(values, x) {
				values = append(values, x)
			}
		}
		for _, c := range t.Children {
			walk(c)
		}
	}
	walk(t)
	s := ": " + t.Text
	if t.Segment != "" {
		s = ": segment " + t.Segment
	}
	if len(values) > 0 {
		s += " (" + strings.Join(values, ", ") + ")"
	}
	return s + " holds"
}

// loadPage finds the origin's answer for a test: its own page, else the
// page of its URL under the pages directory. A nil page with a nil error
// means there is none to find.
func loadPage(prog *ir.Program, t *ir.Test, v *visit.Result, opt Options) (*visit.Page, error) {
	if p := t.Page; p != nil {
		if p.File != "" {
			return visit.PageFromFile(ir.FromFile(opt.Dir, p.File), p.Type)
		}
		return &visit.Page{Body: []byte(p.Body), JSON: p.Type == "json"}, nil
	}
	pages := opt.Pages
	if pages == nil && prog.Pages != "" {
		pages = os.DirFS(ir.FromFile(opt.Dir, prog.Pages))
	}
	if pages == nil {
		return nil, nil
	}
	return visit.PageFromFS(pages, v.Request.URL.Path)
}

// named are the names of what prog's rules can set: response and request
// headers (canonical), cookies.
type named struct {
	headers, requestHeaders, cookies []string
}

// setByRules returns what the rules of prog can set, and the headers the
// proxy adds for them (X-Bespoke-Experiments, a redirect's Location).
func setByRules(prog *ir.Program) named {
	var n named
	if len(prog.Experiments) > 0 {
		n.headers = append(n.headers, plan.ExperimentsHeader)
	}
	for _, r := range prog.Rules {
		for _, a := range r.Actions {
			switch a.Op {
			case plugin.OpSetHeader:
				if a.On == "request" {
					n.requestHeaders = append(n.requestHeaders, http.CanonicalHeaderKey(a.Name))
				} else {
					n.headers = append(n.headers, http.CanonicalHeaderKey(a.Name))
				}
			case plugin.OpSetCookie:
				n.cookies = append(n.cookies, a.Name)
				n.headers = append(n.headers, "Set-Cookie")
			case plugin.OpRedirect:
				n.headers = append(n.headers, "Location")
			}
		}
	}
	return n
}

// neverSet fails an expectation that something no rule sets is absent,
// of, what it is (a header, a cookie) and name its name: it holds
// whatever the rules do, a typo in the name most often. set are the
// names the rules set.
func neverSet(fail failer, e ir.Expected, what string, set []string) bool {
	if e.Value != nil || slices.Contains(set, e.Name) {
		return false
	}
	msg := fmt.Sprintf("expected no %s %s, which no rule sets: the check holds whatever the rules do", what, e.Name)
	if near := diag.Nearest(e.Name, set); near != "" {
		msg += "; did you mean " + near + "?"
	}
	fail(e.Pos, "%s", msg)
	return true
}

// noRuleSets adds to the failure of something expected and not set,
// name, that no rule sets it, when none of set is it, with the nearest
// one a rule does: a typo in the name reads otherwise as a rule that did
// not apply.
func noRuleSets(name string, set []string) string {
	if slices.Contains(set, name) {
		return ""
	}
	s := ", and no rule sets it"
	if near := diag.Nearest(name, set); near != "" {
		s += "; did you mean " + near + "?"
	}
	return s
}

func checkHeaders(fail failer, what string, want []ir.Expected, h http.Header, set []string) {
	for _, e := range want {
		if neverSet(fail, e, what, set) {
			continue
		}
		got, ok := h[e.Name]
		switch {
		case e.Value == nil && ok:
			fail(e.Pos, "expected no %s %s, got %q", what, e.Name, got[0])
		case e.Value != nil && !ok:
			fail(e.Pos, "expected %s %s: %q, but it is not set%s", what, e.Name, *e.Value, noRuleSets(e.Name, set))
		case e.Value != nil && got[0] != *e.Value:
			why := ""
			if what == "header" && e.Name == "Cache-Control" && strings.Contains(strings.ToLower(got[0]), "private") && !strings.Contains(strings.ToLower(*e.Value), "private") {
				// The rule's set_header wrote what the test expects,
				// and the proxy's plan overrode it, as it does live.
				why = ": the proxy sends a page made for this visitor private, whatever the origin or a rule's set_header says: expect what it sends"
			}
			fail(e.Pos, "expected %s %s: %q, got %q%s", what, e.Name, *e.Value, got[0], why)
		}
	}
}

func checkCookies(fail failer, want []ir.Expected, h http.Header, names []string) {
	set := map[string]string{}
	for _, line := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil {
			set[c.Name] = c.Value
		}
	}
	for _, e := range want {
		if neverSet(fail, e, "cookie", names) {
			continue
		}
		got, ok := set[e.Name]
		switch {
		case e.Value == nil && ok:
			fail(e.Pos, "expected no cookie %s, got %s=%q", e.Name, e.Name, got)
		case e.Value != nil && !ok:
			fail(e.Pos, "expected cookie %s=%q, but it is not set%s", e.Name, *e.Value, noRuleSets(e.Name, names))
		case e.Value != nil && got != *e.Value && decoded(got) != *e.Value:
			// As sent, or as cookie() reads it back (percent-decoded):
			// set_cookie encodes what a cookie cannot hold.
			fail(e.Pos, "expected cookie %s=%q, got %q", e.Name, *e.Value, got)
		}
	}
}

// decoded is a cookie's value percent-decoded, as cookie() reads it; as
// it is when it does not decode.
func decoded(v string) string {
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func checkRedirect(fail failer, want *ir.Redirect, out *visit.Output) {
	if want == nil {
		return
	}
	loc := out.Header.Get("Location")
	redirected := out.Status >= 300 && out.Status < 400 && loc != ""
	switch {
	case want.None && redirected:
		fail(want.Pos, "expected no redirect, got %d to %s", out.Status, loc)
		return
	case want.None:
		return
	}
	expected := "a redirect to " + want.To
	if want.Status != 0 {
		expected += fmt.Sprintf(" with status %d", want.Status)
	}
	if !redirected {
		fail(want.Pos, "expected %s, got none", expected)
		return
	}
	// Every difference at once: said one at a time, the status that
	// differs too shows only once the target is fixed.
	toDiffers, statusDiffers := loc != want.To, want.Status != 0 && out.Status != want.Status
	switch {
	case toDiffers && statusDiffers:
		fail(want.Pos, "expected %s, got one to %s with status %d", expected, loc, out.Status)
	case toDiffers:
		fail(want.Pos, "expected a redirect to %s, got one to %s", want.To, loc)
	case statusDiffers:
		fail(want.Pos, "expected a redirect with status %d, got %d", want.Status, out.Status)
	}
}

// checkPage checks the rewritten page, body, made from the origin's,
// origin.
func checkPage(fail failer, prog *ir.Program, checks []ir.PageCheck, origin, body []byte) {
	doc, err := parseDoc(body)
	if err != nil {
		fail(checks[0].Pos, "the rewritten page does not parse: %v", err)
		return
	}
	for _, c := range checks {
		sel, err := selector.Parse(c.Selector)
		if err != nil {
			fail(c.Pos, "%v", err)
			continue
		}
		els := queryAll(doc, sel)
		where := fmt.Sprintf("page %q", c.Selector)
		if c.HasCount && len(els) != c.Count {
			if c.Count == 0 {
				fail(c.Pos, "%s: expected gone, but %d element(s) match, the first %s", where, len(els), describe(els[0]))
			} else {
				fail(c.Pos, "%s: expected %d element(s), %d match", where, c.Count, len(els))
			}
			continue
		}
		if c.HasCount && c.Count == 0 {
			if miss, near := alwaysGone(prog, origin, sel); miss != "" {
				msg := fmt.Sprintf("%s: expected gone, which it always is: no element of the page the origin sends, nor of the html the rules insert, %s", where, miss)
				if near != "" {
					msg += "; did you mean " + near + "?"
				}
				fail(c.Pos, "%s", msg)
			}
			continue
		}
		if len(els) == 0 {
			fail(c.Pos, "%s: %s", where, noElement(prog, origin, sel))
			continue
		}
		el := els[0]
		got := text(el)
		// Each field fails where it is written, the selector's place
		// for a check made without them.
		field := func(p diag.Pos) diag.Pos {
			if !p.IsValid() {
				return c.Pos
			}
			return p
		}
		if c.Text != nil && got != strings.Join(strings.Fields(*c.Text), " ") {
			fail(field(c.TextPos), "%s: expected the text %q, got %q", where, *c.Text, got)
		}
		if c.Contains != nil && !strings.Contains(got, strings.Join(strings.Fields(*c.Contains), " ")) {
			fail(field(c.ContainsPos), "%s: expected the text to contain %q, got %q", where, *c.Contains, got)
		}
		for _, a := range c.Attrs {
			apos := field(a.Pos)
			v, ok := attr(el, a.Name)
			switch {
			case a.Value == nil && ok:
				fail(apos, "%s: expected no %s attribute, got %s=%q", where, a.Name, a.Name, v)
			case a.Value != nil && !ok:
				fail(apos, "%s: expected %s=%q, but it has no %s attribute", where, a.Name, *a.Value, a.Name)
			case a.Value != nil && v != *a.Value:
				fail(apos, "%s: expected %s=%q, got %q", where, a.Name, *a.Value, v)
			}
		}
		for i, cl := range c.Classes {
			if !hasClass(el, cl) {
				v, _ := attr(el, "class")
				var p diag.Pos
				if i < len(c.ClassPos) {
					p = c.ClassPos[i]
				}
				fail(field(p), "%s: expected the class %q, got class=%q", where, cl, v)
			}
		}
	}
}

// noElement says why no element of the rewritten page matches sel: an
// element of the origin's page the rules took away, a selector nothing
// could ever match (a typo most often: with the nearest that one does),
// or one the origin's page does not match either.
func noElement(prog *ir.Program, origin []byte, sel selector.List) string {
	if doc, err := parseDoc(origin); err == nil {
		if n := len(queryAll(doc, sel)); n > 0 {
			return fmt.Sprintf("no element matches, where the page the origin sends has %d: the rules removed or replaced it", n)
		}
	}
	if miss, near := alwaysGone(prog, origin, sel); miss != "" {
		msg := "no element matches: no element of the page the origin sends, nor of the html the rules insert, " + miss
		if near != "" {
			msg += "; did you mean " + near + "?"
		}
		return msg
	}
	return "no element matches, on the page the origin sends either: check the selector against that page, or that a rule inserts the element"
}

func checkJSON(fail failer, want []ir.Expected, body []byte) {
	if !gjson.ValidBytes(body) {
		fail(want[0].Pos, "the rewritten JSON is not valid")
		return
	}
	for _, e := range want {
		// Read as the visitor's JSON.parse reads it (the last of a
		// repeated key), as the rules' edits address it.
		r := jsonrw.Get(string(body), e.Name)
		where := "json " + e.Name
		switch {
		case e.Value == nil && r.Exists() && r.Type == gjson.Null:
			// YAML reads a bare null as ~: missing. A JSON null is
			// written quoted.
			fail(e.Pos, "%s: expected missing, got null (in YAML, a bare null means missing: to expect JSON null, write 'null')", where)
		case e.Value == nil && r.Exists():
			fail(e.Pos, "%s: expected missing, got %s", where, r.Raw)
		case e.Value == nil:
		case !r.Exists():
			fail(e.Pos, "%s: expected %q, but it is missing", where, *e.Value)
		case !jsonEqual(r, *e.Value):
			fail(e.Pos, "%s: expected %s, got %s", where, *e.Value, r.Raw)
		}
	}
}

// jsonEqual compares a JSON value with a value as a test writes it: a
// string's text, a number's value, true or false, or raw JSON.
func jsonEqual(r gjson.Result, want string) bool {
	switch r.Type {
	case gjson.String:
		return r.Str == want
	case gjson.Number:
		return sameNumber(r.Raw, strings.TrimSpace(want))
	case gjson.True, gjson.False:
		return strings.TrimSpace(want) == r.Raw
	}
	if !gjson.Valid(want) {
		return false
	}
	return sameJSON(r, gjson.Parse(want))
}

// sameNumber compares two JSON numbers exactly, as decimals:
// 12345678901234567999 is not 12345678901234567890, though both round to
// one float64, and 1e400, past float64, still equals itself.
func sameNumber(a, b string) bool {
	var x, y big.Rat
	_, ok1 := x.SetString(a)
	_, ok2 := y.SetString(b)
	return ok1 && ok2 && x.Cmp(&y) == 0
}

// sameJSON reports whether two valid JSON values are the same value, as
// a visitor's JSON.parse reads them: an object's members in any order,
// of a repeated key the last, texts by their characters whatever their
// escapes, numbers by their value. Comparing the texts with their spaces
// removed took "MIT License" for "MITLicense", and an object written in
// another order, or with an escape, for another object.
func sameJSON(a, b gjson.Result) bool {
	switch {
	case a.IsObject() && b.IsObject():
		am, bm := lastMembers(a), lastMembers(b)
		if len(am) != len(bm) {
			return false
		}
		for k, v := range am {
			w, ok := bm[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case a.IsArray() && b.IsArray():
		as, bs := a.Array(), b.Array()
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if !sameJSON(as[i], bs[i]) {
				return false
			}
		}
		return true
	case a.Type != b.Type || a.IsObject() != b.IsObject() || a.IsArray() != b.IsArray():
		return false
	case a.Type == gjson.String:
		return a.Str == b.Str
	case a.Type == gjson.Number:
		return sameNumber(a.Raw, b.Raw)
	}
	return true // both null, both true or both false
}

// lastMembers returns an object's members by key, the last of a key
// repeated.
func lastMembers(o gjson.Result) map[string]gjson.Result {
	m := map[string]gjson.Result{}
	o.ForEach(func(k, v gjson.Result) bool {
		m[k.Str] = v
		return true
	})
	return m
}

// alwaysGone says what no element of the origin's page, nor of the html
// prog's rules insert, is or has of what sel names ("has the id
// \"promos\""), with the nearest that one does ("#promo"): a check that
// such an element is gone holds whatever the rules do, a typo in its
// selector most often. It returns "" when an element may match sel: one
// of the page or of the inserted html has each id, class and tag of it,
// or a rule gives an element a class or id (add_class, set_attr).
func alwaysGone(prog *ir.Program, origin []byte, sel selector.List) (miss, near string) {
	doc, err := parseDoc(origin)
	if err != nil {
		return "", ""
	}
	docs := []*html.Node{doc}
	ids, classes := map[string]bool{}, map[string]bool{}
	for _, r := range prog.Rules {
		for _, a := range r.Actions {
			literal := true
			for _, p := range a.Value {
				literal = literal && p.Slot < 0 && p.Experiment == 0
			}
			switch {
			case a.Op == plugin.OpAddClass:
				classes[a.Name] = true
			case a.Op == plugin.OpSetAttr && (strings.EqualFold(a.Name, "class") || strings.EqualFold(a.Name, "id")):
				if !literal {
					// Any class or id, by the visitor's values.
					return "", ""
				}
				var b strings.Builder
				for _, p := range a.Value {
					b.WriteString(p.Text)
				}
				if strings.EqualFold(a.Name, "id") {
					ids[b.String()] = true
					continue
				}
				for _, f := range strings.Fields(b.String()) {
					classes[f] = true
				}
			case a.HTML && len(a.Content) > 0:
				if d := insertedDoc(a); d != nil {
					docs = append(docs, d)
				}
			}
		}
	}
	pageIDs, pageClasses, tags := names(docs)
	maps.Copy(ids, pageIDs)
	maps.Copy(classes, pageClasses)
	for i := range sel {
		m, n := nearest(sel[i:i+1], ids, classes, tags)
		if m == "" {
			return "", ""
		}
		if miss == "" {
			miss, near = m, n
		}
	}
	return miss, near
}

// impliedNotes are the notes of a failed page check: each edit of v's
// plan that changed nothing on page because its selector names an
// element the page has no tag for.
func impliedNotes(s *site.Site, v *visit.Result, page *visit.Page, out *visit.Output) []string {
	var notes []string
	m := s.Manifest()
	for i, n := range out.Applied {
		if n > 0 {
			continue
		}
		why := v.Implied(page, i)
		if why == "" {
			continue
		}
		rule := "(experiments)"
		if ri := v.Plan.EditRules[i]; ri >= 0 && ri < len(m.Rules) {
			rule = m.Rules[ri].Name
		}
		e := v.Plan.Edits[i]
		notes = append(notes, fmt.Sprintf("%s's %s %q changed nothing: %s", rule, plan.OpName(e.Op), m.Selectors[e.Selector], why))
	}
	return notes
}
