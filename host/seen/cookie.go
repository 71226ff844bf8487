package seen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
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
	// the current one's count levels; if it still does not fit it is not
	// written. A longer cookie received is dropped as DroppedMalformed.
	// 0 means DefaultMaxBytes; with the name it must stay within 4,000.
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
	macs     sync.Pool // of hash.Hash: hmac keeps its padded key state across Reset
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
	c.macs.New = func() any { return hmac.New(sha256.New, c.key) }
	return c, nil
}

// Name is the cookie's name.
func (c *CookieStore) Name() string { return c.name }

// mac returns the truncated HMAC of the cookie's name and body.
func (c *CookieStore) mac(body []byte) [macSize]byte {
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte("bespoke/seen\x00"))
	h.Write([]byte(c.name))
	h.Write([]byte{0})
	h.Write(body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	c.macs.Put(h)
	return [macSize]byte(sum[:macSize])
}

// Load implements Store. Of several cookies with the store's name (set for
// different paths or domains), the first valid one is used. visitorID and
// ctx are not used.
func (c *CookieStore) Load(_ context.Context, r *http.Request, _ string) (*Set, LoadInfo) {
	now := c.l.nowSec()
	if r == nil {
		return c.l.newSet(now), LoadInfo{Source: SourceNew}
	}
	dropped := ""
	for _, ck := range r.CookiesNamed(c.name) {
		s, reason := c.decode(ck.Value, now)
		if reason == "" {
			return s, LoadInfo{Source: SourceCookie}
		}
		if dropped == "" {
			dropped = reason
		}
	}
	return c.l.newSet(now), LoadInfo{Source: SourceNew, Dropped: dropped}
}

// decode verifies and decodes a cookie value.
func (c *CookieStore) decode(v string, now int64) (*Set, string) {
	if v == "" || len(v) > c.maxBytes || strings.ContainsAny(v, "\r\n") {
		return nil, DroppedMalformed
	}
	b, err := b64.DecodeString(v)
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

// value encodes s as a cookie value within MaxBytes, degrading it if
// needed; s itself is not changed.
func (c *CookieStore) value(s *Set) (string, error) {
	sn := s.snapshot()
	nc, np := len(sn.cur), len(sn.prev)
	for {
		if n := sn.size(nc, np); b64.EncodedLen(n+macSize) <= c.maxBytes {
			body := c.l.assemble(make([]byte, 0, n+macSize), &sn, nc, np)
			mac := c.mac(body)
			return b64.EncodeToString(append(body, mac[:]...)), nil
		}
		switch {
		case np > 0:
			np-- // the previous generation's counts, then that generation
		case nc > 1:
			nc-- // the current generation's counts
		default:
			return "", ErrTooLarge
		}
	}
}

// InHeaders implements Store: the state travels in a Set-Cookie.
func (c *CookieStore) InHeaders() bool { return true }

// Save implements Store: when s changed, it sets the cookie on h,
// replacing a Set-Cookie for the same name already there. It returns
// ErrTooLarge for a state that does not fit even degraded (the visitor
// keeps the previous cookie), and an error when h is nil (the headers were
// already sent). visitorID and ctx are not used.
func (c *CookieStore) Save(_ context.Context, h http.Header, _ string, s *Set, secure bool) error {
	if !s.Changed() {
		return nil
	}
	if s.l == nil || s.l.tag != c.l.tag {
		return errors.New("seen: the set was not loaded from this cookie store")
	}
	if h == nil {
		return errors.New("seen: no response header to set the cookie on")
	}
	v, err := c.value(s)
	if err != nil {
		return err
	}
	ck := &http.Cookie{
		Name: c.name, Value: v, Path: "/", MaxAge: c.maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
	prefix := c.name + "="
	var kept []string
	for _, sc := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(sc, prefix) {
			kept = append(kept, sc)
		}
	}
	h["Set-Cookie"] = append(kept, ck.String())
	return nil
}

// Interface guard.
var _ Store = (*CookieStore)(nil)
