package plan

import (
	"net"
	"net/url"
	"strings"
)

// pointsTo reports whether loc, a redirect's target, leads back to the
// request (u, as a server reads it, to host, over TLS when secure): the
// same scheme, host and port, path and query. Its fragment, which
// browsers keep to themselves, does not count. A redirect from http to
// https, or to another host, is not a loop.
func pointsTo(u *url.URL, host string, secure bool, loc string) bool {
	scheme := "http"
	if secure {
		scheme = "https"
	}
	base := url.URL{Scheme: scheme, Host: host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	// The target as Location carries it, and the browser asks for it:
	// its query is compared as sent (red%20shoes, not red shoes).
	t, err := base.Parse(URIChars(loc))
	if err != nil {
		return false
	}
	return strings.EqualFold(t.Scheme, scheme) &&
		sameHost(t.Host, host, scheme) &&
		orRoot(t.EscapedPath()) == orRoot(base.EscapedPath()) &&
		t.RawQuery == base.RawQuery
}

// sameHost compares two hosts, case aside, with the scheme's default port
// made explicit.
func sameHost(a, b, scheme string) bool {
	return strings.EqualFold(withPort(a, scheme), withPort(b, scheme))
}

func withPort(h, scheme string) string {
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	if scheme == "https" {
		return net.JoinHostPort(strings.Trim(h, "[]"), "443")
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), "80")
}

// orRoot is a URL's path, "/" for none: http://host is http://host/.
func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// resolveRelative resolves loc, a redirect's target, against u, the
// request's URL, when it is a reference relative to the page ("?page=2",
// "#top", "next"), as RFC 3986 section 5.2 does and browsers do: a
// Location of "?page=2" sent as it is would be resolved so too, but
// net/http's Redirect resolves it against the page's directory ("/?page=2"
// for "/r"). An address, or a path from the root, is kept as it is.
func resolveRelative(u *url.URL, loc string) string {
	if loc == "" || loc[0] == '/' || strings.Contains(loc, "://") {
		return loc
	}
	ref, err := url.Parse(loc)
	if err != nil || ref.Scheme != "" || ref.Host != "" {
		return loc
	}
	base := url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if base.Path == "" {
		base.Path = "/"
	}
	return base.ResolveReference(ref).String()
}

// URIChars percent-encodes the bytes a URI never holds (RFC 3986 2:
// controls, space, " < > \ ^ ` { | }, and past ASCII) in a redirect
// target, as a browser encodes them when it follows it: a rule may write
// "/menú?q=red shoes". The visitor's values come encoded already; '%'
// and what the URI syntax reserves stay. Location carries a target so
// encoded, and pointsTo compares it so to the request it would answer.
func URIChars(loc string) string {
	n := 0
	for i := 0; i < len(loc); i++ {
		if notURIByte(loc[i]) {
			n++
		}
	}
	if n == 0 {
		return loc
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(loc)+2*n)
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; notURIByte(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func notURIByte(c byte) bool {
	return c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0
}

// withQuery gives loc, a redirect's target, the query of the request
// (u) when the target has none of its own and stays on the site (a
// path, or an absolute URL of host): a visitor sent from
// /?utm_source=news to /fr/ keeps the campaign's parameters, which
// analytics read on the page they land on. A target on another host does
// not get them (a query may hold a token the visitor was sent), nor one
// that names its own query, which the rule's author wrote.
func withQuery(u *url.URL, host, loc string) string {
	// A ? after the # is the fragment's: the target names no query.
	path, frag, hasFrag := strings.Cut(loc, "#")
	if u == nil || u.RawQuery == "" || strings.IndexByte(path, '?') >= 0 {
		return loc
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		t, err := url.Parse(path)
		if err != nil || t.Host == "" || !strings.EqualFold(t.Host, host) {
			return loc
		}
	}
	out := path + "?" + u.RawQuery
	if hasFrag {
		out += "#" + frag
	}
	return out
}
