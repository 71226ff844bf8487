// Package visit simulates one visitor's request offline, as the proxy
// handles it: the request goes through the same context builder, the same
// compiled plugin, the same plan and the same HTML and JSON rewriters, so
// what `bespoke test`, `bespoke explain` and `bespoke preview` show is what
// a visitor would get.
//
// Where the proxy draws on chance or on the clock, a Spec names the value
// instead: the visitor's id (so buckets, and so variants and rollouts, are
// the same on every run), the time, forced variants, the items the visitor
// has seen and how often capped rules were shown.
package visit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
)

// DefaultUserAgent is the User-Agent of a simulated request that gives
// none: a desktop browser, since a Spec describes a visitor (a request
// with no User-Agent, or curl's, is classified as a bot).
const DefaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// Spec describes one visitor's request. The zero Spec is a new visitor on
// a desktop browser asking for "/" now.
type Spec struct {
	// Method and URL (a path and query) of the request; empty means GET
	// and "/".
	Method, URL string
	// Headers and Cookies of the request, in order. A User-Agent here
	// replaces DefaultUserAgent. A bsk_vid cookie names the visitor as the
	// proxy reads it (and must be an id it would accept).
	Headers [][2]string
	Cookies [][2]string
	// RemoteAddr is the address the request comes from; empty means
	// 127.0.0.1, as through a CDN or load balancer, so that their geo
	// headers are believed.
	RemoteAddr string
	// Visitor names a returning visitor. Empty means a new visitor whose
	// id is NewID.
	Visitor string
	// NewID is the id of a new visitor; empty means DerivedID("").
	NewID string
	// New, when not nil, says whether the visitor is new, whatever the id.
	New *bool
	// At is the time of the request; zero means now.
	At time.Time
	// Values replace attribute values, by slot key (see reqctx.Overrides).
	Values map[string]string
	// Variants forces experiments' variants: variant by experiment name.
	// It needs the program (Run's prog).
	Variants map[string]string
	// Buckets replace buckets, by slot key (see reqctx.Overrides): a
	// rollout forced in or out.
	Buckets map[string]int
	// Seen are the items the visitor was already shown, in the order
	// they were, an item once for each page view that showed it: of the
	// seen items a list brings back or demotes, those shown fewer times
	// come first, as the proxy counts them (see seenSet).
	Seen []string
	// Shown says how many times capped rules already applied to the
	// visitor in their window, by rule name.
	Shown map[string]int
	// Secure marks the request as made over TLS.
	Secure bool
	// ConsentCookie and ConsentDeny are the proxy's consent settings
	// (seen.consent_cookie, seen.consent_deny): a visitor whose cookie of
	// that name holds one of the values declines tracking, as one sending
	// Sec-GPC: 1 does. Empty means Sec-GPC alone says so.
	ConsentCookie string
	ConsentDeny   []string
}

// WhyNotEnrolled says why experiment xi of prog, which r's visitor is
// not enrolled in, does not enroll them: its when, or the value it
// buckets visitors by, which the visitor has not.
func (r *Result) WhyNotEnrolled(prog *ir.Program, xi int) string {
	x := prog.Experiments[xi]
	b := x.Bucket
	if b < 0 || b >= len(r.Values) {
		return "its `when` does not hold"
	}
	if from := prog.Slots[b].From; !r.Values[b].Present && from != nil {
		if from.Attr == "visitor.id" && r.Untracked && r.Visitor.ID == "" {
			return "it buckets visitors by visitor.id, and a new visitor who declines tracking has none: the proxy keeps no id for them, so that they see every page alike"
		}
		return fmt.Sprintf("it buckets visitors by %s, which this visitor has not", from)
	}
	total := 0
	for _, w := range x.Weights {
		total += w
	}
	if v := r.Values[b]; v.Present && v.Number && total < plugin.Buckets && int(v.Num) >= total {
		return fmt.Sprintf("its variants share %g%% of visitors, and this visitor's bucket, %d of %d, is in the rest", float64(total)*100/plugin.Buckets, int(v.Num), plugin.Buckets)
	}
	return "its `when` does not hold"
}

