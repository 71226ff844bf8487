package seen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// sign makes a cookie value of any body, as the store would.
func (c *CookieStore) sign(body []byte) string {
	mac := c.mac(body)
	return b64.EncodeToString(append(slices.Clip(body), mac[:]...))
}

// validValue is a cookie value holding items, written at clk's time.
func validValue(t testing.TB, c *CookieStore, items ...string) string {
	t.Helper()
	s := c.l.newSet(c.l.nowSec())
	for _, id := range items {
		s.Shown(id)
	}
	v, err := c.value(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCookieRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    CookieConfig
		secure bool
	}{
		{"defaults over TLS", CookieConfig{}, true},
		{"plain HTTP", CookieConfig{}, false},
		{"own name and window", CookieConfig{Name: "seen", Params: Params{Window: 7 * day}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newCookieStore(t, tt.cfg)
			r, _ := http.NewRequest("GET", "/", nil)
			s, info := st.Load(context.Background(), r, "ignored")
			if info != (LoadInfo{Source: SourceNew}) {
				t.Errorf("no cookie: %+v", info)
			}
			s.Shown("sku-secret-42")
			h := http.Header{}
			h.Add("Set-Cookie", "other=1")
			if err := st.Save(context.Background(), h, "ignored", s, tt.secure); err != nil {
				t.Fatal(err)
			}
			cookies := (&http.Response{Header: h}).Cookies()
			if len(cookies) != 2 || cookies[0].Name != "other" {
				t.Fatalf("Set-Cookie %q", h.Values("Set-Cookie"))
			}
			ck := cookies[1]
			wantName := tt.cfg.Name
			if wantName == "" {
				wantName = "bsk_seen"
			}
			window := tt.cfg.Window
			if window == 0 {
				window = 30 * day
			}
			if ck.Name != wantName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" ||
				ck.MaxAge != int(window/time.Second) || ck.Secure != tt.secure || ck.Domain != "" {
				t.Errorf("cookie attributes: %s", h.Values("Set-Cookie")[1])
			}
			raw, err := b64.DecodeString(ck.Value)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte("sku")) || strings.Contains(ck.Value, "sku") {
				t.Error("the cookie holds the raw id")
			}

			r.AddCookie(ck)
			s, info = st.Load(context.Background(), r, "")
			if info != (LoadInfo{Source: SourceCookie}) || !s.Seen("sku-secret-42") || s.Seen("sku-secret-43") || s.Changed() {
				t.Errorf("reloaded: %+v, Seen %v, other seen %v, Changed %v", info, s.Seen("sku-secret-42"), s.Seen("sku-secret-43"), s.Changed())
			}
		})
	}
}

func TestCookieSaveUnchanged(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	r, _ := http.NewRequest("GET", "/", nil)
	s, _ := st.Load(context.Background(), r, "")
	h := http.Header{}
	if err := st.Save(context.Background(), h, "", s, true); err != nil || len(h) != 0 {
		t.Errorf("unchanged set: %v, %v", err, h)
	}
	s.Shown("a")
	if err := st.Save(context.Background(), nil, "", s, true); err == nil {
		t.Error("no error saving into a nil header")
	}
	// Saving twice leaves one cookie, the latest.
	st.Save(context.Background(), h, "", s, true)
	s.Shown("b")
	st.Save(context.Background(), h, "", s, true)
	if got := h.Values("Set-Cookie"); len(got) != 1 {
		t.Fatalf("Set-Cookie %q, want one", got)
	}
	var v visitor
	v.keep(h)
	if s, _ := st.Load(context.Background(), v.request(), ""); !s.Seen("b") {
		t.Error("the second save is not the one kept")
	}
	// A set from a store of other sizes is refused.
	other := newCookieStore(t, CookieConfig{Params: Params{Capacity: 10}})
	os, _ := other.Load(context.Background(), r, "")
	os.Shown("a")
	if err := st.Save(context.Background(), http.Header{}, "", os, true); err == nil {
		t.Error("saved a set of another layout")
	}
}

