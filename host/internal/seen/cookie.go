package seen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// DefaultCookieName is the cookie's name when CookieConfig.Name is empty.
const DefaultCookieName = "bsk_seen"

// DefaultMaxBytes bounds the cookie's value when CookieConfig.MaxBytes is
// 0: under the 4 KiB browsers keep per cookie, leaving room for the name
// and for the site's other cookies in the request's Cookie header.
const DefaultMaxBytes = 3072

// macSize is the part of the HMAC-SHA256 kept: 16 bytes (128 bits) is
// ample against forgery and saves 22 characters on every request.
const macSize = 16

// b64 is base64url without padding, strict so that a state has exactly one
// cookie value.
var b64 = base64.RawURLEncoding.Strict()

// CookieConfig configures a CookieStore. It is copied when the store is
// built; later changes to it, or to Key's bytes, have no effect.
type CookieConfig struct {
	Params
	// Key signs the cookie (HMAC-SHA256) and keys the item digests;
	// required, 16 bytes or more. Changing it drops every visitor's state
	// as DroppedTampered.
	Key []byte
	// Name is the cookie's name; empty means DefaultCookieName.
	Name string
	// MaxBytes bounds the cookie's value. A state that would not fit drops
	// its previous generation's count levels, then that generation, then
	// the current one's count levels; if it still does not fit, the
	// cookie keeps the items of the request that saves it (which always
	// fit: the store's RecordLimit is lowered to what a cookie holds on
	// its own) and as many of the generation's others as fit, a random
	// share of them (Set.Forgotten says how many went). A longer cookie
	// received is dropped as DroppedMalformed. 0 means DefaultMaxBytes;
	// with the name it must stay within 4,000.
	MaxBytes int
}

// CookieStore keeps the seen-state in a signed cookie: HttpOnly,
// SameSite=Lax, Path=/, Secure over TLS, Max-Age the window. The value is
// the encoded state and a 16-byte HMAC-SHA256 (truncated) of the cookie's
// name and the state, in base64url. It is immutable and safe for
// concurrent use; a nil or zero CookieStore is not usable: build one with
// NewCookieStore.
type CookieStore struct {
	l        *layout
	name     string
	maxBytes int
	maxAge   int
	key      []byte
	macs     sync.Pool // of *macState: hmac keeps its padded key state across Reset
	// macPrefix is what the MAC covers before the state: a domain
	// separator and the cookie's name.
	macPrefix []byte
	// Thinned counts the saves whose state did not fit even degraded and
	// forgot part of the current generation's items to fit (see
	// CookieConfig.MaxBytes).
	Thinned atomic.Int64
}

