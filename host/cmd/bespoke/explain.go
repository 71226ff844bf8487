package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/demo"
	"github.com/bespoke-edge/bespoke/host/device"
	"github.com/bespoke-edge/bespoke/host/engine"
	"github.com/bespoke-edge/bespoke/host/plan"
	"github.com/bespoke-edge/bespoke/host/proxy"
	"github.com/bespoke-edge/bespoke/host/reqctx"
	"github.com/bespoke-edge/bespoke/host/rewrite"
	"github.com/bespoke-edge/bespoke/host/ruletest"
	"github.com/bespoke-edge/bespoke/host/site"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules"
	"github.com/bespoke-edge/bespoke/rules/eval"
	"github.com/bespoke-edge/bespoke/rules/ir"
)

// loaded is a plugin loaded for a command, with its IR when it came from a
// rule file (explanations need the IR; a .wasm has only the manifest).
type loaded struct {
	site *site.Site
	prog *ir.Program
	eng  *engine.Engine
}

func (l *loaded) close() {
	ctx := context.Background()
	l.site.Close(ctx)
	l.eng.Close(ctx)
}

func loadForCommand(ctx context.Context, stderr io.Writer, rulesFile, pluginFile string, rc reqctx.Config) (*loaded, error) {
	eng, err := engine.New(engine.Config{CacheDir: "-", PoolSize: 1})
	if err != nil {
		return nil, err
	}
	var art *plugin.Artifact
	var prog *ir.Program
	name := rulesFile
	switch {
	case pluginFile != "":
		name = pluginFile
		art, err = site.ReadPlugin(pluginFile)
	case rulesFile == "":
		name = demo.RulesName
		var res *rules.Result
		res, err = rules.Compile(name, demo.Rules())
		if res != nil {
			art, prog = res.Artifact, res.Program
		}
	default:
		var res *rules.Result
		res, err = rules.CompileFile(rulesFile)
		if res != nil {
			art, prog = res.Artifact, res.Program
		}
	}
	if err != nil {
		eng.Close(ctx)
		return nil, report(stderr, err)
	}
	s, err := site.Load(ctx, eng, name, art, rc)
	if err != nil {
		eng.Close(ctx)
		return nil, err
	}
	return &loaded{site: s, prog: prog, eng: eng}, nil
}

func explainCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explain", stderr, "[--rules FILE | --plugin FILE.wasm] [request options]")
	rulesFile := fs.String("rules", "", "rule `file` (default: the bundled demo rules)")
	pluginFile := fs.String("plugin", "", "compiled plugin `file` instead of a rule file")
	var headers, cookies, sets multiFlag
	fs.Var(&headers, "header", "request header `'Name: value'` (repeatable)")
	fs.Var(&cookies, "cookie", "request cookie `name=value` (repeatable)")
	fs.Var(&sets, "set", "set an attribute directly, `attr=value`: geo.city=Lyon, cookie(plan)=pro (repeatable)")
	ua := fs.String("user-agent", "", "User-Agent of the visitor")
	target := fs.String("url", "/", "request `path` and query")
	var g geoFlags
	g.register(fs)
	ip := fs.String("ip", "", "the visitor's `address` (for --geoip and X-Forwarded-For handling)")
	at := fs.String("at", "", "the request `time`, RFC 3339 (default: now), for schedules and visitor.hour")
	visitor := fs.String("visitor", "", "the visitor `id` (default: a new visitor)")
	showHTML := fs.Bool("html", false, "print the page as this visitor sees it")
	page := fs.String("page", "", "with --html: the page `file` to rewrite (default: the demo site's page for --url)")
	origin := fs.String("origin", "", "with --html: fetch the page from this origin `URL`")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	rc, closeGeo, err := g.config()
	if err != nil {
		return err
	}
	defer closeGeo()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usagef("--at %q: write an RFC 3339 time such as 2026-12-24T18:00:00+01:00", *at)
		}
		rc.Now = func() time.Time { return t }
	}
	ctx := context.Background()
	l, err := loadForCommand(ctx, stderr, *rulesFile, *pluginFile, rc)
	if err != nil {
		return err
	}
	defer l.close()

	hr := httptest.NewRequest(http.MethodGet, *target, nil)
	// The request comes from the visitor's address, or from loopback as a
	// CDN or load balancer in front would.
	hr.RemoteAddr = "127.0.0.1:40000"
	if *ip != "" {
		addr, err := netip.ParseAddr(*ip)
		if err != nil {
			return usagef("--ip %q: %v", *ip, err)
		}
		hr.RemoteAddr = netip.AddrPortFrom(addr, 40000).String()
	}
	if *visitor != "" {
		hr.AddCookie(&http.Cookie{Name: reqctx.VisitorCookie, Value: *visitor})
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return usagef("--header %q: write 'Name: value'", h)
		}
		hr.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if *ua != "" {
		hr.Header.Set("User-Agent", *ua)
	}
	for _, c := range cookies {
		if !strings.Contains(c, "=") {
			return usagef("--cookie %q: write name=value", c)
		}
		hr.Header.Add("Cookie", c)
	}
	v := reqctx.ResolveVisitor(hr)
	if *visitor != "" && v.New {
		// An id of another format than bespoke's own still names a visitor.
		v = reqctx.Visitor{ID: *visitor}
	}
	vals := l.site.BuildValues(hr, v)
	// What decided device.type: a Client Hint, a User-Agent token, a
	// model code or the default.
	_, signal := device.Explain(device.FromRequest(hr))
	deviceSignal := "decided by " + string(signal)
	for _, s := range sets {
		if strings.HasPrefix(s, "device.type=") {
			deviceSignal = "set with --set"
		}
		k, val, ok := strings.Cut(s, "=")
		if !ok {
			return usagef("--set %q: write attr=value", s)
		}
		if err := setValue(l.site.Manifest(), vals, k, val); err != nil {
			return usagef("--set %q: %v", s, err)
		}
	}
	var req site.Request
	l.site.DecideValues(ctx, vals, &req)
	if req.Err != nil {
		return fmt.Errorf("the plugin failed: %w", req.Err)
	}

	var traces []eval.RuleTrace
	if l.prog != nil {
		ev, err := eval.New(l.prog)
		if err != nil {
			return err
		}
		env := &eval.Env{Values: vals}
		ref := ev.Eval(env)
		if !ref.Equal(&req.Decision) {
			fmt.Fprintln(stderr, "warning: the compiled module and the reference evaluator disagree on this context; this is a compiler bug, please report it")
		}
		traces = ev.Explain(env)
	}
	if *asJSON {
		return printJSON(stdout, l, vals, &req, traces)
	}
	printExplanation(stdout, l, vals, &req, traces, deviceSignal)
	if *showHTML {
		body, err := fetchPage(*page, *origin, *target, hr)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		rw := l.site.Program().NewRewriter(&out, req.Plan.Edits, rewrite.Options{})
		rw.Write(body)
		rw.Close()
		applied := rw.Applied()
		rw.Release()
		fmt.Fprintln(stdout, "\nPage edits applied:")
		for i, n := range applied {
			fmt.Fprintf(stdout, "  %-24s %-14s %d element(s)\n", ruleName(l.site.Manifest(), req.Plan.EditRules[i]), opName(req.Plan.Edits[i].Op), n)
		}
		fmt.Fprintln(stdout, "\n--- page ---")
		stdout.Write(out.Bytes())
	}
	return nil
}

// setValue sets an attribute given as `geo.city`, `cookie(plan)` or
// `cookie.plan` in vals, when the plugin reads it.
func setValue(m *plugin.Manifest, vals []plugin.Value, attr, val string) error {
	name, arg := attr, ""
	if i := strings.IndexByte(attr, '('); i > 0 && strings.HasSuffix(attr, ")") {
		name, arg = attr[:i], strings.Trim(attr[i+1:len(attr)-1], `"' `)
	} else if i := strings.IndexByte(attr, '.'); i > 0 {
		if a, ok := plugin.LookupAttr(attr[:i]); ok && a.Arg != "" {
			name, arg = attr[:i], attr[i+1:]
		}
	}
	a, ok := plugin.LookupAttr(name)
	if !ok {
		return fmt.Errorf("unknown attribute %q", name)
	}
	if name == "header" {
		arg = http.CanonicalHeaderKey(arg)
	}
	for i, s := range m.Slots {
		if s.Attr == name && s.Arg == arg {
			if a.Type == plugin.Bool {
				vals[i] = reqctx.BoolValue(val == "true")
			} else {
				vals[i] = reqctx.TextValue(a.Fold.Apply(val))
			}
			return nil
		}
	}
	return nil // the rules never read it: it cannot change anything
}

