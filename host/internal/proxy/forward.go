package proxy

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/internal/escape"
)

// DefaultStripHeaders are the request headers only a CDN or load balancer
// in front may set (escape.CDNHeaders): their client address and
// geography headers. They are removed from requests of untrusted peers
// before they reach the origin, which would otherwise believe what any
// visitor wrote. A trailing "*" matches any suffix.
var DefaultStripHeaders = escape.CDNHeaders

// ForwardHeaders sets on out, the headers of a request to the origin
// made for in, the forwarding headers a proxy with the default settings
// would (X-Forwarded-For, -Proto, -Host, Forwarded, Via when the request
// came with one; CDN headers kept from a loopback or private peer, as
// `bespoke serve` trusts by default, removed from others): for tools that
// ask the origin for a page as the proxy would (the editors' preview).
func ForwardHeaders(in *http.Request, out http.Header) {
	defaultForwarding.apply(in, out)
}

var defaultForwarding = func() *forwarding {
	trusted, _ := geo.ParsePrefixes(geo.DefaultTrusted)
	return newForwarding(trusted, DefaultStripHeaders, "")
}()

// forwarding decides what forwarding headers the origin gets.
type forwarding struct {
	trusted   []netip.Prefix
	strip     map[string]bool // canonical names removed from untrusted requests
	prefix    []string        // canonical prefixes of names removed
	via       string          // this proxy's name in Via
	inProcess bool            // no hop: no forwarding headers (Config.InProcess)
	// ownCookies are the cookies only the proxy reads (the seen-filter's,
	// the caps'), not sent on (see withoutCookies).
	ownCookies []string
}

func newForwarding(trusted []netip.Prefix, strip []string, via string) *forwarding {
	f := &forwarding{trusted: trusted, via: via, strip: map[string]bool{}}
	if f.via == "" {
		f.via = "bespoke"
	}
	for _, h := range strip {
		if p, ok := strings.CutSuffix(h, "*"); ok {
			// Canonical form of a prefix: that of a name it starts.
			c := http.CanonicalHeaderKey(p + "x")
			f.prefix = append(f.prefix, c[:len(c)-1])
		} else {
			f.strip[http.CanonicalHeaderKey(h)] = true
		}
	}
	return f
}

// peer returns the immediate peer's address and whether it is trusted.
func (f *forwarding) peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range f.trusted {
		if p.Contains(a) {
			return a, true
		}
	}
	return a, false
}

// secure reports whether the visitor's connection is encrypted: TLS to
// this proxy, or a trusted peer's word that the visitor used https
// (X-Forwarded-Proto, or the first element of Forwarded; see chainOf).
func (f *forwarding) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if _, ok := f.peer(r); !ok {
		return false
	}
	if fromXFF(r.Header) {
		return forwardedProto(r.Header) == "https"
	}
	es, _ := forwardedElements(r.Header["Forwarded"])
	return len(es) > 0 && equalFoldASCII(es[0].proto, "https")
}

// forwardedProto is the visitor's scheme a proxy in front recorded: the
// first (leftmost, the visitor-facing hop's) X-Forwarded-Proto value,
// "http" or "https", or "".
func forwardedProto(h http.Header) string {
	return scheme(firstOfList(h.Get("X-Forwarded-Proto")))
}

// scheme is v as a scheme the forwarding headers carry, "http" or
// "https", or "".
func scheme(v string) string {
	switch v = strings.ToLower(v); v {
	case "http", "https":
		return v
	}
	return ""
}

