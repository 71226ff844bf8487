package reqctx

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/corpus"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/tidwall/gjson"
)

// cookieBatch is what one page load stores in the browser: cookies sent
// in Set-Cookie headers, and cookies a script writes to document.cookie,
// each a whole line as a server or a script writes it; jsonPaths are the
// json() reads to compare, a cookie's name and a gjson path each.
type cookieBatch struct {
	headers, scripts []string
	jsonPaths        [][2]string
}

// realWorldCookies are cookies as sites set them: analytics and consent
// managers' (Google Analytics, OneTrust, Cookiebot, the IAB's TCF string,
// CookieYes, orestbida's cookieconsent), JSON raw, URL-encoded, quoted
// by Python or in base64, and the shapes a parser trips on: spaces, =,
// commas, %, UTF-8, empty names and values, one name on two paths, a
// value near the 4 KB a browser keeps, and many cookies.
func realWorldCookies() []cookieBatch {
	long := strings.Repeat("x", 4096-len("long"))
	over := strings.Repeat("y", 4097-len("over"))
	b := cookieBatch{
		headers: []string{
			"_ga=GA1.1.1234567890.1700000000; Max-Age=3600; Path=/",
			"_ga_ABC123XYZ=GS1.1.1700000000.1.1.1700000100.0.0.0; Max-Age=3600; Path=/",
			"_gid=GA1.2.987654321.1700000000; Max-Age=3600; Path=/",
			"_fbp=fb.1.1700000000000.123456789; Max-Age=3600; Path=/",
			"OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+07+2026+20%3A33%3A38+GMT%2B0100+(Central+European+Standard+Time)&version=202310.1.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=3c1b7a0e&interactionCount=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A1%2CC0004%3A0&AwaitingReconsent=false; Max-Age=3600; Path=/",
			"OptanonAlertBoxClosed=2026-12-07T20:33:38.000Z; Max-Age=3600; Path=/",
			"CookieConsent={stamp:%27nE4qqM3N+5ZkJ1kTcmI2UA==%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1700000000000%2Cregion:%27fr%27}; Max-Age=3600; Path=/",
			"euconsent-v2=CP1_2m0P1_2m0AcABBENAZEsAP_gAEPgAAwIg1NX_H__bX9j-_5_aft0eY1P9_r37uQzDhfNs-8F3L_W_LwX32E7NF36tq4KmR4ku1bBIQNtHMnUDUmxaolVrzHsak2cpyNKJ_BkknsZe2dYGF9vn9lD-YKZ7_5_9_f52T_9_9_-39z3_9f___dv_-__-vjf_599n_v9fV_78_Kf9______-____________8A; Max-Age=3600; Path=/",
			"cookieyes-consent=consentid:ZWJmOGNjY2,consent:yes,action:yes,necessary:yes,functional:no,analytics:yes,performance:no,advertisement:no; Max-Age=3600; Path=/",
			"cc_url=%7B%22categories%22%3A%5B%22necessary%22%2C%22analytics%22%5D%2C%22level%22%3A%5B%22necessary%22%5D%2C%22revision%22%3A0%7D; Max-Age=3600; Path=/",
			"b64=eyJ0aWVyIjoiZ29sZCIsInNjb3JlIjo4MH0=; Max-Age=3600; Path=/",
			`py="{\"tier\": \"gold\"\054 \"n\": 1}"; Max-Age=3600; Path=/`,
			`quoted="hello"; Max-Age=3600; Path=/`,
			`halfquote="hello; Max-Age=3600; Path=/`,
			"spaces=  a b  c  ; Max-Age=3600; Path=/",
			"eq=a=b==; Max-Age=3600; Path=/",
			"commas=a,b, c; Max-Age=3600; Path=/",
			"pct=50%; Max-Age=3600; Path=/",
			"pct25=100%25; Max-Age=3600; Path=/",
			"pctbad=%E0%A4%A; Max-Age=3600; Path=/",
			"pctff=%FF%FE; Max-Age=3600; Path=/",
			"pctutf=%C3%A9t%C3%A9; Max-Age=3600; Path=/",
			"utf8=été 東京 🍪; Max-Age=3600; Path=/",
			"tab=a\tb; Max-Age=3600; Path=/",
			"=noname; Max-Age=3600; Path=/",
			"noequals; Max-Age=3600; Path=/",
			"empty=; Max-Age=3600; Path=/",
			"dup=root; Max-Age=3600; Path=/",
			"dup=deep; Max-Age=3600; Path=/p",
			"long=" + long + "; Max-Age=3600; Path=/",
			"over=" + over + "; Max-Age=3600; Path=/",
			"my cookie=with space; Max-Age=3600; Path=/",
			"json_bad={\"a\":; Max-Age=3600; Path=/",
		},
		scripts: []string{
			`cc_cookie={"categories":["necessary","analytics"],"revision":0,"data":null,"rfc_cookie":false,"consent_date":"2026-12-07T20:33:38.000Z","consent_uuid":"9a1b","services":{"analytics":["ga"]}}`,
			`prefs={"theme":"dark","font":{"size":14,"family":"Noto Sans"},"tags":["a","b"],"n":-1.5e3,"ok":true}`,
			`dupkeys={"a":1,"a":2}`,
			`esc={"n":"\u00e9\ud83c\udf6a","q":"a\"b","s":"a\\b","u":"\u0041"}`,
			`lone={"n":"\ud800"}`,
			`big={"n":12345678901234567890,"e":1e400}`,
			`ws=   {"a": [1, 2, 3]}   `,
			`trail={"a":1}}`,
			`json_pct={"discount":"50%"}`,
			`json_url=%7B%22tier%22%3A%22gold%22%2C%22n%22%3A7%7D`,
			`dupjs=first`,
			`spacejs=a  b`,
			`tabjs=a	b`,
			`emptyjs=`,
			`=jsnoname`,
		},
		jsonPaths: [][2]string{
			{"cc_cookie", "categories"}, {"cc_cookie", "categories.1"}, {"cc_cookie", "revision"}, {"cc_cookie", "data"},
			{"cc_cookie", "rfc_cookie"}, {"cc_cookie", "services.analytics.0"}, {"cc_url", "categories.0"}, {"cc_url", "revision"},
			{"prefs", "theme"}, {"prefs", "font.size"}, {"prefs", "font.family"}, {"prefs", "font"}, {"prefs", "n"}, {"prefs", "ok"},
			{"prefs", "tags"}, {"prefs", "missing"}, {"dupkeys", "a"}, {"esc", "n"}, {"esc", "q"}, {"esc", "s"}, {"esc", "u"},
			{"lone", "n"}, {"big", "n"}, {"ws", "a.2"}, {"trail", "a"}, {"json_pct", "discount"}, {"json_url", "tier"},
			{"json_url", "n"}, {"json_bad", "a"}, {"CookieConsent", "necessary"}, {"py", "tier"}, {"b64", "tier"},
		},
	}
	for i := range 100 {
		b.scripts = append(b.scripts, fmt.Sprintf("many%d=%d", i, i*i))
	}
	return []cookieBatch{b}
}