func printExplanation(w io.Writer, l *loaded, vals []plugin.Value, req *site.Request, traces []eval.RuleTrace, deviceSignal string) {
	m := l.site.Manifest()
	fmt.Fprintln(w, "Context (what the rules read):")
	for i, s := range m.Slots {
		v := vals[i]
		if v.Present && plugin.IsList(v.Str) {
			fmt.Fprintf(w, "  %-28s = %q\n", s, plugin.ListItems(v.Str))
		} else if v.Present && s.Attr == "device.type" {
			fmt.Fprintf(w, "  %-28s = %q (%s)\n", s, v.Str, deviceSignal)
		} else if v.Present {
			fmt.Fprintf(w, "  %-28s = %q\n", s, v.Str)
		} else {
			fmt.Fprintf(w, "  %-28s   (missing)\n", s)
		}
	}
	fmt.Fprintln(w, "\nRules:")
	for i, r := range m.Rules {
		mark := "✗"
		if req.Decision.Has(i) {
			mark = "✓"
		}
		fmt.Fprintf(w, "  %s %-28s %s:%d\n", mark, r.Name, m.Source, r.Pos.Line)
		if traces != nil {
			printTrace(w, traces[i].Cond, "      ")
		}
	}
	if len(m.Experiments) > 0 {
		fmt.Fprintln(w, "\nExperiments:")
		for i, x := range m.Experiments {
			v := "(not enrolled)"
			if i < len(req.Plan.Variants) && req.Plan.Variants[i] != "" {
				v = req.Plan.Variants[i]
			}
			fmt.Fprintf(w, "  %-28s %s\n", x.Name, v)
		}
	}
	p := &req.Plan
	fmt.Fprintln(w, "\nActions:")
	personalized := proxy.Personalized(p, true, len(p.Edits) > 0)
	if !personalized {
		fmt.Fprintln(w, "  none: this visitor gets the page as the origin sends it")
	}
	if p.Experiments != "" {
		fmt.Fprintf(w, "  %-24s response header %s: %s\n", "(experiments)", plan.ExperimentsHeader, p.Experiments)
	}
	if p.Redirect != nil {
		fmt.Fprintf(w, "  %-24s redirect %d to %s\n", m.Rules[p.Redirect.Rule].Name, p.Redirect.Status, p.Redirect.Location)
	}
	for _, h := range p.RequestHeaders {
		fmt.Fprintf(w, "  %-24s request header %s: %s\n", ruleName(m, h.Rule), h.Name, h.Value)
	}
	for _, h := range p.ResponseHeaders {
		fmt.Fprintf(w, "  %-24s response header %s: %s\n", ruleName(m, h.Rule), h.Name, h.Value)
	}
	for _, c := range p.Cookies {
		fmt.Fprintf(w, "  %-24s cookie %s\n", m.Rules[c.Rule].Name, c.String())
	}
	for i, e := range p.Edits {
		detail := ""
		switch {
		case e.Content != nil:
			detail = " " + shorten(string(e.Content), 60)
		case e.Value != "":
			detail = fmt.Sprintf(" %s=%q", e.Attr, e.Value)
		case e.Attr != "":
			detail = " " + e.Attr
		}
		fmt.Fprintf(w, "  %-24s %s %q%s\n", ruleName(m, p.EditRules[i]), opName(e.Op), m.Selectors[e.Selector], detail)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(w, "  skipped: %s action %d (%s, %s wins)\n", m.Rules[s.Rule].Name, s.Action+1, s.Reason, m.Rules[s.Winner].Name)
	}
	for _, r := range p.Refused {
		what := "value replaced by its default"
		if r.Dropped {
			what = "not applied"
		}
		fmt.Fprintf(w, "  refused: %s action %d, %s: %s\n", m.Rules[r.Rule].Name, r.Action+1, what, r.Reason)
	}
	fmt.Fprintln(w, "\nPage:")
	if personalized {
		fmt.Fprintln(w, "  personalized for this visitor: served with Cache-Control: private")
	} else {
		fmt.Fprintln(w, "  not personalized: the origin's caching headers are kept")
	}
}

// ruleName names what an action came from: a rule, or the experiments'
// exposure (-1).
func ruleName(m *plugin.Manifest, i int) string {
	if i < 0 || i >= len(m.Rules) {
		return "(experiments)"
	}
	return m.Rules[i].Name
}