func TestCookieDropped(t *testing.T) {
	clk := newClock()
	st := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now}})
	valid := validValue(t, st, "a", "b")
	raw, _ := b64.DecodeString(valid)
	body := raw[:len(raw)-macSize]
	with := func(f func(b []byte) []byte) string { return st.sign(f(slices.Clone(body))) }

	otherKey := newCookieStore(t, CookieConfig{Key: []byte("another key, also 32 bytes long!"), Params: Params{Now: clk.Now}})
	otherName := newCookieStore(t, CookieConfig{Name: "other", Params: Params{Now: clk.Now}})
	otherSizes := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now, Capacity: 500}})
	clk.Set(clk.Now().Add(-31 * day))
	old := validValue(t, st, "a")
	clk.Set(clk.Now().Add(31*day + time.Hour))
	future := validValue(t, st, "a")
	clk.Set(clk.Now().Add(-time.Hour))

	tests := []struct {
		name  string
		value string
		want  []string // any of
	}{
		{"valid", valid, []string{""}},
		{"empty", "", []string{DroppedMalformed}},
		{"bad base64", "AAAA%%%not-a-filter", []string{DroppedMalformed}},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+", []string{DroppedMalformed}},
		{"padded", valid + "=", []string{DroppedMalformed}},
		{"shorter than a MAC", valid[:12], []string{DroppedMalformed}},
		{"truncated by one", valid[:len(valid)-1], []string{DroppedMalformed, DroppedTampered}},
		{"truncated by four", valid[:len(valid)-4], []string{DroppedMalformed, DroppedTampered}},
		{"one byte shorter", b64.EncodeToString(raw[:len(raw)-1]), []string{DroppedTampered}},
		{"one byte longer than a MAC", b64.EncodeToString(raw[:macSize+1]), []string{DroppedTampered}},
		{"a MAC's length", b64.EncodeToString(raw[:macSize]), []string{DroppedMalformed}},
		{"the MAC alone", b64.EncodeToString(raw[len(raw)-macSize:]), []string{DroppedMalformed}},
		{"extended", valid + "AAAA", []string{DroppedTampered}},
		{"huge", strings.Repeat("A", 5000), []string{DroppedMalformed}},
		{"just over MaxBytes", strings.Repeat("A", DefaultMaxBytes+1), []string{DroppedMalformed}},
		{"another key", validValue(t, otherKey, "a"), []string{DroppedTampered}},
		{"another cookie's value", validValue(t, otherName, "a"), []string{DroppedTampered}},
		{"other sizes", validValue(t, otherSizes, "a"), []string{DroppedOldFormat}},
		{"other version", with(func(b []byte) []byte { b[0] = formatVersion + 1; return b }), []string{DroppedOldFormat}},
		{"previous version", with(func(b []byte) []byte { b[0] = formatVersion - 1; return b }), []string{DroppedOldFormat}},
		{"version 0", with(func(b []byte) []byte { b[0] = 0; return b }), []string{DroppedOldFormat}},
		{"expired", old, []string{DroppedExpired}},
		{"from the future", future, []string{DroppedMalformed}},
		{"signed garbage", st.sign([]byte("garbage")), []string{DroppedOldFormat}},
		{"signed nothing", st.sign(nil), []string{DroppedMalformed}},
		{"signed header only", st.sign(body[:5]), []string{DroppedMalformed}},
		{"signed trailing byte", with(func(b []byte) []byte { return append(b, 0) }), []string{DroppedMalformed}},
		{"signed truncated body", st.sign(body[:len(body)-1]), []string{DroppedMalformed}},
		{"signed too many levels", with(func(b []byte) []byte { b[5+uvarintLen(uint64(clk.Now().Unix()))] = 17; return b }), []string{DroppedMalformed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", "bsk_seen="+tt.value)
			s, info := st.Load(context.Background(), r, "")
			if !slices.Contains(tt.want, info.Dropped) {
				t.Errorf("Dropped %q, want one of %q", info.Dropped, tt.want)
			}
			if s == nil {
				t.Fatal("nil set")
			}
			if info.Dropped != "" {
				if info.Source != SourceNew || s.Seen("a") || s.Changed() {
					t.Errorf("a dropped cookie gave %+v, Seen(a) %v, Changed %v", info, s.Seen("a"), s.Changed())
				}
				// The empty set is usable and saves a fresh cookie.
				s.Shown("c")
				h := http.Header{}
				if err := st.Save(context.Background(), h, "", s, false); err != nil || len(h.Values("Set-Cookie")) != 1 {
					t.Errorf("saving over a dropped cookie: %v, %q", err, h.Values("Set-Cookie"))
				}
			}
		})
	}
}