// naughtyCookies names a cookie with each of the Big List of Naughty
// Strings and gives it the next string as its value, or JSON holding it
// URL-encoded as scripts store JSON ({"a": the string}), by
// document.cookie (whose line Chromium parses as it parses a
// Set-Cookie header), in batches a browser keeps whole (Chromium keeps
// 180 cookies a host).
func naughtyCookies(t *testing.T) []cookieBatch {
	strs := corpus.Strings(t, "../../../testdata/naughty/blns.json")
	var out []cookieBatch
	var b cookieBatch
	for i, s := range strs {
		if len(b.scripts) == 170 {
			out = append(out, b)
			b = cookieBatch{}
		}
		next := strs[(i+1)%len(strs)]
		if i%2 == 1 {
			j, _ := json.Marshal(map[string]string{"a": next})
			next = encodeURIComponent(string(j))
		}
		b.scripts = append(b.scripts, s+"="+next)
		b.jsonPaths = append(b.jsonPaths, [2]string{s, "a"})
	}
	return append(out, b)
}

// encodeURIComponent percent-encodes every byte but the few
// encodeURIComponent keeps.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// browserCookies is what a page's script reads of its cookies after a
// batch was stored: the pairs of document.cookie, in its order, and
// JSON.stringify of each json path read with JSON.parse (null when the
// cookie is no JSON or the path finds nothing); and the Cookie header
// lines the browser sent to the server at once after.
type browserCookies struct {
	Sent  []string    `json:"sent"`
	Pairs [][3]string `json:"pairs"`
	JSON  []jsonRead  `json:"json"`
}

