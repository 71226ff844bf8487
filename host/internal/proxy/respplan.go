package proxy

import (
	"net/http"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/site"
)

// Personalized is the one definition of a personalized response, used for
// the outcome of a request, its Cache-Control and its
// X-Bespoke-Experiments header, and by `bespoke explain`: the plan changes
// what this visitor gets compared with what another visitor would get.
// That is so when the plan redirects, sets request or response headers or
// cookies, when the body the visitor gets differs from the origin's
// (bodyChanged: for a rewritten HTML stream, whose changes are known only
// at its end, that it has edits), or when the response is a page (HTML or
// JSON) and the visitor is enrolled in an experiment, since the page then
// names the visitor's variant. A page nothing changed is not personalized.
func Personalized(pl *plan.Plan, page, bodyChanged bool) bool {
	return pl.Redirect != nil || len(pl.RequestHeaders) > 0 || len(pl.ResponseHeaders) > 0 || len(pl.Cookies) > 0 ||
		bodyChanged || page && pl.Experiments != ""
}

// BodyPlan says how the proxy handles the body of a response to a GET
// with status and header (its length, contentLength, -1 when unknown)
// under plan pl: rewritten as HTML or JSON, or passed as the origin sent
// it, and then why, when the plan edits pages (the reasons of
// bespoke_body_limits_total: too_large, no_transform, xhtml, ...).
// maxRewriteBytes ≤ 0 is the proxy's default. Tools that show what the
// proxy serves (explain, the preview) ask it, so as not to rewrite a
// page the proxy passes untouched.
func BodyPlan(status int, header http.Header, contentLength int64, pl *plan.Plan, maxRewriteBytes int64) (BodyKind, string) {
	if maxRewriteBytes <= 0 {
		maxRewriteBytes = DefaultMaxRewriteBytes
	}
	rp := planResponse(responseInput{status: status, header: header, contentLength: contentLength, plan: pl,
		req: requestFacts{method: http.MethodGet, maxRewriteBytes: maxRewriteBytes}})
	return rp.body, rp.reason
}

// ViewEffects says what a visitor keeps of a response to a GET with
// request header reqHeader, status and header (its length,
// contentLength, -1 when unknown) under plan pl, as the proxy records it:
// the capped rules counted (indices of rules) and the mark_seen items
// recorded, of the rules that took effect. applied says whether edit ei
// of the body's kind (html: pl.Edits, json: pl.JSONEdits) changed the
// body; nil means each did. A response that is no page view (an asset, a
// 404, a prefetch: see NotAView) leaves nothing; a redirect leaves what
// its rules do. The items hide_seen and json_hide_seen let through are
// recorded too, by the rewriters (for a page view). Tools that simulate
// one visit after another (the preview's next visit) ask it.
func ViewEffects(reqHeader http.Header, status int, header http.Header, contentLength int64, pl *plan.Plan, applied func(ei int) bool) (counted []int, marked []string) {
	if NotAView(reqHeader) {
		return nil, nil
	}
	body := BodyPass
	if pl.Redirect == nil {
		rp := planResponse(responseInput{status: status, header: header, contentLength: contentLength, plan: pl,
			req: requestFacts{method: http.MethodGet, maxRewriteBytes: DefaultMaxRewriteBytes, caps: true, seen: true}})
		if !rp.view {
			return nil, nil
		}
		body = rp.effectsBody
	}
	for _, ri := range pl.Capped {
		if effective(pl, ri, body, applied) {
			counted = append(counted, ri)
		}
	}
	for i, id := range pl.MarkSeen {
		if effective(pl, pl.MarkSeenRules[i], body, applied) {
			marked = append(marked, id)
		}
	}
	return counted, marked
}

// View is one visitor's response as a tool that shows it (explain, the
// rule tests, the preview) knows it, for CacheHeaders: the rules'
// decision for the visitor's request, and the origin's answer. The
// proxy is taken with its default stores: the seen-filter and the caps
// in cookies.
type View struct {
	Site    *site.Site
	Request *http.Request // the visitor's
	Decided *site.Request // the rules' decision for it
	// Untracked: the visitor declines tracking (seen.Allowed).
	Untracked bool
	Status    int
	Header    http.Header // the origin's, not modified
	// ContentLength is the body's length, -1 when unknown.
	ContentLength int64
	// Untouched says why a page the plan edits went as the origin sent
	// it (BodyPlan's reason, "charset"); JSONChanged that the JSON
	// edits changed the document.
	Untouched   string
	JSONChanged bool
	// Records: the view counts a capped rule or records seen items
	// (visit.Output's Counted, Marked): their cookies make it the
	// visitor's alone, and the browser must ask before it shows its
	// copy again.
	Records bool
}

