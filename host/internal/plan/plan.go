// Package plan turns a module's Decision into what the proxy does for one
// request: which redirect, which headers and cookies, and which page edits,
// with interpolated values rendered and escaped for where they go.
//
// Actions are compiled once per plugin (Compile): literal texts are escaped
// then, so a request only copies prepared edits and renders the few
// templates that interpolate the visitor's values.
//
// Conflicts between rules are resolved here and in the rewriter, by one
// rule: rules are in priority order, the earlier rule in the file wins.
// Here that means the first matching redirect wins, and of two set_header
// (same header, same side) or set_cookie (same cookie) actions the first
// wins; the rest are recorded as Skipped. For page edits, the rewriter
// applies the same rule per element (see package rewrite).
package plan

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/jsonpath"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Plan is what to do for one request.
type Plan struct {
	// Matched are the indexes of the matched rules, in file order.
	Matched []int
	// Redirect, when not nil, answers the request without asking the
	// origin.
	Redirect *Redirect
	// Loop, when not nil, is the redirect a rule decided that points to
	// the page requested, and that was therefore not made: the visitor
	// would come back to the same rule and be sent there again, in a
	// loop (see Options.URL).
	Loop *Redirect
	// Kept, when not nil, is the redirect a rule decided that the
	// request's method keeps from being made (see Redirects): the request
	// goes on to the origin.
	Kept *Redirect
	// RequestHeaders are set on the request to the origin; ResponseHeaders
	// on the response to the visitor.
	RequestHeaders  []Header
	ResponseHeaders []Header
	// Cookies are set on the response.
	Cookies []Cookie
	// Edits are the page edits in priority order; EditRules[i] is the rule
	// Edits[i] came from.
	Edits     []rewrite.Edit
	EditRules []int
	// Skipped lists actions that lost a conflict.
	Skipped []Skipped
	// Refused lists actions whose values of the request could not be
	// written where the action writes them (a URL the rule does not
	// allow, a scheme or host a value would have chosen): the value was
	// replaced by its default, or the action dropped.
	Refused []Refused
	// Unset lists the cookies not set because a value of the request
	// they hold is missing, with no default.
	Unset []Unset
	// JSONEdits are the edits of JSON responses, in priority order;
	// JSONRules[i] is the rule JSONEdits[i] came from.
	JSONEdits []jsonrw.Edit
	JSONRules []int
	// jsonPaths[i] is the action JSONEdits[i] came from, for its path,
	// read once.
	jsonPaths []*action
	// MarkSeen are item ids to record in the visitor's seen-filter (when
	// the response shows what their rule did); MarkSeenRules[i] is the
	// rule MarkSeen[i] came from.
	MarkSeen      []string
	MarkSeenRules []int
	// Capped are the matched rules with a frequency cap, whose count the
	// host increments.
	Capped []int
	// SeenEdits says some edit reads or writes the seen-filter (hide_seen).
	SeenEdits bool

	// Variants names each experiment's variant for this visitor ("" when
	// not enrolled), by experiment index.
	Variants []string
	// Experiments is the ExperimentsHeader value naming the variants, or
	// "". It belongs on pages (HTML, JSON) and on the rules' redirects
	// (a variant may be one), not on every asset.
	Experiments string

	redirect Redirect
	loop     Redirect
	kept     Redirect
	arena    []byte // rendered interpolations, reused across requests
	skeleton []byte // scratch for the skeletons of rendered URLs
	variants []string
	lists    []bool // the program's: which slots may hold lists
}

// Redirect is a redirect decided by a rule.
type Redirect struct {
	Location string
	Status   int
	Rule     int
}

// Header is a header to set.
type Header struct {
	Name, Value string
	Rule        int
}

// Cookie is a cookie to set.
type Cookie struct {
	*http.Cookie
	Rule int
}

// Skipped is an action that lost a conflict to an earlier rule.
type Skipped struct {
	Rule, Action int
	// Winner is the rule whose action was kept.
	Winner int
	Reason string
}

// Refused is an action whose value from the request could not be written
// where it goes.
type Refused struct {
	Rule, Action int
	// Dropped says the action was not applied; otherwise the value's
	// default (or nothing) replaced it.
	Dropped bool
	Reason  string
}

