package visit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Page is the origin's answer to a request.
type Page struct {
	Body []byte
	// JSON says the body is JSON; otherwise it is HTML.
	JSON bool
	// Status is the origin's status; 0 means 200.
	Status int
	// Header is the origin's response header; nil means none.
	Header http.Header
}

// Output is what the visitor gets.
type Output struct {
	Status int
	// Header is the origin's header with what the rules set: headers,
	// cookies (Set-Cookie), the redirect's Location, the experiments;
	// and the Cache-Control and Vary the proxy sends with it
	// (proxy.CacheHeaders). The proxy's own cookies (the visitor id, the
	// seen-filter's) are not in it.
	Header http.Header
	Body   []byte
	// Applied counts, for each of the plan's page edits, the elements it
	// changed; JSONApplied says, for each JSON edit, whether it changed
	// the document. Both are empty when the page was not rewritten.
	Applied     []int
	JSONApplied []bool
	// Refused counts, for each of the plan's page edits, the elements
	// where it would have written values of the request as code (a
	// <meta>'s content that another edit gives http-equiv, a
	// <script>'s type: rewrite.Edit.Interpolated), and did not.
	Refused []int
	// Shown are the item ids hide_seen and json_hide_seen let through
	// and the view records, each once, in the order they were recorded:
	// none for a visitor who declines tracking or a request that is no
	// page view (a prefetch, a subresource).
	Shown []string
	// Marked are the mark_seen items this page view records, and Counted
	// the capped rules it counts (by name): those of the rules that took
	// effect, as the proxy keeps them (proxy.ViewEffects); none for a
	// HEAD, a request that is no page view (an image, a prefetch) or a
	// visitor who declines tracking.
	Marked, Counted []string
	// Untouched says why the proxy passes a page the plan edits as the
	// origin sent it (proxy.BodyPlan's reason: too_large, no_transform,
	// xhtml, ..., or UntouchedType), "" when it rewrites it or nothing
	// edits it.
	Untouched string
}

// UntouchedType is Output.Untouched for a response that is no HTML page
// (an image, a style sheet): the rules' page edits do not apply to it.
const UntouchedType = "type"

// UntouchedCharset is Output.Untouched for a page in an encoding the
// proxy leaves alone (UTF-16, ISO-2022-JP), as its metric names it.
const UntouchedCharset = "charset"

// maxPage bounds a page read from a file or an origin.
const maxPage = 64 << 20

// Render returns what the visitor gets when the origin answers page,
// rewritten as the proxy would rewrite it. A nil page is a page not
// known: the Output has the rules' headers and cookies, and the caching
// the proxy gives an HTML page that names none (the edits taken as
// applied), and no body.
func (r *Result) Render(page *Page) (*Output, error) { return r.RenderWith(page, nil) }

