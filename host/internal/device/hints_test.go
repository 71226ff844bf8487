package device

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// refHints is what the Client Hints in h mean to the reference reading
// of RFC 9651 (sfv_test.go), written back as plain hints every reader
// reads alike: a field that fails to parse is no field (RFC 9651 4.2: a
// field that fails parsing is ignored), and a field of another type than
// the hint's is none either. Sec-CH-UA's members that are strings are its
// brands, with their "v" parameter when it is a string; a list naming no
// brand counts as sent ("Other"). Names that hold other characters than
// letters and spaces, which no browser device knows holds, become
// "Other", and the quotes and backslashes of other strings "x", so that
// what is left needs no escaping.
func refHints(h http.Header) Hints {
	str := func(key string) (string, bool) {
		lines := h.Values(key)
		if len(lines) == 0 {
			return "", false
		}
		v, err := sfParseField(lines, "item")
		if err != nil {
			return "", false
		}
		s, ok := v.(sfItem).val.(string)
		return s, ok
	}
	quote := func(s string) string {
		return `"` + strings.NewReplacer(`"`, "x", `\`, "x").Replace(s) + `"`
	}
	name := func(s string) string {
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ") != "" {
			return `"Other"`
		}
		return `"` + s + `"`
	}
	var out Hints
	if lines := h.Values("Sec-Ch-Ua-Mobile"); len(lines) > 0 {
		if v, err := sfParseField(lines, "item"); err == nil {
			if b, ok := v.(sfItem).val.(bool); ok {
				out.Mobile = map[bool]string{true: "?1", false: "?0"}[b]
			}
		}
	}
	if s, ok := str("Sec-Ch-Ua-Platform"); ok {
		out.Platform = name(s)
	}
	if s, ok := str("Sec-Ch-Ua-Platform-Version"); ok {
		out.PlatformVersion = quote(s)
	}
	if s, ok := str("Sec-Ch-Ua-Model"); ok {
		out.Model = quote(s)
	}
	if lines := h.Values("Sec-Ch-Ua"); len(lines) > 0 {
		if v, err := sfParseField(lines, "list"); err == nil && len(v.([]sfItem)) > 0 {
			var brands []string
			for _, it := range v.([]sfItem) {
				if n, ok := it.val.(string); ok {
					b := name(n)
					if ver, ok := it.param("v").(string); ok {
						b += ";v=" + quote(ver)
					}
					brands = append(brands, b)
				}
			}
			if len(brands) == 0 {
				brands = []string{`"Other"`}
			}
			out.UA = strings.Join(brands, ", ")
		}
	}
	return out
}

// hintCase is a request's Client Hints header lines, and what it tests.
type hintCase struct {
	what  string
	lines [][2]string
}

// greaseChars are the characters Chromium's GREASE brand puts in "Not?A?Brand"
// (components/embedder_support/user_agent_utils.cc).
var greaseChars = []string{" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_"}

