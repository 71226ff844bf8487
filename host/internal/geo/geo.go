// Package geo finds out who a request comes from and where: the visitor's
// client IP behind the proxies the operator trusts, and a location from CDN
// headers or a MaxMind-format database. Rules target visitors with it
// (geo.country == "FR", geo.within(45.76, 4.83, 50)).
//
// Nothing a visitor can write is believed unless the operator said so:
// forwarding headers and CDN geo headers are read only when the request's
// immediate peer (http.Request.RemoteAddr) is a trusted proxy, and CDN
// headers only for the providers the operator enabled.
package geo

import (
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
)

// Config says what a Resolver may believe. The zero Config trusts no
// forwarding header, reads no CDN header and has no database: the client IP
// is the peer's address and the location is unknown.
type Config struct {
	// TrustedProxies are the peers (http.Request.RemoteAddr) whose
	// X-Forwarded-For, Forwarded and CDN geo headers are believed, and the
	// hops skipped while walking forwarding headers. Nil trusts none;
	// ParsePrefixes builds it, DefaultTrusted is the usual start.
	TrustedProxies []netip.Prefix
	// Providers are the CDN header families to read, each only from a
	// trusted peer, in order of precedence. Nil reads none. Names that are
	// not Provider constants are ignored; ParseProviders rejects them.
	Providers []Provider
	// CountryHeader is a header that holds the visitor's ISO country code,
	// for an edge whose header is not one of the providers'. When it is
	// present and valid it decides the country ahead of every provider and
	// the database; it too is read only from trusted peers. "" reads none.
	CountryHeader string
	// DB is a MaxMind-format database to look the client IP up in when the
	// headers leave fields unknown. Nil looks nothing up. The Resolver does
	// not close it.
	DB *DB
}

// Info is what is known of a visitor's location. The zero Info knows
// nothing.
type Info struct {
	// IP is the client address after walking trusted hops, IPv4 rather than
	// IPv4-mapped IPv6 and without zone; the zero Addr when RemoteAddr does
	// not hold an address.
	IP netip.Addr
	// Country is the ISO 3166-1 alpha-2 code, upper-case, or "" when
	// unknown. Provider placeholders are unknown too: Cloudflare's XX and
	// T1 (a Tor exit, which has no country), Fastly's "**", and every code
	// ISO has not assigned to a country (XK aside), such as the legacy
	// GeoIP EU and AP.
	Country string
	// Region is the ISO 3166-2 subdivision code without its country prefix
	// ("IDF" for FR-IDF, "CA" for US-CA), upper-case; "" when unknown. It is
	// "" whenever Country is.
	Region string
	// City is the city name as the source spells it, or "" when unknown.
	City string
	// Continent is one of AF AN AS EU NA OC SA, or "" when unknown. When no
	// source gives it, it is derived from Country.
	Continent string
	// Timezone is an IANA time zone name ("Europe/Paris"), or "" when
	// unknown.
	Timezone string
	// Lat and Lon are in decimal degrees; they are meaningful only when
	// HasLatLon is true, and are 0 otherwise.
	Lat, Lon float64
	// HasLatLon reports whether Lat and Lon are known.
	HasLatLon bool
	// Source names where Country came from ("header" for
	// Config.CountryHeader, a Provider name, or "geoip" for the database);
	// when Country is unknown, the first source that gave any field; "" when
	// none did.
	Source string
	// Looked are the fields the database was asked for, by the client's
	// address: those the headers did not give (every field, when they
	// gave no country); none when no lookup was made. See ByAddress.
	Looked Field
}

// ByAddress reports whether the given fields (and those they depend on)
// came from, or were sought in, the database by the client's address: a
// response made from them depends on that address, which no Vary can
// name.
func (i Info) ByAddress(fields Field) bool {
	return i.Looked&dependencies(fields) != 0
}

// Source names used in Info.Source besides Provider names.
const (
	// SourceHeader is Config.CountryHeader.
	SourceHeader = "header"
	// SourceGeoIP is the database.
	SourceGeoIP = "geoip"
)

// Resolver resolves requests to an Info. It is immutable after New and safe
// for concurrent use. A nil *Resolver behaves like New(Config{}).
type Resolver struct {
	trust         trustSet
	providers     []provider
	countryHeader string
	db            *DB
}

type provider struct {
	name string
	read func(http.Header) Info
	// headers are the provider's header names: one of them in a request
	// says it came through that provider.
	headers []string
}

