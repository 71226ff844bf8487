package geo

import "math"

// EarthRadiusKM is the mean radius of the Earth in kilometres (the IUGG
// mean radius R1 = (2a + b) / 3 of the WGS 84 ellipsoid), the radius that
// minimises the haversine formula's error on average.
const EarthRadiusKM = 6371.0088

// DistanceKM returns the great-circle distance in kilometres between two
// points given in decimal degrees, by the haversine formula on a sphere of
// radius EarthRadiusKM. Treating the Earth as a sphere errs by at most about
// 0.5%, far below the accuracy of IP geolocation. A NaN argument gives NaN.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	sinDφ := math.Sin((lat2 - lat1) * rad / 2)
	sinDλ := math.Sin((lon2 - lon1) * rad / 2)
	a := sinDφ*sinDφ + math.Cos(φ1)*math.Cos(φ2)*sinDλ*sinDλ
	// Rounding can push a a hair above 1 for antipodal points.
	return 2 * EarthRadiusKM * math.Asin(math.Sqrt(min(a, 1)))
}

// Within reports whether info's location is at most km kilometres from the
// point (lat, lon). It is false when info has no coordinates, and when km
// is negative or NaN.
func Within(info Info, lat, lon, km float64) bool {
	if !info.HasLatLon || !(km >= 0) {
		return false
	}
	return DistanceKM(info.Lat, info.Lon, lat, lon) <= km
}
