package geo

import (
	"math"
	"testing"
)

func TestDistanceKM(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64
	}{
		{"Paris-Lyon", 48.8566, 2.3522, 45.764, 4.8357, 392, 2},
		{"London-Paris", 51.5074, -0.1278, 48.8566, 2.3522, 343.5, 1},
		{"New York-Los Angeles", 40.7128, -74.0060, 34.0522, -118.2437, 3936, 5},
		{"Sydney-Auckland", -33.8688, 151.2093, -36.8485, 174.7633, 2156, 5},
		{"same point", 48.8566, 2.3522, 48.8566, 2.3522, 0, 1e-9},
		{"quarter meridian", 0, 0, 90, 0, math.Pi / 2 * EarthRadiusKM, 1e-6},
		{"antipodes", 0, 0, 0, 180, math.Pi * EarthRadiusKM, 1e-6},
		{"pole to pole", 90, 0, -90, 0, math.Pi * EarthRadiusKM, 1e-6},
		{"across the antimeridian", 0, 179, 0, -179, 2 * math.Pi / 180 * EarthRadiusKM, 1e-6},
		{"one degree of longitude at 60°N is half of one at the equator", 60, 0, 60, 1, 55.597, 0.01},
	}
	for _, tt := range tests {
		got := DistanceKM(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
		if math.Abs(got-tt.want) > tt.tolerance {
			t.Errorf("%s: DistanceKM = %.4f, want %.4f ± %g", tt.name, got, tt.want, tt.tolerance)
		}
		if back := DistanceKM(tt.lat2, tt.lon2, tt.lat1, tt.lon1); math.Abs(back-got) > 1e-9 {
			t.Errorf("%s: not symmetric: %v vs %v", tt.name, got, back)
		}
	}
	if d := DistanceKM(math.NaN(), 0, 0, 0); !math.IsNaN(d) {
		t.Errorf("NaN input gave %v", d)
	}
}

func TestWithin(t *testing.T) {
	lyon := Info{Country: "FR", Lat: 45.764, Lon: 4.8357, HasLatLon: true}
	tests := []struct {
		name         string
		info         Info
		lat, lon, km float64
		want         bool
	}{
		{"Lyon within 50 km of Lyon's centre", lyon, 45.76, 4.83, 50, true},
		{"Lyon within 0 km of itself", lyon, 45.764, 4.8357, 0, true},
		{"Lyon not within 300 km of Paris", lyon, 48.8566, 2.3522, 300, false},
		{"Lyon within 400 km of Paris", lyon, 48.8566, 2.3522, 400, true},
		{"no coordinates", Info{Country: "FR"}, 45.76, 4.83, 50000, false},
		{"negative radius", lyon, 45.764, 4.8357, -1, false},
		{"NaN radius", lyon, 45.764, 4.8357, math.NaN(), false},
		{"NaN point", lyon, math.NaN(), 4.8357, 50, false},
		{"infinite radius", lyon, -45, -175, math.Inf(1), true},
	}
	for _, tt := range tests {
		if got := Within(tt.info, tt.lat, tt.lon, tt.km); got != tt.want {
			t.Errorf("%s: Within = %v, want %v", tt.name, got, tt.want)
		}
	}
}
