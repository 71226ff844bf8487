package check_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

func checkSrc(t *testing.T, src string) (*ir.Program, error) {
	t.Helper()
	f, err := syntax.Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return check.Check(f)
}

// rule wraps a condition and actions into a one-rule file.
func rule(when, actions string) string {
	s := "rules:\n  - name: r\n"
	if when != "" {
		s += "    when: '" + when + "'\n"
	}
	if actions == "" {
		actions = "- remove: \"#x\""
	}
	return s + "    actions:\n      " + actions + "\n"
}

func TestConditions(t *testing.T) {
	tests := []struct {
		when string
		want string // ir.Program.Format of the rule's condition
	}{
		{`geo.country == "fr"`, `geo.country == "FR"`}, // folded as the host folds
		{`geo.country != "FR"`, `geo.country != "FR"`},
		{`geo.country in ["FR", "be", "FR"]`, `geo.country in ["FR", "BE"]`},
		{`geo.country not in ["FR"]`, `geo.country != "FR"`},
		{`device.type == "Mobile"`, `device.type == "mobile"`},
		{`cookie("plan") == "pro" and header("x-ab") exists`, `cookie("plan") == "pro" and header("X-Ab") exists`},
		{`query("page") > 2 or query("page") == 1`, `query("page") > 2 or query("page") == 1`},
		{`cookie("n") in [1, 2]`, `cookie("n") == 1 or cookie("n") == 2`},
		{`visitor.new`, `visitor.new`},
		{`not visitor.new`, `not visitor.new`},
		{`visitor.new == false`, `not visitor.new`},
		{`path starts_with "/shop" and path ends_with ".html"`, `path starts_with "/shop" and path ends_with ".html"`},
		{`header("user-agent") contains "Firefox"`, `header("User-Agent") contains "Firefox"`},
		{`path matches "^/p/[0-9]+$"`, `path matches "^/p/[0-9]+$"`},
		{`language == "FR"`, `language == "fr"`},
		{`true`, `true`},
		{`a or (b and c) or d`, ``}, // unknown names: see errors test
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
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
}

func TestSegments(t *testing.T) {
	src := `segments:
  eu: geo.country in ["FR", "DE"]
  eu_phone: eu and device.type == "mobile"
rules:
  - name: r
    when: eu_phone or eu
    actions: [remove: "#x"]
`
	p, err := checkSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Segments) != 2 {
		t.Fatalf("%d segments", len(p.Segments))
	}
	if got := p.Format(p.Rules[0].Cond); got != "eu_phone or eu" {
		t.Errorf("rule = %s", got)
	}
	if got := p.Format(p.Segments[1].Cond); got != `eu and device.type == "mobile"` {
		t.Errorf("segment = %s", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg, hint string
	}{
		// A segment is named, not called: segment("french") read as an
		// unknown attribute, and the hint listed the attributes.
		{"segment called", "segments:\n  french: geo.country == \"FR\"\nrules:\n  - name: r\n    when: segment(\"french\") and device.bot\n    actions: [remove: x]\n", 5, 11, `a segment is named as it is, not called with segment(...)`, "write french"},
		{"misspelt attribute", rule(`geo.contry == "FR"`, ""), 3, 12, `unknown attribute or segment "geo.contry"`, `did you mean "geo.country"?`},
		{"unknown name in a namespace", rule(`geo.zzz == "FR"`, ""), 3, 12, `unknown attribute`, "attributes under geo."},
		{"attribute under another namespace", rule(`time.hour >= 9`, ""), 3, 12, `unknown attribute or segment "time.hour"`, `there is no time.; did you mean "visitor.hour"?`},
		{"unknown namespace", rule(`foo.bar == "FR"`, ""), 3, 12, `unknown attribute`, "attributes are: geo.country"},
		{"attribute without its namespace", rule(`city == "Lyon"`, ""), 3, 12, `unknown attribute or segment "city"`, `did you mean "geo.city"?`},
		{"attribute without its namespace in a text", rule("", `- set_inner: { select: h1, text: "Hi {{ hour }}" }`), 4, 47, `unknown attribute or segment "hour"`, `did you mean "visitor.hour"?`},
		{"value outside closed set", rule(`device.type == "phone"`, ""), 3, 27, `"phone" is not a value of device.type`, ""},
		{"device name for an os", rule(`device.os == "iphone"`, ""), 3, 25, `"iphone" is not a value of device.os`, `did you mean "ios"?`},
		{"brand for an os", rule(`device.os in ["mac", "windows"]`, ""), 3, 26, `"mac" is not a value of device.os`, `did you mean "macos"?`},
		{"device name for a type", rule(`device.type == "Smartphone"`, ""), 3, 27, `"Smartphone" is not a value of device.type`, `did you mean "mobile"?`},
		{"host with a port", rule(`host == "shop.example.com:8080"`, ""), 3, 20, `"shop.example.com:8080" never matches: host is the host name alone`, `write "shop.example.com"`},
		{"host with a scheme and a path", rule(`host == "https://shop.example.com/fr/"`, ""), 3, 20, `never matches: host is the host name alone, without a scheme, a port or a path`, `write "shop.example.com", and test the path with path starts_with "/fr/"`},
		{"host in a list", rule(`host in ["shop.example.com", "[::1]:8080"]`, ""), 3, 41, `"[::1]:8080" never matches`, `write "::1"`},
		// Browsers send an internationalized domain in its ASCII form.
		{"host in its Unicode form", rule(`host == "café.example"`, ""), 3, 20, `"café.example" never matches: a browser sends a host name with letters outside a-z in its ASCII form`, `write "xn--caf-dma.example"`},
		{"host in a list in its Unicode form", rule(`host in ["shop.example", "Bücher.de"]`, ""), 3, 37, `"Bücher.de" never matches`, `write "xn--bcher-kva.de"`},
		{"host suffix in its Unicode form", rule(`host ends_with ".école.fr"`, ""), 3, 27, `".école.fr" never matches`, `write ".xn--cole-9oa.fr"`},
		{"host suffix ending inside a label", rule(`host ends_with "é.fr"`, ""), 3, 27, `"é.fr" never matches`, "write whole labels"},
		{"host prefix in its Unicode form", rule(`host starts_with "café."`, ""), 3, 29, `"café." never matches`, `write "xn--caf-dma."`},
		{"host text in its Unicode form", rule(`host contains ".café."`, ""), 3, 26, `".café." never matches`, `write ".xn--caf-dma."`},
		{"host suffix with a port", rule(`host ends_with ".example.com:443"`, ""), 3, 27, `never matches: host is the host name alone`, `write ".example.com"`},
		{"host prefix with a scheme", rule(`host starts_with "https://"`, ""), 3, 29, `never matches: host is the host name alone`, `write the host name alone`},
		{"near closed value", rule(`device.type == "mobil"`, ""), 3, 27, `is not a value of device.type`, `did you mean "mobile"?`},
		{"text used as condition", rule(`geo.country`, ""), 3, 12, "is text, not a condition", "exists"},
		{"attribute on the right", rule(`"FR" == geo.country`, ""), 3, 12, "goes on the left", `geo.country == "FR"`},
		{"two attributes", rule(`geo.country == geo.region`, ""), 3, 27, "not with another attribute", ""},
		{"missing argument", rule(`cookie == "x"`, ""), 3, 12, "cookie needs a cookie name", `cookie("name")`},
		{"argument not quoted", rule(`cookie(plan) == "x"`, ""), 3, 19, "must be a quoted string", ""},
		{"number with text op", rule(`path contains 3`, ""), 3, 26, "needs a quoted text", ""},
		{"text with numeric op", rule(`cookie("n") > "3"`, ""), 3, 26, "compares numbers", "without quotes"},
		{"bad regex", rule(`path matches "a(b"`, ""), 3, 25, "invalid regular expression", "RE2"},
		// A wildcard, as a shell or a spreadsheet writes one.
		{"wildcard for a pattern", rule(`path matches "*.html"`, ""), 3, 25, "invalid regular expression: missing argument to repetition operator", `a pattern is a regular expression, not a wildcard: for "*.html" write "\.html$"`},
		{"wildcards around a pattern", rule(`path matches "*sale*"`, ""), 3, 25, "invalid regular expression", `for "*sale*" write "sale"`},
		{"wildcard with a question mark", rule(`query("c") matches "?a?.pdf"`, ""), 3, 31, "invalid regular expression", `for "?a?.pdf" write "^.a.\.pdf$"`},
		{"bool as text", rule(`visitor.new == "yes"`, ""), 3, 27, "compare it with true or false", ""},
		{"in without list", rule(`geo.country in "FR"`, ""), 3, 27, "needs a list", ""},
		{"empty list", rule(`geo.country in []`, ""), 3, 27, "list is empty", ""},
		{"mixed list", rule(`cookie("a") in ["x", 1]`, ""), 3, 27, "mixes texts and numbers", ""},
		{"bad selector", rule("", `- remove: "div >"`), 4, 0, "invalid selector", ""},
		{"jQuery's != in a selector", rule("", `- remove: "li[data-kind!=ad]"`), 4, 30, "CSS has no operator !=", `write the selector as "li:not([data-kind=ad])"`},
		{"selector name starts with a digit", rule("", `- remove: "#1hero"`), 4, 19, `"1hero" is not a valid name`, `write the selector in single quotes, which keep the backslash: '#\31 hero'`},
		{"typographic quotes around a selector", rule("", `- set_inner: { select: “#hero h1”, text: x }`), 4, 30, "'“' is a typographic quote", `write the selector with straight quotes, or none: "#hero h1"`},
		{"typographic quotes in a selector", rule("", `- remove: a[title=“x”]`), 4, 25, "typographic quote", `'a[title="x"]'`},
		{"sibling selector", rule("", `- remove: "h1 + p"`), 4, 0, "invalid selector", ""},
		{"a selector of the whole page in a test", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { page: { \"li:last-child\": x } }\n", 6, 0, "invalid selector", "a test's page: checks take the selectors rules take; name the element another way: by an id, a class or :nth-child(2)"},
		{"class with its dot", rule("", `- add_class: { select: body, class: .promo }`), 4, 43, `the class ".promo" is written with a dot`, "write the class without its dot: class: promo"},
		// Typographic quotes pasted around a value the page reads as it is.
		{"class in typographic quotes", rule("", `- add_class: { select: body, class: “promo” }`), 4, 43, "the class “promo” is in typographic quotes", "write the class without quotes: class: promo"},
		{"href in typographic quotes", rule("", `- set_attr: { select: a, name: href, value: “/sale” }`), 4, 51, "the value “/sale” is in typographic quotes, as word processors write them: the quotes would be part of the href", `value: "/sale"`},
		{"html attribute in typographic quotes", rule("", `- append: { select: body, html: "<div class=“banner”>Hi</div>" }`), 4, 51, "the value of class is in typographic quotes, as word processors write them: browsers keep them as part of the value", `quote it with straight quotes: class="banner"`},
		{"html attribute in typographic quotes after a value", rule("", `- append: { select: body, html: "<p title='{{ geo.city }}'>x</p><a href=‘/sale’>Sale</a>" }`), 4, 79, "the value of href is in typographic quotes", `href="/sale"`},
		{"interpolated class with its dot", rule("", `- remove_class: { select: body, class: ".v-{{ geo.country }}" }`), 4, 46, `is written with a dot`, `class: v-{{ geo.country }}`},
		{"bad redirect", rule("", `- redirect: "{{ query(\"next\") }}"`), 4, 20, "must start with / or https://", ""},
		{"protocol-relative redirect", rule("", `- redirect: "//evil.example/"`), 4, 20, "protocol-relative", ""},
		{"bad status", rule("", `- redirect: { to: /x, status: 200 }`), 4, 37, "is not a redirect", "301"},
		{"reserved header", rule("", `- set_header: { name: Content-Length, value: "1" }`), 4, 29, "cannot set the Content-Length header", ""},
		{"bad header side", rule("", `- set_header: { name: X-A, value: "1", on: reqest }`), 4, 50, `expected request or response`, `"request"`},
		{"reserved cookie", rule("", `- set_cookie: { name: bsk_vid, value: "1" }`), 4, 29, "belong to bespoke", ""},
		{"forwarding header to the origin", rule("", `- set_header: { on: request, name: x-forwarded-for, value: "{{ query('ip') }}" }`), 4, 42, "cannot set the X-Forwarded-For header: the proxy sets it for the origin", ""},
		{"referrer meta from the request", rule("", `- set_attr: { select: 'meta[name="referrer"]', name: content, value: "{{ query('p') }}" }`), 4, 0, "the page's referrer policy", "strict-origin-when-cross-origin"},
		{"referrer policy from the request", rule("", `- set_attr: { select: a, name: referrerpolicy, value: "{{ query('p') }}" }`), 4, 0, "referrerpolicy", ""},
		{"reserved header in lower case", rule("", `- set_header: { name: set-cookie, value: "a=1" }`), 4, 29, "cannot set the Set-Cookie header: use the set_cookie action", ""},
		// Connection-specific: an HTTP/2 response that holds one is
		// malformed (RFC 9113 8.2.2), and nghttp2's clients refuse it.
		// Go's http.Cookie (and RFC 6265) writes a cookie of no
		// lifetime without Max-Age: one the browser keeps.
		// Chromium keeps a cookie of at most 4,096 bytes of name and
		// value, and drops a longer one without a word: the rule would
		// set a cookie no browser ever sends back.
		{"cookie longer than a browser keeps", rule("", `- set_cookie: { name: promo, value: "`+strings.Repeat("x", 4092)+`" }`), 4, 44, "the cookie is 4,097 bytes, its name and its value as sent, past the 4,096 a browser keeps: browsers drop it", "keep a cookie's name and value within 4,096 bytes"},
		{"cookie longer than a browser keeps once encoded", rule("", `- set_cookie: { name: promo, value: "`+strings.Repeat("é", 700)+`{{ query('p') }}" }`), 4, 44, "the cookie is 4,205 bytes, its name and its value as sent (percent-encoded where a cookie cannot hold a byte) at the least, past the 4,096 a browser keeps", "keep a cookie's name and value within 4,096 bytes"},
		{"cookie of no lifetime", rule("", `- set_cookie: { name: promo, value: "", max_age: 0s }`), 4, 56, "max_age: 0s would not remove the cookie: a cookie without a lifetime is a session cookie, which the browser keeps until it closes", "leave max_age out for a session cookie, or give it a lifetime: max_age: 30m"},
		{"hop-by-hop header of proxies", rule("", `- set_header: { name: Proxy-Connection, value: keep-alive }`), 4, 29, "cannot set the Proxy-Connection header: it is a hop-by-hop header", ""},
		{"proxy credentials to the origin", rule("", `- set_header: { name: proxy-authorization, value: "Basic eDp5", on: request }`), 4, 29, "cannot set the Proxy-Authorization header: it is a hop-by-hop header", ""},
		{"header name with a colon", rule("", `- set_header: { name: "X-A:", value: "1" }`), 4, 29, `"X-A:" is not a header name`, "letters, digits and -"},
		{"raw JSON with a value", rule("", `- json_set: { path: user, json: "{{ query('u') }}" }`), 4, 40, "raw JSON cannot interpolate values", "use value:"},
		{"raw JSON that is not JSON", rule("", `- json_set: { path: user, json: "{" }`), 4, 40, `"{" is not valid JSON`, "value:"},
		{"event handler interpolation", rule("", `- set_attr: { select: a, name: onclick, value: "go({{ query(\"x\") }})" }`), 4, 58, "cannot go in onclick: it is an event handler", "data-"},
		{"segment cycle", "segments:\n  a: b\n  b: a\nrules:\n  - name: r\n    when: a\n    actions: [remove: x]\n", 3, 6, "refers to itself", ""},
		{"segment shadows attribute", "segments:\n  language: geo.country == \"FR\"\nrules:\n  - name: r\n    actions: [remove: x]\n", 2, 3, "has the name of an attribute", ""},
		// The segment left out shifts those after it: each is still
		// checked, and references find it.
		{"segment shadows attribute before others", "segments:\n  language: geo.country == \"FR\"\n  on_phone: device.type == \"mobile\"\n  lyon: on_phone and geo.city == \"Lyon\"\nrules:\n  - name: r\n    when: lyon\n    actions: [remove: x]\n", 2, 3, "has the name of an attribute", ""},
		{"duplicate rule", "rules:\n  - name: r\n    actions: [remove: x]\n  - name: r\n    actions: [remove: x]\n", 4, 11, "already exists at line 2", ""},
		{"rollout of no rule", "rules:\n  - name: r\n    rollout: 20%\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { rollout(q): in }\n    expect: { match: [r] }\n", 7, 16, `no rule is named "q"`, ""},
		{"rollout of a rule without one", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { rollout(r): in }\n    expect: { match: [r] }\n", 6, 16, `rule "r" has no rollout`, ""},
		{"rollout neither in nor out", "rules:\n  - name: r\n    rollout: 20%\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { rollout(r): yes }\n    expect: { match: [r] }\n", 7, 28, `rollout(r) is in or out, not "yes"`, "rollout(r): in"},
		{"out of a full rollout", "rules:\n  - name: r\n    rollout: 100%\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { rollout(r): out }\n    expect: { match: [r] }\n", 7, 28, `rolls out to 100%: no visitor is out`, ""},
		{"duplicate test", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { match: [r] }\n  - name: t\n    expect: { match: [r] }\n", 7, 5, `a test named "t" already exists at line 5`, "unique"},
		{"unquoted country alias", rule(`geo.country == UK`, `- remove: x`), 3, 0, "UK is not quoted", `geo.country == "GB"`},
		{"yes for a yes/no attribute", rule(`visitor.new == yes`, ""), 3, 27, "yes is not quoted", "visitor.new is yes/no: write visitor.new == true"},
		{"off for a yes/no attribute", rule(`device.bot != off`, ""), 3, 26, "off is not quoted", "device.bot is yes/no: write device.bot != false"},
		{"yes in a list for a yes/no attribute", rule(`visitor.new in [yes]`, ""), 3, 28, "yes is not quoted", "visitor.new is yes/no: write visitor.new == true"},
		{"a word for a yes/no attribute", rule(`device.bot == maybe`, ""), 3, 26, "maybe is not quoted", "device.bot is yes/no: compare it with true or false"},
		{"unquoted value in another case", rule(`device.type in [Mobile]`, `- remove: x`), 3, 0, "Mobile is not quoted", `"mobile"`},
		{"unknown interpolation", rule("", `- set_inner: { select: a, text: "{{ geo.cty }}" }`), 4, 43, `unknown attribute`, `"geo.city"`},
		{"interpolation after an escape", rule("", `- set_inner: { select: a, text: "\u00e9 {{ geo.cty }}" }`), 4, 50, `unknown attribute`, `"geo.city"`},
		{"host in a test in its Unicode form", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { host: café.example }\n    expect: { match: [r] }\n", 6, 22, `"café.example" never matches`, `write "xn--caf-dma.example"`},
		// A country's code written for its language.
		{"country code for a language", rule(`language == "jp"`, ""), 3, 24, `"jp" is the country code of Japan, not a language code`, `did you mean language == "ja" (Japanese)? to test the country, write geo.country == "JP"`},
		{"country code in languages", rule(`languages contains "cz"`, ""), 3, 31, `"cz" is the country code of Czechia, not a language code`, `did you mean languages contains "cs" (Czech)?`},
		{"country code in a list of languages", rule(`language in ["fr", "dk"]`, ""), 3, 31, `"dk" is the country code of Denmark`, `did you mean language == "da" (Danish)?`},
		{"country code of several languages", rule(`language == "ke"`, ""), 3, 24, `"ke" is the country code of Kenya, not a language code`, `to test the country, write geo.country == "KE"`},
		// The European Union, or Europe, for a country.
		{"EU for a country", rule(`geo.country == "EU"`, ""), 3, 27, `"EU" is not a country code: it is Europe's continent code`, `for visitors in Europe, write geo.continent == "EU"; for the European Union, list its countries: geo.country in ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]`},
		{"EU in a list of countries", rule(`geo.country in ["CH", "eu"]`, ""), 3, 34, `"eu" is not a country code: it is Europe's continent code`, `write geo.continent == "EU"`},
		{"two letters no country has", rule(`geo.country == "T1"`, ""), 3, 27, `"T1" is not a country code`, "no country has this code"},
		// Headers the server takes out of the request's headers.
		{"Host header", rule(`header("host") == "shop.example.com"`, ""), 3, 19, `header("Host") is never there: the server takes the Host header out of the request's headers; read the host with host: host == "shop.example.com"`, ""},
		{"Host header in a text", rule("", `- set_inner: { select: a, text: "{{ header('Host') }}" }`), 4, 50, `header("Host") is never there`, ""},
		{"Transfer-Encoding header", rule(`header("Transfer-Encoding") contains "chunked"`, ""), 3, 19, `header("Transfer-Encoding") is never there: the server takes it out of the request's headers to read the body`, ""},
		{"quoted number in a list", rule(`visitor.hour in ["9", "10"]`, ""), 3, 29, "visitor.hour is a number; write the list's numbers without quotes", "write visitor.hour in [9, 10]"},
		{"quoted yes/no in a list", rule(`device.bot in ["true"]`, ""), 3, 27, "device.bot is yes/no; compare it with true or false, without quotes", ""},
		{"header name with a space", rule(`header("user agent") contains "Firefox"`, ""), 3, 19, `"user agent" is not a valid header name: a header's name holds no space`, `write header("User-Agent")`},
		// Names no request carries, as a list of naughty strings has
		// them: each error says what a name may hold.
		{"header name with parentheses", rule(`header("(null)") == "1"`, ""), 3, 19, `"(null)" is not a valid header name`, "a header's name is ASCII letters, digits and !#$%&'*+-.^_`|~"},
		{"cookie name with a semicolon", rule(`cookie("a;b") == "1"`, ""), 3, 19, `"a;b" is not a valid cookie name: a Cookie header separates its cookies with ;, so no cookie's name holds one`, `a browser sends any other name`},
		{"cookie name with spaces around", rule(`cookie(" plan ") == "1"`, ""), 3, 19, `" plan " is not a valid cookie name: browsers drop the spaces around a cookie's name`, `write cookie("plan")`},
		{"cookie name with a control character", rule(`cookie("a\tb") == "1"`, ""), 3, 19, `"a\tb" is not a valid cookie name: browsers store no cookie whose name holds a control character`, `a browser sends any other name`},
		{"cookie name with an =", rule(`cookie("src=x") == "1"`, ""), 3, 19, `"src=x" is not a valid cookie name: a cookie's name ends at its first =, so none holds one`, `to read the cookie "src", write cookie("src")`},
		{"empty query name", rule(`query("") == "1"`, ""), 3, 18, "the query name is empty", `write the name in the quotes: query("ref")`},
		{"rule expected to match and not", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect:\n      match: [r]\n      no_match: [r]\n", 8, 18, `test "t" expects rule "r" both to match (line 7) and not to match, so it can never pass`, "keep r in match: or in no_match:"},
		{"rule expected to match and not in a view", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { match: [r] }\n    then:\n      - expect: { match: [r], no_match: [r] }\n", 8, 42, `view 2 of test "t" expects rule "r" both to match (line 8) and not to match`, ""},
		{"test names unknown rule", "rules:\n  - name: hero\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { match: [heor] }\n", 6, 23, `no rule is named "heor"`, `"hero"`},
		{"test names unknown attribute", "rules:\n  - name: hero\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { geo.contry: FR }\n    expect: { match: [hero] }\n", 6, 16, `unknown attribute "geo.contry"`, `"geo.country"`},
		// A test's class check takes a class, as add_class does: neither
		// a selector's .class nor a class attribute's list ever holds.
		{"test class with a dot", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { match: [r], page: { body: { class: .home } } }\n", 6, 50, `the class ".home" is written with a dot: a dot is how a selector names a class, not part of the class`, "write the class without its dot: class: home"},
		{"test classes in one text", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { match: [r], page: { body: { class: \"home bold\" } } }\n", 6, 50, `"home bold" is not one class: an element's class list holds classes without spaces`, "give each class of the list: class: [home, bold]"},
		// A test's context gives a visitor's value: one no visitor
		// has is out of range, not a condition that never holds.
		{"test hour out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { visitor.hour: 25 }\n    expect: { match: [r] }\n", 7, 30, "visitor.hour: 25 is out of range: visitor.hour is an hour of the day, 0 to 23", "write a whole number from 0 to 23"},
		{"test hour negative", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { visitor.hour: -1 }\n    expect: { match: [r] }\n", 7, 30, "visitor.hour: -1 is out of range: visitor.hour is an hour of the day, 0 to 23", "write a whole number from 0 to 23"},
		{"test hour not whole", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { visitor.hour: 2.5 }\n    expect: { match: [r] }\n", 7, 30, "visitor.hour: 2.5 is not a whole number: visitor.hour is an hour of the day, 0 to 23", "write a whole number from 0 to 23"},
		{"test hour not a number", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { visitor.hour: ten }\n    expect: { match: [r] }\n", 7, 30, "visitor.hour is a number; found \"ten\"", "write a whole number from 0 to 23"},
		{"test latitude out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { geo.lat: 100 }\n    expect: { match: [r] }\n", 7, 25, "geo.lat: 100 is out of range: geo.lat is a latitude, -90 to 90", "write a number from -90 to 90"},
		{"test longitude out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { geo.lon: -200 }\n    expect: { match: [r] }\n", 7, 25, "geo.lon: -200 is out of range: geo.lon is a longitude, -180 to 180", "write a number from -180 to 180"},
		{"test latitude not a number", "rules:\n  - name: r\n    when: visitor.hour >= 18 and geo.lat > 0 and geo.lon > 0\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { geo.lat: north }\n    expect: { match: [r] }\n", 7, 25, "geo.lat is a number; found \"north\"", "write a number from -90 to 90"},
		{"test time with month out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { now: 2026-13-05T10:00:00Z }\n    expect: { match: [r] }\n", 7, 21, "\"2026-13-05T10:00:00Z\" is not a time: its month, 13, is out of range, 01 to 12", "write a month from 01 to 12"},
		{"test time with day out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18\n    actions: [remove: x]\ntests:\n  - name: t\n    request: { at: 2026-02-30T10:00:00+01:00 }\n    expect: { match: [r] }\n", 7, 20, "\"2026-02-30T10:00:00+01:00\" is not a time: its day, 30, is out of range, 01 to 28 in 2026-02", "write a day from 01 to 28"},
		{"test time with hour out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18\n    actions: [remove: x]\ntests:\n  - name: t\n    request: { at: 2026-12-05T24:00:00Z }\n    expect: { match: [r] }\n", 7, 20, "its hour, 24, is out of range, 00 to 23", ""},
		{"test time with minute out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { now: 2026-12-05T10:60:00Z }\n    expect: { match: [r] }\n", 7, 21, "its minute, 60, is out of range, 00 to 59", ""},
		{"test time with offset out of range", "rules:\n  - name: r\n    when: visitor.hour >= 18\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { now: 2026-12-05T10:00:00+25:00 }\n    expect: { match: [r] }\n", 7, 21, "its offset, +25:00, is out of range, -23:59 to +23:59", "write an offset from -23:59 to +23:59"},
		{"test request header name with a space", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    request: { headers: { \"X Tier\": gold } }\n    expect: { match: [r] }\n", 6, 27, "\"X Tier\" is not a header name", "header names hold letters, digits and -"},
		{"test request cookie name with a semicolon", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    request: { cookies: { \"my;plan\": gold } }\n    expect: { match: [r] }\n", 6, 27, "\"my;plan\" is not a valid cookie name: a Cookie header separates its cookies with ;", "a browser sends any other name"},
		{"test expected cookie name with a space", "rules:\n  - name: r\n    actions: [remove: x]\ntests:\n  - name: t\n    expect: { match: [r], cookies: { \"my plan\": gold } }\n", 6, 38, `"my plan" is not a cookie name`, "cookie names hold letters, digits, - and _"},
		{"test names an attribute without its namespace", "rules:\n  - name: hero\n    actions: [remove: x]\ntests:\n  - name: t\n    context: { city: Lyon }\n    expect: { match: [hero] }\n", 6, 16, `unknown attribute "city"`, `did you mean "geo.city"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkSrc(t, tt.src)
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want errors", err)
			}
			e := list[0]
			if e.Pos.Line != tt.line || (tt.col != 0 && e.Pos.Col != tt.col) {
				t.Errorf("at %d:%d, want %d:%d: %v", e.Pos.Line, e.Pos.Col, tt.line, tt.col, e)
			}
			if !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got %q (hint %q), want %q (hint %q)", e.Msg, e.Hint, tt.msg, tt.hint)
			}
		})
	}
}

// TestSegmentNamedLikeAnAttribute: a segment named like an attribute is
// an error and is left out; the segments after it are still checked, each
// with its own mistakes at their places, as every mistake is reported at
// once.
func TestSegmentNamedLikeAnAttribute(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"a mistake after it", "segments:\n  language: geo.country == \"FR\"\n  on_phone: device.typ == \"mobile\"\nrules:\n  - name: r\n    when: on_phone\n    actions: [remove: x]\n",
			[]string{`2:3: segment "language" has the name of an attribute`, `3:13: unknown attribute or segment "device.typ"`}},
		{"a cycle after it", "segments:\n  language: geo.country == \"FR\"\n  a: b\n  b: a\nrules:\n  - name: r\n    when: a\n    actions: [remove: x]\n",
			[]string{`2:3: segment "language" has the name of an attribute`, `4:6: segment "a" refers to itself`}},
		{"two of them", "segments:\n  path: geo.country == \"FR\"\n  ok: device.type == \"mobile\"\n  language: ok\n  also: ok and not path\nrules:\n  - name: r\n    when: also\n    actions: [remove: x]\n",
			[]string{`2:3: segment "path" has the name of an attribute`, `4:3: segment "language" has the name of an attribute`,
				// Its name then reads the attribute.
				`5:20: path is text, not a condition`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkSrc(t, tt.src)
			var list diag.List
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want errors", err)
			}
			var got []string
			for _, e := range list {
				if e.Severity == diag.SeverityError {
					got = append(got, fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg))
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want %q...", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestValueAsCondition: a value written where a condition goes is an
// error whose example condition is itself one that compiles.
func TestValueAsCondition(t *testing.T) {
	for _, when := range []string{`42`, `4.5`, `"FR"`, `"/sale"`, `"pro"`, `["FR", "BE"]`, `[1, 2]`} {
		f, err := syntax.Parse("r.yaml", []byte(rule(when, "")))
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		_, err = check.Check(f)
		var list diag.List
		if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Msg, "is a value, not a condition") {
			t.Fatalf("%s: %v", when, err)
		}
		example, ok := strings.CutPrefix(list[0].Hint, "compare it with an attribute, for example ")
		if !ok {
			t.Fatalf("%s: hint %q", when, list[0].Hint)
		}
		if _, err := checkSrc(t, rule(example, "")); err != nil {
			t.Errorf("%s: the example %s does not compile: %v", when, example, err)
		}
	}
}

func TestInterning(t *testing.T) {
	src := `rules:
  - name: a
    when: 'geo.country == "FR" and cookie("x") == "FR"'
    actions: [remove: "#a"]
  - name: b
    when: 'geo.country in ["FR", "DE"]'
    actions: [remove: "#a", { add_class: { select: "#b", class: c } }]
`
	p, err := checkSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Symbols) != 2 || len(p.Slots) != 2 || len(p.Selectors) != 2 {
		t.Errorf("symbols %q slots %v selectors %q", p.Symbols, p.Slots, p.Selectors)
	}
}

// TestCountryHeaderWarnings: a test's CDN country header that is not a
// country code is warned of, with what the host makes of it.
func TestCountryHeaderWarnings(t *testing.T) {
	for _, tc := range []struct{ header, value, want string }{
		{"CF-IPCountry", "FR", ""},
		{"CF-IPCountry", "fr", ""}, // the host folds case
		{"CF-IPCountry", "XX", ""}, // Cloudflare's unknown
		{"X-Other", "FRA", ""},     // not a country header
		{"CF-IPCountry", "FRA", `CF-IPCountry: "FRA" is not a country code: bespoke ignores it, and this test's visitor has no country; did you mean "FR" (France)?`},
		{"CloudFront-Viewer-Country", "UK", `the test's visitor comes from "UK", which no rule can test for; did you mean "GB" (United Kingdom)?`},
		{"Client-Geo-Country", "France", `did you mean "FR" (France)?`},
	} {
		src := "rules:\n  - name: r\n    actions:\n      - remove: \"#x\"\ntests:\n  - name: t\n    request: { headers: { " + tc.header + ": " + tc.value + " } }\n    expect:\n      match: [r]\n"
		var got []string
		_, ws := warningsOf(t, src)
		for _, w := range ws {
			got = append(got, w.Error())
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: %s: warned %q", tc.header, tc.value, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.HasPrefix(got[0], "r.yaml:7:")):
			t.Errorf("%s: %s: warned %q, want one at line 7 saying %q", tc.header, tc.value, got, tc.want)
		}
	}
}

// TestTypographicText: typographic quotes in text, and inside quoted
// attribute values or in attributes of text, are the text's: no error.
func TestTypographicText(t *testing.T) {
	for _, act := range []string{
		`- append: { select: body, html: "<p title='“Best” seller'>“Hello”</p>" }`,
		`- set_attr: { select: img, name: alt, value: “Summer” }`,
		`- set_inner: { select: h1, text: “Hello” }`,
	} {
		if _, err := checkSrc(t, rule("", act)); err != nil {
			t.Errorf("%s: %v", act, err)
		}
	}
}

// TestHeaderNotASCII: a header value's literal text outside ASCII is
// warned of where it is: browsers read the bytes as Latin-1.
func TestHeaderNotASCII(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`"Cafe"`, ""},
		{`"{{ geo.city }}"`, ""}, // the visitor's, not the editor's
		{`"Café ☕"`, `r.yaml:4:52: warning: 'é' is not ASCII: a header value is bytes, which browsers and most servers read one character a byte (Latin-1)`},
		{`"{{ geo.city or 'Montréal' }}"`, `r.yaml:4:49: warning: 'é' is not ASCII`},
	} {
		src := "rules:\n  - name: r\n    actions:\n      - set_header: { name: X-Greeting, value: " + tc.value + " }\n"
		var got []string
		_, ws := warningsOf(t, src)
		for _, w := range ws {
			got = append(got, w.Error())
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %q", tc.value, got)
		case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)):
			t.Errorf("%s: warned %q, want %q", tc.value, got, tc.want)
		}
	}
}

// TestClockTestsWarned: a test without a time that expects a rule which
// reads the clock to match, or not, or checks what such a rule writes
// (an element, inside one, a header, a cookie, a redirect, JSON, in any
// of its views), is warned of; one with a time, that sets what the rule
// reads, or that checks what no such rule writes, is not.
func TestClockTestsWarned(t *testing.T) {
	src := `rules:
  - name: weekend
    when: visitor.weekday in ["saturday", "sunday"]
    actions:
      - remove: x
      - set_inner: { select: "#announce", text: "Weekend" }
      - set_header: { name: X-Offer, value: weekend }
      - set_cookie: { name: offer, value: weekend }
      - json_set: { path: banner.title, value: weekend }
  - name: morning
    when: visitor.hour < 12
    actions:
      - redirect: /morning
  - name: thanks
    when: query("ref") == "news"
    actions:
      - set_inner: { select: "#announce", text: "Thanks" }
      - set_inner: { select: "#hero", text: "Hello" }
  - name: weekend-banner
    when: visitor.weekday == "saturday"
    actions:
      - insert_before: { select: "#hero", html: "<p>Sale</p>" }
      - add_class: { select: "#hero", class: sale }
tests:
  - name: no time
    expect: { match: [weekend] }
  - name: a time
    request: { at: "2026-01-10T10:00:00+01:00" }
    expect: { match: [weekend] }
  - name: the day set
    context: { visitor.weekday: saturday }
    expect: { match: [weekend] }
  - name: the announcement, without a time
    request: { url: "/?ref=news" }
    expect: { page: { "#announce": Thanks } }
  - name: inside the announcement
    request: { url: "/?ref=news" }
    expect: { page: { "#announce  > p": { gone: true } } }
  - name: the header
    expect: { headers: { X-Offer: null } }
  - name: the cookie
    expect: { cookies: { offer: null } }
  - name: the redirect
    expect: { redirect: none }
  - name: the JSON
    expect: { json: { banner.title: Hello } }
  - name: a later view
    expect: { page: { "#hero": Hello } }
    then:
      - expect: { page: { "#announce": Thanks } }
  - name: the hero only
    request: { url: "/?ref=news" }
    expect: { page: { "#hero": Hello, "#announcement": Hello } }
  - name: the hero's class
    request: { url: "/?ref=news" }
    expect: { page: { "#hero": { class: sale } } }
  - name: the announcement, at a time
    request: { url: "/?ref=news", at: "2026-01-07T10:00:00+01:00" }
    expect: { page: { "#announce": Thanks } }
`
	f, err := syntax.Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, list := check.Run(f)
	var warned []string
	for _, d := range list {
		warned = append(warned, d.Error())
	}
	want := []string{
		`r.yaml:25:5: warning: test "no time" gives no time, and rule "weekend" reads visitor.weekday`,
		`test "the announcement, without a time" gives no time, and rule "weekend" reads visitor.weekday`,
		`test "inside the announcement" gives no time, and rule "weekend"`,
		`test "the header" gives no time, and rule "weekend"`,
		`test "the cookie" gives no time, and rule "weekend"`,
		`test "the redirect" gives no time, and rule "morning" reads visitor.hour`,
		`test "the JSON" gives no time, and rule "weekend"`,
		`test "a later view" gives no time, and rule "weekend"`,
		`test "the hero's class" gives no time, and rule "weekend-banner"`,
	}
	if len(warned) != len(want) {
		t.Fatalf("warnings %q", warned)
	}
	for i, w := range want {
		if !strings.Contains(warned[i], w) {
			t.Errorf("warning %d: %q, want %q", i, warned[i], w)
		}
	}
}

// TestAttributeOnTheRight: a comparison written the other way round is
// refused with the comparison to write instead, which must mean what
// the editor wrote: 3 < x is x > 3, and "de" in languages, a value in
// a list attribute, is languages contains "de", not languages in "de",
// which is refused in turn.
func TestAttributeOnTheRight(t *testing.T) {
	tests := []struct {
		when, hint string
	}{
		{`"FR" == geo.country`, `write geo.country == "FR"`},
		{`"FR" != geo.country`, `write geo.country != "FR"`},
		{`3 < cookie("n")`, `write cookie("n") > 3`},
		{`3 <= cookie("n")`, `write cookie("n") >= 3`},
		{`3 > cookie("n")`, `write cookie("n") < 3`},
		{`3 >= cookie("n")`, `write cookie("n") <= 3`},
		{`"FR" in geo.country`, `write geo.country == "FR"`},
		{`"FR" not in geo.country`, `write geo.country != "FR"`},
		{`["FR", "BE"] in geo.country`, `write geo.country in ["FR", "BE"]`},
		{`"de" in languages`, `write languages contains "de"`},
		{`"de" not in languages`, `write not languages contains "de"`},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			_, err := checkSrc(t, rule(tt.when, ""))
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want an error", err)
			}
			if e := list[0]; !strings.Contains(e.Msg, "goes on the left") || e.Hint != tt.hint {
				t.Errorf("got %q (hint %q), want hint %q", e.Msg, e.Hint, tt.hint)
			}
			// The hint, written as it says, compiles.
			fixed := strings.TrimPrefix(tt.hint, "write ")
			if _, err := checkSrc(t, rule(fixed, "")); err != nil {
				t.Errorf("the hint's condition %s: %v", fixed, err)
			}
		})
	}
}

// TestPercentEncodedTextWarned: the path, a query parameter and a cookie
// are compared decoded (a request for /caf%C3%A9 has the path /café), so
// a text copied encoded from an address bar holds only for a request
// that encodes the % itself (%25): a warning at the text, with the text
// decoded. A % that begins no escape is the visitor's as written.
func TestPercentEncodedTextWarned(t *testing.T) {
	for _, tc := range []struct{ when, want string }{
		{`path == "/caf%C3%A9"`, `r.yaml:3:20: warning: "/caf%C3%A9" is percent-encoded, but path is compared decoded (/caf%C3%A9 in a request is "/café"), so this holds only for a request that encodes each % as %25; write "/café"`},
		{`path in ["/a", "/a%20b"]`, `"/a%20b" is percent-encoded, but path is compared decoded`},
		{`path starts_with "/caf%C3%A9/"`, `write "/café/"`},
		{`query("utm_campaign") == "summer%20sale"`, `"summer%20sale" is percent-encoded, but query("utm_campaign") is compared decoded (summer%20sale in a request is "summer sale")`},
		{`cookie("c") contains "%7B"`, `write "{"`},
		{`query("q") ends_with "%2F"`, `write "/"`},
		{`path == "/café"`, ""},
		{`query("promo") == "50%"`, ""},
		{`query("promo") == "100%zz"`, ""},
		{`header("X-A") == "a%20b"`, ""}, // a header is as sent
		{`path matches "%20"`, ""},
	} {
		expectWarning(t, tc.when, tc.want)
	}
}

// TestInexactNumberWarned: numbers are compared as 64-bit floating
// point, exact to about 15 digits, so an id written as a number
// (cookie("account") == 9007199254740993) also holds for the ids next
// to it (9007199254740992): a warning at the number, saying to compare
// the text. Numbers that compare exactly are not warned of.
func TestInexactNumberWarned(t *testing.T) {
	for _, tc := range []struct{ when, want string }{
		{`cookie("account") == 9007199254740993`, `r.yaml:3:33: warning: 9007199254740993 has more digits than a number is compared with exactly (15), so cookie("account") == 9007199254740993 holds for numbers next to it too; compare the text: cookie("account") == "9007199254740993"`},
		{`cookie("account") != 12345678901234567890`, `compare the text: cookie("account") != "12345678901234567890"`},
		{`query("order") in [1, 98765432109876543210]`, `98765432109876543210 has more digits than`},
		{`cookie("score") == 0.12345678901234567`, `0.12345678901234567 has more digits than`},
		{`cookie("account") == 9007199254740992`, `9007199254740992 has more digits than`},
		{`cookie("n") == 1234567890123456`, ""}, // every integer below 2^53 is exact
		{`cookie("n") == 12345678901234.5`, ""},
		{`cookie("n") == 1e300`, ""},
		{`cookie("n") > 12345678901234567890`, ""}, // an order is hardly changed
		{`cookie("n") == -42.000`, ""},
	} {
		expectWarning(t, tc.when, tc.want)
	}
}

// TestDecomposedTextWarned: a text whose accented letters are written
// decomposed (u and a combining diaeresis, as text pasted from a PDF or
// a macOS file name may be) looks like the composed one browsers and
// CDNs send, and never equals it: a warning at the text, naming a
// letter and its code points. A composed text is not warned of.
func TestDecomposedTextWarned(t *testing.T) {
	for _, tc := range []struct{ when, want string }{
		{"geo.city == \"Zu\u0308rich\"", "r.yaml:3:24: warning: \"Zu\u0308rich\" holds \"u\u0308\" written decomposed (U+0075 U+0308, a letter and a combining accent), as text pasted from a PDF may be, while browsers and CDNs send the composed \"\u00fc\" (U+00FC): the two look alike and never compare equal; retype the accented letters"},
		{"path in [\"/a\", \"/cafe\u0301\"]", "holds \"e\u0301\" written decomposed"},
		{"query(\"q\") starts_with \"e\u0301\"", "holds \"e\u0301\" written decomposed"},
		{"header(\"X-A\") contains \"n\u0303\"", "holds \"n\u0303\" written decomposed"},
		{"geo.city == \"Z\u00fcrich\"", ""},
		{"cookie(\"c\") == \"\U0001F44D\U0001F3FD\"", ""}, // an emoji and its skin tone: no composed form
		{"cookie(\"c\") == \"\u0301\"", ""},               // an accent alone, which no letter takes
	} {
		expectWarning(t, tc.when, tc.want)
	}
}

// TestNowEqualityWarned: now is the request's second, so now compared
// for equality with a time, meant for a day, holds during one second:
// a warning, with the period to write. An order is not warned of.
func TestNowEqualityWarned(t *testing.T) {
	for _, tc := range []struct{ when, want string }{
		{`now == "2026-12-25T00:00:00+01:00"`, "r.yaml:3:19: warning: now is the request's time, to the second, so `now == \"2026-12-25T00:00:00+01:00\"` compares with that one second only; for a period, compare with its start and its end"},
		{`now in ["2026-12-24T00:00:00Z", "2026-12-25T00:00:00Z"]`, "now is the request's time, to the second"},
		{`now >= "2026-12-25T00:00:00+01:00" and now < "2026-12-26T00:00:00+01:00"`, ""},
		{`semver(header("X-App")) == "3.2"`, ""},
	} {
		_, ws := warningsOf(t, rule(tc.when, ""))
		var got []string
		for _, w := range ws {
			got = append(got, w.Error())
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %q", tc.when, got)
		case tc.want != "" && (len(got) < 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("%s: warned %q, want one saying %q", tc.when, got, tc.want)
		}
	}
}

// TestActionTwiceInARule: a rule that sets one header (on one side), one
// cookie or a redirect twice applies the first alone, as the earlier of
// two rules wins; the second is warned of where it is written, since no
// visitor ever gets it. Two rules doing so conflict, as documented, and
// are not warned of.
func TestActionTwiceInARule(t *testing.T) {
	for _, tc := range []struct {
		name, actions string
		line, col     int // 0: no warning
		msg           string
	}{
		{"header", "- set_header: { name: X-A, value: '1' }\n      - set_header: { name: x-a, value: '2' }", 5, 29, `rule "r" sets the X-A header twice: the first, on line 4, applies, and this one never does`},
		{"header on each side", "- set_header: { name: X-A, value: '1' }\n      - set_header: { name: X-A, value: '2', on: request }", 0, 0, ""},
		{"cookie", "- set_cookie: { name: c, value: '1' }\n      - set_cookie: { name: c, value: '2', max_age: 1d }", 5, 29, `rule "r" sets the cookie c twice: the first, on line 4, applies, and this one never does`},
		{"redirect", "- redirect: /a\n      - redirect: { to: /b, status: 301 }", 5, 9, `rule "r" redirects twice: the first, on line 4, applies, and this one never does`},
	} {
		f, err := syntax.Parse("r.yaml", []byte(rule("", tc.actions)))
		if err != nil {
			t.Fatal(err)
		}
		_, list := check.Run(f)
		if err := list.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []diag.Error
		for _, w := range list.Warnings() {
			if w.Code == "never-applies" {
				got = append(got, *w)
			}
		}
		switch {
		case tc.line == 0 && len(got) > 0:
			t.Errorf("%s: warned %v", tc.name, got)
		case tc.line != 0 && (len(got) != 1 || got[0].Pos.Line != tc.line || got[0].Pos.Col != tc.col || got[0].Msg != tc.msg):
			t.Errorf("%s: warnings %v, want one at %d:%d: %s", tc.name, got, tc.line, tc.col, tc.msg)
		}
	}
}

// expectWarning checks that the condition when, in a rule of its own,
// draws the one warning holding want, or none when want is empty.
func expectWarning(t *testing.T, when, want string) {
	t.Helper()
	_, ws := warningsOf(t, rule(when, ""))
	var got []string
	for _, w := range ws {
		got = append(got, w.Error())
	}
	switch {
	case want == "" && len(got) > 0:
		t.Errorf("%s: warned %q", when, got)
	case want != "" && (len(got) != 1 || !strings.Contains(got[0], want)):
		t.Errorf("%s: warned %q, want one saying %q", when, got, want)
	}
}

// TestCookieNamesBrowsersSend: a cookie named with spaces inside, a
// comma, a quote, a backslash or letters outside ASCII is one Chromium
// stores and sends (reqctx's TestCookieAsChromiumReads), and cookie()
// reads it, so a rule may name it, and a test's request send it.
func TestCookieNamesBrowsersSend(t *testing.T) {
	for _, name := range []string{"cart items", "préférences", `a\\b`, `x\"y`, "a,b", "AMCV_98DC73AE%40AdobeOrg", "user[id]", "田中"} {
		if _, err := checkSrc(t, rule(`cookie("`+name+`") == "1"`, "")); err != nil {
			t.Errorf("cookie(%s): %v", name, err)
		}
	}
	// A test's visitor sends such a cookie as a browser does.
	src := "rules:\n  - name: r\n    when: cookie(\"cart items\") == \"3\"\n    actions: [remove: x]\ntests:\n  - name: t\n    request: { cookies: { \"cart items\": \"3\" } }\n    expect: { match: [r] }\n"
	if _, err := checkSrc(t, src); err != nil {
		t.Errorf("a test request with the cookie \"cart items\": %v", err)
	}
}
