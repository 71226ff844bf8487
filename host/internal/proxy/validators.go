package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/plugin"
)

// A changed body never carries the origin's strong validator: a client
// could splice byte ranges of two different documents, or a cache could
// revalidate a personalized copy against the origin's. Instead it gets a
// weak ETag derived from the origin's and from the plan's edits, so that
// revalidation still works: when a client sends it back in If-None-Match
// and the plan has the same edits, the origin is asked about its own tag,
// and its 304 stands for the edited copy too (same origin bytes, same
// edits, same output). A plan whose output also depends on the visitor's
// seen-filter (hide_seen) has no tag: the output changes from one request
// to the next.

// etagMark separates the origin's opaque tag from the plan's identity in
// a derived ETag: W/"<origin opaque>-bsk<s|w><16 hex digits>", s or w
// saying whether the origin's tag was strong or weak.
const etagMark = "-bsk"

// entityTag is one entity-tag: W/"opaque" or "opaque".
type entityTag struct {
	weak   bool
	opaque string
}

func (t entityTag) String() string {
	if t.weak {
		return `W/"` + t.opaque + `"`
	}
	return `"` + t.opaque + `"`
}

// planTag identifies what a plan does to a body, for derived ETags: the
// plugin's rule file and selectors, and every page and JSON edit. It is 0
// when the plan edits nothing or when its output depends on the
// seen-filter.
func planTag(pl *plan.Plan, m *plugin.Manifest) uint64 {
	if pl.SeenEdits || len(pl.Edits) == 0 && len(pl.JSONEdits) == 0 {
		return 0
	}
	h := manifestHash(m)
	h.num(len(pl.Edits))
	for _, e := range pl.Edits {
		h.num(e.Selector)
		h.num(int(e.Op))
		h.bytes(e.Content)
		h.str(e.Attr)
		h.str(e.Value)
		h.num(e.N)
		h.num(len(e.Order))
		for _, o := range e.Order {
			h.str(o)
		}
		h.flag(e.Demote)
		h.num(e.MarkFirst)
		h.flag(e.NoMark)
		h.flag(e.Interpolated)
	}
	h.num(len(pl.JSONEdits))
	for _, e := range pl.JSONEdits {
		h.num(int(e.Op))
		h.str(e.Path)
		h.bytes(e.Value)
		h.str(e.ID)
		h.num(e.N)
		h.num(len(e.Order))
		for _, o := range e.Order {
			h.str(o)
		}
		h.flag(e.Demote)
		h.num(e.MarkFirst)
		h.flag(e.NoMark)
	}
	if t := uint64(h); t != 0 {
		return t
	}
	return 1
}

// manifestHashes remembers the hash of the last manifest planTag saw,
// which every request of a plugin shares: its rule file and selectors.
var manifestHashes atomic.Pointer[manifestHashed]

type manifestHashed struct {
	m *plugin.Manifest
	h fnv64a
}

// manifestHash is the FNV-1a state after the manifest's part of a plan
// tag.
func manifestHash(m *plugin.Manifest) fnv64a {
	if c := manifestHashes.Load(); c != nil && c.m == m {
		return c.h
	}
	h := fnv64a(fnvOffset)
	h.str(m.SourceHash)
	h.num(len(m.Selectors))
	for _, s := range m.Selectors {
		h.str(s)
	}
	manifestHashes.Store(&manifestHashed{m: m, h: h})
	return h
}

// fnv64a is a 64-bit FNV-1a hash (hash/fnv's, without its interface, so
// that its state can be kept and nothing escapes). Numbers are hashed as
// 8 bytes, little-endian, and strings after their length.
type fnv64a uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (h *fnv64a) num(v int) {
	x := *h
	for i := range 8 {
		x ^= fnv64a(byte(uint64(v) >> (8 * i)))
		x *= fnvPrime
	}
	*h = x
}

func (h *fnv64a) flag(b bool) {
	if b {
		h.num(1)
	} else {
		h.num(0)
	}
}

func (h *fnv64a) str(s string) {
	h.num(len(s))
	x := *h
	for i := 0; i < len(s); i++ {
		x ^= fnv64a(s[i])
		x *= fnvPrime
	}
	*h = x
}

func (h *fnv64a) bytes(b []byte) {
	h.num(len(b))
	x := *h
	for _, c := range b {
		x ^= fnv64a(c)
		x *= fnvPrime
	}
	*h = x
}

