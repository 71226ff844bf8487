package geo

import (
	"net/http"
	"net/netip"
	"testing"
)

// testResolver trusts 10.0.0.0/8, 2001:db8:ffff::/48 and loopback.
func testResolver(t testing.TB, extra Config) *Resolver {
	t.Helper()
	trusted, err := ParsePrefixes("10.0.0.0/8,2001:db8:ffff::/48,loopback")
	if err != nil {
		t.Fatal(err)
	}
	extra.TrustedProxies = trusted
	return New(extra)
}

func request(remote string, headers ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestClientIPXForwardedFor(t *testing.T) {
	r := testResolver(t, Config{})
	tests := []struct {
		name    string
		remote  string
		headers []string
		want    string
	}{
		{"no headers, untrusted peer", "203.0.113.9:5555", nil, "203.0.113.9"},
		{"no headers, trusted peer", "10.0.0.1:5555", nil, "10.0.0.1"},
		{"one hop", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"spoofed left part ignored", "10.0.0.1:5555", []string{"X-Forwarded-For", "1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops skipped", "10.0.0.1:5555", []string{"X-Forwarded-For", "1.1.1.1, 203.0.113.9, 10.0.0.7, 10.1.2.3"}, "203.0.113.9"},
		{"all trusted: leftmost", "10.0.0.1:5555", []string{"X-Forwarded-For", "10.0.0.9, 10.0.0.8"}, "10.0.0.9"},
		{"untrusted peer: header ignored entirely", "203.0.113.9:5555", []string{"X-Forwarded-For", "1.1.1.1"}, "203.0.113.9"},
		{"untrusted peer with trusted-looking header", "198.51.100.4:1", []string{"X-Forwarded-For", "10.0.0.1, 127.0.0.1"}, "198.51.100.4"},
		{"several header lines", "10.0.0.1:5555", []string{"X-Forwarded-For", "1.1.1.1, 203.0.113.9", "X-Forwarded-For", "10.0.0.2"}, "203.0.113.9"},
		{"last line decides first", "10.0.0.1:5555", []string{"X-Forwarded-For", "10.0.0.3", "X-Forwarded-For", "198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"whitespace and empty elements", "10.0.0.1:5555", []string{"X-Forwarded-For", " ,\t203.0.113.9 ,, ,10.0.0.2 , "}, "203.0.113.9"},
		{"port on IPv4", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9:4711"}, "203.0.113.9"},
		{"bracketed IPv6 with port", "10.0.0.1:5555", []string{"X-Forwarded-For", "[2001:db8::7]:4711"}, "2001:db8::7"},
		{"bracketed IPv6", "10.0.0.1:5555", []string{"X-Forwarded-For", "[2001:db8::7]"}, "2001:db8::7"},
		{"bare IPv6", "10.0.0.1:5555", []string{"X-Forwarded-For", "2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped is unmapped", "10.0.0.1:5555", []string{"X-Forwarded-For", "::ffff:203.0.113.9"}, "203.0.113.9"},
		{"IPv4-mapped trusted hop skipped", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9, ::ffff:10.0.0.5"}, "203.0.113.9"},
		{"zone dropped", "10.0.0.1:5555", []string{"X-Forwarded-For", "fe80::1%eth0"}, "fe80::1"},
		{"malformed stops at last good", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9, garbage, 10.0.0.4"}, "10.0.0.4"},
		{"malformed rightmost stops at peer", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9, unknown"}, "10.0.0.1"},
		{"obfuscated port is not XFF", "10.0.0.1:5555", []string{"X-Forwarded-For", "[2001:db8::7]:_p"}, "10.0.0.1"},
		{"bad port", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9:99999"}, "10.0.0.1"},
		{"quoted entry is malformed", "10.0.0.1:5555", []string{"X-Forwarded-For", `"203.0.113.9"`}, "10.0.0.1"},
		{"leading zeros are malformed", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.09"}, "10.0.0.1"},
		{"IPv4 in brackets is malformed", "10.0.0.1:5555", []string{"X-Forwarded-For", "[203.0.113.9]:80"}, "10.0.0.1"},
		{"IPv6 peer trusted", "[2001:db8:ffff::1]:443", []string{"X-Forwarded-For", "2001:db8:1::5"}, "2001:db8:1::5"},
		{"IPv6 peer with zone", "[::1%lo]:443", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped peer trusted", "[::ffff:10.0.0.1]:443", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"bare peer address", "10.0.0.1", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"bare IPv6 peer", "::1", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"unix socket peer", "@", []string{"X-Forwarded-For", "198.51.100.1"}, ""},
		{"empty peer", "", []string{"X-Forwarded-For", "198.51.100.1"}, ""},
		{"peer garbage", "not-an-address:80", []string{"X-Forwarded-For", "198.51.100.1"}, ""},
		{"empty XFF falls back to Forwarded", "10.0.0.1:5555", []string{"X-Forwarded-For", " , ", "Forwarded", "for=198.51.100.1"}, "198.51.100.1"},
		{"XFF wins over Forwarded", "10.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9", "Forwarded", "for=198.51.100.1"}, "203.0.113.9"},
		{"lower-case key from a client library", "10.0.0.1:5555", []string{"x-forwarded-for", "203.0.113.9"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(tt.remote, tt.headers...)
			got := r.ClientIP(req)
			if want := addrOrZero(tt.want); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
			if info := r.Resolve(req); info.IP != got {
				t.Errorf("Resolve().IP = %v, ClientIP = %v", info.IP, got)
			}
		})
	}
}

func addrOrZero(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestClientIPForwarded(t *testing.T) {
	r := testResolver(t, Config{})
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"IPv4", []string{"for=203.0.113.9"}, "203.0.113.9"},
		{"quoted IPv4 with port", []string{`for="203.0.113.9:4711"`}, "203.0.113.9"},
		{"quoted IPv6 with brackets and port", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"quoted IPv6 with brackets", []string{`for="[2001:db8:cafe::17]"`}, "2001:db8:cafe::17"},
		{"obfuscated port", []string{`for="[2001:db8:cafe::17]:_abc-1.x"`}, "2001:db8:cafe::17"},
		{"case-insensitive name", []string{"For=203.0.113.9"}, "203.0.113.9"},
		{"other parameters", []string{"proto=https;for=203.0.113.9;by=10.0.0.1;host=example.com"}, "203.0.113.9"},
		{"whitespace around pairs", []string{" for=203.0.113.9 ; proto=http "}, "203.0.113.9"},
		{"walk skips trusted", []string{"for=1.1.1.1, for=203.0.113.9, for=10.0.0.2"}, "203.0.113.9"},
		{"several lines", []string{"for=1.1.1.1, for=203.0.113.9", "for=10.0.0.2;proto=https"}, "203.0.113.9"},
		{"comma inside quotes is not a separator", []string{`for=203.0.113.9;host="a,b", for=10.0.0.2`}, "203.0.113.9"},
		{"escaped quote inside quotes", []string{`for=203.0.113.9;ext="x\",y", for=10.0.0.2`}, "203.0.113.9"},
		{"empty elements skipped", []string{"for=203.0.113.9, , ,for=10.0.0.2"}, "203.0.113.9"},
		{"unknown stops", []string{"for=203.0.113.9, for=unknown, for=10.0.0.2"}, "10.0.0.2"},
		{"unknown at the right stops at peer", []string{"for=203.0.113.9, for=unknown"}, "10.0.0.1"},
		{"obfuscated identifier stops", []string{`for=203.0.113.9, for="_gazonk", for=10.0.0.2`}, "10.0.0.2"},
		{"obfuscated unquoted stops", []string{"for=203.0.113.9, for=_hidden"}, "10.0.0.1"},
		{"missing for stops", []string{"for=203.0.113.9, proto=https"}, "10.0.0.1"},
		{"repeated for stops", []string{"for=203.0.113.9;for=198.51.100.1"}, "10.0.0.1"},
		{"empty for stops", []string{"for=203.0.113.9, for="}, "10.0.0.1"},
		{"empty quoted for stops", []string{`for=203.0.113.9, for=""`}, "10.0.0.1"},
		{"unterminated quote stops", []string{`for=203.0.113.9, for="10.0.0.2`}, "10.0.0.1"},
		{"unterminated quote spoils only its left", []string{`for=203.0.113.9, host="x, for=10.0.0.2`}, "10.0.0.2"},
		// A visitor's unterminated quote, then what a proxy appends to the
		// line: the proxy's elements stay readable.
		{"visitor's unterminated quote", []string{`for="198.51.100.1, for=203.0.113.9, for=10.0.0.2`}, "203.0.113.9"},
		{"visitor's escaped closing quote", []string{`for="198.51.100.1\", for=203.0.113.9`}, "203.0.113.9"},
		{"visitor's quote in another parameter", []string{`host="a, for=203.0.113.9;proto=https`}, "203.0.113.9"},
		{"escaped backslash closes the string", []string{`ext="x\\", for=203.0.113.9`}, "203.0.113.9"},
		{"quote in an unquoted value stops", []string{`for=203.0.113.9;host=a,b,for="10.0.0.3`}, "10.0.0.1"},
		{"unterminated quote between trusted hops", []string{`for=203.0.113.9, for="10.0.0.3, for=10.0.0.2`}, "10.0.0.2"},
		{"pair without value stops", []string{"for=203.0.113.9, garbage"}, "10.0.0.1"},
		{"junk after value stops", []string{`for="203.0.113.9"x`}, "10.0.0.1"},
		{"backslash in for value stops", []string{`for="203.0.113\.9"`}, "10.0.0.1"},
		{"IPv4 in brackets stops", []string{`for="[203.0.113.9]"`}, "10.0.0.1"},
		{"unbracketed IPv6 tolerated", []string{`for="2001:db8::9"`}, "2001:db8::9"},
		{"malformed element left of the client is never reached", []string{"garbage, for=203.0.113.9"}, "203.0.113.9"},
		{"malformed element between trusted hops", []string{"for=203.0.113.9, garbage, for=10.0.0.3"}, "10.0.0.3"},
		{"bad line does not spoil a later one", []string{`for="1.1.1.1`, "for=203.0.113.9"}, "203.0.113.9"},
		{"zone dropped", []string{`for="[fe80::1%25eth0]"`}, "fe80::1"},
		{"trusted IPv6 hop", []string{`for=203.0.113.9, for="[2001:db8:ffff::2]:80"`}, "203.0.113.9"},
		{"many elements", []string{"for=203.0.113.9" + repeat(", for=10.0.0.2", 40)}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			for _, l := range tt.lines {
				h = append(h, "Forwarded", l)
			}
			if got, want := r.ClientIP(request("10.0.0.1:80", h...)), addrOrZero(tt.want); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
			// An untrusted peer's Forwarded header is never read.
			if got, want := r.ClientIP(request("192.0.2.1:80", h...)), netip.MustParseAddr("192.0.2.1"); got != want {
				t.Errorf("untrusted peer: ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestForwardedFor(t *testing.T) {
	tests := []struct {
		elem  string
		value string
		state elemState
	}{
		{"for=a", "a", elemFor},
		{`for="[::1]:80"`, "[::1]:80", elemFor},
		{"by=x;for=a;proto=http", "a", elemFor},
		{"FOR=a", "a", elemFor},
		{"", "", elemEmpty},
		{" \t ", "", elemEmpty},
		{"proto=http", "", elemStop},
		{"for=a;for=b", "", elemStop},
		{"for", "", elemStop},
		{"=a", "", elemStop},
		{"for=a;", "a", elemFor},
		{"for=a;;", "", elemStop},
		{"for=a b", "", elemStop},
		{`for="a`, "", elemStop},
		{`for="a\"b"`, "", elemStop},
		{`host="a\"b";for=c`, "c", elemFor},
		{"f@r=a", "", elemStop},
		{"for=[::1]:80", "[::1]:80", elemFor},
		// An unquoted value is a token, or a node some proxies write
		// unquoted: a quote, comma or backslash in one is malformed.
		{`by=a;for=b;host=c,d"e`, "", elemStop},
		{`for=a"b`, "", elemStop},
		{`host=x\y;for=a`, "", elemStop},
	}
	for _, tt := range tests {
		value, state := forwardedFor(tt.elem)
		if value != tt.value || state != tt.state {
			t.Errorf("forwardedFor(%q) = %q, %v; want %q, %v", tt.elem, value, state, tt.value, tt.state)
		}
	}
}

func TestParseNode(t *testing.T) {
	tests := []struct {
		in   string
		obf  bool
		want string
	}{
		{"192.0.2.1", false, "192.0.2.1"},
		{"192.0.2.1:0", false, "192.0.2.1"},
		{"192.0.2.1:65535", false, "192.0.2.1"},
		{"192.0.2.1:65536", false, ""},
		{"192.0.2.1:", false, ""},
		{"192.0.2.1:abc", false, ""},
		{"192.0.2.1:_abc", false, ""},
		{"192.0.2.1:_abc", true, "192.0.2.1"},
		{"192.0.2.1:_", true, ""},
		{"192.0.2.1:_a/b", true, ""},
		{"2001:db8::1", false, "2001:db8::1"},
		{"2001:db8::1:80", false, "2001:db8::1:80"},
		{"[2001:db8::1]", false, "2001:db8::1"},
		{"[2001:db8::1]:80", false, "2001:db8::1"},
		{"[2001:db8::1]80", false, ""},
		{"[2001:db8::1", false, ""},
		{"[192.0.2.1]", false, ""},
		{"[::ffff:192.0.2.1]", false, "192.0.2.1"},
		{"unknown", true, ""},
		{"_hidden", true, ""},
		{"", false, ""},
		{"[]", false, ""},
		{"example.com", false, ""},
		{"example.com:80", false, ""},
		{"fe80::1%eth0", false, "fe80::1"},
		{"[fe80::1%25en0.1_a~-]:80", false, "fe80::1"},
		{`::%"`, false, ""},
		{"fe80::1%eth 0", false, ""},
		{"[fe80::1%]", false, ""},
	}
	for _, tt := range tests {
		got, ok := parseNode(tt.in, tt.obf)
		if want := addrOrZero(tt.want); got != want || ok != want.IsValid() {
			t.Errorf("parseNode(%q, %v) = %v, %v; want %v", tt.in, tt.obf, got, ok, want)
		}
	}
}

func TestClientIPNil(t *testing.T) {
	var r *Resolver
	req := request("10.0.0.1:80", "X-Forwarded-For", "203.0.113.9")
	if got := r.ClientIP(req); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("nil resolver: ClientIP = %v, want the peer", got)
	}
	if got := New(Config{}).ClientIP(req); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("zero Config: ClientIP = %v, want the peer", got)
	}
	if got := testResolver(t, Config{}).ClientIP(nil); got.IsValid() {
		t.Errorf("nil request: ClientIP = %v, want zero", got)
	}
	if got := testResolver(t, Config{}).Resolve(nil); got != (Info{}) {
		t.Errorf("nil request: Resolve = %+v, want zero", got)
	}
	if got := testResolver(t, Config{}).ClientIP(&http.Request{RemoteAddr: "10.0.0.1:1"}); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("nil Header: ClientIP = %v", got)
	}
}

// TestClientIPDeployments holds the headers real proxies write, the
// examples of RFC 7239, and the inputs on which a rightmost-trusted-range
// reading elsewhere answers otherwise, with why bespoke's answer stands.
// The peer is the trusted 10.0.0.1 throughout.
func TestClientIPDeployments(t *testing.T) {
	r := testResolver(t, Config{})
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		// What load balancers append: the client, after whatever the
		// client sent.
		{"ALB appends the client", []string{"X-Forwarded-For", "198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"ALB with the client's port", []string{"X-Forwarded-For", "203.0.113.9:51234"}, "203.0.113.9"},
		{"ALB IPv6 client with port", []string{"X-Forwarded-For", "[2001:db8:1::9]:51234"}, "2001:db8:1::9"},
		{"nginx $proxy_add_x_forwarded_for", []string{"X-Forwarded-For", "203.0.113.9, 10.0.0.5"}, "203.0.113.9"},
		{"Envoy without spaces", []string{"X-Forwarded-For", "198.51.100.1,203.0.113.9,10.0.0.5"}, "203.0.113.9"},
		{"a proxy that adds a line", []string{"X-Forwarded-For", "198.51.100.1", "X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"a spoofed trusted address left of the client", []string{"X-Forwarded-For", "10.0.0.9, 203.0.113.9"}, "203.0.113.9"},
		{"a link-local client with its zone", []string{"X-Forwarded-For", "fe80::1%eth0, 10.0.0.5"}, "fe80::1"},
		{"a mapped trusted hop", []string{"X-Forwarded-For", "203.0.113.9, ::ffff:10.0.0.5"}, "203.0.113.9"},
		// RFC 7239's examples.
		{"RFC 7239 4: two elements", []string{"Forwarded", "for=192.0.2.43, for=198.51.100.17"}, "198.51.100.17"},
		{"RFC 7239 4: IPv6 quoted with port", []string{"Forwarded", `For="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"RFC 7239 4: parameters", []string{"Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"},
		{"RFC 7239 7.1: two lines", []string{"Forwarded", "for=192.0.2.43", "Forwarded", "for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com"}, "198.51.100.17"},
		{"RFC 7239 6.3: obfuscated", []string{"Forwarded", `for="_gazonk", for=10.0.0.2`}, "10.0.0.2"},
		{"RFC 7239 6.2: unknown", []string{"Forwarded", "for=unknown, for=10.0.0.2"}, "10.0.0.2"},
		{"IPv6 unquoted, as some proxies write it", []string{"Forwarded", "for=[2001:db8:1::9]:443"}, "2001:db8:1::9"},
		// Where the other reading differs. RFC 9110 5.6.1: a recipient
		// ignores empty list elements; the other reading gives up.
		{"empty elements", []string{"X-Forwarded-For", "203.0.113.9, , 10.0.0.2,"}, "203.0.113.9"},
		// Every hop trusted: the leftmost, a proxy's own address, where
		// the other reading has none and its caller falls back to the
		// peer, also a proxy.
		{"every hop trusted", []string{"X-Forwarded-For", "10.0.0.9, 10.0.0.8"}, "10.0.0.9"},
		// An entry no proxy writes, which the other reading takes as the
		// address in it: the walk stops at the proxy that wrote it.
		{"IPv4 in brackets", []string{"X-Forwarded-For", "[203.0.113.9], 10.0.0.2"}, "10.0.0.2"},
		{"empty port", []string{"X-Forwarded-For", "203.0.113.9:, 10.0.0.2"}, "10.0.0.2"},
		{"port out of range", []string{"X-Forwarded-For", "203.0.113.9:99999"}, "10.0.0.1"},
		{"empty zone", []string{"X-Forwarded-For", "fe80::1%, 10.0.0.2"}, "10.0.0.2"},
		{"zone with a space", []string{"X-Forwarded-For", "fe80::1%a b"}, "10.0.0.1"},
		// RFC 7239 4: a parameter occurs once in an element; the other
		// reading takes the first for=.
		{"for= twice", []string{"Forwarded", "for=203.0.113.9;for=198.51.100.1, for=10.0.0.2"}, "10.0.0.2"},
		// The unspecified address, which the other reading refuses, was
		// written by a trusted proxy: it is its answer, and locates
		// nowhere.
		{"unspecified address", []string{"X-Forwarded-For", "203.0.113.9, 0.0.0.0, 10.0.0.2"}, "0.0.0.0"},
		// A visitor's unterminated quote must not hide what proxies
		// appended after it (the other reading splits at every comma,
		// quoted or not, and agrees).
		{"visitor's unterminated quote", []string{"Forwarded", `for="198.51.100.1, for=203.0.113.9, for=10.0.0.2`}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := r.ClientIP(request("10.0.0.1:5555", tt.headers...)), addrOrZero(tt.want); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}
