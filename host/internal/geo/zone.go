package geo

//go:generate go run gen_zones.go

// CountryZone returns the time zone of a country whose time zones all keep
// the same time ("Europe/Berlin" for DE, although Büsingen has a zone of
// its own), or "" for a country whose zones differ (US, ES, PT) and for an
// unknown code. The local time of a visitor whose location names no zone
// is read in it (package reqctx).
func CountryZone(country string) string { return countryZones[country] }

// ContinentOf returns the continent code of an upper-case country code
// ("EU" for "FR"), or "".
func ContinentOf(country string) string { return continentFor(country) }
