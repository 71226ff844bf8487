package proxy

import (
	"net/http"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
)

// loadSeen loads the visitor's seen-set. When the caps are wanted too and
// both live in one shared store that can read them together (Redis), it
// loads the counts in the same round trip and leaves them in st.caps.
func (p *Proxy) loadSeen(r *http.Request, visitorID string, capsOn bool, st *state) (*seen.Set, seen.LoadInfo) {
	if capsOn && p.cfg.Caps.Shared() != nil {
		if cl, ok := p.cfg.Seen.(seen.CapsLoader); ok && any(cl) == any(p.cfg.Caps.Shared()) {
			set, info, b, err := cl.LoadWithCaps(r.Context(), r, visitorID)
			st.caps = p.cfg.Caps.FromShared(b, err)
			return set, info
		}
	}
	return p.cfg.Seen.Load(r.Context(), r, visitorID)
}

// loadCaps loads the visitor's counts, from its cookie or the shared
// store.
func (p *Proxy) loadCaps(r *http.Request, visitorID string) *caps.Counts {
	if p.cfg.Caps.Shared() != nil {
		return p.cfg.Caps.LoadShared(r.Context(), visitorID)
	}
	return p.cfg.Caps.Load(r)
}

// sharedCaps reports whether the request's counts live in a shared store,
// keyed by the visitor id (which must then be kept).
func (p *Proxy) sharedCaps(st *state) bool {
	return st.caps != nil && p.cfg.Caps.Shared() != nil
}

// capsCookieLife is the least the caps cookie lives.
const capsCookieLife = 365 * 24 * time.Hour

// saveCaps stores counts that changed: in the shared store, or in the
// caps cookie set on h.
func (p *Proxy) saveCaps(h http.Header, st *state, maxAge time.Duration) {
	if !p.sharedCaps(st) {
		// The routes of a host share the cookie, each with windows of
		// its own: a route's save must not cut another's longer window,
		// so the cookie lives a year (counts past their window read as
		// none). Redis keeps the longer TTL itself (see seen's write
		// script).
		h.Add("Set-Cookie", st.caps.Cookie(max(maxAge, capsCookieLife), st.secure).String())
		return
	}
	if err := st.caps.Save(st.req.Visitor.ID, maxAge, st.req.Visitor.New); err != nil {
		p.stats.CapsSaveErrors.Add(1)
	}
}

// renewCaps stores again, for their windows, the counts a shared store
// keeps as a new visitor's (for seen.new_visitor_ttl), once the visitor
// comes back with its id: a visitor whose next requests count nothing
// (the capped rule at its cap) would otherwise lose them, and see the
// rule again, when that TTL ran out.
func (p *Proxy) renewCaps(st *state, v reqctx.Visitor) {
	if !p.sharedCaps(st) || v.New || !st.allowed {
		return
	}
	if err := st.caps.Renew(v.ID, st.site.Actions().CapsLife()); err != nil {
		p.stats.CapsSaveErrors.Add(1)
	}
}
