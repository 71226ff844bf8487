package check_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

func TestTargetingConditions(t *testing.T) {
	tests := []struct {
		when string
		want string
	}{
		{`languages contains "DE"`, `languages contains "de"`},
		{`languages in ["de", "fr"]`, `languages contains "de" or languages contains "fr"`},
		{`languages not in ["de"]`, `not languages contains "de"`},
		{`json(cookie("profile"), "tier") == "gold"`, `json(cookie("profile"), "tier") == "gold"`},
		{`json(cookie("profile"), "age") >= 18`, `json(cookie("profile"), "age") >= 18`},
		{`json(header("x-user"), "vip") == true`, `json(header("X-User"), "vip") == "true"`},
		{`json(cookie("p"), "segments") contains "b2b"`, `json(cookie("p"), "segments") contains "b2b"`}, // the array holds it, or the text contains it
		{`semver(header("X-App-Version")) >= "2.3"`, `semver(header("X-App-Version")) >= "2.3.0"`},
		{`json(base64(header("x-userinfo")), "tier") == "gold"`, `json(base64(header("X-Userinfo")), "tier") == "gold"`},
		{`base64(cookie("prefs")) contains "dark"`, `base64(cookie("prefs")) contains "dark"`},
		{`base64(query("n")) >= 3`, `base64(query("n")) >= 3`},
		{`semver(base64(header("X-App"))) >= "2"`, `semver(base64(header("X-App"))) >= "2.0.0"`},
		{`now >= "2026-12-24T00:00:00Z"`, `now >= "2026-12-24T00:00:00Z"`},
		{`visitor.hour >= 18 and visitor.weekday in ["saturday", "sunday"]`, `visitor.hour >= 18 and visitor.weekday in ["saturday", "sunday"]`},
		{`geo.within(45.76, 4.83, 50)`, `distance from (45.76,4.83) <= 50`},
		{`geo.continent == "eu"`, `geo.continent == "EU"`},
		{`device.bot or device.browser == "Firefox"`, `device.bot or device.browser == "firefox"`},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			p, err := checkSrc(t, rule(tt.when, ""))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Format(p.Rules[0].Cond); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// A list's test is for the item between separators, as the list is
	// stored, which Format writes as the item.
	p, err := checkSrc(t, rule(`languages contains "DE"`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := p.Rules[0].Cond.(*ir.StrTest); !ok || st.Op != ir.Contains || st.Arg != plugin.ListValue([]string{"de"}) {
		t.Errorf("languages contains \"DE\" is %#v, want a test for the list item \"de\"", p.Rules[0].Cond)
	}
}

const experimentFile = `experiments:
  - name: hero-test
    when: geo.country == "FR"
    variants: { control: 50, bold: 30, video: 20 }
  - name: by-cookie
    by: cookie("uid")
    seed: s1
    variants: { a: 10, b: 10 }
rules:
  - name: bold
    when: variant("hero-test") == "bold"
    actions: [{ set_inner: { select: h1, text: "Variant {{ variant(\"hero-test\") }}" } }]
  - name: enrolled
    when: variant("by-cookie") exists
    actions: [remove: p]
  - name: ramp
    rollout: 20%
    from: 2026-12-01T00:00:00+01:00
    until: 2027-01-01T00:00:00+01:00
    actions: [remove: p]
`

func TestExperimentsAndRollouts(t *testing.T) {
	p, err := checkSrc(t, experimentFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Experiments) != 2 {
		t.Fatalf("%d experiments", len(p.Experiments))
	}
	x := p.Experiments[0]
	if w := x.Weights; len(w) != 3 || w[0] != 5000 || w[1] != 3000 || w[2] != 2000 {
		t.Errorf("weights %v", w)
	}
	if s := p.Slots[x.Bucket]; s.Attr != "bucket" || s.Arg != "hero-test" || s.From.Attr != "visitor.id" {
		t.Errorf("bucket slot %+v", s)
	}
	if s := p.Slots[p.Experiments[1].Bucket]; s.Arg != "s1" || s.From.Attr != "cookie" || s.From.Arg != "uid" {
		t.Errorf("bucket by cookie %+v", s)
	}
	if got := p.Format(p.Rules[0].Cond); got != `variant("hero-test") == "bold"` {
		t.Errorf("bold = %s", got)
	}
	if got := p.Format(p.Rules[1].Cond); got != `variant("by-cookie") in ["a", "b"]` {
		t.Errorf("enrolled = %s", got)
	}
	if got := p.Format(p.Rules[2].Cond); got != `now >= "2026-11-30T23:00:00Z" and now < "2026-12-31T23:00:00Z" and bucket(visitor.id, "ramp") < 2000` {
		t.Errorf("ramp = %s", got)
	}
	if part := p.Rules[0].Actions[0].Content[1]; part.Experiment != 1 {
		t.Errorf("variant interpolation = %+v", part)
	}
	_ = plugin.Buckets
}

// TestRolloutAndSchedule: a rollout is a percentage, with or without %;
// one that rounds to no visitor, and an until already past, never match:
// a warning says so, unless the rule is switched off.
func TestRolloutAndSchedule(t *testing.T) {
	for _, tc := range []struct {
		options string
		limit   float64 // the rollout's bucket limit; -1 for none
		warning string  // a part of the one warning, "" for none
	}{
		{"rollout: 20%", 2000, ""},
		{"rollout: 20", 2000, ""},
		{"rollout: 0.5%", 50, ""},
		{"rollout: 1", 100, ""},
		{"rollout: 0%", 0, `rule "r" never matches: rollout: 0% is no visitor`},
		{"rollout: 0", 0, `rollout: 0% is no visitor`},
		{"rollout: 0.001%", 0, "rollout: 0.001% is less than the smallest share, 0.01%"},
		{"enabled: false\n    rollout: 0%", -1, ""},
		{"until: 2020-01-01T00:00:00Z", -1, "rule \"r\" never matches: its `until`, 2020-01-01T00:00:00Z, is past"},
		{"until: 2999-01-01T00:00:00Z", -1, ""},
		{"enabled: false\n    until: 2020-01-01T00:00:00Z", -1, ""},
	} {
		p, warnings := warningsOf(t, "rules:\n  - name: r\n    "+tc.options+"\n    actions: [remove: p]\n")
		switch {
		case tc.warning == "" && len(warnings) > 0:
			t.Errorf("%s: warned %v", tc.options, warnings)
		case tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0].Msg, tc.warning) || warnings[0].Pos.Line != 3):
			t.Errorf("%s: warned %v, want one at line 3 saying %q", tc.options, warnings, tc.warning)
		}
		if tc.limit >= 0 && !strings.Contains(p.Format(p.Rules[0].Cond), fmt.Sprintf(`bucket(visitor.id, "r") < %g`, tc.limit)) {
			t.Errorf("%s: condition %s, want the bucket below %g", tc.options, p.Format(p.Rules[0].Cond), tc.limit)
		}
	}
}

