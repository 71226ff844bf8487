package proxy

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultStripHeaders are the request headers only a CDN or load balancer
// in front may set: their client address and geography headers. They are
// removed from requests of untrusted peers before they reach the origin,
// which would otherwise believe what any visitor wrote. A trailing "*"
// matches any suffix.
var DefaultStripHeaders = []string{
	// Cloudflare
	"CF-Connecting-IP", "CF-Connecting-IPv6", "CF-Pseudo-IPv4", "CF-IPCountry", "CF-IPCity", "CF-IPContinent",
	"CF-IPLatitude", "CF-IPLongitude", "CF-Region", "CF-Region-Code", "CF-Metro-Code", "CF-Postal-Code",
	"CF-Timezone", "CF-Visitor", "CF-Ray", "CF-Worker", "CF-EW-Via", "CDN-Loop",
	// Generic client-address headers set by CDNs and load balancers
	"True-Client-IP", "X-Real-IP", "X-Client-IP", "X-Cluster-Client-IP", "X-Original-Forwarded-For",
	// CloudFront
	"CloudFront-Viewer-*", "CloudFront-Is-*", "CloudFront-Forwarded-Proto",
	// Fastly
	"Fastly-Client-IP", "Fastly-Client", "Fastly-SSL", "Fastly-Orig-Accept-Encoding", "Client-Geo-*",
	// Vercel
	"X-Vercel-IP-*", "X-Vercel-Forwarded-For", "X-Vercel-Id",
	// Akamai
	"X-Akamai-*", "Akamai-Origin-Hop", "Akamai-Client-IP",
	// Google Cloud load balancers, Azure Front Door
	"X-Client-Geo-Location", "X-Azure-ClientIP", "X-Azure-SocketIP",
}

// forwarding decides what forwarding headers the origin gets.
type forwarding struct {
	trusted []netip.Prefix
	strip   map[string]bool // canonical names removed from untrusted requests
	prefix  []string        // canonical prefixes of names removed
	via     string          // this proxy's name in Via
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
// this proxy, or a trusted peer's X-Forwarded-Proto: https.
func (f *forwarding) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if _, ok := f.peer(r); !ok {
		return false
	}
	return forwardedProto(r.Header) == "https"
}

// forwardedProto is the visitor's scheme a proxy in front recorded: the
// first (leftmost, the visitor-facing hop's) X-Forwarded-Proto value,
// "http" or "https", or "".
func forwardedProto(h http.Header) string {
	v := h.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "http", "https":
		return v
	}
	return ""
}

// apply sets the forwarding headers of out, the request to the origin,
// from in, the visitor's request. From a trusted peer the chain goes on:
// X-Forwarded-For and Forwarded get the peer appended, and
// X-Forwarded-Proto and -Host keep what the proxy in front said. From any
// other peer they are replaced, and the headers only a CDN may set are
// removed. Via gets this hop either way.
func (f *forwarding) apply(in *http.Request, out http.Header) {
	peer, trusted := f.peer(in)
	if !trusted {
		for name := range out {
			if f.stripped(name) {
				delete(out, name)
			}
		}
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	host := in.Host
	var xff, fwd []string
	if trusted {
		if p := forwardedProto(in.Header); p != "" {
			proto = p
		}
		if h := in.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
		xff = in.Header.Values("X-Forwarded-For")
		fwd = in.Header.Values("Forwarded")
	}
	if peer.IsValid() {
		xff = append(xff, peer.String())
		fwd = append(fwd, forwardedElement(peer, in.Host, proto))
	}
	setList(out, "X-Forwarded-For", xff)
	setList(out, "Forwarded", fwd)
	out.Set("X-Forwarded-Proto", proto)
	out.Set("X-Forwarded-Host", host)
	out.Set("Via", appendVia(in.Header.Values("Via"), in.ProtoMajor, in.ProtoMinor, f.via))
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

func setList(h http.Header, name string, values []string) {
	if len(values) == 0 {
		h.Del(name)
		return
	}
	h.Set(name, strings.Join(values, ", "))
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
// string.
func forwardedValue(v string) string {
	for i := 0; i < len(v); i++ {
		if !isTokenChar(v[i]) {
			return strconv.Quote(v)
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
