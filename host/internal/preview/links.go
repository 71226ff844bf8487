package preview

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// A preview link lets someone see a page through the proxy with variants
// forced, or at another time: a tester checks the "bold" hero in a real
// browser without hunting for a visitor id that gets it. The link holds a
// token signed with the proxy's key, so only someone who can mint links
// (the operator, from the preview on a loopback listener) can force
// anything, and the proxy honours tokens only when the operator turned the
// switch on (`bespoke serve --dev-preview`). A token expires; the proxy
// keeps it in a cookie so that the visitor can browse the site with it.

// Param is the query parameter, and Cookie the cookie, that carry a
// preview token. Param=off ends a preview.
const (
	Param  = "bsk_preview"
	Cookie = "bsk_preview"
)

// Header names the preview a response was made under.
const Header = "X-Bespoke-Preview"

// Preview is what a preview link forces.
type Preview struct {
	// Variants names the forced variants, by experiment, for the header
	// and for the plugin that decides, which finds their ranges under its
	// own weights; Buckets forces them where it cannot (see
	// reqctx.Overrides).
	Variants map[string]string `json:"v,omitempty"`
	Buckets  map[string]int    `json:"b,omitempty"`
	// At, when not zero, is the time the rules see.
	At time.Time `json:"at,omitzero"`
	// Expires is when the link stops working.
	Expires time.Time `json:"exp"`
}

// Label describes the preview for the response header:
// "hero-test=bold; at=2026-12-05T18:00:00Z".
func (p *Preview) Label() string {
	var parts []string
	names := make([]string, 0, len(p.Variants))
	for n := range p.Variants {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, n+"="+p.Variants[n])
	}
	if !p.At.IsZero() {
		parts = append(parts, "at="+p.At.UTC().Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return "on"
	}
	return strings.Join(parts, "; ")
}

// Links mints and honours preview links. Its zero value is not usable:
// create it with NewLinks.
type Links struct {
	key []byte
	// TTL is how long a minted link works.
	TTL time.Duration
	now func() time.Time
}

// NewLinks returns links signed with key.
func NewLinks(key []byte) *Links {
	k := sha256.Sum256(append([]byte("bespoke preview links\x00"), key...))
	return &Links{key: k[:], TTL: 12 * time.Hour, now: time.Now}
}

// Token returns the signed token of p; a zero Expires means TTL from now.
func (l *Links) Token(p Preview) string {
	if p.Expires.IsZero() {
		p.Expires = l.now().Add(l.TTL)
	}
	p.Expires = p.Expires.Truncate(time.Second)
	body, _ := json.Marshal(p)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(l.sign(payload))
}

func (l *Links) sign(payload string) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Parse returns the preview of a token, or false when the token is not
// one Links signed, or has expired.
func (l *Links) Parse(tok string) (*Preview, bool) {
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 4096 {
		return nil, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, l.sign(payload)) {
		return nil, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	var p Preview
	if json.Unmarshal(body, &p) != nil || !l.now().Before(p.Expires) {
		return nil, false
	}
	return &p, true
}

// Link returns base (the page's URL through the proxy) with a token for p.
func (l *Links) Link(base string, p Preview) string {
	// The token goes in the query, before a #fragment, which the browser
	// never sends.
	base, frag, hasFrag := strings.Cut(base, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	link := base + sep + Param + "=" + url.QueryEscape(l.Token(p))
	if hasFrag {
		link += "#" + frag
	}
	return link
}

// Wrap honours preview links in front of next: a request with a valid
// token (in the query, which is then removed, or in the cookie) is decided
// with the token's variants and time, and its response is marked private
// and named in the X-Bespoke-Preview header. An invalid or expired token
// is ignored (and its cookie cleared, the response made private);
// ?bsk_preview=off ends a preview.
func (l *Links) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.RawQuery, Param) && !hasCookie(r, Cookie) {
			next.ServeHTTP(w, r) // most requests: nothing to parse
			return
		}
		q := r.URL.Query()
		tok, fromQuery := q.Get(Param), q.Has(Param)
		if fromQuery {
			q.Del(Param)
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
			r.RequestURI = r.URL.RequestURI()
		} else if c, err := r.Cookie(Cookie); err == nil {
			tok = c.Value
		}
		if tok == "" {
			next.ServeHTTP(w, r)
			return
		}
		r = withoutCookie(r, Cookie)
		p, ok := l.Parse(tok)
		if !ok {
			if tok == "off" || !fromQuery {
				http.SetCookie(w, &http.Cookie{Name: Cookie, Value: "", Path: "/", MaxAge: -1})
				// A shared cache would give the cookie's end to the
				// visitors after: the page is this visitor's alone.
				w = &previewWriter{ResponseWriter: w}
			}
			next.ServeHTTP(w, r)
			return
		}
		if fromQuery {
			http.SetCookie(w, &http.Cookie{Name: Cookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
				Secure: r.TLS != nil, MaxAge: int(time.Until(p.Expires).Seconds())})
		}
		r = r.WithContext(reqctx.WithOverrides(r.Context(), &reqctx.Overrides{Now: p.At, Buckets: p.Buckets, Variants: p.Variants}))
		next.ServeHTTP(&previewWriter{ResponseWriter: w, label: p.Label()}, r)
	})
}

// hasCookie reports whether a Cookie header of r may hold the cookie name.
func hasCookie(r *http.Request, name string) bool {
	for _, line := range r.Header["Cookie"] {
		if strings.Contains(line, name+"=") {
			return true
		}
	}
	return false
}

// withoutCookie returns r without the cookie name, so that neither the
// origin nor the rules see it.
func withoutCookie(r *http.Request, name string) *http.Request {
	lines := r.Header.Values("Cookie")
	if len(lines) == 0 {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	for _, line := range lines {
		var keep []string
		for _, part := range strings.Split(line, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if k != name && strings.TrimSpace(part) != "" {
				keep = append(keep, strings.TrimSpace(part))
			}
		}
		if len(keep) > 0 {
			r2.Header.Add("Cookie", strings.Join(keep, "; "))
		}
	}
	return r2
}

// previewWriter marks a previewed response (label says which preview):
// never stored by a shared cache, and named; or, without a label, the
// response that ends a preview (it clears the cookie): private.
type previewWriter struct {
	http.ResponseWriter
	label string
	wrote bool
}

func (w *previewWriter) mark() {
	if !w.wrote {
		w.wrote = true
		// The origin's word to CDNs goes too: they follow it ahead of
		// Cache-Control, and would give the visitors after a page of
		// another day the rules left alone.
		proxy.KeepPrivate(w.Header())
		if w.label != "" {
			w.Header().Set("Cache-Control", "private, no-store")
			w.Header().Set(Header, w.label)
		}
	}
}

func (w *previewWriter) WriteHeader(code int) {
	w.mark()
	w.ResponseWriter.WriteHeader(code)
}

func (w *previewWriter) Write(b []byte) (int, error) {
	w.mark()
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher: the proxy streams pages.
func (w *previewWriter) Flush() {
	w.mark()
	// Through the controller: a writer the embedder wrapped may flush
	// only by its Unwrap method, as http.ResponseController allows.
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *previewWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// String is for logs.
func (p *Preview) String() string { return fmt.Sprintf("preview(%s)", p.Label()) }
