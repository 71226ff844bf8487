package visit

import (
	"strings"
	"testing"
)

// TestRequestAddresses: an address is requested as a browser sends it
// (spaces and bytes outside ASCII escaped), and one no server would take
// is an error, never a panic.
func TestRequestAddresses(t *testing.T) {
	for _, c := range []struct {
		method, url, want, err string
	}{
		{"", "/?x=a b", "/?x=a%20b", ""},
		{"", "/café?q=\"x\"", "/caf%C3%A9?q=%22x%22", ""},
		{"", "/a%20b?c=%2F", "/a%20b?c=%2F", ""},
		{"POST", "/", "/", ""},
		{"", "/%zz", "", "cannot be requested"},
		{"", "/?q=100%", "/?q=100%", ""}, // as net/http takes it: query("q") then finds no q
		{"GE T", "/", "", "is not one HTTP has"},
		{"", "shop.example/", "", "is not a path"},
	} {
		spec := &Spec{Method: c.method, URL: c.url}
		hr, err := spec.request()
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %q: error %v, want one that says %q", c.method, c.url, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s %q: %v", c.method, c.url, err)
		case c.err == "" && hr.URL.RequestURI() != c.want:
			t.Errorf("%s %q: requested %q, want %q", c.method, c.url, hr.URL.RequestURI(), c.want)
		}
	}
}