// NewCookieStore returns a cookie store, or an error for a missing or short
// key, an invalid name or out-of-range sizes.
func NewCookieStore(cfg CookieConfig) (*CookieStore, error) {
	if len(cfg.Key) == 0 {
		return nil, errors.New("seen: the cookie store needs a signing key (CookieConfig.Key); none was given")
	}
	if len(cfg.Key) < 16 {
		return nil, fmt.Errorf("seen: the cookie signing key has %d bytes; it needs 16 or more", len(cfg.Key))
	}
	if cfg.Name == "" {
		cfg.Name = DefaultCookieName
	}
	if err := (&http.Cookie{Name: cfg.Name, Value: "x"}).Valid(); err != nil {
		return nil, fmt.Errorf("seen: cookie name %q: %w", cfg.Name, err)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxBytes < 64 || cfg.MaxBytes+len(cfg.Name) > 4000 {
		return nil, fmt.Errorf("seen: cookie MaxBytes %d is not between 64 and %d", cfg.MaxBytes, 4000-len(cfg.Name))
	}
	key := append([]byte(nil), cfg.Key...)
	salt := hmac.New(sha256.New, key)
	salt.Write([]byte("bespoke/seen/item-salt"))
	l, err := cfg.Params.layout(salt.Sum(nil))
	if err != nil {
		return nil, err
	}
	c := &CookieStore{l: l, name: cfg.Name, maxBytes: cfg.MaxBytes, maxAge: int(l.window), key: key}
	c.macPrefix = append(append([]byte("bespoke/seen\x00"), cfg.Name...), 0)
	c.macs.New = func() any { return &macState{h: hmac.New(sha256.New, c.key)} }
	// What one request records must fit in a cookie on its own, so that
	// starting over always works.
	for l.recordLimit > 1 && b64.EncodedLen(c.freshSize(l.recordLimit)+macSize) > c.maxBytes {
		l.recordLimit = l.recordLimit * 7 / 8
	}
	if b64.EncodedLen(c.freshSize(l.recordLimit)+macSize) > c.maxBytes {
		return nil, fmt.Errorf("seen: cookie MaxBytes %d cannot hold one item with these Params", c.maxBytes)
	}
	return c, nil
}

// freshSize bounds the encoded size of a state holding n items in one
// level-0 filter: n Rice codes of the gaps, whose quotients add up to
// fewer than m >> r ones, each with a stop bit and r low bits.
func (c *CookieStore) freshSize(n int) int {
	m := c.l.bits[0]
	r := riceParam(m, uint64(n))
	bitsLen := uint64(n)*uint64(r+1) + uint64(m>>r) + 7
	return 1 + 4 + binary.MaxVarintLen64 + 2 + binary.MaxVarintLen64 + int(bitsLen/8)
}

// macState is a pooled HMAC with room for its sum (a sum passed through
// the hash.Hash interface would escape).
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// mac returns the truncated HMAC of the cookie's name and body.
func (c *CookieStore) mac(body []byte) [macSize]byte {
	m := c.macs.Get().(*macState)
	m.h.Reset()
	m.h.Write(c.macPrefix)
	m.h.Write(body)
	m.h.Sum(m.sum[:0])
	out := [macSize]byte(m.sum[:macSize])
	c.macs.Put(m)
	return out
}

// Load implements Store. Of several cookies with the store's name (set for
// different paths or domains), the first valid one is used. A request
// without one that the browser would have kept it out of (see reqctx.CookiesWithheld)
// gives a set whose state is unknown: saving it would write over the
// visitor's cookie, which the browser stores from such a response, and
// Save refuses it with ErrUnknownState. visitorID and ctx are not used.
func (c *CookieStore) Load(_ context.Context, r *http.Request, _ string) (*Set, LoadInfo) {
	now := c.l.nowSec()
	if r == nil {
		return c.l.newSet(now), LoadInfo{Source: SourceNew}
	}
	dropped := ""
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			v, ok := cookieValue(part, c.name)
			if !ok {
				continue
			}
			s, reason := c.decode(v, now)
			if reason == "" {
				return s, LoadInfo{Source: SourceCookie}
			}
			if dropped == "" {
				dropped = reason
			}
		}
	}
	s := c.l.newSet(now)
	s.unknown = dropped == "" && reqctx.CookiesWithheld(r)
	return s, LoadInfo{Source: SourceNew, Dropped: dropped}
}

// cookieValue returns the value of one name=value pair of a Cookie
// header when its name is name, as net/http reads it (spaces around it
// trimmed, one pair of double quotes removed), without allocating.
func cookieValue(part, name string) (string, bool) {
	part = strings.Trim(part, " \t")
	k, v, ok := strings.Cut(part, "=")
	if !ok || k != name {
		return "", false
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v, true
}

// decode verifies and decodes a cookie value.
func (c *CookieStore) decode(v string, now int64) (*Set, string) {
	// base64 skips line breaks: a value holding one is another spelling
	// of a value, which one state must not have. (Two byte searches: each
	// runs a word at a time, where ContainsAny reads a byte at a time.)
	if v == "" || len(v) > c.maxBytes || strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 {
		return nil, DroppedMalformed
	}
	buf := decodeBufs.Get().(*[]byte)
	defer decodeBufs.Put(buf)
	// The value is only read: no copy of it is made.
	b, err := b64.AppendDecode((*buf)[:0], unsafe.Slice(unsafe.StringData(v), len(v)))
	*buf = b[:0]
	if err != nil || len(b) <= macSize {
		return nil, DroppedMalformed
	}
	body, mac := b[:len(b)-macSize], b[len(b)-macSize:]
	// The MAC is checked before anything in the body is read, the version
	// byte included: a cookie we did not write is "tampered" whatever it
	// says.
	want := c.mac(body)
	if !hmac.Equal(mac, want[:]) {
		return nil, DroppedTampered
	}
	return c.l.decode(body, now)
}

// decodeBufs hold decoded cookie values while they are read (the
// default MaxBytes decodes to 2,304 bytes).
var decodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, DefaultMaxBytes*3/4); return &b }}

