package geo

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/internal/tzname"
)

// Header values arrive from the network: every field is trimmed and checked
// here, and a value that fails its check is treated as absent rather than
// passed on, so a rule never compares against garbage.

// trimOWS strips the optional whitespace HTTP allows around values.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// headerValue returns the value of the canonical header key, or "" when the
// header is missing or repeated with different values: a CDN sets its
// headers once, so a second, different copy means something else added one
// and neither can be believed.
func headerValue(h http.Header, key string) string {
	v := h[key]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	for _, w := range v[1:] {
		if w != v[0] {
			return ""
		}
	}
	return v[0]
}

// normCountry returns the upper-case ISO 3166-1 alpha-2 code in s, or ""
// when s names no country: only assigned codes (and XK, Kosovo) are
// countries, the ones a rule can name. Sources also send XX (Cloudflare's
// "unknown"), ZZ (CLDR's "unknown region"), T1 (Cloudflare's Tor exit
// marker), the legacy GeoIP markers EU and AP (an address known only to be
// in Europe or Asia/Pacific), A1, A2 and O1 (proxies, satellite providers
// and "other"), and the user-assigned codes (AA, QM-QZ, XA-XZ); taking one
// for a country would keep the database from giving the real one.
func normCountry(s string) string {
	s = trimOWS(s)
	if len(s) != 2 {
		return ""
	}
	i := letterIndex(s[0], s[1])
	if i < 0 || continentOf[i] == "" {
		return ""
	}
	return twoLetter[i]
}

// normRegion returns the ISO 3166-2 subdivision code in s without its
// country prefix ("FR-IDF" and "IDF" both give "IDF"), upper-case, or "" when
// s is not one to three ASCII letters or digits. A region means nothing
// without its country, so it is dropped when country is "".
func normRegion(s, country string) string {
	if country == "" {
		return ""
	}
	s = trimOWS(s)
	if len(s) > 3 && s[2] == '-' && strings.EqualFold(s[:2], country) {
		s = s[3:]
	}
	if len(s) == 0 || len(s) > 3 {
		return ""
	}
	lower := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z':
			lower = true
		default:
			return ""
		}
	}
	if lower {
		return strings.ToUpper(s)
	}
	return s
}

// maxCity bounds a city name; the longest real ones are well under it.
const maxCity = 100

// normCity returns the city name in s, or "" when it is too long, not UTF-8,
// holds control characters or has no letter at all (placeholders such as
// "?", "-" or "***").
func normCity(s string) string {
	s = trimOWS(s)
	if len(s) == 0 || len(s) > maxCity || !utf8.ValidString(s) {
		return ""
	}
	letter := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ""
		}
		if !letter && unicode.IsLetter(r) {
			letter = true
		}
	}
	if !letter {
		return ""
	}
	return s
}

// cityEqual reports whether two city names are the same place as spelled by
// different sources: case, spaces and punctuation are ignored, so Akamai's
// "SANFRANCISCO" matches "San Francisco".
func cityEqual(a, b string) bool {
	for {
		ra, na := nextCityRune(a)
		rb, nb := nextCityRune(b)
		if na == 0 || nb == 0 {
			return na == nb
		}
		if ra != rb {
			return false
		}
		a, b = a[na:], b[nb:]
	}
}

// nextCityRune returns the next letter or digit of s, lower-cased, and how
// many bytes it took to reach past it; 0 bytes means none is left.
func nextCityRune(s string) (rune, int) {
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r), i + utf8.RuneLen(r)
		}
	}
	return 0, 0
}

// maxTimezone bounds an IANA time zone name (the longest is 32 bytes).
const maxTimezone = 64

// normTimezone returns the IANA time zone name in s ("Europe/Paris"), or ""
// when s does not have the shape of one: letters first, then letters, digits
// and "/_+-". It does not load the zone, which would be too slow per request.
func normTimezone(s string) string {
	s = trimOWS(s)
	if len(s) == 0 || len(s) > maxTimezone {
		return ""
	}
	if c := s[0] | 0x20; c < 'a' || c > 'z' {
		return ""
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '+' || c == '-') {
			return ""
		}
	}
	// A provider or a database may send a zone's old name (Asia/Calcutta)
	// where a rule writes its current one (Asia/Kolkata), or the other
	// way; the checker makes a rule's name current too.
	return tzname.Current(s)
}

// maxCoordinate bounds a coordinate's text so a huge header costs nothing.
const maxCoordinate = 32

// parseLatLon parses a latitude and a longitude in decimal degrees. Both
// must parse, be finite and be in range; (0, 0) counts as absent because
// several providers send it when they know nothing and no visitor is there.
func parseLatLon(lat, lon string) (float64, float64, bool) {
	la, ok := parseCoordinate(lat, 90)
	if !ok {
		return 0, 0, false
	}
	lo, ok := parseCoordinate(lon, 180)
	if !ok {
		return 0, 0, false
	}
	return validLatLon(la, lo)
}

func parseCoordinate(s string, limit float64) (float64, bool) {
	s = trimOWS(s)
	if len(s) == 0 || len(s) > maxCoordinate {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < -limit || f > limit {
		return 0, false
	}
	return f, true
}

// validLatLon applies parseLatLon's checks to numbers already decoded.
func validLatLon(lat, lon float64) (float64, float64, bool) {
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return 0, 0, false
	}
	if lat == 0 && lon == 0 {
		return 0, 0, false
	}
	return lat, lon, true
}
