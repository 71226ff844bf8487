package geo

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClientIP feeds arbitrary RemoteAddr, X-Forwarded-For and Forwarded
// values. Whatever they hold, ClientIP must not panic, must agree with
// Resolve, must ignore the headers of an untrusted peer, and must return
// either the zero Addr or an address that is written somewhere in the
// input: it can skip and choose, never invent.
func FuzzClientIP(f *testing.F) {
	seeds := [][3]string{
		{"10.0.0.1:80", "203.0.113.9, 10.0.0.2", ""},
		{"10.0.0.1:80", "", `for="[2001:db8::1]:80";proto=https, for=10.0.0.3`},
		{"10.0.0.1:80", "1.1.1.1, garbage, 10.0.0.2", ""},
		{"10.0.0.1:80", "", `for=unknown, for="_x", for="1.2.3.4`},
		{"[::1]:443", "::ffff:203.0.113.9", ""},
		{"[fe80::1%eth0]:1", "[2001:db8::9]:_p, 2001:db8::8", `for=a;for=b`},
		{"203.0.113.1:1", "10.0.0.1", "for=10.0.0.1"},
		{"@", "1.2.3.4", ""},
		{"10.0.0.1", " , ,", `host="a,b";for=192.0.2.1, ,`},
		{"10.0.0.1:1", "", `for="\"";for=1.2.3.4`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	trusted, err := ParsePrefixes("10.0.0.0/8,loopback,fc00::/7,fe80::/10")
	if err != nil {
		f.Fatal(err)
	}
	r := New(Config{TrustedProxies: trusted})
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		for _, line := range strings.Split(xff, "\n") {
			if line != "" {
				req.Header.Add("X-Forwarded-For", line)
			}
		}
		for _, line := range strings.Split(fwd, "\n") {
			if line != "" {
				req.Header.Add("Forwarded", line)
			}
		}
		got := r.ClientIP(req)
		if info := r.Resolve(req); info.IP != got {
			t.Fatalf("Resolve().IP = %v, ClientIP = %v", info.IP, got)
		}
		if !got.IsValid() {
			return
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: not normalised", got)
		}
		peer := parseRemoteAddr(remote)
		if got == peer {
			return
		}
		if !peer.IsValid() || !r.trust.contains(peer) {
			t.Fatalf("untrusted peer %q: ClientIP = %v, want the peer %v", remote, got, peer)
		}
		if !mentions(xff+"\n"+fwd, got) {
			t.Fatalf("ClientIP = %v, which the input does not mention:\nremote %q\nxff %q\nforwarded %q", got, remote, xff, fwd)
		}
	})
}

// mentions reports whether a appears in s as an address, possibly with a
// port, written any way netip accepts. It is deliberately cruder than the
// parser under test: it splits on every separator either header uses.
func mentions(s string, a netip.Addr) bool {
	isSep := func(r rune) bool { return strings.ContainsRune(" \t\n,;=\"[]\\", r) }
	for _, field := range strings.FieldsFunc(s, isSep) {
		candidates := []string{field}
		if i := strings.LastIndexByte(field, ':'); i > 0 {
			candidates = append(candidates, field[:i])
		}
		for _, c := range candidates {
			if b, err := netip.ParseAddr(c); err == nil && b.Unmap().WithZone("") == a {
				return true
			}
		}
	}
	return false
}

// FuzzEdgescape feeds arbitrary X-Akamai-Edgescape values: parsing must
// not panic and every field must come out valid or empty.
func FuzzEdgescape(f *testing.F) {
	for _, s := range []string{
		"georegion=246,country_code=US,region_code=CA,city=SANJOSE,dma=807,lat=37.3353,long=-121.8938,timezone=PST,continent=NA",
		"country_code=FR,region_code=IDF,city=PARIS,lat=48.87,long=2.33,timezone=Europe/Paris,continent=EU",
		"country_code=,lat=NaN,long=Inf,city=\x00",
		"=,,==,country_code=fr=fr",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i := parseEdgescape(s)
		checkInfo(t, i)
		if i.IP.IsValid() || i.Source != "" {
			t.Fatalf("parseEdgescape set IP or Source: %+v", i)
		}
		// The same value through the header reader gives the same answer.
		h := http.Header{hdrAkamaiEdgescape: {s}}
		if got := readAkamai(h); got != i {
			t.Fatalf("readAkamai = %+v, parseEdgescape = %+v", got, i)
		}
	})
}

