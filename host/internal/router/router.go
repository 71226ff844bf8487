// Package router sends each request to the proxy of the route that serves
// it: routes match a host (exact, "*.example.com", or any) and a path
// prefix of whole segments, and the most specific match wins (an exact
// host over a wildcard, the longest wildcard first, over any; then the
// longest prefix).
package router

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/internal/urlpath"
	"golang.org/x/net/idna"
)

// Route is one site or section with its own origin and plugin.
type Route struct {
	// Name identifies the route in metrics, logs and the admin API.
	Name string
	// Host is "example.com", "*.example.com", or "" for any host.
	Host string
	// Prefix is the path prefix ("/", "/blog/", "/blog"); "" means "/".
	// It may be percent-encoded (/caf%C3%A9/) or not (/café/).
	// It matches whole segments: "/blog" serves /blog and what is under
	// /blog/, not /blogger; "/blog/" serves what is under /blog/.
	Prefix string
	// Handler serves the route's requests (a *proxy.Proxy).
	Handler http.Handler
}

// Router is an http.Handler over routes. Requests no route serves get a
// 404. The zero Router serves nothing; build it with New.
type Router struct {
	routes []Route
}

// New returns a router over routes (copied).
func New(routes []Route) *Router {
	r := &Router{routes: append([]Route(nil), routes...)}
	for i := range r.routes {
		if r.routes[i].Prefix == "" {
			r.routes[i].Prefix = "/"
		}
		r.routes[i].Prefix = CanonicalPrefix(r.routes[i].Prefix)
		r.routes[i].Host = hostName(r.routes[i].Host)
	}
	return r
}

// Match returns the route serving host and path, or nil.
func (rt *Router) Match(host, path string) *Route {
	host = hostName(withoutPort(host))
	path = urlpath.Clean(path)
	var best *Route
	bestHost, bestLen := -1, -1
	for i := range rt.routes {
		r := &rt.routes[i]
		hs := hostScore(r.Host, host)
		if hs < 0 || !underPrefix(path, r.Prefix) {
			continue
		}
		if hs > bestHost || hs == bestHost && len(r.Prefix) > bestLen {
			best, bestHost, bestLen = r, hs, len(r.Prefix)
		}
	}
	return best
}

// underPrefix reports whether path is prefix or under it. A prefix that
// does not end in "/" ends at a segment's end: an operator who writes
// path: /blog means the blog, and /blogger is another section of the
// site, whose pages the blog's rules and origin would not expect.
func underPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// CanonicalHost is a route's host in the one spelling routes are
// compared in, so that the configuration can tell two routes of one host
// written differently ("Shop.example.com." and "shop.example.com").
func CanonicalHost(host string) string { return hostName(host) }

// CanonicalPrefix is a route's path prefix in the form requests' paths
// are matched in, decoded as URL.Path is: a prefix copied from an
// address bar (/caf%C3%A9/) serves /café/, and one of /blog//, which no
// such path holds, serves /blog/.
func CanonicalPrefix(prefix string) string {
	if p, err := url.PathUnescape(prefix); err == nil {
		prefix = p
	}
	return urlpath.Clean(prefix)
}

// hostName is the form routes and requests' hosts are compared in:
// lower case, without the dot that ends a fully qualified name (RFC 1034
// 3.1: "example.com." is example.com, which resolvers and browsers send
// as it was typed, and nginx and Caddy serve as example.com).
// An IPv6 address, which a Host brackets and a route may or may not, is
// written bare and in its one canonical spelling (RFC 5952), so that
// 2001:DB8:0::1 is 2001:db8::1.
func hostName(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.Contains(host, ":") {
		if a, err := netip.ParseAddr(host); err == nil {
			host = a.String()
		}
	}
	return asciiName(host)
}

// asciiName is an internationalized name in the form browsers send it in
// (RFC 5890's A-labels: bücher.example is xn--bcher-kva.example), so
// that a route may name its host as people write it. A wildcard's "*."
// stays. A name already ASCII, or that is no name IDNA maps, is left as
// it is.
func asciiName(host string) string {
	ascii := true
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return host
	}
	name, wild := strings.CutPrefix(host, "*.")
	a, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return host
	}
	if wild {
		return "*." + a
	}
	return a
}

// withoutPort is a Host without its port. An IPv6 literal keeps its
// brackets, with or without a port after them: a browser sends
// [2001:db8::1] alone on the scheme's default port, which
// net.SplitHostPort does not take apart.
func withoutPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[:i+1]
		}
		return host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// hostScore ranks how a route's host matches: highest exact, then a
// wildcard by its length, 0 any, -1 no match. Of two wildcards, the
// longer names fewer hosts (*.shop.example.com within *.example.com), so
// it is the more specific, as nginx's server_name and Caddy rank them.
func hostScore(pattern, host string) int {
	switch {
	case pattern == "":
		return 0
	case pattern == host:
		return math.MaxInt
	case strings.HasPrefix(pattern, "*.") && strings.HasSuffix(host, pattern[1:]):
		return len(pattern)
	}
	return -1
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := rt.Match(r.Host, r.URL.Path)
	if route == nil {
		http.Error(w, "404 no route serves this host and path", http.StatusNotFound)
		return
	}
	route.Handler.ServeHTTP(w, r)
}

// Routes returns the routes, their hosts and prefixes in the form they
// are matched in (CanonicalHost, CanonicalPrefix).
func (rt *Router) Routes() []Route { return rt.routes }

// Interface guards.
var _ http.Handler = (*Router)(nil)