// RenderWith is Render with the page edits passed through edit first: it
// gets a copy of the plan's page edits and returns the edits to apply (a
// preview wraps inserted content and adds classes to show what changed).
// The edits it adds use the plugin's selectors; Applied counts only the
// plan's.
func (r *Result) RenderWith(page *Page, edit func([]rewrite.Edit) []rewrite.Edit) (*Output, error) {
	p := r.Plan
	out := &Output{Status: http.StatusOK, Header: http.Header{}}
	if rd := p.Redirect; rd != nil {
		out.Status = rd.Status
		out.Header.Set("Location", rd.Location)
		// A redirect names the variants, as pages do: it may be one.
		r.setHeaders(out.Header, true)
		r.effects(out, nil, 0, nil)
		proxy.CacheHeaders(out.Header, proxy.View{Site: r.site, Request: r.Request, Decided: r.decided, Untracked: r.Untracked,
			Status: out.Status, Records: len(out.Counted)+len(out.Marked) > 0})
		return out, nil
	}
	if page == nil {
		// No page is known: the headers and cookies go, and the page
		// edits are taken as applied (Marked, Counted), as the proxy
		// takes them before it has seen the body.
		// Its caching is the proxy's for an HTML page whose origin
		// sends no caching headers of its own, the edits applied.
		r.setHeaders(out.Header, true)
		h := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
		r.effects(out, h, -1, nil)
		proxy.CacheHeaders(out.Header, proxy.View{Site: r.site, Request: r.Request, Decided: r.decided, Untracked: r.Untracked,
			Status: out.Status, Header: h, ContentLength: -1, Records: len(out.Counted)+len(out.Marked) > 0})
		return out, nil
	}
	if page.Status != 0 {
		out.Status = page.Status
	}
	for k, vs := range page.Header {
		out.Header[k] = append([]string(nil), vs...)
	}
	r.setHeaders(out.Header, true)
	out.Body = page.Body
	// As the proxy's: only a page view of a visitor whose state is kept
	// records what it shows (a HEAD and a status other than 200 show no
	// list below).
	r.seen.reset(!r.Untracked && !proxy.NotAView(r.Request.Header))
	// What the proxy does with the body, from the origin's headers; a
	// page read from a file has none, and is the HTML or JSON it says.
	h := page.Header
	if h.Get("Content-Type") == "" {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", map[bool]string{true: "application/json", false: "text/html; charset=utf-8"}[page.JSON])
	}
	kind, why := proxy.BodyPlan(out.Status, h, int64(len(page.Body)), p, 0)
	// A page file without a type is HTML in the encoding its byte order
	// mark or <meta> names, else UTF-8.
	pageType := cmp.Or(page.Header.Get("Content-Type"), "text/html")
	switch {
	case out.Status != http.StatusOK || r.Request.Method == http.MethodHead:
		// Passed through as the origin sent it.
	case kind == proxy.BodyPass:
		out.Untouched = why
		if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); why == "" && len(p.Edits) > 0 && !page.JSON && !strings.EqualFold(mt, "text/html") {
			// An image, a style sheet: no page the rules' edits apply to.
			out.Untouched = UntouchedType
		}
	case page.JSON:
		if len(p.JSONEdits) == 0 {
			break
		}
		// A byte order mark is no part of the document: the proxy edits
		// what follows it, and sends the document without it.
		body, applied, err := jsonrw.Apply(bytes.TrimPrefix(page.Body, []byte("\xEF\xBB\xBF")), p.JSONEdits, r.seen)
		if errors.Is(err, jsonrw.ErrTooManyElements) {
			// The proxy passes it as the origin sent it.
			out.Untouched = "too_large"
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the page is not valid JSON: %w", err)
		}
		out.Body, out.JSONApplied = body, applied
	default:
		edits := p.Edits
		if edit != nil {
			edits = edit(append([]rewrite.Edit(nil), p.Edits...))
		}
		if len(edits) == 0 {
			break
		}
		// In the page's encoding, as the proxy writes it.
		edits, opt, ok := proxy.ForPage(pageType, page.Body, edits, rewrite.Options{Seen: r.seen})
		if !ok {
			out.Untouched = UntouchedCharset
			break
		}
		var b bytes.Buffer
		rw := r.site.Program().NewRewriter(&b, edits, opt)
		rw.Write(page.Body)
		rw.Close()
		applied, refused := rw.Applied(), rw.Refused()
		out.Applied = applied[:min(len(p.Edits), len(applied))]
		out.Refused = refused[:min(len(p.Edits), len(refused))]
		rw.Release()
		out.Body = b.Bytes()
	}
	out.Shown = append([]string(nil), r.seen.shown...)
	r.effects(out, h, int64(len(page.Body)), func(ei int) bool {
		if out.JSONApplied != nil {
			return ei < len(out.JSONApplied) && out.JSONApplied[ei]
		}
		return ei < len(out.Applied) && out.Applied[ei] > 0
	})
	untouched := out.Untouched
	if untouched == UntouchedType {
		untouched = ""
	}
	proxy.CacheHeaders(out.Header, proxy.View{Site: r.site, Request: r.Request, Decided: r.decided, Untracked: r.Untracked,
		Status: out.Status, Header: h, ContentLength: int64(len(page.Body)), Untouched: untouched,
		JSONChanged: slices.Contains(out.JSONApplied, true), Records: len(out.Counted)+len(out.Marked) > 0})
	return out, nil
}

