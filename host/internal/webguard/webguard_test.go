package webguard

import (
	"net/http/httptest"
	"testing"
)

func TestHosts(t *testing.T) {
	h := NewHosts([]string{"admin.internal", " Preview.LAN:8081 ", "192.0.2.7", "10.1.0.0/16", "fd00::/8"})
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:9090", true},
		{"127.8.9.10", true},
		{"localhost", true},
		{"LOCALHOST:9090", true},
		{"app.localhost:9090", true},
		{"localhost.:9090", true},
		{"[::1]:9090", true},
		{"[::ffff:127.0.0.1]:9090", true},
		{"admin.internal", true},
		{"admin.internal:1234", true}, // a name listed without a port: any port
		{"preview.lan:8081", true},
		{"preview.lan:8082", false}, // with one: that port only
		{"preview.lan", false},
		{"192.0.2.7:80", true},
		{"10.1.200.3:9090", true},
		{"[fd12::1]:9090", true},
		{"10.2.0.1:9090", false},
		{"192.0.2.8", false},
		{"attacker.example", false},
		{"attacker.example:9090", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io", false},
		{"0.0.0.0:9090", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := h.Has(tt.host); got != tt.want {
			t.Errorf("Has(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	if !(Hosts{}).Has("localhost:1") || (Hosts{}).Has("admin.internal") {
		t.Error("the zero Hosts holds other than the loopback ones")
	}
}

func TestCrossSite(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no header (curl)", nil, ""},
		{"typed in the address bar", []string{"Sec-Fetch-Site", "none"}, ""},
		{"its own page", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://localhost:8081"}, ""},
		{"its own page behind TLS", []string{"Origin", "https://localhost:8081"}, ""},
		{"another site", []string{"Sec-Fetch-Site", "cross-site"}, "cross-site request"},
		{"another port of localhost", []string{"Sec-Fetch-Site", "same-site"}, "cross-site request"},
		{"a foreign Origin", []string{"Origin", "http://attacker.example"}, "cross-origin request"},
		{"another port", []string{"Origin", "http://localhost:3000"}, "cross-origin request"},
		{"a sandboxed or file page", []string{"Origin", "null"}, "cross-origin request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://localhost:8081/state", nil)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				r.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			if got := CrossSite(r); got != tt.want {
				t.Errorf("CrossSite = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHostsSpellings: an entry names its host as the request's Host may
// spell it otherwise, or the reverse: an IPv6 address in brackets or
// not, a name with the dot of a fully qualified name, an IPv4 address
// a dual-stack listener sees mapped. Each was refused (403) though the
// operator listed it.
func TestHostsSpellings(t *testing.T) {
	h := NewHosts([]string{"[fd00::7]", "fd00::8", "admin.internal.", "preview.lan:8081", "[fd00::9]:9090", "192.0.2.7"})
	tests := []struct {
		host string
		want bool
	}{
		{"[fd00::7]", true},
		{"[fd00::7]:9090", true},
		{"[FD00:0:0::7]:9090", true},
		{"[fd00::8]:9090", true},
		{"admin.internal", true},
		{"admin.internal:9090", true},
		{"admin.internal.:9090", true},
		{"preview.lan.:8081", true},
		{"PREVIEW.LAN:8081", true},
		{"preview.lan:8082", false},
		{"[fd00::9]:9090", true},
		{"[fd00:0::9]:9090", true},
		{"[fd00::9]:9091", false},
		{"[fd00::9]", false},
		{"[fd00::9:9090]", false},
		{"[::ffff:192.0.2.7]:80", true},
		{"[fd00::6]:9090", false},
		{"admin.internal.attacker.example", false},
	}
	for _, tt := range tests {
		if got := h.Has(tt.host); got != tt.want {
			t.Errorf("Has(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// TestCheck: an entry that names no host a request could send (a URL, a
// wildcard, a prefix that does not parse) is refused, with what to
// write, rather than taken for a name no Host ever is.
func TestCheck(t *testing.T) {
	tests := []struct{ entry, want string }{
		{"admin.internal", ""},
		{"admin.internal.", ""},
		{"Preview.LAN:8081", ""},
		{"192.0.2.7", ""},
		{"192.0.2.7:9090", ""},
		{"[fd00::7]", ""},
		{"[fd00::7]:9090", ""},
		{"fd00::7", ""},
		{"10.0.0.0/8", ""},
		{"fd00::/8", ""},
		{"my_host.internal", ""},
		{"", "is empty"},
		{"10.0.0.0/33", "is no address prefix (write 10.0.0.0/8)"},
		{"10.0.0/8", "is no address prefix (write 10.0.0.0/8)"},
		{"http://admin.internal:9090", "is a URL: write its host alone (admin.internal:9090)"},
		{"*.internal", "is a wildcard: list each name (admin.internal) or an address prefix (10.0.0.0/8)"},
		{"admin.internal/metrics", "is no host name: write a name (admin.internal), an address, either with :port for that port only, or an address prefix (10.0.0.0/8)"},
		{"admin..internal", "is no host name: write a name (admin.internal), an address, either with :port for that port only, or an address prefix (10.0.0.0/8)"},
		{"admin.internal:http", "is no host name: write a name (admin.internal), an address, either with :port for that port only, or an address prefix (10.0.0.0/8)"},
	}
	for _, tt := range tests {
		got := ""
		if err := Check(tt.entry); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Check(%q) = %q, want %q", tt.entry, got, tt.want)
		}
	}
}