// CacheHeaders sets on h, the response's header with what the rules set
// (their headers and cookies), the Cache-Control and Vary the proxy
// sends with v's response: private when it is this visitor's alone, the
// CDN instructions (CDN-Cache-Control, ...) then dropped, no-cache when
// the view records what it shows, and the Vary of what the rules read.
// A rule's "Cache-Control: public" on a personalized page thus reads, in
// a tool, as the private one the proxy sends.
func CacheHeaders(h http.Header, v View) {
	s, pl := v.Site, &v.Decided.Plan
	if pl.Redirect != nil {
		// The proxy answers without asking the origin. A new visitor
		// is given the id cookie where the rules read it.
		cookies := len(pl.Cookies) > 0 || v.Records || v.Decided.Visitor.Persist && s.ReadsVisitor()
		redirectCaching(h, s, v.Decided, cookies, addVary)
		return
	}
	in := responseInput{
		status:        v.Status,
		header:        v.Header,
		contentLength: v.ContentLength,
		plan:          pl,
		site:          siteFactsOf(s, v.Decided.Varies),
		req: requestFacts{
			method:          v.Request.Method,
			acceptEncoding:  v.Request.Header.Get("Accept-Encoding"),
			asset:           NotAView(v.Request.Header),
			newVisitor:      v.Decided.Visitor.Persist,
			seen:            s.UsesSeen() && !v.Untracked,
			seenInHeaders:   true,
			tracking:        s.UsesSeen() || s.UsesCaps(),
			hidCaps:         s.UsesCaps() && Speculative(v.Request.Header),
			caps:            !v.Untracked && s.UsesCaps() && len(pl.Capped) > 0,
			byAddress:       v.Decided.ByAddress,
			sameForAll:      s.SameForAll(pl.Matched),
			maxRewriteBytes: DefaultMaxRewriteBytes,
		},
	}
	rp := planResponse(in)
	switch {
	case rp.body == BodyJSON:
		rp = rp.jsonEdited(v.JSONChanged)
	case rp.body == BodyHTML && v.Untouched != "":
		rp = rp.passed(v.Untouched)
	}
	if rp.private {
		h.Set("Cache-Control", privateCacheControl(cacheControl(h)))
	}
	if rp.noCache || v.Records {
		h.Set("Cache-Control", withNoCache(cacheControl(h)))
	}
	if rp.private || rp.noCache {
		for _, k := range sharedCacheHeaders {
			delete(h, k)
		}
	}
	addVary(h, rp.vary)
}

// BodyKind is how a response body is handled.
type BodyKind uint8

// Body kinds.
const (
	// BodyPass streams the body as the origin sent it.
	BodyPass BodyKind = iota
	// BodyHTML streams it through the HTML rewriter.
	BodyHTML
	// BodyJSON reads it whole, applies the JSON edits and sends it with
	// its length.
	BodyJSON
)

func (k BodyKind) String() string {
	return [...]string{"pass", "html", "json"}[k]
}

// saveWhen says when the seen-filter is saved.
type saveWhen uint8

const (
	// saveNow: before the headers; nothing the page shows is recorded
	// (mark_seen only), or the store answers in headers and nothing of
	// the body is needed.
	saveNow saveWhen = iota
	// saveNever: the response is no page view (HEAD, an asset, a
	// prefetch): nothing is recorded.
	saveNever
	// saveAfterHold: the page is held back (bounded) until the rewriter
	// has seen what hide_seen shows, then the cookie is set.
	saveAfterHold
	// saveAfterBody: a store that writes elsewhere records the showing
	// when the body ends.
	saveAfterBody
	// saveAfterEdit: a JSON document is edited whole before its headers.
	saveAfterEdit
)

// effectsWhen says when it is known which matched rules took effect in
// the response, for frequency caps (counted then) and mark_seen (recorded
// then). Caps are never counted after the body: their cookie goes in the
// headers.
type effectsWhen uint8

const (
	// effectsNever: no page view, or no capped or mark_seen rule.
	effectsNever effectsWhen = iota
	// effectsNow: from the plan alone, before the headers.
	effectsNow
	// effectsAfterHold: a rule takes effect only through its page edits,
	// and the caps cookie (or the seen cookie) must say whether it did:
	// the page is held back (bounded) until they applied or it ended.
	effectsAfterHold
	// effectsAfterBody: only mark_seen rules wait for their page edits,
	// or for the page's lists, with a store that writes elsewhere: known
	// when the body ends.
	effectsAfterBody
	// effectsAfterEdit: a JSON document is edited whole before its
	// headers.
	effectsAfterEdit
)