// jsonRead is one json() read: the cookie, the path, and what the
// page's script read there (JSON.stringify of it; null for none).
type jsonRead struct {
	Cookie string  `json:"cookie"`
	Path   string  `json:"path"`
	JS     *string `json:"js"`
}

// cookiesInChromium stores each batch in a fresh profile of headless
// Chromium from a page at /p/page (Set-Cookie on the page's response,
// then its script's document.cookie writes, with path /p), and returns
// what the page reads and sends back.
func cookiesInChromium(t *testing.T, bin string, batches []cookieBatch) []browserCookies {
	t.Helper()
	var mu sync.Mutex
	sent := map[int][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("b"))
		if n < 0 || n >= len(batches) {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Path {
		case "/p/echo":
			mu.Lock()
			sent[n] = r.Header["Cookie"]
			mu.Unlock()
			io.WriteString(w, "ok")
		case "/p/page":
			b := batches[n]
			w.Header()["Set-Cookie"] = b.headers
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			scripts, _ := json.Marshal(b.scripts)
			paths, _ := json.Marshal(b.jsonPaths)
			fmt.Fprintf(w, `<!DOCTYPE html><html><body><pre id="out"></pre><script>
var scripts = %s, paths = %s;
scripts.forEach(function (s) { document.cookie = s + "; max-age=3600; path=/p"; });
var x = new XMLHttpRequest(); x.open("GET", "/p/echo?b=%d", false); x.send();
var pairs = [], first = Object.create(null);
document.cookie.split("; ").forEach(function (p) {
  if (p === "") return;
  var i = p.indexOf("=");
  var k = i < 0 ? "" : p.slice(0, i), v = i < 0 ? p : p.slice(i + 1);
  var d = v;
  try { d = decodeURIComponent(v); } catch (e) {}
  pairs.push([k, v, d]);
  if (!(k in first)) first[k] = v;
});
var json = paths.map(function (np) {
  if (!(np[0] in first)) return null;
  var raw = first[np[0]], v;
  try { raw = decodeURIComponent(raw); } catch (e) {}
  try { v = JSON.parse(raw); } catch (e) { return null; }
  np[1].split(".").forEach(function (k) { v = v !== null && typeof v === "object" && Object.prototype.hasOwnProperty.call(v, k) ? v[k] : undefined; });
  return v === undefined || v === null ? null : JSON.stringify(v);
});
document.getElementById("out").textContent = JSON.stringify({pairs: pairs, json: json});
</script></body></html>`, scripts, paths, n)
		}
	}))
	defer srv.Close()
	out := make([]browserCookies, len(batches))
	for n := range batches {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		dom := chromium.Run(ctx, t, bin, t.TempDir(), "--dump-dom", fmt.Sprintf("%s/p/page?b=%d", srv.URL, n))
		cancel()
		var page struct {
			Pairs [][3]string `json:"pairs"`
			JSON  []*string   `json:"json"`
		}
		chromium.Answer(t, dom, &page)
		mu.Lock()
		out[n] = browserCookies{Sent: sent[n], Pairs: page.Pairs}
		mu.Unlock()
		for i, p := range batches[n].jsonPaths {
			out[n].JSON = append(out[n].JSON, jsonRead{Cookie: p[0], Path: p[1], JS: page.JSON[i]})
		}
	}
	return out
}

var update = flag.Bool("update", false, "record Chromium's cookies again in testdata/chromium-cookies.json")

const recorded = "testdata/chromium-cookies.json"

