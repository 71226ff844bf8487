package geo_test

import (
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
)

// A proxy behind a load balancer on the private network and Cloudflare:
// the load balancer is trusted, so its X-Forwarded-For is walked and the
// Cloudflare headers it passes on are believed.
func Example() {
	trusted, err := geo.ParsePrefixes(geo.DefaultTrusted)
	if err != nil {
		log.Fatal(err)
	}
	providers, err := geo.ParseProviders("cloudflare")
	if err != nil {
		log.Fatal(err)
	}
	r := geo.New(geo.Config{TrustedProxies: trusted, Providers: providers})

	req := httptest.NewRequest("GET", "https://shop.example/", nil)
	req.RemoteAddr = "10.0.3.7:41234" // the load balancer
	req.Header.Set("X-Forwarded-For", "192.0.2.66, 198.51.100.23")
	req.Header.Set("CF-IPCountry", "FR")
	req.Header.Set("cf-ipcity", "Lyon")
	req.Header.Set("cf-iplatitude", "45.764")
	req.Header.Set("cf-iplongitude", "4.8357")

	info := r.Resolve(req)
	fmt.Println(info.IP, info.Country, info.Continent, info.City, info.Source)
	fmt.Println("within 50 km of Lyon:", geo.Within(info, 45.76, 4.83, 50))

	// The same headers from a peer that is not trusted are ignored.
	req.RemoteAddr = "203.0.113.50:5000"
	info = r.Resolve(req)
	fmt.Printf("%s %q\n", info.IP, info.Country)
	// Output:
	// 198.51.100.23 FR EU Lyon cloudflare
	// within 50 km of Lyon: true
	// 203.0.113.50 ""
}

func ExampleOpenDB() {
	db, err := geo.OpenDB("../../../testdata/geoip/test-city.mmdb")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	r := geo.New(geo.Config{DB: db})

	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2001:db8:2::1]:443"
	info := r.Resolve(req)
	fmt.Println(info.Country, info.Region, info.City, info.Timezone, info.Source)
	// Output: US CO Denver America/Denver geoip
}

func ExampleDistanceKM() {
	fmt.Printf("Paris-Lyon: %.1f km\n", geo.DistanceKM(48.8566, 2.3522, 45.764, 4.8357))
	// Output: Paris-Lyon: 391.5 km
}

func ExampleParseProviders() {
	_, err := geo.ParseProviders("cloudflare,cloudfrnt")
	fmt.Println(err)
	// Output: unknown CDN provider "cloudfrnt" (did you mean "cloudfront"?) (known: cloudflare, cloudfront, vercel, fastly, akamai, all, none)
}