// firstOfList is the first element of a comma-separated header value.
func firstOfList(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// fromXFF reports which family of forwarding headers a trusted peer's
// chain is read from: X-Forwarded-For (with -Proto and -Host) when the
// request has it or has no Forwarded, else Forwarded. It is the choice
// the visitor's address is read by (geo.Resolver.ClientIP): the two are
// never combined, since a proxy that appends to one passes the other on
// as the visitor wrote it.
func fromXFF(h http.Header) bool {
	return len(h["X-Forwarded-For"]) > 0 || len(h["Forwarded"]) == 0
}

// chain is what the origin is told of the hops before this one and of
// the visitor's request.
type chain struct {
	xff   []string // X-Forwarded-For entries
	fwd   []string // Forwarded elements (or lines of them)
	proto string   // the scheme the visitor used
	host  string   // the Host the visitor asked for
}

// chainOf reads what a trusted peer says of the hops before it, from the
// family fromXFF chooses, and writes it in both: X-Forwarded-For's
// addresses are Forwarded's for= values, and the visitor's scheme and
// host are X-Forwarded-Proto and -Host and the first element's proto=
// and host=. proto and host are this connection's when the peer does not
// say.
func chainOf(in *http.Request, proto string) chain {
	c := chain{proto: proto, host: in.Host}
	h := in.Header
	if fromXFF(h) {
		for _, line := range h["X-Forwarded-For"] {
			for a := range strings.SplitSeq(line, ",") {
				if a = strings.TrimSpace(a); a != "" {
					c.xff = append(c.xff, a)
				}
			}
		}
		p, host := forwardedProto(h), firstOfList(h.Get("X-Forwarded-Host"))
		if p != "" {
			c.proto = p
		}
		if host != "" {
			c.host = host
		}
		if len(c.xff) == 0 && p == "" && host == "" {
			return c
		}
		// The first element is the visitor's request, as the X- headers
		// describe it; the others name the hops' clients alone.
		first := "host=" + forwardedValue(c.host) + ";proto=" + c.proto
		if len(c.xff) == 0 {
			c.fwd = []string{first}
			return c
		}
		for i, a := range c.xff {
			e := "for=" + forwardedNode(a)
			if i == 0 {
				e += ";" + first
			}
			c.fwd = append(c.fwd, e)
		}
		return c
	}
	// Forwarded goes on as the peer wrote it, element by element (one
	// it cannot read goes on as for=unknown: an unclosed quote, once the
	// lines are one list, would take in the elements after it, this
	// hop's too); X-Forwarded-For gets its for= addresses, and the first
	// element says what the visitor asked.
	elems, texts := forwardedElements(h["Forwarded"])
	c.fwd = texts
	for i, e := range elems {
		if i == 0 {
			if p := scheme(e.proto); p != "" {
				c.proto = p
			}
			if e.host != "" {
				c.host = e.host
			}
		}
		if e.hasFor {
			c.xff = append(c.xff, xffEntry(e.node))
		}
	}
	return c
}

// apply sets the forwarding headers of out, the request to the origin,
// from in, the visitor's request. From a trusted peer the chain goes on
// (see chainOf): X-Forwarded-For gets the peer appended, Forwarded this
// hop's element (RFC 7239: who connected, the Host this proxy was sent,
// over which scheme), and X-Forwarded-Proto and -Host keep what the
// proxy in front said the visitor asked for. From any other peer they
// are replaced, and the headers only a CDN may set are removed. A Via
// the request came with gets this hop either way; a request that came
// without one goes on without one, as nginx's and httputil.ReverseProxy's
// do: an origin takes a request with a Via for one from a caching proxy,
// and leaves its answer uncompressed (nginx's default gzip_proxied off,
// IIS's noCompressionForProxies), which bespoke passes on as it comes.
// (The responses get this hop in their Via.) As middleware
// (Config.InProcess) the proxy is no hop: only the headers a peer may not
// send are removed.
func (f *forwarding) apply(in *http.Request, out http.Header) {
	withoutCookies(out, f.ownCookies)
	peer, trusted := f.peer(in)
	for name := range out {
		if strings.IndexByte(name, '_') >= 0 {
			// CGI, and the servers that follow it (PHP, many frameworks),
			// read CF_IPCountry as CF-IPCountry and X_Forwarded_For as
			// X-Forwarded-For; no CDN spells its headers so, and one
			// passes a visitor's on as sent: gone from any peer.
			if n := http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-")); f.stripped(n) || forwardingHeaders[n] {
				delete(out, name)
			}
		} else if !trusted && f.stripped(name) {
			delete(out, name)
		}
	}
	if f.inProcess {
		// The proxy after this middleware forwards: the headers as they
		// came (httputil.ReverseProxy took X-Forwarded-* off out).
		for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v, ok := in.Header[name]; ok && (trusted || !f.stripped(name)) {
				out[name] = v
			}
		}
		return
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	c := chain{proto: proto, host: in.Host}
	if trusted {
		c = chainOf(in, proto)
	}
	if peer.IsValid() {
		c.xff = append(c.xff, peer.String())
		c.fwd = append(c.fwd, forwardedElement(peer, in.Host, proto))
	}
	// (The names are canonical: the map is set directly, as Set would
	// canonicalize each again on every request.)
	setList(out, "X-Forwarded-For", c.xff)
	setList(out, "Forwarded", c.fwd)
	out["X-Forwarded-Proto"] = []string{c.proto}
	if c.host != "" {
		out["X-Forwarded-Host"] = []string{c.host}
	} else {
		// An HTTP/1.0 request without Host: none, as Forwarded has no
		// host= then (an empty one is an origin's 400).
		delete(out, "X-Forwarded-Host")
	}
	if via := in.Header["Via"]; len(via) > 0 {
		out["Via"] = []string{appendVia(via, in.ProtoMajor, in.ProtoMinor, f.via)}
	}
}

