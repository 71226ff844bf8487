package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bespoke-edge/bespoke/host/device"
	"github.com/bespoke-edge/bespoke/host/jsonrw"
	"github.com/bespoke-edge/bespoke/host/metrics"
	"github.com/bespoke-edge/bespoke/host/plan"
	"github.com/bespoke-edge/bespoke/host/rewrite"
)

// modifyResponse plans what to do with the origin's response
// (planResponse), prepares its body for the plan's outcome (an HTML
// stream, a JSON document, or the body as it came), then sets the headers
// the final plan calls for and saves the seen-filter when the plan says.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	resp.Header.Set("Via", appendVia(resp.Header.Values("Via"), resp.ProtoMajor, resp.ProtoMinor, p.fwd.via))
	st, _ := resp.Request.Context().Value(stateKey{}).(*state)
	if st == nil || st.site == nil {
		return nil
	}
	rp := planResponse(p.responseInput(resp, st))
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
	return nil
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
		site: siteFacts{
			hasEdits:       s.HasEdits(),
			touchesNonHTML: s.TouchesNonHTML(),
			needsDevice:    s.NeedsDevice(),
			readsVisitor:   s.ReadsVisitor(),
			vary:           s.Vary(),
		},
		req: requestFacts{
			method:          resp.Request.Method,
			acceptEncoding:  resp.Request.Header.Get("Accept-Encoding"),
			newVisitor:      st.req.Visitor.Persist,
			seen:            st.seen != nil && st.allowed,
			seenInHeaders:   p.cfg.Seen != nil && p.cfg.Seen.InHeaders(),
			capsCookie:      st.allowed && st.caps != nil && len(pl.Capped) > 0,
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
	p.setVisitorHeaders(h, st, rp.setVisitor)
	if rp.private {
		h.Set("Cache-Control", privateCacheControl(h.Get("Cache-Control")))
	}
	if rp.experiments {
		h.Set(plan.ExperimentsHeader, pl.Experiments)
	}
	addVary(h, rp.vary)
	if rp.acceptCH {
		// Ask browsers for the Client Hints device rules read.
		h.Set("Accept-CH", device.AcceptCH)
	}
	if rp.validators == weakValidators {
		var tag uint64
		if h.Get("Etag") != "" {
			tag = st.planTag()
		}
		changedBodyValidators(h, tag)
	}
	if rp.changed {
		h.Del("Content-Encoding")
		if rp.encode != "" {
			h.Set("Content-Encoding", rp.encode)
		}
		if rp.body == BodyHTML || rp.head {
			// Streamed: the length is known at the end.
			h.Del("Content-Length")
			resp.ContentLength = -1
		}
	}
	switch rp.save {
	case saveNow, saveAfterEdit:
		p.saveSeen(resp.Request.Context(), h, st)
	case saveAfterHold:
		if st.held {
			p.saveSeen(resp.Request.Context(), h, st)
		} else {
			p.stats.SeenOverflow.Add(1)
			p.cfg.Metrics.Seen(p.cfg.Route, "overflow")
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
	opt := rewrite.Options{MaxBuffer: p.cfg.RewriteBuffer}
	if st.seen != nil {
		opt.Seen = st.seen
	}
	rb := newRewritingBody(src, st.site.Program(), pl.Edits, opt, rp.encode, resp.Header.Get("Content-Type"), p.cfg.MaxRewriteBytes)
	rb.metrics, rb.route = p.cfg.Metrics, p.cfg.Route
	rb.onLimit = func(reason, result string) { p.bodyLimit(resp.Request, reason, result) }
	rb.precommit = true
	switch {
	case rp.save == saveAfterHold:
		// The cookie must say what this page showed, and cookies go in
		// the headers.
		st.held = rb.fill(p.cfg.SeenBuffer)
	case rp.decode != "":
		rb.step()
	}
	if rb.err != nil && !rb.originFailed() {
		return p.passOriginal(resp, rp, src, rb, nil, rb.err)
	}
	src.commit()
	rb.precommit = false
	st.rewrote = true
	p.stats.Rewritten.Add(1)
	if st.w != nil {
		st.w.setCoalesce()
	}
	if rp.save == saveAfterBody {
		// A server-side store records the showing once the page is done.
		ctx := context.WithoutCancel(resp.Request.Context())
		rb.onDone = func() { p.saveSeen(ctx, nil, st) }
	}
	resp.Body = rb
	return rp, nil
}

// jsonBody reads a JSON document whole (up to MaxRewriteBytes decoded),
// applies the JSON edits, and sends it in the origin's encoding when the
// visitor accepts it, with its new length. A document the edits leave
// unchanged, one that is not JSON, nested too deep, too large, or does
// not decode, passes as the origin sent it.
func (p *Proxy) jsonBody(resp *http.Response, st *state, rp responsePlan) (responsePlan, error) {
	pl := &st.req.Plan
	limit := p.cfg.MaxRewriteBytes
	// An identity body is its own replay: doc.
	src, err := newSource(resp.Body, rp.decode, int64(p.cfg.MaxDecodeRatio), int(limit)+64<<10)
	if err != nil {
		return p.passOriginal(resp, rp, src, nil, nil, err)
	}
	doc, err := readAtMost(src, limit+1)
	switch {
	case errors.Is(err, errBadEncoding) || errors.Is(err, errDecodeRatio):
		return p.passOriginal(resp, rp, src, nil, doc, err)
	case err != nil:
		src.Close()
		return rp, err
	case int64(len(doc)) > limit:
		return p.passOriginal(resp, rp, src, nil, doc, errTooLarge)
	}
	var set jsonrw.SeenSet
	if st.seen != nil {
		set = st.seen
	}
	start := time.Now()
	out, applied, err := jsonrw.ApplyDepth(doc, pl.JSONEdits, set, p.cfg.MaxJSONDepth)
	p.cfg.Metrics.Rewrite(p.cfg.Route, "json", int64(len(doc)), time.Since(start))
	switch {
	case errors.Is(err, jsonrw.ErrTooDeep):
		return p.passOriginal(resp, rp, src, nil, doc, err)
	case err != nil:
		return p.passOriginal(resp, rp, src, nil, doc, err)
	case !slices.Contains(applied, true):
		// Nothing changed: the origin's bytes, encoding and validators.
		rp = rp.jsonEdited(false)
		if body, ok := p.replay(src, doc); ok {
			resp.Body = body
			return rp, nil
		}
		// Too much was read to replay (a compressed body larger than
		// decoded): send the decoded document.
		src.Close()
		rp = rp.jsonEdited(true)
		out = doc
	default:
		src.Close()
		rp = rp.jsonEdited(true)
		st.rewrote = true
	}
	body, err := encodeWhole(out, rp.encode)
	if err != nil {
		return rp, err
	}
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return rp, nil
}

// passOriginal sends the body as the origin sent it, decoded bytes read so
// far replayed in front of the rest, and returns the plan for a body that
// passes. doc is what was read of an identity body (its own replay); rb,
// the rewriter that read it, is released. When more was read than could
// be kept, the response cannot be passed on: the error goes to the error
// handler (502).
func (p *Proxy) passOriginal(resp *http.Response, rp responsePlan, src *source, rb *rewritingBody, doc []byte, cause error) (responsePlan, error) {
	reason := reasonFor(cause)
	if rb != nil {
		rb.release()
	}
	body, ok := p.replay(src, doc)
	if !ok {
		src.Close()
		p.bodyLimit(resp.Request, reason, "refused")
		return rp, cause
	}
	resp.Body = body
	p.bodyLimit(resp.Request, reason, "untouched")
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
	case errors.Is(err, errTooLarge):
		return reasonTooLarge
	case errors.Is(err, errBadEncoding):
		return reasonBadEncoding
	case errors.Is(err, errCharset):
		return reasonCharset
	case errors.Is(err, jsonrw.ErrTooDeep):
		return reasonJSONDepth
	case errors.Is(err, jsonrw.ErrNotJSON):
		return reasonJSONInvalid
	}
	return "error"
}

// bodyLimit records a body that a limit (or its encoding) made pass
// untouched, stop being rewritten, or be cut.
func (p *Proxy) bodyLimit(r *http.Request, reason, result string) {
	p.stats.Limited.Add(1)
	p.cfg.Metrics.BodyLimit(p.cfg.Route, reason, result)
	level := slog.LevelWarn
	if reason == reasonTooLarge || reason == reasonCharset || reason == reasonJSONInvalid {
		// Ordinary pages: large ones, old encodings, text/json that is not.
		level = slog.LevelInfo
	}
	p.log.Log(r.Context(), level, "response body not rewritten", "route", p.cfg.Route, "path", r.URL.Path, "reason", reason, "result", result)
}

// readAtMost reads r until EOF or n bytes.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	return buf.Bytes(), err
}

