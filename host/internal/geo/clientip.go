package geo

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

const (
	hdrXFF       = "X-Forwarded-For"
	hdrForwarded = "Forwarded"
)

// clientIP walks the forwarding headers from the trusted peer toward the
// visitor. Each proxy appends the address it received the request from, so
// the entries at the right were written by our own proxies and the ones at
// the left by whoever sent the request: walking from the right and stopping
// at the first address that is not one of our proxies yields the visitor
// without believing anything the visitor wrote. X-Forwarded-For, the more
// widely written header, is preferred; Forwarded (RFC 7239) is read only
// when there is none.
func (r *Resolver) clientIP(h http.Header, peer netip.Addr) netip.Addr {
	if a, ok := r.walkXFF(h[hdrXFF], peer); ok {
		return a
	}
	return r.walkForwarded(h[hdrForwarded], peer)
}

// walkXFF walks X-Forwarded-For, every header line and every comma-separated
// entry of each, from the right. ok is false when the header holds no entry.
// A malformed entry stops the walk at the last good address, as it means the
// chain can no longer be followed.
func (r *Resolver) walkXFF(lines []string, peer netip.Addr) (netip.Addr, bool) {
	cur, used := peer, false
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		end := len(line)
		for end >= 0 {
			start := strings.LastIndexByte(line[:end], ',') + 1
			item := trimOWS(line[start:end])
			end = start - 1
			if item == "" {
				// HTTP lists allow empty elements; they name no hop.
				continue
			}
			used = true
			a, ok := parseNode(item, false)
			if !ok {
				return cur, true
			}
			if !r.trust.contains(a) {
				return a, true
			}
			cur = a
		}
	}
	return cur, used
}

// maxForwardedStack is how many elements of one Forwarded line are tracked
// without allocating; longer lines still work.
const maxForwardedStack = 16

// walkForwarded walks the for= parameters of RFC 7239 Forwarded from the
// right, like walkXFF. An element whose for= is "unknown", an obfuscated
// identifier ("_hidden"), missing or malformed stops the walk at the last
// good address: the proxy that wrote it chose not to, or could not, say who
// its client was.
func (r *Resolver) walkForwarded(lines []string, peer netip.Addr) netip.Addr {
	cur := peer
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		var stack [maxForwardedStack]int
		starts := splitForwarded(line, stack[:0])
		for j := len(starts) - 1; j >= 0; j-- {
			end := len(line)
			if j+1 < len(starts) {
				end = starts[j+1] - 1
			}
			value, state := forwardedFor(line[starts[j]:end])
			switch state {
			case elemEmpty:
				continue
			case elemStop:
				return cur
			}
			a, ok := parseNode(value, true)
			if !ok {
				return cur
			}
			if !r.trust.contains(a) {
				return a
			}
			cur = a
		}
	}
	return cur
}

// splitForwarded appends to starts the offset of each comma-separated
// element of a Forwarded line, in order, skipping commas inside quoted
// strings. The line is scanned from the right, the end our proxies wrote:
// a proxy appends ", for=..." to the line it received, so the elements at
// the right are well formed whatever the visitor wrote at the left, and
// only a right-to-left reading keeps them so. Read from the left, a
// visitor's unterminated quote (for="x) would run over every element
// appended after it and hide the visitor's own address behind the
// proxies'. An unterminated quote makes the rest of the line, to its left,
// one element, which then fails to parse.
func splitForwarded(line string, starts []int) []int {
	first := len(starts)
	quoted := false
	for i := len(line) - 1; i >= 0; i-- {
		switch c := line[i]; {
		case c == '"':
			if quoted && escapedAt(line, i) {
				// A quoted-pair: the quote is the string's, and so is the
				// backslash before it.
				i--
				continue
			}
			quoted = !quoted
		case !quoted && c == ',':
			starts = append(starts, i+1)
		}
	}
	starts = append(starts, 0)
	slices.Reverse(starts[first:])
	return starts
}

// escapedAt reports whether the byte at i is the second of a quoted-pair:
// preceded by an odd number of backslashes, each pair of which is an
// escaped backslash.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

type elemState int

const (
	elemFor   elemState = iota // the element has a usable for= value
	elemEmpty                  // the element is empty: skip it
	elemStop                   // missing, repeated or malformed: stop
)