// fwdElement is what one Forwarded element says: its for= node (hasFor
// when it has one), host= and proto=, unquoted.
type fwdElement struct {
	node, host, proto string
	hasFor            bool
}

// forwardedElements reads the elements of Forwarded header lines (RFC
// 7239: pairs token=value, value a token or a quoted string, separated
// by ";", elements by ","; names in any case), and returns them with
// their text. An element it cannot read is one with for=unknown, as the
// chain cannot be followed past it, and so is its text.
func forwardedElements(lines []string) ([]fwdElement, []string) {
	var out []fwdElement
	var texts []string
	for _, line := range lines {
		for len(line) > 0 {
			e, pairs, rest, ok := forwardedElementOf(line)
			text := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(line[:len(line)-len(rest)]), ","), " \t")
			line = rest
			switch {
			case !ok:
				e, text = fwdElement{node: "unknown", hasFor: true}, "for=unknown"
			case pairs == 0:
				continue // an empty list element names no hop
			}
			out = append(out, e)
			texts = append(texts, text)
		}
	}
	return out, texts
}

// forwardedElementOf reads the element at the start of s and returns it,
// how many pairs it has, and what follows its ","; ok is false when it
// is malformed (its rest is then after the next "," outside quotes).
func forwardedElementOf(s string) (e fwdElement, pairs int, rest string, ok bool) {
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	bad := func() (fwdElement, int, string, bool) {
		for i < len(s) && s[i] != ',' {
			if s[i] == '"' {
				// Skip the quoted string, so that a comma in it does not
				// end the element.
				for i++; i < len(s) && s[i] != '"'; i++ {
					if s[i] == '\\' {
						i++
					}
				}
			}
			i++
		}
		return fwdElement{}, 0, s[min(i+1, len(s)):], false
	}
	for {
		skip()
		if i == len(s) {
			return e, pairs, "", true
		}
		if s[i] == ',' {
			return e, pairs, s[i+1:], true
		}
		if s[i] == ';' {
			i++
			continue
		}
		j := i
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		if j == i || j == len(s) || s[j] != '=' {
			return bad()
		}
		name := s[i:j]
		i = j + 1
		var v string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i == len(s) {
				return bad()
			}
			i++
			v = b.String()
		} else {
			j := i
			for j < len(s) && isTokenChar(s[j]) {
				j++
			}
			v, i = s[i:j], j
		}
		pairs++
		switch {
		case equalFoldASCII(name, "for"):
			e.node, e.hasFor = v, true
		case equalFoldASCII(name, "host"):
			e.host = v
		case equalFoldASCII(name, "proto"):
			e.proto = v
		}
		skip()
		if i < len(s) && s[i] != ';' && s[i] != ',' {
			return bad()
		}
	}
}

// forwardedNode writes an X-Forwarded-For entry as a Forwarded node: an
// IPv6 address in brackets and quotes, one with a port quoted, a name
// ("unknown", "_hidden") as it is when it is a token.
func forwardedNode(a string) string {
	if ip, err := netip.ParseAddr(a); err == nil && ip.Is6() {
		return `"[` + ip.String() + `]"`
	}
	return forwardedValue(a)
}

// xffEntry writes a Forwarded node as an X-Forwarded-For entry: the
// address without brackets or port, or the node when it is none
// ("unknown", an obfuscated "_hidden") and a token; anything else is
// "unknown".
func xffEntry(node string) string {
	if ap, err := netip.ParseAddrPort(node); err == nil {
		return ap.Addr().String()
	}
	if a, err := netip.ParseAddr(strings.Trim(node, "[]")); err == nil {
		return a.String()
	}
	if node == "" || strings.IndexFunc(node, func(r rune) bool { return r > 0x7e || !isTokenChar(byte(r)) }) >= 0 {
		return "unknown"
	}
	return node
}

// forwardingHeaders are the headers this proxy writes for every request
// (apply).
var forwardingHeaders = map[string]bool{
	"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true, "Forwarded": true, "Via": true,
}

