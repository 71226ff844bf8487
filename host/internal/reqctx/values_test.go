package reqctx_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestJSONRepeatedKeys: of a key repeated in one object, json() reads the
// last, as JSON.parse, encoding/json and bespoke's JSON edits do; a path
// that computes a value is gjson's.
func TestJSONRepeatedKeys(t *testing.T) {
	tests := []struct {
		doc, path, want string
	}{
		{`{"tier":"free","tier":"gold"}`, "tier", "gold"},
		{`{"a":{"b":1},"a":{"b":2}}`, "a.b", "2"},
		{`{"a":{"b":1},"a":{"c":2}}`, "a.b", ""}, // the last "a" has no b
		{`{"a":[1,2],"a":[3,4,5]}`, "a.2", "5"},
		{`{"items":[{"id":"x","id":"y"}]}`, "items.0.id", "y"},
		{`{"items":[{"id":"x","n":1},{"id":"y","n":2}]}`, `items.#(id=="y").n`, "2"},
		{`{"a.b":1,"a.b":3}`, `a\.b`, "3"},
		{`{"ti\u0065r":"free","tier":"gold"}`, "tier", "gold"}, // escaped key
		{`{"tier":"gold"}`, "@this", `{"tier":"gold"}`},
		{`{"seg":["a","b"],"seg":["c"]}`, "seg", plugin.ListValue([]string{"c"})},
		{`{"x":1,"x":2}`, "x|@reverse", "1"},            // computed: gjson reads the first
		{`{"items":[1,2,3]}`, "items.#", "3"},           // computed
		{`{"tier":"free","tier":"gold"`, "tier", ""},    // malformed: no value
		{`{"tier":null,"tier":true}`, "tier", "true"},   // the last, a yes/no
		{`{"tier":true,"tier":null}`, "tier", ""},       // null is no value
		{`{"tie*":1,"tiger":2,"tiger":3}`, "tig*", "3"}, // wildcard: first key, last member
		{`[{"a":1,"a":2}]`, "0.a", "2"},                 // a document that is an array
		{`{"n":"12","n":"7"}`, "n", "7"},                // a number in text
		{`{"0":"key","0":"last"}`, "0", "last"},         // an index on an object is a key
		{`{"deep":{"deeper":{"k":1,"k":2}}}`, "deep.deeper.k", "2"},
	}
	for _, tt := range tests {
		got := reqctx.JSONValue(tt.doc, tt.path)
		if got.Str != tt.want || got.Present != (tt.want != "") {
			t.Errorf("json(%s, %q) = %q (present %v), want %q", tt.doc, tt.path, got.Str, got.Present, tt.want)
		}
	}
}

// TestJSONValueTypes: what json() makes of a JSON value's type. A yes/no
// is no number (json(...) >= 0 used to hold for true, as 1); a NUL in a
// text, which separates a list value's items, is replaced (a text that
// began with one read as a list, an item that held one as two).
func TestJSONValueTypes(t *testing.T) {
	for _, tt := range []struct {
		doc, path, str string
		number         bool
	}{
		{`{"n":true}`, "n", "true", false},
		{`{"n":false}`, "n", "false", false},
		{`{"n":1}`, "n", "1", true},
		{`{"n":"2.5"}`, "n", "2.5", true},
		{`{"n":"0x10"}`, "n", "0x10", false},
		{`{"a":"\u0000xy"}`, "a", "\ufffdxy", false},
		{`{"a":["a\u0000b"]}`, "a", plugin.ListValue([]string{"a\ufffdb"}), false},
	} {
		got := reqctx.JSONValue(tt.doc, tt.path)
		if got.Str != tt.str || got.Number != tt.number || !got.Present {
			t.Errorf("json(%s, %q) = %q number %v present %v; want %q number %v", tt.doc, tt.path, got.Str, got.Number, got.Present, tt.str, tt.number)
		}
		if plugin.IsList(got.Str) != strings.HasPrefix(tt.str, plugin.ListSep) {
			t.Errorf("json(%s, %q): read as a list %v", tt.doc, tt.path, plugin.IsList(got.Str))
		}
	}
}