// Unset is a set_cookie not applied: Part, a value of its template, is
// missing from the request and has no default. Setting the cookie
// anyway would replace what the visitor's cookie holds with nothing: a
// rule that keeps a campaign's ref from the link a visitor came by would
// erase it on their next page, which has no ref, and on every asset.
type Unset struct {
	Rule, Action int
	Part         plugin.Part
}

// Personalized reports whether the plan changes anything for the visitor.
func (p *Plan) Personalized() bool {
	return p.Redirect != nil || len(p.ResponseHeaders) > 0 || len(p.RequestHeaders) > 0 || len(p.Cookies) > 0 || len(p.Edits) > 0 || len(p.JSONEdits) > 0
}

// Reset empties p for reuse, keeping its storage.
func (p *Plan) Reset() {
	p.Matched = p.Matched[:0]
	p.Redirect, p.Loop, p.Kept = nil, nil, nil
	p.RequestHeaders = p.RequestHeaders[:0]
	p.ResponseHeaders = p.ResponseHeaders[:0]
	p.Cookies = p.Cookies[:0]
	p.Edits = p.Edits[:0]
	p.EditRules = p.EditRules[:0]
	p.Skipped = p.Skipped[:0]
	p.Refused = p.Refused[:0]
	p.Unset = p.Unset[:0]
	p.Experiments = ""
	p.MarkSeen = p.MarkSeen[:0]
	p.MarkSeenRules = p.MarkSeenRules[:0]
	p.JSONEdits = p.JSONEdits[:0]
	p.JSONRules = p.JSONRules[:0]
	clear(p.jsonPaths) // no action of a program kept alive by a pooled Plan
	p.jsonPaths = p.jsonPaths[:0]
	p.Capped = p.Capped[:0]
	p.SeenEdits = false
	// Edits of the previous request may still point into the arena if the
	// caller kept them; it must not (a Plan is reused only after Release).
	p.arena = p.arena[:0]
}

// Options are request facts that shape the plan.
type Options struct {
	// Secure marks cookies Secure (the request came over TLS).
	Secure bool
	// URL and Host are the request's (as a server reads them: a path and
	// query, and the Host header), to tell a redirect to the page
	// requested, which is not made (Plan.Loop). With a nil URL, every
	// redirect is made.
	URL  *url.URL
	Host string
	// Method is the request's; "" is taken as GET. A redirect is made
	// only for the methods Redirects says (Plan.Kept).
	Method string
}

// Redirects reports whether a redirect of status answers a request of
// method. GET and HEAD are redirected. A browser follows a 301, 302 or
// 303 with a GET, which drops what a form posted: other methods go on to
// the origin, which alone can take the body. A 307 or 308 keeps the
// method and body, and answers them too, except an OPTIONS: a CORS
// preflight answered by a redirect fails the request it asks for
// (Fetch standard, CORS-preflight fetch).
func Redirects(method string, status int) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead:
		return true
	case http.MethodOptions:
		return false
	}
	return status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
}

// Program is a manifest's actions, prepared once per plugin. It is safe for
// concurrent use.
type Program struct {
	m     *plugin.Manifest
	rules [][]action
	// untracked are the counts the capped rules' slots get for a visitor
	// whose counts cannot be kept: by slot key, the rule's cap for rules
	// that then do not apply (the others are absent).
	untracked map[string]int
	// capped are every capped rule's: its cap, by slot key.
	capped map[string]int
	// capRules are the capped rules' windows, for the counts to know
	// which of their entries are dead (see caps.Counts.Rules).
	capRules *caps.Rules
	// capsLife is the longest window of the capped rules.
	capsLife time.Duration
	// headSelector is the index of the "head" selector, for experiments
	// exposed with a <meta> tag; -1 when none is.
	headSelector int
	// lists says, by slot, whether its value may be a list (languages,
	// json of an array): only then is a value rendered as its items.
	lists []bool
}

// ExperimentsHeader is the response header naming the variants a visitor
// was assigned, for analytics: "hero-test=bold, checkout=control".
const ExperimentsHeader = "X-Bespoke-Experiments"