func opName(op rewrite.Op) string { return plan.OpName(op) }

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return fmt.Sprintf("%q…", s[:n])
	}
	return fmt.Sprintf("%q", s)
}

func printTrace(w io.Writer, t *eval.Trace, indent string) {
	if t == nil {
		return
	}
	mark := "·" // not evaluated: an earlier operand decided
	if t.Evaluated {
		mark = "✗"
		if t.Result {
			mark = "✓"
		}
	}
	line := indent + mark + " " + t.Text
	if t.Segment != "" {
		line = indent + mark + " segment " + t.Segment
	}
	if len(t.Values) > 0 && len(t.Children) == 0 {
		line = fmt.Sprintf("%-60s %s", line, strings.Join(t.Values, ", "))
	}
	if !t.Evaluated {
		line += "   (not evaluated)"
	}
	fmt.Fprintln(w, line)
	for _, c := range t.Children {
		printTrace(w, c, indent+"    ")
	}
}

func printJSON(w io.Writer, l *loaded, vals []plugin.Value, req *site.Request, traces []eval.RuleTrace) error {
	m := l.site.Manifest()
	type ruleOut struct {
		Name    string      `json:"name"`
		Matched bool        `json:"matched"`
		Line    int         `json:"line"`
		Why     *eval.Trace `json:"why,omitempty"`
	}
	out := struct {
		Context      map[string]*string `json:"context"`
		Rules        []ruleOut          `json:"rules"`
		Experiments  string             `json:"experiments,omitempty"`
		Personalized bool               `json:"personalized"`
	}{Context: map[string]*string{}}
	out.Experiments = req.Plan.Experiments
	out.Personalized = proxy.Personalized(&req.Plan, true, len(req.Plan.Edits) > 0)
	for i, s := range m.Slots {
		if vals[i].Present {
			v := vals[i].Str
			out.Context[s.String()] = &v
		} else {
			out.Context[s.String()] = nil
		}
	}
	for i, r := range m.Rules {
		ro := ruleOut{Name: r.Name, Matched: req.Decision.Has(i), Line: r.Pos.Line}
		if traces != nil {
			ro.Why = traces[i].Cond
		}
		out.Rules = append(out.Rules, ro)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// fetchPage returns the page to rewrite for --html.
func fetchPage(page, origin, target string, hr *http.Request) ([]byte, error) {
	if page != "" {
		return os.ReadFile(page)
	}
	if origin != "" {
		req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(origin, "/")+target, nil)
		if err != nil {
			return nil, err
		}
		req.Header = hr.Header.Clone()
		req.Header.Del("Accept-Encoding")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	p := strings.TrimPrefix(strings.SplitN(target, "?", 2)[0], "/")
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	b, err := fs.ReadFile(demo.Site(), p)
	if err != nil {
		return nil, fmt.Errorf("no demo page for %s: give --page FILE or --origin URL", target)
	}
	return b, nil
}

func testCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("test", stderr, "RULES.yaml...")
	verbose := fs.Bool("v", false, "print every test, not only failures")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("expected at least one rule file")
	}
	ctx := context.Background()
	failed, total := 0, 0
	for _, path := range pos {
		l, err := loadForCommand(ctx, stderr, path, "", reqctx.Config{})
		if err != nil {
			failed++
			continue
		}
		results, err := ruletest.Run(ctx, l.site, l.prog)
		l.close()
		if err != nil {
			return err
		}
		if len(results) == 0 {
			fmt.Fprintf(stdout, "%s: no tests\n", path)
		}
		for _, r := range results {
			total++
			if r.Passed() {
				if *verbose {
					fmt.Fprintf(stdout, "ok    %s:%d %s (matched: %s)\n", path, r.Test.Pos.Line, r.Test.Name, strings.Join(r.Matched, ", "))
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL  %s:%d %s\n", path, r.Test.Pos.Line, r.Test.Name)
			for _, f := range r.Failures {
				fmt.Fprintf(stdout, "      %s\n", f)
			}
			fmt.Fprintf(stdout, "      matched: %s\n", strings.Join(r.Matched, ", "))
		}
	}
	fmt.Fprintf(stdout, "%d tests, %d failed\n", total, failed)
	if failed > 0 {
		return errReported
	}
	return nil
}
