package geo_test

import (
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
)

func TestCountryZone(t *testing.T) {
	for country, want := range map[string]string{
		"DE": "Europe/Berlin", // Büsingen keeps Zurich's time, which is Berlin's
		"FR": "Europe/Paris", "GB": "Europe/London", "CH": "Europe/Zurich", "JP": "Asia/Tokyo", "IN": "Asia/Kolkata",
		// One official time, though zone.tab lists other zones: China's,
		// and Ukraine's (Europe/Simferopol is Crimea's, on Moscow time).
		"CN": "Asia/Shanghai", "UA": "Europe/Kyiv",
		"US": "", "ES": "", "PT": "", "AU": "", "BR": "", "": "", "XX": "",
	} {
		if got := geo.CountryZone(country); got != want {
			t.Errorf("CountryZone(%q) = %q, want %q", country, got, want)
		}
		if want != "" {
			if _, err := time.LoadLocation(want); err != nil {
				t.Errorf("%s: %v", want, err)
			}
		}
	}
	if geo.ContinentOf("FR") != "EU" || geo.ContinentOf("JP") != "AS" || geo.ContinentOf("") != "" {
		t.Error("ContinentOf")
	}
}
