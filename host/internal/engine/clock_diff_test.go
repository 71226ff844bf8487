package engine_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/plugin"
)

// clockRules read the clock every way a rule file can: a schedule, now
// compared with times in two offsets of one zone (the repeated hour of
// Paris's autumn), the hour skipped in spring, a weekday, and a schedule
// across a year's end with an hour and a day.
const clockRules = `
rules:
  - name: summer
    from: 2026-03-29T03:00:00+02:00
    until: 2026-10-25T02:00:00+01:00
    actions: [remove: p]
  - name: repeated-half-hour
    when: now >= "2026-10-25T02:30:00+02:00" and now < "2026-10-25T02:30:00+01:00"
    actions: [remove: p]
  - name: skipped-hour
    when: visitor.hour >= 2 and visitor.hour < 3
    actions: [remove: p]
  - name: sunday
    when: visitor.weekday == "sunday"
    actions: [remove: p]
  - name: new-year
    from: 2026-12-31T23:00:00Z
    until: 2027-01-01T01:00:00Z
    when: visitor.weekday == "friday" and visitor.hour == 0
    actions: [remove: p]
`

// clockWant is what each rule of clockRules says at t in loc, by Go's
// time package and the IANA database.
var clockWant = map[string]func(t time.Time, loc *time.Location) bool{
	"summer": func(t time.Time, _ *time.Location) bool {
		return !t.Before(time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)) && t.Before(time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC))
	},
	"repeated-half-hour": func(t time.Time, _ *time.Location) bool {
		return !t.Before(time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)) && t.Before(time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC))
	},
	"skipped-hour": func(t time.Time, loc *time.Location) bool { return t.In(loc).Hour() == 2 },
	"sunday":       func(t time.Time, loc *time.Location) bool { return t.In(loc).Weekday() == time.Sunday },
	"new-year": func(t time.Time, loc *time.Location) bool {
		l := t.In(loc)
		return !t.Before(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)) && t.Before(time.Date(2027, 1, 1, 1, 0, 0, 0, time.UTC)) &&
			l.Weekday() == time.Friday && l.Hour() == 0
	},
}

// TestCompiledAgreesAcrossZones: at instants either side of daylight
// saving changes, a year's end and offsets of half and three quarters of
// an hour, the compiled module, the reference evaluator and Go's time
// package say the same of every rule that reads the clock.
func TestCompiledAgreesAcrossZones(t *testing.T) {
	p, err := compiler.Check("clock.yaml", []byte(clockRules))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mod := load(t, newEngine(t, engine.Config{PoolSize: 1}), p)
	ev, err := eval.New(p)
	if err != nil {
		t.Fatal(err)
	}

	var instants []time.Time
	for _, edge := range []string{
		"2026-03-29T01:00:00Z", // Europe/Paris springs forward
		"2026-10-25T01:00:00Z", // and falls back
		"2026-10-25T00:30:00Z", // the repeated 02:30, first time
		"2026-10-25T01:30:00Z", // and second time
		"2026-03-08T07:00:00Z", // America/New_York springs forward
		"2026-11-01T06:00:00Z", // and falls back
		"2026-04-04T15:00:00Z", // Australia/Lord_Howe goes back half an hour
		"2026-10-03T15:30:00Z", // and forward again
		"2026-12-31T23:00:00Z", // midnight in Paris, a year's end
		"2027-01-01T00:00:00Z",
		"2026-12-31T18:15:00Z", // midnight in Kathmandu
		"2026-12-31T18:30:00Z", // midnight in Kolkata
	} {
		e, err := time.Parse(time.RFC3339, edge)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []time.Duration{-time.Hour, -30 * time.Minute, -time.Second, 0, time.Second, 30 * time.Minute, time.Hour} {
			instants = append(instants, e.Add(d))
		}
	}
	var d plugin.Decision
	for _, zone := range []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Kathmandu", "Etc/GMT+5", "UTC"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range instants {
			vals := clockValues(p.Slots, at, loc)
			if err := mod.Decide(ctx, vals, func(string) bool { return false }, &d); err != nil {
				t.Fatal(err)
			}
			ref := ev.Eval(&eval.Env{Values: vals, Seen: func(string) bool { return false }})
			for i, r := range p.Rules {
				want := clockWant[r.Name](at, loc)
				if d.Has(i) != want || ref.Has(i) != want {
					t.Errorf("%s at %s in %s (%s): wasm %v, reference %v, time package %v",
						r.Name, at.Format(time.RFC3339), zone, at.In(loc).Format("Mon 15:04 -07:00"), d.Has(i), ref.Has(i), want)
				}
			}
		}
	}
}

// clockValues gives the slots the values the proxy's context builder
// gives them at t for a visitor in loc.
func clockValues(slots []plugin.Slot, t time.Time, loc *time.Location) []plugin.Value {
	vals := make([]plugin.Value, len(slots))
	for i, s := range slots {
		switch s.Attr {
		case "now":
			vals[i] = plugin.Value{Str: t.UTC().Format(time.RFC3339), Num: float64(t.Unix()), Number: true, Present: true}
		case "visitor.hour":
			h := t.In(loc).Hour()
			vals[i] = plugin.Value{Str: strconv.Itoa(h), Num: float64(h), Number: true, Present: true}
		case "visitor.weekday":
			vals[i] = plugin.Value{Str: plugin.Weekday(t.In(loc).Weekday()), Present: true}
		}
	}
	return vals
}