// encodeWhole compresses a whole body in encoding ("" for none).
func encodeWhole(body []byte, encoding string) ([]byte, error) {
	if encoding == "" {
		return body, nil
	}
	var out bytes.Buffer
	e := newEncoder(encoding, &out)
	defer releaseEncoder(e)
	if _, err := e.Write(body); err != nil {
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
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

func isJSON(ct string) bool {
	mt := mediaType(ct)
	return strings.EqualFold(mt, "application/json") || len(mt) > 5 && strings.Contains(mt, "/") && strings.EqualFold(mt[len(mt)-5:], "+json")
}

func isHTML(ct string) bool {
	mt := mediaType(ct)
	return strings.EqualFold(mt, "text/html") || strings.EqualFold(mt, "application/xhtml+xml")
}

// privateCacheControl rewrites the origin's Cache-Control for a
// personalized response: shared caches must not keep it; the browser may,
// as long as the origin allowed.
func privateCacheControl(cc string) string {
	var keep []string
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		name := strings.ToLower(d)
		if i := strings.IndexByte(name, '='); i >= 0 {
			name = name[:i]
		}
		switch name {
		case "", "public", "private", "s-maxage", "proxy-revalidate":
			continue
		}
		keep = append(keep, d)
	}
	return strings.Join(append([]string{"private"}, keep...), ", ")
}

func addVary(h http.Header, names []string) {
	if len(names) == 0 {
		return
	}
	have := map[string]bool{}
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" {
				return
			}
			have[http.CanonicalHeaderKey(f)] = true
		}
	}
	var add []string
	for _, n := range names {
		if n = http.CanonicalHeaderKey(n); !have[n] {
			have[n] = true
			add = append(add, n)
		}
	}
	if len(add) > 0 {
		h.Add("Vary", strings.Join(add, ", "))
	}
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