// DerivedID returns a visitor id of the proxy's form derived from seed,
// the same on every run: the id of a new visitor in tests (seeded with the
// test's name) and in explanations.
func DerivedID(seed string) string {
	sum := sha256.Sum256([]byte("bespoke visitor:" + seed))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// SimulatedID is the id of the new visitor that `bespoke explain` and the
// preview simulate when given none: the same in both, so that they put
// the same visitor in the same variants.
var SimulatedID = DerivedID("explain")

// Result is what the proxy would decide for a Spec.
type Result struct {
	// Request is the request the Spec describes.
	Request *http.Request
	// Visitor is who the proxy takes the visitor for.
	Visitor reqctx.Visitor
	// Decision, Values and Plan are the plugin's decision, the values it
	// was made on, and what the proxy would do. Plan is the Result's own.
	Decision plugin.Decision
	Values   []plugin.Value
	Plan     *plan.Plan
	// Traces say why each rule matched or not, when the program is known.
	Traces []eval.RuleTrace
	// Disagree is set when the reference evaluator decides otherwise than
	// the compiled module: a compiler bug.
	Disagree bool
	// Notes say what the Spec asked that did not happen (a variant forced
	// on a visitor the experiment does not enroll).
	Notes []string
	// NotEnrolled holds, by experiment name, the note of each variant the
	// Spec forced that the experiment does not give this visitor: a test
	// says it where it forces the variant.
	NotEnrolled map[string]string
	// ByAddress: what the rules read came from the visitor's address (a
	// GeoIP lookup): the proxy serves a page they could change private.
	ByAddress bool
	// Vary are the request headers the page's Vary names for the
	// rules: what those that may apply on its path read (see
	// site.Varies).
	Vary []string
	// Untracked: the visitor declines tracking (Sec-GPC): the proxy keeps
	// nothing of their views (Next carries only the rules' cookies).
	Untracked bool
	// HeldCaps says, by rule name, why a capped rule reads its count as
	// its cap whatever the visitor was shown, and so does not apply: the
	// visitor declines tracking and the rule's untracked is hide (the
	// default), or the request is a prefetch or prerender. Nil when no
	// rule is held so.
	HeldCaps map[string]string

	seen    *seenSet
	site    *site.Site
	decided *site.Request
}

// Run decides spec with s, whose plugin prog is the program of (nil for a
// compiled plugin: no traces, and no forced variants).
func Run(ctx context.Context, s *site.Site, prog *ir.Program, spec Spec) (*Result, error) {
	hr, err := spec.request()
	if err != nil {
		return nil, err
	}
	ov := &reqctx.Overrides{Now: spec.At, Values: spec.Values}
	if len(spec.Variants) > 0 {
		if prog == nil {
			return nil, errors.New("forcing a variant needs the rule file, not a compiled plugin")
		}
		if ov.Buckets, err = Buckets(prog, spec.Variants); err != nil {
			return nil, err
		}
	}
	for k, b := range spec.Buckets {
		if ov.Buckets == nil {
			ov.Buckets = map[string]int{}
		}
		ov.Buckets[k] = b
	}
	v, err := spec.visitor(hr)
	if err != nil {
		return nil, err
	}
	v.Overrides = ov
	if len(spec.Shown) > 0 {
		counts, err := newShownCounts(s.Manifest(), spec.Shown)
		if err != nil {
			return nil, err
		}
		v.Caps = counts
	}
	untracked := false
	var held map[string]int
	heldWhy := ""
	if !seen.Allowed(hr, spec.ConsentCookie, spec.ConsentDeny) {
		// As the proxy does for a visitor who asks not to be tracked
		// (Sec-GPC: 1, or a declined consent cookie): nothing is kept
		// for them, and each capped rule does what its editor chose for
		// visitors it cannot count (at_most's untracked).
		v.Persist = false
		untracked = true
		if v.New {
			// As the proxy gives them: no visitor id (see
			// reqctx.ResolveVisitor), so no experiment by visitor id.
			v.ID = ""
		}
		if s.UsesCaps() {
			held, heldWhy = s.Actions().UntrackedCaps(), HeldUntracked
			if seen.Allowed(hr, "", nil) {
				heldWhy = HeldDeclined
			}
			v.Caps = untrackedCounts(held)
		}
	}
	if proxy.Speculative(hr.Header) && s.UsesCaps() {
		// As the proxy does for a prefetch or prerender: no capped rule
		// applies to what the browser may show uncounted.
		held, heldWhy = s.Actions().AllCaps(), HeldSpeculative
		v.Caps = untrackedCounts(held)
	}
	seen := newSeenSet(spec.Seen)
	req := &site.Request{}
	s.Decide(ctx, hr, v, spec.Secure, seen.Seen, req)
	if req.Err != nil {
		return nil, fmt.Errorf("the plugin failed: %w", req.Err)
	}
	// As the proxy judges a page: by address when the rules that may
	// apply on its path read what the address gave.
	byAddress := req.ByAddress
	vary := s.Vary()
	if v := req.Varies; v != nil {
		vary = v.Page
		byAddress = byAddress && (slices.Contains(v.Page, "X-Forwarded-For") || slices.Contains(v.Page, "Forwarded"))
	}
	res := &Result{Request: hr, Visitor: v, Decision: req.Decision, Values: req.Values, Plan: &req.Plan, ByAddress: byAddress, Vary: vary, Untracked: untracked, seen: seen, site: s, decided: req}
	m := s.Manifest()
	for _, r := range m.Rules {
		if r.Cap == nil {
			continue
		}
		if _, ok := held[m.Slots[r.Cap.Slot].Arg]; ok {
			if res.HeldCaps == nil {
				res.HeldCaps = map[string]string{}
			}
			res.HeldCaps[r.Name] = heldWhy
		}
	}
	if prog != nil {
		ev, err := eval.New(prog)
		if err != nil {
			return nil, err
		}
		env := &eval.Env{Values: req.Values, Seen: seen.Seen}
		ref := ev.Eval(env)
		res.Disagree = !ref.Equal(&req.Decision)
		res.Traces = ev.Explain(env)
		for name, want := range spec.Variants {
			for i, x := range prog.Experiments {
				if x.Name == name && (i >= len(req.Plan.Variants) || req.Plan.Variants[i] != want) {
					note := fmt.Sprintf("variant %q of %s was forced, but the experiment does not enroll this visitor (%s)", want, name, res.WhyNotEnrolled(prog, i))
					res.Notes = append(res.Notes, note)
					if res.NotEnrolled == nil {
						res.NotEnrolled = map[string]string{}
					}
					res.NotEnrolled[name] = note
				}
			}
		}
		sort.Strings(res.Notes)
	}
	return res, nil
}

// request builds the HTTP request of spec.
func (spec *Spec) request() (*http.Request, error) {
	method, target := spec.Method, spec.URL
	if method == "" {
		method = http.MethodGet
	}
	// A browser never sends the fragment: rules never see it.
	target, _, _ = strings.Cut(target, "#")
	if target == "" {
		target = "/"
	}
	if !strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("the URL %q is not a path", target)
	}
	if !escape.ValidToken(method) {
		return nil, fmt.Errorf("the method %q is not one HTTP has: write GET, HEAD, POST…", method)
	}
	target = browserEscape(target)
	if _, err := url.ParseRequestURI(target); err != nil {
		// A browser would send it as written, and the proxy's server
		// would answer 400 Bad Request without asking the rules.
		return nil, fmt.Errorf("the URL %q cannot be requested: a %% starts an escape of two hex digits (write %%25 for a %% itself)", spec.URL)
	}
	hr := httptest.NewRequest(method, target, nil)
	hr.RemoteAddr = "127.0.0.1:40000"
	if spec.RemoteAddr != "" {
		addr, err := netip.ParseAddr(spec.RemoteAddr)
		if err != nil {
			return nil, fmt.Errorf("the address %q: %w", spec.RemoteAddr, err)
		}
		hr.RemoteAddr = netip.AddrPortFrom(addr, 40000).String()
	}
	hr.Header.Set("User-Agent", DefaultUserAgent)
	for _, h := range spec.Headers {
		// The spaces around a value are not part of it (RFC 9110 5.5):
		// the proxy's server drops them, so must a simulated request.
		v := strings.Trim(h[1], " \t")
		switch http.CanonicalHeaderKey(h[0]) {
		case "User-Agent":
			hr.Header.Set(h[0], v)
		case "Host":
			hr.Host = v
		default:
			hr.Header.Add(h[0], v)
		}
	}
	if len(spec.Cookies) > 0 {
		var parts []string
		for _, c := range spec.Cookies {
			parts = append(parts, c[0]+"="+c[1])
		}
		hr.Header.Add("Cookie", strings.Join(parts, "; "))
	}
	return hr, nil
}

