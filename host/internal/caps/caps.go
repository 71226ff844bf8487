// Package caps counts how often frequency-capped rules applied to a
// visitor ("at most 3 per 7d"), in a small signed cookie. A cap needs an
// exact count and a window per rule, which a bloom filter cannot give; the
// cookie holds, per capped rule, a 32-bit hash of the rule (never its
// name), a count and the start of its window: 9 bytes an entry.
//
// When several proxies share a store (Redis), the same entries live there
// instead, keyed by visitor id (see Shared), so that a cap counts every
// page view of the visitor whichever proxy served it.
package caps

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/bespoke-edge/bespoke/plugin"
)

// CookieName is the cookie holding the counts.
const CookieName = "bsk_caps"

const (
	version = 1
	// versionNew is version for the counts of a new visitor in a shared
	// store, kept NewVisitorTTL (see Save): the same entries. A proxy of
	// an earlier release reads them as "old-format", none.
	versionNew = 2
	entrySize  = 9
	macSize    = 16
	maxEntries = plugin.MaxCappedRules
)

// Store reads and writes counts. Its zero value is not usable: use New
// or NewShared.
type Store struct {
	key    []byte
	now    func() time.Time
	shared Shared
	// newTTL bounds how long a shared store keeps a new visitor's
	// counts (0: no bound).
	newTTL time.Duration
}

// Shared is a store several proxies share, keyed by visitor id, that
// keeps counts instead of a cookie (seen.RedisStore is one).
type Shared interface {
	// LoadCaps returns the counts stored for visitorID: nil and no
	// error when there are none, an error when the store could not say.
	LoadCaps(ctx context.Context, visitorID string) ([]byte, error)
	// SaveCaps stores b as visitorID's counts for ttl, without waiting
	// for the store to answer. With merge, b is written only over loaded
	// (what LoadCaps gave, nil for none); over counts another request
	// stored since, merge(those counts) is, so that two requests of one
	// visitor at once both count.
	SaveCaps(visitorID string, b []byte, ttl time.Duration, loaded []byte, merge func(cur []byte) []byte) error
}

// NewShared returns a store keeping counts in sh (required) rather than in
// a cookie. now may be nil (time.Now). newVisitorTTL, when above 0,
// bounds how long sh keeps the counts of a visitor whose id the client
// has not sent back yet (see Counts.Save): a client that never keeps
// cookies, a crawler, has a new id on every request, and would
// otherwise leave a key for a whole window each time.
func NewShared(sh Shared, now func() time.Time, newVisitorTTL time.Duration) (*Store, error) {
	if sh == nil {
		return nil, errors.New("caps: a shared store is required")
	}
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, shared: sh, newTTL: max(newVisitorTTL, 0)}, nil
}

// Shared returns the shared store the counts live in, or nil when they
// live in a cookie.
func (s *Store) Shared() Shared { return s.shared }

// New returns a store signing its cookie with key (required). now may be
// nil (time.Now).
func New(key []byte, now func() time.Time) (*Store, error) {
	if len(key) == 0 {
		return nil, errors.New("caps: a signing key is required")
	}
	if now == nil {
		now = time.Now
	}
	return &Store{key: key, now: now}, nil
}

type entry struct {
	hash  uint32
	count uint8
	start uint32 // unix minutes
}

// Counts are one visitor's counts during one request.
type Counts struct {
	s       *Store
	entries []entry
	changed bool
	// Dropped says why the cookie was ignored ("" when it was fine or
	// absent): "malformed", "tampered", "old-format"; for a shared store,
	// also "unavailable" when the store could not be read.
	Dropped string
	// Unknown says the shared store could not be read: the counts are
	// not known, and are never saved, since that would replace the
	// stored ones.
	Unknown bool
	// loaded is what the shared store held (nil: none), and fromShared
	// says the counts were read from it; hits are the request's own
	// Hits, to add to counts another request stored meanwhile.
	loaded     []byte
	fromShared bool
	hits       []hit
	// provisional: the shared store holds the counts as a new
	// visitor's, for NewVisitorTTL only (see Renew).
	provisional bool
	// Rules are the capped rules of the plugin deciding the request;
	// nil when not known. A Hit that finds the counts full drops an
	// entry they say counts nothing first.
	Rules *Rules
}

// Rules are the capped rules of one plugin: for each, the window its
// count lives. Built once per plugin (NewRules), read by any number of
// requests.
type Rules struct {
	windows map[uint32]uint32 // by key hash, the window in minutes
}

// NewRules returns the rules whose windows are given by key (a rule's
// cap slot key, as Hit takes it).
func NewRules(windows map[string]time.Duration) *Rules {
	r := &Rules{windows: make(map[uint32]uint32, len(windows))}
	for k, w := range windows {
		r.windows[keyHash(k)] = uint32(w / time.Minute)
	}
	return r
}

