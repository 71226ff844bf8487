package preview

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(pageHTML))

// view is what the page shows.
type view struct {
	Targets   []targetView
	Target    int
	File      string
	Ctx       Context
	Devices   []Device
	Version   int
	Compiled  string // when the shown rules compiled
	Stale     bool   // the file does not compile: the last version that did is shown
	ReadError string
	Errors    []diagView
	Warnings  []diagView
	Problems  []string
	Result    *resultView
	// Before and After are the frames' URLs; the query they carry is
	// url.Values.Encode's, so safe as it is.
	Before, After template.URL
	// Sandbox is the frames' sandbox attribute, frameSandbox.
	Sandbox   string
	ProxyLink string
	// OriginProblem says what the origin answered, when not the page.
	OriginProblem string
	// Origin is the target's origin, without a final slash, then the
	// proxy's address when it has one, space-separated: a link clicked
	// in a frame that points under either opens its path in the preview.
	Origin string
	Capped []string
	Exps   []expChoice
	// Next is the query of this visitor's next view of the page, with
	// what this one left (visit.Result.Next); empty when the page could
	// not be had. A link followed in a frame opens with it.
	Next template.URL
	// NextSummary says what Next carries over.
	NextSummary string
}

type targetView struct {
	Index    int
	Name     string
	Selected bool
	// Query shows this target to the same visitor, at its own path.
	Query template.URL
}

type diagView struct {
	Where, Msg, Hint, Code string
	Line, Col              int
	Source                 string
	Caret                  string
}

type expChoice struct {
	Name     string
	Variants []string
	Forced   string
}

type resultView struct {
	Visitor     string
	New         bool
	Rules       []ruleView
	Experiments []expView
	Actions     []string
	// Edits are the page edits, listed after Actions, each with what
	// became of it on the origin's page; JSONEdits, the edits of a JSON
	// response, listed after them, are not applied to a page.
	Edits     []string
	JSONEdits []string
	Notes     []string
	Redirect  string
	Matched   int
}

type ruleView struct {
	Index   int
	Name    string
	Line    int
	Matched bool
	Why     *eval.Trace
}

type expView struct {
	Name, Variant string
	Bucket        int
	Forced        bool
}

func diagViews(file string, src []byte, l diag.List) []diagView {
	var out []diagView
	for _, d := range l {
		dv := diagView{Where: d.Pos.String(), Msg: d.Msg, Hint: d.Hint, Code: d.Code, Line: d.Pos.Line, Col: d.Pos.Col}
		if d.Pos.Line > 0 {
			dv.Source = strings.ReplaceAll(lineOf(src, d.Pos.Line), "\t", " ")
			col := max(d.Pos.Col-1, 0)
			col = min(col, utf8.RuneCountInString(dv.Source))
			dv.Caret = strings.Repeat(" ", col) + "^"
		}
		out = append(out, dv)
	}
	return out
}

// page serves the preview page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	vr := s.decide(r)
	defer vr.release()
	v := s.view(vr)
	switch {
	case v.Result == nil:
	case vr.res.Plan.Redirect == nil:
		s.origin(r.Context(), vr, v)
	default:
		if out, err := vr.res.Render(nil); err == nil {
			v.Next, v.NextSummary = vr.nextVisit(out), vr.nextSummary(out)
		}
	}
	// Rendered whole before the status goes: a template that fails
	// halfway is a 500, not a 200 cut short; and an editor who closes
	// the page while it is written is no error of the page's.
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