// browserEscape escapes in target what a browser escapes before it
// sends an address it was given: spaces, control bytes, quotes, angle
// brackets and bytes outside ASCII, each as %XX. Test files and explain
// take addresses as people write them ("/search?q=a b").
func browserEscape(target string) string {
	var b strings.Builder
	escaped := false
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' {
			if !escaped {
				b.WriteString(target[:i])
				escaped = true
			}
			fmt.Fprintf(&b, "%%%02X", c)
		} else if escaped {
			b.WriteByte(c)
		}
	}
	if !escaped {
		return target
	}
	return b.String()
}

// visitor returns who the proxy takes the visitor of hr for: the one a
// valid visitor cookie names, else the one the Spec names, else a new one.
func (spec *Spec) visitor(hr *http.Request) (reqctx.Visitor, error) {
	v := reqctx.Visitor{}
	if id, ok := reqctx.VisitorID(hr); ok {
		v.ID = id
	} else if id, ok := reqctx.Cookie(hr, reqctx.VisitorCookie); ok {
		return v, fmt.Errorf("%s=%q is not a visitor id the proxy issues, so it would treat the visitor as new, with a random id; name the visitor instead (%s is only read when it holds 22 letters, digits, - or _)", reqctx.VisitorCookie, id, reqctx.VisitorCookie)
	}
	switch {
	case v.ID != "":
	case spec.Visitor != "":
		v.ID = spec.Visitor
	default:
		v.ID, v.New = spec.NewID, true
		if v.ID == "" {
			v.ID = DerivedID("")
		}
	}
	if spec.New != nil {
		v.New = *spec.New
	}
	return v, nil
}