// holdKind says how long an HTML page is held back before its headers.
type holdKind uint8

const (
	// holdNone streams it.
	holdNone holdKind = iota
	// holdEffects holds it until the edits of the rules whose effect
	// must be known (caps, mark_seen in a cookie) applied, or it ended.
	holdEffects
	// holdAll holds it whole: the seen cookie says what hide_seen showed.
	holdAll
)

// validators says what becomes of the origin's validators (ETag,
// Last-Modified) and range support.
type validators uint8

const (
	// keepValidators: the visitor gets the origin's bytes.
	keepValidators validators = iota
	// weakValidators: the body is (or may be) changed: no strong
	// validator of the origin survives. The ETag becomes a weak one
	// derived from the origin's and the plan (none when the body also
	// depends on the seen-filter), Last-Modified, Accept-Ranges and
	// digests of the origin's bytes go.
	weakValidators
)

// siteFacts are what planResponse needs to know of the plugin.
type siteFacts struct {
	// hasEdits: some rule edits pages; touchesNonHTML: some rule sets
	// headers, cookies, caps or JSON edits.
	hasEdits, touchesNonHTML bool
	// needsDevice: the rules read the device (Accept-CH).
	needsDevice bool
	// readsVisitor: decisions read the visitor id.
	readsVisitor bool
	// vary are the request headers decisions depend on; varyNonHTML
	// those of the rules that can change a response no page edit
	// changes (headers, cookies, redirects, caps, seen, JSON edits);
	// varyAsset those of the rules that can change a response neither
	// a page nor JSON (the same but JSON edits).
	vary, varyNonHTML, varyAsset []string
	// varyExperiments are the request headers the visitor's variants
	// depend on, which a page names (X-Bespoke-Experiments).
	varyExperiments []string
}

// requestFacts are what planResponse needs to know of the request.
type requestFacts struct {
	method         string
	acceptEncoding string
	// asset: the request says it is no page view (see NotAView): a
	// subresource, or a prefetch.
	asset bool
	// newVisitor: the visitor has no id cookie and may be given one.
	newVisitor bool
	// seen: a seen-filter was loaded and the visitor allows tracking;
	// seenInHeaders: its store answers in the response headers.
	seen, seenInHeaders bool
	// caps: a capped rule matched and the visitor's counts can be kept;
	// sharedCaps: they are kept in a shared store, by visitor id.
	caps, sharedCaps bool
	// hidCaps: a prefetch or prerender, of a route with capped rules,
	// none of which applied to it (see Proxy.decide): what it got is no
	// page any visitor gets, and no shared cache may keep it.
	hidCaps bool
	// tracking: the route keeps state of its visitors (a seen store, caps,
	// a visitor id the rules read), which a visitor who declines (Sec-GPC,
	// a consent cookie) gets none of: its pages differ by Sec-GPC.
	tracking bool
	// editedCopy: the response is a 304 for a copy made with the plan's
	// edits (its If-None-Match named a tag derived for them, and the
	// origin matched that one: see state.revalidatesEdited). noDocument: the request says it loads no
	// page or JSON document (see loadsNoDocument); set for a 304 only,
	// which names no type of its own.
	editedCopy, noDocument bool
	// maxRewriteBytes bounds the bodies rewritten.
	maxRewriteBytes int64
	// byAddress: what the rules read depends on the client's address
	// (site.Request.ByAddress).
	byAddress bool
	// sameForAll: what the rules that matched did depends on the URL
	// alone (site.SameForAll), so it does not make the response private.
	sameForAll bool
	// failed: the rules were not run (a plugin that failed: see
	// Proxy.decideFailed), so the response is the origin's as it came.
	failed bool
}

// responseInput is everything a response plan is computed from.
type responseInput struct {
	status        int
	header        http.Header // the origin's, not modified
	contentLength int64       // -1 when unknown
	plan          *plan.Plan
	site          siteFacts
	req           requestFacts

	// Set once the body has been looked at, for the final plan:
	// passReason says why a body planned for rewriting passes as the
	// origin sent it; jsonChanged that a JSON document's edits changed
	// it.
	passReason  string
	jsonChanged bool
}

