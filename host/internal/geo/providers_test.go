package geo

import (
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

func TestParseProviders(t *testing.T) {
	tests := []struct {
		in      string
		want    []Provider
		wantErr string
	}{
		{in: "", want: nil},
		{in: "none", want: nil},
		{in: " None ", want: nil},
		{in: "cloudflare", want: []Provider{Cloudflare}},
		{in: "cloudflare,cloudfront", want: []Provider{Cloudflare, CloudFront}},
		{in: "cloudfront,cloudflare", want: []Provider{CloudFront, Cloudflare}},
		{in: " CloudFlare , VERCEL ,", want: []Provider{Cloudflare, Vercel}},
		{in: "akamai,akamai", want: []Provider{Akamai}},
		{in: "all", want: []Provider{Cloudflare, CloudFront, Vercel, Fastly, Akamai}},
		{in: "akamai,all", want: []Provider{Akamai, Cloudflare, CloudFront, Vercel, Fastly}},
		{in: "all,akamai", want: []Provider{Cloudflare, CloudFront, Vercel, Fastly, Akamai}},
		{in: "cloudfare", wantErr: `unknown CDN provider "cloudfare" (did you mean "cloudflare"?)`},
		{in: "cloudfrnt", wantErr: `did you mean "cloudfront"?`},
		{in: "fastley", wantErr: `did you mean "fastly"?`},
		{in: "akami", wantErr: `did you mean "akamai"?`},
		{in: "vercell", wantErr: `did you mean "vercel"?`},
		{in: "nnoe", wantErr: `did you mean "none"?`},
		{in: "cloudflare,azure", wantErr: `unknown CDN provider "azure" (known: cloudflare, cloudfront, vercel, fastly, akamai, all, none)`},
		{in: "none,cloudflare", wantErr: `"none" cannot be combined`},
	}
	for _, tt := range tests {
		got, err := ParseProviders(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseProviders(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseProviders(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
			t.Errorf("ParseProviders(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestSuggestFarNames(t *testing.T) {
	names := []string{"cloudflare", "cloudfront", "vercel", "fastly", "akamai", "all", "none"}
	for _, far := range []string{"azure", "x", "aws", "google-cloud-cdn"} {
		if s := suggest(far, names); s != "" {
			t.Errorf("suggest(%q) = %q, want no suggestion", far, s)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", d)
	}
	if d := editDistance("nnoe", "none"); d != 1 {
		t.Errorf("editDistance(nnoe, none) = %d, want 1 (a swap)", d)
	}
	if d := editDistance("", "abc"); d != 3 {
		t.Errorf("editDistance(\"\", abc) = %d, want 3", d)
	}
}

// TestHeaderNamesCanonical guards the direct header-map lookups: a name
// that is not canonical would never match a header net/http stored.
func TestHeaderNamesCanonical(t *testing.T) {
	all := []string{hdrXFF, hdrForwarded}
	for _, hs := range providerHeaders {
		all = append(all, hs...)
	}
	for _, h := range all {
		if c := textproto.CanonicalMIMEHeaderKey(h); c != h {
			t.Errorf("header %q is not canonical (%q)", h, c)
		}
	}
	for _, p := range providerOrder {
		if _, ok := providerReaders[p]; !ok {
			t.Errorf("provider %s has no reader", p)
		}
		if len(providerHeaders[p]) == 0 {
			t.Errorf("provider %s lists no headers", p)
		}
	}
}

func TestProviderHeaders(t *testing.T) {
	paris := Info{Country: "FR", Region: "IDF", City: "Paris", Timezone: "Europe/Paris", Lat: 48.8566, Lon: 2.3522, HasLatLon: true}
	tests := []struct {
		name     string
		provider Provider
		headers  []string
		want     Info
	}{
		{"cloudflare full", Cloudflare, []string{
			"CF-IPCountry", "FR", "cf-region-code", "IDF", "cf-ipcity", "Paris", "cf-timezone", "Europe/Paris",
			"cf-iplatitude", "48.8566", "cf-iplongitude", "2.3522", "cf-ipcontinent", "EU",
		}, with(paris, func(i *Info) { i.Continent = "EU" })},
		{"cloudflare country only", Cloudflare, []string{"CF-IPCountry", "fr"}, Info{Country: "FR"}},
		{"cloudflare XX is unknown", Cloudflare, []string{"CF-IPCountry", "XX", "cf-ipcity", "Paris"}, Info{City: "Paris"}},
		{"cloudflare Tor is unknown", Cloudflare, []string{"CF-IPCountry", "T1", "cf-ipcontinent", "T1"}, Info{}},
		{"cloudflare region without country dropped", Cloudflare, []string{"cf-region-code", "IDF"}, Info{}},
		{"cloudfront full", CloudFront, []string{
			"CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-Country-Region", "IDF", "CloudFront-Viewer-City", "Paris",
			"CloudFront-Viewer-Time-Zone", "Europe/Paris", "CloudFront-Viewer-Latitude", "48.85660", "CloudFront-Viewer-Longitude", "2.35220",
		}, paris},
		{"cloudfront numeric region", CloudFront, []string{"CloudFront-Viewer-Country", "JP", "CloudFront-Viewer-Country-Region", "13"}, Info{Country: "JP", Region: "13"}},
		{"vercel full, city percent-encoded", Vercel, []string{
			"X-Vercel-IP-Country", "BR", "X-Vercel-IP-Country-Region", "SP", "X-Vercel-IP-City", "S%C3%A3o%20Paulo",
			"X-Vercel-IP-Timezone", "America/Sao_Paulo", "X-Vercel-IP-Latitude", "-23.5505", "X-Vercel-IP-Longitude", "-46.6333",
			"X-Vercel-IP-Continent", "SA",
		}, Info{Country: "BR", Region: "SP", City: "São Paulo", Timezone: "America/Sao_Paulo", Lat: -23.5505, Lon: -46.6333, HasLatLon: true, Continent: "SA"}},
		{"vercel plain city", Vercel, []string{"X-Vercel-IP-Country", "FR", "X-Vercel-IP-City", "Paris"}, Info{Country: "FR", City: "Paris"}},
		{"vercel bad escape dropped", Vercel, []string{"X-Vercel-IP-Country", "FR", "X-Vercel-IP-City", "Par%zzis"}, Info{Country: "FR"}},
		{"vercel escaped control character dropped", Vercel, []string{"X-Vercel-IP-Country", "FR", "X-Vercel-IP-City", "Paris%0A"}, Info{Country: "FR"}},
		{"fastly", Fastly, []string{
			"Client-Geo-Country", "FR", "Client-Geo-Region", "IDF", "Client-Geo-City", "paris",
			"Client-Geo-Latitude", "48.857", "Client-Geo-Longitude", "2.352", "Client-Geo-Continent", "EU",
		}, Info{Country: "FR", Region: "IDF", City: "paris", Lat: 48.857, Lon: 2.352, HasLatLon: true, Continent: "EU"}},
		{"fastly placeholders", Fastly, []string{
			"Client-Geo-Country", "**", "Client-Geo-Region", "NO REGION", "Client-Geo-City", "?",
			"Client-Geo-Latitude", "999.9", "Client-Geo-Longitude", "999.9",
		}, Info{}},
		{"fastly region placeholder with country", Fastly, []string{"Client-Geo-Country", "US", "Client-Geo-Region", "***"}, Info{Country: "US"}},
		{"akamai", Akamai, []string{"X-Akamai-Edgescape",
			"georegion=246,country_code=US,region_code=CA,city=SANJOSE,dma=807,lat=37.3353,long=-121.8938,timezone=PST,continent=NA,throughput=vhigh"},
			Info{Country: "US", Region: "CA", City: "SANJOSE", Lat: 37.3353, Lon: -121.8938, HasLatLon: true, Continent: "NA"}},
		{"other providers' headers are not read", Cloudflare, []string{"X-Vercel-IP-Country", "FR", "Client-Geo-Country", "DE"}, Info{}},
		{"conflicting copies are dropped", Cloudflare, []string{"CF-IPCountry", "FR", "CF-IPCountry", "DE", "cf-ipcity", "Paris"}, Info{City: "Paris"}},
		{"identical copies are kept", Cloudflare, []string{"CF-IPCountry", "FR", "CF-IPCountry", "FR"}, Info{Country: "FR"}},
		{"whitespace trimmed", CloudFront, []string{"CloudFront-Viewer-Country", " fr\t", "CloudFront-Viewer-City", "  Paris "}, Info{Country: "FR", City: "Paris"}},
		{"half a coordinate is none", CloudFront, []string{"CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-Latitude", "48.85"}, Info{Country: "FR"}},
		{"latitude out of range", CloudFront, []string{"CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-Latitude", "91", "CloudFront-Viewer-Longitude", "2"}, Info{Country: "FR"}},
		{"longitude out of range", CloudFront, []string{"CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-Latitude", "48", "CloudFront-Viewer-Longitude", "-180.5"}, Info{Country: "FR"}},
		{"NaN coordinate", CloudFront, []string{"CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-Latitude", "NaN", "CloudFront-Viewer-Longitude", "2"}, Info{Country: "FR"}},
		{"null island is none", Cloudflare, []string{"CF-IPCountry", "FR", "cf-iplatitude", "0", "cf-iplongitude", "0.000"}, Info{Country: "FR"}},
		{"garbage everywhere", Cloudflare, []string{
			"CF-IPCountry", "FRA", "cf-region-code", "ÎDF", "cf-ipcity", "\x01", "cf-timezone", "Europe/Paris; rm -rf",
			"cf-iplatitude", "north", "cf-iplongitude", "east", "cf-ipcontinent", "Europe",
		}, Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request("10.0.0.1:1", tt.headers...)
			if got := providerReaders[tt.provider](req.Header); got != tt.want {
				t.Errorf("read = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}

func with(i Info, f func(*Info)) Info {
	f(&i)
	return i
}

// TestCloudflareCityEscapes: Cloudflare writes each UTF-8 byte of a
// non-ASCII location value as \u00XX (São Paulo arrives as
// S\u00c3\u00a3o Paulo), so that the header stays ASCII.
func TestCloudflareCityEscapes(t *testing.T) {
	tests := []struct {
		name, city, want string
	}{
		{"plain", "Paris", "Paris"},
		{"two-byte letter", `S\u00c3\u00a3o Paulo`, "São Paulo"},
		{"upper-case hex", `Z\u00C3\u00BCrich`, "Zürich"},
		{"three-byte letters", `\u00e6\u009d\u00b1\u00e4\u00ba\u00ac`, "東京"},
		{"code points rather than bytes", `Krak\u00f3w`, "Kraków"},
		{"code point above Latin-1", `\u6771\u4eac`, "東京"},
		{"escaped control character", `Paris\u000a`, ""},
		{"truncated escape", `S\u00c3\u00a`, ""},
		{"not an escape", `Paris\n`, ""},
		{"lone backslash", `Paris\`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request("10.0.0.1:1", "CF-IPCountry", "BR", "cf-ipcity", tt.city)
			if got := readCloudflare(req.Header).City; got != tt.want {
				t.Errorf("city %q read as %q, want %q", tt.city, got, tt.want)
			}
		})
	}
}
