package geo

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

const testDBPath = "../../../testdata/geoip/test-city.mmdb"

func openTestDB(t testing.TB) *DB {
	t.Helper()
	db, err := OpenDB(testDBPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDBLookup(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		ip   string
		want Info // IP and Source are filled in below
	}{
		{"203.0.113.1", Info{Country: "FR", Region: "IDF", City: "Paris", Continent: "EU", Timezone: "Europe/Paris", Lat: 48.8566, Lon: 2.3522, HasLatLon: true}},
		{"203.0.113.255", Info{Country: "FR", Region: "IDF", City: "Paris", Continent: "EU", Timezone: "Europe/Paris", Lat: 48.8566, Lon: 2.3522, HasLatLon: true}},
		{"198.51.100.5", Info{Country: "FR", Region: "ARA", City: "Lyon", Continent: "EU", Timezone: "Europe/Paris", Lat: 45.764, Lon: 4.8357, HasLatLon: true}},
		{"198.51.100.127", Info{Country: "FR", Region: "ARA", City: "Lyon", Continent: "EU", Timezone: "Europe/Paris", Lat: 45.764, Lon: 4.8357, HasLatLon: true}},
		{"198.51.100.128", Info{Country: "US", Region: "WA", City: "Seattle", Continent: "NA", Timezone: "America/Los_Angeles", Lat: 47.6062, Lon: -122.3321, HasLatLon: true}},
		{"192.0.2.77", Info{Country: "DE", Region: "BE", City: "Berlin", Continent: "EU", Timezone: "Europe/Berlin", Lat: 52.52, Lon: 13.405, HasLatLon: true}},
		{"100.64.200.1", Info{Country: "JP", Region: "13", City: "Tokyo", Continent: "AS", Timezone: "Asia/Tokyo", Lat: 35.6762, Lon: 139.6503, HasLatLon: true}},
		{"100.65.0.1", Info{Country: "CH", Continent: "EU"}},
		{"198.18.1.1", Info{Country: "IT", Region: "25", City: "Milan", Continent: "EU", Timezone: "Europe/Rome", Lat: 45.4642, Lon: 9.19, HasLatLon: true}},
		{"198.18.6.9", Info{Country: "AR", Region: "C", City: "Buenos Aires", Continent: "SA", Timezone: "America/Argentina/Buenos_Aires", Lat: -34.6037, Lon: -58.3816, HasLatLon: true}},
		{"198.18.10.1", Info{Continent: "EU"}},
		{"198.18.11.1", Info{Country: "FR", Continent: "EU", Timezone: "Europe/Paris", Lat: 46, Lon: 2, HasLatLon: true}},
		{"198.18.12.1", Info{Country: "FR", Region: "IDF", City: "Boulogne-Billancourt", Continent: "EU", Timezone: "Europe/Paris", Lat: 48.8397, Lon: 2.2399, HasLatLon: true}},
		{"89.160.20.115", Info{Country: "SE", Region: "E", City: "Linköping", Continent: "EU", Timezone: "Europe/Stockholm", Lat: 58.4167, Lon: 15.6167, HasLatLon: true}},
		{"2001:db8:1::1", Info{Country: "BE", Region: "BRU", City: "Brussels", Continent: "EU", Timezone: "Europe/Brussels", Lat: 50.8503, Lon: 4.3517, HasLatLon: true}},
		{"2001:db8:1:ffff:ffff:ffff:ffff:ffff", Info{Country: "BE", Region: "BRU", City: "Brussels", Continent: "EU", Timezone: "Europe/Brussels", Lat: 50.8503, Lon: 4.3517, HasLatLon: true}},
		{"2001:db8:2::42", Info{Country: "US", Region: "CO", City: "Denver", Continent: "NA", Timezone: "America/Denver", Lat: 39.7392, Lon: -104.9903, HasLatLon: true}},
		{"2001:db8:3::1", Info{Country: "NL", Continent: "EU"}},
		{"2001:db8:6::1", Info{Country: "BR", Region: "SP", City: "São Paulo", Continent: "SA", Timezone: "America/Sao_Paulo", Lat: -23.5505, Lon: -46.6333, HasLatLon: true}},
		{"2001:db8:9::1", Info{Continent: "AS"}},
		{"2001:db8:a::1", Info{Country: "CH", Region: "ZH", City: "Zurich", Continent: "EU", Timezone: "Europe/Zurich", Lat: 47.3769, Lon: 8.5417, HasLatLon: true}},
		{"2001:218::1", Info{Country: "JP", Continent: "AS"}},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		got, ok := db.Lookup(ip)
		want := tt.want
		want.IP, want.Source = ip, SourceGeoIP
		if !ok || got != want {
			t.Errorf("Lookup(%s) = %+v, %v\nwant %+v", tt.ip, got, ok, want)
		}
	}
}

func TestDBLookupMisses(t *testing.T) {
	db := openTestDB(t)
	for _, s := range []string{"8.8.8.8", "10.0.0.1", "127.0.0.1", "198.51.99.255", "192.0.3.0", "2001:db8:ffff::1", "::1", "2001:db9::1"} {
		if got, ok := db.Lookup(netip.MustParseAddr(s)); ok || got != (Info{}) {
			t.Errorf("Lookup(%s) = %+v, %v; want nothing", s, got, ok)
		}
	}
	if got, ok := db.Lookup(netip.Addr{}); ok || got != (Info{}) {
		t.Errorf("Lookup(zero) = %+v, %v", got, ok)
	}
}

// TestDBLookupMappedAndZoned checks that the IPv4-mapped form of an address
// finds the IPv4 network and is reported as IPv4.
func TestDBLookupMappedAndZoned(t *testing.T) {
	db := openTestDB(t)
	got, ok := db.Lookup(netip.MustParseAddr("::ffff:203.0.113.5"))
	if !ok || got.City != "Paris" || got.IP != netip.MustParseAddr("203.0.113.5") {
		t.Errorf("mapped lookup = %+v, %v", got, ok)
	}
	got, ok = db.Lookup(netip.MustParseAddr("2001:db8:1::1%eth0"))
	if !ok || got.City != "Brussels" || got.IP.Zone() != "" {
		t.Errorf("zoned lookup = %+v, %v", got, ok)
	}
}

func TestNilDB(t *testing.T) {
	var db *DB
	if got, ok := db.Lookup(netip.MustParseAddr("203.0.113.1")); ok || got != (Info{}) {
		t.Errorf("nil DB Lookup = %+v, %v", got, ok)
	}
	if err := db.Close(); err != nil {
		t.Errorf("nil DB Close = %v", err)
	}
}

func TestOpenDBErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenDB(filepath.Join(dir, "missing.mmdb")); err == nil || !strings.Contains(err.Error(), "missing.mmdb") {
		t.Errorf("missing file: err = %v", err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	os.WriteFile(empty, nil, 0o644)
	if _, err := OpenDB(empty); err == nil {
		t.Error("empty file opened")
	}
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 100), 0o644)
	if _, err := OpenDB(junk); err == nil {
		t.Error("junk file opened")
	}
	asn := writeDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"203.0.113.0/24": {"autonomous_system_number": mmdbtype.Uint32(64496)},
	})
	if _, err := OpenDB(asn); err == nil || !strings.Contains(err.Error(), "no location data") {
		t.Errorf("ASN database: err = %v", err)
	}
}