// TestBase64Errors: base64(...) misused is an error at the argument at
// fault, with how to write it.
func TestBase64Errors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg, hint string
	}{
		{"no argument", rule(`base64() == "x"`, ""), 3, 12, "base64 takes one attribute, found 0 arguments", `write base64(header("X-Userinfo"))`},
		{"two arguments", rule(`base64(cookie("a"), cookie("b")) == "x"`, ""), 3, 12, "base64 takes one attribute, found 2 arguments", "write base64("},
		{"no parentheses", rule(`base64 == "x"`, ""), 3, 12, "base64 needs arguments", `write base64(header("X-Userinfo"))`},
		{"a literal", rule(`base64("eyJ0aWVyIjoiZ29sZCJ9") contains "gold"`, ""), 3, 19, `base64 decodes an attribute of the request, not "eyJ0aWVyIjoiZ29sZCJ9"`, "compare with the decoded text itself"},
		{"a number", rule(`base64(42) == "x"`, ""), 3, 19, "base64 decodes an attribute of the request, not 42", ""},
		{"a number attribute", rule(`base64(visitor.hour) == "x"`, ""), 3, 19, "base64 decodes a text attribute; visitor.hour is a number", "decode a cookie, a header or a query parameter"},
		{"a list attribute", rule(`base64(languages) contains "x"`, ""), 3, 19, "base64 decodes a text attribute; languages is a list", ""},
		{"a JSON value", rule(`base64(json(cookie("p"), "t")) == "x"`, ""), 3, 19, "base64 decodes a text attribute; json(", ""},
		{"twice", rule(`base64(base64(cookie("p"))) == "x"`, ""), 3, 19, "base64 decodes once", ""},
		{"an unknown attribute", rule(`base64(header) == "x"`, ""), 3, 19, "header needs a header name", ""},
		{"json of base64 of the path", rule(`json(base64(path), "a") == "b"`, ""), 3, 17, "json reads a cookie, a header or a query parameter, or one decoded with base64(...), not base64(path)", `write json(base64(header("X-Userinfo")), "email")`},
		{"json of base64 of a literal", rule(`json(base64("e30="), "a") == "b"`, ""), 3, 17, "json reads a cookie, a header or a query parameter", ""},
		{"json of a base64 misused", rule(`json(base64(), "a") == "b"`, ""), 3, 17, "json reads a cookie", ""},
		{"a test's context", rule(`base64(cookie("p")) == "x"`, "") + "tests:\n  - name: t\n    context: { base64(cookie(p)): x }\n    expect: { match: [r] }\n", 8, 16, "base64(...) is computed from a cookie, header or query parameter: give that instead", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkSrc(t, tt.src)
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want errors", err)
			}
			e := list[0]
			if e.Pos.Line != tt.line || e.Pos.Col != tt.col || !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got %d:%d: %q (hint %q), want %d:%d: %q (hint %q)", e.Pos.Line, e.Pos.Col, e.Msg, e.Hint, tt.line, tt.col, tt.msg, tt.hint)
			}
		})
	}
}

