package geo

import "testing"

func TestParseEdgescape(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Info
	}{
		{"documented example",
			"georegion=246,country_code=US,region_code=CA,city=SANJOSE,dma=807,pmsa=7400,areacode=408,county=SANTACLARA,fips=06085,lat=37.3353,long=-121.8938,timezone=PST,network_type=dialup",
			Info{Country: "US", Region: "CA", City: "SANJOSE", Lat: 37.3353, Lon: -121.8938, HasLatLon: true}},
		{"paris with continent",
			"georegion=65,country_code=FR,region_code=IDF,city=PARIS,lat=48.87,long=2.33,timezone=GMT+1,continent=EU,throughput=vhigh,bw=5000,asnum=3215,location_id=0",
			Info{Country: "FR", Region: "IDF", City: "PARIS", Lat: 48.87, Lon: 2.33, HasLatLon: true, Continent: "EU"}},
		{"multi-valued fields use plus signs",
			"country_code=US,region_code=MD,city=BALTIMORE,county=BALTIMORECITY+ANNEARUNDEL,zip=21201-21203+21205,lat=39.2940,long=-76.6226",
			Info{Country: "US", Region: "MD", City: "BALTIMORE", Lat: 39.294, Lon: -76.6226, HasLatLon: true}},
		{"IANA-shaped timezone kept", "country_code=FR,timezone=Europe/Paris", Info{Country: "FR", Timezone: "Europe/Paris"}},
		{"abbreviation timezone dropped", "country_code=US,timezone=EST", Info{Country: "US"}},
		{"offset timezone dropped", "country_code=FR,timezone=GMT+1", Info{Country: "FR"}},
		{"keys are case-insensitive, values trimmed", " Country_Code = fr , CITY= PARIS ", Info{Country: "FR", City: "PARIS"}},
		{"first occurrence wins", "country_code=FR,country_code=DE,city=PARIS,city=BERLIN", Info{Country: "FR", City: "PARIS"}},
		{"pieces without = skipped", "garbage,country_code=FR,,=,=x,city", Info{Country: "FR"}},
		{"unknown location", "georegion=285,country_code=US,region_code=XX,city=REDACTED,lat=0.0000,long=0.0000", Info{Country: "US", Region: "XX", City: "REDACTED"}},
		{"region without country dropped", "region_code=CA,city=SANJOSE", Info{City: "SANJOSE"}},
		{"invalid values dropped", "country_code=USA,region_code=CALIF,lat=95,long=10,continent=XX", Info{}},
		{"latitude without longitude", "country_code=FR,lat=48.87", Info{Country: "FR"}},
		{"value containing =", "country_code=FR,city=A=B", Info{Country: "FR", City: "A=B"}},
		{"empty", "", Info{}},
		{"only commas", ",,,", Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseEdgescape(tt.in); got != tt.want {
				t.Errorf("parseEdgescape(%q)\n = %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}
