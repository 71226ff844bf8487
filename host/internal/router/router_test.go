package router

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(name)) })
}

func TestMatch(t *testing.T) {
	rt := New([]Route{
		{Name: "any", Handler: named("any")},
		{Name: "blog", Prefix: "/blog/", Handler: named("blog")},
		{Name: "shop", Host: "shop.example.com", Handler: named("shop")},
		{Name: "shop-api", Host: "shop.example.com", Prefix: "/api/", Handler: named("shop-api")},
		{Name: "sub", Host: "*.example.com", Handler: named("sub")},
		{Name: "docs", Prefix: "/docs", Handler: named("docs")},
	})
	tests := []struct{ host, path, want string }{
		{"other.test", "/", "any"},
		{"other.test", "/blog/post", "blog"},
		{"shop.example.com", "/", "shop"},
		{"SHOP.example.com:8080", "/api/items", "shop-api"},
		{"shop.example.com", "/blog/x", "shop"}, // an exact host wins over a longer prefix on any host
		{"eu.example.com", "/", "sub"},
		// A prefix matches whole segments; one ending in / what is under it.
		{"other.test", "/docs", "docs"},
		{"other.test", "/docs/", "docs"},
		{"other.test", "/docs/install", "docs"},
		{"other.test", "/docs?page=2", "docs"},
		{"other.test", "/docsearch", "any"},
		{"other.test", "/docs.html", "any"},
		{"other.test", "/blog", "any"},
		{"other.test", "/blogger", "any"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://"+tt.host+tt.path, nil))
		if got := rec.Body.String(); got != tt.want {
			t.Errorf("%s%s -> %s, want %s", tt.host, tt.path, got, tt.want)
		}
	}
}

func TestNoRoute(t *testing.T) {
	rt := New([]Route{{Name: "a", Host: "a.test", Handler: named("a")}})
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://b.test/", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
}

// serve returns the name of the route that answers a request for host and
// target, as the visitors' server hands it over, or "" for a 404.
func serve(rt *Router, host, target string) string {
	req := httptest.NewRequest("GET", target, nil)
	req.Host = host
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	if rec.Code == http.StatusNotFound {
		return ""
	}
	return rec.Body.String()
}

// A fully qualified name ends in a dot (RFC 1034 3.1): "example.com." is
// example.com, in a request's Host as in a route's host, as nginx's
// server_name and Caddy's host matcher take it.
func TestMatchTrailingDot(t *testing.T) {
	rt := New([]Route{
		{Name: "any", Handler: named("any")},
		{Name: "shop", Host: "shop.example.com", Handler: named("shop")},
		{Name: "blog", Host: "blog.example.com.", Handler: named("blog")},
		{Name: "sub", Host: "*.example.org.", Handler: named("sub")},
	})
	tests := []struct{ host, want string }{
		{"shop.example.com.", "shop"},
		{"shop.example.com.:8080", "shop"},
		{"SHOP.Example.COM.", "shop"},
		{"blog.example.com", "blog"},
		{"blog.example.com.", "blog"},
		{"blog.example.com:443", "blog"},
		{"eu.example.org", "sub"},
		{"eu.example.org.", "sub"},
		{"example.org.", "any"},
		{"shop.example.com..", "any"},
	}
	for _, tt := range tests {
		if got := serve(rt, tt.host, "/"); got != tt.want {
			t.Errorf("Host %q -> %q, want %q", tt.host, got, tt.want)
		}
	}
}

// An IPv6 literal comes in brackets, with a port or without (a browser
// leaves out the scheme's default port: http://[2001:db8::1]/); a route
// names the address with brackets or without, in any of its spellings.
func TestMatchIPv6Literal(t *testing.T) {
	rt := New([]Route{
		{Name: "any", Handler: named("any")},
		{Name: "bare", Host: "2001:db8::1", Handler: named("bare")},
		{Name: "bracketed", Host: "[2001:DB8::2]", Handler: named("bracketed")},
		{Name: "v4", Host: "192.0.2.7", Handler: named("v4")},
	})
	tests := []struct{ host, want string }{
		{"[2001:db8::1]", "bare"},
		{"[2001:db8::1]:8080", "bare"},
		{"[2001:DB8:0:0:0:0:0:1]", "bare"},
		{"[2001:db8::2]", "bracketed"},
		{"[2001:db8::2]:443", "bracketed"},
		{"[2001:db8::3]", "any"},
		{"192.0.2.7", "v4"},
		{"192.0.2.7:8080", "v4"},
	}
	for _, tt := range tests {
		if got := serve(rt, tt.host, "/"); got != tt.want {
			t.Errorf("Host %q -> %q, want %q", tt.host, got, tt.want)
		}
	}
}

// A browser sends an internationalized name in its ASCII form (RFC 5890's
// A-label: bücher.example is xn--bcher-kva.example); a route may name it
// in either.
func TestMatchInternationalizedName(t *testing.T) {
	rt := New([]Route{
		{Name: "any", Handler: named("any")},
		{Name: "books", Host: "bücher.example", Handler: named("books")},
		{Name: "shops", Host: "*.Läden.example", Handler: named("shops")},
		{Name: "ascii", Host: "xn--caf-dma.example", Handler: named("ascii")},
	})
	tests := []struct{ host, want string }{
		{"xn--bcher-kva.example", "books"},
		{"XN--BCHER-KVA.example:8080", "books"},
		{"xn--bcher-kva.example.", "books"},
		{"berlin.xn--lden-loa.example", "shops"},
		{"xn--caf-dma.example", "ascii"},
		{"bucher.example", "any"},
	}
	for _, tt := range tests {
		if got := serve(rt, tt.host, "/"); got != tt.want {
			t.Errorf("Host %q -> %q, want %q", tt.host, got, tt.want)
		}
	}
}

// A path is matched in the form the origin serves it in: its dot segments
// resolved (RFC 3986 5.2.4) and repeated slashes merged, as nginx's
// location and Caddy's path matcher read it; otherwise /blog/../members/
// or //members/ would reach the members' pages past the route set in
// front of them, whose rules gate them.
func TestMatchNormalizedPath(t *testing.T) {
	rt := New([]Route{
		{Name: "site", Handler: named("site")},
		{Name: "members", Prefix: "/members/", Handler: named("members")},
		{Name: "docs", Prefix: "/docs", Handler: named("docs")},
	})
	tests := []struct{ target, want string }{
		{"/blog/../members/secret", "members"},
		{"/blog/%2e%2e/members/secret", "members"},
		{"/blog/%2E%2E/members/secret", "members"},
		{"/./members/secret", "members"},
		{"/../members/secret", "members"},
		{"//members/secret", "members"},
		{"/members//secret", "members"},
		{"///members///", "members"},
		{"/%6Dembers/secret", "members"},
		{"/members/.", "members"},
		{"/members/./", "members"},
		{"/members/x/..", "members"},
		{"/members/../blog", "site"},
		{"/members/..", "site"},
		{"/members", "site"},
		{"/docs/..", "site"},
		{"/docs/.", "docs"},
		{"/x/../docs", "docs"},
		{"//docs", "docs"},
		{"/docs..", "site"},
		{"/.docs", "site"},
		{"/members.../x", "site"},
		{"/members/...", "members"},
	}
	for _, tt := range tests {
		if got := serve(rt, "example.com", tt.target); got != tt.want {
			t.Errorf("%s -> %q, want %q", tt.target, got, tt.want)
		}
	}
	// A route's path is read in the same form.
	rt = New([]Route{{Name: "site", Handler: named("site")}, {Name: "shop", Prefix: "/shop//./", Handler: named("shop")}})
	for _, target := range []string{"/shop/", "/shop//x", "/shop/x"} {
		if got := serve(rt, "example.com", target); got != "shop" {
			t.Errorf("route path /shop//./: %s -> %q, want shop", target, got)
		}
	}
}

// Of two wildcards that match, the longer is the more specific and
// wins, whatever their order and paths, as nginx's server_name and
// Caddy's host matchers choose.
func TestMatchLongestWildcard(t *testing.T) {
	for _, order := range []string{"broad first", "narrow first"} {
		routes := []Route{
			{Name: "any", Handler: named("any")},
			{Name: "sub", Host: "*.example.com", Handler: named("sub")},
			{Name: "sub-blog", Host: "*.example.com", Prefix: "/blog/", Handler: named("sub-blog")},
			{Name: "shop", Host: "*.shop.example.com", Handler: named("shop")},
		}
		if order == "narrow first" {
			routes[1], routes[3] = routes[3], routes[1]
		}
		rt := New(routes)
		tests := []struct{ host, path, want string }{
			{"eu.shop.example.com", "/", "shop"},
			{"eu.shop.example.com", "/blog/x", "shop"},
			{"shop.example.com", "/", "sub"},
			{"eu.example.com", "/blog/x", "sub-blog"},
			{"a.b.example.com", "/", "sub"},
		}
		for _, tt := range tests {
			if got := serve(rt, tt.host, tt.path); got != tt.want {
				t.Errorf("%s: %s%s -> %q, want %q", order, tt.host, tt.path, got, tt.want)
			}
		}
	}
}

// A route's path may be written as a browser's address bar copies it,
// percent-encoded (/caf%C3%A9/), or as people read it (/café/): both
// serve the page however the request encodes it, as requests' paths are
// matched decoded.
func TestMatchEncodedRoutePath(t *testing.T) {
	rt := New([]Route{
		{Name: "site", Handler: named("site")},
		{Name: "cafe", Prefix: "/caf%C3%A9/", Handler: named("cafe")},
		{Name: "docs", Prefix: "/my docs/", Handler: named("docs")},
		{Name: "news", Prefix: "/%6Eews", Handler: named("news")},
	})
	tests := []struct{ target, want string }{
		{"/caf%C3%A9/menu", "cafe"},
		{"/caf%c3%a9/menu", "cafe"},
		{"/café/menu", "cafe"},
		{"/cafe/menu", "site"},
		{"/my%20docs/a", "docs"},
		{"/news", "news"},
		{"/%6Eews/today", "news"},
	}
	for _, tt := range tests {
		if got := serve(rt, "example.com", tt.target); got != tt.want {
			t.Errorf("%s -> %q, want %q", tt.target, got, tt.want)
		}
	}
}