type action struct {
	a    *plugin.Action
	kind kind
	// edit is the prepared edit; Content is already rendered when the
	// content template is literal (content == nil).
	edit    rewrite.Edit
	content plugin.Template // non-nil when the content interpolates
	mode    Escape
	value   plugin.Template // non-nil when the value interpolates
	order   plugin.Template // non-nil when a reorder's ids interpolate
	json    jsonrw.Edit     // kindJSON: the prepared edit
	// path is json.Path read, once, for the conflicts of JSON edits;
	// pathOK is false when it cannot be read (check refuses such paths).
	path   []jsonpath.Step
	pathOK bool
	// plainPath says json.Path is keys of letters, digits, '_' and '-'
	// (and indexes without a leading zero) joined by '.', where two
	// paths overlap as their text does.
	plainPath bool
	vmode     Escape
	literal   string // the rendered value when it does not interpolate
	// url, when not nil, renders the value as URLs (a URL attribute, a
	// redirect target); html, the content as markup with values.
	url  *urlContext
	html *htmlContext
	// secure says a set_cookie's name demands Secure whatever the
	// request's scheme (__Host-, __Secure-).
	secure bool
	// off, when not empty, says why the action never applies: its
	// manifest puts a value where no escaping makes it safe (a checked
	// rule file never does).
	off string
}

type kind uint8

const (
	kindEdit kind = iota
	kindRedirect
	kindHeader
	kindCookie
	kindMarkSeen
	kindJSON
)

var jsonOps = map[string]jsonrw.Op{
	plugin.OpJSONSet:      jsonrw.Set,
	plugin.OpJSONRemove:   jsonrw.Remove,
	plugin.OpJSONHideSeen: jsonrw.HideSeen,
	plugin.OpJSONLimit:    jsonrw.Limit,
	plugin.OpJSONReorder:  jsonrw.Reorder,
}

var ops = map[string]rewrite.Op{
	plugin.OpSetInner:     rewrite.SetInner,
	plugin.OpReplace:      rewrite.Replace,
	plugin.OpRemove:       rewrite.Remove,
	plugin.OpInsertBefore: rewrite.InsertBefore,
	plugin.OpInsertAfter:  rewrite.InsertAfter,
	plugin.OpPrepend:      rewrite.Prepend,
	plugin.OpAppend:       rewrite.Append,
	plugin.OpSetAttr:      rewrite.SetAttr,
	plugin.OpRemoveAttr:   rewrite.RemoveAttr,
	plugin.OpAddClass:     rewrite.AddClass,
	plugin.OpRemoveClass:  rewrite.RemoveClass,

	plugin.OpRemoveKeepContent: rewrite.RemoveKeepContent,
	plugin.OpLimit:             rewrite.Limit,
	plugin.OpReorder:           rewrite.Reorder,
	plugin.OpHideSeen:          rewrite.HideSeen,
}

// OpName returns the rule-file name of a rewrite operation.
func OpName(op rewrite.Op) string {
	for name, o := range ops {
		if o == op {
			return name
		}
	}
	return "?"
}

// JSONOpName returns the rule-file name of a JSON operation
// ("json_hide_seen").
func JSONOpName(op jsonrw.Op) string {
	for name, o := range jsonOps {
		if o == op {
			return name
		}
	}
	return "?"
}

