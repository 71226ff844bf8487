package plan

import (
	"net/url"
	"testing"
)

func TestPointsTo(t *testing.T) {
	for _, tc := range []struct {
		req    string // path and query, as a server reads them
		host   string
		secure bool
		loc    string
		want   bool
	}{
		{"/fr/", "shop.example", false, "/fr/", true},
		{"/fr/", "shop.example", false, "/fr/#top", true}, // the fragment stays in the browser
		{"/fr/", "shop.example", false, "http://shop.example/fr/", true},
		{"/fr/", "shop.example", false, "http://SHOP.example:80/fr/", true},
		{"/fr/", "shop.example:80", false, "/fr/", true},
		{"/fr/", "shop.example", true, "https://shop.example:443/fr/", true},
		{"/fr/", "shop.example", false, "https://shop.example/fr/", false}, // to https: not a loop
		{"/fr/", "shop.example", false, "http://other.example/fr/", false},
		{"/fr/", "shop.example", false, "/fr", false},
		{"/fr/", "shop.example", false, "/fr/?ref=x", false},
		{"/fr/?ref=x", "shop.example", false, "/fr/?ref=x", true},
		{"/fr/?ref=x", "shop.example", false, "/fr/", false},
		{"/", "shop.example", false, "http://shop.example", true}, // no path is /
		{"/a/b", "shop.example", false, "b", true},                // relative to the page
		{"/a/b", "shop.example", false, "./b", true},
		{"/a/b", "shop.example", false, "../a/b", true},
		{"/a/b", "shop.example", false, "c", false},
		{"/caf%C3%A9", "shop.example", false, "/café", true},
		{"/fr/", "[::1]:8080", false, "http://[::1]:8080/fr/", true},
		{"/fr/", "shop.example", false, "%zz", false},
		// The query as the visitor's browser asks for it again: Location
		// carries it percent-encoded (a space, a quote, past ASCII).
		{"/menu?q=red%20shoes", "shop.example", false, "/menu?q=red shoes", true},
		{"/menu?q=caf%C3%A9", "shop.example", false, "/menu?q=café", true},
		{"/menu?q=%22a%22%7Cb", "shop.example", false, `/menu?q="a"|b`, true},
		{"/menu?q=red+shoes", "shop.example", false, "/menu?q=red shoes", false},
	} {
		u, err := url.ParseRequestURI(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := pointsTo(u, tc.host, tc.secure, tc.loc); got != tc.want {
			t.Errorf("pointsTo(%s on %s, secure %v, %q) = %v, want %v", tc.req, tc.host, tc.secure, tc.loc, got, tc.want)
		}
	}
}

// TestResolveRelative: a redirect's target relative to the page resolves
// as RFC 3986 section 5.4.1's examples (base http://a/b/c/d;p?q) do; an
// address or a path from the root is kept as written.
func TestResolveRelative(t *testing.T) {
	base, _ := url.Parse("/b/c/d;p?q")
	for _, tt := range []struct{ loc, want string }{
		{"g", "/b/c/g"},
		{"./g", "/b/c/g"},
		{"g/", "/b/c/g/"},
		{"?y", "/b/c/d;p?y"},
		{"g?y", "/b/c/g?y"},
		{"#s", "/b/c/d;p?q#s"},
		{"g#s", "/b/c/g#s"},
		{";x", "/b/c/;x"},
		{"..", "/b/"},
		{"../g", "/b/g"},
		{"../../../g", "/g"},
		{"/g", "/g"},
		{"//g", "//g"},
		{"https://g/x", "https://g/x"},
		{"mailto:a@b", "mailto:a@b"},
		{"", ""},
	} {
		if got := resolveRelative(base, tt.loc); got != tt.want {
			t.Errorf("resolveRelative(%q) = %q, want %q", tt.loc, got, tt.want)
		}
	}
}

// TestWithQuery: a redirect on the site keeps the visitor's query
// (a campaign's utm_ parameters) when its target names none (a ? in its
// fragment is no query); one to another host, or with its own query,
// does not get it.
func TestWithQuery(t *testing.T) {
	u, _ := url.Parse("/?utm_source=news&x=%20y")
	for _, tt := range []struct{ loc, want string }{
		{"/fr/", "/fr/?utm_source=news&x=%20y"},
		{"/fr/#top", "/fr/?utm_source=news&x=%20y#top"},
		{"/fr/#", "/fr/?utm_source=news&x=%20y#"},
		// A ? in the fragment is the fragment's, which the browser keeps
		// to itself: the target names no query.
		{"/fr/#faq?a=1", "/fr/?utm_source=news&x=%20y#faq?a=1"},
		{"/fr/?lang=fr#faq?a=1", "/fr/?lang=fr#faq?a=1"},
		{"/fr/?lang=fr", "/fr/?lang=fr"},
		{"/fr/?", "/fr/?"},
		{"https://shop.example/fr/", "https://shop.example/fr/?utm_source=news&x=%20y"},
		{"https://SHOP.example/fr/", "https://SHOP.example/fr/?utm_source=news&x=%20y"},
		{"https://partner.example/", "https://partner.example/"},
		{"//partner.example/", "//partner.example/"},
	} {
		if got := withQuery(u, "shop.example", tt.loc); got != tt.want {
			t.Errorf("withQuery(%q) = %q, want %q", tt.loc, got, tt.want)
		}
	}
	if got := withQuery(&url.URL{Path: "/"}, "shop.example", "/fr/"); got != "/fr/" {
		t.Errorf("without a query: %q", got)
	}
}

// TestRedirects: GET and HEAD are redirected; a 301, 302 or 303, which
// a browser follows with a GET, leaves a form's POST to the origin; a
// 307 or 308 keeps the method and answers it, but not a CORS preflight.
func TestRedirects(t *testing.T) {
	for _, tt := range []struct {
		method string
		status int
		want   bool
	}{
		{"", 302, true}, {"GET", 301, true}, {"HEAD", 303, true}, {"GET", 308, true},
		{"POST", 302, false}, {"POST", 301, false}, {"PUT", 303, false}, {"DELETE", 302, false},
		{"POST", 307, true}, {"PATCH", 308, true},
		{"OPTIONS", 302, false}, {"OPTIONS", 307, false},
	} {
		if got := Redirects(tt.method, tt.status); got != tt.want {
			t.Errorf("Redirects(%q, %d) = %v, want %v", tt.method, tt.status, got, tt.want)
		}
	}
}