// TestJSONAgainstEncodingJSON compares json() on paths of keys and
// indexes with encoding/json, which keeps the last of repeated keys, on
// random documents that repeat keys.
func TestJSONAgainstEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	keys := []string{"a", "b", "tier", "0", "1"}
	var gen func(depth int) string
	gen = func(depth int) string {
		switch n := rng.IntN(10); {
		case depth > 3 || n < 3:
			return []string{`1`, `"x"`, `true`, `null`, `"y z"`, `2.5`, `false`}[rng.IntN(7)]
		case n < 7:
			var members []string
			for range rng.IntN(5) {
				members = append(members, strconv.Quote(keys[rng.IntN(len(keys))])+":"+gen(depth+1))
			}
			return "{" + strings.Join(members, ",") + "}"
		default:
			var elems []string
			for range rng.IntN(4) {
				elems = append(elems, gen(depth+1))
			}
			return "[" + strings.Join(elems, ",") + "]"
		}
	}
	compared := 0
	for range 20000 {
		doc := gen(0)
		var steps []string
		for range 1 + rng.IntN(3) {
			steps = append(steps, keys[rng.IntN(len(keys))])
		}
		path := strings.Join(steps, ".")
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			switch x := v.(type) {
			case map[string]any:
				v = x[s]
			case []any:
				i, err := strconv.Atoi(s)
				if err != nil || i >= len(x) {
					v = nil
				} else {
					v = x[i]
				}
			default:
				v = nil
			}
		}
		got := reqctx.JSONValue(doc, path)
		var want string
		switch x := v.(type) {
		case nil:
		case string:
			want = x
		case bool:
			want = strconv.FormatBool(x)
		case float64:
			want = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			continue // objects and arrays: their raw text, compared elsewhere
		}
		compared++
		if got.Str != want || got.Present != (v != nil) {
			t.Fatalf("json(%s, %q) = %q (present %v); encoding/json reads %v", doc, path, got.Str, got.Present, v)
		}
	}
	if compared < 5000 {
		t.Fatalf("only %d compared", compared)
	}
}

// TestVisitorCookieRepeated: a browser sends one visitor cookie per path
// and domain that set one; the first well-formed id counts, so a stale
// broken copy does not make the visitor new on every request.
func TestVisitorCookieRepeated(t *testing.T) {
	const good, other = "SS8XO6uv2zSg2ypxEN1yfw", "AAAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		cookies []string
		id      string // "" is a new visitor
	}{
		{[]string{"bsk_vid=" + good}, good},
		{[]string{"bsk_vid=bad; bsk_vid=" + good}, good},
		{[]string{"bsk_vid=bad", "bsk_vid=" + good}, good},
		{[]string{"bsk_vid=" + other + "; bsk_vid=" + good}, other},
		{[]string{"bsk_vid=bad; bsk_vid=worse"}, ""},
		{[]string{"x=1; bsk_vid=\"" + good + "\""}, good},
		{nil, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		for _, c := range tt.cookies {
			r.Header.Add("Cookie", c)
		}
		v := reqctx.ResolveVisitor(r)
		if tt.id != "" && (v.ID != tt.id || v.New || v.Persist) || tt.id == "" && (!v.New || !reqctx.ValidID(v.ID)) {
			t.Errorf("%q: visitor %+v, want id %q", tt.cookies, v, tt.id)
		}
	}
}