// Compile prepares the actions of m. An action the rule checker would
// refuse for safety's sake (plugin.CheckAction, plugin.CheckMarkup: a
// value of the request where no escaping makes it safe, a header or
// cookie that is the proxy's, raw JSON with a value, markup that leaves
// the page in another state) never applies: a manifest from the rule
// checker has none, and the host does not rely on where a manifest came
// from.
func Compile(m *plugin.Manifest) *Program {
	p := &Program{m: m, rules: make([][]action, len(m.Rules)), headSelector: -1, lists: make([]bool, len(m.Slots)), untracked: map[string]int{}, capped: map[string]int{}}
	windows := map[string]time.Duration{}
	for _, r := range m.Rules {
		if c := r.Cap; c != nil && c.Slot >= 0 && c.Slot < len(m.Slots) {
			p.capped[m.Slots[c.Slot].Arg] = c.Times
			windows[m.Slots[c.Slot].Arg] = time.Duration(c.Window) * time.Second
			p.capsLife = max(p.capsLife, time.Duration(c.Window)*time.Second)
			if !c.ShowUntracked {
				p.untracked[m.Slots[c.Slot].Arg] = c.Times
			}
		}
	}
	p.capRules = caps.NewRules(windows)
	for i, s := range m.Slots {
		a, _ := plugin.LookupAttr(s.Attr)
		p.lists[i] = a.Type == plugin.List || s.Attr == "json"
	}
	for i, sel := range m.Selectors {
		if sel == "head" {
			p.headSelector = i
		}
	}
	for ri := range m.Rules {
		for ai := range m.Rules[ri].Actions {
			a := &m.Rules[ri].Actions[ai]
			c := action{a: a}
			if prob := plugin.CheckAction(a); prob != nil {
				c.off = prob.Error()
			} else if a.Select >= 0 && a.Select < len(m.Selectors) {
				if prob, _, _ := plugin.CheckMarkup(a, m.Selectors[a.Select]); prob != nil {
					c.off = prob.Error()
				}
			}
			switch a.Op {
			case plugin.OpRedirect:
				c.kind, c.vmode = kindRedirect, Raw
				c.url = &urlContext{kind: escape.URL, schemes: a.Schemes}
			case plugin.OpSetHeader:
				c.kind, c.vmode = kindHeader, HeaderValue
			case plugin.OpSetCookie:
				c.kind, c.vmode = kindCookie, CookieValue
				c.secure = securePrefix(a.Name)
			case plugin.OpJSONSet, plugin.OpJSONRemove, plugin.OpJSONHideSeen, plugin.OpJSONLimit, plugin.OpJSONReorder:
				c.kind = kindJSON
				c.json = jsonrw.Edit{Op: jsonOps[a.Op], Path: a.Path, ID: a.IDAttr, N: a.N,
					Demote: a.Demote, MarkFirst: a.MarkFirst, NoMark: a.NoMark}
				if st, err := jsonpath.Parse(a.Path); err == nil {
					c.path, c.pathOK, c.plainPath = st, true, plainPath(a.Path)
				}
				c.vmode = JSONString
				if a.JSON {
					c.vmode = Raw
				}
				if a.Order != nil {
					if a.Order.IsLiteral() {
						c.json.Order = splitIDs(Render(a.Order, nil, Raw))
					} else {
						c.order = a.Order
					}
				}
			case plugin.OpMarkSeen:
				c.kind, c.vmode = kindMarkSeen, Raw
				if a.Item.IsLiteral() {
					c.literal = Render(a.Item, nil, Raw)
				} else {
					c.value = a.Item
				}
			default:
				c.kind = kindEdit
				c.edit = rewrite.Edit{Selector: a.Select, Op: ops[a.Op], Attr: a.Name}
				c.mode = Text
				if a.HTML {
					c.mode = HTML
				}
				if a.Content != nil {
					switch {
					case a.Content.IsLiteral():
						c.edit.Content = []byte(Render(a.Content, nil, c.mode))
					case a.HTML && c.off == "":
						hc, prob := compileHTML(a.Content, a.Schemes)
						if prob != nil {
							c.off = prob.Error()
						}
						c.content, c.html = a.Content, hc
						c.edit.Interpolated = true
					default:
						c.content = a.Content
						c.edit.Interpolated = true
					}
				}
				c.vmode = Raw
				if a.Op == plugin.OpSetAttr {
					if k, _ := escape.AttrKind(a.Name); k != escape.Text && k != escape.Code {
						c.url = &urlContext{kind: k, schemes: a.Schemes}
					}
				}
				switch a.Op {
				case plugin.OpHideSeen, plugin.OpReorder:
					c.edit.Attr = a.IDAttr
					c.edit.N = a.N
					c.edit.Demote, c.edit.MarkFirst, c.edit.NoMark = a.Demote, a.MarkFirst, a.NoMark
				case plugin.OpLimit:
					c.edit.N = a.N
				}
				if a.Op == plugin.OpReorder {
					if a.Order.IsLiteral() {
						c.edit.Order = splitIDs(Render(a.Order, nil, Raw))
					} else {
						c.order = a.Order
					}
				}
			}
			if a.Value != nil {
				if a.Value.IsLiteral() {
					c.literal = Render(a.Value, nil, c.vmode)
					c.edit.Value = c.literal
					c.json.Value = []byte(c.literal)
				} else {
					c.value = a.Value
					c.edit.Interpolated = true
				}
			}
			p.rules[ri] = append(p.rules[ri], c)
		}
	}
	return p
}

// UntrackedCaps returns what the count of each capped rule is for a
// visitor whose counts cannot be kept (Global Privacy Control, declined
// consent): by cap slot key (plugin.Slot.Arg), the rule's cap, for the
// rules that then do not apply (at_most's untracked: hide, the default);
// the rules absent apply as if never counted.
// The map must not be changed.
func (prog *Program) UntrackedCaps() map[string]int { return prog.untracked }