// TestDecodeLineBreaks: the base64 decoder skips line breaks, which
// net/http never lets through in a cookie; decode refuses them itself so
// that a state has exactly one cookie value.
func TestDecodeLineBreaks(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	valid := validValue(t, st, "a")
	for _, v := range []string{valid[:10] + "\n" + valid[10:], valid + "\r\n", "\n" + valid} {
		if _, reason := st.decode(v, st.l.nowSec()); reason != DroppedMalformed {
			t.Errorf("%q: Dropped %q", v, reason)
		}
	}
}

// TestCookieBitFlips: flipping any one bit of a cookie is detected.
func TestCookieBitFlips(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	var v visitor
	v.visit(t, st, "a", "b", "c")
	v.visit(t, st, "a") // a count level
	valid := v.cookies["bsk_seen"]
	raw, _ := b64.DecodeString(valid)
	now := st.l.nowSec()
	for i := range 8 * len(raw) {
		b := slices.Clone(raw)
		b[i/8] ^= 1 << (i % 8)
		if _, reason := st.decode(b64.EncodeToString(b), now); reason != DroppedTampered {
			t.Errorf("bit %d of the decoded value flipped: Dropped %q, want tampered", i, reason)
		}
	}
	// In the text, a flipped bit can also make it invalid base64.
	for i := range 8 * len(valid) {
		b := []byte(valid)
		b[i/8] ^= 1 << (i % 8)
		if _, reason := st.decode(string(b), now); reason != DroppedTampered && reason != DroppedMalformed {
			t.Errorf("bit %d of the value flipped: Dropped %q", i, reason)
		}
	}
}

// TestCookieSeveral: of several cookies of the name, the first valid one
// is used; if none is, the first one's reason is given.
func TestCookieSeveral(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	valid := validValue(t, st, "a")
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "bsk_seen=garbage; other=x; bsk_seen="+valid)
	if s, info := st.Load(context.Background(), r, ""); info.Source != SourceCookie || !s.Seen("a") {
		t.Errorf("%+v", info)
	}
	r.Header.Set("Cookie", "bsk_seen=garbage; bsk_seen="+valid[:len(valid)-4])
	if _, info := st.Load(context.Background(), r, ""); info.Dropped != DroppedMalformed {
		t.Errorf("%+v", info)
	}
	if s, info := st.Load(context.Background(), nil, ""); s == nil || info.Source != SourceNew {
		t.Errorf("nil request: %+v", info)
	}
}

