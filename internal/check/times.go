package check

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
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

// errTimeForm is a time in a form of ISO 8601 that RFC 3339 does not
// take (a space for the T, an offset without its colon, +0100, or in
// hours, -05), which reads as one time once respelled.
var errTimeForm = errors.New("is not written as RFC 3339 writes a time")

// isoOffset matches a time whose offset lacks its colon or its minutes.
var isoOffset = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(\d\d)?$`)

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
		if r := respell(u); r != u {
			if t, err := parseTime(r); err == nil || err == errFraction {
				return t, errTimeForm
			} else if err == errNoOffset {
				return t, err
			}
		}
		if err := outOfRange(u); err != nil {
			return t, err
		}
		return t, errNotTime
	case t.Nanosecond() != 0:
		return t, errFraction
	}
	return t, nil
}

// rfc3339Fields matches a time written as RFC 3339 writes one, whatever
// its numbers.
var rfc3339Fields = regexp.MustCompile(`^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:Z|([+-])(\d\d):(\d\d))$`)

// timeRange is a time whose number, the field's (a month, 13), is out
// of its range (01 to 12, or that month's days for a day).
type timeRange struct {
	field, value, lo, hi, in string
}

func (e *timeRange) Error() string {
	return fmt.Sprintf("is not a time: its %s, %s, is out of range, %s to %s%s", e.field, e.value, e.lo, e.hi, e.in)
}

// outOfRange says which number of u, an upper-cased time written as RFC
// 3339 writes one, is out of its range (2026-13-05: its month); nil
// when u is not so written, or none is. "is not a time" alone left the
// editor to find the 13 among the numbers.
func outOfRange(u string) error {
	m := rfc3339Fields.FindStringSubmatch(u)
	if m == nil {
		return nil
	}
	n := func(s string) int {
		v, _ := strconv.Atoi(s)
		return v
	}
	year, month := n(m[1]), n(m[2])
	days := time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	switch {
	case month < 1 || month > 12:
		return &timeRange{"month", m[2], "01", "12", ""}
	case n(m[3]) < 1 || n(m[3]) > days:
		return &timeRange{"day", m[3], "01", strconv.Itoa(days), " in " + m[1] + "-" + m[2]}
	case n(m[4]) > 23:
		return &timeRange{"hour", m[4], "00", "23", ""}
	case n(m[5]) > 59:
		return &timeRange{"minute", m[5], "00", "59", ""}
	case n(m[6]) > 59:
		return &timeRange{"second", m[6], "00", "59", ""}
	case m[7] != "" && (n(m[8]) > 23 || n(m[9]) > 59):
		return &timeRange{"offset", m[7] + m[8] + ":" + m[9], "-23:59", "+23:59", ""}
	}
	return nil
}

// respell writes u, an upper-cased time in a form of ISO 8601, as RFC
// 3339 writes it, as far as it can: 2026-12-05 10:00:00+0100 is
// 2026-12-05T10:00:00+01:00.
func respell(u string) string {
	if len(u) > 11 && u[10] == ' ' {
		u = u[:10] + "T" + strings.TrimLeft(u[11:], " ")
	}
	if m := isoOffset.FindStringSubmatch(u); m != nil {
		minutes := m[3]
		if minutes == "" {
			minutes = "00"
		}
		u = m[1] + m[2] + ":" + minutes
	}
	return u
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
	if r, ok := err.(*timeRange); ok {
		art := "a"
		if r.field == "offset" {
			art = "an"
		}
		return fmt.Sprintf("write %s %s from %s to %s", art, r.field, r.lo, r.hi)
	}
	switch err {
	case errFraction, errLeapSecond, errTimeForm:
		return "write " + q(t.Truncate(time.Second).Format(time.RFC3339))
	case errNoOffset:
		w := t.Format("2006-01-02T15:04:05")
		return "add the offset of the zone meant: " + q(w+"Z") + " for UTC, " + q(w+"+01:00") + " for Paris in winter"
	}
	return "write an RFC 3339 time with its offset, such as " + example
}
