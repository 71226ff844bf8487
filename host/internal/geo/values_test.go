package geo

import (
	"net/http"
	"strings"
	"testing"
)

func TestNormCountry(t *testing.T) {
	for in, want := range map[string]string{
		"FR": "FR", "fr": "FR", "Fr": "FR", " de\t": "DE",
		"XX": "", "xx": "", "ZZ": "", "T1": "", "A1": "", "A2": "", "O1": "", "**": "", "--": "", "EU": "", "AP": "", "UK": "", "QM": "",
		"": "", "F": "", "FRA": "", "F R": "", "ÉÉ": "", "\x00\x00": "",
	} {
		if got := normCountry(in); got != want {
			t.Errorf("normCountry(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormCountryDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { normCountry("fr") }); n != 0 {
		t.Errorf("normCountry allocates %v times", n)
	}
}

func TestNormRegion(t *testing.T) {
	tests := []struct{ in, country, want string }{
		{"IDF", "FR", "IDF"},
		{"idf", "FR", "IDF"},
		{"FR-IDF", "FR", "IDF"},
		{"fr-idf", "FR", "IDF"},
		{"US-CA", "FR", ""}, // another country's code is not ours to strip
		{"13", "JP", "13"},
		{"C", "EG", "C"},
		{" CA ", "US", "CA"},
		{"IDF", "", ""},
		{"", "FR", ""},
		{"ABCD", "FR", ""},
		{"NO REGION", "US", ""},
		{"?", "US", ""},
		{"***", "US", ""},
		{"Î", "FR", ""},
	}
	for _, tt := range tests {
		if got := normRegion(tt.in, tt.country); got != tt.want {
			t.Errorf("normRegion(%q, %q) = %q, want %q", tt.in, tt.country, got, tt.want)
		}
	}
}

func TestNormCity(t *testing.T) {
	for in, want := range map[string]string{
		"Paris":                  "Paris",
		"  São Paulo ":           "São Paulo",
		"Saint-Étienne":          "Saint-Étienne",
		"東京":                     "東京",
		"?":                      "",
		"-":                      "",
		"123":                    "",
		"":                       "",
		"Par\nis":                "",
		"Par\x7fis":              "",
		"Par\u0085is":            "",
		"\xff\xfe":               "",
		strings.Repeat("a", 101): "",
		strings.Repeat("a", 100): strings.Repeat("a", 100),
	} {
		if got := normCity(in); got != want {
			t.Errorf("normCity(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCityEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"Paris", "PARIS", true},
		{"San Francisco", "SANFRANCISCO", true},
		{"Boulogne-Billancourt", "BOULOGNE BILLANCOURT", true},
		{"St. Louis", "st louis", true},
		{"Paris", "Lyon", false},
		{"Paris", "Pari", false},
		{"Pari", "Paris", false},
		{"", "", true},
		{"Zürich", "ZÜRICH", true},
		{"Zürich", "Zurich", false},
	} {
		if got := cityEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("cityEqual(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNormTimezone(t *testing.T) {
	for in, want := range map[string]string{
		"Europe/Paris":                   "Europe/Paris",
		"America/Argentina/Buenos_Aires": "America/Argentina/Buenos_Aires",
		"Etc/GMT+1":                      "Etc/GMT+1",
		"America/Port-au-Prince":         "America/Port-au-Prince",
		"UTC":                            "UTC",
		" Asia/Tokyo ":                   "Asia/Tokyo",
		"":                               "",
		"/etc/passwd":                    "",
		"../Europe/Paris":                "",
		"Europe/Paris\n":                 "",
		"Europe Paris":                   "",
		"1Europe":                        "",
		strings.Repeat("A", 65):          "",
	} {
		if got := normTimezone(in); got != want {
			t.Errorf("normTimezone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLatLon(t *testing.T) {
	tests := []struct {
		lat, lon string
		ok       bool
	}{
		{"48.8566", "2.3522", true},
		{"-90", "-180", true},
		{"90", "180", true},
		{" 1 ", "\t2", true},
		{"0", "1", true},
		{"0", "0", false},
		{"-0", "0.0", false},
		{"90.0001", "0", false},
		{"0", "180.1", false},
		{"NaN", "1", false},
		{"1", "Inf", false},
		{"", "1", false},
		{"1", "", false},
		{"1,5", "2", false},
		{"1e1", "2", true},
		{strings.Repeat("1", 33), "2", false},
	}
	for _, tt := range tests {
		lat, lon, ok := parseLatLon(tt.lat, tt.lon)
		if ok != tt.ok {
			t.Errorf("parseLatLon(%q, %q) ok = %v, want %v", tt.lat, tt.lon, ok, tt.ok)
		}
		if !ok && (lat != 0 || lon != 0) {
			t.Errorf("parseLatLon(%q, %q) = %v, %v on failure, want zeros", tt.lat, tt.lon, lat, lon)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	h := http.Header{"A": {"x"}, "B": {"x", "x"}, "C": {"x", "y"}, "D": {}}
	for key, want := range map[string]string{"A": "x", "B": "x", "C": "", "D": "", "E": ""} {
		if got := headerValue(h, key); got != want {
			t.Errorf("headerValue(%s) = %q, want %q", key, got, want)
		}
	}
}
