package reqctx

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

func TestCookie(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		cookie  string
		want    string
		found   bool
	}{
		{"simple", []string{"a=1; plan=pro"}, "plan", "pro", true},
		{"first wins", []string{"plan=pro; plan=free"}, "plan", "pro", true},
		{"second header", []string{"a=1", "plan=team"}, "plan", "team", true},
		{"quoted", []string{`plan="pro"`}, "plan", "pro", true},
		{"spaces", []string{"  plan =  pro  ;x=1"}, "plan", "pro", true},
		{"raw JSON", []string{`profile={"tier":"gold","n":[1,2]}`}, "profile", `{"tier":"gold","n":[1,2]}`, true},
		// Python's http.cookies (Django, Flask) quote a JSON value whole,
		// with \" and octal escapes.
		{"quoted with escapes", []string{`profile="{\"tier\": \"gold\"\054 \"score\": 80}"`}, "profile", `{"tier": "gold", "score": 80}`, true},
		{"quoted UTF-8 bytes", []string{`city="Lyon \303\251t\303\251"; a=1`}, "city", "Lyon été", true},
		{"quoted backslash", []string{`p="a\\b\"c"`}, "p", `a\b"c`, true},
		{"quoted semicolon", []string{`p="a\073b"`}, "p", "a;b", true},
		{"escaped control character drops the pair", []string{`p="a\012b"; q=1`}, "p", "", false},
		{"not octal", []string{`p="\9a\08"`}, "p", "9a08", true},
		{"a lone backslash at the end", []string{`p="a\"`}, "p", `a\`, true},
		{"unquoted stays", []string{`p={"a":"x\"y"}`}, "p", `{"a":"x\"y"}`, true},
		{"empty value", []string{"club="}, "club", "", true},
		{"missing", []string{"clubs=1"}, "club", "", false},
		{"no equals skipped", []string{"garbage; plan=pro"}, "plan", "pro", true},
		{"control character drops the pair only", []string{"plan=pr\x01o; a=1"}, "plan", "", false},
		{"broken pair does not hide the next", []string{"x=\x7f; plan=pro"}, "plan", "pro", true},
		{"empty name skipped", []string{"=v; plan=pro"}, "plan", "pro", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Cookie", h)
			}
			got, found := Cookie(r, tt.cookie)
			if got != tt.want || found != tt.found {
				t.Errorf("Cookie(%q) = %q, %v; want %q, %v", tt.cookie, got, found, tt.want, tt.found)
			}
		})
	}
}

// FuzzCookie: any Cookie header is parsed without panicking, and every
// pair it yields has a name free of separators and spaces at its ends,
// and a value free of control characters (a quoted value's \073 is a
// semicolon in it, as Python writes one). On a line that net/http reads
// as RFC 6265 does too (token names, cookie-octets, no quotes, spaces
// or pairs without a value), Cookie reads what net/http reads.
func FuzzCookie(f *testing.F) {
	for _, s := range []string{"a=1; b=2", `p="q"`, "x", ";;=;", `j={"a":[1,2]}`, "a=\x00b",
		"_ga=GA1.2.123.456;_gid=GA1.2.7.8;plan=pro;seg=a/b+c=;plan=free", `p="a\073b"; q=1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		eachCookie(line, func(name, value string) bool {
			if name == "" || strings.ContainsAny(name, ";=") || trimSpace(name) != name {
				t.Fatalf("pair %q=%q from %q", name, value, line)
			}
			for i := 0; i < len(value); i++ {
				if value[i] < 0x20 || value[i] == 0x7f {
					t.Fatalf("control character in value %q", value)
				}
			}
			return true
		})
		for _, part := range strings.Split(line, ";") {
			if !strings.Contains(part, "=") {
				return
			}
		}
		for i := 0; i < len(line); i++ {
			if c := line[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
				return
			}
		}
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", line)
		seen := map[string]bool{}
		for _, c := range r.Cookies() {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			if got, found := Cookie(r, c.Name); !found || got != c.Value {
				t.Fatalf("%q: Cookie(%q) = %q, %v; net/http reads %q", line, c.Name, got, found, c.Value)
			}
		}
	})
}

// TestCookieAgainstNetHTTP compares Cookie with net/http's reading of
// the same Cookie headers on random RFC 6265 headers (token names,
// cookie-octet values, quoted or not, repeated names, several lines):
// where net/http reads a cookie, Cookie reads the same value.
func TestCookieAgainstNetHTTP(t *testing.T) {
	names := []string{"plan", "seg", "a", "_ga", "session-id", "Plan", "x.y", "__Host-t"}
	values := []string{"", "pro", "1", `"quoted"`, "a/b+c=", "%7B%22a%22%3A1%7D", "GA1.2.3.4", "v!#$&'()*+-./:<=>?@[]^_`{|}~"}
	rng := rand.New(rand.NewPCG(7, 8))
	compared := 0
	for range 20000 {
		r, _ := http.NewRequest("GET", "/", nil)
		for range 1 + rng.IntN(2) {
			var pairs []string
			for range 1 + rng.IntN(5) {
				pairs = append(pairs, names[rng.IntN(len(names))]+"="+values[rng.IntN(len(values))])
			}
			r.Header.Add("Cookie", strings.Join(pairs, "; "))
		}
		for _, name := range names {
			want, err := r.Cookie(name)
			got, found := Cookie(r, name)
			if err != nil {
				if found {
					t.Fatalf("%q: Cookie(%q) = %q; net/http finds none", r.Header["Cookie"], name, got)
				}
				continue
			}
			compared++
			if !found || got != want.Value {
				t.Fatalf("%q: Cookie(%q) = %q, %v; net/http reads %q", r.Header["Cookie"], name, got, found, want.Value)
			}
		}
	}
	if compared < 10000 {
		t.Fatalf("only %d cookies compared", compared)
	}
}