// Buckets returns the bucket overrides that give a visitor the variants
// asked, by experiment name: the first bucket of each variant's range.
func Buckets(prog *ir.Program, variants map[string]string) (map[string]int, error) {
	out := map[string]int{}
	for name, want := range variants {
		found := false
		for _, x := range prog.Experiments {
			if x.Name != name {
				continue
			}
			found = true
			start, vi := 0, -1
			for i, v := range x.Variants {
				if v == want {
					vi = i
					break
				}
				start += x.Weights[i]
			}
			switch {
			case vi < 0:
				return nil, fmt.Errorf("experiment %s has no variant %q (its variants are %s)", name, want, strings.Join(x.Variants, ", "))
			case x.Weights[vi] == 0:
				return nil, fmt.Errorf("variant %q of %s has no share of traffic: no visitor can get it", want, name)
			}
			out[prog.Slots[x.Bucket].Key()] = start
		}
		if !found {
			var names []string
			for _, x := range prog.Experiments {
				names = append(names, x.Name)
			}
			return nil, fmt.Errorf("no experiment is named %q (experiments: %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// HeldNotes says in words, for the rules of HeldCaps, why they do not
// apply: "popup, survey: not for this visitor: ..." (one reason serves
// every such rule of a request), or nothing when none is held.
func (r *Result) HeldNotes() []string {
	if len(r.HeldCaps) == 0 {
		return nil
	}
	var names []string
	why := ""
	for _, rule := range r.site.Manifest().Rules {
		if w, ok := r.HeldCaps[rule.Name]; ok {
			names, why = append(names, rule.Name), w
		}
	}
	return []string{strings.Join(names, ", ") + ": not for this visitor: " + why}
}

// Why a capped rule does not apply whatever the visitor was shown
// (Result.HeldCaps).
const (
	// HeldUntracked: the visitor declines tracking, and the rule keeps
	// at_most's untracked: hide.
	HeldUntracked = "the visitor declines tracking (Sec-GPC: 1), and a capped rule does not apply to a visitor it cannot count unless its at_most says untracked: show"
	// HeldDeclined is HeldUntracked for a visitor whose consent cookie
	// declines (Spec.ConsentCookie).
	HeldDeclined = "the visitor declines tracking (their consent cookie), and a capped rule does not apply to a visitor it cannot count unless its at_most says untracked: show"
	// HeldSpeculative: a prefetch or prerender, which no capped rule
	// applies to.
	HeldSpeculative = "the request is a prefetch or prerender, which the browser may show without asking again: no capped rule applies to it, so that no showing goes uncounted"
)

// shownCounts counts capped rules as the proxy's caps cookie would.
type shownCounts map[string]int

// untrackedCounts are the counts of a visitor the proxy keeps none for:
// by rule key, the cap of a rule that counts as at its cap (untracked:
// hide); any other counts as never shown, whatever Spec.Shown says, as
// the proxy reads none of the counts such a visitor's cookie holds.
type untrackedCounts map[string]int

func (u untrackedCounts) Count(key string, _ time.Duration) int { return u[key] }

func (c shownCounts) Count(key string, _ time.Duration) int { return c[key] }

func newShownCounts(m *plugin.Manifest, shown map[string]int) (shownCounts, error) {
	out := shownCounts{}
	for name, n := range shown {
		found := false
		for _, r := range m.Rules {
			if r.Name != name {
				continue
			}
			found = true
			if r.Cap == nil {
				return nil, fmt.Errorf("rule %s has no at_most, so how often it was shown changes nothing", name)
			}
			out[m.Slots[r.Cap.Slot].Arg] = n
		}
		if !found {
			return nil, fmt.Errorf("no rule is named %q", name)
		}
	}
	return out, nil
}

// seenSet is what the visitor has seen, exactly (the proxy's bloom filter
// may answer yes for an item never seen: once in a thousand with 100
// items seen, once in a hundred with 1,000, and in proportion), ranked
// as the proxy ranks it. Of the items seen in one half window, the
// proxy's filter knows how many times each was shown (up to
// seen.DefaultMaxCount: one more showing of an item counted that often
// makes every other count one less), not when; a list that brings seen
// items back, or demotes them, shows those shown fewer times first, the
// first in the page first among equals. A test's views happen at its
// time, in one half window. The items are given in the order they were
// shown, an item once for each showing.
//
// As the proxy's, its answers include what the page being rendered
// showed so far, when the view records it: an item a list let through
// is seen in the lists after it on the page.
type seenSet struct {
	items map[string]int // showings, as the proxy counts them
	// before are the showings before the page (items is a copy that the
	// page's own add to, made again for each rendering); shown are the
	// items the page showed, each once, in order.
	before map[string]int
	shown  []string
	inPage map[string]bool // the items of shown
	// records says the rendering is a view that records what it shows
	// (not for a visitor who declines tracking, nor a prefetch or a
	// subresource).
	records bool
}

func newSeenSet(items []string) *seenSet {
	s := &seenSet{items: map[string]int{}}
	for _, it := range items {
		s.show(it)
	}
	s.before = maps.Clone(s.items)
	return s
}

// reset forgets what a rendering showed, for the next one of the same
// page view, which records what it shows when records says.
func (s *seenSet) reset(records bool) {
	s.records = records
	s.items = maps.Clone(s.before)
	s.shown = s.shown[:0]
	clear(s.inPage)
}

// show counts one more showing of id, as seen.Set.Shown does.
func (s *seenSet) show(id string) {
	if s.items[id] >= seen.DefaultMaxCount {
		for k, n := range s.items {
			if n > 1 {
				s.items[k] = n - 1
			}
		}
	}
	s.items[id]++
}

// The set keys items by their text (jsonrw.IDText), as editors write
// them: a JSON response's number 101 is the 101 of seen: [101].
func (s *seenSet) Seen(id string) bool { return s.items[jsonrw.IDText(id)] > 0 }

// Shown counts one more showing of id the first time the page shows it,
// as seen.Set.Shown does: further showings in the page count none. A
// view that records nothing counts none.
func (s *seenSet) Shown(id string) {
	id = jsonrw.IDText(id)
	if !s.records || s.inPage[id] {
		return
	}
	id = strings.Clone(id)
	if s.inPage == nil {
		s.inPage = map[string]bool{}
	}
	s.inPage[id] = true
	s.show(id)
	s.shown = append(s.shown, id)
}

// Recency is seen.Set's: every item was seen in the current half window.
func (s *seenSet) Recency(id string) int {
	if s.Seen(id) {
		return seen.SeenRecently
	}
	return seen.NotSeen
}

// Rank is seen.Set's: one more for each further showing.
func (s *seenSet) Rank(id string) int {
	if n := s.items[jsonrw.IDText(id)]; n > 0 {
		return seen.SeenRecently - 1 + n
	}
	return seen.NotSeen
}

// Matched returns the names of the rules that matched.
func (r *Result) Matched() []string {
	m := r.site.Manifest()
	var out []string
	for _, i := range r.Decision.Rules(nil) {
		out = append(out, m.Rules[i].Name)
	}
	return out
}

// Variant returns the variant the visitor got in experiment i, or "".
func (r *Result) Variant(i int) string {
	if i < len(r.Plan.Variants) {
		return r.Plan.Variants[i]
	}
	return ""
}

// Bucket returns the visitor's bucket (0-9999) for a bucket slot of the
// manifest, or -1 when the visitor has none.
func (r *Result) Bucket(slot int) int {
	if slot < 0 || slot >= len(r.Values) || !r.Values[slot].Present {
		return -1
	}
	return int(r.Values[slot].Num)
}