// responsePlan is what the proxy does with one response.
type responsePlan struct {
	in   responseInput
	body BodyKind
	// head: a HEAD response, answered as a GET would be, without a body.
	head bool
	// reason says why a page the plan edits is not rewritten ("" when it
	// is, or when nothing edits it).
	reason string
	// personalized is the request's outcome; private makes the response
	// Cache-Control: private (personalized, or it sets a cookie).
	personalized, private bool
	// experiments adds X-Bespoke-Experiments.
	experiments bool
	// setVisitor sets the visitor id cookie.
	setVisitor bool
	// vary are headers to add to Vary; acceptCH asks for Client Hints.
	vary     []string
	acceptCH bool
	// pageVary: vary names what every rule reads (the site's Vary),
	// not only what the rules that can change a response no page edit
	// changes read (VaryNonHTML); assetVary: only what those that can
	// change a response neither a page nor JSON read (VaryAsset).
	pageVary, assetVary bool
	// decode is the origin's Content-Encoding to undo; encode the
	// encoding of the rewritten body ("" for none).
	decode, encode string
	// changed: the body the visitor gets is (or, for a stream, may be)
	// not the origin's: its encoding, length and validators change.
	changed    bool
	validators validators
	save       saveWhen
	// view: the response is a page view (see planResponse); only a page
	// view counts caps and records what it shows.
	view bool
	// capsAt: when caps are counted; marksAt: when mark_seen is
	// recorded; effectsBody: the body whose edits say which rules took
	// effect (for a 304, the copy it revalidates); hold: how long an HTML
	// page is held back.
	capsAt, marksAt effectsWhen
	effectsBody     BodyKind
	hold            holdKind
	// noCache makes the browser revalidate the page before showing it
	// again (it records what it shows). A response that counts a cap gets
	// it too, once it is known that it did; a HEAD gets what its GET
	// would.
	noCache bool
}