// TestDBTolerantDecoding looks up records that bend the GeoIP2 layout, as
// databases from other tools may: values of unexpected types are skipped,
// integer coordinates are accepted, a Country database has no city.
func TestDBTolerantDecoding(t *testing.T) {
	path := writeDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"203.0.113.0/26": {
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("fr")},
			"location": mmdbtype.Map{"latitude": mmdbtype.String("48.85"), "longitude": mmdbtype.Float64(2.35), "time_zone": mmdbtype.Uint16(1)},
			"city":     mmdbtype.String("Paris"),
		},
		"203.0.113.64/26": {
			"country":      mmdbtype.String("FR"),
			"continent":    mmdbtype.Slice{mmdbtype.String("EU")},
			"subdivisions": mmdbtype.Map{"iso_code": mmdbtype.String("IDF")},
		},
		"203.0.113.128/26": {
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String("US")},
			"subdivisions": mmdbtype.Slice{mmdbtype.String("CA"), mmdbtype.Map{"iso_code": mmdbtype.String("NY")}},
			"location":     mmdbtype.Map{"latitude": mmdbtype.Int32(40), "longitude": mmdbtype.Int32(-74)},
			"city":         mmdbtype.Map{"names": mmdbtype.Map{"fr": mmdbtype.String("New York")}},
		},
		"203.0.113.192/26": {
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(strings.Repeat("F", 1000))},
			"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Paris")}},
			"traits":  mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)},
		},
		"192.0.2.0/24": {
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("FR")},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float32(48.5), "longitude": mmdbtype.Float32(2.25)},
		},
	})
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		ip   string
		want Info
		ok   bool
	}{
		{"203.0.113.1", Info{Country: "FR", Continent: "EU"}, true},
		{"203.0.113.65", Info{}, false},
		{"203.0.113.129", Info{Country: "US", Continent: "NA", Lat: 40, Lon: -74, HasLatLon: true}, true},
		{"203.0.113.193", Info{City: "Paris"}, true},
		{"192.0.2.1", Info{Country: "FR", Continent: "EU", Lat: 48.5, Lon: 2.25, HasLatLon: true}, true},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		got, ok := db.Lookup(ip)
		want := tt.want
		if tt.ok {
			want.IP, want.Source = ip, SourceGeoIP
		}
		if ok != tt.ok || got != want {
			t.Errorf("Lookup(%s) = %+v, %v\nwant %+v, %v", tt.ip, got, ok, want, tt.ok)
		}
	}
}

