package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/device"
	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/host/internal/site"
)

// modifyResponse plans what to do with the origin's response
// (planResponse), prepares its body for the plan's outcome (an HTML
// stream, a JSON document, or the body as it came), then sets the headers
// the final plan calls for and saves the seen-filter when the plan says.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.StatusCode < 100 || resp.StatusCode > 999 {
		// http.ReadResponse takes any three digits ("099"), and a final
		// status below 100 cannot be written (net/http panics in
		// WriteHeader, and the visitor's connection is dropped): the
		// origin's response is malformed, a 502.
		return fmt.Errorf("%w: %03d", errBadStatus, resp.StatusCode)
	}
	if !p.fwd.inProcess {
		resp.Header.Set("Via", appendVia(resp.Header.Values("Via"), resp.ProtoMajor, resp.ProtoMinor, p.fwd.via))
	}
	if loc := resp.Header.Get("Location"); loc != "" && !p.cfg.PreserveHost {
		if rel, ok := originRelative(loc, p.cfg.Origin); ok {
			resp.Header.Set("Location", rel)
		}
	}
	st, _ := resp.Request.Context().Value(stateKey{}).(*state)
	if st != nil {
		st.afterHints()
	}
	if st != nil && !st.askedAt.IsZero() {
		st.upstreamStatus, st.upstreamTook = resp.StatusCode, time.Since(st.askedAt)
	}
	if _, typed := resp.Header["Content-Type"]; !typed && st != nil && st.w != nil {
		// A body the origin sent untyped goes on untyped (RFC 9110 8.3:
		// its recipient decides what it is): net/http's server would
		// guess a type from its first bytes, "text/html; charset=utf-8"
		// for a page, whose charset the browser then takes over the
		// page's own <meta>. A Content-Type without a value is written
		// as none.
		st.w.Header()["Content-Type"] = nil
	}
	if st != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		// Whatever reads the body reads it through st.origin, which keeps
		// the origin's error for the log (see done). An upgraded
		// connection's body is the connection, which ReverseProxy takes
		// as it is.
		st.origin = originStream{ReadCloser: resp.Body}
		resp.Body = &st.origin
	}
	if st == nil || st.site == nil {
		if st != nil {
			st.origin.passes(resp, st.w)
		}
		return nil
	}
	if st.w != nil {
		takeCacheHeaders(resp.Header, st.w.Header())
	}
	rp := planResponse(p.responseInput(resp, st))
	switch {
	case rp.body == BodyPass:
		if rp.reason != "" && rp.reason != reasonStatus && !rp.head && st.resends == 0 {
			// A page the plan edits that its headers keep untouched.
			p.bodyLimit(resp.Request, rp.reason, "untouched")
		}
	case st.resends > 0:
		// The origin asked again after the rewriter failed on the page
		// (counted as resent).
		rp = rp.passed(reasonRewriteFailed)
	case p.failed.has(pageOf(resp.Request)):
		// The rewriter failed on this page a moment ago (see failure.go).
		rp = rp.passed(reasonRewriteFailed)
		p.stats.Limited.Add(1)
		p.cfg.Metrics.BodyLimit(p.cfg.Route, reasonRewriteFailed, "skipped")
	}
	if rp.body == BodyPass && notModified(resp, st) {
		rp = planResponse(p.responseInput(resp, st))
	}
	if !rp.head {
		var err error
		switch rp.body {
		case BodyHTML:
			rp, err = p.htmlBody(resp, st, rp)
		case BodyJSON:
			rp, err = p.jsonBody(resp, st, rp)
		}
		if err != nil {
			return err
		}
	}
	p.respond(resp, st, rp)
	st.origin.passes(resp, st.w)
	return nil
}

// notModified answers with a 304 a response that goes as the origin sent
// it, whole or a range of it (a page past the rewrite limit, a download
// asked for as a page), when the visitor's If-None-Match or
// If-Modified-Since, which the origin was not asked with (see
// conditionals), say the visitor has it (see hasCopy), as the origin
// would have answered. The 304 keeps the headers of the 200 it stands
// for but those of a body (RFC 9110 15.4.5).
func notModified(resp *http.Response, st *state) bool {
	if m := resp.Request.Method; !st.withheld || m != http.MethodGet && m != http.MethodHead ||
		resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent || !st.hasCopy(resp.Header) {
		return false
	}
	resp.Body.Close()
	resp.StatusCode, resp.Status = http.StatusNotModified, "304 Not Modified"
	resp.Body, resp.ContentLength = http.NoBody, 0
	for _, k := range []string{"Content-Length", "Content-Range", "Accept-Ranges", "Content-Encoding"} {
		delete(resp.Header, k)
	}
	return true
}

// siteFactsOf returns what planResponse needs to know of s, with the
// Vary lists of the rules that may apply on the request's path (varies),
// or of every rule when its values were not built (nil).
func siteFactsOf(s *site.Site, varies *site.Varies) siteFacts {
	vary, varyNonHTML, varyAsset := s.Vary(), s.VaryNonHTML(), s.VaryAsset()
	if v := varies; v != nil {
		vary, varyNonHTML, varyAsset = v.Page, v.NonHTML, v.Asset
	}
	return siteFacts{
		hasEdits:        s.HasEdits(),
		touchesNonHTML:  s.TouchesNonHTML(),
		needsDevice:     s.NeedsDevice(),
		readsVisitor:    s.ReadsVisitor(),
		vary:            vary,
		varyNonHTML:     varyNonHTML,
		varyAsset:       varyAsset,
		varyExperiments: s.VaryExperiments(),
	}
}