// planResponse decides, from the response's status and headers, the plan
// and what is known of the site and the request, everything the proxy
// does with the response: how the body goes, whether it is personalized
// and private, which cookies, Vary and validators it carries, and when
// the seen-filter is saved. It does no I/O and changes nothing, so it is
// tested as a table.
func planResponse(in responseInput) responsePlan {
	rp := responsePlan{in: in, head: in.req.method == http.MethodHead}
	pl := in.plan
	ct := in.header.Get("Content-Type")
	html, json := isHTML(ct), isJSON(ct)
	ambiguous := (html || json) && ambiguousType(in.header)
	if ambiguous {
		html, json = false, false
	}
	attachment := (html || json) && isAttachment(in.header)
	if attachment {
		// A file the visitor saves, not a page shown: left as it is,
		// and no page view.
		html, json = false, false
	}
	page := html || json
	enc := contentEncoding(in.header)

	switch {
	case html && len(pl.Edits) > 0:
		rp.body = BodyHTML
	case json && len(pl.JSONEdits) > 0:
		rp.body = BodyJSON
	case isXHTML(ct) && len(pl.Edits) > 0 && in.status == http.StatusOK:
		rp.reason = reasonXHTML
	case ambiguous && (len(pl.Edits) > 0 || len(pl.JSONEdits) > 0) && in.status == http.StatusOK:
		rp.reason = reasonContentType
	case attachment && (len(pl.Edits) > 0 || len(pl.JSONEdits) > 0) && in.status == http.StatusOK:
		rp.reason = reasonAttachment
	}
	if rp.body != BodyPass {
		rp.reason = in.passReason
		if rp.reason == "" {
			rp.reason = rewriteBlocker(in, enc)
		}
		if rp.reason != "" {
			rp.body = BodyPass
		}
	}

	bodyChanged := rp.body == BodyHTML || rp.body == BodyJSON && (rp.head || in.jsonChanged)
	if in.status == http.StatusNotModified && in.req.editedCopy && (len(pl.Edits) > 0 && (ct == "" || html) || len(pl.JSONEdits) > 0 && (ct == "" || json)) {
		// Revalidating a copy this plan edited: it is that copy's
		// metadata the 304 updates. Any other 304 stands for the
		// origin's bytes (a style sheet, an image), which the visitor
		// has as the origin sent them.
		bodyChanged, page = true, true
	}
	rp.changed = bodyChanged && in.status != http.StatusNotModified
	rp.personalized = Personalized(pl, page, bodyChanged)
	rp.experiments = page && pl.Experiments != ""

	// Cookies: a new visitor's id is kept only when decisions need it
	// from one request to the next (or a server-side seen-filter is
	// keyed by it), and given on a page or a response that is private
	// anyway, so that assets stay shared-cacheable. Any cookie makes the
	// response private: no shared cache may hand one visitor's cookie to
	// others.
	// A 304 carries the headers of the 200 it stands for (RFC 9110
	// 15.4.5): a page's, unless the request says it loads something
	// else from a path that names no page (see assetPath). Its
	// Content-Type, which would say, is most often left out, so it may
	// also stand for an asset's: its Vary is the page's (a cache keeps
	// apart more copies than it must, never fewer), but it sets no
	// cookie, which would make a public asset private.
	notModifiedPage := in.status == http.StatusNotModified && (bodyChanged || ct == "" && !in.req.noDocument)
	rp.setVisitor = in.req.newVisitor && (in.site.readsVisitor || in.req.seen && !in.req.seenInHeaders || in.req.sharedCaps) &&
		(page || rp.personalized || originPrivate(in.header))

	// A page view: a page (HTML or JSON) the request does not say is a
	// subresource or a prefetch, served whole (200), or revalidated (a
	// 304 for a copy this plan edits: the browser shows that copy again).
	// A HEAD shows nothing, so it records and counts nothing, but gets
	// the caching headers a GET's view would (getView): a cache may
	// update its copy of the GET's response with them.
	getView := page && !in.req.asset &&
		(in.status == http.StatusOK || in.status == http.StatusNotModified && bodyChanged)
	rp.view = getView && !rp.head
	rp.effectsBody = rp.body
	if in.status == http.StatusNotModified && rp.view {
		// The copy revalidated was made with this plan's edits.
		rp.effectsBody = BodyJSON
		if len(pl.Edits) > 0 && (ct == "" || html) {
			rp.effectsBody = BodyHTML
		}
	}
	caps := rp.view && in.req.caps
	marks := rp.view && in.req.seen && len(pl.MarkSeen) > 0
	capsPending := caps && anyPending(pl, pl.Capped, rp.body)
	marksPending := marks && anyPending(pl, pl.MarkSeenRules, rp.body)
	switch {
	case !caps:
		rp.capsAt = effectsNever
	case rp.body == BodyJSON:
		rp.capsAt = effectsAfterEdit
	case capsPending:
		rp.capsAt = effectsAfterHold
	default:
		rp.capsAt = effectsNow
	}
	switch {
	case !marks:
		rp.marksAt = effectsNever
	case rp.body == BodyJSON:
		rp.marksAt = effectsAfterEdit
	case marksPending && in.req.seenInHeaders:
		rp.marksAt = effectsAfterHold
	case marksPending:
		rp.marksAt = effectsAfterBody
	case rp.body == BodyHTML && pl.SeenEdits && !in.req.seenInHeaders:
		// The page's lists read the seen-filter as they run: an item
		// recorded before them would be hidden on the very page that
		// marks it. The cookie store's headers wait for the lists; a
		// store that writes elsewhere records it after them too, so
		// that both show the page alike.
		rp.marksAt = effectsAfterBody
	default:
		rp.marksAt = effectsNow
	}

	// hide_seen records what the page shows even when it hides nothing,
	// so the cookie may change whenever the body goes through an edit.
	getCaps := getView && in.req.caps
	getMarks := getView && in.req.seen && len(pl.MarkSeen) > 0
	seenCookie := getView && in.req.seen && in.req.seenInHeaders &&
		(getMarks || pl.SeenEdits && rp.body != BodyPass)
	// A rule that sets a header on every page, or edits one path's
	// page, gives every visitor the same: that alone keeps the
	// response out of no shared cache (the variants a page names do).
	forAll := in.req.sameForAll && !(page && pl.Experiments != "")
	rp.private = rp.personalized && !forAll || rp.setVisitor || seenCookie || getCaps || len(pl.Cookies) > 0 || in.req.hidCaps

	// A 304 carries the Vary of the 200 it stands for, and an edited
	// copy's Accept-Encoding.
	// Several ranges of a page go as multipart/byteranges, which the
	// rules left alone for this visitor and might not for another: the
	// page's Vary, as a single range's and a 416's.
	// A 416 too, whatever its type: the page or JSON document past
	// whose end the range was is rewritten whole for another visitor
	// (see rangeTransport.wholeIfRewritten).
	pageRanges := in.status == http.StatusPartialContent && equalFoldASCII(mediaType(ct), "multipart/byteranges") ||
		in.status == http.StatusRequestedRangeNotSatisfiable
	switch {
	case notModifiedPage && !html && !json:
		// No type: the 200 may be an HTML page or a JSON document.
		// Both Vary lists: a cache then keeps apart more copies than
		// it must, never fewer.
		if in.site.hasEdits {
			rp.addVary(in.site.vary...)
			rp.pageVary = true
		}
		if in.site.touchesNonHTML {
			rp.addVary(in.site.varyNonHTML...)
		}
	case (html || notModifiedPage || pageRanges) && in.site.hasEdits:
		rp.addVary(in.site.vary...)
		rp.pageVary = true
	case in.site.touchesNonHTML && (json || notModifiedPage || pageRanges):
		// An API's JSON (or what may be one): only what the rules that
		// can touch it read, so that a CDN keeps one copy of it where
		// a page varies with the visitor's device.
		rp.addVary(in.site.varyNonHTML...)
	case in.site.touchesNonHTML:
		// Neither a page the rules edit nor JSON (a style sheet, an
		// image): only what the rules that set headers, cookies, caps
		// or seen items read. An edit of JSON changes none, and a
		// CDN keeps one copy of a style sheet where the API's JSON
		// varies with the visitor's country.
		rp.addVary(in.site.varyAsset...)
		rp.assetVary = true
	}
	if (page || notModifiedPage || pageRanges) && !rp.pageVary {
		// A page names the visitor's variants, and is private for an
		// enrolled visitor: that of one the experiments leave out
		// must not be given to those they enroll, though no rule
		// that can change it reads what enrolment depends on.
		rp.addVary(in.site.varyExperiments...)
	}
	if (page || notModifiedPage) && (in.req.tracking || in.site.readsVisitor) && (in.site.hasEdits || in.site.touchesNonHTML) {
		// The page of a visitor who declines tracking carries none of
		// its cookies and may be public; another's may not: a shared
		// cache must not give the one to the other (the consent cookie
		// is in Cookie, which the page's Vary names). So too where the
		// rules only set headers or cookies: a capped one skips such a
		// visitor, and their page is the origin's.
		rp.addVary("Sec-Gpc")
	}
	if rp.body != BodyPass {
		rp.decode = enc
		rp.encode = negotiate(in.req.acceptEncoding, enc)
	}
	if rp.changed || in.status == http.StatusNotModified && bodyChanged {
		// The encoding sent depends on what the visitor accepts.
		rp.addVary("Accept-Encoding")
	}
	if in.req.byAddress && (slices.Contains(rp.vary, "X-Forwarded-For") || slices.Contains(rp.vary, "Forwarded")) {
		// What the rules read for this visitor depends on their address
		// (a GeoIP lookup, a rule on the forwarding headers), and this
		// response on those rules; a cache in front writes these
		// headers itself, so its stored copy's Vary would match every
		// visitor. Only the browser may keep the response. (Where the
		// CDN's headers gave what the rules read, they name it.)
		rp.private = true
	}
	if in.req.failed && (page || in.site.touchesNonHTML) {
		// The rules did not run: what this visitor got is not what they
		// make of the page, for this visitor or any other. Only their
		// browser may keep it: a shared cache would serve it,
		// unpersonalized, to every visitor after, for as long as the
		// origin allows, though the next request's plugin runs.
		rp.private = true
	}
	rp.acceptCH = html && in.site.needsDevice && in.header.Get("Accept-CH") == ""
	rp.validators = keepValidators
	if bodyChanged {
		rp.validators = weakValidators
	}

	// What a page records is known at the end of its body (hide_seen),
	// or once the rules' edits applied (mark_seen).
	seenBody := rp.body == BodyHTML && (pl.SeenEdits || marksPending)
	switch {
	case !in.req.seen || !rp.view:
		rp.save = saveNever
	case rp.body == BodyJSON:
		rp.save = saveAfterEdit
	case seenBody && in.req.seenInHeaders:
		rp.save = saveAfterHold
	case seenBody:
		rp.save = saveAfterBody
	default:
		rp.save = saveNow
	}
	// What this view shows becomes seen: a copy the browser reused would
	// show it again as unseen. The browser must ask first. (A GET's view
	// that counts a cap is sent no-cache once it counted: a HEAD, which
	// cannot know, is sent it when a capped rule matched.)
	rp.noCache = getView && in.req.seen && (getMarks || pl.SeenEdits) || rp.head && getCaps
	switch {
	case rp.body != BodyHTML:
	case rp.save == saveAfterHold && pl.SeenEdits:
		rp.hold = holdAll
	case rp.capsAt == effectsAfterHold || rp.marksAt == effectsAfterHold:
		rp.hold = holdEffects
	}
	return rp
}

