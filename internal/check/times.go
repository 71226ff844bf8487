package check

import (
	"errors"
	"regexp"
	"strings"
	"time"
)

// errFraction is a time with a fraction of a second: the proxy's clock, as
// the rules read it, counts whole seconds, so the fraction would be lost
// without a word.
var errFraction = errors.New("has a fraction of a second; times are to the second")

// errNotTime is a text that is no RFC 3339 time.
var errNotTime = errors.New("is not a time")

// errLeapSecond is a time in a leap second (23:59:60Z), which RFC 3339
// allows: the proxy's clock, as Unix time, never reads it, and Go's
// parser refuses it, so the error names the second after it.
var errLeapSecond = errors.New("is a leap second, which the proxy's clock never reads")

// errNoOffset is a date and time without its offset: it names no instant
// until its zone is known, and the rules are read in no zone of their own.
var errNoOffset = errors.New("has no offset, so it names no instant")

// leapSecond matches a time whose seconds are 60, after upper-casing.
var leapSecond = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d):60((?:\.\d+)?(?:Z|[+-]\d\d:\d\d))$`)

// parseTime reads an RFC 3339 time (its T and Z in either case, as the
// RFC allows), to the second. On errLeapSecond it returns the second
// after, and on errNoOffset the time read as UTC, for timeHint.
func parseTime(v string) (time.Time, error) {
	u := strings.ToUpper(strings.TrimSpace(v))
	t, err := time.Parse(time.RFC3339, u)
	switch {
	case err != nil:
		if m := leapSecond.FindStringSubmatch(u); m != nil {
			if t, err := time.Parse(time.RFC3339, m[1]+":59"+m[2]); err == nil {
				return t.Truncate(time.Second).Add(time.Second), errLeapSecond
			}
		}
		if t, err := time.Parse("2006-01-02T15:04:05", u); err == nil {
			return t, errNoOffset
		}
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
	q := func(w string) string {
		if strings.HasPrefix(example, `"`) {
			return `"` + w + `"`
		}
		return w
	}
	switch err {
	case errFraction, errLeapSecond:
		return "write " + q(t.Truncate(time.Second).Format(time.RFC3339))
	case errNoOffset:
		w := t.Format("2006-01-02T15:04:05")
		return "add the offset of the zone meant: " + q(w+"Z") + " for UTC, " + q(w+"+01:00") + " for Paris in winter"
	}
	return "write an RFC 3339 time with its offset, such as " + example
}