// hintCases builds the requests of the differential: the httpwg's inputs
// as each hint, alone and around a brand device knows, and brand lists
// shaped as browsers send them, with the GREASE brands Chromium makes,
// and as they could arrive.
func hintCases(tb testing.TB) []hintCase {
	var cases []hintCase
	add := func(what string, kv ...string) {
		c := hintCase{what: what}
		for i := 0; i < len(kv); i += 2 {
			c.lines = append(c.lines, [2]string{kv[i], kv[i+1]})
		}
		cases = append(cases, c)
	}
	for _, c := range loadSFCases(tb) {
		what := c.File + " " + c.Name
		for _, key := range []string{"Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform", "Sec-CH-UA-Model", "Sec-CH-UA-Platform-Version"} {
			var kv []string
			for _, r := range c.Raw {
				kv = append(kv, key, r)
			}
			add(what+" as "+key, kv...)
		}
		joined := strings.Join(c.Raw, ", ")
		add(what+" before Brave", "Sec-CH-UA", joined+`, "Brave";v="124"`)
		add(what+" after Brave", "Sec-CH-UA", `"Brave";v="124", `+joined)
		add(what+" as Brave's parameters", "Sec-CH-UA", `"Brave";v="124";`+strings.TrimLeft(joined, " "))
	}
	// Brand lists as Chromium browsers write them, with every GREASE
	// brand, in each place Chromium puts it.
	for _, c1 := range greaseChars {
		for _, c2 := range greaseChars {
			g := `"Not` + c1 + "A" + c2 + `Brand";v="99"`
			add("GREASE first", "Sec-CH-UA", g+`, "Chromium";v="124", "Microsoft Edge";v="124"`)
			add("GREASE between", "Sec-CH-UA", `"Chromium";v="124", `+g+`, "Brave";v="124"`)
			add("GREASE last", "Sec-CH-UA", `"Opera";v="110", "Chromium";v="124", `+g)
		}
	}
	for _, l := range []string{
		`"\"Not\\A;Brand";v="99", "Chromium";v="86", "Google Chrome";v="86"`,
		`"\\Not\"A;Brand";v="99", "Vivaldi";v="85"`,
		`" Not A;Brand";v="99", "Chromium";v="89", "Opera";v="75"`,
		`"Chromium";v="124", "Not;v=\"1\", \"Brave";v="9"`,
		`"x, \"Brave\";v=\"1\"";v="2", "Chromium";v="124"`,
		`"Chromium";v="124";a=1, "Whale";b;v="3"`,
		`"Chromium";v="124", "Brave";rev="7";v="124"`,
		`"Chromium";v="124", "Brave";nv="7";v="124"`,
		`"Chromium";v="124", "Brave";v="7";v="124"`,
		`"Chromium";v="124", "Brave";v=124`,
		`"Chromium";v="124", "Brave";v=124.5`,
		`"Chromium";v="124", "Brave";v=b124`,
		`"Chromium";v="124", "Brave";v`,
		`"Chromium";v="124", "Brave";V="124"`,
		`"Chromium";v="124", "Brave" ;v="124"`,
		`"Chromium";v="124", "Brave"; v="124"`,
		`"Chromium";v="124", "Brave";v= "124"`,
		`"Chromium";v="124",	"Brave";v="124"`,
		`"Chromium";v="124","Brave";v="124"`,
		`  "Chromium";v="124"  ,  "Brave";v="124"  `,
		`"Chromium";v="124", "Brave";v="124",`,
		`"Chromium";v="124",, "Brave";v="124"`,
		`"Chromium";v="124", "Brave";v="124`,
		`"Chromium";v="124" "Brave";v="124"`,
		`"Chromium";v="124", Brave;v="124"`,
		`"Chromium";v="124", ("Brave";v="124")`,
		`"Chromium";v="124", "Brave";v="124" x`,
		`"Chromium";v="124", "Bra\ve";v="124"`,
		`"Chromium";v="124", "Brave";v="12\"4"`,
		`"Chromium";v="124", "Brave";v="12\\4"`,
		`"Chromium";v="124", "Brave";v="124.0.6367.60"`,
		`"Chromium";v="124", "Brave";v=""`,
		`"Chromium";v="124", "Brave "`,
		`"Chromium";v="124", "Not-A.Brand";v="99", "HeadlessChrome";v="124"`,
		`"Chromium";v="124", "Not HeadlessChrome";v="99"`,
		`"Chromium";v="124", "HeadlessChrome";v="124`,
		`"HeadlessChrome"`,
		`"Chromium";v="124"`,
		`"Google Chrome";v="124"`,
		`"Chromium";v=124`,
		`Chromium`,
		`"Chromium";v="1x4"`,
		`1, 2`,
		`"Chromium";v="124", "Br\u00e4ve";v="124"`,
	} {
		add("brand list", "Sec-CH-UA", l)
	}
	add("brands on two lines", "Sec-CH-UA", `"Chromium";v="124"`, "Sec-CH-UA", `"Brave";v="124"`)
	add("brands on two lines, the second empty", "Sec-CH-UA", `"Chromium";v="124"`, "Sec-CH-UA", ``)
	add("brands on two lines, the second invalid", "Sec-CH-UA", `"Brave";v="124"`, "Sec-CH-UA", `"x`)
	for _, m := range []string{"?1", "?0", " ?1 ", "?1;a=2", "?0;v", "?1 ?0", "?1,?1", "?2", "1", `"?1"`, "?true", "?", "?1;", "?1;A"} {
		add("mobile "+m, "Sec-CH-UA-Mobile", m)
		add("mobile "+m+" with a model", "Sec-CH-UA-Mobile", m, "Sec-CH-UA-Model", `"SM-T580"`)
	}
	add("mobile on two lines", "Sec-CH-UA-Mobile", "?1", "Sec-CH-UA-Mobile", "?1")
	add("mobile on two lines that disagree", "Sec-CH-UA-Mobile", "?0", "Sec-CH-UA-Mobile", "?1")
	for _, p := range []string{`"Android"`, `"Windows"`, `"macOS"`, `"Chrome OS"`, `"Linux"`, `"iOS"`, `"Android";a=1`, `"Android" `, `Android`,
		`"Android"x`, `"Android`, `"Android", "Windows"`, `"Andr\"oid"`, `""`, `"Windows";v="15.0.0"`, `"Windows" ;x`} {
		add("platform "+p, "Sec-CH-UA-Platform", p)
		add("platform "+p+", version", "Sec-CH-UA-Platform", p, "Sec-CH-UA-Platform-Version", `"15.0.0"`)
		add("platform "+p+" on two lines", "Sec-CH-UA-Platform", p, "Sec-CH-UA-Platform", `"Android"`)
	}
	for _, v := range []string{`"15.0.0"`, `"0.3.0"`, `"14.0.0";a`, `"14.0.0`, `14.0.0`, `14`, `"1\"4"`, `"10.0"x`, `"13.0.0" "1.0.0"`, `""`} {
		for _, p := range []string{`"Windows"`, `"Android"`, `"macOS"`} {
			add("platform version "+v+" on "+p, "Sec-CH-UA-Platform", p, "Sec-CH-UA-Platform-Version", v)
		}
	}
	for _, m := range []string{`"SM-T580"`, `"SM-G930F"`, `"Pixel 8"`, `"SM-T580";x=1`, `"SM-T580`, `SM-T580`, `"SM-T580" x`, `"SM\"-T580"`, `"SM-T580\\"`, `""`, `"SM-T580", "SM-G930F"`} {
		add("model "+m, "Sec-CH-UA-Model", m, "Sec-CH-UA-Mobile", "?1", "Sec-CH-UA-Platform", `"Android"`)
	}
	return cases
}

