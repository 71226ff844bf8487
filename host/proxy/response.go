package proxy

import (
	"bytes"
	"context"
	"io"
	"mime"
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
	"github.com/bespoke-edge/bespoke/host/seen"
)

// modifyResponse sets the plan's headers and cookies, marks personalized
// responses private, and wraps HTML bodies in the rewriter.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, _ := resp.Request.Context().Value(stateKey{}).(*state)
	if st == nil || st.site == nil {
		return nil
	}
	h := resp.Header
	p.setVisitorHeaders(h, st)
	pl := &st.req.Plan
	if len(pl.JSONEdits) > 0 && isJSON(h.Get("Content-Type")) {
		return p.modifyJSON(resp, st)
	}
	html := isHTML(h.Get("Content-Type"))
	if html && pl.Experiments != "" {
		h.Set(plan.ExperimentsHeader, pl.Experiments)
	}
	rewritable := html && resp.Request.Method != http.MethodHead && resp.StatusCode == http.StatusOK &&
		len(pl.Edits) > 0 && (resp.ContentLength < 0 || resp.ContentLength <= p.cfg.MaxRewriteBytes)
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if !decodable(enc) {
		rewritable = false
	}
	personalized := rewritable || len(pl.ResponseHeaders) > 0 || len(pl.Cookies) > 0 || len(pl.RequestHeaders) > 0 ||
		html && pl.Experiments != ""
	if personalized {
		st.outcome = metrics.Personalized
		p.stats.Personalized.Add(1)
		h.Set("Cache-Control", privateCacheControl(h.Get("Cache-Control")))
	}
	if (html && st.site.HasEdits()) || st.site.TouchesNonHTML() {
		addVary(h, st.site.Vary())
	}
	if html && st.site.NeedsDevice() && h.Get("Accept-CH") == "" {
		// Ask browsers for the Client Hints device rules read.
		h.Set("Accept-CH", device.AcceptCH)
	}
	holdForSeen := rewritable && st.seen != nil && pl.SeenEdits && st.allowed && p.seenInHeaders()
	if !holdForSeen {
		// What the page will show is not needed: save now (mark_seen), or
		// after the body for a store that does not answer in headers.
		if !rewritable || !pl.SeenEdits || p.seenInHeaders() {
			p.saveSeen(resp.Request.Context(), h, st)
		}
	}
	if !rewritable {
		return nil
	}
	body, err := decode(resp.Body, enc)
	if err != nil {
		// Not what it claims to be: pass it through as the origin sent it.
		return nil
	}
	h.Del("Content-Encoding")
	out := negotiate(resp.Request.Header.Get("Accept-Encoding"), enc)
	if out != "" {
		h.Set("Content-Encoding", out)
	}
	addVary(h, []string{"Accept-Encoding"})
	st.rewrote = true
	p.stats.Rewritten.Add(1)
	h.Del("Content-Length")
	h.Del("Etag") // the bytes are no longer the origin's
	resp.ContentLength = -1
	opt := rewrite.Options{MaxBuffer: p.cfg.RewriteBuffer}
	if st.seen != nil {
		opt.Seen = st.seen
	}
	if st.w != nil {
		st.w.setCoalesce()
	}
	rb := newRewritingBody(body, st.site.Program(), pl.Edits, opt, out)
	rb.metrics, rb.route = p.cfg.Metrics, p.cfg.Route
	resp.Body = rb
	switch {
	case holdForSeen:
		// The cookie must say what this page showed, and cookies go in the
		// headers: hold the page back (bounded) until it has streamed
		// through the rewriter.
		if rb.fill(p.cfg.SeenBuffer) {
			p.saveSeen(resp.Request.Context(), h, st)
		} else {
			p.stats.SeenOverflow.Add(1)
			p.cfg.Metrics.Seen(p.cfg.Route, "overflow")
		}
	case st.seen != nil && pl.SeenEdits && st.allowed:
		// A server-side store records the showing once the page is done.
		ctx := context.WithoutCancel(resp.Request.Context())
		rb.onDone = func() { p.saveSeen(ctx, nil, st) }
	}
	return nil
}

// seenInHeaders reports whether the seen store answers in response
// headers (a cookie), rather than on a server.
func (p *Proxy) seenInHeaders() bool {
	_, ok := p.cfg.Seen.(*seen.CookieStore)
	return ok
}

type readCloser struct {
	io.Reader
	io.Closer
}

