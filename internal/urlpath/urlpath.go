// Package urlpath holds the one form of a request path that routing and
// the rules read: the path a browser would have sent, and an origin
// serves.
package urlpath

import "strings"

// Clean is path (decoded, as net/url's URL.Path holds it) in the
// form routes match: its dot segments resolved (RFC 3986 5.2.4) and
// repeated slashes merged. Origins serve /blog/../members/ and
// //members/ as /members/ (nginx resolves both by default, Apache and
// most frameworks the first), so a route matched on the path as sent
// would let those past the route in front of /members/, and the rules
// that gate it; nginx's location and Caddy's path matcher match the
// same clean form. The request goes on as it came: only the matching
// reads this. A path with nothing to resolve, nearly every one, is
// returned as it is.
func Clean(path string) string {
	if !strings.HasPrefix(path, "/") || !strings.Contains(path, "//") && !strings.Contains(path, "/.") {
		return path
	}
	var out []string
	segs := strings.Split(path[1:], "/")
	for _, seg := range segs {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	clean := "/" + strings.Join(out, "/")
	// A path that ends in a directory (/a/, /a/., /a/b/..) stays one,
	// as RFC 3986 resolves it: /members/x/.. is under /members/.
	if last := segs[len(segs)-1]; (last == "" || last == "." || last == "..") && len(out) > 0 {
		clean += "/"
	}
	return clean
}
