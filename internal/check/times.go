package check

import (
	"errors"
	"strings"
	"time"
)

// errFraction is a time with a fraction of a second: the proxy's clock, as
// the rules read it, counts whole seconds, so the fraction would be lost
// without a word.
var errFraction = errors.New("has a fraction of a second; times are to the second")

// errNotTime is a text that is no RFC 3339 time.
var errNotTime = errors.New("is not a time")

// parseTime reads an RFC 3339 time (its T and Z in either case, as the
// RFC allows), to the second.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.ToUpper(strings.TrimSpace(v)))
	switch {
	case err != nil:
		return t, errNotTime
	case t.Nanosecond() != 0:
		return t, errFraction
	}
	return t, nil
}

// timeHint is the fix parseTime's error calls for, given what it read:
// the time to the second, or an example (quoted as the place it was found
// quotes one).
func timeHint(t time.Time, err error, example string) string {
	if err == errFraction {
		w := t.Truncate(time.Second).Format(time.RFC3339)
		if strings.HasPrefix(example, `"`) {
			w = `"` + w + `"`
		}
		return "write " + w
	}
	return "write an RFC 3339 time with its offset, such as " + example
}