// CapRules are the windows of the capped rules, for a visitor's counts
// to drop their dead entries first when full.
func (prog *Program) CapRules() *caps.Rules { return prog.capRules }

// CapsLife is the longest window of the capped rules: as long as a
// visitor's counts must live for every rule's count to last its window.
func (prog *Program) CapsLife() time.Duration { return prog.capsLife }

// AllCaps is UntrackedCaps for every capped rule: for a response that
// counts no view but may be shown as one (a prefetched or prerendered
// page, which the browser shows without asking again), no capped rule
// applies, so that no showing goes uncounted. The map must not be
// changed.
func (prog *Program) AllCaps() map[string]int { return prog.capped }

// Build fills p (after resetting it) from a decision. vals are the values
// the decision was made on, used to render interpolations.
func (prog *Program) Build(d *plugin.Decision, vals []plugin.Value, opt Options, p *Plan) {
	p.Reset()
	p.Matched = d.Rules(p.Matched)
	p.lists = prog.lists
	p.variants = p.variants[:0]
	for i, v := range d.Variants {
		if i < len(prog.m.Experiments) && v >= 0 && int(v) < len(prog.m.Experiments[i].Variants) {
			p.variants = append(p.variants, prog.m.Experiments[i].Variants[v])
		} else {
			p.variants = append(p.variants, "")
		}
	}
	prog.expose(p)
	for _, ri := range p.Matched {
		if ri >= len(prog.rules) {
			continue
		}
		if prog.m.Rules[ri].Cap != nil {
			p.Capped = append(p.Capped, ri)
		}
		for ai := range prog.rules[ri] {
			c := &prog.rules[ri][ai]
			if c.off != "" {
				p.refuse(ri, ai, true, c.off)
				continue
			}
			switch c.kind {
			case kindEdit:
				e := c.edit
				if c.content != nil {
					if c.html != nil {
						b, res := p.renderHTML(c.content, vals, c.html)
						if !p.outcome(ri, ai, res) {
							continue
						}
						e.Content = b
					} else {
						e.Content = p.render(c.content, vals, c.mode)
					}
				}
				if c.value != nil {
					switch {
					case e.Op == rewrite.AddClass || e.Op == rewrite.RemoveClass:
						e.Attr = className(string(p.render(c.value, vals, c.vmode)))
					case c.url != nil:
						b, res := p.renderURL(c.value, vals, c.url)
						if !p.outcome(ri, ai, res) {
							continue
						}
						e.Value = string(b)
					default:
						e.Value = string(p.render(c.value, vals, c.vmode))
					}
				}
				if c.order != nil {
					e.Order = splitIDs(string(p.render(c.order, vals, Raw)))
				}
				if e.Op == rewrite.HideSeen {
					p.SeenEdits = true
				}
				p.Edits = append(p.Edits, e)
				p.EditRules = append(p.EditRules, ri)
			case kindJSON:
				e := c.json
				if c.value != nil {
					e.Value = p.render(c.value, vals, c.vmode)
				}
				if c.order != nil {
					e.Order = splitIDs(string(p.render(c.order, vals, Raw)))
				}
				if w, taken := jsonOwner(p, e, c); taken {
					p.Skipped = append(p.Skipped, Skipped{Rule: ri, Action: ai, Winner: w, Reason: "an earlier rule already writes " + e.Path})
					continue
				}
				if e.Op == jsonrw.HideSeen {
					p.SeenEdits = true
				}
				p.JSONEdits = append(p.JSONEdits, e)
				p.JSONRules = append(p.JSONRules, ri)
				p.jsonPaths = append(p.jsonPaths, c)
			case kindMarkSeen:
				if id := prog.value(p, c, vals); id != "" {
					p.MarkSeen = append(p.MarkSeen, id)
					p.MarkSeenRules = append(p.MarkSeenRules, ri)
				}
			case kindRedirect:
				if p.Redirect != nil {
					p.Skipped = append(p.Skipped, Skipped{Rule: ri, Action: ai, Winner: p.Redirect.Rule, Reason: "an earlier rule already redirects"})
					continue
				}
				loc := c.literal
				if c.value != nil {
					b, res := p.renderURL(c.value, vals, c.url)
					if !p.outcome(ri, ai, res) {
						continue
					}
					loc = string(b)
				}
				if opt.URL != nil {
					loc = withQuery(opt.URL, opt.Host, resolveRelative(opt.URL, loc))
				}
				if opt.URL != nil && pointsTo(opt.URL, opt.Host, opt.Secure, loc) {
					// A later rule's redirect may still be made.
					p.loop = Redirect{Location: loc, Status: c.a.Status, Rule: ri}
					p.Loop = &p.loop
					continue
				}
				if !Redirects(opt.Method, c.a.Status) {
					// A later rule's redirect (a 307) may still be made.
					if p.Kept == nil {
						p.kept = Redirect{Location: loc, Status: c.a.Status, Rule: ri}
						p.Kept = &p.kept
					}
					continue
				}
				p.redirect = Redirect{Location: loc, Status: c.a.Status, Rule: ri}
				p.Redirect = &p.redirect
			case kindHeader:
				list := &p.ResponseHeaders
				if c.a.On == "request" {
					list = &p.RequestHeaders
				}
				if w, taken := headerOwner(*list, c.a.Name); taken {
					p.Skipped = append(p.Skipped, Skipped{Rule: ri, Action: ai, Winner: w, Reason: "an earlier rule already sets " + c.a.Name})
					continue
				}
				*list = append(*list, Header{Name: c.a.Name, Value: prog.value(p, c, vals), Rule: ri})
			case kindCookie:
				if w, taken := cookieOwner(p.Cookies, c.a.Name); taken {
					p.Skipped = append(p.Skipped, Skipped{Rule: ri, Action: ai, Winner: w, Reason: "an earlier rule already sets cookie " + c.a.Name})
					continue
				}
				if part, missing := p.missing(c.value, vals); missing {
					p.Unset = append(p.Unset, Unset{Rule: ri, Action: ai, Part: part})
					continue
				}
				v := prog.value(p, c, vals)
				if c.value != nil && len(c.a.Name)+len(v) > MaxCookieBytes {
					p.refuse(ri, ai, true, fmt.Sprintf("with the request's values the cookie is %d bytes, past the %d a rule's cookie may hold", len(c.a.Name)+len(v), MaxCookieBytes))
					continue
				}
				p.Cookies = append(p.Cookies, Cookie{Rule: ri, Cookie: &http.Cookie{
					Name: c.a.Name, Value: v, Path: "/",
					MaxAge: c.a.MaxAge, HttpOnly: c.a.HTTPOnly, Secure: opt.Secure || c.secure, SameSite: http.SameSiteLaxMode,
				}})
			}
		}
	}
}

