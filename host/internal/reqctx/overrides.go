package reqctx

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/device"
	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/internal/tzname"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Overrides replace what a request would yield, for tests, `bespoke
// explain`, previews, and the proxy's preview links (which only ever set
// Now, Buckets and Variants). They go through the same Builder as live traffic, so
// what is computed from an overridden value follows it: a bucket from a
// visitor id, a JSON value from a cookie, the time zone and so the hour
// from a country.
type Overrides struct {
	// Now replaces the clock when not zero.
	Now time.Time
	// Values replace attribute values, by the slot key (plugin.Slot.Key)
	// of a plain attribute: geo.country, cookie("plan"), visitor.new.
	// Yes/no values are "true" or "false"; languages are comma-separated.
	Values map[string]string
	// Buckets replace the visitor's bucket, 0-9999, by the slot key of a
	// bucket slot: what forcing an experiment's variant means.
	Buckets map[string]int
	// Variants force variants by name, by experiment name, ahead of
	// Buckets: the plugin that decides turns each into the first bucket
	// of its range (site.Site.Decide), so that a preview link keeps
	// the variant it names when the weights change after it was made.
	// A variant the plugin gives no visitor leaves Buckets' bucket.
	Variants map[string]string
}

type overridesKey struct{}

// overridesUsed is set once some request carried overrides, so that a
// proxy that never previews does not look for them on every request.
var overridesUsed atomic.Bool

// WithOverrides returns ctx carrying o: ResolveVisitor gives the visitor
// of a request with that context these overrides.
func WithOverrides(ctx context.Context, o *Overrides) context.Context {
	overridesUsed.Store(true)
	return context.WithValue(ctx, overridesKey{}, o)
}

// OverridesFrom returns the overrides ctx carries, or nil.
func OverridesFrom(ctx context.Context) *Overrides {
	if !overridesUsed.Load() {
		return nil
	}
	o, _ := ctx.Value(overridesKey{}).(*Overrides)
	return o
}

func (o *Overrides) value(s *plugin.Slot) (string, bool) {
	if o == nil || o.Values == nil || s.From != nil {
		return "", false
	}
	v, ok := o.Values[s.Key()]
	return v, ok
}

// plainKey is the slot key of an attribute without argument.
func plainKey(attr string) string { return plugin.Slot{Attr: attr}.Key() }

// apply sets the geography and device values the overrides give, so that
// what is derived from them (continent and time zone from the country,
// bot from the device type) follows.
func (o *Overrides) apply(q *request) {
	if o == nil || len(o.Values) == 0 {
		return
	}
	get := func(attr string) (string, bool) {
		v, ok := o.Values[plainKey(attr)]
		return v, ok
	}
	if v, ok := get("geo.country"); ok {
		v = strings.ToUpper(v)
		if q.geo.Country != "" && v != q.geo.Country {
			// Another country: what came with the old one no longer holds.
			q.geo = geo.Info{Country: v, Continent: geo.ContinentOf(v)}
		} else {
			// The request named no country (or this one): what it says
			// of the location (a CDN's time zone, a city) goes with it.
			q.geo.Country = v
			if q.geo.Continent == "" {
				q.geo.Continent = geo.ContinentOf(v)
			}
		}
	}
	set := func(attr string, dst *string) {
		if v, ok := get(attr); ok {
			*dst = v
		}
	}
	for _, a := range []string{"geo.country", "geo.region", "geo.city", "geo.continent", "geo.timezone", "geo.lat", "geo.lon"} {
		if _, ok := get(a); ok {
			// Given, not looked up by the visitor's address.
			q.geo.Looked = 0
			break
		}
	}
	set("geo.region", &q.geo.Region)
	set("geo.city", &q.geo.City)
	set("geo.continent", &q.geo.Continent)
	if v, ok := get("geo.timezone"); ok {
		q.geo.Timezone = tzname.Current(v)
	}
	if la, ok := get("geo.lat"); ok {
		if lo, ok := get("geo.lon"); ok {
			lat, ok1 := plugin.ParseNumber(la)
			lon, ok2 := plugin.ParseNumber(lo)
			if ok1 && ok2 {
				q.geo.Lat, q.geo.Lon, q.geo.HasLatLon = lat, lon, true
			}
		}
	}
	if v, ok := get("device.type"); ok {
		q.dev.Type = device.Type(strings.ToLower(v))
		q.dev.Bot = q.dev.Type == "bot"
	}
	set("device.os", &q.dev.OS)
	set("device.os_version", &q.dev.OSVersion)
	set("device.browser", &q.dev.Browser)
	set("device.browser_version", &q.dev.BrowserVersion)
	if v, ok := get("device.bot"); ok {
		q.dev.Bot = v == "true"
	}
}

// overridden returns the value the overrides give slot s, typed as the
// attribute is.
func (o *Overrides) overridden(s *plugin.Slot, a plugin.Attr) (plugin.Value, bool) {
	v, ok := o.value(s)
	if !ok {
		return plugin.Value{}, false
	}
	switch a.Type {
	case plugin.Bool:
		return BoolValue(v == "true"), true
	case plugin.Number:
		if n, ok := plugin.ParseNumber(v); ok {
			return NumberValue(n), true
		}
		return plugin.Value{}, true
	case plugin.List:
		var items []string
		for _, it := range strings.Split(v, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, a.Fold.Apply(it))
			}
		}
		if len(items) == 0 {
			return plugin.Value{}, true
		}
		return plugin.Value{Str: plugin.ListValue(items), Present: true}, true
	}
	return TextValue(a.Fold.Apply(v)), true
}