// New returns a Resolver for cfg. It copies what it keeps, so changing cfg
// afterwards has no effect.
func New(cfg Config) *Resolver {
	r := &Resolver{trust: newTrustSet(cfg.TrustedProxies), db: cfg.DB}
	for _, p := range cfg.Providers {
		read, ok := providerReaders[p]
		if !ok {
			continue
		}
		dup := false
		for _, q := range r.providers {
			dup = dup || q.name == string(p)
		}
		if !dup {
			r.providers = append(r.providers, provider{name: string(p), read: read, headers: providerHeaders[p]})
		}
	}
	if h := trimOWS(cfg.CountryHeader); h != "" {
		r.countryHeader = textproto.CanonicalMIMEHeaderKey(h)
	}
	return r
}

// ClientIP returns the visitor's address: the peer's, or, when the peer is
// a trusted proxy, the first untrusted address found walking
// X-Forwarded-For (or, without it, Forwarded) from the right. When every
// hop is trusted it is the leftmost one; a malformed entry, "unknown" or an
// obfuscated identifier stops the walk at the last good address. It returns
// the zero Addr when RemoteAddr holds no address.
//
// The two headers are never combined: a proxy appending to one leaves the
// other as the visitor sent it. A trusted proxy that writes only Forwarded
// must therefore drop any X-Forwarded-For from the requests it passes on.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	ip, _ := r.clientAndTrust(req)
	return ip
}

// clientAndTrust returns the client address and whether the peer is
// trusted, so its headers may be read.
func (r *Resolver) clientAndTrust(req *http.Request) (netip.Addr, bool) {
	if req == nil {
		return netip.Addr{}, false
	}
	peer := parseRemoteAddr(req.RemoteAddr)
	if r == nil || !peer.IsValid() || !r.trust.contains(peer) {
		return peer, false
	}
	return r.clientIP(req.Header, peer), true
}

// Resolve returns what is known of the request's visitor. Sources are
// consulted in order of precedence: Config.CountryHeader, then the first
// of the enabled providers, in the order given, whose headers the request
// carries (and no other: a CDN passes on a visitor's headers, another
// provider's among them), then the database lookup of the client IP;
// headers only from a trusted peer.
//
// The first source that names a country decides it. A later source fills
// only fields still empty, and only if it names the same country (while no
// country is known, any source may fill). The region, city, time zone and
// coordinates it fills must also not contradict the region and city already
// known, so the database never puts Paris coordinates on a city the CDN
// placed in Lyon. Continent, when no source gives it, comes from Country.
func (r *Resolver) Resolve(req *http.Request) Info {
	ip, trusted := r.clientAndTrust(req)
	info := Info{IP: ip}
	if trusted {
		if r.countryHeader != "" {
			if c := normCountry(headerValue(req.Header, r.countryHeader)); c != "" {
				merge(&info, Info{Country: c}, SourceHeader)
			}
		}
		for _, p := range r.providers {
			if !p.sentAny(req.Header) {
				continue
			}
			// The CDN the request came through: its headers alone are
			// read, placeholders (XX, T1) and all. It passes on the
			// headers a visitor wrote, another provider's among them.
			merge(&info, p.read(req.Header), p.name)
			break
		}
	}
	if r != nil && r.db != nil && ip.IsValid() && !complete(&info) {
		info.Looked = missing(&info)
		if got, ok := r.db.Lookup(ip); ok {
			merge(&info, got, SourceGeoIP)
		}
	}
	if info.Continent == "" {
		info.Continent = continentFor(info.Country)
	}
	return info
}

// sentAny reports whether h holds one of the provider's headers.
func (p provider) sentAny(h http.Header) bool {
	for _, name := range p.headers {
		if len(h[name]) > 0 {
			return true
		}
	}
	return false
}

// missing returns the fields a later source may fill: the empty ones
// but the continent, which the country gives, or every one while no
// country is known (the first country decides which source fills the
// rest).
func missing(i *Info) Field {
	if i.Country == "" {
		return FieldAll
	}
	var f Field
	for _, e := range []struct {
		empty bool
		field Field
	}{{i.Region == "", FieldRegion}, {i.City == "", FieldCity}, {i.Timezone == "", FieldTimezone}, {!i.HasLatLon, FieldLatLon}} {
		if e.empty {
			f |= e.field
		}
	}
	return f
}

// complete reports whether no later source could add anything that
// matters: a missing continent is derived from the country anyway.
func complete(i *Info) bool {
	return i.Country != "" && i.Region != "" && i.City != "" && i.Timezone != "" && i.HasLatLon
}

// merge fills dst's empty fields from src, named name, under the rules
// Resolve documents.
func merge(dst *Info, src Info, name string) {
	if dst.Country != "" && src.Country != dst.Country {
		return
	}
	// Compare before filling: the check is against what earlier, more
	// trusted sources said.
	consistent := (dst.Region == "" || src.Region == "" || dst.Region == src.Region) &&
		(dst.City == "" || src.City == "" || cityEqual(dst.City, src.City))
	filled := false
	fill := func(d *string, s string) {
		if *d == "" && s != "" {
			*d, filled = s, true
		}
	}
	if dst.Country == "" && src.Country != "" {
		dst.Country, filled = src.Country, true
		dst.Source = name
	}
	fill(&dst.Continent, src.Continent)
	if consistent {
		fill(&dst.Region, src.Region)
		fill(&dst.City, src.City)
		fill(&dst.Timezone, src.Timezone)
		if !dst.HasLatLon && src.HasLatLon {
			dst.Lat, dst.Lon, dst.HasLatLon, filled = src.Lat, src.Lon, true, true
		}
	}
	if filled && dst.Source == "" {
		dst.Source = name
	}
}

