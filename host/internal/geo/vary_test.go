package geo

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
)

func TestHeadersFor(t *testing.T) {
	cf, _ := ParsePrefixes("loopback")
	cloudflare := New(Config{TrustedProxies: cf, Providers: []Provider{Cloudflare}})
	tests := []struct {
		name   string
		r      *Resolver
		fields Field
		want   []string
	}{
		{"country, cloudflare", cloudflare, FieldCountry, []string{"Cf-Ipcountry"}},
		{"continent, cloudflare", cloudflare, FieldContinent, []string{"Cf-Ipcontinent", "Cf-Ipcountry"}},
		{"city, cloudflare", cloudflare, FieldCity, []string{"Cf-Ipcity", "Cf-Ipcountry", "Cf-Region-Code"}},
		{"time zone, cloudflare", cloudflare, FieldTimezone, []string{"Cf-Ipcity", "Cf-Ipcountry", "Cf-Region-Code", "Cf-Timezone"}},
		{"none", cloudflare, 0, nil},
		{"nobody trusted", New(Config{Providers: []Provider{Cloudflare}}), FieldCountry, nil},
		{"country header and two providers", New(Config{TrustedProxies: cf, Providers: []Provider{CloudFront, Vercel}, CountryHeader: "x-country"}), FieldCountry,
			// Any CloudFront header says Vercel's are not read.
			[]string{"Cloudfront-Viewer-City", "Cloudfront-Viewer-Country", "Cloudfront-Viewer-Country-Region", "Cloudfront-Viewer-Latitude",
				"Cloudfront-Viewer-Longitude", "Cloudfront-Viewer-Time-Zone", "X-Country", "X-Vercel-Ip-Country"}},
		{"akamai sends one header", New(Config{TrustedProxies: cf, Providers: []Provider{Akamai}}), FieldLatLon, []string{"X-Akamai-Edgescape"}},
		{"a database reads the forwarding headers", New(Config{TrustedProxies: cf, DB: openTestDB(t)}), FieldCountry, []string{"Forwarded", "X-Forwarded-For"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.HeadersFor(tt.fields); !slices.Equal(got, tt.want) {
				t.Errorf("HeadersFor = %q, want %q", got, tt.want)
			}
		})
	}
	if got, want := cloudflare.Headers(), providerHeaders[Cloudflare]; !slices.Equal(got, want) {
		t.Errorf("Headers = %q, want every Cloudflare header %q", got, want)
	}
}

// TestHeadersForCoversResolve: a header HeadersFor does not name for a
// field never changes that field. Random requests carry random headers of
// every provider; each header left out of a field's list is changed or
// removed, and the field must stay what it was.
func TestHeadersForCoversResolve(t *testing.T) {
	trusted, _ := ParsePrefixes("loopback")
	r := New(Config{TrustedProxies: trusted, Providers: providerOrder, CountryHeader: "X-Country"})
	values := map[string][]string{}
	for _, hs := range providerHeaders {
		for _, h := range hs {
			values[h] = []string{"FR", "DE", "IDF", "BY", "Paris", "Berlin", "Europe/Paris", "Europe/Berlin", "48.85", "2.35", "52.52", "13.40", "EU", "NA", ""}
		}
	}
	values["X-Country"] = []string{"FR", "DE", ""}
	values[hdrAkamaiEdgescape] = []string{
		"country_code=FR,region_code=IDF,city=PARIS,lat=48.85,long=2.35,continent=EU,timezone=Europe/Paris",
		"country_code=DE,region_code=BY,city=MUNICH,lat=48.13,long=11.58,continent=EU",
		"country_code=FR,city=LYON",
	}
	names := make([]string, 0, len(values))
	for h := range values {
		names = append(names, h)
	}
	slices.Sort(names)
	get := map[Field]func(Info) any{
		FieldCountry:   func(i Info) any { return i.Country },
		FieldRegion:    func(i Info) any { return i.Region },
		FieldCity:      func(i Info) any { return i.City },
		FieldContinent: func(i Info) any { return i.Continent },
		FieldTimezone:  func(i Info) any { return i.Timezone },
		FieldLatLon:    func(i Info) any { return [3]any{i.Lat, i.Lon, i.HasLatLon} },
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		h := http.Header{}
		for _, n := range names {
			if rng.IntN(3) == 0 {
				h.Set(n, values[n][rng.IntN(len(values[n]))])
			}
		}
		req := &http.Request{RemoteAddr: "127.0.0.1:1", Header: h}
		base := r.Resolve(req)
		for f, value := range get {
			relevant := r.HeadersFor(f)
			for _, n := range names {
				if slices.Contains(relevant, n) {
					continue
				}
				m := h.Clone()
				if rng.IntN(2) == 0 {
					m.Del(n)
				} else {
					m.Set(n, values[n][rng.IntN(len(values[n]))])
				}
				got := r.Resolve(&http.Request{RemoteAddr: "127.0.0.1:1", Header: m})
				if value(got) != value(base) {
					t.Fatalf("field %b changed from %v to %v when %s changed, which HeadersFor leaves out (%q)\nheaders %v", f, value(base), value(got), n, relevant, h)
				}
			}
		}
	}
}
