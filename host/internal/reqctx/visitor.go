package reqctx

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// VisitorCookie is the name of the first-party cookie holding the visitor id.
const VisitorCookie = "bsk_vid"

// visitorIDLen is the length of an id: 16 random bytes, base64url without
// padding.
const visitorIDLen = 22

// VisitorMaxAge is how long the visitor cookie lives; every response to a
// returning visitor does not refresh it, only new ones set it.
const VisitorMaxAge = 365 * 24 * time.Hour

// Visitor is who the request comes from.
type Visitor struct {
	// ID is the stable visitor id, or "" when the visitor asked not to be
	// tracked and had none.
	ID string
	// New is true when the request carried no valid id.
	New bool
	// Persist says the proxy should set the visitor cookie on the response.
	Persist bool
	// Caps counts how often frequency-capped rules applied to the visitor;
	// nil counts nothing.
	Caps CapCounter
	// Overrides, when not nil, replace what the request yields (tests,
	// explain, previews); see Overrides.
	Overrides *Overrides
}

// CapCounter counts how often a capped rule (key "window:rule") applied to
// a visitor within a window (package caps implements it).
type CapCounter interface {
	Count(key string, window time.Duration) int
}

// ResolveVisitor reads the visitor id cookie. A missing or malformed one is
// replaced by a fresh id; of several (a browser sends one per path and
// domain that set it, RFC 6265 5.4), the first well-formed one counts, so
// that a stale broken copy does not make a returning visitor new on every
// request. A visitor sending Sec-GPC: 1 (Global Privacy Control) without
// an id, or whose cookies the browser withheld (CookiesWithheld), gets
// none: an id for one request would put them in another variant of each
// experiment on every page (Brave sends Sec-GPC on every request), and
// count each page as a new visitor's exposure; without an id they are
// in no experiment and no rollout, and see every page alike.
//
// A request whose context carries Overrides (WithOverrides) gets them.
func ResolveVisitor(r *http.Request) Visitor {
	ov := OverridesFrom(r.Context())
	if id, ok := VisitorID(r); ok {
		return Visitor{ID: id, Overrides: ov}
	}
	v := Visitor{ID: NewVisitorID(), New: true, Persist: true, Overrides: ov}
	if r.Header.Get("Sec-GPC") == "1" || CookiesWithheld(r) {
		// Withheld, the visitor may well have an id: the cookie set
		// would replace it (their experiments' variants, what is kept
		// under it), so none is set.
		v.ID, v.Persist = "", false
	}
	return v
}

// CookiesWithheld reports whether the browser kept the proxy's
// SameSite=Lax cookies (the visitor id, the seen-filter, the caps) out of
// r, if it holds them: it does for a request another site started
// (Sec-Fetch-Site: cross-site) but for one that only reads (GET: a link
// followed from another site carries them). Of those, a top-level
// navigation (a form another site POSTs: a payment's or a login's
// return) stores the cookies its response sets, over the visitor's: a
// state missing from such a request is unknown, not new, and is not
// written.
func CookiesWithheld(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	for _, v := range r.Header.Values("Sec-Fetch-Site") {
		if strings.EqualFold(strings.TrimSpace(v), "cross-site") {
			return true
		}
	}
	return false
}

// VisitorID returns the first well-formed visitor id of r's cookies.
func VisitorID(r *http.Request) (id string, ok bool) {
	for _, line := range r.Header["Cookie"] {
		eachCookie(line, func(name, value string) bool {
			if name == VisitorCookie && validID(value) {
				id, ok = value, true
			}
			return !ok
		})
		if ok {
			break
		}
	}
	return id, ok
}

// ValidID reports whether id has the form of the visitor ids the proxy
// issues, which it accepts back from the visitor cookie.
func ValidID(id string) bool { return validID(id) }

// NewVisitorID returns a random id.
func NewVisitorID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func validID(id string) bool {
	if len(id) != visitorIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// VisitorSetCookie returns the cookie that stores v: HttpOnly, SameSite=Lax,
// Secure when the request came over TLS.
func VisitorSetCookie(v Visitor, secure bool) *http.Cookie {
	return &http.Cookie{
		Name:     VisitorCookie,
		Value:    v.ID,
		Path:     "/",
		MaxAge:   int(VisitorMaxAge.Seconds()),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
}
