package geo

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Provider names a CDN whose geolocation request headers the resolver reads.
// The zero value names none.
type Provider string

// The providers whose headers the resolver knows.
const (
	// Cloudflare sends CF-IPCountry, and with the "Add visitor location
	// headers" managed transform also cf-region-code, cf-ipcity,
	// cf-timezone, cf-iplatitude, cf-iplongitude and cf-ipcontinent. It
	// writes each UTF-8 byte of a non-ASCII city as \u00XX ("São Paulo"
	// is S\u00c3\u00a3o Paulo), which is decoded.
	Cloudflare Provider = "cloudflare"
	// CloudFront sends CloudFront-Viewer-Country, -Country-Region, -City,
	// -Time-Zone, -Latitude and -Longitude when an origin request policy
	// forwards them.
	CloudFront Provider = "cloudfront"
	// Vercel sends X-Vercel-IP-Country, -Country-Region, -City (percent
	// encoded), -Latitude, -Longitude, -Timezone and -Continent.
	Vercel Provider = "vercel"
	// Fastly has no fixed header names: VCL exposes client.geo.* and each
	// service forwards what it chooses under names it chooses. The resolver
	// reads the names of Fastly's own "tag requests with geolocation data"
	// example: Client-Geo-Country (client.geo.country_code),
	// Client-Geo-Region (client.geo.region), Client-Geo-City
	// (client.geo.city), Client-Geo-Latitude, Client-Geo-Longitude and
	// Client-Geo-Continent (client.geo.continent_code). A service that
	// forwards the country under another name can use Config.CountryHeader.
	Fastly Provider = "fastly"
	// Akamai sends one X-Akamai-Edgescape header of comma-separated
	// key=value pairs; country_code, region_code, city, lat, long and
	// continent are read. Its timezone is an abbreviation such as "EST" or
	// "GMT+1", not an IANA name, and is used only if it has the shape of
	// one ("Area/Location"); Akamai's cities are upper-case without spaces
	// ("SANFRANCISCO") and are passed on as sent.
	Akamai Provider = "akamai"
)

// providerOrder is every provider, in the order "all" enables them.
var providerOrder = []Provider{Cloudflare, CloudFront, Vercel, Fastly, Akamai}

// ParseProviders parses a comma-separated list of provider names, case
// insensitive, keeping their order, which is the order of precedence when
// several send headers. "all" adds every provider not already listed, in the
// order cloudflare, cloudfront, vercel, fastly, akamai; "none", alone, or an
// empty string gives a nil slice (read no CDN header). Duplicates are
// dropped. An unknown name is an error that suggests the nearest known one.
func ParseProviders(s string) ([]Provider, error) {
	var out []Provider
	none := false
	items := 0
	add := func(p Provider) {
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.ToLower(trimOWS(item))
		if item == "" {
			continue
		}
		items++
		switch item {
		case "none":
			none = true
			continue
		case "all":
			for _, p := range providerOrder {
				add(p)
			}
			continue
		}
		if _, ok := providerReaders[Provider(item)]; !ok {
			names := make([]string, 0, len(providerOrder)+2)
			for _, p := range providerOrder {
				names = append(names, string(p))
			}
			names = append(names, "all", "none")
			return nil, fmt.Errorf("unknown CDN provider %q%s (known: %s)", item, suggest(item, names), strings.Join(names, ", "))
		}
		add(Provider(item))
	}
	if none && items > 1 {
		return nil, fmt.Errorf("CDN providers %q: \"none\" cannot be combined with other names", s)
	}
	return out, nil
}

// providerReaders reads each provider's headers into an Info whose fields
// are validated, or left empty.
var providerReaders = map[Provider]func(http.Header) Info{
	Cloudflare: readCloudflare,
	CloudFront: readCloudFront,
	Vercel:     readVercel,
	Fastly:     readFastly,
	Akamai:     readAkamai,
}

// Header names are kept in canonical form so lookups index the header map
// directly, as net/http stores incoming headers.
const (
	hdrCFCountry   = "Cf-Ipcountry"
	hdrCFRegion    = "Cf-Region-Code"
	hdrCFCity      = "Cf-Ipcity"
	hdrCFTimezone  = "Cf-Timezone"
	hdrCFLatitude  = "Cf-Iplatitude"
	hdrCFLongitude = "Cf-Iplongitude"
	hdrCFContinent = "Cf-Ipcontinent"

	hdrCloudFrontCountry   = "Cloudfront-Viewer-Country"
	hdrCloudFrontRegion    = "Cloudfront-Viewer-Country-Region"
	hdrCloudFrontCity      = "Cloudfront-Viewer-City"
	hdrCloudFrontTimezone  = "Cloudfront-Viewer-Time-Zone"
	hdrCloudFrontLatitude  = "Cloudfront-Viewer-Latitude"
	hdrCloudFrontLongitude = "Cloudfront-Viewer-Longitude"

	hdrVercelCountry   = "X-Vercel-Ip-Country"
	hdrVercelRegion    = "X-Vercel-Ip-Country-Region"
	hdrVercelCity      = "X-Vercel-Ip-City"
	hdrVercelTimezone  = "X-Vercel-Ip-Timezone"
	hdrVercelLatitude  = "X-Vercel-Ip-Latitude"
	hdrVercelLongitude = "X-Vercel-Ip-Longitude"
	hdrVercelContinent = "X-Vercel-Ip-Continent"

	hdrFastlyCountry   = "Client-Geo-Country"
	hdrFastlyRegion    = "Client-Geo-Region"
	hdrFastlyCity      = "Client-Geo-City"
	hdrFastlyLatitude  = "Client-Geo-Latitude"
	hdrFastlyLongitude = "Client-Geo-Longitude"
	hdrFastlyContinent = "Client-Geo-Continent"

	hdrAkamaiEdgescape = "X-Akamai-Edgescape"
)

