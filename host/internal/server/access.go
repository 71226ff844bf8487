package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// The access line is written by the route's proxy, which knows the
// request's route, outcome and rules; what it does not know (the
// visitor's address through the trusted proxies, the bytes sent once
// the response went through every wrapper) is known here, in front of
// the router. So the visitors' handler puts a requestInfo in each
// request's context, and the routes' logger adds its attributes to every
// record logged with that context: the access line, and the warnings
// about one response.

type requestKey struct{}

// requestInfo is what the logs say of a request besides what the proxy
// writes: client, peer, host, proto, query (redacted), the ids that tie
// it to the origin's logs and to a trace, and bytes.
type requestInfo struct {
	r        *http.Request // as it came, before any wrapper changed it
	clientIP func(*http.Request) netip.Addr
	bytes    atomic.Int64 // of the body written so far
	status   atomic.Int32 // of the response, once its head is written
	logged   atomic.Bool  // its access line is written
}

// attrs are the request's attributes for a record.
func (in *requestInfo) attrs() []slog.Attr {
	r := in.r
	as := make([]slog.Attr, 0, 6)
	client := in.clientIP(r)
	if client.IsValid() {
		as = append(as, slog.String("client", client.String()))
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().Unmap() != client {
		// Through a trusted proxy: the address the connection came from.
		as = append(as, slog.String("peer", ap.Addr().Unmap().String()))
	}
	// The protocol the visitor spoke (HTTP/1.1, HTTP/2.0), as nginx's
	// $server_protocol: over HTTP/2 the connection is shared, its
	// requests cut by RST_STREAM or GOAWAY rather than a close.
	as = append(as, slog.String("host", r.Host), slog.String("proto", r.Proto))
	if r.URL.RawQuery != "" {
		as = append(as, slog.String("query", redactQuery(r.URL.RawQuery)))
	}
	// Both headers go on to the origin as they came; the logs name them
	// so that one request is found across the CDN's, bespoke's and the
	// origin's lines.
	if id := r.Header.Get("X-Request-Id"); id != "" {
		// The visitor may send any length: a 60 KB id in every line
		// would cost the log store more than the request did.
		if len(id) > maxRequestID {
			id = id[:maxRequestID]
		}
		as = append(as, slog.String("request_id", id))
	}
	if id, ok := traceID(r.Header.Values("Traceparent")); ok {
		as = append(as, slog.String("trace_id", id))
	}
	return append(as, slog.Int64("bytes", in.bytes.Load()))
}

// maxRequestID bounds the X-Request-Id written in the logs; ids in use
// (UUIDs, a CDN's ray or trace ids) are well under it.
const maxRequestID = 128

// traceID is the trace id of a request's W3C traceparent header
// (version-traceid-parentid-flags), and whether it holds one: 32
// lower-case hex digits, not all zero, of a version other than ff, with
// a parent id not all zero; a later version may add fields after the
// flags. A request that sends the header twice holds none, as the
// specification says of any invalid traceparent: which of the two is
// the caller's cannot be told. Spaces and tabs around it are the
// field's optional whitespace (a header line arriving over HTTP/2 keeps
// them).
func traceID(lines []string) (string, bool) {
	if len(lines) != 1 {
		return "", false
	}
	tp := strings.Trim(lines[0], " \t")
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || len(tp) > 55 && tp[55] != '-' {
		return "", false
	}
	if !lowerHex(tp[:2]) || tp[:2] == "ff" || len(tp) > 55 && tp[:2] == "00" {
		return "", false
	}
	id, parent := tp[3:35], tp[36:52]
	if !lowerHex(id) || !lowerHex(parent) || !lowerHex(tp[53:55]) ||
		id == "00000000000000000000000000000000" || parent == "0000000000000000" {
		return "", false
	}
	return id, true
}

// lowerHex reports whether s is lower-case hex digits only.
func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// withRequestInfo is next with each request's requestInfo in its context
// and its ResponseWriter counting the bytes of the body. A request no
// route logged (its Host matches none, or it was refused before any
// route took it: a smuggling attempt, a head too long) gets its access
// line here, so that every request has one.
func withRequestInfo(next http.Handler, clientIP func(*http.Request) netip.Addr, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		in := &requestInfo{r: r, clientIP: clientIP}
		next.ServeHTTP(&countingWriter{ResponseWriter: w, in: in}, r.WithContext(context.WithValue(r.Context(), requestKey{}, in)))
		if in.logged.Load() {
			return
		}
		status := int(in.status.Load())
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		outcome := "refused"
		if status == http.StatusNotFound {
			outcome = "no_route"
		}
		as := append([]slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("outcome", outcome),
		}, in.attrs()...)
		log.LogAttrs(r.Context(), slog.LevelInfo, proxy.AccessMessage, as...)
	})
}

