// Command gen writes testdata/geoip/test-city.mmdb, the small GeoIP2-City
// shaped database the geo package's tests and examples look addresses up
// in. Its output depends only on this file: run it again after changing
// the networks below, from anywhere in the module,
//
//	go run ./testdata/geoip/gen
//
// and update README.md beside the database to match.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// buildEpoch is the fixed build time written in the metadata (2026-01-01
// UTC), so that the file is the same byte for byte on every run.
const buildEpoch = 1767225600

// place is one network's record. Empty fields are left out of the record,
// as in MaxMind's databases, where a network may be known only to the
// country or only to the continent.
type place struct {
	network    string
	continent  string
	country    string
	regions    []string // subdivisions, largest first
	city       string
	cityNames  map[string]string // extra localized names besides "en"
	lat, lon   float64           // both 0: no location
	timezone   string
	accuracy   uint16 // km
	postalCode string
	registered string // registered_country, when it differs
}

// places are the networks: documentation and test ranges (RFC 5737 IPv4,
// RFC 6598 shared address space, RFC 2544 benchmarking, RFC 3849 IPv6),
// plus a few public networks mapped as in MaxMind's own test databases.
var places = []place{
	{network: "203.0.113.0/24", continent: "EU", country: "FR", regions: []string{"IDF"}, city: "Paris", lat: 48.8566, lon: 2.3522, timezone: "Europe/Paris", accuracy: 20},
	{network: "198.51.100.0/25", continent: "EU", country: "FR", regions: []string{"ARA"}, city: "Lyon", lat: 45.764, lon: 4.8357, timezone: "Europe/Paris", accuracy: 20},
	{network: "198.51.100.128/25", continent: "NA", country: "US", regions: []string{"WA"}, city: "Seattle", lat: 47.6062, lon: -122.3321, timezone: "America/Los_Angeles", accuracy: 20, postalCode: "98101"},
	{network: "192.0.2.0/24", continent: "EU", country: "DE", regions: []string{"BE"}, city: "Berlin", lat: 52.52, lon: 13.405, timezone: "Europe/Berlin", accuracy: 20},
	{network: "100.64.0.0/16", continent: "AS", country: "JP", regions: []string{"13"}, city: "Tokyo", lat: 35.6762, lon: 139.6503, timezone: "Asia/Tokyo", accuracy: 50},
	{network: "100.65.0.0/16", continent: "EU", country: "CH"},
	{network: "198.18.0.0/24", continent: "EU", country: "ES", regions: []string{"MD"}, city: "Madrid", lat: 40.4168, lon: -3.7038, timezone: "Europe/Madrid", accuracy: 20},
	{network: "198.18.1.0/24", continent: "EU", country: "IT", regions: []string{"25", "MI"}, city: "Milan", cityNames: map[string]string{"de": "Mailand", "fr": "Milan"}, lat: 45.4642, lon: 9.19, timezone: "Europe/Rome", accuracy: 20},
	{network: "198.18.2.0/24", continent: "EU", country: "GB", regions: []string{"ENG"}, city: "London", lat: 51.5074, lon: -0.1278, timezone: "Europe/London", accuracy: 10},
	{network: "198.18.3.0/24", continent: "AS", country: "IN", regions: []string{"MH"}, city: "Mumbai", lat: 19.076, lon: 72.8777, timezone: "Asia/Kolkata", accuracy: 50},
	{network: "198.18.4.0/24", continent: "NA", country: "MX", regions: []string{"CMX"}, city: "Mexico City", lat: 19.4326, lon: -99.1332, timezone: "America/Mexico_City", accuracy: 50},
	{network: "198.18.5.0/24", continent: "AF", country: "EG", regions: []string{"C"}, city: "Cairo", lat: 30.0444, lon: 31.2357, timezone: "Africa/Cairo", accuracy: 50},
	{network: "198.18.6.0/24", continent: "SA", country: "AR", regions: []string{"C"}, city: "Buenos Aires", lat: -34.6037, lon: -58.3816, timezone: "America/Argentina/Buenos_Aires", accuracy: 50},
	{network: "198.18.7.0/24", continent: "OC", country: "NZ", regions: []string{"AUK"}, city: "Auckland", lat: -36.8485, lon: 174.7633, timezone: "Pacific/Auckland", accuracy: 50},
	{network: "198.18.8.0/24", continent: "EU", country: "RU", regions: []string{"MOW"}, city: "Moscow", lat: 55.7558, lon: 37.6173, timezone: "Europe/Moscow", accuracy: 50},
	{network: "198.18.9.0/24", continent: "AS", country: "TR", regions: []string{"34"}, city: "Istanbul", lat: 41.0082, lon: 28.9784, timezone: "Europe/Istanbul", accuracy: 50},
	{network: "198.18.10.0/24", continent: "EU"},
	{network: "198.18.11.0/24", continent: "EU", country: "FR", lat: 46, lon: 2, timezone: "Europe/Paris", accuracy: 500},
	{network: "198.18.12.0/24", continent: "EU", country: "FR", regions: []string{"IDF", "92"}, city: "Boulogne-Billancourt", lat: 48.8397, lon: 2.2399, timezone: "Europe/Paris", accuracy: 10, postalCode: "92100"},
	{network: "81.2.69.0/24", continent: "EU", country: "GB", regions: []string{"ENG"}, city: "London", lat: 51.5142, lon: -0.0931, timezone: "Europe/London", accuracy: 10},
	{network: "89.160.20.112/28", continent: "EU", country: "SE", regions: []string{"E"}, city: "Linköping", lat: 58.4167, lon: 15.6167, timezone: "Europe/Stockholm", accuracy: 76},
	{network: "216.160.83.56/29", continent: "NA", country: "US", regions: []string{"WA"}, city: "Milton", lat: 47.2513, lon: -122.3149, timezone: "America/Los_Angeles", accuracy: 22, postalCode: "98354"},
	{network: "2001:db8:1::/48", continent: "EU", country: "BE", regions: []string{"BRU"}, city: "Brussels", cityNames: map[string]string{"de": "Brüssel", "fr": "Bruxelles"}, lat: 50.8503, lon: 4.3517, timezone: "Europe/Brussels", accuracy: 20},
	{network: "2001:db8:2::/48", continent: "NA", country: "US", regions: []string{"CO"}, city: "Denver", lat: 39.7392, lon: -104.9903, timezone: "America/Denver", accuracy: 20},
	{network: "2001:db8:3::/48", continent: "EU", country: "NL"},
	{network: "2001:db8:4::/48", continent: "AS", country: "JP", regions: []string{"27"}, city: "Osaka", lat: 34.6937, lon: 135.5023, timezone: "Asia/Tokyo", accuracy: 50},
	{network: "2001:db8:5::/48", continent: "OC", country: "AU", regions: []string{"NSW"}, city: "Sydney", lat: -33.8688, lon: 151.2093, timezone: "Australia/Sydney", accuracy: 50},
	{network: "2001:db8:6::/48", continent: "SA", country: "BR", regions: []string{"SP"}, city: "São Paulo", lat: -23.5505, lon: -46.6333, timezone: "America/Sao_Paulo", accuracy: 50},
	{network: "2001:db8:7::/48", continent: "AF", country: "ZA", regions: []string{"GP"}, city: "Johannesburg", lat: -26.2041, lon: 28.0473, timezone: "Africa/Johannesburg", accuracy: 50},
	{network: "2001:db8:8::/48", continent: "NA", country: "CA", regions: []string{"QC"}, city: "Montréal", lat: 45.5019, lon: -73.5674, timezone: "America/Toronto", accuracy: 20},
	{network: "2001:db8:9::/48", continent: "AS"},
	{network: "2001:db8:a::/48", continent: "EU", country: "CH", regions: []string{"ZH"}, city: "Zurich", cityNames: map[string]string{"de": "Zürich", "fr": "Zurich"}, lat: 47.3769, lon: 8.5417, timezone: "Europe/Zurich", accuracy: 20, postalCode: "8001", registered: "DE"},
	{network: "2001:218::/32", continent: "AS", country: "JP"},
}