func readCloudflare(h http.Header) Info {
	var i Info
	i.Country = normCountry(headerValue(h, hdrCFCountry))
	i.Region = normRegion(headerValue(h, hdrCFRegion), i.Country)
	if city, ok := unescapeCloudflare(headerValue(h, hdrCFCity)); ok {
		i.City = normCity(city)
	}
	i.Timezone = normTimezone(headerValue(h, hdrCFTimezone))
	i.Lat, i.Lon, i.HasLatLon = parseLatLon(headerValue(h, hdrCFLatitude), headerValue(h, hdrCFLongitude))
	i.Continent = normContinent(headerValue(h, hdrCFContinent))
	return i
}

// unescapeCloudflare decodes the \uXXXX escapes Cloudflare writes non-ASCII
// header values with: one per UTF-8 byte ("\u00c3\u00a3" is "ã"), as its
// documentation shows. Should the escapes not make UTF-8 that way, or one
// be above \u00ff, they are read as code points instead ("\u00f3" is
// "ó"). ok is false for a backslash that starts no escape, or an escaped
// surrogate: the value is garbled and is dropped.
func unescapeCloudflare(s string) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, true
	}
	asBytes := make([]byte, 0, len(s))
	asRunes := make([]byte, 0, len(s))
	wide := false
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			asBytes = append(asBytes, s[i])
			asRunes = append(asRunes, s[i])
			i++
			continue
		}
		if i+6 > len(s) || s[i+1] != 'u' {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
		if err != nil || n >= 0xd800 && n <= 0xdfff {
			return "", false
		}
		if n > 0xff {
			wide = true
		} else {
			asBytes = append(asBytes, byte(n))
		}
		asRunes = utf8.AppendRune(asRunes, rune(n))
		i += 6
	}
	if !wide && utf8.Valid(asBytes) {
		return string(asBytes), true
	}
	return string(asRunes), true
}

func readCloudFront(h http.Header) Info {
	var i Info
	i.Country = normCountry(headerValue(h, hdrCloudFrontCountry))
	i.Region = normRegion(headerValue(h, hdrCloudFrontRegion), i.Country)
	i.City = normCity(headerValue(h, hdrCloudFrontCity))
	i.Timezone = normTimezone(headerValue(h, hdrCloudFrontTimezone))
	i.Lat, i.Lon, i.HasLatLon = parseLatLon(headerValue(h, hdrCloudFrontLatitude), headerValue(h, hdrCloudFrontLongitude))
	return i
}

func readVercel(h http.Header) Info {
	var i Info
	i.Country = normCountry(headerValue(h, hdrVercelCountry))
	i.Region = normRegion(headerValue(h, hdrVercelRegion), i.Country)
	if city := headerValue(h, hdrVercelCity); city != "" {
		// Vercel percent-encodes the city (RFC 3986) so that non-ASCII names
		// survive the header; an undecodable value is dropped.
		if strings.IndexByte(city, '%') >= 0 {
			var err error
			if city, err = url.PathUnescape(city); err != nil {
				city = ""
			}
		}
		i.City = normCity(city)
	}
	i.Timezone = normTimezone(headerValue(h, hdrVercelTimezone))
	i.Lat, i.Lon, i.HasLatLon = parseLatLon(headerValue(h, hdrVercelLatitude), headerValue(h, hdrVercelLongitude))
	i.Continent = normContinent(headerValue(h, hdrVercelContinent))
	return i
}

func readFastly(h http.Header) Info {
	var i Info
	i.Country = normCountry(headerValue(h, hdrFastlyCountry))
	i.Region = normRegion(headerValue(h, hdrFastlyRegion), i.Country)
	i.City = normCity(headerValue(h, hdrFastlyCity))
	i.Lat, i.Lon, i.HasLatLon = parseLatLon(headerValue(h, hdrFastlyLatitude), headerValue(h, hdrFastlyLongitude))
	i.Continent = normContinent(headerValue(h, hdrFastlyContinent))
	return i
}

func readAkamai(h http.Header) Info {
	return parseEdgescape(headerValue(h, hdrAkamaiEdgescape))
}

// suggest returns ` (did you mean "x"?)` for the candidate nearest to name,
// or "" when none is close enough to be a plausible typo.
func suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(1, len(name)/3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and swaps of adjacent
// characters each count one, as typos do.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j], kept as three rows.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