// TestCookieSizeLimit: a state over MaxBytes loses the previous
// generation's counts, then that generation, then the current counts, and
// is not written at all if even that does not fit.
func TestCookieSizeLimit(t *testing.T) {
	// build makes, in st, a state with two generations: "p-*" items in
	// the previous one, the first 20 of them twice, and "c-*" items in the
	// current one, the first 20 of them twice.
	build := func(t *testing.T, maxBytes int) (*CookieStore, *Set) {
		clk := newClock()
		start := clk.Now()
		st := newCookieStore(t, CookieConfig{MaxBytes: maxBytes, Params: Params{Now: clk.Now}})
		// The small cookies below lower the record limit; the state is
		// built as by requests of a store with larger cookies.
		st.l.recordLimit = 1000
		s := st.l.newSet(st.l.nowSec())
		for _, id := range ids("p", 100) {
			s.Shown(id)
		}
		s.nextRequest()
		for _, id := range ids("p", 20) {
			s.Shown(id)
		}
		clk.Set(start.Add(16 * day))
		st.l.age(s, st.l.nowSec())
		s.nextRequest()
		for _, id := range ids("c", 100) {
			s.Shown(id)
		}
		s.nextRequest()
		for _, id := range ids("c", 20) {
			s.Shown(id)
		}
		return st, s
	}
	st, s := build(t, 0)
	sn := s.snapshot()
	size := func(nc, np int) int { return b64.EncodedLen(sn.size(nc, np) + macSize) }
	if sn.nc != 2 || sn.np != 2 {
		t.Fatalf("levels %d and %d, want 2 and 2", sn.nc, sn.np)
	}
	full, err := st.value(s)
	if err != nil || len(full) != size(2, 2) {
		t.Fatalf("full state: %d bytes, %v; want %d", len(full), err, size(2, 2))
	}
	t.Logf("sizes: full %d, without previous counts %d, without previous %d, without counts %d",
		size(2, 2), size(2, 1), size(2, 0), size(1, 0))

	tests := []struct {
		name                     string
		maxBytes                 int
		prevCount, curCount      int  // Count of p-0 and c-0
		prevSeen, curSeen        bool // Seen(p-50), Seen(c-50)
		startedOver              bool
		prevCountLow, curCountLo int // Count of p-50 and c-50
	}{
		{name: "fits", maxBytes: size(2, 2), prevCount: 2, curCount: 2, prevSeen: true, curSeen: true},
		{name: "previous counts dropped", maxBytes: size(2, 2) - 1, prevCount: 1, curCount: 2, prevSeen: true, curSeen: true},
		{name: "previous generation dropped", maxBytes: size(2, 1) - 1, prevCount: 0, curCount: 2, curSeen: true},
		{name: "current counts dropped", maxBytes: size(2, 0) - 1, prevCount: 0, curCount: 1, curSeen: true},
		// The last request showed c-0 to c-19: the state keeps them, and
		// as many of the generation's other items as fit.
		{name: "thinned", maxBytes: size(1, 0) - 1, prevCount: 0, curCount: 1, curSeen: true, startedOver: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, s := build(t, tt.maxBytes)
			h := http.Header{}
			if err := st.Save(context.Background(), h, "", s, false); err != nil {
				t.Fatal(err)
			}
			if got := st.Thinned.Load() == 1; got != tt.startedOver {
				t.Errorf("thinned: %v, want %v", got, tt.startedOver)
			}
			if got := s.Forgotten() > 0; got != tt.startedOver {
				t.Errorf("Forgotten() = %d", s.Forgotten())
			}
			var v visitor
			v.keep(h)
			if n := len(v.cookies["bsk_seen"]); n > tt.maxBytes {
				t.Errorf("cookie of %d bytes over MaxBytes %d", n, tt.maxBytes)
			}
			got, info := st.Load(context.Background(), v.request(), "")
			if info.Source != SourceCookie {
				t.Fatalf("%+v", info)
			}
			if c := got.Count("p-0"); c != tt.prevCount {
				t.Errorf("Count(p-0) = %d, want %d", c, tt.prevCount)
			}
			if c := got.Count("c-0"); c != tt.curCount {
				t.Errorf("Count(c-0) = %d, want %d", c, tt.curCount)
			}
			if got.Seen("p-50") != tt.prevSeen || got.Seen("c-50") != tt.curSeen || !got.Seen("c-19") {
				t.Errorf("Seen(p-50) %v, Seen(c-50) %v, Seen(c-19) %v", got.Seen("p-50"), got.Seen("c-50"), got.Seen("c-19"))
			}
			// The set itself is not degraded: the request goes on with it.
			if s.Count("p-0") != 2 {
				t.Error("saving changed the set")
			}
		})
	}
}