// TestCookieAsChromiumReads is the differential test of cookie() and
// json(cookie(...)): cookies of real sites' shapes and the Big List of
// Naughty Strings, as names and values, set by Set-Cookie and by
// document.cookie in headless Chromium; of each name the page's script
// reads (document.cookie split at "; " and the first "="), Cookie reads
// the first value from the Cookie header Chromium sent, decoded as the
// script's decodeURIComponent decodes it, and json() reads what the
// script's JSON.parse does. What Chromium did is kept in
// testdata/chromium-cookies.json (-update writes it again), which
// TestCookieAsChromiumRecorded reads without a browser.
func TestCookieAsChromiumReads(t *testing.T) {
	bin := chromium.Path(t)
	got := cookiesInChromium(t, bin, append(realWorldCookies(), naughtyCookies(t)...))
	checkCookieReads(t, got)
	if *update {
		b, err := json.MarshalIndent(got, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(recorded, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := recordedCookies(t); !reflect.DeepEqual(got, want) {
		t.Errorf("Chromium no longer stores and sends the cookies as %s records: go test -run TestCookieAsChromiumReads -update records them again", recorded)
	}
}

// TestCookieAsChromiumRecorded checks cookie() and json(cookie(...))
// against what Chromium sent and its page read, as recorded by
// TestCookieAsChromiumReads, without a browser.
func TestCookieAsChromiumRecorded(t *testing.T) {
	checkCookieReads(t, recordedCookies(t))
}

func recordedCookies(t *testing.T) []browserCookies {
	t.Helper()
	b, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	var out []browserCookies
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", recorded, err)
	}
	return out
}

// checkCookieReads compares Cookie, decodeCookie and JSONValue on the
// Cookie header lines the browser sent with what its page read.
func checkCookieReads(t *testing.T, got []browserCookies) {
	t.Helper()
	compared, jsonCompared := 0, 0
	for n, bc := range got {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header["Cookie"] = bc.Sent
		first := map[string]string{}
		for _, kv := range bc.Pairs {
			name, want, decoded := kv[0], kv[1], kv[2]
			if _, ok := first[name]; ok || name == "" {
				// A cookie without a name is sent as its value alone,
				// which no cookie("...") can name.
				continue
			}
			first[name] = want
			v, ok := Cookie(r, name)
			if quoted(want) {
				continue // read without its quotes, as SYNTAX.md says
			}
			compared++
			d := decodeCookie(v)
			switch {
			case !ok || v != want:
				t.Errorf("batch %d: cookie(%q) = %q, %v; the page reads %q", n, name, v, ok, want)
			case d != decoded && !(decoded == want && !utf8.ValidString(d)):
				// (%FF decodes to the byte, where decodeURIComponent
				// throws and a script keeps the value as it is.)
				t.Errorf("batch %d: cookie(%q) decodes %q to %q; the page's decodeURIComponent reads %q", n, name, v, d, decoded)
			}
		}
		for _, jr := range bc.JSON {
			raw, ok := Cookie(r, jr.Cookie)
			if !ok || strings.HasPrefix(first[jr.Cookie], `"`) {
				continue
			}
			res := JSONValue(decodeCookie(raw), jr.Path)
			jsonCompared++
			if !sameAsJS(res.Str, res.Present, res.Number, jr.JS) {
				w := "no value"
				if jr.JS != nil {
					w = *jr.JS
				}
				t.Errorf("batch %d: json(cookie(%q), %q) = %q, %v; the page's JSON.parse reads %s", n, jr.Cookie, jr.Path, res.Str, res.Present, w)
			}
		}
	}
	if compared < 400 || jsonCompared < 250 {
		t.Errorf("only %d cookies and %d json() reads compared", compared, jsonCompared)
	}
	t.Logf("%d batches, %d cookies and %d json() reads compared", len(got), compared, jsonCompared)
}

func quoted(v string) bool { return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' }

// sameAsJS compares a json() value with JSON.stringify of what the
// page's script read.
func sameAsJS(s string, present, number bool, js *string) bool {
	if js == nil {
		return !present
	}
	if !present {
		return false
	}
	w := gjson.Parse(*js)
	switch {
	case w.Type == gjson.String:
		return s == w.Str || !utf8.ValidString(w.Str)
	case w.Type == gjson.Number:
		return number && jsNumber(s) == w.Raw
	case w.IsArray():
		// A list: each item a text, or another value's JSON.
		items, js := plugin.ListItems(s), w.Array()
		if !plugin.IsList(s) && !(s == "" && len(js) == 0) || len(items) != len(js) {
			return false
		}
		for i, it := range js {
			if it.Type == gjson.String && items[i] != it.Str || it.Type != gjson.String && !sameJSON(items[i], it.Raw) {
				return false
			}
		}
		return true
	}
	return sameJSON(s, *js)
}

func sameJSON(x, y string) bool {
	var a, b any
	if json.Unmarshal([]byte(x), &a) != nil || json.Unmarshal([]byte(y), &b) != nil {
		return x == y
	}
	return reflect.DeepEqual(a, b)
}

func jsNumber(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	b, _ := json.Marshal(f)
	return string(b)
}