// ruleActs is what a matched rule does in a plan.
type ruleActs struct {
	// always: it sets headers (to the visitor or the origin) or cookies,
	// which every response the proxy answers carries, or redirects; html,
	// json: it
	// edits pages, JSON documents; marks: it records items.
	always, html, json, marks bool
}

func actsOf(pl *plan.Plan, ri int) ruleActs {
	var a ruleActs
	for _, h := range pl.ResponseHeaders {
		a.always = a.always || h.Rule == ri
	}
	for _, h := range pl.RequestHeaders {
		a.always = a.always || h.Rule == ri
	}
	for _, c := range pl.Cookies {
		a.always = a.always || c.Rule == ri
	}
	a.always = a.always || pl.Redirect != nil && pl.Redirect.Rule == ri
	a.html = slices.Contains(pl.EditRules, ri)
	a.json = slices.Contains(pl.JSONRules, ri)
	a.marks = slices.Contains(pl.MarkSeenRules, ri)
	return a
}

// pending reports whether rule ri took effect in a response whose
// body goes as body depends on the edits applied to it.
func pending(pl *plan.Plan, ri int, body BodyKind) bool {
	a := actsOf(pl, ri)
	return !a.always && (body == BodyHTML && a.html || body == BodyJSON && a.json)
}

func anyPending(pl *plan.Plan, rules []int, body BodyKind) bool {
	for _, ri := range rules {
		if pending(pl, ri, body) {
			return true
		}
	}
	return false
}

