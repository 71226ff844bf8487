package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// kind says how a target is run.
type kind int

const (
	kindOrigin kind = iota
	kindGoproxy
	kindBespoke
	kindNginx
	kindCaddy
)

// targetDef is one thing the harness measures.
type targetDef struct {
	Name string `json:"name"`
	Desc string `json:"description"`
	kind kind
	// file is the rule file (peers/bespoke), nginx template (peers/nginx)
	// or Caddyfile template (peers/caddy).
	file string
	// rules is the rule file (peers/bespoke) a Caddy target's bespoke
	// handler runs; "" for none.
	rules string
	// absent renders the rule file with absentSelectors instead of the
	// page's.
	absent bool
	// vary serves the target a page that differs in every response
	// (varyQuery): the key of its stamp, or "".
	vary string
	// args are more flags for bespoke serve.
	args []string
	// wantEdits says the page must come out with the five edits, and
	// wantHidden that some items must be hidden; the others must pass the
	// page through unchanged.
	wantEdits, wantHidden bool
}

var targetDefs = []targetDef{
	{Name: "origin", kind: kindOrigin,
		Desc: "the origin itself, no proxy: the ceiling"},
	{Name: "goproxy", kind: kindGoproxy,
		Desc: "httputil.ReverseProxy with a tuned Transport, no personalization: the floor for any Go proxy"},
	{Name: "bespoke-none", kind: kindBespoke, file: "none.yaml", absent: true,
		Desc: "bespoke, five edits whose selectors match nothing on the page: decision plus the page checked against its edit map and copied through (a full rewriter pass that edits nothing on the first request)"},
	{Name: "bespoke-edits", kind: kindBespoke, file: "edits.yaml", wantEdits: true,
		Desc: "bespoke, five element edits (set_inner, set_attr, add_class, insert_before, remove) chosen by a cookie and the country"},
	{Name: "bespoke-seen", kind: kindBespoke, file: "seen.yaml", wantEdits: true, wantHidden: true,
		Desc: "bespoke-edits plus hide_seen over the page's items; visitors send the seen-filter cookie of a previous response and get an updated one"},
	{Name: "bespoke-seen-varying", kind: kindBespoke, file: "seen.yaml", wantEdits: true, wantHidden: true, vary: "markup",
		Desc: "bespoke-seen on a page whose origin stamps a request number near its top as elements (<xd>d</xd> for each digit d), so no two responses have the same elements: rewritten in full until the page is its edit map's page again past the stamp, spliced from there"},
	{Name: "bespoke-seen-rewrite", kind: kindBespoke, file: "seen.yaml", wantEdits: true, wantHidden: true, args: []string{"--edit-map-cache", "0"},
		Desc: "bespoke-seen with no edit maps (--edit-map-cache 0): the full rewriter on every response, the path of a page that differs throughout"},
	{Name: "bespoke-seen-text", kind: kindBespoke, file: "seen.yaml", wantEdits: true, wantHidden: true, vary: "text",
		Desc: "bespoke-seen on a page whose origin stamps a request number in its text and in a class near its top: every response differs, in text the tree builder does not read and in a class no selector names, which edit maps take for volatile"},
	{Name: "bespoke-seen-nonce", kind: kindBespoke, file: "seen.yaml", wantEdits: true, wantHidden: true, vary: "nonce",
		Desc: "bespoke-seen on a page whose origin stamps a request number in a CSRF token, a script nonce, an inline script and a comment near its top, with a render time of one to three digits in the comment: every response differs, in values the edit map takes for volatile, and its length changes too"},
	{Name: "bespoke-seen-streamed", kind: kindBespoke, file: "seen.yaml", wantEdits: true, wantHidden: true, vary: "streamed",
		Desc: "bespoke-seen on the page sent as pages rendered for each request are: chunked, with neither a Content-Length nor an ETag (the same bytes every time), which the edit map cache knows by its URL alone"},
	{Name: "nginx-plain", kind: kindNginx, file: "plain.conf",
		Desc: "nginx proxy_pass, no personalization"},
	{Name: "nginx-subfilter", kind: kindNginx, file: "subfilter.conf", wantEdits: true,
		Desc: "nginx proxy_pass with sub_filter doing the closest equivalent of the five edits, chosen by maps on a cookie and a country header"},
	{Name: "caddy-plain", kind: kindCaddy, file: "plain.Caddyfile",
		Desc: "Caddy's reverse_proxy, no personalization: the peer of caddy-bespoke"},
	{Name: "caddy-bespoke", kind: kindCaddy, file: "bespoke.Caddyfile", rules: "seen.yaml", wantEdits: true, wantHidden: true,
		Desc: "Caddy with the bespoke module (caddy/) in front of its reverse_proxy, running bespoke-seen's rules: what the module costs inside Caddy"},
}