func isJSON(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// modifyJSON applies the plan's JSON edits to a JSON response, whole: it is
// read (up to MaxRewriteBytes), edited and sent with its new length.
func (p *Proxy) modifyJSON(resp *http.Response, st *state) error {
	h := resp.Header
	pl := &st.req.Plan
	addVary(h, st.site.Vary())
	if pl.Experiments != "" {
		h.Set(plan.ExperimentsHeader, pl.Experiments)
	}
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if resp.Request.Method == http.MethodHead || resp.StatusCode != http.StatusOK ||
		resp.ContentLength > p.cfg.MaxRewriteBytes {
		p.saveSeen(resp.Request.Context(), h, st)
		return nil
	}
	if !decodable(enc) {
		p.saveSeen(resp.Request.Context(), h, st)
		return nil
	}
	rc, err := decode(resp.Body, enc)
	if err != nil {
		return nil
	}
	var r io.Reader = rc
	doc, err := io.ReadAll(io.LimitReader(r, p.cfg.MaxRewriteBytes+1))
	if err != nil {
		resp.Body.Close()
		return err
	}
	if int64(len(doc)) > p.cfg.MaxRewriteBytes {
		// Too large to rewrite: stream what was read and the rest as they
		// are (decoded, if the origin compressed them).
		h.Del("Content-Encoding")
		h.Del("Content-Length")
		resp.ContentLength = -1
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(doc), r), resp.Body}
		return nil
	}
	resp.Body.Close()
	var set jsonrw.SeenSet
	if st.seen != nil {
		set = st.seen
	}
	rewriteStart := time.Now()
	out, applied, err := jsonrw.Apply(doc, pl.JSONEdits, set)
	p.cfg.Metrics.Rewrite(p.cfg.Route, "json", int64(len(doc)), time.Since(rewriteStart))
	if err == nil && slices.Contains(applied, true) {
		st.outcome = metrics.Personalized
		p.stats.Personalized.Add(1)
		h.Set("Cache-Control", privateCacheControl(h.Get("Cache-Control")))
		h.Del("Etag")
		st.rewrote = true
	}
	p.saveSeen(resp.Request.Context(), h, st)
	p.finishJSON(resp, out)
	return nil
}

func (p *Proxy) finishJSON(resp *http.Response, body []byte) {
	resp.Header.Del("Content-Encoding")
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
}

func isHTML(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
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
		if !have[n] {
			add = append(add, n)
		}
	}
	if len(add) > 0 {
		h.Add("Vary", strings.Join(add, ", "))
	}
}

// rewritingBody reads the origin's body and returns it rewritten. It holds
// one read buffer and what the rewriter produced from the last read.
type rewritingBody struct {
	src io.ReadCloser
	rw  *rewrite.Rewriter
	out bytes.Buffer
	// enc compresses the rewritten bytes for the visitor, when it accepts
	// it; nil sends them as they are.
	enc  encoder
	buf  []byte
	done bool
	err  error
	// onDone runs once, when the whole body has been rewritten.
	onDone func()
	// in and spent are the bytes rewritten and the time it took, for
	// metrics recorded when the body is closed.
	in      int64
	spent   time.Duration
	metrics *metrics.Metrics
	route   string
}

// fill rewrites ahead until the body ends or limit bytes of output are
// held, and reports whether the body ended.
func (b *rewritingBody) fill(limit int) bool {
	for !b.done && b.err == nil && b.out.Len() < limit {
		b.step()
	}
	return b.done
}

// step reads once from the origin and rewrites what it got.
func (b *rewritingBody) step() {
	n, err := b.src.Read(b.buf)
	if n > 0 {
		t := time.Now()
		b.rw.Write(b.buf[:n])
		if b.enc != nil {
			// Stream: what was rewritten leaves now, not when the
			// compressor's window fills.
			b.enc.Flush()
		}
		b.spent += time.Since(t)
		b.in += int64(n)
	}
	switch {
	case err == io.EOF:
		t := time.Now()
		b.rw.Close()
		if b.enc != nil {
			b.enc.Close()
		}
		b.spent += time.Since(t)
		b.done = true
		if b.onDone != nil {
			b.onDone()
			b.onDone = nil
		}
	case err != nil:
		b.err = err
	}
}

var bodyPool = sync.Pool{New: func() any { return &rewritingBody{buf: make([]byte, 32<<10)} }}

func newRewritingBody(src io.ReadCloser, prog *rewrite.Program, edits []rewrite.Edit, opt rewrite.Options, encoding string) *rewritingBody {
	b := bodyPool.Get().(*rewritingBody)
	b.src = src
	b.done = false
	b.err = nil
	b.onDone = nil
	b.in, b.spent, b.metrics = 0, 0, nil
	b.out.Reset()
	var w io.Writer = &b.out
	b.enc = newEncoder(encoding, &b.out)
	if b.enc != nil {
		w = b.enc
	}
	b.rw = prog.NewRewriter(w, edits, opt)
	return b
}

func (b *rewritingBody) Read(p []byte) (int, error) {
	for b.out.Len() == 0 {
		switch {
		case b.done:
			return 0, io.EOF
		case b.err != nil:
			return 0, b.err
		}
		b.step()
	}
	return b.out.Read(p)
}

func (b *rewritingBody) Close() error {
	err := b.src.Close()
	b.metrics.Rewrite(b.route, "html", b.in, b.spent)
	if b.rw != nil {
		b.rw.Release()
		b.rw = nil
	}
	releaseEncoder(b.enc)
	b.enc = nil
	b.src = nil
	if b.out.Cap() <= 256<<10 {
		bodyPool.Put(b)
	}
	return err
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