// writeDB writes an IPv6 database of the given type with the given
// networks, in a temporary directory, and returns its path.
func writeDB(t *testing.T, dbType string, records map[string]mmdbtype.Map) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for network, rec := range records {
		_, n, err := net.ParseCIDR(network)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTestDBUpToDate regenerates the checked-in test database and compares
// it byte for byte, so it can neither drift from its generator nor depend
// on when or where the generator runs.
func TestTestDBUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generator")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out := filepath.Join(t.TempDir(), "test-city.mmdb")
	cmd := exec.Command(goTool, "run", "../../../testdata/geoip/gen", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checked, err := os.ReadFile(testDBPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, checked) {
		t.Errorf("%s is stale or the generator is not deterministic: run go run ./testdata/geoip/gen", testDBPath)
	}
}

func TestHasLocation(t *testing.T) {
	for typ, want := range map[string]bool{
		"GeoIP2-City": true, "GeoLite2-City": true, "GeoIP2-Country": true, "GeoLite2-Country": true,
		"GeoIP2-Enterprise": true, "DBIP-City-Lite": true, "DBIP-Location-ISP (compat=Enterprise)": true,
		"GeoLite2-ASN": false, "GeoIP2-ISP": false, "GeoIP2-Domain": false, "GeoIP2-Connection-Type": false,
		"GeoIP2-Anonymous-IP": false, "GeoIP2-IP-Risk": false, "": true, "custom": true,
	} {
		if got := hasLocation(typ); got != want {
			t.Errorf("hasLocation(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestDBClosed(t *testing.T) {
	db, err := OpenDB(testDBPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Lookup(netip.MustParseAddr("203.0.113.1")); !ok {
		t.Fatal("open database misses Paris")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, ok := db.Lookup(netip.MustParseAddr("203.0.113.1")); ok || got != (Info{}) {
		t.Errorf("closed database: Lookup = %+v, %v", got, ok)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestCloseWhileLookingUp: a database closed while lookups run (a
// configuration of bespoke serve replaced under its requests) waits for
// those in progress; those after find nothing. Closed under them, its
// memory was unmapped as they read it.
func TestCloseWhileLookingUp(t *testing.T) {
	db, err := OpenDB(testDBPath)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("203.0.113.5")
	var wg sync.WaitGroup
	var started sync.WaitGroup
	for range 4 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if i == 100 {
					started.Done()
				}
				if info, ok := db.Lookup(ip); ok && info.City != "Paris" {
					t.Errorf("203.0.113.5 is in %q", info.City)
					return
				}
			}
		}()
	}
	started.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, ok := db.Lookup(ip); ok {
		t.Error("a closed database still knows 203.0.113.5")
	}
	if err := db.Close(); err != nil {
		t.Errorf("closed again: %v", err)
	}
}