// MaxCookieBytes bounds the name and value of a cookie a rule sets from
// the request's values (set_cookie with {{ query("ref") }}): a link to
// the site with a 4 KB ref would otherwise have the visitor's browser
// keep it, for as long as max_age says, and send it with every request,
// until the site's requests outgrow the 8 KB a server takes in its
// headers and every page answers 400 to that visitor (a cookie bomb).
// Such a cookie is not set.
const MaxCookieBytes = 1024

// expose names the visitor's variants in a response header, and in a
// <meta> tag for experiments that ask for one, so that analytics can
// attribute conversions.
func (prog *Program) expose(p *Plan) {
	p.Variants = p.variants
	var header []byte
	for i, v := range p.variants {
		if v == "" {
			continue
		}
		x := &prog.m.Experiments[i]
		if len(header) > 0 {
			header = append(header, ", "...)
		}
		header = append(header, x.Name...)
		header = append(header, '=')
		header = append(header, v...)
		if x.Meta && prog.headSelector >= 0 {
			start := len(p.arena)
			p.arena = append(p.arena, `<meta name="bespoke-experiment" content="`...)
			p.arena = append(p.arena, html.EscapeString(x.Name+"="+v)...)
			p.arena = append(p.arena, `">`...)
			p.Edits = append(p.Edits, rewrite.Edit{Selector: prog.headSelector, Op: rewrite.Append, Content: p.arena[start:len(p.arena):len(p.arena)]})
			p.EditRules = append(p.EditRules, -1)
		}
	}
	p.Experiments = string(header)
}

func (prog *Program) value(p *Plan, c *action, vals []plugin.Value) string {
	if c.value == nil {
		return c.literal
	}
	return string(p.render(c.value, vals, c.vmode))
}