func TestTargetingErrors(t *testing.T) {
	tests := []struct {
		name, src string
		msg, hint string
	}{
		{"list equality", rule(`languages == "de"`, ""), "is a list", "contains"},
		{"json source", rule(`json(path, "a") == "b"`, ""), "json reads a cookie, a header or a query parameter", ""},
		{"json path", rule(`json(cookie("p"), "") == "b"`, ""), "JSON path must be", ""},
		{"json pretty", rule(`json(header("x-p"), "a|@fromstr|@pretty") == "b"`, ""), "@pretty costs more, the deeper the visitor's JSON is nested", "@ugly"},
		{"json dig", rule(`json(cookie("p"), "@dig:tier") contains "b"`, ""), "@dig costs more", ""},
		{"bad version", rule(`semver(header("v")) > "two"`, ""), `"two" is not a version`, ""},
		{"bad time", rule(`now > "tomorrow"`, ""), `"tomorrow" is not a time`, "RFC 3339"},
		{"leap second", rule(`now > "2016-12-31T23:59:60Z"`, ""), "is a leap second", `write "2017-01-01T00:00:00Z"`},
		{"leap second in its zone", "rules:\n  - name: r\n    from: 2017-01-01T00:59:60+01:00\n    actions: [remove: p]\n", "is a leap second", "write 2017-01-01T01:00:00+01:00"},
		{"no offset", "rules:\n  - name: r\n    from: 2026-12-01T00:00:00\n    actions: [remove: p]\n", "has no offset", "2026-12-01T00:00:00Z"},
		// ISO 8601 forms RFC 3339 does not take: the time as it is meant.
		{"offset without its colon", "rules:\n  - name: r\n    from: 2026-12-05T10:00:00+0100\n    actions: [remove: p]\n", `"2026-12-05T10:00:00+0100" is not written as RFC 3339 writes a time`, "write 2026-12-05T10:00:00+01:00"},
		{"offset in hours", rule(`now >= "2026-12-05T10:00:00-05"`, ""), `is not written as RFC 3339 writes a time`, `write "2026-12-05T10:00:00-05:00"`},
		{"a space for the T", "rules:\n  - name: r\n    until: 2026-12-05 10:00:00Z\n    actions: [remove: p]\n", `"2026-12-05 10:00:00Z" is not written as RFC 3339 writes a time`, "write 2026-12-05T10:00:00Z"},
		{"a space for the T, no offset", rule(`now >= "2026-12-05 10:00:00"`, ""), "has no offset", `"2026-12-05T10:00:00Z" for UTC`},
		{"within args", rule(`geo.within(45, 4)`, ""), "takes a latitude, a longitude and a distance", ""},
		{"within range", rule(`geo.within(95, 4, 10)`, ""), "latitude 95", ""},
		{"unknown experiment", experimentFile + "  - name: x\n    when: variant(\"hero-tset\") == \"bold\"\n    actions: [remove: p]\n", `no experiment is named "hero-tset"`, `"hero-test"`},
		{"unknown variant", experimentFile + "  - name: x\n    when: variant(\"hero-test\") == \"blod\"\n    actions: [remove: p]\n", `has no variant "blod"`, `"bold"`},
		{"weights over 100", "experiments:\n  - name: x\n    variants: { a: 60, b: 50 }\nrules: []\n", "more than 100%", ""},
		{"experiment on variant", "experiments:\n  - name: x\n    variants: { a: 50 }\n  - name: y\n    when: variant(\"x\") == \"a\"\n    variants: { b: 50 }\nrules: []\n", "cannot depend on variants", ""},
		{"schedule order", "rules:\n  - name: r\n    from: 2026-12-02T00:00:00Z\n    until: 2026-12-01T00:00:00Z\n    actions: [remove: p]\n", "`until` is not after `from`", "swap them: from: 2026-12-01T00:00:00Z, until: 2026-12-02T00:00:00Z"},
		{"schedule empty", "rules:\n  - name: r\n    from: 2026-12-02T00:00:00+01:00\n    until: 2026-12-01T23:00:00Z\n    actions: [remove: p]\n", "`until` is not after `from`", "the rule stops applying at its until; give an until later than 2026-12-02T00:00:00+01:00"},
		{"weekday", rule(`visitor.weekday == "sat"`, ""), `"sat" is not a day: visitor.weekday is one of`, `did you mean "saturday"?`},
		{"rollout by number", "rules:\n  - name: r\n    rollout: 10%\n    by: visitor.hour\n    actions: [remove: p]\n", "bucketed by a text attribute", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkSrc(t, tt.src)
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want errors", err)
			}
			e := list[0]
			if !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got %q (hint %q), want %q (hint %q)", e.Msg, e.Hint, tt.msg, tt.hint)
			}
		})
	}
}

