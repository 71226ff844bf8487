package proxy

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Which responses answer a Range is known only from the response: a
// plan with page edits applies to every request its rules match, pages
// and videos alike, and only the pages are rewritten. So the visitor's
// Range and If-Range go to the origin as they came, and what the rules
// do not rewrite (media, downloads, style sheets, a page past a limit)
// keeps its ranges. When the origin answers 206 with a range of a
// response the plan would rewrite were it whole, the origin is asked
// again for the whole of it, without Range and If-Range, and the visitor
// gets the rewritten page with a 200, as a server that ignores Range
// answers (RFC 9110 14.2): a range of the rewritten page would be bytes
// of another document than the origin's. That second request is rare:
// browsers ask for ranges of media and of downloads they resume, and a
// rewritten page offers none (no Accept-Ranges, no strong validator for
// an If-Range).

// rangeTransport is the proxy's transport to the origin: next, which
// sends the requests, and asks again for the whole of a page whose
// range the origin sent.
type rangeTransport struct {
	p    *Proxy
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *rangeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.send(req)
	if err != nil || req.Header.Get("Range") == "" || !resendable(req) {
		return resp, err
	}
	st, _ := req.Context().Value(stateKey{}).(*state)
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		// A 416 gives the origin's length: a range past it may be
		// within the rewritten page, and a range of a page that is
		// rewritten is answered with all of it. A download that is
		// not rewritten keeps its 416 (a resumed one that is
		// complete).
		return t.wholeIfRewritten(req, resp, st)
	}
	if resp.StatusCode != http.StatusPartialContent {
		return resp, nil
	}
	if req.Method == http.MethodHead && equalFoldASCII(mediaType(resp.Header.Get("Content-Type")), "multipart/byteranges") {
		// Several ranges, whose parts would say what of, but a HEAD's
		// come without them: the whole's headers say.
		return t.wholeIfRewritten(req, resp, st)
	}
	if st == nil || !t.p.rewritesWhole(resp, st) {
		return resp, nil
	}
	go drainRange(resp)
	whole := req.Clone(req.Context())
	whole.Header.Del("Range")
	whole.Header.Del("If-Range")
	return t.send(whole)
}

// errNoResponse is a Transport's round trip that gave neither a response
// nor an error.
var errNoResponse = errors.New("the transport returned no response and no error")

// send is next's round trip of req, with what the proxy reads of the
// response there: a Transport given by an embedder may build responses
// itself (a cache, a stub), and the response's Request is filled in by
// http.Client, not by RoundTripper's contract, which such a Transport may
// also break.
func (t *rangeTransport) send(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	case resp == nil:
		return nil, errNoResponse
	}
	if resp.Request == nil {
		resp.Request = req
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// The bounds of drainRange: a page's range is most often its first
// bytes, or a resumed download's last ones.
const (
	drainBytes = 64 << 10
	drainTime  = time.Second
)

// drainRange reads a range of a page the proxy asks for whole to its end
// and closes it, so that its connection to the origin goes back to the
// pool: closed unread, the connection went with it, and every range of a
// page cost a dial. It runs beside the request for the whole page, which
// does not wait for it (a range whose origin stalls, or whose length
// lies, held the visitor up as long), and gives up past drainBytes or
// drainTime, closing the connection as before.
func drainRange(resp *http.Response) {
	if resp.ContentLength < 0 || resp.ContentLength > drainBytes {
		resp.Body.Close()
		return
	}
	// Close ends a read that waits for the origin.
	t := time.AfterFunc(drainTime, func() { resp.Body.Close() })
	io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes+1))
	t.Stop()
	resp.Body.Close()
}

// wholeIfRewritten asks the origin again for the whole of what resp, its
// answer to req's Range, answers a range of, and returns the whole when
// the plan rewrites it, and otherwise resp.
func (t *rangeTransport) wholeIfRewritten(req *http.Request, resp *http.Response, st *state) (*http.Response, error) {
	if st == nil || st.site == nil || st.req == nil || len(st.req.Plan.Edits) == 0 && len(st.req.Plan.JSONEdits) == 0 {
		return resp, nil
	}
	whole := req.Clone(req.Context())
	whole.Header.Del("Range")
	whole.Header.Del("If-Range")
	w, err := t.send(whole)
	if err != nil {
		return resp, nil
	}
	if w.StatusCode == http.StatusOK && planResponse(t.p.responseInput(w, st)).body != BodyPass && !t.p.failed.has(pageOf(req)) {
		resp.Body.Close()
		return w, nil
	}
	if w.StatusCode == http.StatusOK && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && st.withheld && st.hasCopy(w.Header) {
		// The visitor has what the 416 is of, which the origin,
		// asked with the visitor's validators, would have said
		// before it looked at the range (RFC 9110 13.2.2): the whole
		// goes on, to be answered with a 304 (see notModified).
		resp.Body.Close()
		return w, nil
	}
	w.Body.Close()
	return resp, nil
}

// rewritesWhole reports whether the plan would rewrite the response of
// which resp, a 206, is a range, were it sent whole: its type and
// headers say so, and its complete length is within the limit.
func (p *Proxy) rewritesWhole(resp *http.Response, st *state) bool {
	if st.site == nil || st.req == nil {
		return false
	}
	pl := &st.req.Plan
	if len(pl.Edits) == 0 && len(pl.JSONEdits) == 0 {
		return false
	}
	in := p.responseInput(resp, st)
	in.status, in.contentLength = http.StatusOK, completeLength(resp.Header.Get("Content-Range"))
	if equalFoldASCII(mediaType(resp.Header.Get("Content-Type")), "multipart/byteranges") {
		// Several ranges: the first part's headers say what of.
		ct, cr, ok := firstPart(resp)
		if !ok {
			return true // a range of a page it may be: the whole is asked for
		}
		in.header = resp.Header.Clone()
		in.header.Set("Content-Type", ct)
		in.contentLength = completeLength(cr)
	}
	return planResponse(in).body != BodyPass && !p.failed.has(pageOf(resp.Request))
}

// firstPart reads the headers of the first part of resp, a
// multipart/byteranges response (RFC 9110 14.6), within its first
// maxPartHead bytes, and puts what it read back in front of the body: the
// part's Content-Type and Content-Range. ok is false when they are not
// there.
func firstPart(resp *http.Response) (contentType, contentRange string, ok bool) {
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return "", "", false
	}
	head := make([]byte, 0, 1024)
	for len(head) < maxPartHead {
		if len(head) == cap(head) {
			head = slices.Grow(head, len(head))
		}
		n, err := resp.Body.Read(head[len(head):min(cap(head), maxPartHead)])
		head = head[:len(head)+n]
		if i := bytes.Index(head, []byte("--"+params["boundary"])); i >= 0 && bytes.Contains(head[i:], []byte("\r\n\r\n")) || err != nil {
			break
		}
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	part, err := multipart.NewReader(bytes.NewReader(head), params["boundary"]).NextRawPart()
	if err != nil {
		return "", "", false
	}
	contentType, contentRange = part.Header.Get("Content-Type"), part.Header.Get("Content-Range")
	return contentType, contentRange, contentType != "" && contentRange != ""
}

// maxPartHead bounds what firstPart reads: a boundary and a part's
// headers take a few hundred bytes.
const maxPartHead = 8 << 10

// completeLength is the complete length a Content-Range gives ("bytes
// 0-99/1234": 1234), or -1 when it gives none.
func completeLength(cr string) int64 {
	_, n, ok := strings.Cut(cr, "/")
	if !ok {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
}

// Interface guards.
var _ http.RoundTripper = (*rangeTransport)(nil)