// responseInput gathers what planResponse decides from.
func (p *Proxy) responseInput(resp *http.Response, st *state) responseInput {
	s := st.site
	pl := &st.req.Plan
	return responseInput{
		status:        resp.StatusCode,
		header:        resp.Header,
		contentLength: resp.ContentLength,
		plan:          pl,
		site:          siteFactsOf(s, st.req.Varies),
		req: requestFacts{
			method:          resp.Request.Method,
			acceptEncoding:  resp.Request.Header.Get("Accept-Encoding"),
			asset:           NotAView(resp.Request.Header),
			newVisitor:      st.req.Visitor.Persist,
			seen:            st.seen != nil && st.allowed,
			seenInHeaders:   p.cfg.Seen != nil && p.cfg.Seen.InHeaders(),
			sharedCaps:      p.sharedCaps(st),
			tracking:        p.cfg.Seen != nil && s.UsesSeen() || p.cfg.Caps != nil && s.UsesCaps(),
			hidCaps:         st.caps != nil && Speculative(resp.Request.Header),
			caps:            st.allowed && st.caps != nil && len(pl.Capped) > 0,
			editedCopy:      resp.StatusCode == http.StatusNotModified && st.revalidatesEdited(resp.Header),
			noDocument:      resp.StatusCode == http.StatusNotModified && loadsNoDocument(resp.Request.Header) && assetPath(resp.Request.URL.Path),
			byAddress:       st.req.ByAddress,
			sameForAll:      s.SameForAll(pl.Matched),
			failed:          st.req.Err != nil,
			maxRewriteBytes: p.cfg.MaxRewriteBytes,
		},
	}
}

// respond sets the headers of the final plan, records the outcome, and
// saves the seen-filter when it is due before the headers.
func (p *Proxy) respond(resp *http.Response, st *state, rp responsePlan) {
	h := resp.Header
	pl := &st.req.Plan
	if rp.personalized {
		st.outcome = metrics.Personalized
		p.stats.Personalized.Add(1)
	}
	named := namedNonHTML
	switch {
	case rp.private || rp.pageVary:
		named = namedAll
	case rp.assetVary:
		named = namedAsset
	}
	p.setVisitorHeaders(h, st, rp.setVisitor, named)
	if len(pl.ResponseHeaders) > 0 && st.w != nil {
		// ReverseProxy adds h to what handlers before the proxy set
		// (Caddy's header directive): a rule's header replaces theirs
		// as it replaces the origin's, rather than going out beside it.
		pre := st.w.Header()
		for _, rh := range pl.ResponseHeaders {
			pre.Del(rh.Name)
		}
	}
	if p.cfg.DebugHeaders && rp.reason != "" && rp.reason != reasonStatus {
		// Why a page the rules edit went out as the origin sent it
		// (the reasons of bespoke_body_limits_total).
		h.Set("X-Bespoke-Untouched", rp.reason)
	}
	if rp.private {
		h.Set("Cache-Control", privateCacheControl(cacheControl(h)))
	}
	if rp.noCache {
		h.Set("Cache-Control", withNoCache(cacheControl(h)))
	}
	if rp.private || rp.noCache {
		for _, k := range sharedCacheHeaders {
			delete(h, k) // (canonical: no Del, which canonicalizes each name again)
		}
	}
	if rp.experiments {
		h.Set(plan.ExperimentsHeader, pl.Experiments)
	}
	p.addVary(h, rp.vary)
	if rp.acceptCH {
		// Ask browsers for the Client Hints device rules read.
		h.Set("Accept-CH", device.AcceptCH)
	}
	// Which of the plan's edits applied in this page view, as far as
	// it is known before the headers (nil when every one counts as
	// applied).
	applied := st.applied(rp)
	if rp.validators == weakValidators {
		var tag uint64
		if len(h["Etag"]) > 0 && h["Etag"][0] != "" && !capMissed(pl, rp, applied) {
			tag = st.planTag()
		}
		changedBodyValidators(h, tag)
		if len(resp.Trailer) > 0 {
			// Sent after the changed body, they would name the origin's
			// bytes too: unannounced now, removed at the end.
			dropDigests(resp.Trailer)
			st.origin.trailers = &resp.Trailer
		}
	}
	if rp.body != BodyPass {
		// A range of it is answered with all of it (see ranges.go), also
		// when the edits left a JSON document as it was.
		delete(h, "Accept-Ranges")
	}
	if rp.changed {
		delete(h, "Content-Encoding")
		if rp.encode != "" {
			h["Content-Encoding"] = []string{rp.encode}
		}
		if rp.body == BodyHTML || rp.head {
			// Streamed: the length is known at the end.
			delete(h, "Content-Length")
			resp.ContentLength = -1
			if rb := st.rb; rb != nil && rb.to != nil && resp.Body == io.ReadCloser(rb) {
				resp.ContentLength = pacedLength
			}
		}
		if rb := st.rb; rp.body == BodyHTML && !rp.head && rb != nil && resp.Body == io.ReadCloser(rb) && rb.whole() && len(resp.Trailer) == 0 {
			// Held back whole (for its cookies): its length is known, and
			// a body of known length leaves without chunk framing, which
			// costs net/http a second write per piece. (Not with
			// trailers: over HTTP/1.1 only chunks can carry them.)
			n := rb.out.Len()
			h.Set("Content-Length", strconv.Itoa(n))
			resp.ContentLength = int64(n)
		}
	}
	// What took effect in this page view: caps are counted, mark_seen
	// recorded, then the seen-filter saved.
	if rp.capsAt != effectsNever && rp.capsAt != effectsAfterBody {
		p.countCaps(h, st, rp, applied)
	}
	if rp.marksAt != effectsNever && rp.marksAt != effectsAfterBody {
		p.recordMarks(st, rp, applied)
	}
	switch rp.save {
	case saveNow, saveAfterEdit:
		p.saveSeen(resp.Request.Context(), h, st)
	case saveAfterHold:
		// A page too long to hold whole cannot say what hide_seen showed;
		// mark_seen items were recorded as if their edits applied.
		if st.held || rp.hold != holdAll {
			p.saveSeen(resp.Request.Context(), h, st)
		} else {
			p.stats.SeenOverflow.Add(1)
			p.cfg.Metrics.Seen(p.cfg.Route, "overflow")
		}
	}
}