// derivedETag returns the weak ETag of an edited body whose origin ETag
// is origin, or "" when there is none to derive (no or malformed origin
// ETag, or tag 0).
func derivedETag(origin string, tag uint64) string {
	if tag == 0 {
		return ""
	}
	t, rest, ok := parseEntityTag(strings.TrimSpace(origin))
	if !ok || strings.TrimSpace(rest) != "" {
		return ""
	}
	kind := "s"
	if t.weak {
		kind = "w"
	}
	return entityTag{weak: true, opaque: t.opaque + etagMark + kind + hex16(tag)}.String()
}

// splitDerived returns the origin's ETag and the plan tag a derived ETag
// was made from; ok is false for a tag bespoke did not derive.
func splitDerived(t entityTag) (origin entityTag, tag uint64, ok bool) {
	if !t.weak {
		return entityTag{}, 0, false
	}
	i := strings.LastIndex(t.opaque, etagMark)
	if i < 0 || len(t.opaque)-i != len(etagMark)+1+16 {
		return entityTag{}, 0, false
	}
	kind, digits := t.opaque[i+len(etagMark)], t.opaque[i+len(etagMark)+1:]
	if kind != 's' && kind != 'w' || strings.Trim(digits, "0123456789abcdef") != "" {
		return entityTag{}, 0, false
	}
	v, err := strconv.ParseUint(digits, 16, 64)
	if err != nil {
		return entityTag{}, 0, false
	}
	return entityTag{weak: kind == 'w', opaque: t.opaque[:i]}, v, true
}

func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// parseEntityTag parses one entity-tag at the start of s (RFC 9110
// 8.8.3) and returns what follows it.
func parseEntityTag(s string) (entityTag, string, bool) {
	var t entityTag
	if strings.HasPrefix(s, "W/") {
		t.weak, s = true, s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return entityTag{}, s, false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return entityTag{}, s, false
	}
	t.opaque = s[1 : 1+end]
	for i := 0; i < len(t.opaque); i++ {
		// etagc = %x21 / %x23-7E / obs-text
		if c := t.opaque[i]; c < 0x21 || c == 0x7f {
			return entityTag{}, s, false
		}
	}
	return t, s[2+end:], true
}

// parseETagList parses an If-None-Match value: "*" (star) or a list of
// entity-tags. ok is false when the value is malformed.
func parseETagList(v string) (tags []entityTag, star, ok bool) {
	v = strings.TrimSpace(v)
	if v == "*" {
		return nil, true, true
	}
	for {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			return tags, false, true
		}
		t, rest, good := parseEntityTag(v)
		if !good {
			return nil, false, false
		}
		tags = append(tags, t)
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return nil, false, false
		}
		v = rest
	}
}

// conditionals prepares the conditional headers of a request to the
// origin, and returns the origin's tags it names in If-None-Match for
// copies made with the plan's edits (nil when none), and whether it
// names other tags with them (others). In If-None-Match, a tag derived
// for the same edits (tag) is replaced by the origin's tag it was
// derived from, and any other derived tag is dropped (the client's copy
// was made with other edits). When the response may be a page the plan
// rewrites (rewrites), the origin's own tags and dates go too: a
// rewritten page carries neither the origin's ETag nor its
// Last-Modified, so they name a copy made without these edits (before a
// rule edited the page), which a 304 would keep showing. When no tag is
// left, If-Modified-Since goes, so that the origin sends the page
// afresh. (Range and If-Range go as they came: see ranges.go.)
func conditionals(h http.Header, rewrites bool, tag uint64) (edited []entityTag, others bool) {
	if rewrites {
		h.Del("If-Modified-Since")
	}
	lines := h.Values("If-None-Match")
	if len(lines) == 0 {
		return nil, false
	}
	var tags []entityTag
	for _, line := range lines {
		ts, star, ok := parseETagList(line)
		if !ok || star {
			// Nothing of ours in it to translate; a page the plan
			// rewrites is sent afresh.
			if rewrites {
				h.Del("If-None-Match")
			}
			return nil, false
		}
		tags = append(tags, ts...)
	}
	kept := tags[:0]
	dropped := false
	for _, t := range tags {
		// If-None-Match compares weakly (RFC 9110 13.1.2): our tag
		// sent without its W/ names the same copy.
		o, v, ok := splitDerived(entityTag{weak: true, opaque: t.opaque})
		switch {
		case ok && v == tag && tag != 0:
			kept = append(kept, o)
			edited = append(edited, o)
		case ok, rewrites:
			dropped = true
		default:
			kept = append(kept, t)
			others = true
		}
	}
	if edited == nil && !dropped {
		return nil, false
	}
	h.Del("If-None-Match")
	if len(kept) == 0 {
		h.Del("If-Modified-Since")
		return nil, false
	}
	parts := make([]string, len(kept))
	for i, t := range kept {
		parts[i] = t.String()
	}
	h.Set("If-None-Match", strings.Join(parts, ", "))
	return edited, others
}

