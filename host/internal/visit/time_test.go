package visit

import (
	"testing"
	"time"
)

// TestParseTime: the time of a simulated request is read as rule files
// read from and until: RFC 3339, its T and Z in either case as the RFC
// allows, spaces around it ignored; a time without its offset is refused.
func TestParseTime(t *testing.T) {
	want := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"2026-12-05T20:00:00Z", true},
		{"2026-12-05t20:00:00z", true},
		{"2026-12-05T21:00:00+01:00", true},
		{"2026-12-05t15:00:00-05:00", true},
		{"2026-12-05T20:00:00-00:00", true},
		{" 2026-12-05T20:00:00Z ", true},
		{"2026-12-05T20:00:00", false},
		{"2026-12-05", false},
		{"tomorrow", false},
	} {
		got, err := ParseTime(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseTime(%q): error %v, want ok %v", c.in, err, c.ok)
			continue
		}
		if c.ok && !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, want %v", c.in, got, want)
		}
	}
}
