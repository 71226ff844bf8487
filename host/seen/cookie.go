package seen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
)

// CookieConfig configures a CookieStore.
type CookieConfig struct {
	Params
	// Key signs the cookie (HMAC-SHA256); required, 16 bytes or more.
	Key []byte
	// Name is the cookie's name; empty means "bsk_seen".
	Name string
	// MaxBytes bounds the encoded cookie value; a state that would not fit
	// drops its previous generation. 0 means 3,072 (browsers keep 4 KiB per
	// cookie, name and attributes included).
	MaxBytes int
}

// CookieStore keeps the seen-state in a signed cookie. It is immutable and
// safe for concurrent use.
type CookieStore struct {
	cfg CookieConfig
}

// macSize is the HMAC kept: 16 bytes (128 bits) is ample to detect
// tampering and saves 22 characters per request over the full 32.
const macSize = 16

// NewCookieStore returns a cookie store.
func NewCookieStore(cfg CookieConfig) (*CookieStore, error) {
	if len(cfg.Key) < 16 {
		return nil, errors.New("seen: the cookie store needs a signing key of 16 bytes or more")
	}
	cfg.Params = cfg.Params.withDefaults()
	if cfg.Name == "" {
		cfg.Name = "bsk_seen"
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 3072
	}
	return &CookieStore{cfg: cfg}, nil
}

func (c *CookieStore) mac(b []byte) []byte {
	h := hmac.New(sha256.New, c.cfg.Key)
	h.Write([]byte(c.cfg.Name))
	h.Write(b)
	return h.Sum(nil)[:macSize]
}

// Load implements Store.
func (c *CookieStore) Load(_ context.Context, r *http.Request, _ string) (*Set, LoadInfo) {
	ck, err := r.Cookie(c.cfg.Name)
	if err != nil {
		return c.cfg.newSet(), LoadInfo{Source: "new"}
	}
	s, dropped := c.decode(ck.Value)
	if s == nil {
		return c.cfg.newSet(), LoadInfo{Source: "new", Dropped: dropped}
	}
	return s, LoadInfo{Source: "cookie"}
}

// decode verifies and decodes a cookie value.
func (c *CookieStore) decode(v string) (*Set, string) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < macSize+1 {
		return nil, DroppedMalformed
	}
	body, mac := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(mac, c.mac(body)) {
		return nil, DroppedTampered
	}
	s, err := c.cfg.decode(body)
	if err != nil {
		return nil, err.Error()
	}
	return s, ""
}

// Encode returns the cookie value for s.
func (c *CookieStore) Encode(s *Set) string {
	b := s.encode()
	v := base64.RawURLEncoding.EncodeToString(append(b, c.mac(b)...))
	if len(v) > c.cfg.MaxBytes && s.prev != nil {
		// Too big for a cookie: forget the older generation first.
		s.prev = nil
		b = s.encode()
		v = base64.RawURLEncoding.EncodeToString(append(b, c.mac(b)...))
	}
	return v
}

// Save implements Store: it sets the cookie on h when s changed. A state
// too large for a cookie even with one generation is not written.
func (c *CookieStore) Save(_ context.Context, h http.Header, _ string, s *Set, secure bool) error {
	if !s.Changed() || h == nil {
		return nil
	}
	v := c.Encode(s)
	if len(v) > c.cfg.MaxBytes {
		return errors.New("seen: the state is too large for a cookie; raise MaxBytes or lower Capacity")
	}
	ck := &http.Cookie{
		Name: c.cfg.Name, Value: v, Path: "/", MaxAge: int(c.cfg.Window.Seconds()),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
	h.Add("Set-Cookie", ck.String())
	return nil
}

// Interface guards.
var _ Store = (*CookieStore)(nil)