// TestCookieWithinLimitAlways: a heavy visitor's cookie stays within
// MaxBytes, degrading as it goes; a request showing more than one request
// may record records its first items, and a state that cannot fit even
// degraded starts over with them: the filter never stops working.
func TestCookieWithinLimitAlways(t *testing.T) {
	clk := newClock()
	start := clk.Now()
	st := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now, RecordLimit: 1000}})
	if st.l.recordLimit != 1000 {
		t.Fatalf("record limit %d, want the 1000 asked for (they fit)", st.l.recordLimit)
	}
	var v visitor
	for round := range 6 {
		clk.Set(start.Add(time.Duration(round) * 8 * day))
		v.visit(t, st, ids(fmt.Sprintf("r%d", round), 1000)...)
		n := len(v.cookies["bsk_seen"])
		if n > DefaultMaxBytes {
			t.Fatalf("round %d: %d bytes", round, n)
		}
		s, _ := st.Load(context.Background(), v.request(), "")
		if !s.Seen(fmt.Sprintf("r%d-999", round)) {
			t.Fatalf("round %d: the latest items were dropped", round)
		}
		t.Logf("round %d: %d bytes", round, n)
	}
	// Three requests of 1000 new items each fill the current generation
	// past what a cookie holds: the third starts over.
	for round := range 3 {
		s, _ := st.Load(context.Background(), v.request(), "")
		flood := ids(fmt.Sprintf("flood%d", round), 3000)
		for _, id := range flood {
			s.Shown(id)
		}
		if n := s.Unrecorded(); n != 2000 {
			t.Errorf("flood %d: Unrecorded %d, want 2000", round, n)
		}
		h := http.Header{}
		if err := st.Save(context.Background(), h, "", s, false); err != nil {
			t.Fatalf("flood %d: %v", round, err)
		}
		v.keep(h)
		if n := len(v.cookies["bsk_seen"]); n > DefaultMaxBytes {
			t.Fatalf("flood %d: %d bytes", round, n)
		}
		got, _ := st.Load(context.Background(), v.request(), "")
		if !got.Seen(flood[0]) || !got.Seen(flood[999]) {
			t.Errorf("flood %d: the recorded items are not seen", round)
		}
		if got.Seen(flood[2999]) && got.Seen(flood[2998]) {
			t.Errorf("flood %d: items past the record limit are seen", round)
		}
	}
	if st.Thinned.Load() == 0 {
		t.Error("the cookie never had to start over")
	}
}

// TestRecordLimitFitsTheCookie: the cookie store lowers a record limit
// its cookie cannot hold, so that starting over always fits.
func TestRecordLimitFitsTheCookie(t *testing.T) {
	st := newCookieStore(t, CookieConfig{MaxBytes: 200, Params: Params{RecordLimit: 1000}})
	if st.l.recordLimit >= 1000 || st.l.recordLimit < 16 {
		t.Fatalf("record limit %d for a 200-byte cookie", st.l.recordLimit)
	}
	s := st.l.newSet(st.l.nowSec())
	for _, id := range ids("x", 1000) {
		s.Shown(id)
	}
	h := http.Header{}
	if err := st.Save(context.Background(), h, "", s, false); err != nil {
		t.Fatal(err)
	}
	var v visitor
	v.keep(h)
	if n := len(v.cookies["bsk_seen"]); n > 200 || n == 0 {
		t.Errorf("cookie of %d bytes for MaxBytes 200", n)
	}
	t.Logf("a 200-byte cookie records %d items a request", st.l.recordLimit)
}