// TestTimeZoneHeader: a CDN's zone that no database holds is no
// geo.timezone, and the visitor's hour is then the country's.
func TestTimeZoneHeader(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	b := reqctx.NewBuilder(reqctx.Config{Now: func() time.Time { return now }}, []plugin.Slot{{Attr: "visitor.hour"}, {Attr: "geo.timezone"}})
	tests := []struct {
		country, zone string
		hour          string
		tz            string
	}{
		{"FR", "Europe/Paris", "14", "Europe/Paris"},
		{"FR", "America/New_York", "8", "America/New_York"}, // the zone wins
		{"FR", "europe/paris", "14", ""},
		{"FR", "Europe/Pariss", "14", ""},
		{"FR", "GMT+1", "14", ""},
		{"FR", "Local", "14", ""}, // never the server's own zone
		{"US", "Mars/Olympus", "12", ""},
		{"", "Asia/Tokyo", "21", "Asia/Tokyo"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		if tt.country != "" {
			r.Header.Set("CF-IPCountry", tt.country)
		}
		r.Header.Set("CF-Timezone", tt.zone)
		vals := b.Build(r, reqctx.Visitor{}, nil)
		if vals[0].Str != tt.hour || vals[1].Str != tt.tz || vals[1].Present != (tt.tz != "") {
			t.Errorf("%s %q: hour %s, geo.timezone %q; want %s, %q", tt.country, tt.zone, vals[0].Str, vals[1].Str, tt.hour, tt.tz)
		}
	}
}

// TestQueryAsBrowsersRead compares query() with URLSearchParams's reading
// (the WHATWG URL standard's application/x-www-form-urlencoded parser):
// only & separates pairs, names and values are decoded, and a % that
// begins no escape is kept (url.ParseQuery skips the pair).
// TestQueryAsChromiumReads compares with the browser itself.
func TestQueryAsBrowsersRead(t *testing.T) {
	tests := []struct {
		query, key, want string
		ok               bool
	}{
		{"a=1;b=2", "a", "1;b=2", true},
		{"a=1;b=2", "b", "", false},
		{"a+b=6", "a b", "6", true},
		{"a+b=6", "a+b", "", false},
		{"a%2Bb=6", "a+b", "6", true},
		{"a%20b=7&a+b=8", "a b", "7", true},
		{"ref=news%2Dletter", "ref", "news-letter", true},
		{"q=a+b", "q", "a b", true},
		{"q=%zz&q=2", "q", "%zz", true},
		{"promo=50%", "promo", "50%", true},
		{"&=v", "", "v", true},
		{"%zz=1&x=2", "x", "2", true},
		{"x", "x", "", true},
		{"x=&x=2", "x", "", true},
		{"&&x=3", "x", "3", true},
	}
	for _, tt := range tests {
		got, ok := reqctx.Query(tt.query, tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Query(%q, %q) = %q, %v; want %q, %v", tt.query, tt.key, got, ok, tt.want, tt.ok)
		}
		// Where url.ParseQuery reads the pair, it agrees.
		if ref, err := url.ParseQuery(tt.query); err == nil && ref.Has(tt.key) {
			if ref.Get(tt.key) != got {
				t.Errorf("Query(%q, %q) = %q; url.ParseQuery reads %q", tt.query, tt.key, got, ref.Get(tt.key))
			}
		}
	}
}

// FuzzJSONValue: json() never fails on a visitor's value, and on a path
// of keys reads what encoding/json reads (the last of repeated keys).
func FuzzJSONValue(f *testing.F) {
	f.Add(`{"tier":"free","tier":"gold"}`, "tier")
	f.Add(`{"a":{"b":[1,2,{"c":"x"}]}}`, "a.b.2.c")
	f.Add(`{"a":1}`, "a|@reverse")
	f.Add(`[{"k":1},{"k":2}]`, `#(k==2).k`)
	f.Fuzz(func(t *testing.T, doc, path string) {
		got := reqctx.JSONValue(doc, path)
		if !strings.ContainsAny(path, `.|#@*?\[]{}!:"`) && path != "" {
			// encoding/json turns invalid UTF-8 and lone surrogates into
			// U+FFFD, where json() keeps what was sent.
			if !utf8.ValidString(doc) || strings.Contains(doc, `\u`) {
				return
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(doc), &v); err != nil {
				return
			}
			x, ok := v[path]
			if !ok || x == nil {
				if got.Present {
					t.Fatalf("json(%s, %q) = %q; encoding/json finds no value", doc, path, got.Str)
				}
				return
			}
			if s, isText := x.(string); isText && (!got.Present || got.Str != s) {
				t.Fatalf("json(%s, %q) = %q (present %v); encoding/json reads %q", doc, path, got.Str, got.Present, s)
			}
		}
	})
}

// TestJSONCostBounded: a path that computes a value (modifiers) costs no
// more than a few times the visitor's value, whatever its shape, within
// the 64 KiB of headers bespoke reads. @pretty indents each line once per
// level of nesting and @dig searches each level again: on a header of
// nested arrays they made 60 MB (1.4 s) and 27 MB; a JSON text in a
// string, which @fromstr reads, escapes the nesting limit of the value
// itself, and pretty-printed 1.8 GB (50 s) for one request.
func TestJSONCostBounded(t *testing.T) {
	nest := func(open, close string, n int, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	arrays := "[" + strings.Repeat(nest("[", "]", 999, "")+",", 30) + "1]"
	objects := "[" + strings.Repeat(nest(`{"a":`, "}", 999, "1")+",", 9) + "1]"
	inString := `{"a":` + strconv.Quote(nest("[", "]", 30000, "")) + `}`
	objInString := `{"a":` + strconv.Quote(nest(`{"a":`, "}", 7000, "1")) + `}`
	tests := []struct {
		name, src, path string
		want            string // "" for no value
	}{
		{"pretty", arrays, "@pretty", ""},
		{"pretty of each", arrays, "#.@pretty", ""},
		{"pretty sorted", objects, `@pretty:{"sortKeys":true}`, ""},
		{"dig", objects, "@dig:a", ""},
		{"dig of each", objects, "#.@dig:a", ""},
		{"pretty from a string", inString, "a|@fromstr|@pretty", ""},
		{"flatten from a string", inString, `a|@fromstr|@flatten:{"deep":true}`, ""},
		{"dig from a string", objInString, "a|@fromstr|@dig:a", ""},
		{"valid from a string", inString, "a|@fromstr|@valid", ""},
		{"escaped brackets in a string", `{"a":"` + strings.Repeat(`\u005b`, 5000) + strings.Repeat(`\u005d`, 5000) + `"}`, "a|@fromstr|@valid", ""},
		{"a string in a string", `{"a":` + strconv.Quote(`{"b":`+strconv.Quote(nest("[", "]", 5000, ""))+`}`) + `}`, "a|@fromstr|b|@fromstr|@valid", ""},
		{"in a query", "[" + inString + "]", `#(a|@fromstr|@pretty=="x").a`, ""},
		{"fromstr in a query", "[" + inString + "]", `#(a|@fromstr|@flatten:{"deep":true}|#==0).a`, ""},
		// What stays: modifiers whose work is that of reading the value.
		{"flatten", arrays, `@flatten:{"deep":true}|#`, "1"},
		{"reverse", arrays, "@reverse|0", "1"},
		{"ugly", `{"a" : [1, 2]}`, "@ugly", `{"a":[1,2]}`},
		{"keys", `{"a":1,"b":2}`, "@keys", plugin.ListValue([]string{"a", "b"})},
		{"fromstr", `{"p":"{\"tier\":\"gold\"}"}`, "p|@fromstr|tier", "gold"},
		{"fromstr nested", `{"p":` + strconv.Quote(nest("[", "]", 900, "7")) + `}`, "p|@fromstr|@flatten:{\"deep\":true}|0", "7"},
		{"an @ in a query's text", `[{"m":"a@pretty.com"}]`, `#(m=="a@pretty.com").m`, "a@pretty.com"},
		{"an escaped @", `{"@pretty":"x"}`, `\@pretty`, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.src) > 64<<10 {
				t.Fatalf("the value is %d bytes, more than a request's headers", len(tt.src))
			}
			// TotalAlloc counts the whole process's allocations, so
			// the least of three calls is the call's own, and the
			// budget has a floor a goroutine of another test's may
			// take: what this holds off is megabytes.
			var got plugin.Value
			alloc := uint64(math.MaxUint64)
			for range 3 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				got = reqctx.JSONValue(tt.src, tt.path)
				runtime.ReadMemStats(&after)
				alloc = min(alloc, after.TotalAlloc-before.TotalAlloc)
			}
			if got.Str != tt.want || got.Present != (tt.want != "") {
				s := got.Str
				if len(s) > 40 {
					s = s[:40] + "…"
				}
				t.Errorf("json(…, %q) = %q (%d bytes, present %v), want %q", tt.path, s, len(got.Str), got.Present, tt.want)
			}
			if alloc > 64*uint64(len(tt.src))+4<<10 {
				t.Errorf("json(…, %q) allocated %d bytes reading a value of %d", tt.path, alloc, len(tt.src))
			}
		})
	}
}