// applied returns, for the response's page view, whether an edit of the
// plan (by index among the edits of rp.effectsBody's kind) applied: as
// far as the rewriter got for an HTML stream (an edit it may still apply
// counts as applied), or what the JSON edits did; nil when no body says
// (a 304: the copy revalidated was made with every edit).
func (st *state) applied(rp responsePlan) func(ei int) bool {
	switch {
	case rp.body == BodyHTML && st.rb != nil:
		rb := st.rb
		return func(ei int) bool {
			if rb.rw != nil && rb.rw.AppliedCount(ei) > 0 {
				return true
			}
			// Not yet: it may still, unless the page ended or is now
			// copied through.
			return !rb.done && !rb.copying
		}
	case rp.body == BodyJSON:
		applied := st.jsonApplied
		return func(ei int) bool { return ei < len(applied) && applied[ei] }
	}
	return nil
}

// countCaps counts the capped rules that took effect in the page view and
// sets the caps cookie.
func (p *Proxy) countCaps(h http.Header, st *state, rp responsePlan, applied func(int) bool) {
	pl := &st.req.Plan
	m := st.site.Manifest()
	counted := false
	for _, ri := range pl.Capped {
		if !effective(pl, ri, rp.effectsBody, applied) {
			continue
		}
		c := m.Rules[ri].Cap
		st.caps.Hit(m.Slots[c.Slot].Arg, time.Duration(c.Window)*time.Second)
		counted = true
	}
	if counted {
		// The counts live as long as the longest window of any capped
		// rule, not only of the ones this view counted (an 8-week count
		// went after 30 days, once a 1-day rule was counted). Entries of
		// rules no longer in this file stay until the counts are full:
		// the counts are shared by every route of the host, each with
		// rules of its own.
		p.saveCaps(h, st, st.site.Actions().CapsLife())
		// A copy the browser reused would show the capped rule again,
		// uncounted: it must ask first (a 304 counts as a view).
		h.Set("Cache-Control", withNoCache(cacheControl(h)))
	}
}

// capMissed reports whether a capped rule of the page view did not take
// effect in it, its page edits having applied nowhere (a popup for #main
// on a page without one). Such a page gets no ETag: a 304 stands for the
// copy the plan's edits made, and counts its capped rules as shown
// (there is no body to say otherwise), so the copy's reloads would use
// up a cap it never showed. Without one, the page comes again and its
// rewrite says.
func capMissed(pl *plan.Plan, rp responsePlan, applied func(int) bool) bool {
	if rp.capsAt != effectsAfterHold && rp.capsAt != effectsAfterEdit {
		return false
	}
	for _, ri := range pl.Capped {
		if pending(pl, ri, rp.effectsBody) && !effective(pl, ri, rp.effectsBody, applied) {
			return true
		}
	}
	return false
}

// withNoCache adds no-cache to a Cache-Control value that lacks it.
func withNoCache(cc string) string {
	for d := range strings.SplitSeq(cc, ",") {
		if d = strings.TrimSpace(d); equalFoldASCII(d, "no-cache") || equalFoldASCII(d, "no-store") {
			return cc
		}
	}
	if strings.TrimSpace(cc) == "" {
		return "private, no-cache"
	}
	return cc + ", no-cache"
}

// recordMarks records the mark_seen items of the rules that took effect.
func (p *Proxy) recordMarks(st *state, rp responsePlan, applied func(int) bool) {
	pl := &st.req.Plan
	for i, id := range pl.MarkSeen {
		if effective(pl, pl.MarkSeenRules[i], rp.effectsBody, applied) {
			st.seen.Shown(id)
		}
	}
}