// countingWriter counts the bytes of the body written through it, and
// keeps the response's status.
type countingWriter struct {
	http.ResponseWriter
	in *requestInfo
}

func (w *countingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.in.status.CompareAndSwap(0, int32(code))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.in.status.CompareAndSwap(0, http.StatusOK)
	n, err := w.ResponseWriter.Write(b)
	w.in.bytes.Add(int64(n))
	return n, err
}

// Flush implements http.Flusher, which the proxy asks its writer for.
func (w *countingWriter) Flush() {
	// Through the controller: a writer the embedder wrapped may flush
	// only by its Unwrap method, as http.ResponseController allows.
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer (to
// hijack an upgraded connection, whose bytes are not counted).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestAttrs adds a request's attributes (requestInfo) to the records
// logged with its context.
type requestAttrs struct{ slog.Handler }

func (h requestAttrs) Handle(ctx context.Context, rec slog.Record) error {
	if in, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		if rec.Message == proxy.AccessMessage {
			in.logged.Store(true)
		}
		rec = rec.Clone()
		rec.AddAttrs(in.attrs()...)
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return requestAttrs{h.Handler.WithAttrs(as)}
}

func (h requestAttrs) WithGroup(name string) slog.Handler {
	return requestAttrs{h.Handler.WithGroup(name)}
}

// Query parameters whose values the logs hide, as the Redis URL's
// password is hidden (xxxxx): those whose names hold one of secretWords
// (access_token, client_secret, X-Amz-Signature, PHPSESSID), have one of
// secretParts as a word of their own (apiKey, sig, code, auth), or are
// bespoke's own (bsk_preview, a signed preview link).
var (
	secretWords = []string{"token", "secret", "passw", "signature", "credential", "session", "sessid", "apikey", "jwt"}
	secretParts = []string{"key", "sig", "code", "otp", "pwd", "pass", "auth", "sid", "email"}
)

// redactQuery is a raw query with the values of secret-looking
// parameters replaced by xxxxx; the rest is as the visitor sent it.
func redactQuery(raw string) string {
	var b strings.Builder
	for i, part := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(part, "=")
		if hasValue && secretParam(name) {
			b.WriteString(name)
			b.WriteString("=xxxxx")
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}

// secretParam reports whether a parameter of this (escaped) name may
// hold a secret.
func secretParam(escaped string) bool {
	name, err := url.QueryUnescape(escaped)
	if err != nil {
		name = escaped
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "bsk_") {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for _, word := range words(name) {
		for _, p := range secretParts {
			if word == p {
				return true
			}
		}
	}
	return false
}

// words splits a name at what is neither a letter nor a digit and where
// a lower-case letter is followed by a capital (apiKey: api, key), in
// lower case.
func words(name string) []string {
	var out []string
	start := -1
	prev := rune(0)
	for i, c := range name {
		alnum := unicode.IsLetter(c) || unicode.IsDigit(c)
		if start >= 0 && (!alnum || unicode.IsUpper(c) && unicode.IsLower(prev)) {
			out = append(out, strings.ToLower(name[start:i]))
			start = -1
		}
		if alnum && start < 0 {
			start = i
		}
		prev = c
	}
	if start >= 0 {
		out = append(out, strings.ToLower(name[start:]))
	}
	return out
}

// Interface guards.
var (
	_ http.Flusher = (*countingWriter)(nil)
	_ slog.Handler = requestAttrs{}
)
