// Package tzname gives a time zone's current name for the old and
// alternative names the tz database keeps (Asia/Calcutta: Asia/Kolkata,
// Europe/Kiev: Europe/Kyiv, US/Eastern: America/New_York), so that a rule
// written with one name matches a visitor whose provider sends the other.
// The rule checker and the host share it: each turns the names it reads
// into the current ones, rules at compile time and visitors per request.
package tzname

// The table is made from the tz source of the release Go's embedded
// database is made from (TZRELEASE, as $GOROOT/lib/time/update.bash
// names it; its files in TZSRC), so that every current name loads on any
// machine.
//go:generate go run gen_links.go -tz $TZSRC -release $TZRELEASE

// Current returns the name the tz database now uses for the zone name
// stands for, or name itself when it is current or unknown. Names are
// case-sensitive, as the database's are.
func Current(name string) string {
	if c, ok := links[name]; ok {
		return c
	}
	return name
}

// Renamed reports whether name is an old or alternative name, and the
// current one.
func Renamed(name string) (string, bool) {
	c, ok := links[name]
	return c, ok
}