// hit is one Hit of a request.
type hit struct {
	key    string
	window time.Duration
}

// LoadShared reads visitorID's counts from the shared store; an empty
// visitorID has none.
func (s *Store) LoadShared(ctx context.Context, visitorID string) *Counts {
	if visitorID == "" {
		return &Counts{s: s}
	}
	b, err := s.shared.LoadCaps(ctx, visitorID)
	return s.FromShared(b, err)
}

// FromShared returns the counts of b, as a shared store's LoadCaps (or a
// load that fetched them with other state) returned them with err.
// Malformed data gives empty counts, never an error.
func (s *Store) FromShared(b []byte, err error) *Counts {
	c := &Counts{s: s, loaded: b, fromShared: err == nil}
	switch {
	case err != nil:
		c.Dropped, c.Unknown = "unavailable", true
	case b == nil:
	case len(b) < 1:
		c.Dropped = "malformed"
	case b[0] != version && b[0] != versionNew:
		c.Dropped = "old-format"
	default:
		c.provisional = b[0] == versionNew
		c.decodeEntries(b[1:])
	}
	return c
}

// Load reads the counts from r's cookie. A missing, malformed or tampered
// cookie gives empty counts, never an error. Of several cookies of the
// name (a browser sends one for each path and domain that set one), the
// first valid one is read, as the visitor id and the seen-filter are: a
// stale copy sent first would otherwise start the visitor over on every
// request.
func (s *Store) Load(r *http.Request) *Counts {
	dropped := ""
	for _, ck := range r.CookiesNamed(CookieName) {
		c := &Counts{s: s}
		if body, why := s.verify(ck.Value); why != "" {
			c.Dropped = why
		} else {
			c.decodeEntries(body)
		}
		if c.Dropped == "" {
			return c
		}
		if dropped == "" {
			dropped = c.Dropped
		}
	}
	return &Counts{s: s, Dropped: dropped}
}

// verify checks a cookie value's format and signature, and returns its
// entries (after the version byte), or why the value is not counts of
// this store's.
func (s *Store) verify(v string) (entries []byte, dropped string) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	switch {
	case err != nil || len(b) < 1+macSize:
		return nil, "malformed"
	case b[0] != version:
		return nil, "old-format"
	}
	body, mac := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(mac, s.mac(body)) {
		return nil, "tampered"
	}
	return body[1:], ""
}

// decodeEntries reads the entries after the version byte.
func (c *Counts) decodeEntries(body []byte) {
	if len(body)%entrySize != 0 || len(body)/entrySize > maxEntries {
		c.Dropped = "malformed"
		return
	}
	for i := 0; i < len(body); i += entrySize {
		c.entries = append(c.entries, entry{
			hash:  binary.LittleEndian.Uint32(body[i:]),
			count: body[i+4],
			start: binary.LittleEndian.Uint32(body[i+5:]),
		})
	}
}

func (s *Store) mac(b []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(CookieName))
	h.Write(b)
	return h.Sum(nil)[:macSize]
}