// TestNobodyGetsIt: a variant whose share is 0, or rounds to 0, and a
// test that the time is before one past, are warned of: no visitor
// gets them. A variant held at 0 while an experiment ramps up is meant,
// so the file compiles; a start that passed says nothing.
func TestNobodyGetsIt(t *testing.T) {
	for _, tc := range []struct {
		src     string
		warning string // a part of the one warning, at line 3; "" for none
	}{
		{"experiments:\n  - name: x\n    variants: { a: 100, b: 0 }\nrules:\n  - name: r\n    actions: [remove: p]\n", `variant "b" of experiment "x" is given to no visitor, so a rule that tests for it never matches: 0% is no visitor`},
		{"experiments:\n  - name: x\n    variants: { a: 99.999, b: 0.001% }\nrules:\n  - name: r\n    actions: [remove: p]\n", "0.001% is less than the smallest share, 0.01%"},
		{"experiments:\n  - name: x\n    variants: { a: 99.99, b: 0.01% }\nrules:\n  - name: r\n    actions: [remove: p]\n", ""},
		{"rules:\n  - name: r\n    when: now < \"2020-01-01T00:00:00Z\"\n    actions: [remove: p]\n", "`now < \"2020-01-01T00:00:00Z\"` never holds: that time is past"},
		{"rules:\n  - name: r\n    when: geo.country == \"FR\" or now <= \"2020-01-01T00:00:00+01:00\"\n    actions: [remove: p]\n", "never holds: that time is past"},
		{"rules:\n  - name: r\n    when: now < \"2999-01-01T00:00:00Z\"\n    actions: [remove: p]\n", ""},
		{"rules:\n  - name: r\n    when: now >= \"2020-01-01T00:00:00Z\"\n    actions: [remove: p]\n", ""},
	} {
		_, warnings := warningsOf(t, tc.src)
		switch {
		case tc.warning == "" && len(warnings) > 0:
			t.Errorf("%s: warned %v", tc.src, warnings)
		case tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0].Msg, tc.warning) || warnings[0].Pos.Line != 3):
			t.Errorf("%s: warned %v, want one at line 3 saying %q", tc.src, warnings, tc.warning)
		}
	}
}