// quickTargets are the fewest that still give the headline ratios.
var quickTargets = []string{"goproxy", "bespoke-seen", "bespoke-seen-varying", "nginx-subfilter"}

// target is a targetDef prepared for this run.
type target struct {
	targetDef
	// skip says why the target is not measured.
	skip   string
	config string
	dir    string
	addr   string
	admin  string // a bespoke target's admin listener, with -profile
	base   string // scheme and host
	url    string // the page
	proc   *proc
	jars   []string
	verify *verifyResult
}

// templateData fills the rule files and nginx templates.
type templateData struct {
	Sel                      Selectors
	SegmentList, CountryList string
	Segments, Countries      []string
	Dir, Listen, Origin      string
	User, Workers            string
	// Rules is the rule file a Caddy target's bespoke handler runs.
	Rules string
	// The page's elements that the five edits change, and the edited
	// forms nginx substitutes.
	Inner, Attr, Class, Before, Remove element
	AttrBefore, AttrAfter              string
	ClassAdded                         string
}

// nginxEscape writes s for the inside of an nginx double-quoted string.
// A literal "$" becomes ${dollar}, a variable the templates define.
func nginxEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `${dollar}`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
	return r.Replace(s)
}

func renderTemplate(src, dst string, data templateData) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tpl, err := template.New(filepath.Base(src)).Delims("[[", "]]").Option("missingkey=error").Funcs(template.FuncMap{
		"esc": nginxEscape,
		"q":   func(s string) string { return `"` + nginxEscape(s) + `"` },
	}).Parse(string(b))
	if err != nil {
		return err
	}
	var out strings.Builder
	if err := tpl.Execute(&out, data); err != nil {
		return err
	}
	return os.WriteFile(dst, []byte(out.String()), 0o644)
}

func yamlList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = `"` + v + `"`
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// baseTemplateData is what every template gets; the page's elements are
// added by pageAnchors.
func baseTemplateData(sel Selectors) templateData {
	return templateData{
		Sel:         sel,
		SegmentList: yamlList(segments),
		CountryList: yamlList(servedCountries),
		Segments:    segments,
		Countries:   servedCountries,
		Workers:     strconv.Itoa(targetProcs),
	}
}

// pageAnchors finds, in the page, the literal bytes that nginx's
// sub_filter has to match for each of the five edits.
func pageAnchors(page string, sel Selectors, d *templateData) error {
	var err error
	find := func(s string) element {
		if err != nil {
			return element{}
		}
		var el element
		el, err = findElement(page, s)
		return el
	}
	d.Inner, d.Attr, d.Class, d.Before, d.Remove = find(sel.Inner), find(sel.Attr), find(sel.Class), find(sel.Before), find(sel.Remove)
	if err != nil {
		return err
	}
	if d.Inner.Close == "" || d.Remove.Close == "" {
		return fmt.Errorf("%q and %q must be elements with content", sel.Inner, sel.Remove)
	}
	marked := withAttr(d.Attr.Open, "href", "\x00")
	d.AttrBefore, d.AttrAfter, _ = strings.Cut(marked, "\x00")
	d.ClassAdded = withClass(d.Class.Open, "bench-p")
	return nil
}

// verifyResult is what one request through a target did to the page.
type verifyResult struct {
	Status      int      `json:"status"`
	Bytes       int      `json:"bytes"`
	OriginBytes int      `json:"origin_bytes"`
	Identical   bool     `json:"identical_to_origin"`
	Edits       int      `json:"edits_found"`
	Cards       int      `json:"items"`
	OriginCards int      `json:"origin_items"`
	Cookies     []string `json:"cookies_set,omitempty"`
	Problem     string   `json:"problem,omitempty"`
}

