package geo

import "strings"

// parseEdgescape reads the fields of an Akamai X-Akamai-Edgescape value,
//
//	georegion=246,country_code=US,region_code=CA,city=SANJOSE,lat=37.3353,long=-121.8938,timezone=PST,continent=NA,...
//
// Keys are matched without regard to case, unknown keys and pieces without
// "=" are skipped, and the first occurrence of a key wins. Values never hold
// commas (multi-valued ones such as zip use "+"), so splitting on commas is
// exact.
func parseEdgescape(s string) Info {
	var i Info
	var country, region, city, lat, lon, tz, continent string
	var seen uint8
	const (
		seenCountry = 1 << iota
		seenRegion
		seenCity
		seenLat
		seenLon
		seenTZ
		seenContinent
	)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, ",")
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		k = trimOWS(k)
		switch {
		case strings.EqualFold(k, "country_code"):
			if seen&seenCountry == 0 {
				seen |= seenCountry
				country = v
			}
		case strings.EqualFold(k, "region_code"):
			if seen&seenRegion == 0 {
				seen |= seenRegion
				region = v
			}
		case strings.EqualFold(k, "city"):
			if seen&seenCity == 0 {
				seen |= seenCity
				city = v
			}
		case strings.EqualFold(k, "lat"):
			if seen&seenLat == 0 {
				seen |= seenLat
				lat = v
			}
		case strings.EqualFold(k, "long"):
			if seen&seenLon == 0 {
				seen |= seenLon
				lon = v
			}
		case strings.EqualFold(k, "timezone"):
			if seen&seenTZ == 0 {
				seen |= seenTZ
				tz = v
			}
		case strings.EqualFold(k, "continent"):
			if seen&seenContinent == 0 {
				seen |= seenContinent
				continent = v
			}
		}
	}
	i.Country = normCountry(country)
	i.Region = normRegion(region, i.Country)
	i.City = normCity(city)
	i.Lat, i.Lon, i.HasLatLon = parseLatLon(lat, lon)
	// Akamai's zones are abbreviations ("EST", "GMT+1"); some of them are
	// also legacy IANA names with other meanings ("EST" has no daylight
	// saving), so only a value shaped like Area/Location is believed.
	// (Believed before it is renamed: "EST" is now America/Panama's.)
	if strings.IndexByte(trimOWS(tz), '/') > 0 {
		i.Timezone = normTimezone(tz)
	}
	i.Continent = normContinent(continent)
	return i
}
