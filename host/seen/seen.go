// Package seen remembers which items (product cards, promos, articles) a
// visitor has already seen, so pages can stop showing them twice. The
// memory is a bloom filter (bits-and-blooms/bloom): it holds bits, never
// item ids, can say "seen" for an item that was not (at the configured
// false-positive rate), and never forgets an item within its window.
//
// Aging: two generations. Items shown go into the current filter; when it
// is half a window old it becomes the previous one and a new current one
// starts; an item stays seen for between half a window and a window.
//
// Stores: a signed cookie (the default: nothing to run) or Redis keyed by
// visitor id (when several proxies serve the same visitors). Neither ever
// fails a request: a missing, malformed, tampered, expired or unreachable
// state is an empty one.
package seen

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
)

// Format is the version byte of the encoding; another version is dropped
// and rebuilt.
const Format = 1

// Params size the filters.
type Params struct {
	// Capacity is how many items the two generations hold together at the
	// false-positive rate; 0 means 1,000.
	Capacity int
	// FalsePositive is the rate of "seen" answers for items never shown;
	// 0 means 1%.
	FalsePositive float64
	// Window is how long an item stays seen (between Window/2 and Window);
	// 0 means 30 days.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (p Params) withDefaults() Params {
	if p.Capacity <= 0 {
		p.Capacity = 1000
	}
	if p.FalsePositive <= 0 || p.FalsePositive >= 1 {
		p.FalsePositive = 0.01
	}
	if p.Window <= 0 {
		p.Window = 30 * 24 * time.Hour
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

// geometry is the size of one generation's filter: each holds half the
// capacity, at half the rate, so that testing both stays at the rate.
type geometry struct {
	m, k  uint
	words int
}

func (p Params) geometry() geometry {
	m, k := bloom.EstimateParameters(uint(math.Ceil(float64(p.Capacity)/2)), p.FalsePositive/2)
	m = (m + 63) &^ 63
	return geometry{m: m, k: k, words: int(m / 64)}
}

// Set is one visitor's seen-state during one request. Methods are for one
// request's goroutine.
type Set struct {
	g         geometry
	window    time.Duration
	now       func() time.Time
	cur, prev *bloom.BloomFilter
	// curStart and prevStart are the generations' starts, in Unix minutes.
	curStart, prevStart uint32
	shown               map[string]bool
	changed             bool
}

func (p Params) newSet() *Set {
	g := p.geometry()
	now := uint32(p.Now().Unix() / 60)
	return &Set{g: g, window: p.Window, now: p.Now, cur: bloom.New(g.m, g.k), curStart: now}
}

// Seen reports whether the item was shown in the window.
func (s *Set) Seen(id string) bool {
	if s.cur.TestString(id) {
		return true
	}
	return s.prev != nil && s.prev.TestString(id)
}

// Shown records that the item was shown. Showing one item twice in one
// request counts once.
func (s *Set) Shown(id string) {
	if s.shown[id] {
		return
	}
	if s.shown == nil {
		s.shown = map[string]bool{}
	}
	s.shown[id] = true
	s.rotate()
	s.cur.AddString(id)
	s.changed = true
}

// Changed reports whether Shown recorded anything.
func (s *Set) Changed() bool { return s.changed }

// rotate starts a new generation when the current one is half a window
// old, and forgets a previous one older than the window.
func (s *Set) rotate() {
	now := int64(s.now().Unix() / 60)
	half := max(int64(s.window/time.Minute/2), 1)
	if now-int64(s.curStart) >= half {
		s.prev, s.prevStart = s.cur, s.curStart
		s.cur, s.curStart = bloom.New(s.g.m, s.g.k), uint32(now)
		s.changed = true
	}
	if s.prev != nil && now-int64(s.prevStart) >= 2*half {
		s.prev = nil
	}
}

// encode writes the binary form: format, the generations' starts, a flag
// for the previous filter, then the filters' words.
func (s *Set) encode() []byte {
	s.rotate()
	b := make([]byte, 0, 10+16*s.g.words)
	b = append(b, Format)
	b = binary.LittleEndian.AppendUint32(b, s.curStart)
	b = binary.LittleEndian.AppendUint32(b, s.prevStart)
	if s.prev != nil {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendWords(b, s.cur)
	if s.prev != nil {
		b = appendWords(b, s.prev)
	}
	return b
}

func appendWords(b []byte, f *bloom.BloomFilter) []byte {
	for _, w := range f.BitSet().Words() {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

// Reasons a state was dropped, for LoadInfo.Dropped.
const (
	DroppedMalformed = "malformed"
	DroppedTampered  = "tampered"
	DroppedOld       = "old-format"
	DroppedExpired   = "expired"
	DroppedTimeout   = "timeout"
	DroppedError     = "store-error"
)

var (
	errMalformed = errors.New(DroppedMalformed)
	errOld       = errors.New(DroppedOld)
	errExpired   = errors.New(DroppedExpired)
)

// decode reads the binary form into a set for p.
func (p Params) decode(b []byte) (*Set, error) {
	if len(b) < 10 {
		return nil, errMalformed
	}
	if b[0] != Format {
		return nil, errOld
	}
	s := p.newSet()
	cur := binary.LittleEndian.Uint32(b[1:])
	prev := binary.LittleEndian.Uint32(b[5:])
	hasPrev := b[9] == 1
	n := 1
	if hasPrev {
		n = 2
	}
	body := b[10:]
	if b[9] > 1 || len(body) != n*8*s.g.words {
		return nil, errMalformed
	}
	now := int64(p.Now().Unix() / 60)
	if int64(cur) > now+1 || hasPrev && prev > cur {
		return nil, errMalformed // from the future: not ours
	}
	s.curStart = cur
	s.cur = bloom.FromWithM(words(body[:8*s.g.words]), s.g.m, s.g.k)
	if hasPrev {
		s.prevStart = prev
		s.prev = bloom.FromWithM(words(body[8*s.g.words:]), s.g.m, s.g.k)
	}
	s.rotate()
	s.changed = false
	if now-int64(s.curStart) >= int64(p.Window/time.Minute) {
		return nil, errExpired
	}
	return s, nil
}

func words(b []byte) []uint64 {
	w := make([]uint64, len(b)/8)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return w
}

// LoadInfo says where a state came from.
type LoadInfo struct {
	// Source is "cookie", "redis" or "new".
	Source string
	// Dropped, when not empty, says why a stored state was ignored.
	Dropped string
}

// Store loads and saves visitors' states.
type Store interface {
	// Load reads the visitor's state. It never fails: a state that cannot
	// be used gives an empty Set, and LoadInfo says why.
	Load(ctx context.Context, r *http.Request, visitorID string) (*Set, LoadInfo)
	// Save persists s when it changed: the cookie store adds a Set-Cookie
	// header to h; the Redis store writes to the server in the background
	// and ignores h.
	Save(ctx context.Context, h http.Header, visitorID string, s *Set, secure bool) error
}

// Allowed reports whether tracking state may be written for r: not when
// the visitor sends Sec-GPC: 1 (Global Privacy Control), nor when the
// consent cookie (if configured) holds one of the deny values.
func Allowed(r *http.Request, consentCookie string, deny []string) bool {
	if r.Header.Get("Sec-GPC") == "1" {
		return false
	}
	if consentCookie == "" {
		return true
	}
	c, err := r.Cookie(consentCookie)
	if err != nil {
		return true
	}
	for _, d := range deny {
		if c.Value == d {
			return false
		}
	}
	return true
}