// TestCookieThinsGently: a visitor shown 250 new items a page, in one
// generation, fills the cookie; from then on each save forgets a random
// share of the older items, never all of them. The cookie used to start
// over at about 2,500 items, keeping only the last page's 250.
func TestCookieThinsGently(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	var v visitor
	var shown []string
	var s *Set
	for page := range 20 {
		items := ids(fmt.Sprint("p", page), 250)
		s, _ = v.visit(t, st, items...)
		shown = append(shown, items...)
		if n := len(v.cookies["bsk_seen"]); n > DefaultMaxBytes {
			t.Fatalf("page %d: a cookie of %d bytes", page, n)
		}
		got, _ := st.Load(context.Background(), v.request(), "")
		seen := 0
		for _, id := range shown {
			if got.Seen(id) {
				seen++
			}
		}
		for _, id := range items {
			if !got.Seen(id) {
				t.Fatalf("page %d: its own item %s is not seen", page, id)
			}
		}
		// Past about 2,500 the cookie holds some 2,000 to 2,500 items
		// of those shown: never fewer than 1,500.
		if seen < min(len(shown), 1500) {
			t.Fatalf("page %d: %d of the %d items shown are still seen", page, seen, len(shown))
		}
		if page == 19 && (st.Thinned.Load() == 0 || s.Forgotten() == 0) {
			t.Fatalf("the cookie never had to forget (thinned %d): the test proves nothing", st.Thinned.Load())
		}
		got.Release()
		s.Release()
	}
}

// TestCookieWithheldIsNotOverwritten: browsers keep a SameSite=Lax cookie
// out of a request another site started, unless it is a top-level
// navigation that only reads (GET), and store the cookie its response
// sets (a payment page's return, a login's form_post: a POST from
// another site). The store read no state from such a request and wrote
// over the visitor's cookie one with the page's items alone, forgetting
// what the visitor had seen; its state is unknown, and not saved.
func TestCookieWithheldIsNotOverwritten(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	for _, tc := range []struct {
		name, method, site string
		saves              bool
	}{
		{"cross-site POST", http.MethodPost, "cross-site", false},
		{"cross-site PUT", http.MethodPut, "Cross-Site", false},
		{"cross-site GET", http.MethodGet, "cross-site", true},
		{"same-site POST", http.MethodPost, "same-site", true},
		{"same-origin POST", http.MethodPost, "same-origin", true},
		{"POST without Sec-Fetch-Site", http.MethodPost, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, "https://shop.example/checkout/done", nil)
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			s, info := st.Load(context.Background(), r, "")
			defer s.Release()
			if info.Source != SourceNew || info.Dropped != "" {
				t.Errorf("LoadInfo %+v", info)
			}
			s.Shown("a")
			h := http.Header{}
			err := st.Save(context.Background(), h, "", s, true)
			switch {
			case tc.saves && (err != nil || len(h.Values("Set-Cookie")) != 1):
				t.Errorf("Save: %v, Set-Cookie %q; want the cookie set", err, h.Values("Set-Cookie"))
			case !tc.saves && (!errors.Is(err, ErrUnknownState) || len(h) != 0):
				t.Errorf("Save: %v, Set-Cookie %q; want ErrUnknownState and no cookie", err, h.Values("Set-Cookie"))
			}
		})
	}
	// A cookie the request does carry is read and saved as any other.
	r, _ := http.NewRequest(http.MethodPost, "https://shop.example/", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Cookie", st.CookieName()+"="+validValue(t, st, "b"))
	s, info := st.Load(context.Background(), r, "")
	defer s.Release()
	s.Shown("a")
	h := http.Header{}
	if err := st.Save(context.Background(), h, "", s, true); info.Source != SourceCookie || !s.Seen("b") || err != nil || len(h) != 1 {
		t.Errorf("a cookie sent cross-site: %+v, seen %v, saved %v", info, s.Seen("b"), err)
	}
}