// effective reports whether matched rule ri took effect in a page view
// whose body goes as body: it set headers or cookies, or an edit of it
// applied to the body (applied says, by edit index of the body's kind,
// whether it did; nil means not known yet, taken as applied), or it only
// records items (mark_seen), which a page view always does.
func effective(pl *plan.Plan, ri int, body BodyKind, applied func(ei int) bool) bool {
	a := actsOf(pl, ri)
	switch {
	case a.always:
		return true
	case body == BodyHTML && a.html:
		return anyApplied(pl.EditRules, ri, applied)
	case body == BodyJSON && a.json:
		return anyApplied(pl.JSONRules, ri, applied)
	}
	// Its edits are for the other kind of body, or it has none in the
	// plan (they lost their conflicts): only mark_seen takes effect.
	return a.marks && !a.html && !a.json
}

func anyApplied(rules []int, ri int, applied func(ei int) bool) bool {
	for ei, r := range rules {
		if r == ri && (applied == nil || applied(ei)) {
			return true
		}
	}
	return false
}

// NotAView reports whether a request says it is no page view, whatever
// the response: a subresource by its Sec-Fetch-Dest (an image, script,
// style sheet, font, media, worker, manifest, a JSON module: anything but
// a document, a frame, an embedded object or a fetch()), a prefetch or
// prerender (Sec-Purpose, Purpose, X-Moz), or, without Sec-Fetch-Dest, an
// Accept header that asks for no page type (image/*, text/css, ...).
// Requests that say nothing (curl, old browsers) are taken at the
// response's type.
func NotAView(h http.Header) bool {
	if Speculative(h) {
		return true
	}
	if dest := h.Get("Sec-Fetch-Dest"); dest != "" {
		switch strings.ToLower(strings.TrimSpace(dest)) {
		case "document", "iframe", "frame", "embed", "object", "empty", "fencedframe":
			return false
		}
		return true
	}
	return acceptsNoPage(h)
}

// assetPath reports whether a URL path names a file of a type no page
// is (a style sheet, a script, an image, a font, media). A request's own
// word that it loads no page (loadsNoDocument) narrows a 304's Vary only
// on such a path: a page's URL asked for as an image, by an <img src> or
// by anyone, must not answer a 304 whose Vary a shared cache would put
// on its copy of the page (RFC 9111 4.3.4), dropping the headers its
// edits read.
func assetPath(p string) bool {
	i := strings.LastIndexByte(p, '.')
	if i < 0 || strings.IndexByte(p[i:], '/') >= 0 {
		return false
	}
	switch strings.ToLower(p[i+1:]) {
	case "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp",
		"woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "ogg", "oga", "wav", "m4a", "mov", "vtt", "wasm":
		return true
	}
	return false
}

// Speculative reports whether a request is a prefetch or a prerender
// (Sec-Purpose, Purpose, X-Moz): the browser may show what it gets, or
// never. No capped rule applies to it.
func Speculative(h http.Header) bool {
	for _, name := range []string{"Sec-Purpose", "Purpose", "X-Moz"} {
		for _, v := range h.Values(name) {
			if v = strings.ToLower(v); strings.Contains(v, "prefetch") || strings.Contains(v, "prerender") {
				return true
			}
		}
	}
	return false
}