// warningsOf checks src, which must have no errors, and returns its
// program and warnings.
func warningsOf(t *testing.T, src string) (*ir.Program, diag.List) {
	t.Helper()
	f, err := syntax.Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	p, list := check.Run(f)
	if errs := list.Errors(); len(errs) > 0 {
		t.Fatalf("%s: %v", src, errs)
	}
	return p, list.Warnings()
}

// TestWeightsAddingUpTo100EnrollEveryone: weights written finer than a
// bucket (0.01%) that add up to 100% give every bucket to a variant, each
// variant within a bucket of its weight; weights on the 0.01% grid get
// exactly their buckets, as before. Rounded one by one, 12.345% and
// 87.655% were 1,235 and 8,766 buckets, and the file was refused as
// adding up to "100%, more than 100%".
func TestWeightsAddingUpTo100EnrollEveryone(t *testing.T) {
	for _, weights := range [][]float64{
		{12.345, 87.655},
		{33.335, 33.335, 33.33},
		{0.005, 99.995},
		{16.665, 16.665, 16.665, 16.665, 16.665, 16.675},
		{50, 30, 20},
		{0.01, 99.99},
		{1, 99},
	} {
		var b strings.Builder
		b.WriteString("experiments:\n  - name: x\n    variants: {")
		for i, w := range weights {
			fmt.Fprintf(&b, " v%d: %g%%,", i, w)
		}
		b.WriteString(" }\nrules: []\n")
		p, err := checkSrc(t, b.String())
		if err != nil {
			t.Errorf("%v: %v", weights, err)
			continue
		}
		got := p.Experiments[0].Weights
		total := 0
		for i, w := range got {
			total += w
			want := weights[i] * plugin.Buckets / 100
			if math.Abs(float64(w)-want) >= 1 {
				t.Errorf("%v: variant %d gets %d buckets, not within one of %g", weights, i, w, want)
			}
			if want == math.Round(want) && float64(w) != want {
				t.Errorf("%v: variant %d gets %d buckets, not its %g", weights, i, w, want)
			}
		}
		if total != plugin.Buckets {
			t.Errorf("%v: weights %v leave %d buckets out", weights, got, plugin.Buckets-total)
		}
	}
	_, err := checkSrc(t, "experiments:\n  - name: x\n    variants: { a: 50.005%, b: 50% }\nrules: []\n")
	if err == nil || !strings.Contains(err.Error(), "add up to 100.005%") {
		t.Errorf("weights over 100%% by less than a bucket: %v", err)
	}
}

// TestJSONConditionPathForm: a json() path written in another path
// language, which gjson reads as one key a visitor's JSON seldom has,
// is warned of with its gjson form, as the path of a JSON edit is: the
// rule of json(cookie("p"), "$.tier") == "gold" never matched, with no
// word from check.
func TestJSONConditionPathForm(t *testing.T) {
	for _, tt := range []struct{ cond, form string }{
		{`json(cookie("p"), "$.tier") == "gold"`, `"tier"`},
		{`json(header("x-p"), "segments[0]") == "a"`, `"segments.0"`},
		{`json(cookie("p"), "/user/tier") == "gold"`, `"user.tier"`},
		{`json(cookie("p"), "user.tier") == "gold"`, ""},
		{`json(cookie("p"), "segments.#") > 2`, ""},
	} {
		_, warnings := warningsOf(t, rule(tt.cond, ""))
		switch {
		case tt.form == "" && len(warnings) > 0:
			t.Errorf("%s: warned %v", tt.cond, warnings)
		case tt.form != "" && (len(warnings) != 1 || !strings.Contains(warnings[0].Hint, tt.form) || warnings[0].Code != "json-path-form"):
			t.Errorf("%s: warned %v, want one with the hint %s", tt.cond, warnings, tt.form)
		}
	}
}