// TestSemverOfJSON: semver() of a JSON value reads the value's text, as
// check accepts it: semver(json(cookie("app"), "version")) had no value
// whatever the cookie held, so a rule on it never applied.
func TestSemverOfJSON(t *testing.T) {
	cookie := &plugin.Slot{Attr: "cookie", Arg: "app"}
	slots := []plugin.Slot{
		{Attr: "semver", From: &plugin.Slot{Attr: "json", Arg: "version", From: cookie}},
		{Attr: "semver", From: &plugin.Slot{Attr: "json", Arg: "v.major", From: cookie}},
	}
	b := reqctx.NewBuilder(reqctx.Config{}, slots)
	for _, tt := range []struct {
		cookie         string
		version, major float64 // 0: no number
	}{
		{`app={"version":"3.10.2","v":{"major":4}}`, 3_000_010_000_002, 4_000_000_000_000},
		{`app={"version":"2"}`, 2_000_000_000_000, 0},
		{`app={"version":"x"}`, 0, 0},
		{`app={"version":`, 0, 0},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", tt.cookie)
		vals := b.Build(r, reqctx.Visitor{}, nil)
		for i, want := range []float64{tt.version, tt.major} {
			if got := vals[i]; got.Number != (want != 0) || got.Num != want {
				t.Errorf("%s of %s = %+v, want %v", slots[i], tt.cookie, got, want)
			}
		}
	}
}