// Summary is one line for the report.
func (v *verifyResult) Summary() string {
	s := thousands(float64(v.Bytes)) + " bytes"
	if v.Identical {
		s += ", identical to the origin's"
	} else {
		s += fmt.Sprintf(", %d/5 edits, %d of %d items", v.Edits, v.Cards, v.OriginCards)
	}
	if len(v.Cookies) > 0 {
		s += ", sets " + strings.Join(v.Cookies, ", ")
	}
	return s
}

// editsFound counts the five edits' marks in body.
func editsFound(body, removedOpen string) int {
	n := 0
	for _, mark := range []string{"Picked for you in ", "/offers?seg=", "bench-p", `class="bench-banner"`} {
		if strings.Contains(body, mark) {
			n++
		}
	}
	if removedOpen != "" && !strings.Contains(body, removedOpen) {
		n++
	}
	return n
}

var httpClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// fetch sends request i with jar and returns status, body and the names
// and values of the cookies set.
func fetch(ctx context.Context, url string, i uint64, jar string) (int, string, []*http.Cookie, error) {
	req, err := requestFor(url, i, jar)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := httpClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Cookies(), err
}

// captureJars plays one visitor per warm-up page: each views it once, and
// the cookies the target set (visitor id, seen-filter) make the cookie
// header of a returning visitor. Targets that set no cookie give none.
func captureJars(ctx context.Context, base string, paths []string) ([]string, error) {
	var jars []string
	for v, p := range paths {
		_, _, cookies, err := fetch(ctx, base+p, uint64(v), "")
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, c := range cookies {
			parts = append(parts, c.Name+"="+c.Value)
		}
		if len(parts) > 0 {
			jars = append(jars, strings.Join(parts, "; "))
		}
	}
	return jars, nil
}

// verifyTarget fetches the page through t as a returning visitor and
// checks that it did what it should: the five edits or none, items
// hidden or not.
func verifyTarget(ctx context.Context, t *target, origin string, sel Selectors) *verifyResult {
	jar := ""
	if len(t.jars) > 0 {
		jar = t.jars[len(t.jars)-1]
	}
	v := &verifyResult{OriginBytes: len(origin), OriginCards: countElements(origin, sel.Card)}
	status, body, cookies, err := fetch(ctx, t.url, 1, jar)
	if err != nil {
		v.Problem = err.Error()
		return v
	}
	v.Status, v.Bytes = status, len(body)
	v.Identical = body == origin
	removed, _ := findElement(origin, sel.Remove)
	v.Edits = editsFound(body, removed.Open)
	v.Cards = countElements(body, sel.Card)
	for _, c := range cookies {
		v.Cookies = append(v.Cookies, c.Name)
	}
	var problems []string
	if status != http.StatusOK {
		problems = append(problems, fmt.Sprintf("status %d", status))
	}
	if t.wantEdits && v.Edits != 5 {
		problems = append(problems, fmt.Sprintf("%d of the 5 edits found", v.Edits))
	}
	if !t.wantEdits && !t.wantHidden && !v.Identical {
		problems = append(problems, "the page differs from the origin's")
	}
	if t.wantHidden && v.Cards >= v.OriginCards {
		problems = append(problems, fmt.Sprintf("no item hidden (%d of %d shown)", v.Cards, v.OriginCards))
	}
	if !t.wantHidden && v.Cards != v.OriginCards {
		problems = append(problems, fmt.Sprintf("%d of %d items shown", v.Cards, v.OriginCards))
	}
	v.Problem = strings.Join(problems, "; ")
	return v
}

// firstLines keeps the useful start of a tool's error output.
func firstLines(b []byte, n int) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "# ") {
			continue // go build's "# package" headers
		}
		out = append(out, l)
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, " | ")
}

var bespokeReady = regexp.MustCompile(`^bespoke: serving .* through http://`)
var helperReady = regexp.MustCompile(`^` + regexp.QuoteMeta(readyPrefix))