func (s *Server) view(vr *visitResult) *view {
	t := vr.t
	v := &view{Target: vr.ctx.Target, File: t.File, Ctx: vr.ctx, Devices: Devices, Version: vr.version, Problems: vr.problems}
	for i, tt := range s.targets() {
		name := tt.Name
		if name == "" {
			name = tt.File
		}
		c := vr.ctx
		c.Target, c.URL = i, ""
		v.Targets = append(v.Targets, targetView{Index: i, Name: name, Selected: i == vr.ctx.Target, Query: template.URL(c.Query().Encode())})
	}
	if c := vr.cur; c != nil {
		if c.readErr != nil {
			v.ReadError = c.readErr.Error()
		}
		v.Errors = diagViews(t.File, c.src, c.diags.Errors())
		v.Warnings = diagViews(t.File, c.src, c.diags.Warnings())
		v.Stale = vr.good != c
	}
	if g := vr.good; g != nil {
		v.Compiled = g.at.Format(time.TimeOnly)
		for _, x := range g.prog.Experiments {
			v.Exps = append(v.Exps, expChoice{Name: x.Name, Variants: x.Variants, Forced: vr.ctx.Variants[x.Name]})
		}
		for _, r := range g.prog.Rules {
			if r.Cap != nil {
				v.Capped = append(v.Capped, r.Name)
			}
		}
	}
	if vr.err != nil {
		v.Problems = append(v.Problems, vr.err.Error())
	}
	if vr.res != nil {
		v.Result = resultOf(vr)
		v.ProxyLink = vr.proxyLink()
	}
	q := vr.ctx.Query().Encode()
	v.Origin = strings.TrimSuffix(t.Origin.String(), "/")
	if t.Proxy != "" {
		v.Origin += " " + strings.TrimSuffix(t.Proxy, "/")
	}
	// A place in the page (/stores#Lyon) is the frames' own fragment:
	// the browser scrolls both to it, as it would the visitor's page.
	frag := ""
	if _, f, ok := strings.Cut(vr.ctx.URL, "#"); ok && f != "" {
		frag = "#" + (&url.URL{Fragment: f}).EscapedFragment()
	}
	v.Before = template.URL("/frame?side=before&" + q + frag)
	v.After = template.URL("/frame?side=after&" + q + frag)
	v.Sandbox = frameSandbox
	return v
}

func resultOf(vr *visitResult) *resultView {
	res := vr.res
	prog := vr.good.prog
	m := vr.good.site.Manifest()
	rv := &resultView{Visitor: res.Visitor.ID, New: res.Visitor.New, Notes: slices.Concat(res.Notes, res.HeldNotes())}
	for i, r := range prog.Rules {
		row := ruleView{Index: i, Name: r.Name, Line: r.Pos.Line, Matched: res.Decision.Has(i)}
		if i < len(res.Traces) {
			row.Why = res.Traces[i].Cond
		}
		if row.Matched {
			rv.Matched++
		}
		rv.Rules = append(rv.Rules, row)
	}
	for i, x := range prog.Experiments {
		_, forced := vr.spec.Variants[x.Name]
		rv.Experiments = append(rv.Experiments, expView{Name: x.Name, Variant: res.Variant(i), Bucket: res.Bucket(x.Bucket), Forced: forced})
	}
	p := res.Plan
	name := func(i int) string {
		if i < 0 || i >= len(m.Rules) {
			return "(experiments)"
		}
		return m.Rules[i].Name
	}
	if p.Redirect != nil {
		rv.Redirect = fmt.Sprintf("%s: redirect %d to %s", name(p.Redirect.Rule), p.Redirect.Status, p.Redirect.Location)
	}
	for _, h := range p.RequestHeaders {
		rv.Actions = append(rv.Actions, fmt.Sprintf("%s: request header %s: %s", name(h.Rule), h.Name, h.Value))
	}
	for _, h := range p.ResponseHeaders {
		rv.Actions = append(rv.Actions, fmt.Sprintf("%s: response header %s: %s", name(h.Rule), h.Name, h.Value))
	}
	for _, c := range p.Cookies {
		rv.Actions = append(rv.Actions, fmt.Sprintf("%s: cookie %s", name(c.Rule), c.String()))
	}
	for i, e := range p.Edits {
		rv.Edits = append(rv.Edits, fmt.Sprintf("%s: %s %s", name(p.EditRules[i]), plan.OpName(e.Op), m.Selectors[e.Selector]))
	}
	for i, e := range p.JSONEdits {
		rv.JSONEdits = append(rv.JSONEdits, fmt.Sprintf("%s: %s %s", name(p.JSONRules[i]), plan.JSONOpName(e.Op), e.Path))
	}
	for i, id := range p.MarkSeen {
		rv.Actions = append(rv.Actions, fmt.Sprintf("%s: mark seen %q (the next visit has it seen)", name(p.MarkSeenRules[i]), id))
	}
	for _, sk := range p.Skipped {
		rv.Actions = append(rv.Actions, fmt.Sprintf("skipped: %s action %d (%s; %s wins)", name(sk.Rule), sk.Action+1, sk.Reason, name(sk.Winner)))
	}
	return rv
}