// TestHostValue: host is the name alone, lower-case, as SYNTAX says: a
// Host written in capitals, with a port, or with the trailing dot of a
// fully qualified name ("shop.example." is shop.example, as browsers and
// DNS read it) is the name a rule compares with.
func TestHostValue(t *testing.T) {
	b := reqctx.NewBuilder(reqctx.Config{}, []plugin.Slot{{Attr: "host"}})
	for host, want := range map[string]string{
		"shop.example":       "shop.example",
		"shop.example:8080":  "shop.example",
		"Shop.EXAMPLE":       "shop.example",
		"shop.example.":      "shop.example",
		"shop.example.:8443": "shop.example",
		"[::1]:8080":         "::1",
		"[2001:DB8::1]":      "2001:db8::1",
		"127.0.0.1:80":       "127.0.0.1",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		if got := b.Build(r, reqctx.Visitor{}, nil)[0]; got.Str != want {
			t.Errorf("host of %q = %q, want %q", host, got.Str, want)
		}
	}
}

// TestPathValue: path is the one the origin serves and routes match:
// dot segments resolved, repeated slashes merged. A rule on the
// members' pages (path starts_with "/members/") did not apply to
// /blog/../members/x, which the origin serves as /members/x.
func TestPathValue(t *testing.T) {
	b := reqctx.NewBuilder(reqctx.Config{}, []plugin.Slot{{Attr: "path"}})
	for target, want := range map[string]string{
		"/members/x":             "/members/x",
		"/blog/../members/x":     "/members/x",
		"/blog/%2e%2e/members/x": "/members/x",
		"//members//x":           "/members/x",
		"/members/./x/":          "/members/x/",
		"/caf%C3%A9/":            "/café/",
		"/a/.../b":               "/a/.../b",
		"/search?q=../../etc":    "/search",
	} {
		r := httptest.NewRequest("GET", "http://shop.example"+target, nil)
		if got := b.Build(r, reqctx.Visitor{}, nil)[0]; got.Str != want {
			t.Errorf("path of %q = %q, want %q", target, got.Str, want)
		}
	}
}