// checkInfo fails t unless every field of i is empty or valid.
func checkInfo(t *testing.T, i Info) {
	t.Helper()
	if i.Country != "" && (len(i.Country) != 2 || i.Country != strings.ToUpper(i.Country) || normCountry(i.Country) != i.Country) {
		t.Fatalf("bad Country %q", i.Country)
	}
	if i.Region != "" && (i.Country == "" || normRegion(i.Region, i.Country) != i.Region) {
		t.Fatalf("bad Region %q (country %q)", i.Region, i.Country)
	}
	if i.City != "" && (!utf8.ValidString(i.City) || normCity(i.City) != i.City) {
		t.Fatalf("bad City %q", i.City)
	}
	if i.Continent != "" && normContinent(i.Continent) != i.Continent {
		t.Fatalf("bad Continent %q", i.Continent)
	}
	if i.Timezone != "" && normTimezone(i.Timezone) != i.Timezone {
		t.Fatalf("bad Timezone %q", i.Timezone)
	}
	if i.HasLatLon {
		if math.IsNaN(i.Lat) || math.IsNaN(i.Lon) || math.Abs(i.Lat) > 90 || math.Abs(i.Lon) > 180 || (i.Lat == 0 && i.Lon == 0) {
			t.Fatalf("bad coordinates %v, %v", i.Lat, i.Lon)
		}
	} else if i.Lat != 0 || i.Lon != 0 {
		t.Fatalf("coordinates %v, %v without HasLatLon", i.Lat, i.Lon)
	}
}

// FuzzProviders feeds arbitrary values to every CDN's geolocation
// headers: each reader must not panic and every field must come out
// valid or empty, the escaped and percent-encoded cities included.
func FuzzProviders(f *testing.F) {
	for _, s := range [][6]string{
		{"FR", "IDF", "Paris", "Europe/Paris", "48.8566", "2.3522"},
		{"BR", "SP", `S\u00c3\u00a3o Paulo`, "America/Sao_Paulo", "-23.5", "-46.6"},
		{"pl", "pl-14", `\u0141\u00f3d\u017a`, "Europe/Warsaw", "51.77", "19.46"},
		{"US", "CA", "San%20Jos%C3%A9", "America/Los_Angeles", "37.33", "-121.89"},
		{"XX", "", `\ud800\u`, "", "NaN", "Inf"},
		{" gb\t", "ENG", "%zz", "Etc/GMT+5", "0", "0"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, country, region, city, tz, lat, lon string) {
		values := []string{country, region, city, tz, lat, lon}
		headers := [][]string{
			{hdrCFCountry, hdrCFRegion, hdrCFCity, hdrCFTimezone, hdrCFLatitude, hdrCFLongitude, hdrCFContinent},
			{hdrCloudFrontCountry, hdrCloudFrontRegion, hdrCloudFrontCity, hdrCloudFrontTimezone, hdrCloudFrontLatitude, hdrCloudFrontLongitude},
			{hdrVercelCountry, hdrVercelRegion, hdrVercelCity, hdrVercelTimezone, hdrVercelLatitude, hdrVercelLongitude, hdrVercelContinent},
			{hdrFastlyCountry, hdrFastlyRegion, hdrFastlyCity, hdrFastlyLatitude, hdrFastlyLongitude, hdrFastlyContinent},
		}
		h := http.Header{}
		for _, names := range headers {
			for i, name := range names {
				h.Set(name, values[i%len(values)])
			}
		}
		for _, p := range providerOrder {
			checkInfo(t, providerReaders[p](h))
		}
	})
}
