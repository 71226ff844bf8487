package check_test

import (
	"cmp"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/check"
)

// TestTimezoneNames: geo.timezone is compared with the names of the IANA
// database, those of one word included (GMT, EST5EDT, Japan, which a
// location may send and the proxy reads), on every machine alike: the
// copies a system keeps beside it (right/, posix/) and its own files
// (posixrules, localtime) are no names of the database. An old name
// is compared as the zone's current one, as the host reads a visitor's.
func TestTimezoneNames(t *testing.T) {
	for _, c := range []struct {
		name, err string
		norm      string // the value rules compare, when not name itself
	}{
		{"Europe/Paris", "", ""},
		{"America/Argentina/Buenos_Aires", "", ""},
		{"UTC", "", ""},
		{"Etc/GMT+5", "", ""},
		{"US/Eastern", "", "America/New_York"},
		{"Asia/Calcutta", "", "Asia/Kolkata"},
		{"Europe/Kiev", "", "Europe/Kyiv"},
		{"Etc/UTC", "", "UTC"},
		{"Iceland", "", "Atlantic/Reykjavik"},
		{"Europe/Busingen", "", ""},
		{"GMT", "", ""},
		{"EST5EDT", "", "America/New_York"},
		{"Japan", "", "Asia/Tokyo"},
		{"Factory", "", ""},
		{"europe/paris", `did you mean "Europe/Paris"?`, ""},
		{"utc", `did you mean "UTC"?`, ""},
		{"Paris", "is no time zone of the IANA database", ""},
		{"right/Europe/Paris", "is no time zone of the IANA database", ""},
		{"posix/Europe/Paris", "is no time zone of the IANA database", ""},
		{"posixrules", "is no time zone of the IANA database", ""},
		{"localtime", "is no time zone of the IANA database", ""},
		{"Local", "is no time zone of the IANA database", ""},
		{"zone.tab", "is no time zone of the IANA database", ""},
	} {
		norm, err := check.Literal("geo.timezone", c.name)
		if c.err == "" && err == nil && norm != cmp.Or(c.norm, c.name) {
			t.Errorf("%q: compared as %q, want %q", c.name, norm, cmp.Or(c.norm, c.name))
		}
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.name, err, c.err)
		}
	}
}