// forwardedFor returns the for= value of one Forwarded element
// (pair *( ";" pair ), pair = token "=" ( token / quoted-string )),
// unquoted. Parameter names are case-insensitive; whitespace around pairs
// is tolerated. A value holding a backslash is refused: no node name needs
// an escape, and refusing keeps the value a substring of the header.
func forwardedFor(e string) (string, elemState) {
	var value string
	found := false
	i := 0
	for {
		for i < len(e) && (e[i] == ' ' || e[i] == '\t') {
			i++
		}
		if i == len(e) {
			break
		}
		j := i
		for j < len(e) && isTokenChar(e[j]) {
			j++
		}
		if j == i || j == len(e) || e[j] != '=' {
			return "", elemStop
		}
		name := e[i:j]
		i = j + 1
		var v string
		if i < len(e) && e[i] == '"' {
			k := i + 1
			escaped := false
			for k < len(e) && e[k] != '"' {
				if e[k] == '\\' {
					escaped = true
					k++
				}
				k++
			}
			if k >= len(e) {
				return "", elemStop
			}
			v = e[i+1 : k]
			i = k + 1
			if escaped && strings.EqualFold(name, "for") {
				return "", elemStop
			}
		} else {
			// A token, or a node written unquoted ("[::1]:80") as some
			// proxies do though RFC 7239 wants it quoted. Anything else,
			// a quote or a comma, means the element was not split where
			// its writer meant, and it is refused.
			k := i
			for k < len(e) && (isTokenChar(e[k]) || e[k] == ':' || e[k] == '[' || e[k] == ']') {
				k++
			}
			if k < len(e) && e[k] != ';' && e[k] != ' ' && e[k] != '\t' {
				return "", elemStop
			}
			v = e[i:k]
			i = k
		}
		if strings.EqualFold(name, "for") {
			if found {
				return "", elemStop
			}
			found, value = true, v
		}
		for i < len(e) && (e[i] == ' ' || e[i] == '\t') {
			i++
		}
		if i == len(e) {
			break
		}
		if e[i] != ';' {
			return "", elemStop
		}
		i++
	}
	if !found {
		if trimOWS(e) == "" {
			return "", elemEmpty
		}
		return "", elemStop
	}
	return value, elemFor
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseNode parses one hop: "192.0.2.1", "192.0.2.1:8080", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:8080". In Forwarded (obfPort) the port
// may also be an obfuscated "_identifier". "unknown", obfuscated node names
// and anything else are refused. The address is returned unmapped and
// without zone, the form trust is checked in.
func parseNode(s string, obfPort bool) (netip.Addr, bool) {
	var a netip.Addr
	var err error
	if len(s) > 0 && s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(s[1:end]); err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:], obfPort)) {
			return netip.Addr{}, false
		}
	} else if colon := strings.IndexByte(s, ':'); colon >= 0 && strings.IndexByte(s[colon+1:], ':') < 0 {
		// One colon: an IPv4 address and its port. (Two or more make an
		// IPv6 address, where "2001:db8::1:80" ends in a group, not a port.)
		// Splitting first also spares netip an error allocation per entry.
		if !validPort(s[colon+1:], obfPort) {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(s[:colon]); err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
	} else if a, err = netip.ParseAddr(s); err != nil {
		return netip.Addr{}, false
	}
	if !validZone(a.Zone()) {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// validZone reports whether z is empty or a zone as RFC 6874 writes one
// in a URI: unreserved characters (letters, digits, "-", ".", "_", "~"),
// which interface names are. netip takes any bytes after a '%' for one,
// so that "::%\"" would be the address "::": refused instead.
func validZone(z string) bool {
	for i := 0; i < len(z); i++ {
		c := z[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validPort accepts 1 to 5 digits up to 65535, and in Forwarded also an
// obfuscated port ("_" followed by letters, digits, ".", "_" or "-").
func validPort(s string, obf bool) bool {
	if obf && len(s) > 1 && s[0] == '_' {
		for i := 1; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return true
	}
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}

// parseRemoteAddr parses http.Request.RemoteAddr, normally "ip:port" or
// "[ipv6%zone]:port", also a bare address as tests and some servers set it.
// Anything else (a Unix socket's "@", an empty string) gives the zero Addr.
func parseRemoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	a, ok := parseNode(s, false)
	if !ok {
		return netip.Addr{}
	}
	return a
}