// htmlBody puts the HTML rewriter on the body. A compressed body is read
// once before the headers go, so that one that does not decode, or
// decodes like a bomb, still passes as the origin sent it; a page whose
// Set-Cookie must say what it showed is held back (bounded) until it has
// been rewritten whole.
func (p *Proxy) htmlBody(resp *http.Response, st *state, rp responsePlan) (responsePlan, error) {
	pl := &st.req.Plan
	src, err := newSource(resp.Body, rp.decode, int64(p.cfg.MaxDecodeRatio), p.cfg.SeenBuffer+64<<10)
	if err != nil {
		return p.passOriginal(resp, rp, src, nil, nil, err)
	}
	opt := rewrite.Options{MaxBuffer: p.cfg.RewriteBuffer, Seen: st.seenFor(rp)}
	edits := pl.Edits
	if script, style := cspNonces(resp.Header); script != "" || style != "" {
		edits = nonceEdits(edits, script, style) // see csp.go
	}
	rb := newRewritingBody(src, st.site.Program(), edits, opt, rp.encode, resp.Header.Get("Content-Type"), p.cfg.MaxRewriteBytes)
	rb.metrics, rb.route, rb.headersWait = p.cfg.Metrics, p.cfg.Route, p.streamPause
	if k, page, ok := p.mapKey(resp); ok {
		rb.maps, rb.mapKey, rb.pageKey, rb.mapStats = p.maps, k, page, &p.mapStats
		rb.byURL, rb.streamPause = k == page, p.streamPause
	}
	rb.onLimit = func(reason, result string) {
		if result == "cut" && !rb.handed && st.w != nil && st.w.abandon() {
			// None of the response was sent yet: instead of a cut, the
			// origin is asked again for a page the rewriter failed on,
			// or the visitor gets a 502 (see Proxy.unsent).
			st.cut = rb.err
			result = "refused"
			if reason == reasonRewriteFailed && st.resends == 0 && resendable(resp.Request) {
				st.resend, result = true, "resent"
			}
		}
		if result == "cut" {
			st.broken = true
		}
		if reason == reasonRewriteFailed {
			p.rewriteFailed(resp.Request, st, rb.err, result)
			return
		}
		p.bodyLimit(resp.Request, reason, result)
	}
	rb.precommit = true
	st.rb = rb
	hold, room := rp.hold, 0
	if hold != holdNone {
		// A page held back stays until its visitor has read it: it takes
		// what it may hold from the budget of bodies held whole, or
		// streams as one too long to hold.
		n := int64(p.cfg.SeenBuffer) + holdMargin
		if rp.decode == "" && resp.ContentLength >= 0 {
			n = min(n, resp.ContentLength+holdMargin)
		}
		room = int(n)
		if p.held.take(n) {
			rb.budget, rb.held = p.held, n
		} else {
			p.bodyLimit(resp.Request, reasonHeldBytes, "streamed")
			hold = holdNone
		}
	}
	switch {
	case hold == holdAll:
		// The cookie must say what this page showed, and cookies go in
		// the headers: until its lists are done, which its edit map
		// tells, or its end.
		st.held = rb.fill(p.cfg.SeenBuffer, room, func() bool { return rb.seenDone() && effectsKnown(pl, rp, rb) })
		if st.held && !rb.done {
			// Should the rest of the page differ from its map and show
			// more items, they are not in the cookie: counted.
			recorded := rb.splicer.Recorded()
			rb.onDone = func() {
				if rb.splicer != nil && rb.splicer.Recorded() > recorded {
					p.stats.SeenLate.Add(1)
					p.cfg.Metrics.Seen(p.cfg.Route, "late")
				}
			}
		}
	case hold == holdEffects:
		// The caps cookie (and the seen cookie of mark_seen) must say
		// whether the rules' edits applied: until they did, or the page
		// ended.
		st.held = rb.fill(p.cfg.SeenBuffer, room, func() bool { return effectsKnown(pl, rp, rb) })
	case rp.decode != "":
		rb.step()
	}
	if c := int64(rb.out.Cap()); rb.budget != nil && c != rb.held {
		// What the page holds is its buffer: the last read's output may
		// have gone past the room taken for it, and a page of unknown
		// length (chunked, compressed) took the most a page may be held
		// to, which one shorter gives back (or the budget would hold one
		// 150 KB page a MiB).
		if c > rb.held {
			rb.budget.charge(c - rb.held)
		} else {
			rb.budget.give(rb.held - c)
		}
		rb.held = c
	}
	if rb.err != nil && !rb.originFailed() {
		return p.passOriginal(resp, rp, src, rb, nil, rb.err)
	}
	if err := rb.err; err != nil {
		// The origin broke off while the page was held back: nothing
		// was sent, and the error handler answers (502, or 504 for an
		// origin that stalled), as when no response came.
		st.rb = nil
		rb.release()
		src.Close()
		return rp, err
	}
	src.commit()
	rb.precommit = false
	st.rewrote = true
	p.stats.Rewritten.Add(1)
	if st.w != nil {
		st.w.setPaced()
		rb.to = st.w
	}
	if rp.save == saveAfterBody {
		// A server-side store records the showing once the page is done,
		// with the mark_seen items of the rules whose edits applied.
		ctx := context.WithoutCancel(resp.Request.Context())
		rb.onDone = func() {
			if rp.marksAt == effectsAfterBody {
				p.recordMarks(st, rp, st.applied(rp))
			}
			p.saveSeen(ctx, nil, st)
		}
		// A visitor who leaves before the page's end (a click on a card
		// while the rest loads) was shown the lists before: what they
		// recorded is saved, as the cookie store's page says it in its
		// headers. A mark_seen whose edit had not applied was not shown.
		rb.onLeft = func() {
			if rp.marksAt == effectsAfterBody {
				p.recordMarks(st, rp, func(ei int) bool { return rb.rw != nil && rb.rw.AppliedCount(ei) > 0 })
			}
			p.saveSeen(ctx, nil, st)
		}
		if rb.done {
			// The page ended while it was held back (for the caps): no
			// more reads will come to run it.
			rb.onDone()
			rb.onDone = nil
		}
	}
	resp.Body = rb
	return rp, nil
}

// effectsKnown reports whether the page held back has shown whether each
// rule whose effect must be known before the headers took effect: an
// edit of it applied (or it has none for this page).
func effectsKnown(pl *plan.Plan, rp responsePlan, rb *rewritingBody) bool {
	if rb.rw == nil {
		return false
	}
	known := func(rules []int) bool {
		for _, ri := range rules {
			if !pending(pl, ri, BodyHTML) {
				continue
			}
			done := false
			for ei, r := range pl.EditRules {
				if r == ri && rb.rw.AppliedCount(ei) > 0 {
					done = true
					break
				}
			}
			if !done {
				return false
			}
		}
		return true
	}
	return (rp.capsAt != effectsAfterHold || known(pl.Capped)) &&
		(rp.marksAt != effectsAfterHold || known(pl.MarkSeenRules))
}