func (f *forwarding) stripped(canonical string) bool {
	if f.strip[canonical] {
		return true
	}
	for _, p := range f.prefix {
		if strings.HasPrefix(canonical, p) {
			return true
		}
	}
	return false
}

// setList sets the field name, canonical, to the list values, or
// removes it when there are none.
func setList(h http.Header, name string, values []string) {
	if len(values) == 0 {
		delete(h, name)
		return
	}
	h[name] = []string{strings.Join(values, ", ")}
}

// forwardedElement is this hop's RFC 7239 element: who connected, to
// which host, over which scheme.
func forwardedElement(peer netip.Addr, host, proto string) string {
	node := peer.String()
	if peer.Is6() {
		node = `"[` + node + `]"`
	}
	e := "for=" + node
	if host != "" {
		e += ";host=" + forwardedValue(host)
	}
	return e + ";proto=" + proto
}

// forwardedValue writes v as an RFC 7239 value: a token, or else a quoted
// string (RFC 9110 5.6.4: '"' and '\\' escaped).
func forwardedValue(v string) string {
	for i := 0; i < len(v); i++ {
		if !isTokenChar(v[i]) {
			var b strings.Builder
			b.WriteByte('"')
			for j := 0; j < len(v); j++ {
				if v[j] == '"' || v[j] == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(v[j])
			}
			b.WriteByte('"')
			return b.String()
		}
	}
	return v
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// appendVia adds this hop to a Via list (RFC 9110 7.6.3).
func appendVia(prior []string, major, minor int, name string) string {
	proto := strconv.Itoa(major)
	if major < 2 {
		proto += "." + strconv.Itoa(minor)
	}
	hop := proto + " " + name
	if len(prior) == 0 {
		return hop
	}
	return strings.Join(prior, ", ") + ", " + hop
}

// withoutCookies removes from h's Cookie lines the pairs named names. The
// seen-filter's cookie and the caps' are the proxy's alone, opaque to the
// origin, and up to 3 KB: sent on, they would count against the origin's
// limit on a header line (Apache's 8,190 bytes, a Node server's 16 KB for
// all of them) in every request, a 400 for a visitor whose site cookies
// came near it. Other lines, and the other pairs, go on as they came.
func withoutCookies(h http.Header, names []string) {
	lines := h["Cookie"]
	if len(names) == 0 || len(lines) == 0 {
		return
	}
	kept := lines[:0]
	for _, line := range lines {
		if !holdsCookie(line, names) {
			kept = append(kept, line)
			continue
		}
		if rest := withoutPairs(line, names); rest != "" {
			kept = append(kept, rest)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

// withoutPairs is line without the pairs named names, "" when none is
// left. The pairs left next to each other (ours first or last, the usual
// case) are a piece of line, taken without a copy.
func withoutPairs(line string, names []string) string {
	first, last := -1, -1 // the pairs kept, as a piece of line
	var b []byte          // or built, once a pair was cut between two kept
	gap := false
	for i := 0; i < len(line); {
		end := strings.IndexByte(line[i:], ';')
		if end < 0 {
			end = len(line)
		} else {
			end += i
		}
		start, stop := i, end
		for start < stop && (line[start] == ' ' || line[start] == '\t') {
			start++
		}
		for stop > start && (line[stop-1] == ' ' || line[stop-1] == '\t') {
			stop--
		}
		i = end + 1
		if start == stop {
			continue
		}
		name, _, _ := strings.Cut(line[start:stop], "=")
		if slices.Contains(names, strings.TrimRight(name, " \t")) {
			gap = first >= 0
			continue
		}
		switch {
		case b != nil:
			b = append(append(b, "; "...), line[start:stop]...)
		case first < 0:
			first, last = start, stop
		case gap:
			b = append(append(append(make([]byte, 0, len(line)), line[first:last]...), "; "...), line[start:stop]...)
		default:
			last = stop
		}
	}
	switch {
	case b != nil:
		return string(b)
	case first < 0:
		return ""
	}
	return line[first:last]
}

// holdsCookie reports whether line may hold a pair named one of names:
// each name followed by '=', which a line without them (most requests)
// is told from without parsing it.
func holdsCookie(line string, names []string) bool {
	for _, n := range names {
		for i := 0; ; {
			j := strings.Index(line[i:], n)
			if j < 0 {
				break
			}
			i += j + len(n)
			rest := strings.TrimLeft(line[i:], " \t")
			if strings.HasPrefix(rest, "=") {
				return true
			}
		}
	}
	return false
}
