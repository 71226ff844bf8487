package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/device"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
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
		var res *compiler.Result
		res, err = compiler.Compile(name, demo.Rules())
		if res != nil {
			art, prog = res.Artifact, res.Program
		}
	default:
		var res *compiler.Result
		var src []byte
		if src, err = readRuleFile(rulesFile); err == nil {
			res, err = compiler.Compile(rulesFile, src)
		}
		if res != nil {
			art, prog = res.Artifact, res.Program
			for _, w := range res.Warnings {
				fmt.Fprintln(stderr, w) // a rule that never matches explains many a failed test
			}
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
	fs := newFlagSet("explain", stdout, "[RULES.yaml | --rules FILE | --plugin FILE.wasm] [request options]")
	rulesFile := fs.String("rules", "", "rule `file` (default: the bundled demo rules)")
	pluginFile := fs.String("plugin", "", "compiled plugin `file` instead of a rule file")
	var headers, cookies, sets, variants, seenItems, shown multiFlag
	fs.Var(&headers, "header", "request header `'Name: value'` (repeatable)")
	fs.Var(&cookies, "cookie", "request cookie `name=value` (repeatable)")
	fs.Var(&sets, "set", "set an attribute directly, `attr=value`: geo.city=Lyon, cookie(plan)=pro, visitor.id=alice, variant(hero-test)=bold, now=2026-12-24T18:00:00+01:00 (repeatable)")
	fs.Var(&variants, "variant", "force an experiment's variant, `experiment=variant` (repeatable)")
	fs.Var(&seenItems, "seen", "an `item` the visitor was already shown, for seen() and hide_seen (repeatable)")
	fs.Var(&shown, "shown", "how often a rule with at_most already applied to the visitor, `rule=n` (repeatable)")
	ua := fs.String("user-agent", "", "User-Agent of the visitor (default: a desktop Chrome)")
	target := fs.String("url", "/", "request `path` and query")
	var g geoFlags
	g.register(fs)
	ip := fs.String("ip", "", "the visitor's `address` (for --geoip and X-Forwarded-For handling)")
	at := fs.String("at", "", "the request `time`, RFC 3339 (default: now), for schedules and visitor.hour")
	visitor := fs.String("visitor", "", "the visitor `id`, a returning visitor (default: a new visitor, the same on every run)")
	showHTML := fs.Bool("html", false, "print the page (or JSON) as this visitor gets it")
	page := fs.String("page", "", "the page `file` to rewrite and print, HTML or .json (implies --html; default: the page for --url in the rule file's pages:, else the demo site's)")
	origin := fs.String("origin", "", "fetch the page to rewrite and print from this origin `URL` (implies --html)")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	var consent consentFlags
	consent.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := consent.check(); err != nil {
		return err
	}
	if err := givenEmpty(fs, args, "give one, or leave OPTION out to use the bundled demo's rules", "rules", "plugin"); err != nil {
		return err
	}
	// The file may be named as check, test and compile take it; one file,
	// and not beside --rules or --plugin (the demo's rules must never be
	// explained in place of a file typed without --rules).
	switch {
	case len(pos) > 1:
		return usagef("unexpected argument %q: explain reads one rule file", pos[1])
	case len(pos) == 1 && pos[0] == "":
		return usagef("an empty argument names no rule file")
	case len(pos) == 1 && (*rulesFile != "" || *pluginFile != ""):
		return usagef("unexpected argument %q: the rules are already given with --rules or --plugin", pos[0])
	case len(pos) == 1 && strings.HasSuffix(pos[0], ".wasm"):
		*pluginFile = pos[0]
	case len(pos) == 1:
		*rulesFile = pos[0]
	case *rulesFile != "" && *pluginFile != "":
		return usagef("give --rules or --plugin, not both")
	}
	rc, closeGeo, err := g.config()
	if err != nil {
		return err
	}
	defer closeGeo()
	if *showHTML && *asJSON {
		return usagef("--html does not go with --json, which prints no page")
	}
	for _, f := range []struct{ name, value string }{{"--page", *page}, {"--origin", *origin}} {
		if f.value == "" {
			continue
		}
		if *asJSON {
			return usagef("%s does not go with --json, which prints no page", f.name)
		}
		// Naming a page asks to see it: printing the explanation alone,
		// the page unread, looked as if it had been rewritten.
		*showHTML = true
	}
	if path, _, _ := strings.Cut(*target, "#"); path != "" && !strings.HasPrefix(path, "/") {
		if u, err := url.Parse(path); err == nil && u.Scheme != "" && u.Host != "" {
			return usagef("--url %q: write the path, %s, and --header 'Host: %s' for rules that read the host", *target, u.RequestURI(), u.Host)
		}
		return usagef("--url %q: write a path such as /sale?ref=mail", *target)
	}
	if _, err := netip.ParseAddr(*ip); *ip != "" && err != nil {
		return usagef("--ip %q: write an IP address such as 203.0.113.7 or 2001:db8::7", *ip)
	}
	var originURL *url.URL
	if *origin != "" {
		// Checked before the explanation prints, which a page that
		// cannot be fetched would otherwise follow with Go's message.
		u, err := url.Parse(*origin)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return usagef("--origin %q: write an absolute URL such as http://127.0.0.1:3000", *origin)
		}
		originURL = u
	}
	// The files named, checked before the explanation prints, as the
	// origin is, and said with the option that named them, as serve
	// says its own; a file named as check names it is said so too.
	for _, f := range []struct{ option, path string }{{"--plugin", *pluginFile}, {"--page", *page}} {
		if f.path == "" {
			continue
		}
		if err := config.Readable(f.path); err != nil {
			if len(pos) == 1 && f.path == pos[0] {
				return fmt.Errorf("%s: %v", f.path, err)
			}
			return fmt.Errorf("%s %q: %v", f.option, f.path, err)
		}
	}
	spec := visit.Spec{URL: *target, RemoteAddr: *ip, Visitor: *visitor, NewID: visit.SimulatedID, Seen: seenItems,
		ConsentCookie: consent.cookie, ConsentDeny: consent.deny}
	if *at != "" {
		t, err := visit.ParseTime(*at)
		if err != nil {
			return usagef("--at %q: write an RFC 3339 time such as 2026-12-24T18:00:00+01:00", *at)
		}
		spec.At = t
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return usagef("--header %q: write 'Name: value'", h)
		}
		// No request carries another name: the visitor explained
		// would have been one without the header.
		if k = strings.TrimSpace(k); !escape.ValidToken(k) {
			return usagef("--header %q: %q is not a header name (letters, digits and -)", h, k)
		}
		spec.Headers = append(spec.Headers, [2]string{k, strings.TrimSpace(v)})
	}
	if *ua != "" {
		spec.Headers = append(spec.Headers, [2]string{"User-Agent", *ua})
	}
	for _, c := range cookies {
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			return usagef("--cookie %q: write name=value", c)
		}
		if k = strings.TrimSpace(k); !escape.ValidToken(k) {
			return usagef("--cookie %q: %q is not a cookie name (letters, digits, - and _)", c, k)
		}
		spec.Cookies = append(spec.Cookies, [2]string{k, v})
	}
	// The options that force a variant or a count, as typed, with the
	// experiment or rule each names: checked against the rules once
	// loaded.
	var forced, forcedShown [][2]string
	for _, vr := range variants {
		k, v, ok := strings.Cut(vr, "=")
		if !ok {
			return usagef("--variant %q: write experiment=variant", vr)
		}
		forced = append(forced, [2]string{fmt.Sprintf("--variant %q", vr), k})
		if spec.Variants == nil {
			spec.Variants = map[string]string{}
		}
		spec.Variants[k] = v
	}
	for _, sh := range shown {
		k, v, ok := strings.Cut(sh, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return usagef("--shown %q: write rule=n", sh)
		}
		forcedShown = append(forcedShown, [2]string{fmt.Sprintf("--shown %q", sh), k})
		if spec.Shown == nil {
			spec.Shown = map[string]int{}
		}
		spec.Shown[k] = n
	}
	for _, s := range sets {
		k, val, ok := strings.Cut(s, "=")
		if !ok {
			return usagef("--set %q: write attr=value", s)
		}
		if err := setValue(&spec, k, val); err != nil {
			return usagef("--set %q: %v", s, err)
		}
		if i := strings.IndexByte(k, '('); i > 0 && k[:i] == "variant" && strings.HasSuffix(k, ")") {
			forced = append(forced, [2]string{fmt.Sprintf("--set %q", s), strings.Trim(k[i+1:len(k)-1], `"' `)})
		}
	}
	ctx := context.Background()
	l, err := loadForCommand(ctx, stderr, *rulesFile, *pluginFile, rc)
	if err != nil {
		return err
	}
	defer l.close()
	var experiments []string
	for _, x := range l.site.Manifest().Experiments {
		experiments = append(experiments, x.Name)
	}
	for _, f := range forced {
		switch {
		case slices.Contains(experiments, f[1]):
		case len(experiments) == 0:
			return usagef("%s: the rules have no experiment", f[0])
		default:
			return usagef("%s: no experiment is named %q (experiments: %s)%s", f[0], f[1], strings.Join(experiments, ", "), didYouMean(f[1], experiments))
		}
	}
	var rules []string
	capped := map[string]bool{}
	for _, r := range l.site.Manifest().Rules {
		rules = append(rules, r.Name)
		capped[r.Name] = r.Cap != nil
	}
	for _, f := range forcedShown {
		switch {
		case !slices.Contains(rules, f[1]):
			return usagef("%s: no rule is named %q%s", f[0], f[1], didYouMean(f[1], rules))
		case !capped[f[1]]:
			return usagef("%s: rule %s has no at_most, so how often it was shown changes nothing", f[0], f[1])
		}
	}
	v, err := visit.Run(ctx, l.site, l.prog, spec)
	if err != nil {
		return usagef("%v", err)
	}
	if v.Disagree {
		fmt.Fprintln(stderr, "warning: the compiled module and the reference evaluator disagree on this context; this is a compiler bug, please report it")
	}
	if *asJSON {
		return printJSON(stdout, l, v)
	}
	// What decided device.type: a Client Hint, a User-Agent token, a
	// model code or the default.
	_, signal := device.Explain(device.FromRequest(v.Request))
	deviceSignal := "decided by " + string(signal)
	for _, s := range sets {
		if strings.HasPrefix(s, "device.type=") {
			deviceSignal = "set with --set"
		}
	}
	printExplanation(stdout, l, v, deviceSignal)
	if !*showHTML {
		return nil
	}
	var pg *visit.Page
	switch {
	case v.Plan.Redirect != nil:
	case *page != "":
		pg, err = visit.PageFromFile(*page, "")
	case originURL != nil:
		pg, err = v.Fetch(ctx, nil, originURL)
	case l.prog != nil && l.prog.Pages != "" && *rulesFile != "":
		// The rule file's own saved pages, as test and preview use them
		// (the bundled demo rules' pages: is the demo site, below).
		dir := ir.FromFile(filepath.Dir(*rulesFile), l.prog.Pages)
		pg, err = visit.PageFromFS(os.DirFS(dir), *target)
		if err != nil {
			err = fmt.Errorf("no page for %s in %s (the rule file's pages:): give --page FILE or --origin URL", *target, dir)
		}
	default:
		pg, err = visit.PageFromFS(demo.Site(), *target)
		if err != nil {
			err = fmt.Errorf("no demo page for %s: give --page FILE or --origin URL", *target)
		}
	}
	if err != nil {
		return err
	}
	out, err := v.Render(pg)
	if err != nil {
		return err
	}
	m := l.site.Manifest()
	switch {
	case v.Plan.Redirect != nil:
		fmt.Fprintf(stdout, "\nThe visitor is redirected (%d) to %s: the origin is not asked for the page.\n", out.Status, out.Header.Get("Location"))
		return nil
	case pg.JSON:
		fmt.Fprintln(stdout, "\nJSON edits applied:")
		for i, ok := range out.JSONApplied {
			n := 0
			if ok {
				n = 1
			}
			e := v.Plan.JSONEdits[i]
			fmt.Fprintf(stdout, "  %-24s %-14s %-20s %d change(s)\n", ruleName(m, v.Plan.JSONRules[i]), plan.JSONOpName(e.Op), e.Path, n)
		}
		fmt.Fprintln(stdout, "\n--- JSON ---")
	default:
		fmt.Fprintln(stdout, "\nPage edits applied:")
		for i, n := range out.Applied {
			why := ""
			if i < len(out.Refused) && out.Refused[i] > 0 {
				// Not taken by another edit: the element (as the
				// other edits leave it) took no value there.
				why = fmt.Sprintf("   (refused on %d element(s): the value from the request would be code there)", out.Refused[i])
			} else {
				why = takenBy(m, v, pg, out.Applied, i)
			}
			if n == 0 && why == "" {
				// As the preview says it.
				why = "   (" + v.Unchanged(pg, i) + ")"
			}
			fmt.Fprintf(stdout, "  %-24s %-14s %d element(s)%s\n", ruleName(m, v.Plan.EditRules[i]), opName(v.Plan.Edits[i].Op), n, why)
		}
		fmt.Fprintln(stdout, "\n--- page ---")
	}
	stdout.Write(out.Body)
	return nil
}