// jsonBody reads a JSON document whole (up to MaxRewriteBytes decoded),
// applies the JSON edits, and sends it in the origin's encoding when the
// visitor accepts it, with its new length. A document the edits leave
// unchanged, one that is not JSON, nested too deep, too large, or does
// not decode, passes as the origin sent it. The document, its edited
// form and its encoding are in pooled buffers, returned when the body is
// closed.
func (p *Proxy) jsonBody(resp *http.Response, st *state, rp responsePlan) (responsePlan, error) {
	pl := &st.req.Plan
	limit := p.cfg.MaxRewriteBytes
	// An identity body is its own replay: doc.
	src, err := newSource(resp.Body, rp.decode, int64(p.cfg.MaxDecodeRatio), int(limit)+64<<10)
	if err != nil {
		return p.passOriginal(resp, rp, src, nil, nil, err)
	}
	size := -1
	if rp.decode == "" && resp.ContentLength >= 0 && resp.ContentLength <= limit {
		size = int(resp.ContentLength)
	}
	// The document and its edited form stay until the visitor has read
	// them: what they take comes from the budget of bodies held whole,
	// before they are read when their length is known.
	var r io.Reader = src
	var held int64
	var hr *heldReader
	var work int64
	if size >= 0 {
		// What getDoc makes room for, and the edits' room (below), at
		// once: documents that took the one and wait for the other
		// could leave none of them room to be edited.
		held, work = int64(size)+int64(size)/16, 2*int64(size)
		if !p.held.take(held + work) {
			return p.passOriginal(resp, rp, src, nil, nil, errHeldBytes)
		}
	} else {
		hr = &heldReader{r: src, b: p.held}
		r = hr
	}
	docBuf, err := readPooled(r, limit+1, size)
	if hr != nil {
		held = hr.taken
	}
	doc := *docBuf
	switch {
	case errors.Is(err, errBadEncoding) || errors.Is(err, errDecodeRatio) || errors.Is(err, errHeldBytes):
		p.held.give(work)
		return p.passOriginalJSON(resp, rp, src, docBuf, held, err)
	case err != nil:
		p.held.give(held + work)
		putDoc(docBuf)
		src.Close()
		return rp, err
	case int64(len(doc)) > limit:
		p.held.give(work)
		return p.passOriginalJSON(resp, rp, src, docBuf, held, errTooLarge)
	}
	// The edits write the document anew, into two buffers in turn:
	// room for them is taken before they run, and what the edited
	// document keeps after.
	if size < 0 {
		work = 2 * int64(len(doc))
		if !p.held.take(work) {
			return p.passOriginalJSON(resp, rp, src, docBuf, held, errHeldBytes)
		}
	}
	var set jsonrw.SeenSet
	if s := st.seenFor(rp); s != nil {
		set = s
	}
	start := time.Now()
	out, err := applyJSON(doc, jsonEditsFor(pl.JSONEdits, resp.Header.Get("Content-Type")), set, p.cfg.MaxJSONDepth)
	p.cfg.Metrics.Rewrite(p.cfg.Route, "json", int64(len(doc)), time.Since(start))
	if err == nil {
		out.Trim()
	}
	kept := int64(0)
	if err == nil && out.Changed() {
		kept = int64(out.Held())
	}
	if kept <= work {
		p.held.give(work - kept)
	} else {
		p.held.charge(kept - work)
	}
	held += kept
	if err != nil {
		out.Release()
		return p.passOriginalJSON(resp, rp, src, docBuf, held, err)
	}
	st.jsonApplied = append(st.jsonApplied[:0], out.Applied...)
	body := &pooledBody{doc: docBuf, out: out, budget: p.held, held: held}
	if !out.Changed() {
		// Nothing changed: the origin's bytes, encoding and validators.
		rp = rp.jsonEdited(false)
		if st.hasCopy(resp.Header) {
			// The visitor revalidates a copy of these very bytes: a
			// 304, with the headers of the 200 it stands for.
			body.Close()
			src.Close()
			resp.StatusCode, resp.Status = http.StatusNotModified, "304 Not Modified"
			resp.Body, resp.ContentLength = http.NoBody, 0
			delete(resp.Header, "Content-Length")
			return rp, nil
		}
		if replay, ok := p.replay(src, doc); ok {
			body.Reader, body.origin = replay, replay
			resp.Body = body
			return rp, nil
		}
		// Too much was read to replay (a compressed body larger than
		// decoded): send the decoded document.
		rp = rp.jsonEdited(true)
	} else {
		rp = rp.jsonEdited(true)
		st.rewrote = true
	}
	src.Close()
	send := out.Doc
	if rp.encode != "" {
		enc, err := encodePooled(out.Doc, rp.encode)
		if err != nil {
			body.Close()
			return rp, err
		}
		if p.held.take(int64(len(*enc))) {
			body.held += int64(len(*enc))
			body.enc = enc
			send = *enc
		} else {
			// No room to hold it encoded as well: it goes as it is.
			putDoc(enc)
			rp.encode = ""
		}
	}
	body.Reader = bytes.NewReader(send)
	resp.Header.Set("Content-Length", strconv.Itoa(len(send)))
	resp.ContentLength = int64(len(send))
	resp.Body = body
	return rp, nil
}

// applyJSON is jsonrw.ApplyPooled, with a panic of it recovered as a
// rewriteFailure (see failure.go).
func applyJSON(doc []byte, edits []jsonrw.Edit, set jsonrw.SeenSet, maxDepth int) (out *jsonrw.Output, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, recovered(v)
		}
	}()
	if testHookJSONEdits != nil {
		testHookJSONEdits()
	}
	// A UTF-8 byte order mark, which some servers put before JSON and
	// browsers' decoders drop (fetch's json() too), is no JSON: the
	// document is what follows it. An edited document goes without it,
	// as JSON asks (RFC 8259 8.1); one left unchanged is the origin's.
	return jsonrw.ApplyPooled(bytes.TrimPrefix(doc, utf8BOM), edits, set, maxDepth)
}

// jsonEditsFor returns the edits of a JSON document of Content-Type ct:
// in one that declares another charset than UTF-8, the values they set
// have their characters past ASCII written as \u escapes (a copy of
// edits), which read the same in UTF-8, as fetch's json() reads any
// JSON, and in the charset declared, as a client that decodes with it
// does; raw UTF-8 read "Café" as "CafÃ©" in ISO-8859-1.
func jsonEditsFor(edits []jsonrw.Edit, ct string) []jsonrw.Edit {
	if c, ok := headerCharset(ct); !ok || c.name == utf8Page.name {
		return edits
	}
	var out []jsonrw.Edit
	for i := range edits {
		v := jsonrw.ASCII(edits[i].Value)
		if len(v) == len(edits[i].Value) {
			continue // ASCII already
		}
		if out == nil {
			out = slices.Clone(edits)
		}
		out[i].Value = v
	}
	if out == nil {
		return edits
	}
	return out
}

// utf8BOM is the byte order mark of UTF-8 text.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// passOriginalJSON is passOriginal for a document read into a pooled
// buffer, which the body returns once sent.
// held is what the document took from the budget of bodies held whole,
// given back with the buffer.
func (p *Proxy) passOriginalJSON(resp *http.Response, rp responsePlan, src *source, docBuf *[]byte, held int64, cause error) (responsePlan, error) {
	rp, err := p.passOriginal(resp, rp, src, nil, *docBuf, cause)
	if err != nil {
		p.held.give(held)
		putDoc(docBuf)
		return rp, err
	}
	resp.Body = &pooledBody{Reader: resp.Body, origin: resp.Body, doc: docBuf, budget: p.held, held: held}
	return rp, nil
}

// pooledBody is a JSON response's body: a reader over pooled buffers
// (the document read, its edited form, its encoding), which Close
// returns, and the origin's body when it is replayed.
type pooledBody struct {
	io.Reader
	origin io.Closer // the replayed origin body, or nil
	doc    *[]byte
	out    *jsonrw.Output
	enc    *[]byte
	// held is what the buffers took from budget, given back on Close.
	budget *Budget
	held   int64
}