// origin fetches the page of the visit, as its frames do, to say what
// the origin answered and which of the rules' page edits applied: an
// edit that lost its element to another, or found none, is listed as
// not applied.
func (s *Server) origin(ctx context.Context, vr *visitResult, v *view) {
	page, err := s.fetch(ctx, vr)
	if err != nil {
		v.OriginProblem = "The origin did not answer: " + err.Error()
		return
	}
	out, err := vr.res.Render(page)
	if err == nil {
		v.Next, v.NextSummary = vr.nextVisit(out), vr.nextSummary(out)
	}
	p := vr.res.Plan
	st := cmp.Or(page.Status, http.StatusOK)
	if st != http.StatusOK {
		v.OriginProblem = fmt.Sprintf("The origin answered %d %s", st, http.StatusText(st))
		if loc := page.Header.Get("Location"); loc != "" {
			v.OriginProblem += " to " + loc
		}
		v.OriginProblem += ": the proxy passes it on as it is, without the rules' page edits."
		for i := range p.Edits {
			v.Result.Edits[i] += fmt.Sprintf(" (not applied: the origin answered %d)", st)
		}
		for i := range p.JSONEdits {
			v.Result.JSONEdits[i] += fmt.Sprintf(" (not applied: the origin answered %d)", st)
		}
		return
	}
	// A response is a page or JSON: the other kind's edits do nothing
	// to it, as in the proxy.
	if page.JSON {
		for i := range p.Edits {
			v.Result.Edits[i] += " (not applied: the response is JSON, not HTML)"
		}
		return
	}
	for i := range p.JSONEdits {
		v.Result.JSONEdits[i] += " (not applied: the response is not JSON)"
	}
	if len(p.Edits) == 0 {
		return
	}
	if err == nil && out.Untouched != "" {
		v.OriginProblem = fmt.Sprintf("The proxy passes this page as the origin sent it (%s), without the rules' page edits.", untouchedWhy(out.Untouched))
		for i := range p.Edits {
			v.Result.Edits[i] += " (not applied: the page passes untouched, " + out.Untouched + ")"
		}
		return
	}
	if err != nil || len(out.Applied) != len(p.Edits) {
		return
	}
	m := vr.good.site.Manifest()
	for i, n := range out.Applied {
		if n > 0 {
			continue
		}
		why := ""
		if j, ok := vr.res.TakenBy(page, out.Applied, i); ok {
			why = fmt.Sprintf("%s's %s %s took its element", ruleName(m, p.EditRules[j]), plan.OpName(p.Edits[j].Op), m.Selectors[p.Edits[j].Selector])
		} else {
			why = vr.res.Unchanged(page, i)
		}
		v.Result.Edits[i] += " (not applied: " + why + ")"
	}
}

// untouchedWhy says in words why the proxy passes a page untouched.
func untouchedWhy(reason string) string {
	switch reason {
	case "too_large":
		return "it is larger than limits.max_rewrite_bytes"
	case "no_transform":
		return "its Cache-Control says no-transform"
	case "xhtml":
		return "it is XHTML, which browsers read as XML"
	case "content_type":
		return "its Content-Type names more than one type"
	case "attachment":
		return "it is sent to be saved (Content-Disposition: attachment)"
	case "encoding":
		return "its Content-Encoding is one the proxy cannot undo"
	case visit.UntouchedType:
		return "it is not an HTML page"
	}
	return reason
}

