package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// geoFlags are the options that say where a visitor's location comes from,
// shared by serve and explain.
type geoFlags struct {
	header    string
	providers string
	trusted   string
	geoip     string
	timezone  string
}

func (g *geoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.header, "geo-header", "", "read the visitor's country from this request `header` first, ahead of the CDN headers (from trusted peers; with --geo-providers none, from it alone)")
	fs.StringVar(&g.providers, "geo-providers", "cloudflare,cloudfront,vercel", "CDN geo headers to believe: `list` of cloudflare, cloudfront, vercel, fastly, akamai; all; none")
	fs.StringVar(&g.trusted, "trusted-proxies", geo.DefaultTrusted, "peers whose X-Forwarded-For, Forwarded and CDN headers are believed: `list` of CIDRs or addresses, or loopback, private, any")
	fs.StringVar(&g.geoip, "geoip", "", "MaxMind `file` (.mmdb, GeoIP2/GeoLite2 City or Country) to locate visitors by address")
	fs.StringVar(&g.timezone, "timezone", "UTC", "the visitors' time `zone` when their location gives none (IANA name)")
}

// config builds the request-context configuration; close releases the
// GeoIP database.
func (g *geoFlags) config() (reqctx.Config, func(), error) {
	providers, err := geo.ParseProviders(g.providers)
	if err != nil {
		return reqctx.Config{}, nil, usagef("--geo-providers: %v", err)
	}
	trusted, err := geo.ParsePrefixes(g.trusted)
	if err != nil {
		return reqctx.Config{}, nil, usagef("--trusted-proxies: %v", err)
	}
	loc, err := time.LoadLocation(g.timezone)
	if err != nil {
		// As bespoke serve says it of the same setting.
		return reqctx.Config{}, nil, usagef("--timezone: %v; write an IANA name (Europe/Paris, America/New_York, UTC)", err)
	}
	cfg := geo.Config{TrustedProxies: trusted, Providers: providers, CountryHeader: g.header}
	closeDB := func() {}
	if g.geoip != "" {
		db, err := geo.OpenDB(g.geoip)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) && pe.Path == g.geoip {
			// Not there, or not to be read: said as the other files are.
			return reqctx.Config{}, nil, fmt.Errorf("--geoip %q: %v", g.geoip, pe.Err)
		}
		if err != nil {
			return reqctx.Config{}, nil, fmt.Errorf("--geoip: %w", err)
		}
		cfg.DB = db
		closeDB = func() { db.Close() }
	}
	return reqctx.Config{Geo: geo.New(cfg), TimeZone: loc}, closeDB, nil
}
