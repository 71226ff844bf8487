// Package caps counts how often frequency-capped rules applied to a
// visitor ("at most 3 per 7d"), in a small signed cookie. A cap needs an
// exact count and a window per rule, which a bloom filter cannot give; the
// cookie holds, per capped rule, a 32-bit hash of the rule (never its
// name), a count and the start of its window: 9 bytes an entry.
package caps

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"net/http"
	"time"
)

// CookieName is the cookie holding the counts.
const CookieName = "bsk_caps"

const (
	version    = 1
	entrySize  = 9
	macSize    = 16
	maxEntries = 64
)

// Store reads and writes counts. Its zero value is not usable: use New.
type Store struct {
	key []byte
	now func() time.Time
}

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
	// absent): "malformed", "tampered", "old-format".
	Dropped string
}

// Load reads the counts from r's cookie. A missing, malformed or tampered
// cookie gives empty counts, never an error.
func (s *Store) Load(r *http.Request) *Counts {
	c := &Counts{s: s}
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return c
	}
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	switch {
	case err != nil || len(b) < 1+macSize:
		c.Dropped = "malformed"
		return c
	case b[0] != version:
		c.Dropped = "old-format"
		return c
	}
	body, mac := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(mac, s.mac(body)) {
		c.Dropped = "tampered"
		return c
	}
	body = body[1:]
	if len(body)%entrySize != 0 || len(body)/entrySize > maxEntries {
		c.Dropped = "malformed"
		return c
	}
	for i := 0; i < len(body); i += entrySize {
		c.entries = append(c.entries, entry{
			hash:  binary.LittleEndian.Uint32(body[i:]),
			count: body[i+4],
			start: binary.LittleEndian.Uint32(body[i+5:]),
		})
	}
	return c
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

// find returns the live entry for key, or nil when there is none or its
// window has passed.
func (c *Counts) find(key string, window time.Duration) *entry {
	h := keyHash(key)
	now := uint32(c.s.now().Unix() / 60)
	for i := range c.entries {
		e := &c.entries[i]
		if e.hash != h {
			continue
		}
		if int64(now)-int64(e.start) >= int64(window/time.Minute) {
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
		// Forget the oldest window.
		oldest := 0
		for i := range c.entries {
			if c.entries[i].start < c.entries[oldest].start {
				oldest = i
			}
		}
		c.entries = append(c.entries[:oldest], c.entries[oldest+1:]...)
	}
	c.entries = append(c.entries, entry{hash: h, count: 1, start: now})
}

// Changed reports whether Hit was called.
func (c *Counts) Changed() bool { return c != nil && c.changed }

// Cookie returns the cookie storing the counts, living as long as maxAge.
func (c *Counts) Cookie(maxAge time.Duration, secure bool) *http.Cookie {
	b := []byte{version}
	for _, e := range c.entries {
		b = binary.LittleEndian.AppendUint32(b, e.hash)
		b = append(b, e.count)
		b = binary.LittleEndian.AppendUint32(b, e.start)
	}
	b = append(b, c.s.mac(b)...)
	return &http.Cookie{
		Name: CookieName, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: int(maxAge.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// Untracked is the counter of a visitor whose counts cannot be kept
// (Global Privacy Control, declined consent): a rule in Hide counts as
// used up, so that it does not apply; any other counts what the visitor's
// cookie already holds (nothing is added for such a visitor). A nil
// Counts holds nothing.
type Untracked struct {
	Counts *Counts
	// Hide maps a rule's key to its cap.
	Hide map[string]int
}

// Count implements the proxy's counter.
func (u *Untracked) Count(key string, window time.Duration) int {
	if n, ok := u.Hide[key]; ok {
		return n
	}
	return u.Counts.Count(key, window)
}