// missing returns the first value of t that the request does not have
// and that has no default (t nil: a literal has none).
func (p *Plan) missing(t plugin.Template, vals []plugin.Value) (plugin.Part, bool) {
	for _, part := range t {
		if part.Slot < 0 && part.Experiment == 0 {
			continue
		}
		if _, present := p.valueOf(part, vals); !present && part.Default == "" {
			return part, true
		}
	}
	return plugin.Part{}, false
}

func headerOwner(hs []Header, name string) (int, bool) {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Rule, true
		}
	}
	return 0, false
}

// jsonOwner returns the rule of an earlier JSON edit that e conflicts
// with: two json_set or json_remove of one field, or of a field and
// one inside it (setting banner after setting banner.title would undo
// the earlier rule's edit). List edits of one array add up, as their
// HTML counterparts do.
func jsonOwner(p *Plan, e jsonrw.Edit, c *action) (int, bool) {
	if e.Op != jsonrw.Set && e.Op != jsonrw.Remove {
		return 0, false
	}
	for i, o := range p.JSONEdits {
		if (o.Op == jsonrw.Set || o.Op == jsonrw.Remove) && pathsOverlap(p.jsonPaths[i], c) {
			return p.JSONRules[i], true
		}
	}
	return 0, false
}

// pathsOverlap reports whether the JSON paths of actions a and b may name
// the same field, or one a field inside the other's: the steps of one
// begin the other's, compared as the paths are read (`banner|title` is
// `banner.title`, `\banner` is `banner`, `@this` is every field), a
// wildcard step as any key it matches, and two indexes by their numbers.
// Queries are compared as written: two queries, or a query and an
// index, that reach the same element in a document do not conflict.
func pathsOverlap(a, b *action) bool {
	if a.plainPath && b.plainPath {
		// The usual case, without reading steps.
		x, y := a.json.Path, b.json.Path
		if len(x) > len(y) {
			x, y = y, x
		}
		return x == y || strings.HasPrefix(y, x) && y[len(x)] == '.'
	}
	if !a.pathOK || !b.pathOK {
		return a.json.Path == b.json.Path
	}
	sa, sb := a.path, b.path
	if len(sa) > len(sb) {
		sa, sb = sb, sa
	}
	for i := range sa {
		if !sameStep(sa[i], sb[i]) {
			return false
		}
	}
	return true
}

// plainPath reports whether path is keys of ASCII letters, digits, '_'
// and '-', joined by '.', none of digits with a leading zero.
func plainPath(path string) bool {
	for _, k := range strings.Split(path, ".") {
		if k == "" || len(k) > 1 && k[0] == '0' && strings.Trim(k, "0123456789") == "" {
			return false
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// sameStep reports whether two steps of paths may lead to the same value.
func sameStep(x, y jsonpath.Step) bool {
	if x.Kind != y.Kind {
		return false
	}
	if x.Kind == jsonpath.Query {
		return x.Query == y.Query
	}
	return jsonpath.KeysMeet(x, y)
}

// securePrefix reports whether a cookie's name starts with __Secure- or
// __Host-, in any case as browsers read them (RFC 6265bis 4.1.3): a
// browser keeps such a cookie only when it is Secure, and Secure is then
// set whatever the proxy knows of the request's scheme (a load balancer
// in front may end TLS without being a trusted proxy). Over plain HTTP
// the browser drops it either way.
func securePrefix(name string) bool {
	for _, p := range []string{"__Secure-", "__Host-"} {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

func cookieOwner(cs []Cookie, name string) (int, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c.Rule, true
		}
	}
	return 0, false
}

// render renders t into the plan's arena and returns the bytes, which stay
// valid until the plan is reset.
func (p *Plan) render(t plugin.Template, vals []plugin.Value, mode Escape) []byte {
	start := len(p.arena)
	p.arena = appendRender(p.arena, t, vals, p.variants, p.lists, mode)
	// Cap the slice so a later append to the arena cannot write into it.
	return p.arena[start:len(p.arena):len(p.arena)]
}

// className makes a rendered class one word: every byte an attribute
// value's word cannot hold (HTML whitespace, quotes, markup, controls) is
// replaced by '-'.
func className(v string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r == 0x7f, r == utf8.RuneError:
			return '-'
		}
		switch r {
		case ' ', '"', '\'', '<', '>', '&', '=', '/', '`':
			return '-'
		}
		return r
	}, v)
}