// setValue reads --set attr=value: an attribute as a rule names it
// (geo.city, cookie(plan), cookie.plan), or visitor.id, variant(name) or
// now, which name the visitor, force a variant or set the time.
func setValue(spec *visit.Spec, attr, val string) error {
	name, arg := attr, ""
	if i := strings.IndexByte(attr, '('); i > 0 && strings.HasSuffix(attr, ")") {
		name, arg = attr[:i], strings.Trim(attr[i+1:len(attr)-1], `"' `)
	} else if i := strings.IndexByte(attr, '.'); i > 0 {
		if a, ok := plugin.LookupAttr(attr[:i]); ok && a.Arg != "" {
			name, arg = attr[:i], attr[i+1:]
		}
	}
	if a, ok := plugin.LookupAttr(name); ok && a.Type == plugin.Bool {
		// As a test's context reads it: any other word is a mistake,
		// not false.
		switch strings.ToLower(strings.TrimSpace(val)) {
		case "true", "yes":
			val = "true"
		case "false", "no":
			val = "false"
		default:
			return fmt.Errorf("%s is yes/no: write true or false", name)
		}
	}
	switch name {
	case "visitor.id":
		spec.Visitor = val
		return nil
	case "variant":
		if spec.Variants == nil {
			spec.Variants = map[string]string{}
		}
		spec.Variants[arg] = val
		return nil
	case "now":
		t, err := visit.ParseTime(val)
		if err != nil {
			return fmt.Errorf("write an RFC 3339 time such as 2026-12-24T18:00:00+01:00")
		}
		spec.At = t
		return nil
	case "visitor.new":
		b := val == "true"
		spec.New = &b
		return nil
	}
	a, ok := plugin.LookupAttr(name)
	if !ok || a.Internal || a.From {
		return fmt.Errorf("unknown attribute %q%s", name, didYouMean(name, plugin.AttrNames()))
	}
	if (a.Arg != "") != (arg != "") {
		return fmt.Errorf("%s takes %s", name, map[bool]string{true: "a name: " + name + "(name)", false: "no argument"}[a.Arg != ""])
	}
	if name == "header" {
		arg = http.CanonicalHeaderKey(arg)
	}
	// As a test's context says: a value the attribute never takes would
	// explain a visitor that cannot exist.
	items := []string{val}
	if name == "languages" {
		items = strings.Split(val, ",") // as Overrides reads it
	}
	for _, it := range items {
		if _, err := check.Literal(name, strings.TrimSpace(it)); err != nil {
			return err
		}
	}
	if spec.Values == nil {
		spec.Values = map[string]string{}
	}
	spec.Values[plugin.Slot{Attr: name, Arg: arg}.Key()] = val
	return nil
}