// effects sets out's Marked and Counted: what a page view of the response
// (its header h and length, -1 when unknown) records, of the rules that
// took effect (applied says which edits did; nil: each did). A HEAD shows
// no page, and nothing is kept for a visitor who declines tracking.
func (r *Result) effects(out *Output, h http.Header, length int64, applied func(ei int) bool) {
	if r.Request.Method == http.MethodHead || r.Untracked {
		return
	}
	counted, marked := proxy.ViewEffects(r.Request.Header, out.Status, h, length, r.Plan, applied)
	m := r.site.Manifest()
	for _, ri := range counted {
		out.Counted = append(out.Counted, m.Rules[ri].Name)
	}
	out.Marked = marked
}

// AppliedWith returns how many elements each of edits (page edits of
// the plan's program, such as some of the plan's) changes on page,
// without recording anything seen: explain asks it whether an edit that
// changed nothing selects nothing or was taken by another.
func (r *Result) AppliedWith(page *Page, edits []rewrite.Edit) []int {
	rw := r.site.Program().NewRewriter(io.Discard, edits, rewrite.Options{})
	rw.Write(page.Body)
	rw.Close()
	n := append([]int(nil), rw.Applied()...)
	rw.Release()
	return n
}

// Unchanged says why page edit i of the plan changed nothing on page,
// when no other edit took its element (TakenBy): its selector selects
// nothing there, or what it selects had nothing to change (no item was
// seen before; no list holds more items than a limit keeps, said with
// how many it selects when those are more, each alone in its parent).
func (r *Result) Unchanged(page *Page, i int) string {
	e := r.Plan.Edits[i]
	sel := r.AppliedWith(page, []rewrite.Edit{{Selector: e.Selector, Op: rewrite.AddClass, Attr: "bsk-probe"}})[0]
	switch {
	case sel == 0:
		if why := r.Implied(page, i); why != "" {
			return why
		}
		return "its selector selects nothing on this page"
	case e.Op == rewrite.HideSeen:
		return "none of its items was seen before"
	case e.Op == rewrite.Limit && sel > e.N:
		// More than it keeps, in lists of fewer: the items are counted
		// in each parent.
		return fmt.Sprintf("it selects %d elements, but counts the items of each list, the children of one parent, and no parent here holds more than %d of them; select the list's items themselves: ul.cards > li, not the cards inside them", sel, e.N)
	case e.Op == rewrite.Limit:
		return "the page has no more items than it keeps"
	}
	return "it had nothing to change on this page"
}

// Implied says why page edit i of the plan cannot change page when its
// selector names an element the page has no tag for (html, head, body,
// tbody: the browser makes them where the page leaves their tags out, as
// minifiers do, and bespoke edits only elements whose tags are in the
// page); "" when it names none. It does not say whether the edit
// applied: a selector that names body may select the body of a page
// whose tag is in a comment.
func (r *Result) Implied(page *Page, i int) string {
	e := r.Plan.Edits[i]
	tag := ImpliedTag(r.site.Manifest().Selectors[e.Selector], page.Body)
	switch {
	case tag == "head" && r.Plan.EditRules[i] < 0:
		// The experiments' meta: true, which names no selector.
		return "meta: true writes the variants' <meta> at the end of the page's <head>, and this page has no <head> tag: the browser makes one, but bespoke edits only elements whose tags are in the page; on this page, analytics read the variants from X-Bespoke-Experiments"
	case tag != "":
		return fmt.Sprintf("its selector names %[1]s, which this page has no <%[1]s> tag for: the browser makes one, and bespoke edits only elements whose tags are in the page (rules/SYNTAX.md, \"Where bespoke's idea of the page differs from the browser's\")", tag)
	}
	return ""
}

// ImpliedTag returns an element the selector sel names (html, head,
// body, tbody) whose start tag is nowhere in page, "" for none: the
// browser creates it where the page leaves its tag out (a minifier's
// optional tags), and the rewriter sees only elements whose tags are in
// the page. The search is for the tag's bytes anywhere, a comment or a
// script's text included: the message it leads to is only given when
// one is surely missing.
func ImpliedTag(sel string, page []byte) string {
	list, err := selector.Parse(sel)
	if err != nil {
		return ""
	}
	for _, c := range list {
		for _, cp := range c.Compounds {
			switch cp.Type {
			case "html", "head", "body", "tbody":
				if !hasStartTag(page, cp.Type) {
					return cp.Type
				}
			}
		}
	}
	return ""
}

