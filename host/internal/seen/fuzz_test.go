package seen

import (
	"bytes"
	"testing"
)

// fuzzStore is a store on a fixed clock, so that the seeds stay valid.
func fuzzStore(t testing.TB) (*CookieStore, *clock) {
	clk := newClock()
	return newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now}}), clk
}

// fuzzStates are encoded states of several shapes, written by st: empty,
// a few items, counts, two generations.
func fuzzStates(t testing.TB, st *CookieStore, clk *clock) []*Set {
	start := clk.Now()
	defer clk.Set(start)
	clk.Set(start.Add(-20 * day))
	var out []*Set
	s := st.l.newSet(st.l.nowSec())
	out = append(out, s)
	for _, n := range []int{1, 3, 50} {
		s := st.l.newSet(st.l.nowSec())
		for _, id := range ids("seed", n) {
			s.Shown(id)
		}
		out = append(out, s)
	}
	s = st.l.newSet(st.l.nowSec())
	for _, id := range ids("seed", 10) {
		s.Shown(id)
	}
	s.shown = nil
	s.Shown("seed-1")
	clk.Set(start)
	st.l.age(s, st.l.nowSec())
	s.Shown("seed-2")
	s.Shown("new")
	return append(out, s)
}

// FuzzDecodeCookie: no cookie value makes decode panic, and none but the
// values the store wrote gives a set: whatever else it is, it is dropped
// with a reason, so a visitor cannot make the proxy believe items were
// seen.
func FuzzDecodeCookie(f *testing.F) {
	st, clk := fuzzStore(f)
	written := map[string]bool{}
	for _, s := range fuzzStates(f, st, clk) {
		v, err := st.value(s)
		if err != nil {
			f.Fatal(err)
		}
		written[v] = true
		f.Add(v)
		f.Add(v[:len(v)-1])
		f.Add(v + "A")
	}
	for _, v := range []string{"", "A", "AAAA", "%%%", "bsk_seen", "\x00\xff", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(v)
	}
	now := st.l.nowSec()
	f.Fuzz(func(t *testing.T, v string) {
		s, reason := st.decode(v, now)
		if (s == nil) != (reason != "") {
			t.Fatalf("set %v with reason %q", s != nil, reason)
		}
		if reason == "" && !written[v] {
			t.Fatalf("accepted a value the store did not write: %q", v)
		}
	})
}

// FuzzDecodeState: the unsigned decoder (Redis states are not signed)
// never panics, and what it accepts re-encodes to a state that decodes to
// the same encoding: a stored state cannot grow or shift when it is loaded
// and saved again.
func FuzzDecodeState(f *testing.F) {
	st, clk := fuzzStore(f)
	for _, s := range fuzzStates(f, st, clk) {
		b := s.encode()
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), 0))
	}
	f.Add([]byte{})
	f.Add([]byte{formatVersion})
	f.Add(append([]byte{formatVersion}, st.l.tag[:]...))
	now := st.l.nowSec()
	f.Fuzz(func(t *testing.T, b []byte) {
		s, reason := st.l.decode(b, now)
		if reason != "" {
			if s != nil {
				t.Fatalf("set with reason %q", reason)
			}
			return
		}
		for _, id := range []string{"seed-1", "x", ""} {
			if c := s.Count(id); c < 0 || c > st.l.maxCount || (c > 0) != s.Seen(id) {
				t.Fatalf("Count(%q) = %d, Seen %v", id, c, s.Seen(id))
			}
		}
		again := s.encode()
		s2, reason := st.l.decode(again, now)
		if reason != "" {
			t.Fatalf("re-encoded state dropped: %q", reason)
		}
		if third := s2.encode(); !bytes.Equal(third, again) {
			t.Fatalf("re-encoding is not stable:\n%x\n%x", again, third)
		}
		// Every set can take a showing and be saved.
		s.Shown("after")
		if _, err := st.value(s); err != nil && err != ErrTooLarge {
			t.Fatal(err)
		}
	})
}

// TestFuzzSeedsValid: the cookie fuzz target's seeds decode, so the fuzzer
// starts from real states.
func TestFuzzSeedsValid(t *testing.T) {
	st, clk := fuzzStore(t)
	for i, s := range fuzzStates(t, st, clk) {
		v, err := st.value(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, reason := st.decode(v, st.l.nowSec()); reason != "" {
			t.Errorf("state %d: %q", i, reason)
		}
	}
}