func printExplanation(w io.Writer, l *loaded, v *visit.Result, deviceSignal string) {
	m := l.site.Manifest()
	state := "returning"
	if v.Visitor.New {
		state = "new"
	}
	fmt.Fprintf(w, "Visitor: %s (%s)\n\n", v.Visitor.ID, state)
	fmt.Fprintln(w, "Context (what the rules read):")
	for i, s := range m.Slots {
		val := v.Values[i]
		if val.Present && plugin.IsList(val.Str) {
			fmt.Fprintf(w, "  %-28s = %q\n", s, plugin.ListItems(val.Str))
		} else if val.Present && s.Attr == "device.type" {
			fmt.Fprintf(w, "  %-28s = %q (%s)\n", s, val.Str, deviceSignal)
		} else if val.Present {
			fmt.Fprintf(w, "  %-28s = %s\n", s, s.Show(val.Str))
		} else {
			fmt.Fprintf(w, "  %-28s   (missing)\n", s)
		}
	}
	fmt.Fprintln(w, "\nRules:")
	for i, r := range m.Rules {
		mark := "✗"
		if v.Decision.Has(i) {
			mark = "✓"
		}
		fmt.Fprintf(w, "  %s %-28s %s:%d\n", mark, r.Name, m.Source, r.Pos.Line)
		if d := description(l, i); d != "" {
			fmt.Fprintf(w, "      %s\n", d)
		}
		if v.Traces != nil {
			printTrace(w, v.Traces[i].Cond, "      ")
		}
		if why := v.HeldCaps[r.Name]; why != "" {
			// Its count reads as its cap: not the views it was shown.
			fmt.Fprintf(w, "      not for this visitor: %s\n", why)
		}
	}
	if len(m.Experiments) > 0 {
		fmt.Fprintln(w, "\nExperiments:")
		for i, x := range m.Experiments {
			name := v.Variant(i)
			if name == "" {
				name = "(not enrolled)"
			}
			bucket := ""
			if l.prog != nil {
				if b := v.Bucket(l.prog.Experiments[i].Bucket); b >= 0 {
					bucket = fmt.Sprintf("   bucket %d of 10000", b)
				}
			}
			fmt.Fprintf(w, "  %-28s %-14s%s\n", x.Name, name, bucket)
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	p := v.Plan
	fmt.Fprintln(w, "\nActions:")
	personalized := proxy.Personalized(p, true, len(p.Edits) > 0 || len(p.JSONEdits) > 0)
	// A view that only records (mark_seen, a capped rule's count) leaves
	// the page as it is, but not the visitor's state: the cookie that
	// carries it makes the response private.
	records := len(p.MarkSeen) > 0 || len(p.Capped) > 0
	switch {
	case !personalized && records:
		fmt.Fprintln(w, "  the page as the origin sends it; this view is recorded:")
	case !personalized:
		fmt.Fprintln(w, "  none: this visitor gets the page as the origin sends it")
	}
	for _, a := range planActions(m, p) {
		if a.Rule == "" && a.Note {
			fmt.Fprintf(w, "  %s\n", a.Action)
		} else {
			fmt.Fprintf(w, "  %-24s %s\n", a.Rule, a.Action)
		}
	}
	fmt.Fprintln(w, "\nPage:")
	// The caching the proxy sends, from its own response plan: visit's
	// Render without a page takes an HTML page whose origin names none,
	// the edits applied. The text says why, from what the plan read.
	cc := ""
	if out, err := v.Render(nil); err == nil {
		cc = out.Header.Get("Cache-Control")
	}
	private := hasDirective(cc, "private")
	if p.Redirect != nil {
		// The proxy answers without the page (proxy.redirect): none of
		// the page's caching, nor its Vary, goes with it.
		if !private {
			fmt.Fprintln(w, "  a redirect for every visitor of this URL, not the page (the rules that made it read the URL alone): caches may keep it")
			return
		}
		fmt.Fprintf(w, "  a redirect for this visitor, not the page: served with Cache-Control: %s\n", cc)
		return
	}
	served := "served with Cache-Control: " + cc
	switch {
	case personalized && !private:
		fmt.Fprintln(w, "  personalized, the same for every visitor of this URL (the rules that changed it read the URL alone): the origin's caching headers are kept")
	case !private:
		fmt.Fprintln(w, "  not personalized: the origin's caching headers are kept")
	case personalized:
		fmt.Fprintf(w, "  personalized for this visitor: %s\n", served)
	case records:
		fmt.Fprintf(w, "  not changed, but %s: it sets the cookie that records this view (with the default cookie store)\n", served)
	case len(p.Cookies) > 0:
		fmt.Fprintf(w, "  not changed, but %s: it sets the rules' cookies\n", served)
	case v.Visitor.New && l.site.ReadsVisitor():
		fmt.Fprintf(w, "  not changed, but %s: it gives this new visitor the cookie that keeps their id, which the rules read\n", served)
	case p.Experiments != "":
		fmt.Fprintf(w, "  not changed, but %s: it names this visitor's variants (X-Bespoke-Experiments)\n", served)
	case v.ByAddress:
		fmt.Fprintf(w, "  not personalized, but %s: what the rules read came from a GeoIP lookup of the visitor's address, which no Vary can name\n", served)
	default:
		fmt.Fprintf(w, "  not changed, but %s\n", served)
	}
	if len(v.Vary) > 0 {
		// What a shared cache keeps apart copies of this URL by: the
		// rules that may apply on its path read these.
		fmt.Fprintf(w, "  Vary (the rules that may apply on %s read): %s\n", v.Request.URL.Path, strings.Join(v.Vary, ", "))
	}
}

// hasDirective reports whether the Cache-Control value cc has the
// directive name.
func hasDirective(cc, name string) bool {
	for d := range strings.SplitSeq(cc, ",") {
		d, _, _ = strings.Cut(d, "=")
		if strings.EqualFold(strings.TrimSpace(d), name) {
			return true
		}
	}
	return false
}

// takenBy says why page edit i of v's plan, which changed applied[i]
// elements, changed none where its selector selects some (see
// visit.Result.TakenBy). "" otherwise.
func takenBy(m *plugin.Manifest, v *visit.Result, pg *visit.Page, applied []int, i int) string {
	j, ok := v.TakenBy(pg, applied, i)
	if !ok {
		return ""
	}
	e := v.Plan.Edits[j]
	how := "an earlier rule's action writes the same, or the content around it"
	if i < j {
		how = "its element is inside one that action replaced or removed: the page streams, so the element around it wins"
	}
	return fmt.Sprintf("   (taken by %s %s %q: %s)", ruleName(m, v.Plan.EditRules[j]), opName(e.Op), m.Selectors[e.Selector], how)
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

// planAction is one line of what a plan does: the rule it is for (empty
// for the plan's own, or for a note), and what it does.
type planAction struct {
	Rule   string `json:"rule,omitempty"`
	Action string `json:"action"`
	// Note marks a line that says what was not done (skipped, refused,
	// a loop), which names its rules itself.
	Note bool `json:"note,omitempty"`
}

// planActions lists what plan p does, in the order explain prints it.
func planActions(m *plugin.Manifest, p *plan.Plan) []planAction {
	var out []planAction
	add := func(rule, format string, args ...any) {
		out = append(out, planAction{Rule: rule, Action: fmt.Sprintf(format, args...)})
	}
	note := func(format string, args ...any) {
		out = append(out, planAction{Action: fmt.Sprintf(format, args...), Note: true})
	}
	if p.Experiments != "" {
		add("(experiments)", "response header %s: %s", plan.ExperimentsHeader, p.Experiments)
	}
	if p.Redirect != nil {
		add(m.Rules[p.Redirect.Rule].Name, "redirect %d to %s", p.Redirect.Status, p.Redirect.Location)
	}
	for _, h := range p.RequestHeaders {
		add(ruleName(m, h.Rule), "request header %s: %s", h.Name, h.Value)
	}
	for _, h := range p.ResponseHeaders {
		add(ruleName(m, h.Rule), "response header %s: %s", h.Name, h.Value)
	}
	for _, c := range p.Cookies {
		add(m.Rules[c.Rule].Name, "cookie %s", c.String())
	}
	for i, e := range p.Edits {
		detail := ""
		switch {
		case e.Content != nil:
			c := string(e.Content)
			if !strings.ContainsRune(c, '<') {
				// Text, escaped for the page: shown as the editor wrote it
				// (l'hiver, not l&#39;hiver).
				c = html.UnescapeString(c)
			}
			detail = " " + shorten(c, 60)
		case e.Value != "":
			detail = fmt.Sprintf(" %s=%q", e.Attr, e.Value)
		case e.Attr != "":
			detail = " " + e.Attr
		}
		add(ruleName(m, p.EditRules[i]), "%s %q%s", opName(e.Op), m.Selectors[e.Selector], detail)
	}
	for i, e := range p.JSONEdits {
		detail := ""
		if e.Value != nil {
			detail = " " + shorten(string(e.Value), 60)
		}
		add(ruleName(m, p.JSONRules[i]), "%s %s%s", plan.JSONOpName(e.Op), e.Path, detail)
	}
	for i, id := range p.MarkSeen {
		add(ruleName(m, p.MarkSeenRules[i]), "mark seen %q", id)
	}
	if l := p.Loop; l != nil {
		note("not applied: %s redirect to %s: it points to the page requested, where the rule would send the visitor again (a loop)", m.Rules[l.Rule].Name, l.Location)
	}
	if k := p.Kept; k != nil {
		note("not applied: %s redirect to %s: a %d answers GET and HEAD only (a browser follows it with a GET, and a form's body would be lost); the request goes to the origin (307 and 308 answer every method but OPTIONS)", m.Rules[k.Rule].Name, k.Location, k.Status)
	}
	for _, s := range p.Skipped {
		note("skipped: %s action %d (%s, %s wins)", m.Rules[s.Rule].Name, s.Action+1, s.Reason, m.Rules[s.Winner].Name)
	}
	for _, r := range p.Refused {
		what := "value replaced by its default"
		if r.Dropped {
			what = "not applied"
		}
		note("refused: %s action %d, %s: %s", m.Rules[r.Rule].Name, r.Action+1, what, r.Reason)
	}
	for _, u := range p.Unset {
		what := "a value"
		switch part := u.Part; {
		case part.Experiment > 0 && part.Experiment <= len(m.Experiments):
			what = fmt.Sprintf("the variant of experiment %s (the visitor is in none)", m.Experiments[part.Experiment-1].Name)
		case part.Slot >= 0 && part.Slot < len(m.Slots):
			what = m.Slots[part.Slot].String()
		}
		note("not applied: %s action %d, cookie %s not set: %s is missing and has no default, and the visitor keeps the cookie they have", m.Rules[u.Rule].Name, u.Action+1, m.Rules[u.Rule].Actions[u.Action].Name, what)
	}
	return out
}

// description is rule i's description, when the rules were compiled
// from their file (a plugin does not keep it).
func description(l *loaded, i int) string {
	if l.prog == nil || i >= len(l.prog.Rules) {
		return ""
	}
	return l.prog.Rules[i].Description
}

func printJSON(w io.Writer, l *loaded, v *visit.Result) error {
	m := l.site.Manifest()
	type ruleOut struct {
		Name        string      `json:"name"`
		Description string      `json:"description,omitempty"`
		Matched     bool        `json:"matched"`
		Line        int         `json:"line"`
		Why         *eval.Trace `json:"why,omitempty"`
	}
	out := struct {
		Visitor     string            `json:"visitor"`
		New         bool              `json:"new"`
		Context     map[string]any    `json:"context"` // a text, a list of texts, or null
		Rules       []ruleOut         `json:"rules"`
		Experiments map[string]string `json:"experiments,omitempty"`
		Notes       []string          `json:"notes,omitempty"`
		// Actions is what the visitor gets, as the text output lists it.
		Actions []planAction `json:"actions"`
		// Personalized is the proxy's own verdict (the outcome it
		// logs): served private, unless the rules that changed the
		// response read its URL alone.
		Personalized bool `json:"personalized"`
	}{Visitor: v.Visitor.ID, New: v.Visitor.New, Context: map[string]any{}, Notes: slices.Concat(v.Notes, v.HeldNotes()), Actions: planActions(m, v.Plan),
		Personalized: proxy.Personalized(v.Plan, true, len(v.Plan.Edits) > 0 || len(v.Plan.JSONEdits) > 0)}
	for i, s := range m.Slots {
		switch val := v.Values[i]; {
		case !val.Present:
			out.Context[s.String()] = nil
		case plugin.IsList(val.Str):
			out.Context[s.String()] = append([]string{}, plugin.ListItems(val.Str)...)
		default:
			out.Context[s.String()] = val.Str
		}
	}
	for i, r := range m.Rules {
		ro := ruleOut{Name: r.Name, Description: description(l, i), Matched: v.Decision.Has(i), Line: r.Pos.Line}
		if v.Traces != nil {
			ro.Why = v.Traces[i].Cond
		}
		out.Rules = append(out.Rules, ro)
	}
	for i, x := range m.Experiments {
		if out.Experiments == nil {
			out.Experiments = map[string]string{}
		}
		out.Experiments[x.Name] = v.Variant(i)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