var continentNames = map[string]string{
	"AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe",
	"NA": "North America", "OC": "Oceania", "SA": "South America",
}

var countryNames = map[string]string{
	"AR": "Argentina", "AU": "Australia", "BE": "Belgium", "BR": "Brazil",
	"CA": "Canada", "CH": "Switzerland", "DE": "Germany", "EG": "Egypt",
	"ES": "Spain", "FR": "France", "GB": "United Kingdom", "IN": "India",
	"IT": "Italy", "JP": "Japan", "MX": "Mexico", "NL": "Netherlands",
	"NZ": "New Zealand", "RU": "Russia", "SE": "Sweden", "TR": "Türkiye",
	"US": "United States", "ZA": "South Africa",
}

func names(en string, extra map[string]string) mmdbtype.Map {
	m := mmdbtype.Map{"en": mmdbtype.String(en)}
	for lang, name := range extra {
		m[mmdbtype.String(lang)] = mmdbtype.String(name)
	}
	return m
}

func country(code string) mmdbtype.Map {
	return mmdbtype.Map{
		"iso_code": mmdbtype.String(code),
		"names":    names(countryNames[code], nil),
	}
}

// record builds a GeoIP2-City record for p.
func record(p place) (mmdbtype.Map, error) {
	r := mmdbtype.Map{}
	if p.continent != "" {
		r["continent"] = mmdbtype.Map{
			"code":  mmdbtype.String(p.continent),
			"names": names(continentNames[p.continent], nil),
		}
	}
	if p.country != "" {
		if countryNames[p.country] == "" {
			return nil, fmt.Errorf("%s: no name for country %s", p.network, p.country)
		}
		r["country"] = country(p.country)
		r["registered_country"] = country(p.country)
	}
	if p.registered != "" {
		r["registered_country"] = country(p.registered)
	}
	if len(p.regions) > 0 {
		subs := mmdbtype.Slice{}
		for _, code := range p.regions {
			subs = append(subs, mmdbtype.Map{"iso_code": mmdbtype.String(code)})
		}
		r["subdivisions"] = subs
	}
	if p.city != "" {
		r["city"] = mmdbtype.Map{"names": names(p.city, p.cityNames)}
	}
	if p.lat != 0 || p.lon != 0 || p.timezone != "" {
		loc := mmdbtype.Map{}
		if p.lat != 0 || p.lon != 0 {
			loc["latitude"] = mmdbtype.Float64(p.lat)
			loc["longitude"] = mmdbtype.Float64(p.lon)
			loc["accuracy_radius"] = mmdbtype.Uint16(p.accuracy)
		}
		if p.timezone != "" {
			loc["time_zone"] = mmdbtype.String(p.timezone)
		}
		r["location"] = loc
	}
	if p.postalCode != "" {
		r["postal"] = mmdbtype.Map{"code": mmdbtype.String(p.postalCode)}
	}
	return r, nil
}

