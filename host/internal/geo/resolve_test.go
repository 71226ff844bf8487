package geo

import (
	"net/netip"
	"slices"
	"testing"
)

func TestResolvePrecedence(t *testing.T) {
	db := openTestDB(t)
	paris := Info{Country: "FR", Region: "IDF", City: "Paris", Continent: "EU", Timezone: "Europe/Paris", Lat: 48.8566, Lon: 2.3522, HasLatLon: true}
	tests := []struct {
		name    string
		cfg     Config
		remote  string
		headers []string
		want    Info // IP is checked separately
		wantIP  string
	}{
		{
			name:   "database only, untrusted peer",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "203.0.113.7:1234", headers: []string{"CF-IPCountry", "US", "X-Forwarded-For", "198.51.100.200"},
			want: with(paris, func(i *Info) { i.Source = SourceGeoIP }), wantIP: "203.0.113.7",
		},
		{
			name:   "database looks up the walked client address",
			cfg:    Config{DB: db},
			remote: "10.0.0.1:1234", headers: []string{"X-Forwarded-For", "2001:db8:1::9"},
			want:   Info{Country: "BE", Region: "BRU", City: "Brussels", Continent: "EU", Timezone: "Europe/Brussels", Lat: 50.8503, Lon: 4.3517, HasLatLon: true, Source: SourceGeoIP},
			wantIP: "2001:db8:1::9",
		},
		{
			name:   "provider headers from an untrusted peer are ignored",
			cfg:    Config{Providers: []Provider{Cloudflare, Vercel}, CountryHeader: "X-Country"},
			remote: "198.51.100.9:1", headers: []string{"CF-IPCountry", "US", "X-Vercel-IP-Country", "US", "X-Country", "US"},
			want: Info{}, wantIP: "198.51.100.9",
		},
		{
			name:   "provider headers not enabled are ignored",
			cfg:    Config{Providers: []Provider{Vercel}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "US"},
			want: Info{}, wantIP: "10.0.0.1",
		},
		{
			name:   "provider only, continent derived",
			cfg:    Config{Providers: []Provider{Cloudflare}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "de"},
			want: Info{Country: "DE", Continent: "EU", Source: "cloudflare"}, wantIP: "10.0.0.1",
		},
		{
			name:   "providers in the order given: first wins",
			cfg:    Config{Providers: []Provider{Vercel, Cloudflare}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "US", "cf-ipcity", "Seattle", "X-Vercel-IP-Country", "FR", "X-Vercel-IP-City", "Lyon"},
			want: Info{Country: "FR", City: "Lyon", Continent: "EU", Source: "vercel"}, wantIP: "10.0.0.1",
		},
		{
			name:   "providers in the other order",
			cfg:    Config{Providers: []Provider{Cloudflare, Vercel}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "US", "cf-ipcity", "Seattle", "X-Vercel-IP-Country", "FR", "X-Vercel-IP-City", "Lyon"},
			want: Info{Country: "US", City: "Seattle", Continent: "NA", Source: "cloudflare"}, wantIP: "10.0.0.1",
		},
		{
			// The CDN in front passes on what the visitor wrote: another
			// provider's headers are the visitor's.
			name:   "a later provider's headers are not read",
			cfg:    Config{Providers: []Provider{Cloudflare, Vercel}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "FR", "X-Vercel-IP-Country", "FR", "X-Vercel-IP-City", "Lyon", "X-Vercel-IP-Timezone", "Asia/Tokyo"},
			want: Info{Country: "FR", Continent: "EU", Source: "cloudflare"}, wantIP: "10.0.0.1",
		},
		{
			name:   "an absent provider is skipped",
			cfg:    Config{Providers: []Provider{Cloudflare, CloudFront}},
			remote: "10.0.0.1:1", headers: []string{"CloudFront-Viewer-Country", "JP"},
			want: Info{Country: "JP", Continent: "AS", Source: "cloudfront"}, wantIP: "10.0.0.1",
		},
		{
			// Cloudflare's XX (no country known) or T1 (Tor) is no
			// country, and the visitor cannot give one in another
			// provider's header.
			name:   "a placeholder country lets no other provider's through",
			cfg:    Config{Providers: []Provider{Cloudflare, CloudFront}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "XX", "CloudFront-Viewer-Country", "JP"},
			want: Info{}, wantIP: "10.0.0.1",
		},
		{
			name:   "country header overrides providers",
			cfg:    Config{Providers: []Provider{Cloudflare}, CountryHeader: "x-country"},
			remote: "10.0.0.1:1", headers: []string{"X-Country", "ch", "CF-IPCountry", "FR", "cf-ipcity", "Paris"},
			want: Info{Country: "CH", Continent: "EU", Source: SourceHeader}, wantIP: "10.0.0.1",
		},
		{
			name:   "country header agreeing with a provider lets it fill",
			cfg:    Config{Providers: []Provider{Cloudflare}, CountryHeader: "X-Country"},
			remote: "10.0.0.1:1", headers: []string{"X-Country", "FR", "CF-IPCountry", "FR", "cf-ipcity", "Paris"},
			want: Info{Country: "FR", City: "Paris", Continent: "EU", Source: SourceHeader}, wantIP: "10.0.0.1",
		},
		{
			name:   "country header overrides the database",
			cfg:    Config{CountryHeader: "X-Country", DB: db},
			remote: "10.0.0.1:1", headers: []string{"X-Country", "US", "X-Forwarded-For", "203.0.113.7"},
			want: Info{Country: "US", Continent: "NA", Source: SourceHeader}, wantIP: "203.0.113.7",
		},
		{
			name:   "invalid country header falls back to providers",
			cfg:    Config{Providers: []Provider{Cloudflare}, CountryHeader: "X-Country"},
			remote: "10.0.0.1:1", headers: []string{"X-Country", "France", "CF-IPCountry", "FR"},
			want: Info{Country: "FR", Continent: "EU", Source: "cloudflare"}, wantIP: "10.0.0.1",
		},
		{
			name:   "missing country header falls back to the database",
			cfg:    Config{CountryHeader: "X-Country", DB: db},
			remote: "10.0.0.1:1", headers: []string{"X-Forwarded-For", "203.0.113.7"},
			want: with(paris, func(i *Info) { i.Source = SourceGeoIP }), wantIP: "203.0.113.7",
		},
		{
			name:   "database fills what the provider left out when the country agrees",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "FR", "X-Forwarded-For", "203.0.113.7"},
			want: with(paris, func(i *Info) { i.Source = "cloudflare" }), wantIP: "203.0.113.7",
		},
		{
			name:   "database does not fill when the country disagrees",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "DE", "X-Forwarded-For", "203.0.113.7"},
			want: Info{Country: "DE", Continent: "EU", Source: "cloudflare"}, wantIP: "203.0.113.7",
		},
		{
			name:   "database does not fill a city the provider contradicts",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "FR", "cf-ipcity", "Lyon", "X-Forwarded-For", "203.0.113.7"},
			want: Info{Country: "FR", City: "Lyon", Continent: "EU", Source: "cloudflare"}, wantIP: "203.0.113.7",
		},
		{
			name:   "database does not fill under a contradicted region",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "FR", "cf-region-code", "ARA", "X-Forwarded-For", "203.0.113.7"},
			want: Info{Country: "FR", Region: "ARA", Continent: "EU", Source: "cloudflare"}, wantIP: "203.0.113.7",
		},
		{
			name:   "database fills when the city agrees in another spelling",
			cfg:    Config{Providers: []Provider{Akamai}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"X-Akamai-Edgescape", "country_code=FR,region_code=IDF,city=PARIS,timezone=GMT+1", "X-Forwarded-For", "203.0.113.7"},
			want: with(paris, func(i *Info) { i.City = "PARIS"; i.Source = "akamai" }), wantIP: "203.0.113.7",
		},
		{
			name:   "provider coordinates are kept over the database's",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "FR", "cf-iplatitude", "48.9", "cf-iplongitude", "2.4", "X-Forwarded-For", "203.0.113.7"},
			want: with(paris, func(i *Info) { i.Lat, i.Lon, i.Source = 48.9, 2.4, "cloudflare" }), wantIP: "203.0.113.7",
		},
		{
			name:   "provider continent is kept",
			cfg:    Config{Providers: []Provider{Cloudflare}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "TR", "cf-ipcontinent", "EU"},
			want: Info{Country: "TR", Continent: "EU", Source: "cloudflare"}, wantIP: "10.0.0.1",
		},
		{
			name:   "countryless provider fields, then the database decides the country",
			cfg:    Config{Providers: []Provider{CloudFront}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CloudFront-Viewer-Latitude", "48.9", "CloudFront-Viewer-Longitude", "2.4", "X-Forwarded-For", "203.0.113.7"},
			want: with(paris, func(i *Info) { i.Lat, i.Lon = 48.9, 2.4; i.Source = SourceGeoIP }), wantIP: "203.0.113.7",
		},
		{
			name:   "countryless provider fields only",
			cfg:    Config{Providers: []Provider{CloudFront}},
			remote: "10.0.0.1:1", headers: []string{"CloudFront-Viewer-City", "Paris"},
			want: Info{City: "Paris", Source: "cloudfront"}, wantIP: "10.0.0.1",
		},
		{
			name:   "continent-only database record",
			cfg:    Config{DB: db},
			remote: "198.18.10.4:1",
			want:   Info{Continent: "EU", Source: SourceGeoIP}, wantIP: "198.18.10.4",
		},
		{
			name:   "continent-only database record does not override a provider country",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "JP", "X-Forwarded-For", "198.18.10.4"},
			want: Info{Country: "JP", Continent: "AS", Source: "cloudflare"}, wantIP: "198.18.10.4",
		},
		{
			name:   "nothing known",
			cfg:    Config{Providers: []Provider{Cloudflare}, DB: db},
			remote: "10.0.0.1:1",
			want:   Info{}, wantIP: "10.0.0.1",
		},
		{
			name:   "unknown and duplicate providers in Config are ignored",
			cfg:    Config{Providers: []Provider{"azure", Cloudflare, Cloudflare, ""}},
			remote: "10.0.0.1:1", headers: []string{"CF-IPCountry", "FR"},
			want: Info{Country: "FR", Continent: "EU", Source: "cloudflare"}, wantIP: "10.0.0.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testResolver(t, tt.cfg)
			got := r.Resolve(request(tt.remote, tt.headers...))
			got.Looked = 0 // TestResolveLooked
			want := tt.want
			want.IP = netip.MustParseAddr(tt.wantIP)
			if got != want {
				t.Errorf("Resolve\n = %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestResolveLooked: what a response made of a location depends on. The
// fields the database was asked for depend on the client's address, which
// no Vary can name; those a CDN's headers gave do not.
func TestResolveLooked(t *testing.T) {
	db := openTestDB(t)
	trusted, _ := ParsePrefixes("loopback")
	withDB := New(Config{TrustedProxies: trusted, Providers: []Provider{Cloudflare}, DB: db})
	tests := []struct {
		name           string
		r              *Resolver
		headers        []string
		looked         Field
		country, city  bool // ByAddress(FieldCountry), ByAddress(FieldCity)
		hour, distance bool // ByAddress(FieldTimezone), ByAddress(FieldLatLon)
	}{
		{"the database alone", withDB, []string{"X-Forwarded-For", "203.0.113.1"}, FieldAll, true, true, true, true},
		{"the CDN's country, the database's city", withDB, []string{"CF-IPCountry", "FR", "X-Forwarded-For", "203.0.113.1"},
			FieldRegion | FieldCity | FieldTimezone | FieldLatLon, false, true, true, true},
		{"the CDN gave everything", withDB, []string{"CF-IPCountry", "FR", "Cf-Region-Code", "IDF", "Cf-Ipcity", "Paris", "Cf-Timezone", "Europe/Paris",
			"Cf-Iplatitude", "48.85", "Cf-Iplongitude", "2.35", "X-Forwarded-For", "203.0.113.1"}, 0, false, false, false, false},
		{"no database", New(Config{TrustedProxies: trusted, Providers: []Provider{Cloudflare}}), []string{"X-Forwarded-For", "203.0.113.1"}, 0, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.Resolve(request("127.0.0.1:1", tt.headers...))
			if got.Looked != tt.looked {
				t.Errorf("Looked = %b, want %b", got.Looked, tt.looked)
			}
			for _, c := range []struct {
				f    Field
				want bool
			}{{FieldCountry, tt.country}, {FieldCity, tt.city}, {FieldTimezone, tt.hour}, {FieldLatLon, tt.distance}} {
				if g := got.ByAddress(c.f); g != c.want {
					t.Errorf("ByAddress(%b) = %v, want %v", c.f, g, c.want)
				}
			}
		})
	}
}

func TestResolveZeroConfig(t *testing.T) {
	req := request("10.0.0.1:1", "CF-IPCountry", "FR", "X-Forwarded-For", "203.0.113.7")
	want := Info{IP: netip.MustParseAddr("10.0.0.1")}
	if got := New(Config{}).Resolve(req); got != want {
		t.Errorf("zero Config: Resolve = %+v, want %+v", got, want)
	}
	var r *Resolver
	if got := r.Resolve(req); got != want {
		t.Errorf("nil Resolver: Resolve = %+v, want %+v", got, want)
	}
}

// TestResolveCompleteHeaders checks that headers describing everything are
// taken as they are, with the database present but not needed.
func TestResolveCompleteHeaders(t *testing.T) {
	db := openTestDB(t)
	r := testResolver(t, Config{Providers: []Provider{Cloudflare}, DB: db})
	req := request("10.0.0.1:1", cloudflareParisHeaders("X-Forwarded-For", "198.51.100.7")...)
	want := Info{IP: netip.MustParseAddr("198.51.100.7"), Country: "FR", Region: "IDF", City: "Paris", Continent: "EU",
		Timezone: "Europe/Paris", Lat: 48.8566, Lon: 2.3522, HasLatLon: true, Source: "cloudflare"}
	if got := r.Resolve(req); got != want {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
}

func cloudflareParisHeaders(extra ...string) []string {
	return append([]string{
		"CF-IPCountry", "FR", "cf-region-code", "IDF", "cf-ipcity", "Paris", "cf-timezone", "Europe/Paris",
		"cf-iplatitude", "48.8566", "cf-iplongitude", "2.3522", "cf-ipcontinent", "EU",
	}, extra...)
}

func TestNewCopiesConfig(t *testing.T) {
	cfg := Config{Providers: []Provider{Cloudflare}}
	trusted, _ := ParsePrefixes("10.0.0.0/8")
	cfg.TrustedProxies = trusted
	r := New(cfg)
	cfg.Providers[0] = Vercel
	cfg.TrustedProxies[0] = netip.MustParsePrefix("192.0.2.0/24")
	got := r.Resolve(request("10.0.0.1:1", "CF-IPCountry", "FR"))
	if got.Country != "FR" {
		t.Errorf("changing Config after New changed the resolver: %+v", got)
	}
}

func TestHeaders(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no trust reads nothing", Config{Providers: []Provider{Cloudflare}, CountryHeader: "X-Country", DB: db}, nil},
		{"trust only", Config{}, nil},
		{"country header canonicalised", Config{CountryHeader: " x-country "}, []string{"X-Country"}},
		{"database adds forwarding headers", Config{DB: db}, []string{"Forwarded", "X-Forwarded-For"}},
		{"akamai", Config{Providers: []Provider{Akamai}}, []string{"X-Akamai-Edgescape"}},
		{"cloudflare and header", Config{Providers: []Provider{Cloudflare}, CountryHeader: "CF-IPCountry"}, []string{
			"Cf-Ipcity", "Cf-Ipcontinent", "Cf-Ipcountry", "Cf-Iplatitude", "Cf-Iplongitude", "Cf-Region-Code", "Cf-Timezone",
		}},
	}
	for _, tt := range tests {
		var r *Resolver
		if tt.name == "no trust reads nothing" {
			r = New(tt.cfg)
		} else {
			r = testResolver(t, tt.cfg)
		}
		if got := r.Headers(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Headers = %q, want %q", tt.name, got, tt.want)
		}
	}
	var nilResolver *Resolver
	if got := nilResolver.Headers(); got != nil {
		t.Errorf("nil Resolver: Headers = %q", got)
	}
	all, _ := ParseProviders("all")
	hs := testResolver(t, Config{Providers: all}).Headers()
	if len(hs) != 27 || !slices.IsSorted(hs) {
		t.Errorf("all providers: %d headers %q", len(hs), hs)
	}
}

// TestResolveConcurrent runs one resolver from many goroutines; with -race
// it checks that Resolve shares nothing mutable between requests.
func TestResolveConcurrent(t *testing.T) {
	db := openTestDB(t)
	r := testResolver(t, Config{Providers: []Provider{Cloudflare, Akamai}, DB: db})
	reqs := []struct {
		remote  string
		headers []string
		city    string
	}{
		{"10.0.0.1:1", []string{"X-Forwarded-For", "203.0.113.7"}, "Paris"},
		{"10.0.0.1:1", []string{"X-Forwarded-For", "2001:db8:2::1"}, "Denver"},
		{"10.0.0.1:1", cloudflareParisHeaders(), "Paris"},
		{"198.51.100.1:1", []string{"CF-IPCountry", "US"}, "Lyon"},
		{"10.0.0.1:1", []string{"X-Akamai-Edgescape", "country_code=DE,city=BERLIN", "X-Forwarded-For", "192.0.2.1"}, "BERLIN"},
	}
	done := make(chan bool)
	for g := range 8 {
		go func() {
			ok := true
			for i := range 200 {
				q := reqs[(g+i)%len(reqs)]
				if got := r.Resolve(request(q.remote, q.headers...)); got.City != q.city {
					t.Errorf("%v: City = %q, want %q", q, got.City, q.city)
					ok = false
					break
				}
			}
			done <- ok
		}()
	}
	for range 8 {
		<-done
	}
}

// TestNonCountryCodesAreUnknown: codes that name no country, such as the
// legacy GeoIP "EU" (Europe) and "AP" (Asia/Pacific) an nginx or Apache
// geoip module writes into a header, or "UK", are no country, and the
// database gives the visitor's.
func TestNonCountryCodesAreUnknown(t *testing.T) {
	db := openTestDB(t)
	r := New(Config{CountryHeader: "X-Country", Providers: []Provider{Akamai}, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, DB: db})
	for _, code := range []string{"EU", "AP", "UK", "eu", "AA", "QM", "XA"} {
		for _, h := range [][]string{
			{"X-Country", code},
			{"X-Akamai-Edgescape", "georegion=1,country_code=" + code + ",continent=EU"},
		} {
			req := request("10.0.0.1:1", append(h, "X-Forwarded-For", "203.0.113.7")...)
			if got := r.Resolve(req); got.Country != "FR" || got.City != "Paris" || got.Source != SourceGeoIP {
				t.Errorf("%s: %q resolved to country %q city %q from %q, want FR Paris from the database", h[0], code, got.Country, got.City, got.Source)
			}
		}
	}
}