func (b *pooledBody) Close() error {
	var err error
	if b.origin != nil {
		err = b.origin.Close()
		b.origin = nil
	}
	putDoc(b.doc)
	b.doc = nil
	b.out.Release()
	b.out = nil
	putDoc(b.enc)
	b.enc = nil
	if b.budget != nil {
		b.budget.give(b.held)
		b.budget, b.held = nil, 0
	}
	b.Reader = eofReader{}
	return err
}

// docBuffers hold JSON documents as they are read and encoded.
var docBuffers sync.Pool // of *[]byte

// maxPooledDoc bounds the buffers kept for later documents.
const maxPooledDoc = 64 << 20

func getDoc(n int) *[]byte {
	// The pool holds documents and their encodings, of different sizes:
	// look at two before making one.
	var small *[]byte
	for range 2 {
		b, ok := docBuffers.Get().(*[]byte)
		if !ok {
			break
		}
		if cap(*b) >= n {
			if small != nil {
				docBuffers.Put(small)
			}
			*b = (*b)[:0]
			return b
		}
		if small != nil {
			docBuffers.Put(small)
		}
		small = b
	}
	if small != nil {
		docBuffers.Put(small)
	}
	b := make([]byte, 0, n+n/16)
	return &b
}

func putDoc(b *[]byte) {
	if b != nil && cap(*b) <= maxPooledDoc {
		docBuffers.Put(b)
	}
}

// readPooled reads r until EOF or n bytes into a pooled buffer, sized
// once when the length is known (size ≥ 0).
func readPooled(r io.Reader, n int64, size int) (*[]byte, error) {
	want := 32 << 10
	if size >= 0 {
		want = size + 1 // one more, to see the end without growing
	}
	b := getDoc(want)
	buf := *b
	lr := io.LimitReader(r, n)
	for {
		if len(buf) == cap(buf) {
			// Doubled, but never past n: a body over the limit grew an
			// 8 MiB buffer to 16 MiB for its last byte.
			grown := make([]byte, len(buf), int(min(2*int64(cap(buf)), n)))
			copy(grown, buf)
			buf = grown
		}
		k, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			*b = buf
			return b, nil
		}
		if err != nil {
			*b = buf
			return b, err
		}
	}
}

// encodePooled compresses a whole body in encoding into a pooled buffer.
func encodePooled(body []byte, encoding string) (*[]byte, error) {
	b := getDoc(len(body)/4 + 512)
	w := sliceWriter{b}
	e := newEncoder(encoding, &w)
	defer releaseEncoder(e)
	if _, err := e.Write(body); err != nil {
		putDoc(b)
		return nil, err
	}
	if err := e.Close(); err != nil {
		putDoc(b)
		return nil, err
	}
	return b, nil
}

// sliceWriter appends to a pooled buffer.
type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// passOriginal sends the body as the origin sent it, decoded bytes read so
// far replayed in front of the rest, and returns the plan for a body that
// passes. doc is what was read of an identity body (its own replay); rb,
// the rewriter that read it, is released. When more was read than could
// be kept, the response cannot be passed on: the error goes to the error
// handler (502), or, when the rewriter failed on a request that can be
// sent again, the origin is asked again (see failure.go).
func (p *Proxy) passOriginal(resp *http.Response, rp responsePlan, src *source, rb *rewritingBody, doc []byte, cause error) (responsePlan, error) {
	reason := reasonFor(cause)
	if rb != nil {
		rb.release()
	}
	body, ok := p.replay(src, doc)
	result := "untouched"
	if !ok {
		src.Close()
		result = "refused"
	}
	if st, _ := resp.Request.Context().Value(stateKey{}).(*state); st != nil && errors.Is(cause, errRewriteFailed) {
		if !ok && st.resends == 0 && resendable(resp.Request) {
			st.resend = true
			result = "resent"
		}
		p.rewriteFailed(resp.Request, st, cause, result)
	} else {
		p.bodyLimit(resp.Request, reason, result)
	}
	if !ok {
		return rp, cause
	}
	resp.Body = body
	return rp.passed(reason), nil
}

// replay returns the origin's body as it came: doc for an identity body
// read into doc, else what the source recorded, then the rest.
func (p *Proxy) replay(src *source, doc []byte) (io.ReadCloser, bool) {
	if src.enc == "" {
		if src.rec.n != int64(len(doc)) {
			return nil, false // read, and not kept
		}
		body := readCloser{io.MultiReader(bytes.NewReader(doc), src.raw), src.raw}
		src.release()
		return body, true
	}
	return src.replay()
}

// reasonFor names why a body passed untouched, for metrics and logs.
func reasonFor(err error) string {
	switch {
	case errors.Is(err, errDecodeRatio):
		return reasonDecodeRatio
	case errors.Is(err, errTooLarge), errors.Is(err, jsonrw.ErrTooManyElements):
		return reasonTooLarge
	case errors.Is(err, errBadEncoding):
		return reasonBadEncoding
	case errors.Is(err, errCharset):
		return reasonCharset
	case errors.Is(err, jsonrw.ErrTooDeep):
		return reasonJSONDepth
	case errors.Is(err, jsonrw.ErrNotJSON):
		return reasonJSONInvalid
	case errors.Is(err, errRewriteFailed):
		return reasonRewriteFailed
	case errors.Is(err, errHeldBytes):
		return reasonHeldBytes
	}
	return "error"
}