// hasStartTag reports whether page holds "<name" followed by what ends
// a tag name, in any case.
func hasStartTag(page []byte, name string) bool {
	for i := 0; ; {
		j := bytes.IndexByte(page[i:], '<')
		if j < 0 {
			return false
		}
		i += j + 1
		if len(page)-i > len(name) && strings.EqualFold(string(page[i:i+len(name)]), name) {
			switch page[i+len(name)] {
			case ' ', '\t', '\n', '\f', '\r', '/', '>':
				return true
			}
		}
	}
}

// TakenBy returns the page edit of the plan that took the element of
// edit i, which changed applied[i] elements of page (Output.Applied),
// when it changed none where its selector selects some: an earlier
// rule's edit that writes the same, or any rule's that replaces or
// removes an element around it, which comes first in the page. ok is
// false when edit i applied or selects nothing.
func (r *Result) TakenBy(page *Page, applied []int, i int) (j int, ok bool) {
	p := r.Plan
	if applied[i] > 0 || r.AppliedWith(page, p.Edits[i:i+1])[0] == 0 {
		return -1, false
	}
	for j, e := range p.Edits {
		if j == i || applied[j] == 0 {
			continue
		}
		// The two alone, in the plan's order (its priority).
		pair, mine := []rewrite.Edit{e, p.Edits[i]}, 1
		if i < j {
			pair, mine = []rewrite.Edit{p.Edits[i], e}, 0
		}
		if r.AppliedWith(page, pair)[mine] == 0 {
			return j, true
		}
	}
	return -1, false
}

// setHeaders sets the rules' headers and cookies, and on pages and
// redirects (page) the experiments header, as the proxy does.
func (r *Result) setHeaders(h http.Header, page bool) {
	p := r.Plan
	for _, c := range p.Cookies {
		if s := c.String(); s != "" {
			h.Add("Set-Cookie", s)
		}
	}
	for _, rh := range p.ResponseHeaders {
		h.Set(rh.Name, rh.Value)
	}
	if page && p.Experiments != "" {
		h.Set(plan.ExperimentsHeader, p.Experiments)
	}
}

// OriginRequest returns the request the proxy sends the origin for this
// visitor: the visitor's headers, the rules' request headers, and no
// compression (the rewriter reads the body).
func (r *Result) OriginRequest(ctx context.Context, origin *url.URL) (*http.Request, error) {
	u := *origin
	// As the proxy sends it: an escaped slash (%2F) stays one.
	u.Path = strings.TrimSuffix(origin.Path, "/") + r.Request.URL.Path
	u.RawPath = strings.TrimSuffix(origin.EscapedPath(), "/") + r.Request.URL.EscapedPath()
	u.RawQuery = r.Request.URL.RawQuery
	req, err := http.NewRequestWithContext(ctx, r.Request.Method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = r.Request.Header.Clone()
	req.Header.Del("Accept-Encoding")
	// What the proxy says of the visitor's request: an origin that
	// builds links from X-Forwarded-Host answers as it does behind it.
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
		req.Header.Del(h) // as httputil.ReverseProxy hands them over
	}
	proxy.ForwardHeaders(r.Request, req.Header)
	for _, h := range r.Plan.RequestHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	return req, nil
}

// Fetch asks origin for the page of this visitor's request, as the proxy
// would forward it.
func (r *Result) Fetch(ctx context.Context, client *http.Client, origin *url.URL) (*Page, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := r.OriginRequest(ctx, origin)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, err
	}
	return &Page{Body: body, Status: resp.StatusCode, Header: resp.Header, JSON: isJSON(resp.Header.Get("Content-Type"))}, nil
}

// isJSON reads a Content-Type as the proxy does (proxy.IsJSON), however
// loosely it is written.
func isJSON(ct string) bool { return proxy.IsJSON(ct) }