// hintAgents are the User-Agents each case of the differential is sent
// with: Chrome's on each system, none at all, and one that is not
// Chrome's.
var hintAgents = []string{winChrome, phoneChrome, tabChrome, linuxChrome, "",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Mobile Safari/537.36"}

// TestHintsFollowRFC9651 sends every case of hintCases, with each of
// hintAgents, through FromRequest and Classify, and checks the result is
// the classification of what the reference reading says the hints mean.
func TestHintsFollowRFC9651(t *testing.T) {
	cases := hintCases(t)
	runs, diffs := 0, 0
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		for _, kv := range c.lines {
			r.Header.Add(kv[0], kv[1])
		}
		want := refHints(r.Header)
		for _, ua := range hintAgents {
			r.Header.Set("User-Agent", ua)
			runs++
			got := Classify(FromRequest(r))
			if exp := Classify(ua, want); got != exp {
				diffs++
				if diffs <= 40 {
					t.Errorf("%s: %s\nUser-Agent %q\n got %+v\nwant %+v (as %+v)", c.what, fmtLines(c.lines), ua, got, exp, want)
				}
			}
		}
	}
	t.Logf("%d cases, %d classifications, %d differ from the reference reading", len(cases), runs, diffs)
}

func fmtLines(lines [][2]string) string {
	var b strings.Builder
	for _, kv := range lines {
		fmt.Fprintf(&b, "%s: %q; ", kv[0], kv[1])
	}
	return b.String()
}

// sfAgree fails t when device's readers (sf.go) read the field lines raw,
// of type typ ("list" or "item"), otherwise than the reference does: an
// item must parse when the reference's does, and read the same string; a
// list must parse when the reference's does and has members, and name
// the same brands with the same "v".
func sfAgree(t *testing.T, raw []string, typ string) {
	t.Helper()
	ref, err := sfParseField(raw, typ)
	h := strings.Join(raw, ", ")
	if typ == "item" {
		kind, _ := sfReadItem(h)
		s, isStr := sfString(h)
		want, wantStr := "", false
		if err == nil {
			want, wantStr = ref.(sfItem).val.(string)
		}
		if (kind != sfBad) != (err == nil) || isStr != wantStr || s != want {
			t.Errorf("item %q: device reads %v %q (string %v), the reference %v %q", h, kind != sfBad, s, isStr, err == nil, want)
		}
		return
	}
	var got []string
	ok := sfList(h, func(name, v string) {
		got = append(got, name+";"+v)
	})
	if !ok {
		got = nil
	}
	var want []string
	if err == nil {
		for _, it := range ref.([]sfItem) {
			if name, ok := it.val.(string); ok {
				v, _ := it.param("v").(string)
				want = append(want, name+";"+v)
			}
		}
	}
	// device keeps a brand's escapes, which no brand it knows has.
	unescape := strings.NewReplacer(`\"`, `"`, `\\`, `\`)
	for i := range got {
		got[i] = unescape.Replace(got[i])
	}
	if ok != (err == nil && len(ref.([]sfItem)) > 0) || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("list %q: device reads %v %q, the reference %v %q", h, ok, got, err == nil, want)
	}
}

// TestSFReadersAgree holds device's own readers to the reference on every
// list and item input of the httpwg's tests (but those a parser may
// refuse or not), each also read as a list, and on the hints of
// hintCases.
func TestSFReadersAgree(t *testing.T) {
	n := 0
	for _, c := range loadSFCases(t) {
		if c.CanFail {
			continue
		}
		sfAgree(t, c.Raw, c.HeaderType)
		sfAgree(t, c.Raw, "list")
		n += 2
	}
	for _, c := range hintCases(t) {
		for _, kv := range c.lines {
			typ := "item"
			if kv[0] == "Sec-CH-UA" {
				typ = "list"
			}
			sfAgree(t, []string{kv[1]}, typ)
			n++
		}
	}
	t.Logf("%d inputs read alike", n)
}

// FuzzSFReaders holds device's readers to the reference on any input, as
// an item and as a list.
func FuzzSFReaders(f *testing.F) {
	for _, c := range loadSFCases(f) {
		f.Add(strings.Join(c.Raw, ", "))
	}
	f.Fuzz(func(t *testing.T, h string) {
		sfAgree(t, []string{h}, "item")
		sfAgree(t, []string{h}, "list")
	})
}