// bodyLimit records a body that a limit (or its encoding) made pass
// untouched, stop being rewritten, or be cut.
func (p *Proxy) bodyLimit(r *http.Request, reason, result string) {
	p.stats.Limited.Add(1)
	p.cfg.Metrics.BodyLimit(p.cfg.Route, reason, result)
	level := slog.LevelWarn
	switch reason {
	case reasonTooLarge, reasonCharset, reasonJSONInvalid, reasonNoTransform, reasonXHTML, reasonAttachment, reasonContentType:
		// Ordinary pages: large ones, old encodings, text/json that is
		// not, and the origin's wish.
		level = slog.LevelInfo
	}
	msg := "response body not rewritten"
	switch result {
	case "stopped":
		msg = "response body rewritten only in part: the rest went as the origin sent it"
	case "cut":
		msg = "response body cut"
	}
	args := []any{"route", p.cfg.Route, "path", r.URL.Path, "reason", reason, "result", result}
	if reason == reasonRewriteBuffer {
		args = append(args, "hint", "a list that hide_seen, limit or reorder edits is held whole: raise limits.rewrite_buffer above its size, or edit a shorter list")
	}
	// One kind per reason: a page too large on every request does not
	// hide a list that overflowed.
	p.warnIn(&p.warnings, reason+"/"+result, r, level, msg, args...)
}

// mediaType is the type/subtype of a Content-Type, as written (compare it
// case-insensitively). It is called on every response, so it allocates
// nothing.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

// equalFoldASCII reports whether a and b are equal with ASCII letters in
// any case: how HTTP compares its tokens (directive names, media types,
// codings, parameter names). strings.EqualFold also folds letters
// outside ASCII into ASCII ones (ſ into s, the Kelvin sign into k), and
// would take "no-ſtore", a directive no cache knows, for no-store.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// IsJSON reports whether the Content-Type ct is JSON's, as the proxy
// reads it to decide whether JSON edits apply: a JSON MIME type as the
// WHATWG MIME Sniffing Standard defines it, application/json, text/json
// or any +json subtype, the type read as browsers read it (see
// parseContentType), parameters ignored.
func IsJSON(ct string) bool { return isJSON(ct) }

func isJSON(ct string) bool {
	t, ok := parseContentType(ct)
	return ok && (t.is("application", "json") || t.is("text", "json") ||
		len(t.sub) >= len("+json") && equalFoldASCII(t.sub[len(t.sub)-len("+json"):], "+json"))
}

// isHTML reports whether a browser reads a response of Content-Type ct
// as HTML: its type, read as browsers read it (see parseContentType), is
// text/html. A type browsers cannot read ("text/html\u00a0", its space
// past ASCII) is shown as no page, often offered as a file, and not
// rewritten; one they sniff ("text /html", none at all) passes as it
// came.
func isHTML(ct string) bool {
	if len(ct) >= len("text/html") && equalFoldASCII(ct[:len("text/html")], "text/html") && (len(ct) == len("text/html") || ct[len("text/html")] == ';') {
		return true // the usual case: no parameter makes it another type
	}
	t, ok := parseContentType(ct)
	return ok && t.is("text", "html")
}

// isXHTML: browsers read such a page with an XML parser, which builds
// another tree than HTML's (no implied elements, self-closing tags, no
// error recovery: one ill-formed insertion and the browser shows an
// error instead of the page). The rewriter follows HTML's parser, so
// XHTML passes untouched.
func isXHTML(ct string) bool {
	t, ok := parseContentType(ct)
	return ok && t.is("application", "xhtml+xml")
}

// originRelative returns the Location an origin sent, when it is an
// absolute URL on the origin itself (its scheme and host, under its
// path), as a path on the proxy's own site, as nginx's proxy_redirect
// default does: the origin was asked with its own Host, and builds
// absolute URLs with it, which would send visitors around the proxy (or
// nowhere, to a private address) and show them the origin's address.
// ok is false for any other Location, which stays as it is.
func originRelative(loc string, origin *url.URL) (string, bool) {
	if origin == nil || !strings.HasPrefix(loc, "http") {
		return "", false
	}
	u, err := url.Parse(loc)
	if err != nil || !strings.EqualFold(u.Scheme, origin.Scheme) || u.User != nil || !sameHost(u, origin) {
		return "", false
	}
	path := u.EscapedPath()
	if base := strings.TrimSuffix(origin.EscapedPath(), "/"); base != "" {
		rest, ok := strings.CutPrefix(path, base)
		if !ok || rest != "" && rest[0] != '/' {
			return "", false // outside what the proxy serves of the origin
		}
		path = rest
	}
	if path == "" {
		path = "/"
	}
	if strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		return "", false // would read as another host
	}
	out := path
	if u.RawQuery != "" || u.ForceQuery {
		out += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	return out, true
}