// loadsNoDocument reports whether a request says it loads what is never
// a page or a JSON document: a script, style sheet, image, font, media
// or worker by its Sec-Fetch-Dest, or, without Sec-Fetch-Dest, by an
// Accept header that asks for no page type. A JSON module, a manifest
// and destinations it does not know may be documents the rules edit.
func loadsNoDocument(h http.Header) bool {
	if dest := h.Get("Sec-Fetch-Dest"); dest != "" {
		switch strings.ToLower(strings.TrimSpace(dest)) {
		case "audio", "audioworklet", "font", "image", "paintworklet", "script", "serviceworker", "sharedworker", "style", "track", "video", "worker", "xslt":
			return true
		}
		return false
	}
	return acceptsNoPage(h)
}

// acceptsNoPage reports whether a request's Accept header asks for no
// page type (HTML, XHTML, JSON, or a wildcard that covers them); a
// request without one asks for anything.
func acceptsNoPage(h http.Header) bool {
	accept := h.Values("Accept")
	if len(accept) == 0 {
		return false
	}
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt == "*/*" || mt == "text/*" || mt == "application/*" || mt == "" || isHTML(mt) || isXHTML(mt) || isJSON(mt) {
				return false
			}
		}
	}
	return true
}

// addVary adds names to the plan's Vary list, which it makes the first
// time with room for all a plan can add (the site's lists, Sec-Gpc and
// Accept-Encoding), in one allocation.
func (rp *responsePlan) addVary(names ...string) {
	if len(names) == 0 {
		return
	}
	if rp.vary == nil {
		rp.vary = make([]string, 0, len(rp.in.site.vary)+len(rp.in.site.varyNonHTML)+len(rp.in.site.varyExperiments)+2)
	}
	rp.vary = append(rp.vary, names...)
}

// rewriteBlocker says why a page whose plan edits it is passed as the
// origin sent it, or "" when it can be rewritten.
func rewriteBlocker(in responseInput, enc string) string {
	switch {
	case in.status != http.StatusOK:
		return reasonStatus
	case cacheDirective(in.header, "no-transform"):
		// RFC 9110 7.7: the origin asks that no intermediary change the
		// content.
		return reasonNoTransform
	case !decodable(enc):
		return reasonEncoding
	case in.contentLength > in.req.maxRewriteBytes:
		// Compressed or not: a body whose encoded length passes the limit
		// decodes to more.
		return reasonTooLarge
	}
	return ""
}

// passed returns the plan for the same response when its body, planned
// for rewriting, turned out to pass as the origin sent it.
func (rp responsePlan) passed(reason string) responsePlan {
	in := rp.in
	in.passReason = reason
	return planResponse(in)
}

// jsonEdited returns the plan for the same JSON response once its edits
// ran: changed says whether they changed the document.
func (rp responsePlan) jsonEdited(changed bool) responsePlan {
	in := rp.in
	in.jsonChanged = changed
	return planResponse(in)
}

// originPrivate reports whether the origin already keeps the response
// out of shared caches.
func originPrivate(h http.Header) bool {
	return cacheDirective(h, "private") || cacheDirective(h, "no-store")
}

// isAttachment reports whether the response is to be saved rather than
// shown (Content-Disposition: attachment, RFC 6266).
func isAttachment(h http.Header) bool {
	v := h.Get("Content-Disposition")
	if v == "" {
		return false
	}
	typ, _, _ := strings.Cut(v, ";")
	return equalFoldASCII(strings.TrimSpace(typ), "attachment")
}

// cacheDirective reports whether the Cache-Control of h has directive
// name (lower-case), with or without an argument.
func cacheDirective(h http.Header, name string) bool {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d, _, _ = strings.Cut(d, "=")
			if equalFoldASCII(strings.TrimSpace(d), name) {
				return true
			}
		}
	}
	return false
}

// contentEncoding is the response's Content-Encoding, normalized.
func contentEncoding(h http.Header) string {
	// All its lines, as one list (RFC 9110 5.3): gzip on two lines is
	// "gzip, gzip", which passes untouched as on one line.
	vs := h.Values("Content-Encoding")
	var enc string
	if len(vs) == 1 {
		enc = strings.ToLower(strings.TrimSpace(vs[0]))
	} else {
		enc = strings.ToLower(strings.TrimSpace(strings.Join(vs, ", ")))
	}
	if enc == "identity" {
		return ""
	}
	return enc
}