// PageFromFS returns the page a static server of fsys answers for urlPath:
// index.html for a directory, "/stores" from stores.html; a .json file is
// JSON.
func PageFromFS(fsys fs.FS, urlPath string) (*Page, error) {
	name := strings.TrimPrefix(path.Clean("/"+strings.SplitN(urlPath, "?", 2)[0]), "/")
	candidates := []string{"index.html"}
	if name != "" {
		candidates = []string{name, name + ".html", path.Join(name, "index.html")}
	}
	for _, c := range candidates {
		st, err := fs.Stat(fsys, c)
		if err != nil || st.IsDir() {
			continue
		}
		body, err := fs.ReadFile(fsys, c)
		if err != nil {
			return nil, err
		}
		return &Page{Body: body, JSON: strings.HasSuffix(c, ".json")}, nil
	}
	files := candidates
	if len(files) > 1 && path.Ext(name) == "" {
		files = files[1:] // "stores" is a file few save
	}
	return nil, fmt.Errorf("no page for %s: no file %s", urlPath, strings.Join(files, " or "))
}

// PageFromFile reads a page file: JSON when typ is "json", or when typ is
// empty and the file ends in .json; HTML otherwise.
func PageFromFile(file, typ string) (*Page, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxPage))
	if err != nil {
		return nil, err
	}
	return &Page{Body: body, JSON: typ == "json" || typ == "" && strings.HasSuffix(file, ".json")}, nil
}

// EditActions returns, for each of the plan's page edits, the index of the
// action it came from in its rule (-1 for the experiments' <meta> tag),
// and likewise for the JSON edits: the plan lists each matched rule's
// edits in the order of its actions.
func EditActions(m *plugin.Manifest, p *plan.Plan) (edits, jsonEdits []int) {
	next := func(rules []int, want func(op string) bool) []int {
		out := make([]int, len(rules))
		pos := map[int]int{} // rule -> index of its next action to match
		for i, ri := range rules {
			out[i] = -1
			if ri < 0 || ri >= len(m.Rules) {
				continue
			}
			acts := m.Rules[ri].Actions
			for ai := pos[ri]; ai < len(acts); ai++ {
				if want(acts[ai].Op) {
					out[i], pos[ri] = ai, ai+1
					break
				}
			}
		}
		return out
	}
	edits = next(p.EditRules, plugin.ElementOp)
	jsonEdits = next(p.JSONRules, plugin.JSONOp)
	return edits, jsonEdits
}

// Next returns the Spec of this visitor's next page view, after it was
// served out: spec (the Spec r was run with) with what the proxy keeps of
// this view. The visitor is the same, now returning; the items recorded
// as seen (Shown, then Marked) were shown once more, listed after those
// seen before; each capped rule counted (Counted) was shown once more;
// and the cookies the rules set are sent, those they removed are not. A
// visitor the proxy keeps nothing for (Sec-GPC) keeps only the cookies.
// The time is spec's: no window of a cap ends between the two views.
func (r *Result) Next(spec Spec, out *Output) Spec {
	next := spec
	next.Headers = slices.Clone(spec.Headers)
	next.Values = maps.Clone(spec.Values)
	next.Variants = maps.Clone(spec.Variants)
	next.Buckets = maps.Clone(spec.Buckets)
	next.Seen = slices.Clone(spec.Seen)
	next.Shown = maps.Clone(spec.Shown)
	next.Cookies = nil
	for _, c := range spec.Cookies {
		if !slices.ContainsFunc(r.Plan.Cookies, func(pc plan.Cookie) bool { return pc.Name == c[0] }) {
			next.Cookies = append(next.Cookies, c)
		}
	}
	at := cmp.Or(spec.At, time.Now())
	for _, c := range r.Plan.Cookies {
		if c.MaxAge >= 0 && (c.Expires.IsZero() || c.Expires.After(at)) {
			next.Cookies = append(next.Cookies, [2]string{c.Name, c.Value})
		}
	}
	if r.Untracked {
		return next
	}
	next.Visitor, next.New = r.Visitor.ID, nil
	// One more showing of each item the view recorded, however many
	// times it showed it, as the proxy's filter counts them.
	var recorded []string
	for _, id := range slices.Concat(out.Shown, out.Marked) {
		if !slices.Contains(recorded, id) {
			recorded = append(recorded, id)
		}
	}
	next.Seen = append(next.Seen, recorded...)
	for _, name := range out.Counted {
		if next.Shown == nil {
			next.Shown = map[string]int{}
		}
		next.Shown[name]++
	}
	return next
}
