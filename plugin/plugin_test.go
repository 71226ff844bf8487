package plugin

import (
	"testing"
)

// Reference values of MurmurHash3_x86_32 with seed 0, from the algorithm's
// published test suite (SMHasher) and widely used ports.
func TestMurmur3(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"a", 0x3c2569b2},
		{"abc", 0xb3dd93fa},
		{"abcd", 0x43ed676a},
		{"hello", 0x248bfa47},
		{"Hello, world!", 0xc0363e43},
		{"The quick brown fox jumps over the lazy dog", 0x2e4ff723},
	}
	for _, tt := range tests {
		if got := murmur3(tt.in); got != tt.want {
			t.Errorf("murmur3(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestSemverNumber(t *testing.T) {
	order := []string{"0.9", "1.0.0-alpha", "1.0.0", "v1.0.1", "1.2", "1.10.0", "2.0.0-rc.1", "2", "10.0.0+build.5", "2024.11.1"}
	prev := -1.0
	for _, s := range order {
		v, ok := SemverNumber(s)
		if !ok {
			t.Fatalf("%q did not parse", s)
		}
		if v <= prev {
			t.Errorf("%q (%v) does not sort after the previous version (%v)", s, v, prev)
		}
		prev = v
	}
	if a, _ := SemverNumber("1.2"); a != mustSemver("1.2.0") {
		t.Error("1.2 != 1.2.0")
	}
	for _, bad := range []string{"", "v", "a.b", "1..2", "1.2.3.4", "-1", "9000.0.0", "1.1000000"} {
		if _, ok := SemverNumber(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func mustSemver(s string) float64 { v, _ := SemverNumber(s); return v }

func TestListValue(t *testing.T) {
	v := ListValue([]string{"fr", "en"})
	if v != "\x00fr\x00en\x00" || !IsList(v) {
		t.Fatalf("ListValue = %q", v)
	}
	if got := ListItems(v); len(got) != 2 || got[0] != "fr" || got[1] != "en" {
		t.Fatalf("ListItems = %q", got)
	}
	if ListItems(ListValue(nil)) != nil {
		t.Fatal("empty list has items")
	}
}

// TestSlotString: a slot is written as the rule file writes its
// attribute, for explain and test failures; a cap's count in at_most's
// own words.
func TestSlotString(t *testing.T) {
	for _, tt := range []struct {
		slot Slot
		want string
	}{
		{Slot{Attr: "geo.country"}, "geo.country"},
		{Slot{Attr: "query", Arg: "ref"}, `query("ref")`},
		{Slot{Attr: "geo.distance", Arg: "45.764,4.8357"}, "distance from (45.764,4.8357)"},
		{Slot{Attr: "cap", Arg: "86400:popup"}, `views of "popup" per 1d`},
		{Slot{Attr: "cap", Arg: "604800:promo"}, `views of "promo" per 7d`},
		{Slot{Attr: "cap", Arg: "5400:promo"}, `views of "promo" per 90m`},
	} {
		if got := tt.slot.String(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.slot, got, tt.want)
		}
	}
}