// splitIDs splits a comma-separated list of ids, dropping empty ones.
func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// Escape is how a template's parts are escaped for where they go.
type Escape uint8

// Escapes.
const (
	// Text escapes literal text and values for HTML.
	Text Escape = iota
	// HTML keeps literal text as written (it is markup) and escapes values
	// and defaults (a default stands in for a value). Values in attributes
	// of the markup are rendered by their attribute's kind (htmlContext).
	HTML
	// Raw keeps everything; the destination escapes (attribute values).
	Raw
	// HeaderValue drops control characters.
	HeaderValue
	// CookieValue percent-encodes bytes a cookie value cannot hold.
	CookieValue
	// JSONString renders the whole template as one JSON string.
	JSONString
)

// Render renders a template with vals (no slot taken for a list).
func Render(t plugin.Template, vals []plugin.Value, mode Escape) string {
	return string(appendRender(nil, t, vals, nil, nil, mode))
}

func appendRender(b []byte, t plugin.Template, vals []plugin.Value, variants []string, lists []bool, mode Escape) []byte {
	if mode == JSONString {
		text := appendRender(nil, t, vals, variants, lists, Raw)
		q, _ := json.Marshal(string(text))
		return append(b, q...)
	}
	for _, part := range t {
		if part.Slot < 0 && part.Experiment == 0 {
			switch mode {
			case Text:
				b = append(b, html.EscapeString(part.Text)...)
			case HeaderValue:
				b = appendHeaderSafe(b, part.Text)
			case CookieValue:
				b = appendCookieEscaped(b, part.Text)
			default:
				b = append(b, part.Text...)
			}
			continue
		}
		s, _ := valueOf(part, vals, variants, lists)
		switch mode {
		case Text, HTML:
			b = append(b, html.EscapeString(s)...)
		case HeaderValue:
			b = appendHeaderSafe(b, s)
		case CookieValue:
			b = appendCookieEscaped(b, s)
		default:
			b = append(b, s...)
		}
	}
	return b
}

// valueOf returns what a value part of a template renders: the value of
// its slot (a list's items joined with ", "), or the variant of its
// experiment, with present true; or its default (the rule author's
// text), with present false. lists says which slots may hold lists.
func valueOf(part plugin.Part, vals []plugin.Value, variants []string, lists []bool) (s string, present bool) {
	switch {
	case part.Experiment > 0:
		if e := part.Experiment - 1; e < len(variants) && variants[e] != "" {
			return variants[e], true
		}
	case part.Slot >= 0 && part.Slot < len(vals) && vals[part.Slot].Present:
		s = vals[part.Slot].Str
		if part.Slot < len(lists) && lists[part.Slot] && plugin.IsList(s) {
			s = strings.Join(plugin.ListItems(s), ", ")
		}
		// After decoding a list: its separator is a control character.
		return dropControls(s), true
	}
	return part.Default, false
}

func (p *Plan) valueOf(part plugin.Part, vals []plugin.Value) (string, bool) {
	return valueOf(part, vals, p.variants, p.lists)
}

// dropControls returns s without the C0 control characters other than
// tab, line feed, form feed and carriage return. No value of a request
// has a use for them, and one of them, ESC, is what switches a page a
// browser reads as ISO-2022-JP into two-byte characters, which swallow
// the quote that closes an attribute: a page that declares that encoding
// is not rewritten, but one that declares none may be taken for it by a
// browser's guess.
func dropControls(s string) string {
	i := 0
	for i < len(s) && (s[i] >= 0x20 || isHTMLSpace(s[i])) {
		i++
	}
	if i == len(s) {
		return s // nearly always: no copy
	}
	b := []byte(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x20 || isHTMLSpace(c) {
			b = append(b, c)
		}
	}
	return string(b)
}

func isHTMLSpace(c byte) bool { return c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// appendHeaderSafe appends s without the control characters a header
// value cannot hold (line breaks would start a new header).
func appendHeaderSafe(b []byte, s string) []byte {
	for _, r := range s {
		if r >= 0x20 && r != 0x7f || r == '\t' {
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// appendCookieEscaped percent-encodes what RFC 6265 does not allow in a
// cookie value.
func appendCookieEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !escape.CookieOctet(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