// sameHost reports whether u and origin name the same host and port,
// the scheme's default port written or not.
func sameHost(u, origin *url.URL) bool {
	port := func(x *url.URL) string {
		if p := x.Port(); p != "" {
			return p
		}
		if strings.EqualFold(x.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(u.Hostname(), origin.Hostname()) && port(u) == port(origin)
}

// ambiguousType reports whether browsers may read the response as
// another type than the first its Content-Type names: when the header
// is given twice, or lists types ("text/html, application/xhtml+xml",
// or a comma after a quoted parameter), a browser takes the last type
// it can parse (Fetch, "extract a MIME type"). Such a page could be run
// as XHTML, where the rewriter's reading of it as HTML does not hold, so
// it passes untouched. (A comma inside a quoted parameter is taken for
// such a list too: no page needs one.)
func ambiguousType(h http.Header) bool {
	v := h.Values("Content-Type")
	return len(v) > 1 || len(v) == 1 && strings.IndexByte(v[0], ',') >= 0
}

// sharedCacheHeaders are the origin's instructions to CDNs and reverse
// proxies that take precedence there over Cache-Control (RFC 9213's
// CDN-Cache-Control and the vendors' own): a personalized response must
// not keep them, or a CDN caches one visitor's page for the others
// whatever Cache-Control: private says.
var sharedCacheHeaders = []string{
	"Cdn-Cache-Control", "Cloudflare-Cdn-Cache-Control", "Vercel-Cdn-Cache-Control", "Netlify-Cdn-Cache-Control",
	"Surrogate-Control", "Edge-Control", "Akamai-Cache-Control", "X-Accel-Expires",
}

// takeCacheHeaders moves into the response's header h the caching
// instructions the server's handlers before the proxy set on the
// visitor's response (pre): an embedding program's middleware, Caddy's
// header directive. ReverseProxy adds the response's headers to those,
// so they would go out beside what the plan sets, a page made for one
// visitor sent "Cache-Control: public, max-age=60" on one line and
// "private" on the next, its CDN-Cache-Control kept. Read as the
// response's own (before them, in the order the visitor would have got
// them), they are made private with the rest.
func takeCacheHeaders(h, pre http.Header) {
	if len(pre) == 0 {
		return
	}
	take := func(k string) {
		if v, ok := pre[k]; ok {
			h[k] = append(v[:len(v):len(v)], h[k]...)
			delete(pre, k) // (canonical: no Del)
		}
	}
	take("Cache-Control")
	for _, k := range sharedCacheHeaders {
		take(k)
	}
}

// cacheControl is the response's Cache-Control, all its lines as one
// list (RFC 9110 5.3): a no-store on a second line counts.
func cacheControl(h http.Header) string {
	vs := h["Cache-Control"]
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs, ", ")
}

// KeepPrivate makes the response whose header is h one no shared cache
// keeps, as the proxy makes a personalized response: its Cache-Control
// private (the browser may keep it as long as the origin allowed), and
// without the origin's instructions to CDNs and reverse proxies, which
// they follow ahead of Cache-Control (CDN-Cache-Control,
// X-Accel-Expires, ...). It is for handlers around the proxy whose
// response is this visitor's alone: one that sets a cookie of theirs, or
// shows a preview. Call it before the header is written.
func KeepPrivate(h http.Header) {
	h.Set("Cache-Control", privateCacheControl(cacheControl(h)))
	for _, k := range sharedCacheHeaders {
		delete(h, k)
	}
}

// privateCacheControl rewrites the origin's Cache-Control for a
// personalized response: shared caches must not keep it; the browser may,
// as long as the origin allowed.
func privateCacheControl(cc string) string {
	// One allocation: the directives are read in place, and the result
	// is at most "private, " and the value.
	var b strings.Builder
	b.Grow(len("private") + 2 + len(cc))
	b.WriteString("private")
	for d := range strings.SplitSeq(cc, ",") {
		d = strings.TrimSpace(d)
		name := d
		if i := strings.IndexByte(name, '='); i >= 0 {
			name = name[:i]
		}
		if name == "" || equalFoldASCII(name, "public") || equalFoldASCII(name, "private") ||
			equalFoldASCII(name, "s-maxage") || equalFoldASCII(name, "proxy-revalidate") {
			continue
		}
		b.WriteString(", ")
		b.WriteString(d)
	}
	return b.String()
}

// addVary adds to h's Vary the names it does not already hold (in any
// case), in one field; a Vary of * already varies on everything. It
// runs on every personalized response: it scans the few fields there are
// rather than building a set of them. names are canonical (the site's
// lists are built so, and the plan adds canonical constants:
// TestVaryNamesAreCanonical), so a name twice is the same string twice:
// canonicalizing and case-folding a dozen names here cost more than the
// rest of the response's headers.
func addVary(h http.Header, names []string) {
	if len(names) == 0 {
		return
	}
	have := h["Vary"]
	for _, v := range have {
		for f := range strings.SplitSeq(v, ",") {
			if textproto.TrimString(f) == "*" {
				return
			}
		}
	}
	// What is added is chosen and measured first, then built in one
	// allocation.
	var buf [32]string
	add := buf[:0]
	n := 0
	for _, name := range names {
		if name == "" || slices.Contains(add, name) || len(have) > 0 && varyHolds(have, name) {
			continue
		}
		add = append(add, name)
		n += len(name) + len(", ")
	}
	if len(add) == 0 {
		return
	}
	var b strings.Builder
	b.Grow(n)
	for i, name := range add {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
	}
	h["Vary"] = append(have, b.String())
}

// varyField is the Vary field addVary added to an origin's Vary fields
// for names ("" when it added nothing).
type varyField struct {
	names, origin []string
	field         string
}

// addVary is the package's addVary, remembering the last fields it added:
// a site's responses add the same names to the same origin's Vary (a
// dozen names where the rules read the location, whose headers differ
// from one CDN to another), and choosing and joining them again cost a
// few microseconds a response. A page's names and an asset's or a JSON
// document's differ, as origins' Vary do: each length of the two lists
// has a field of its own, so that responses of both kinds in turn do not
// each build theirs again.
func (p *Proxy) addVary(h http.Header, names []string) {
	if len(names) == 0 {
		return
	}
	have := h["Vary"]
	slot := &p.vary[(len(names)+len(have))%len(p.vary)]
	if f := slot.Load(); f != nil && slices.Equal(f.names, names) && slices.Equal(f.origin, have) {
		if f.field != "" {
			h["Vary"] = append(have, f.field)
		}
		return
	}
	origin := slices.Clone(have)
	addVary(h, names)
	f := &varyField{names: slices.Clone(names), origin: origin}
	if v := h["Vary"]; len(v) > len(origin) {
		f.field = v[len(v)-1]
	}
	slot.Store(f)
}

// varyHolds reports whether one of the Vary fields vals names name.
func varyHolds(vals []string, name string) bool {
	for _, v := range vals {
		for f := range strings.SplitSeq(v, ",") {
			if equalFoldASCII(textproto.TrimString(f), name) {
				return true
			}
		}
	}
	return false
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

// copyBuffers hold the buffers, each in a box (*[]byte) because a
// sync.Pool takes pointers; emptied boxes wait in boxes for the next
// Put, which would otherwise allocate one per response.
var copyBuffers, boxes sync.Pool

// copyBufferSize is the size of the pieces ReverseProxy copies bodies in
// (a rewritten body writes itself: see rewritingBody.Read). A body
// without a length costs net/http two writes per piece (the chunk's
// header, then the rest): twice io.Copy's 32 KiB halves them.
const copyBufferSize = 64 << 10

func (bufferPool) Get() []byte {
	if p, ok := copyBuffers.Get().(*[]byte); ok {
		b := *p
		*p = nil
		boxes.Put(p)
		return b
	}
	return make([]byte, copyBufferSize)
}

func (bufferPool) Put(b []byte) {
	p, ok := boxes.Get().(*[]byte)
	if !ok {
		p = new([]byte)
	}
	*p = b
	copyBuffers.Put(p)
}