// build returns the database bytes.
func build() ([]byte, error) {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   buildEpoch,
		DatabaseType: "GeoIP2-City",
		Description: map[string]string{
			"en": "bespoke test database: documentation and test networks, see testdata/geoip/README.md",
		},
		Languages:  []string{"de", "en", "fr"},
		IPVersion:  6,
		RecordSize: 24,
		// The documentation and shared ranges are reserved; a test
		// database is exactly where they belong.
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return nil, err
	}
	for _, p := range places {
		_, network, err := net.ParseCIDR(p.network)
		if err != nil {
			return nil, err
		}
		r, err := record(p)
		if err != nil {
			return nil, err
		}
		if err := w.Insert(network, r); err != nil {
			return nil, fmt.Errorf("%s: %w", p.network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// moduleRoot returns the nearest directory at or above the working
// directory that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory; pass -o")
		}
		dir = parent
	}
}

func main() {
	log.SetFlags(0)
	out := flag.String("o", "", "output `file` (default testdata/geoip/test-city.mmdb in the module)")
	flag.Parse()
	if *out == "" {
		root, err := moduleRoot()
		if err != nil {
			log.Fatal(err)
		}
		*out = filepath.Join(root, "testdata", "geoip", "test-city.mmdb")
	}
	data, err := build()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s: %d networks, %d bytes\n", *out, len(places), len(data))
}