// value encodes s as a cookie value within MaxBytes, degrading it if
// needed (see CookieConfig.MaxBytes); s itself is not changed.
func (c *CookieStore) value(s *Set) (string, error) {
	b, err := c.appendValue(nil, s)
	return string(b), err
}

// appendValue appends the cookie value of s (see value) to dst.
func (c *CookieStore) appendValue(dst []byte, s *Set) ([]byte, error) {
	sn := s.snapshot()
	defer func() { sn.release() }()
	nc, np := sn.nc, sn.np
	fits := func(n int) bool { return b64.EncodedLen(n+macSize) <= c.maxBytes }
	thinned := false
	for {
		if fits(sn.size(nc, np)) {
			buf := decodeBufs.Get().(*[]byte)
			body := c.l.assemble((*buf)[:0], &sn, nc, np)
			mac := c.mac(body)
			body = append(body, mac[:]...)
			dst = b64.AppendEncode(dst, body)
			*buf = body[:0]
			decodeBufs.Put(buf)
			return dst, nil
		}
		switch {
		case np > 0:
			np-- // the previous generation's counts, then that generation
		case nc > 1:
			nc-- // the current generation's counts
		case !thinned:
			// Even the current generation's first level does not fit:
			// keep this request's showings, so the filter keeps working,
			// and as many of the others as fit: a random share is
			// forgotten, not all of them at once.
			sn.release()
			var forgot int
			sn, forgot = s.thinned(fits)
			nc, np, thinned = sn.nc, 0, true
			c.Thinned.Add(1)
			s.mu.Lock()
			s.forgotten = forgot
			s.mu.Unlock()
		default:
			return dst, ErrTooLarge
		}
	}
}

// InHeaders implements Store: the state travels in a Set-Cookie.
func (c *CookieStore) InHeaders() bool { return true }

// CookieName implements Store: the cookie's name.
func (c *CookieStore) CookieName() string { return c.name }

// Save implements Store: when s changed, it sets the cookie on h,
// replacing a Set-Cookie for the same name already there. It returns
// ErrTooLarge for a state that does not fit even started over (which
// the store's RecordLimit rules out), ErrUnknownState for a set loaded
// from a request the browser kept the cookie out of (see Load), and an
// error when h is nil (the headers were already sent). visitorID and
// ctx are not used.
func (c *CookieStore) Save(_ context.Context, h http.Header, _ string, s *Set, secure bool) error {
	if !s.Changed() {
		return nil
	}
	if s.l == nil || s.l.tag != c.l.tag {
		return errors.New("seen: the set was not loaded from this cookie store")
	}
	if s.unknown {
		return ErrUnknownState
	}
	if h == nil {
		return errors.New("seen: no response header to set the cookie on")
	}
	sc, err := c.setCookie(s, secure)
	if err != nil {
		return err
	}
	old := h["Set-Cookie"]
	kept := old[:0:0]
	for _, o := range old {
		if !c.isOurs(o) {
			kept = append(kept, o)
		}
	}
	h["Set-Cookie"] = append(kept, sc)
	return nil
}

// setCookie is the Set-Cookie value for s, as http.Cookie would write it
// (the value is base64url and the name was checked: nothing needs
// quoting), built in one buffer and allocated once.
func (c *CookieStore) setCookie(s *Set, secure bool) (string, error) {
	var buf [DefaultMaxBytes + 128]byte
	b := append(buf[:0], c.name...)
	b = append(b, '=')
	b, err := c.appendValue(b, s)
	if err != nil {
		return "", err
	}
	b = append(b, "; Path=/; Max-Age="...)
	b = strconv.AppendInt(b, int64(c.maxAge), 10)
	b = append(b, "; HttpOnly"...)
	if secure {
		b = append(b, "; Secure"...)
	}
	b = append(b, "; SameSite=Lax"...)
	return string(b), nil
}

// isOurs reports whether a Set-Cookie value sets this store's cookie.
func (c *CookieStore) isOurs(sc string) bool {
	return len(sc) > len(c.name) && sc[len(c.name)] == '=' && sc[:len(c.name)] == c.name
}

// Interface guard.
var _ Store = (*CookieStore)(nil)
