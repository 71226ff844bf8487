package proxy

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func TestForwarding(t *testing.T) {
	f := newForwarding([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, DefaultStripHeaders, "")
	tests := []struct {
		name   string
		remote string
		tls    bool
		proto  int
		in     http.Header
		want   http.Header
	}{
		{"from a trusted proxy the chain goes on", "10.0.0.2:5000", false, 1,
			http.Header{
				"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example"},
				"Forwarded": {`for=203.0.113.7;proto=https`}, "Cf-Connecting-Ip": {"203.0.113.7"}, "Via": {"1.1 cdn"},
			},
			http.Header{
				"X-Forwarded-For": {"203.0.113.7, 10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example"},
				// Forwarded is written from X-Forwarded-*, the family the
				// visitor's address is read from; this hop's element says
				// what it received: plain HTTP, Host edge.internal.
				"Forwarded": {`for=203.0.113.7;host=shop.example;proto=https, for=10.0.0.2;host=edge.internal;proto=http`}, "Cf-Connecting-Ip": {"203.0.113.7"},
				"Via": {"1.1 cdn, 1.1 bespoke"},
			}},
		{"from a trusted proxy that writes X-Forwarded-* alone, Forwarded says the same", "10.0.0.2:5000", false, 1,
			http.Header{"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Host": {"shop.example.com"}, "X-Forwarded-Proto": {"https"}},
			http.Header{
				"X-Forwarded-For": {"1.2.3.4, 10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example.com"},
				"Forwarded": {`for=1.2.3.4;host=shop.example.com;proto=https, for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"from a trusted proxy that writes Forwarded alone, X-Forwarded-* say the same", "10.0.0.2:5000", false, 1,
			http.Header{"Forwarded": {`for=1.2.3.4;proto=https;host=shop.example.com`}},
			http.Header{
				"X-Forwarded-For": {"1.2.3.4, 10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example.com"},
				"Forwarded": {`for=1.2.3.4;proto=https;host=shop.example.com, for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"Forwarded in two lines, names in any case, quoted values, an empty element", "10.0.0.2:5000", false, 1,
			http.Header{"Forwarded": {`For="[2001:db8::1]:4711";Proto=HTTPS;Host="shop.example.com:8443";by=_edge, ,`, `for=198.51.100.2;by="[2001:db8::2]"`}},
			http.Header{
				"X-Forwarded-For": {"2001:db8::1, 198.51.100.2, 10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example.com:8443"},
				"Forwarded": {`For="[2001:db8::1]:4711";Proto=HTTPS;Host="shop.example.com:8443";by=_edge, for=198.51.100.2;by="[2001:db8::2]", for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"Forwarded nodes that are no address, and one that cannot be read", "10.0.0.2:5000", false, 1,
			http.Header{"Forwarded": {`for=unknown;proto=https, for=_hidden, for="a,b";host=x, for="open`}},
			http.Header{
				"X-Forwarded-For": {"unknown, _hidden, unknown, unknown, 10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for=unknown;proto=https, for=_hidden, for="a,b";host=x, for=unknown, for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		// An unclosed quote in one line took in the elements of the
		// lines after it, this hop's too, once they were one list.
		{"an unclosed quote in a line before a trusted proxy's", "10.0.0.2:5000", false, 1,
			http.Header{"Forwarded": {`for="6.6.6.6;proto=https`, `for=5.6.7.8`}},
			http.Header{
				"X-Forwarded-For": {"unknown, 5.6.7.8, 10.0.0.2"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for=unknown, for=5.6.7.8, for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"X-Forwarded-For with IPv6 and a port, X-Forwarded-Host with a quote", "10.0.0.2:5000", false, 1,
			http.Header{"X-Forwarded-For": {"2001:db8::1, 203.0.113.9:4711"}, "X-Forwarded-Host": {`a"b.example, c.example`}},
			http.Header{
				"X-Forwarded-For": {"2001:db8::1, 203.0.113.9:4711, 10.0.0.2"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {`a"b.example`},
				"Forwarded": {`for="[2001:db8::1]";host="a\"b.example";proto=http, for="203.0.113.9:4711", for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"X-Forwarded-Proto alone", "10.0.0.2:5000", false, 1,
			http.Header{"X-Forwarded-Proto": {"https"}},
			http.Header{
				"X-Forwarded-For": {"10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`host=edge.internal;proto=https, for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"a trusted CDN's headers are kept, a visitor's spelt with '_' that it passed on are not", "10.0.0.2:5000", false, 1,
			http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Cf-Ipcountry": {"DE"}, "Cf_ipcountry": {"FR"}, "X_forwarded_for": {"6.6.6.6"}, "Accept_language": {"fr"}},
			http.Header{
				"X-Forwarded-For": {"203.0.113.7, 10.0.0.2"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded":    {`for=203.0.113.7;host=edge.internal;proto=http, for=10.0.0.2;host=edge.internal;proto=http`},
				"Cf-Ipcountry": {"DE"}, "Accept_language": {"fr"},
			}},
		{"X-Forwarded-For wins over a Forwarded the visitor may have written", "10.0.0.2:5000", false, 1,
			http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Forwarded": {`for=6.6.6.6;proto=https;host=evil.example`}},
			http.Header{
				"X-Forwarded-For": {"203.0.113.7, 10.0.0.2"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for=203.0.113.7;host=edge.internal;proto=http, for=10.0.0.2;host=edge.internal;proto=http`},
			}},
		{"from anyone else they are replaced, and CDN headers go", "198.51.100.9:5000", false, 1,
			http.Header{
				"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"},
				"Forwarded": {`for=1.2.3.4`}, "Cf-Connecting-Ip": {"1.2.3.4"}, "True-Client-Ip": {"1.2.3.4"}, "X-Real-Ip": {"1.2.3.4"},
				"Cf-Ipcountry": {"FR"}, "Cloudfront-Viewer-Country": {"FR"}, "X-Vercel-Ip-City": {"Paris"}, "X-Akamai-Edgescape": {"country_code=FR"},
				"Fastly-Client-Ip": {"1.2.3.4"}, "Accept": {"text/html"},
				// Read by frameworks ahead of X-Forwarded-Proto and
				// -Host: Rack's X-Forwarded-Ssl, Spring's -Prefix, …
				"X-Forwarded-Ssl": {"on"}, "X-Forwarded-Port": {"443"}, "X-Forwarded-Scheme": {"https"}, "Front-End-Https": {"on"},
				"X-Url-Scheme": {"https"}, "X-Forwarded-Prefix": {"/evil"}, "X-Forwarded-Server": {"evil"}, "X-Host": {"evil.example"},
				"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"}, "Client-Ip": {"1.2.3.4"},
				// What CGI and PHP read as CF-IPCountry and X-Real-IP.
				"Cf_ipcountry": {"FR"}, "X_real_ip": {"1.2.3.4"}, "X_forwarded_for": {"1.2.3.4"},
			},
			http.Header{
				"X-Forwarded-For": {"198.51.100.9"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for=198.51.100.9;host=edge.internal;proto=http`}, "Accept": {"text/html"},
			}},
		{"TLS and HTTP/2 to this proxy", "[2001:db8::9]:443", true, 2,
			http.Header{},
			http.Header{
				"X-Forwarded-For": {"2001:db8::9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for="[2001:db8::9]";host=edge.internal;proto=https`},
			}},
		{"a Via the visitor's request came with (a proxy of theirs) gets this hop, in the visitor's protocol", "[2001:db8::9]:443", true, 2,
			http.Header{"Via": {"1.1 squid"}},
			http.Header{
				"X-Forwarded-For": {"2001:db8::9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for="[2001:db8::9]";host=edge.internal;proto=https`}, "Via": {"1.1 squid, 2 bespoke"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &http.Request{RemoteAddr: tt.remote, Host: "edge.internal", Header: tt.in, ProtoMajor: tt.proto, ProtoMinor: 1}
			if tt.proto == 2 {
				in.ProtoMinor = 0
			}
			if tt.tls {
				in.TLS = &tls.ConnectionState{}
			}
			// What ReverseProxy hands Rewrite: the visitor's headers
			// without the forwarding ones.
			out := tt.in.Clone()
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
				out.Del(h)
			}
			f.apply(in, out)
			if !reflect.DeepEqual(out, tt.want) {
				t.Errorf("got  %v\nwant %v", out, tt.want)
			}
		})
	}
}

// TestForwardingWithoutHost: an HTTP/1.0 request without Host gets no
// X-Forwarded-Host (an empty one is a 400 to origins that read it), as
// Forwarded gets no host=.
func TestForwardingWithoutHost(t *testing.T) {
	f := newForwarding(nil, DefaultStripHeaders, "")
	in := &http.Request{RemoteAddr: "198.51.100.9:5000", Header: http.Header{"X-Forwarded-Host": {"evil.example"}}, ProtoMajor: 1, ProtoMinor: 0}
	out := http.Header{}
	f.apply(in, out)
	if v, ok := out["X-Forwarded-Host"]; ok || out.Get("Forwarded") != "for=198.51.100.9;proto=http" {
		t.Errorf("X-Forwarded-Host %q (set: %v), Forwarded %q", v, ok, out.Get("Forwarded"))
	}
}

func TestSecure(t *testing.T) {
	f := newForwarding([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil, "")
	for _, tt := range []struct {
		remote, proto string
		tls, want     bool
	}{
		{"127.0.0.1:1", "https", false, true},
		{"127.0.0.1:1", "https, http", false, true},
		{"127.0.0.1:1", "http", false, false},
		{"203.0.113.7:1", "https", false, false},
		{"203.0.113.7:1", "", true, true},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{"X-Forwarded-Proto": {tt.proto}}}
		if tt.proto == "" {
			r.Header = http.Header{}
		}
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := f.secure(r); got != tt.want {
			t.Errorf("%s proto %q tls %v: secure %v", tt.remote, tt.proto, tt.tls, got)
		}
	}
	// A trusted proxy's Forwarded counts as its X-Forwarded-Proto does,
	// unless the request has X-Forwarded-For, whose family is then read.
	for _, tt := range []struct {
		remote string
		h      http.Header
		want   bool
	}{
		{"127.0.0.1:1", http.Header{"Forwarded": {"for=1.2.3.4;proto=https"}}, true},
		{"127.0.0.1:1", http.Header{"Forwarded": {"for=1.2.3.4;PROTO=HTTPS;host=a, for=10.0.0.1;proto=http"}}, true},
		{"127.0.0.1:1", http.Header{"Forwarded": {"for=1.2.3.4;proto=http, for=10.0.0.1;proto=https"}}, false},
		{"127.0.0.1:1", http.Header{"Forwarded": {"for=1.2.3.4;proto=https"}, "X-Forwarded-For": {"1.2.3.4"}}, false},
		{"203.0.113.7:1", http.Header{"Forwarded": {"for=1.2.3.4;proto=https"}}, false},
	} {
		if got := f.secure(&http.Request{RemoteAddr: tt.remote, Header: tt.h}); got != tt.want {
			t.Errorf("%s %v: secure %v, want %v", tt.remote, tt.h, got, tt.want)
		}
	}
}

// FuzzForwarding: whatever a trusted proxy sends, the two families the
// origin gets say the same thing: X-Forwarded-For's entries are
// Forwarded's for= nodes, and X-Forwarded-Proto and -Host are the first
// element's proto= and host= when it has them; this hop comes last in
// both. A Forwarded the proxy wrote is passed on element by element, an
// element that cannot be read (an open quote) as for=unknown.
func FuzzForwarding(f *testing.F) {
	f.Add("1.2.3.4", "shop.example.com", "https", "")
	f.Add("", "", "", "for=1.2.3.4;proto=https;host=shop.example.com")
	f.Add("2001:db8::1, 203.0.113.9:4711", `a"b`, "", "for=6.6.6.6")
	f.Add("", "", "", `For="[2001:db8::1]:4711";Proto=HTTPS, ,for=unknown;by=_x`)
	f.Add("", "", "https", "")
	fw := newForwarding([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, "")
	f.Fuzz(func(t *testing.T, xff, xfh, xfp, fwd string) {
		in := &http.Request{RemoteAddr: "10.0.0.2:5000", Host: "edge.internal", Header: http.Header{}, ProtoMajor: 1, ProtoMinor: 1}
		for name, v := range map[string]string{"X-Forwarded-For": xff, "X-Forwarded-Host": xfh, "X-Forwarded-Proto": xfp, "Forwarded": fwd} {
			if !httpguts.ValidHeaderFieldValue(v) || strings.TrimSpace(v) != v {
				return // no server takes it, or it would trim it
			}
			if v != "" {
				in.Header.Set(name, v)
			}
		}
		out := http.Header{}
		fw.apply(in, out)
		for name, vs := range out {
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("%s: %q is no header value", name, v)
				}
			}
		}
		var entries []string
		for e := range strings.SplitSeq(out.Get("X-Forwarded-For"), ",") {
			entries = append(entries, xffEntry(strings.TrimSpace(e)))
		}
		if entries[len(entries)-1] != "10.0.0.2" {
			t.Fatalf("X-Forwarded-For %q does not end with this hop", out.Get("X-Forwarded-For"))
		}
		elems, _ := forwardedElements(out["Forwarded"])
		hop := fwdElement{node: "10.0.0.2", hasFor: true, host: "edge.internal", proto: "http"}
		if len(elems) == 0 || elems[len(elems)-1] != hop {
			t.Fatalf("Forwarded %q does not end with this hop", out["Forwarded"])
		}
		var fors []string
		for _, e := range elems {
			if e.hasFor {
				fors = append(fors, xffEntry(e.node))
			}
		}
		if !slices.Equal(fors, entries) {
			t.Fatalf("X-Forwarded-For %q, Forwarded %q: for= %q", out.Get("X-Forwarded-For"), out["Forwarded"], fors)
		}
		first := elems[0]
		if p := scheme(first.proto); p != "" && p != out.Get("X-Forwarded-Proto") || first.host != "" && first.host != out.Get("X-Forwarded-Host") {
			t.Fatalf("X-Forwarded-Proto %q and -Host %q, Forwarded %q", out.Get("X-Forwarded-Proto"), out.Get("X-Forwarded-Host"), out["Forwarded"])
		}
	})
}

func TestWithoutCookies(t *testing.T) {
	own := []string{"bsk_seen", "bsk_caps"}
	for _, tt := range []struct {
		name string
		in   []string
		want []string // nil: no Cookie header
	}{
		{"none of ours", []string{"a=1; b=2"}, []string{"a=1; b=2"}},
		{"ours among others", []string{"a=1; bsk_seen=AAAA; bsk_vid=v; bsk_caps=CC; b=2"}, []string{"a=1; bsk_vid=v; b=2"}},
		{"ours alone", []string{"bsk_seen=AAAA"}, nil},
		{"one line of several", []string{"bsk_caps=CC", "a=1"}, []string{"a=1"}},
		{"spaces and no space", []string{"a=1;bsk_seen=AAAA ;  b=2"}, []string{"a=1; b=2"}},
		{"a name that only ends with ours", []string{"xbsk_seen=1; bsk_seenx=2"}, []string{"xbsk_seen=1; bsk_seenx=2"}},
		{"ours as a value", []string{"ref=bsk_seen; q=bsk_caps=1"}, []string{"ref=bsk_seen; q=bsk_caps=1"}},
		{"a space before the =", []string{"bsk_seen =AAAA; a=1"}, []string{"a=1"}},
		{"empty pairs", []string{"; a=1;; bsk_caps=C;"}, []string{"a=1"}},
		{"ours first: the rest as it came", []string{"bsk_seen=A; a=1;b=2"}, []string{"a=1;b=2"}},
		{"ours last: the rest as it came", []string{"a=1;  b=2; bsk_caps=C; bsk_seen=A"}, []string{"a=1;  b=2"}},
	} {
		h := http.Header{"Cookie": slices.Clone(tt.in)}
		withoutCookies(h, own)
		got, present := h["Cookie"]
		if !slices.Equal(got, tt.want) || present != (tt.want != nil) {
			t.Errorf("%s: %q → %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	// The usual line, the site's cookies then ours, costs no copy: this
	// is every returning visitor's request.
	line := "site=1; bsk_vid=AAAAAAAAAAAAAAAAAAAAAA; bsk_seen=" + strings.Repeat("A", 600)
	var sink http.Header
	base := testing.AllocsPerRun(100, func() { sink = http.Header{"Cookie": {line}} })
	if n := testing.AllocsPerRun(100, func() {
		sink = http.Header{"Cookie": {line}}
		withoutCookies(sink, own)
	}); n > base {
		t.Errorf("%v allocations to cut the seen cookie off a line, %v to make the header", n, base)
	}
	if got := sink.Get("Cookie"); got != "site=1; bsk_vid=AAAAAAAAAAAAAAAAAAAAAA" {
		t.Errorf("cut to %q", got)
	}
	// No names (no seen-filter nor caps): nothing read.
	h := http.Header{"Cookie": {"bsk_seen=AAAA"}}
	withoutCookies(h, nil)
	if got := h.Get("Cookie"); got != "bsk_seen=AAAA" {
		t.Errorf("without names: %q", got)
	}
}
