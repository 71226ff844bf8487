package proxy

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"reflect"
	"testing"
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
				"Forwarded": {`for=203.0.113.7;proto=https, for=10.0.0.2;host=edge.internal;proto=https`}, "Cf-Connecting-Ip": {"203.0.113.7"},
				"Via": {"1.1 cdn, 1.1 bespoke"},
			}},
		{"from anyone else they are replaced, and CDN headers go", "198.51.100.9:5000", false, 1,
			http.Header{
				"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"},
				"Forwarded": {`for=1.2.3.4`}, "Cf-Connecting-Ip": {"1.2.3.4"}, "True-Client-Ip": {"1.2.3.4"}, "X-Real-Ip": {"1.2.3.4"},
				"Cf-Ipcountry": {"FR"}, "Cloudfront-Viewer-Country": {"FR"}, "X-Vercel-Ip-City": {"Paris"}, "X-Akamai-Edgescape": {"country_code=FR"},
				"Fastly-Client-Ip": {"1.2.3.4"}, "Accept": {"text/html"},
			},
			http.Header{
				"X-Forwarded-For": {"198.51.100.9"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for=198.51.100.9;host=edge.internal;proto=http`}, "Accept": {"text/html"}, "Via": {"1.1 bespoke"},
			}},
		{"TLS and HTTP/2 to this proxy", "[2001:db8::9]:443", true, 2,
			http.Header{},
			http.Header{
				"X-Forwarded-For": {"2001:db8::9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"edge.internal"},
				"Forwarded": {`for="[2001:db8::9]";host=edge.internal;proto=https`}, "Via": {"2 bespoke"},
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
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := f.secure(r); got != tt.want {
			t.Errorf("%s proto %q tls %v: secure %v", tt.remote, tt.proto, tt.tls, got)
		}
	}
}