func ruleName(m *plugin.Manifest, i int) string {
	if i < 0 || i >= len(m.Rules) {
		return "(experiments)"
	}
	return m.Rules[i].Name
}

// State is what GET /state answers: the page's content as JSON, for tools
// and tests.
type State struct {
	Version  int               `json:"version"`
	Stale    bool              `json:"stale"`
	Errors   []diag.JSON       `json:"errors"`
	Warnings []diag.JSON       `json:"warnings"`
	Problems []string          `json:"problems,omitempty"`
	Visitor  string            `json:"visitor,omitempty"`
	Matched  []string          `json:"matched"`
	Variants map[string]string `json:"variants,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Link     string            `json:"link,omitempty"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	vr := s.decide(r)
	defer vr.release()
	st := State{Version: vr.version, Problems: vr.problems, Errors: []diag.JSON{}, Warnings: []diag.JSON{}, Matched: []string{}}
	if c := vr.cur; c != nil {
		for _, d := range c.diags {
			if d.Severity == diag.SeverityWarning {
				st.Warnings = append(st.Warnings, d.JSON())
			} else {
				st.Errors = append(st.Errors, d.JSON())
			}
		}
		if c.readErr != nil {
			st.Errors = append(st.Errors, diag.JSON{File: vr.t.File, Severity: "error", Message: c.readErr.Error()})
		}
		st.Stale = vr.good != c
	}
	if vr.err != nil {
		st.Problems = append(st.Problems, vr.err.Error())
	}
	if res := vr.res; res != nil {
		st.Visitor = res.Visitor.ID
		st.Matched = append(st.Matched, res.Matched()...)
		st.Notes = slices.Concat(res.Notes, res.HeldNotes())
		for i, x := range vr.good.prog.Experiments {
			if st.Variants == nil {
				st.Variants = map[string]string{}
			}
			st.Variants[x.Name] = res.Variant(i)
		}
		st.Link = vr.proxyLink()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

// Interface guards.
var _ http.Handler = (*Server)(nil)

// nextVisit returns the query of the visitor's next view of the page
// after it was served out: the same visitor, returning, with the items it
// was shown counted as seen, the capped rules it applied counted, and the
// rules' cookies.
func (vr *visitResult) nextVisit(out *visit.Output) template.URL {
	next := vr.res.Next(vr.spec, out)
	c := vr.ctx
	if !vr.res.Untracked {
		// A visitor who declines tracking gets no id: a new one again.
		if c.Visitor == "" {
			c.Visitor = next.Visitor
		}
		c.Returning = true
	}
	c.Seen = strings.Join(next.Seen, " ")
	c.Shown = map[string]string{}
	for name, n := range next.Shown {
		c.Shown[name] = strconv.Itoa(n)
	}
	var cookies []string
	for _, ck := range next.Cookies {
		cookies = append(cookies, ck[0]+"="+ck[1])
	}
	c.Cookies = strings.Join(cookies, "\n")
	return template.URL("?" + c.Query().Encode())
}

// nextSummary says in words what a view left for the next one.
func (vr *visitResult) nextSummary(out *visit.Output) string {
	var parts []string
	if vr.res.Untracked {
		parts = append(parts, "nothing kept: the visitor declines tracking")
	} else if n := len(out.Shown) + len(out.Marked); n > 0 {
		parts = append(parts, fmt.Sprintf("%d item%s seen", n, map[bool]string{true: "s"}[n > 1]))
	}
	for _, name := range out.Counted {
		parts = append(parts, name+" counted once more")
	}
	for _, c := range vr.res.Plan.Cookies {
		parts = append(parts, "cookie "+c.Name+map[bool]string{true: " removed", false: " set"}[c.MaxAge < 0])
	}
	if len(parts) == 0 {
		return "nothing recorded"
	}
	return strings.Join(parts, ", ")
}