// revalidatesEdited reports whether the origin's 304 of response
// headers h stands for a copy made with the plan's edits: the request
// named one (see conditionals), and the 304 names the origin's tag it
// was made from, or names none and the request named no other. A 304
// that names another tag the visitor listed (a style sheet's own, beside
// a tag derived for the page at its URL) stands for that copy, as the
// origin sent it.
func (st *state) revalidatesEdited(h http.Header) bool {
	if len(st.editedTags) == 0 {
		return false
	}
	et, rest, ok := parseEntityTag(strings.TrimSpace(h.Get("Etag")))
	if !ok || strings.TrimSpace(rest) != "" {
		return !st.otherTags
	}
	for _, t := range st.editedTags {
		if t.opaque == et.opaque {
			return true
		}
	}
	return false
}

// hasCopy reports whether the visitor's conditions, which the origin
// was not asked with (see conditionals), say it has the document of
// response headers h, one that the plan's JSON edits left as the origin
// sent it, with the origin's validators: its ETag in If-None-Match (a
// weak comparison, RFC 9110 13.1.2), or without If-None-Match its
// Last-Modified at or before If-Modified-Since (13.1.3). Such a copy is
// the document the response would send, byte for byte: a copy the edits
// changed carries a derived tag and no date. "*" is not answered here.
func (st *state) hasCopy(h http.Header) bool {
	if len(st.ifNoneMatch) > 0 {
		et, rest, ok := parseEntityTag(h.Get("Etag"))
		if !ok || rest != "" {
			return false
		}
		for _, line := range st.ifNoneMatch {
			tags, _, ok := parseETagList(line)
			if !ok {
				return false
			}
			for _, t := range tags {
				if t.opaque == et.opaque {
					return true
				}
			}
		}
		return false
	}
	if st.ifModifiedSince == "" {
		return false
	}
	since, err1 := http.ParseTime(st.ifModifiedSince)
	modified, err2 := http.ParseTime(h.Get("Last-Modified"))
	return err1 == nil && err2 == nil && !modified.After(since)
}

// originConditions names, in the If-Match and If-None-Match of a request
// that is no GET or HEAD, each tag bespoke derived by the origin's tag it
// was derived from, so that a client that read an edited copy can make
// its change conditional on the resource it read, as through any proxy:
// the edits are the visitor's view of it. (If-Match compares strongly,
// and a derived tag is weak.) Other tags, "*" and malformed lists go as
// they came.
func originConditions(h http.Header) {
	for _, name := range []string{"If-Match", "If-None-Match"} {
		lines := h.Values(name)
		if len(lines) == 0 {
			continue
		}
		var parts []string
		changed := false
		for _, line := range lines {
			ts, star, ok := parseETagList(line)
			if star || !ok {
				parts = nil
				changed = false
				break
			}
			for _, t := range ts {
				d := t
				if name == "If-None-Match" {
					// A weak comparison (RFC 9110 13.1.2): our tag
					// sent without its W/ names the same copy.
					d.weak = true
				}
				if o, _, ok := splitDerived(d); ok {
					t, changed = o, true
				}
				parts = append(parts, t.String())
			}
		}
		if changed {
			h.Set(name, strings.Join(parts, ", "))
		}
	}
}

// changedBodyValidators replaces the origin's validators of a changed
// body: the ETag becomes the derived weak one (or goes), and
// Last-Modified, Accept-Ranges and the digests of the origin's bytes go.
func changedBodyValidators(h http.Header, tag uint64) {
	// The names are canonical: the map is used directly, where Get, Set
	// and Del would canonicalize each again on every edited response.
	var origin string
	if vs := h["Etag"]; len(vs) > 0 {
		origin = vs[0]
	}
	if et := derivedETag(origin, tag); et != "" {
		h["Etag"] = []string{et}
	} else {
		delete(h, "Etag")
	}
	delete(h, "Last-Modified")
	delete(h, "Accept-Ranges")
	dropDigests(h)
}

// dropDigests removes the digests of the origin's bytes from response
// headers or trailers (RFC 9530's, and the older Digest and Content-MD5).
func dropDigests(h http.Header) {
	for _, k := range digestHeaders {
		delete(h, k)
	}
}

// digestHeaders name the digests of a body, canonical.
var digestHeaders = []string{"Content-Md5", "Digest", "Content-Digest", "Repr-Digest"}
