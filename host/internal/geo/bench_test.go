package geo

import (
	"net/http"
	"testing"
)

// benchRequest is a request through a CDN and one internal proxy.
func benchRequest(extra ...string) *http.Request {
	return request("10.0.0.1:50123", append([]string{
		"X-Forwarded-For", "203.0.113.7, 10.1.2.3",
		"User-Agent", "Mozilla/5.0",
		"Accept", "text/html",
	}, extra...)...)
}

// BenchmarkResolveHeaders resolves a request that Cloudflare fully
// describes: the headers are read and validated, the database is skipped.
func BenchmarkResolveHeaders(b *testing.B) {
	r := testResolver(b, Config{Providers: []Provider{Cloudflare, CloudFront}, DB: openTestDB(b)})
	req := benchRequest(cloudflareParisHeaders()...)
	b.ReportAllocs()
	for b.Loop() {
		if i := r.Resolve(req); i.City != "Paris" {
			b.Fatal(i)
		}
	}
}

// BenchmarkResolveDB resolves a request with no CDN header, located by a
// database lookup of the walked client address.
func BenchmarkResolveDB(b *testing.B) {
	r := testResolver(b, Config{Providers: []Provider{Cloudflare}, DB: openTestDB(b)})
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if i := r.Resolve(req); i.City != "Paris" {
			b.Fatal(i)
		}
	}
}

// BenchmarkResolveDBIPv6 is BenchmarkResolveDB for an IPv6 visitor.
func BenchmarkResolveDBIPv6(b *testing.B) {
	r := testResolver(b, Config{DB: openTestDB(b)})
	req := request("[2001:db8:2::1]:443")
	b.ReportAllocs()
	for b.Loop() {
		if i := r.Resolve(req); i.City != "Denver" {
			b.Fatal(i)
		}
	}
}

// BenchmarkClientIP walks a three-hop X-Forwarded-For.
func BenchmarkClientIP(b *testing.B) {
	r := testResolver(b, Config{})
	req := request("10.0.0.1:50123", "X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.1.2.3, 10.4.5.6")
	b.ReportAllocs()
	for b.Loop() {
		if ip := r.ClientIP(req); !ip.IsValid() {
			b.Fatal(ip)
		}
	}
}

// BenchmarkClientIPForwarded walks the same chain written as Forwarded.
func BenchmarkClientIPForwarded(b *testing.B) {
	r := testResolver(b, Config{})
	req := request("10.0.0.1:50123", "Forwarded", `for=198.51.100.1, for="203.0.113.7:4711";proto=https, for=10.1.2.3, for=10.4.5.6;by=10.0.0.1`)
	b.ReportAllocs()
	for b.Loop() {
		if ip := r.ClientIP(req); !ip.IsValid() {
			b.Fatal(ip)
		}
	}
}