func keyHash(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// maxSkew is how many minutes a window may start after now and still be
// live: hosts sharing a visitor's counts have clocks a little apart. A
// window further ahead was started by a clock since set back (serve
// --dev-clock on an earlier day, a host's clock corrected), and taken as
// live it would hold the count until the clock caught up with it, weeks
// later for a day's window.
const maxSkew = 5

// find returns the live entry for key, or nil when there is none or its
// window has passed or starts after now.
func (c *Counts) find(key string, window time.Duration) *entry {
	h := keyHash(key)
	now := uint32(c.s.now().Unix() / 60)
	for i := range c.entries {
		e := &c.entries[i]
		if e.hash != h {
			continue
		}
		age := int64(now) - int64(e.start)
		if age >= int64(window/time.Minute) || age < -maxSkew {
			return nil
		}
		return e
	}
	return nil
}

// Count returns how many times key applied within window.
func (c *Counts) Count(key string, window time.Duration) int {
	if c == nil {
		return 0
	}
	if e := c.find(key, window); e != nil {
		return int(e.count)
	}
	return 0
}

// Hit counts one more application of key; a window that has passed starts
// again.
func (c *Counts) Hit(key string, window time.Duration) {
	c.changed = true
	c.hits = append(c.hits, hit{key, window})
	if e := c.find(key, window); e != nil {
		if e.count < 255 {
			e.count++
		}
		return
	}
	h := keyHash(key)
	now := uint32(c.s.now().Unix() / 60)
	for i := range c.entries {
		if c.entries[i].hash == h {
			c.entries[i] = entry{hash: h, count: 1, start: now}
			return
		}
	}
	if len(c.entries) == maxEntries {
		i := c.evictee(now)
		c.entries = append(c.entries[:i], c.entries[i+1:]...)
	}
	c.entries = append(c.entries, entry{hash: h, count: 1, start: now})
}

// evictee returns the index of the entry to drop from full counts: one
// that counts nothing (its rule's window has passed, or the plugin has
// no such rule: renamed, removed, its window changed), else the one
// whose window started longest ago. Dropping the oldest alone lost a
// live count while dead entries stayed. Of a host's routes, which share
// the counts, another route's rules are unknown here and go before this
// route's live ones: one live count is lost either way.
func (c *Counts) evictee(now uint32) int {
	rank := func(e entry) int {
		if c.Rules == nil {
			return 1
		}
		w, ok := c.Rules.windows[e.hash]
		switch age := int64(now) - int64(e.start); {
		case !ok:
			return 1
		case age >= int64(w) || age < -maxSkew:
			return 0
		}
		return 2
	}
	best, bestRank := 0, rank(c.entries[0])
	for i := 1; i < len(c.entries); i++ {
		r := rank(c.entries[i])
		if r < bestRank || r == bestRank && c.entries[i].start < c.entries[best].start {
			best, bestRank = i, r
		}
	}
	return best
}

// Changed reports whether Hit was called.
func (c *Counts) Changed() bool { return c != nil && c.changed }

// encode returns the version byte v and the entries.
func (c *Counts) encode(v byte) []byte {
	b := make([]byte, 1, 1+len(c.entries)*entrySize+macSize)
	b[0] = v
	for _, e := range c.entries {
		b = binary.LittleEndian.AppendUint32(b, e.hash)
		b = append(b, e.count)
		b = binary.LittleEndian.AppendUint32(b, e.start)
	}
	return b
}

// Save stores counts that changed in the shared store, for visitorID,
// living as long as maxAge: as long as the longest window of the rules
// needs. Counts of a new visitor (newVisitor: the request did not send
// its id back: a first visit, or a client that never keeps cookies) live
// the store's NewVisitorTTL at most, until the visitor comes back with
// its id (see Renew). Counts of a cookie store, counts whose load failed
// (Unknown) and unchanged counts are not saved.
func (c *Counts) Save(visitorID string, maxAge time.Duration, newVisitor bool) error {
	switch {
	case c == nil || !c.changed || c.s.shared == nil:
		return nil
	case c.Unknown:
		return errors.New("caps: the stored counts could not be read; not overwritten")
	case visitorID == "":
		return errors.New("caps: no visitor id to save the counts under")
	}
	v := byte(version)
	if newVisitor && c.s.newTTL > 0 && c.s.newTTL < maxAge {
		v, maxAge = versionNew, c.s.newTTL
	}
	return c.save(visitorID, v, maxAge)
}

// Renew stores again, for maxAge, counts the shared store keeps as a new
// visitor's (for NewVisitorTTL), now that the visitor came back with its
// id: its counts must live their windows, though this request may count
// nothing. Other counts are left as they are (no write). Renew is for
// the request's start; a Save after it writes over what it wrote.
func (c *Counts) Renew(visitorID string, maxAge time.Duration) error {
	if c == nil || !c.provisional || c.Unknown || c.s.shared == nil || visitorID == "" {
		return nil
	}
	c.provisional = false
	err := c.save(visitorID, version, maxAge)
	if err == nil {
		// What the store now holds, for a Save's write over it.
		c.loaded = c.encode(version)
	}
	return err
}

// save writes the counts as version v for ttl, over what the request
// loaded; over counts another request stored since, with this request's
// hits added to them.
func (c *Counts) save(visitorID string, v byte, ttl time.Duration) error {
	var merge func(cur []byte) []byte
	if c.fromShared {
		hits := c.hits
		merge = func(cur []byte) []byte {
			stored := c.s.FromShared(cur, nil)
			stored.Rules = c.Rules
			for _, h := range hits {
				stored.Hit(h.key, h.window)
			}
			return stored.encode(v)
		}
	}
	return c.s.shared.SaveCaps(visitorID, c.encode(v), ttl, c.loaded, merge)
}

// Cookie returns the cookie storing the counts, living as long as maxAge.
func (c *Counts) Cookie(maxAge time.Duration, secure bool) *http.Cookie {
	b := c.encode(version)
	b = append(b, c.s.mac(b)...)
	return &http.Cookie{
		Name: CookieName, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: int(maxAge.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// Untracked is the counter of a visitor whose counts cannot be kept
// (Global Privacy Control, declined consent, counts the shared store
// could not read): a rule in Hide counts as used up, so that it does not
// apply; any other counts nothing, as if never counted, whatever the
// visitor's cookie held from before they declined (nothing is added for
// such a visitor, so what it holds could only hold the rule back for
// good).
type Untracked struct {
	// Hide maps a rule's key to its cap.
	Hide map[string]int
}

// Count implements the proxy's counter.
func (u *Untracked) Count(key string, _ time.Duration) int {
	return u.Hide[key]
}