// Field is a set of Info fields, for HeadersFor. The zero Field is none.
type Field uint8

// The fields of Info whose sources can be told apart.
const (
	FieldCountry Field = 1 << iota
	FieldRegion
	FieldCity
	FieldContinent
	FieldTimezone
	// FieldLatLon is Lat, Lon and HasLatLon.
	FieldLatLon

	// FieldAll is every field.
	FieldAll = FieldCountry | FieldRegion | FieldCity | FieldContinent | FieldTimezone | FieldLatLon
)

// providerFields are, per provider, the request headers its reader
// consults for each field (indexed by the field's bit number).
var providerFields = map[Provider][6][]string{
	Cloudflare: {{hdrCFCountry}, {hdrCFRegion}, {hdrCFCity}, {hdrCFContinent}, {hdrCFTimezone}, {hdrCFLatitude, hdrCFLongitude}},
	CloudFront: {{hdrCloudFrontCountry}, {hdrCloudFrontRegion}, {hdrCloudFrontCity}, nil, {hdrCloudFrontTimezone}, {hdrCloudFrontLatitude, hdrCloudFrontLongitude}},
	Vercel:     {{hdrVercelCountry}, {hdrVercelRegion}, {hdrVercelCity}, {hdrVercelContinent}, {hdrVercelTimezone}, {hdrVercelLatitude, hdrVercelLongitude}},
	Fastly:     {{hdrFastlyCountry}, {hdrFastlyRegion}, {hdrFastlyCity}, {hdrFastlyContinent}, nil, {hdrFastlyLatitude, hdrFastlyLongitude}},
	Akamai:     {{hdrAkamaiEdgescape}, {hdrAkamaiEdgescape}, {hdrAkamaiEdgescape}, {hdrAkamaiEdgescape}, {hdrAkamaiEdgescape}, {hdrAkamaiEdgescape}},
}

// providerHeaders are the request headers each provider's reader consults.
var providerHeaders = func() map[Provider][]string {
	m := map[Provider][]string{}
	for p, fields := range providerFields {
		var hs []string
		for _, f := range fields {
			hs = append(hs, f...)
		}
		slices.Sort(hs)
		m[p] = slices.Compact(hs)
	}
	return m
}()

// dependencies widens fields to every field whose headers can change
// them, following Resolve's rules: the first country decides which
// sources may fill the rest (and a continent comes from the country when
// no source gives one), and region and city must agree across sources
// before a later source fills the city, time zone or coordinates.
func dependencies(fields Field) Field {
	deps := fields
	if fields != 0 {
		deps |= FieldCountry
	}
	if fields&(FieldRegion|FieldCity|FieldTimezone|FieldLatLon) != 0 {
		deps |= FieldRegion | FieldCity
	}
	return deps
}

// Headers returns the canonical names of the request headers whose values
// can change the location Resolve returns, sorted, for a Vary response
// header: HeadersFor(FieldAll).
func (r *Resolver) Headers() []string { return r.HeadersFor(FieldAll) }

// HeadersFor returns the canonical names of the request headers whose
// values can change the given fields of the location Resolve returns,
// sorted, for a Vary response header: CountryHeader, every header of
// each enabled provider but the last (one of them decides that the later
// ones are not read), the last one's headers for those fields and the
// fields they depend on, and
// X-Forwarded-For and Forwarded when a database locates the client
// address they reveal. It returns nil for no field, and when no peer is
// trusted (no header is read then); a new slice on each call.
func (r *Resolver) HeadersFor(fields Field) []string {
	if r == nil || len(r.trust.prefixes) == 0 || fields == 0 {
		return nil
	}
	deps := dependencies(fields)
	var hs []string
	if r.countryHeader != "" {
		hs = append(hs, r.countryHeader)
	}
	for i, p := range r.providers {
		if i < len(r.providers)-1 {
			// Any of its headers decides that a later provider's
			// are not read.
			hs = append(hs, p.headers...)
			continue
		}
		pf := providerFields[Provider(p.name)]
		for bit := range pf {
			if deps&(1<<bit) != 0 {
				hs = append(hs, pf[bit]...)
			}
		}
	}
	if r.db != nil {
		hs = append(hs, hdrXFF, hdrForwarded)
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}
