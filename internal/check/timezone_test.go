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

// TestTimezoneAbbreviationWarned: a zone named after its offset (CET,
// EST, PST8PDT) is now a name of one place's zone in the database (CET
// of Europe/Brussels, EST of America/Panama), so a rule meant for all
// of Central European Time holds only for that place: a warning, with
// the place it stands for. A place's name is not warned of.
func TestTimezoneAbbreviationWarned(t *testing.T) {
	for _, tc := range []struct{ when, want string }{
		{`geo.timezone == "CET"`, `r.yaml:3:28: warning: "CET" stands for Europe/Brussels alone: the time zone database makes this name of an offset a name of that place's zone, and a visitor's zone is their place's (Europe/Paris, Europe/Berlin); list the zones meant: geo.timezone in ["Europe/Paris", "Europe/Berlin"], or test the hour with visitor.hour`},
		{`geo.timezone in ["Europe/Paris", "EST"]`, `"EST" stands for America/Panama alone`},
		{`geo.timezone != "PST8PDT"`, `"PST8PDT" stands for America/Los_Angeles alone`},
		{`geo.timezone == "Europe/Paris"`, ""},
		{`geo.timezone == "US/Eastern"`, ""}, // a place's old name
		{`geo.timezone == "UTC"`, ""},
	} {
		expectWarning(t, tc.when, tc.want)
	}
}
