// Package webguard keeps web pages away from the listeners meant for the
// operator's and the editors' own browsers and tools: the admin listener
// and the editors' preview.
//
// Any page a browser shows can make it send requests to a loopback
// address; what it cannot do is read the answers, unless it is of the
// same origin. DNS rebinding gives it that: the attacker's name resolves
// first to the attacker's server, then to 127.0.0.1, and the page's
// requests then reach the listener with the attacker's name as their
// Host. So such a listener answers only to Host values that name it
// (Hosts), and refuses what a page of another site sent (CrossSite):
// the answers stay unread, and nothing is done on another site's behalf.
package webguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Hosts is the set of Host values that name a listener: loopback names
// (localhost, *.localhost) and addresses, whatever their port, and the
// names and address prefixes it was made with. The zero Hosts holds the
// loopback ones only.
type Hosts struct {
	names    map[string]bool
	prefixes []netip.Prefix
}

// NewHosts returns the Hosts of list, besides the loopback ones: names
// and addresses ("admin.internal", "192.0.2.7"; with a port, as
// "admin.internal:9090", only that port) and address prefixes
// ("10.0.0.0/8"). Case, space around an entry, the brackets of an IPv6
// address ("[fd00::7]" or "fd00::7") and the dot that ends a fully
// qualified name ("admin.internal.") do not count, in an entry or a
// Host: a browser sends an IPv6 address in brackets, and a name as it
// was typed.
func NewHosts(list []string) Hosts {
	h := Hosts{names: map[string]bool{}}
	for _, s := range list {
		s = strings.ToLower(strings.TrimSpace(s))
		if p, err := netip.ParsePrefix(s); err == nil {
			h.prefixes = append(h.prefixes, p.Masked())
			continue
		}
		name, port := splitHost(s)
		if a, err := netip.ParseAddr(name); err == nil && port == "" {
			// An address is the prefix of itself alone, so that it
			// matches however the Host spells it (mapped, or with its
			// zeros written out).
			a = a.Unmap().WithZone("")
			h.prefixes = append(h.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		if port != "" {
			name = net.JoinHostPort(name, port)
		}
		h.names[name] = true
	}
	return h
}

// Check reports what is wrong with an entry NewHosts would take, nil when
// nothing is. NewHosts takes any string, and one that names no host a
// request could send (a URL, a wildcard, a prefix that does not parse)
// would be a name no Host ever is: the listener refusing the host the
// operator listed, with nothing to say why.
func Check(entry string) error {
	const noName = "is no host name: write a name (admin.internal), an address, either with :port for that port only, or an address prefix (10.0.0.0/8)"
	s := strings.TrimSpace(entry)
	if s == "" {
		return errors.New("is empty")
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		return fmt.Errorf("is a URL: write its host alone (%s)", u.Host)
	}
	if _, bits, ok := strings.Cut(s, "/"); ok {
		if _, err := strconv.Atoi(bits); err == nil {
			return errors.New("is no address prefix (write 10.0.0.0/8)")
		}
		return errors.New(noName)
	}
	if strings.HasPrefix(s, "*") {
		return errors.New("is a wildcard: list each name (admin.internal) or an address prefix (10.0.0.0/8)")
	}
	name := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return errors.New(noName)
		}
		name = h
	}
	name = strings.Trim(name, "[]")
	if _, err := netip.ParseAddr(name); err == nil {
		return nil
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
		if label == "" || strings.ContainsFunc(label, func(r rune) bool {
			return r <= ' ' || r == 0x7f || strings.ContainsRune("*/?#@[]:\\%\"<>{}|^`", r)
		}) {
			return errors.New(noName)
		}
	}
	return nil
}

// splitHost is host's name, in the one spelling entries and requests are
// compared in, and its port ("" for none): lower case, an IPv6 address
// without its brackets and in its canonical form, a name without the dot
// that ends a fully qualified one (localhost. is localhost).
func splitHost(host string) (name, port string) {
	name = host
	if n, p, err := net.SplitHostPort(host); err == nil {
		name, port = n, p
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if a, err := netip.ParseAddr(name); err == nil {
		name = a.WithZone("").String()
	}
	return name, port
}

// Has reports whether host, a request's Host, names the listener. An
// address outside loopback and the prefixes is refused like a name, so
// that a listener bound beyond loopback answers only to what was
// configured.
func (h Hosts) Has(host string) bool {
	name, port := splitHost(host)
	if name == "" {
		return false
	}
	if h.names[name] || port != "" && h.names[net.JoinHostPort(name, port)] {
		return true
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(name)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	for _, p := range h.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CrossSite returns why r looks sent by a page of another origin, or ""
// when nothing says so: an Origin other than the listener's own (http://
// or https:// and r.Host, which Has must have accepted), or a
// Sec-Fetch-Site other than same-origin or none (a form, link, frame or
// fetch of another site, same-site included: another port of localhost is
// another program). A request without either header (curl, a script, an
// older browser) is not refused by this.
func CrossSite(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
		return "cross-origin request"
	}
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" && sfs != "none" {
		return "cross-site request"
	}
	return ""
}
