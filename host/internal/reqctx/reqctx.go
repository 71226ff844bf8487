// Package reqctx turns an HTTP request into the values a rule module reads:
// one plugin.Value per slot of its manifest. Only the slots a module
// declares are computed, so a plugin that never reads the device does not
// pay for classifying the User-Agent, and one that never reads geography
// does not look up the client's address.
package reqctx

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	// A visitor's hour is read in the zone of its country or CDN header.
	// Without a zone database (a scratch or Alpine image without tzdata)
	// every zone would fail to load and each visitor's hour silently be
	// UTC; Go uses the system's database first and this copy only when
	// there is none.
	_ "time/tzdata"

	"github.com/tidwall/gjson"

	"github.com/bespoke-edge/bespoke/host/internal/device"
	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/internal/jsonpath"
	"github.com/bespoke-edge/bespoke/internal/urlpath"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Config says where values come from. The zero Config is usable: see each
// field.
type Config struct {
	// Geo locates visitors; nil means DefaultGeo().
	Geo *geo.Resolver
	// Devices caches device classifications; nil means a cache of 4096
	// entries owned by the Builder.
	Devices *device.Cache
	// Now is the clock; nil means time.Now. Tests and `bespoke explain --at`
	// set it.
	Now func() time.Time
	// TimeZone is the visitor's time zone when geography does not give one;
	// nil means UTC.
	TimeZone *time.Location
}

// DefaultGeo returns the resolver used when Config.Geo is nil: the
// Cloudflare, CloudFront and Vercel geo headers, believed from loopback
// and private-network peers only (a CDN or load balancer in front), never
// from the open internet, where any visitor can send them.
func DefaultGeo() *geo.Resolver {
	trusted, _ := geo.ParsePrefixes(geo.DefaultTrusted)
	providers, _ := geo.ParseProviders("cloudflare,cloudfront,vercel")
	return geo.New(geo.Config{TrustedProxies: trusted, Providers: providers})
}

// Builder computes the values of one manifest's slots. It is safe for
// concurrent use.
type Builder struct {
	slots []plugin.Slot
	attrs []plugin.Attr
	geo   *geo.Resolver
	// geoRead are the location fields the slots read; readsAddress: a
	// slot reads a forwarding header (see Facts.ByAddress).
	geoRead      geo.Field
	readsAddress bool
	devices      *device.Cache
	now          func() time.Time
	tz           *time.Location
	points       map[int][2]float64 // geo.distance slots: the point
	// paths are the json slots' paths, parsed once: a path that names
	// one place (no modifier, #, multipath) is walked as edits walk it.
	paths map[int]jsonPath
	// fromPaths are the paths of json slots other slots are computed
	// from (semver(json(...))), by path.
	fromPaths map[string]jsonPath
	needs     needs
	vary      []string
	// cookieSlots are the slots reading cookies directly, filled in one
	// pass over the Cookie headers.
	cookieSlots []int
}

type needs struct{ geo, device, clock, visitor bool }

// Facts are what Build learns of a request besides the values.
type Facts struct {
	// ByAddress: a value depends on the client's address (a GeoIP
	// lookup, a rule on the forwarding headers), which no Vary can name:
	// the response must be private.
	ByAddress bool
}

// NewBuilder prepares a builder for the given slots.
func NewBuilder(cfg Config, slots []plugin.Slot) *Builder {
	b := &Builder{
		slots:   slots,
		geo:     cfg.Geo,
		devices: cfg.Devices,
		now:     cfg.Now,
		tz:      cfg.TimeZone,
		points:  map[int][2]float64{},
		paths:   map[int]jsonPath{},
	}
	if b.geo == nil {
		b.geo = DefaultGeo()
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.tz == nil {
		b.tz = time.UTC
	}
	vary := map[string]bool{}
	for i, s := range slots {
		a, _ := plugin.LookupAttr(s.Attr)
		b.attrs = append(b.attrs, a)
		if s.Attr == "cookie" {
			b.cookieSlots = append(b.cookieSlots, i)
		}
		if s.Attr == "geo.distance" {
			lat, lon, _ := strings.Cut(s.Arg, ",")
			la, _ := strconv.ParseFloat(lat, 64)
			lo, _ := strconv.ParseFloat(lon, 64)
			b.points[i] = [2]float64{la, lo}
		}
		if s.Attr == "json" {
			b.paths[i] = parseJSONPath(s.Arg)
		}
		for f := s.From; f != nil; f = f.From {
			if f.Attr == "json" {
				if b.fromPaths == nil {
					b.fromPaths = map[string]jsonPath{}
				}
				b.fromPaths[f.Arg] = parseJSONPath(f.Arg)
			}
		}
		b.dependsOn(s, vary, true)
	}
	if b.needs.device && b.devices == nil {
		b.devices = device.NewCache(4096)
	}
	for h := range vary {
		b.vary = append(b.vary, h)
	}
	slices.Sort(b.vary)
	return b
}

// geoFields says which part of the location each geo attribute reads, so
// that Vary names only the headers that part can come from.
var geoFields = map[string]geo.Field{
	"geo.country":   geo.FieldCountry,
	"geo.region":    geo.FieldRegion,
	"geo.city":      geo.FieldCity,
	"geo.continent": geo.FieldContinent,
	"geo.timezone":  geo.FieldTimezone,
	"geo.lat":       geo.FieldLatLon,
	"geo.lon":       geo.FieldLatLon,
	"geo.distance":  geo.FieldLatLon,
}

// dependsOn adds to vary the request headers computing s reads and,
// with record, records in b what computing it needs. Only NewBuilder
// records: VaryOf runs while requests are built (a site narrows its Vary
// lists lazily), and its writes of what b needs, the same values, raced
// with every request reading them.
func (b *Builder) dependsOn(s plugin.Slot, vary map[string]bool, record bool) {
	add := func(hs ...string) {
		for _, h := range hs {
			vary[http.CanonicalHeaderKey(h)] = true
		}
	}
	var needs needs
	var geoRead geo.Field
	readsAddress := false
	switch {
	case strings.HasPrefix(s.Attr, "geo."):
		needs.geo = true
		geoRead |= geoFields[s.Attr]
		add(b.geo.HeadersFor(geoFields[s.Attr])...)
	case strings.HasPrefix(s.Attr, "device."):
		needs.device = true
		add("User-Agent", "Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform", "Sec-CH-UA-Platform-Version", "Sec-CH-UA-Model")
	case s.Attr == "language" || s.Attr == "languages":
		add("Accept-Language")
	case s.Attr == "visitor.id" || s.Attr == "visitor.new":
		needs.visitor = true
		add("Cookie")
		if s.Attr == "visitor.id" {
			// A new visitor who sends Sec-GPC: 1 has none (see
			// ResolveVisitor).
			add("Sec-Gpc")
		}
	case s.Attr == "cookie" || s.Attr == "cap":
		// (A frequency cap's count is kept in a cookie, or in a shared
		// store under the visitor cookie's id.)
		add("Cookie")
	case s.Attr == "header":
		add(s.Arg)
		if c := http.CanonicalHeaderKey(s.Arg); c == "X-Forwarded-For" || c == "Forwarded" {
			// A cache in front writes them itself, with the visitor's
			// address.
			readsAddress = true
		}
	case s.Attr == "now":
		needs.clock = true
	case s.Attr == "visitor.hour" || s.Attr == "visitor.weekday":
		// The visitor's time zone comes from geography.
		needs.clock, needs.geo = true, true
		geoRead |= geo.FieldTimezone
		add(b.geo.HeadersFor(geo.FieldTimezone)...)
	}
	if record {
		b.needs.geo = b.needs.geo || needs.geo
		b.needs.device = b.needs.device || needs.device
		b.needs.visitor = b.needs.visitor || needs.visitor
		b.needs.clock = b.needs.clock || needs.clock
		b.geoRead |= geoRead
		b.readsAddress = b.readsAddress || readsAddress
	}
	if s.From != nil {
		b.dependsOn(*s.From, vary, record)
	}
}

// Vary returns the request headers the values depend on, for the Vary
// response header.
func (b *Builder) Vary() []string { return b.vary }

// VaryOf returns the request headers the values of the slots named (by
// index) depend on, and Cookie when seen is set (the seen-filter is in a
// cookie, or in a shared store under the visitor cookie's id), sorted.
func (b *Builder) VaryOf(slots []int, seen bool) []string {
	vary := map[string]bool{}
	if seen {
		vary["Cookie"] = true
	}
	for _, i := range slots {
		if i >= 0 && i < len(b.slots) {
			b.dependsOn(b.slots[i], vary, false)
		}
	}
	out := make([]string, 0, len(vary))
	for h := range vary {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// Slots returns the slots the builder computes.
func (b *Builder) Slots() []plugin.Slot { return b.slots }

// ReadsVisitor reports whether the slots read the visitor id (visitor.id,
// visitor.new, and what is computed from them: experiments, rollouts), so
// that the id must be kept in a cookie for decisions to stay the same
// from one request to the next.
func (b *Builder) ReadsVisitor() bool { return b.needs.visitor }

// NeedsDevice reports whether the slots read the device, so the proxy can
// ask browsers for Client Hints (Accept-CH).
func (b *Builder) NeedsDevice() bool { return b.needs.device }

// request holds what several slots share, computed at most once.
type request struct {
	r   *http.Request
	v   Visitor
	ov  *Overrides
	geo geo.Info
	dev device.Info
	now time.Time
	loc *time.Location
}

// Build computes the values for r into dst (reused when large enough) and
// returns it. v is the visitor as resolved by the proxy.
func (b *Builder) Build(r *http.Request, v Visitor, dst []plugin.Value) []plugin.Value {
	dst, _ = b.BuildFacts(r, v, dst)
	return dst
}

// BuildFacts is Build, and says what the values depend on beyond the
// request's headers.
func (b *Builder) BuildFacts(r *http.Request, v Visitor, dst []plugin.Value) ([]plugin.Value, Facts) {
	if cap(dst) < len(b.slots) {
		dst = make([]plugin.Value, len(b.slots))
	}
	dst = dst[:len(b.slots)]
	q := request{r: r, v: v, ov: v.Overrides}
	if b.needs.geo {
		q.geo = b.geo.Resolve(r)
		if q.geo.Timezone != "" && location(q.geo.Timezone) == nil {
			// A zone no database holds ("europe/paris", "GMT+1") is no
			// value: no rule could match it, and the visitor's hour
			// comes from the country instead.
			q.geo.Timezone = ""
		}
	}
	if b.needs.device {
		ua, hints := device.FromRequest(r)
		q.dev = b.devices.Classify(ua, hints)
	}
	q.ov.apply(&q)
	if b.needs.clock {
		q.now = b.now()
		if q.ov != nil && !q.ov.Now.IsZero() {
			q.now = q.ov.Now
		}
		q.loc = b.tz
		if loc := location(q.geo.Timezone); loc != nil {
			q.loc = loc
		} else if loc := countryLocation(q.geo.Country); loc != nil {
			// A country that keeps one time has its zone even when the
			// CDN sends only the country, or a zone no database holds.
			q.loc = loc
		}
	}
	if len(b.cookieSlots) > 0 {
		for _, i := range b.cookieSlots {
			dst[i] = plugin.Value{}
		}
		for _, line := range r.Header["Cookie"] {
			eachCookie(line, func(name, value string) bool {
				for _, i := range b.cookieSlots {
					if b.slots[i].Arg == name && !dst[i].Present {
						dst[i] = TextValue(decodeCookie(value))
					}
				}
				return true
			})
		}
	}
	for i := range b.slots {
		if b.slots[i].Attr == "cookie" {
			if q.ov != nil {
				if v, ok := q.ov.overridden(&b.slots[i], b.attrs[i]); ok {
					dst[i] = v
				}
			}
			continue // filled above
		}
		dst[i] = b.value(i, &b.slots[i], &q)
	}
	return dst, Facts{ByAddress: b.readsAddress || b.geoRead != 0 && q.geo.ByAddress(b.geoRead)}
}

// value computes one slot.
func (b *Builder) value(i int, s *plugin.Slot, q *request) plugin.Value {
	if q.ov != nil && !derivedFromOverrides(s.Attr) {
		if v, ok := q.ov.overridden(s, b.attrs[i]); ok {
			return v
		}
	}
	switch s.Attr {
	case "visitor.new":
		return BoolValue(q.v.New)
	case "device.bot":
		return BoolValue(q.dev.Bot || q.dev.Type == device.Type("bot"))
	case "geo.lat":
		if !q.geo.HasLatLon {
			return plugin.Value{}
		}
		return NumberValue(q.geo.Lat)
	case "geo.lon":
		if !q.geo.HasLatLon {
			return plugin.Value{}
		}
		return NumberValue(q.geo.Lon)
	case "geo.distance":
		if !q.geo.HasLatLon {
			return plugin.Value{}
		}
		p := b.points[i]
		return NumberValue(geo.DistanceKM(q.geo.Lat, q.geo.Lon, p[0], p[1]))
	case "now":
		return plugin.Value{Str: q.now.UTC().Format(time.RFC3339), Num: float64(q.now.Unix()), Present: true, Number: true}
	case "visitor.hour":
		return NumberValue(float64(q.now.In(q.loc).Hour()))
	case "visitor.weekday":
		return plugin.Value{Str: plugin.Weekday(q.now.In(q.loc).Weekday()), Present: true}
	case "languages":
		var langs []string
		if vs := q.r.Header["Accept-Language"]; len(vs) > 0 {
			langs = Languages(joinLines(vs))
		}
		if len(langs) == 0 {
			return plugin.Value{}
		}
		return plugin.Value{Str: plugin.ListValue(langs), Present: true}
	case "json":
		src, ok := b.text(s.From, q)
		if !ok {
			return plugin.Value{}
		}
		p, ok := b.paths[i]
		if !ok {
			p = parseJSONPath(s.Arg)
		}
		return p.value(src)
	case "semver":
		src, ok := b.text(s.From, q)
		if !ok {
			return plugin.Value{}
		}
		n, ok := plugin.SemverNumber(src)
		if !ok {
			return plugin.Value{Str: src, Present: true}
		}
		return plugin.Value{Str: src, Num: n, Present: true, Number: true}
	case "cap":
		n := 0
		if q.v.Caps != nil {
			secs, _, _ := strings.Cut(s.Arg, ":")
			w, _ := strconv.Atoi(secs)
			n = q.v.Caps.Count(s.Arg, time.Duration(w)*time.Second)
		}
		return NumberValue(float64(n))
	case "bucket":
		src, ok := b.text(s.From, q)
		if !ok || src == "" {
			// Nothing to bucket by (an experiment by a cookie the
			// visitor lacks): no bucket, forced or not, as the proxy
			// enrolls no such visitor.
			return plugin.Value{}
		}
		if q.ov != nil {
			if n, ok := q.ov.Buckets[s.Key()]; ok {
				return NumberValue(float64(n))
			}
		}
		return NumberValue(float64(plugin.Bucket(s.Arg, src)))
	}
	str, ok := b.text(s, q)
	if !ok {
		return plugin.Value{}
	}
	return TextValue(b.attrs[i].Fold.Apply(str))
}

// text computes a text attribute, for slots and for what computed slots
// are computed from.
func (b *Builder) text(s *plugin.Slot, q *request) (string, bool) {
	r := q.r
	if q.ov != nil && !derivedFromOverrides(s.Attr) {
		if v, ok := q.ov.value(s); ok {
			return v, true
		}
	}
	switch s.Attr {
	case "geo.country":
		return q.geo.Country, q.geo.Country != ""
	case "geo.region":
		return q.geo.Region, q.geo.Region != ""
	case "geo.city":
		return q.geo.City, q.geo.City != ""
	case "geo.continent":
		return q.geo.Continent, q.geo.Continent != ""
	case "geo.timezone":
		return q.geo.Timezone, q.geo.Timezone != ""
	case "device.type":
		return string(q.dev.Type), q.dev.Type != ""
	case "device.os":
		if q.dev.OS == "" {
			return "other", true
		}
		return q.dev.OS, true
	case "device.os_version":
		return q.dev.OSVersion, q.dev.OSVersion != ""
	case "device.browser":
		return q.dev.Browser, q.dev.Browser != ""
	case "device.browser_version":
		return q.dev.BrowserVersion, q.dev.BrowserVersion != ""
	case "language":
		if vs := r.Header["Accept-Language"]; len(vs) > 0 {
			return PrimaryLanguage(joinLines(vs))
		}
		return "", false
	case "path":
		// As routes match it, and as the origin serves it:
		// /blog/../members/x is /members/x to a rule on the members'
		// pages too.
		return urlpath.Clean(r.URL.Path), true
	case "host":
		// A fully qualified name's trailing dot ("shop.example.") names
		// the same host, which browsers and DNS reach alike.
		return strings.TrimSuffix(hostOnly(r.Host), "."), r.Host != ""
	case "cookie":
		v, ok := Cookie(r, s.Arg)
		return decodeCookie(v), ok
	case "header":
		if vs := r.Header[s.Arg]; len(vs) > 0 {
			return vs[0], true
		}
	case "query":
		return Query(r.URL.RawQuery, s.Arg)
	case "visitor.id":
		return q.v.ID, q.v.ID != ""
	case "json":
		// What semver() reads of a JSON value: its text (a number as it
		// is written; a list, an object, reads as no version).
		if s.From == nil {
			return "", false
		}
		src, ok := b.text(s.From, q)
		if !ok {
			return "", false
		}
		p, ok := b.fromPaths[s.Arg]
		if !ok {
			p = parseJSONPath(s.Arg)
		}
		v := p.value(src)
		return v.Str, v.Present
	case "base64":
		// Computed, and a text itself: json() and semver() read what it
		// decodes through here.
		if s.From == nil {
			return "", false
		}
		src, ok := b.text(s.From, q)
		if !ok {
			return "", false
		}
		if s.From.Attr == "query" {
			// A query's "+" is read as a space (as browsers read it), and
			// a link seldom escapes the "+" of base64 as %2B: no space is
			// base64, so each is the "+" it was. Trimmed instead, the one
			// at the end would leave a shorter text that decodes, to
			// something else.
			src = strings.ReplaceAll(src, " ", "+")
		}
		return Base64Text(src)
	}
	return "", false
}

// JSONValue reads path (gjson syntax) in src. Malformed JSON and a missing
// path are no value, never an error. A JSON array becomes a list value; true
// and false become the texts "true" and "false". Of several members with
// one key, a path that names one place reads the last, as JSON.parse and
// bespoke's JSON edits do; a path that computes a value (#, #.key,
// modifiers, multipaths) is gjson's, which reads the first.
func JSONValue(src, path string) plugin.Value {
	return parseJSONPath(path).value(src)
}

// jsonPath is a json() path, parsed once.
type jsonPath struct {
	gjson string
	steps []jsonpath.Step
	place bool // steps name one place (jsonpath accepted the path)
	// unbounded: the path applies a modifier whose work grows faster
	// than the value (jsonpath.Unbounded), which a visitor's value of a
	// few KB would make cost seconds and gigabytes: it reads no value.
	unbounded bool
	// fromstr: the path reads JSON in a string (@fromstr), whose nesting
	// the value's own limit does not see.
	fromstr bool
}

func parseJSONPath(path string) jsonPath {
	steps, err := jsonpath.Parse(path)
	// A path that names one place may hold a query, which gjson
	// evaluates, modifiers included.
	return jsonPath{gjson: path, steps: steps, place: err == nil,
		unbounded: jsonpath.Unbounded(path) != "",
		fromstr:   slices.Contains(jsonpath.Modifiers(path), "fromstr")}
}

func (p jsonPath) value(src string) plugin.Value {
	// Validated in one pass, without recursion and with a nesting limit,
	// before gjson (which recurses per level) sees a visitor's value.
	if jsonrw.Validate(src, jsonrw.DefaultMaxDepth) != nil {
		return plugin.Value{}
	}
	if p.unbounded || p.fromstr && deepInString(src, jsonrw.DefaultMaxDepth) {
		return plugin.Value{}
	}
	var res gjson.Result
	if p.place {
		raw, ok := jsonrw.Lookup(src, p.steps)
		if !ok {
			return plugin.Value{}
		}
		res = gjson.Parse(raw)
	} else {
		res = gjson.Get(src, p.gjson)
	}
	switch res.Type {
	case gjson.Null:
		return plugin.Value{}
	case gjson.String:
		return TextValue(noListSep(res.Str))
	case gjson.Number:
		return plugin.Value{Str: res.Raw, Num: res.Num, Present: true, Number: true}
	case gjson.True:
		// A yes/no, not a number: json(...) >= 0 is false for it, as for
		// any other text; json(...) == true compares the text "true".
		return plugin.Value{Str: "true", Present: true}
	case gjson.False:
		return plugin.Value{Str: "false", Present: true}
	}
	if res.IsArray() {
		var items []string
		for _, it := range res.Array() {
			if it.Type == gjson.String {
				items = append(items, noListSep(it.Str))
			} else {
				items = append(items, it.Raw)
			}
		}
		return plugin.Value{Str: plugin.ListValue(items), Present: true}
	}
	return plugin.Value{Str: res.Raw, Present: true}
}

// deepInString reports whether a string of the valid JSON src holds JSON
// nested deeper than maxDepth, itself or in a string of its own, which
// @fromstr would hand to gjson's code that recurses, and copies, per
// level. A string is decoded only when it has more brackets and escapes
// than maxDepth, which JSON that deep needs; strings in strings double
// their escapes at each level, so they are few levels deep.
func deepInString(src string, maxDepth int) bool {
	for i := 0; i < len(src); i++ {
		if src[i] != '"' {
			continue
		}
		n, j := 0, i+1
		for ; j < len(src) && src[j] != '"'; j++ {
			switch src[j] {
			case '\\':
				n++
				j++
			case '[', '{':
				n++
			}
		}
		if n > maxDepth {
			text := gjson.Parse(src[i : j+1]).Str
			switch jsonrw.Validate(text, maxDepth) {
			case jsonrw.ErrTooDeep:
				return true
			case nil:
				if deepInString(text, maxDepth) {
					return true
				}
			}
		}
		i = j
	}
	return false
}

// noListSep replaces the NULs of a JSON text ("\u0000"), which separate
// the items of a list value, with U+FFFD: a text that held one would read
// as a list, or split an item of one in two.
func noListSep(s string) string {
	if strings.Contains(s, plugin.ListSep) {
		return strings.ReplaceAll(s, plugin.ListSep, "\uFFFD")
	}
	return s
}

// derivedFromOverrides says an attribute's override is applied to the
// geography or device it is computed from (see Overrides.apply), not to
// its slot.
func derivedFromOverrides(attr string) bool {
	return strings.HasPrefix(attr, "geo.") || strings.HasPrefix(attr, "device.")
}

var locations sync.Map // IANA name -> *time.Location

// countryLocations caches the zones of countries that keep one time (nil
// for the others), in a map a lookup of which does not allocate.
var countryLocations struct {
	sync.RWMutex
	m map[string]*time.Location
}

// countryLocation returns the zone of a country that keeps one time, or
// nil.
func countryLocation(country string) *time.Location {
	if country == "" {
		return nil
	}
	countryLocations.RLock()
	loc, ok := countryLocations.m[country]
	countryLocations.RUnlock()
	if ok {
		return loc
	}
	if zone := geo.CountryZone(country); zone != "" {
		loc = location(zone)
	}
	countryLocations.Lock()
	if countryLocations.m == nil {
		countryLocations.m = map[string]*time.Location{}
	}
	if len(countryLocations.m) < 1024 { // countries are two letters; bound it anyway
		countryLocations.m[country] = loc
	}
	countryLocations.Unlock()
	return loc
}

// location loads a time zone once; an unknown name, or "", gives nil.
// Names come from request headers: the ones that fail are remembered too
// (up to maxUnknownZones), so that a stream of made-up names does not
// cost a search of the zone database each.
func location(name string) *time.Location {
	if name == "" {
		return nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		if unknownZones.Add(1) <= maxUnknownZones {
			locations.Store(name, (*time.Location)(nil))
		}
		return nil
	}
	locations.Store(name, l)
	return l
}

// maxUnknownZones bounds the names location remembers as unknown.
const maxUnknownZones = 4096

var unknownZones atomic.Int64

// decodeCookie undoes the percent-encoding cookies carrying text or JSON
// commonly have (encodeURIComponent); "+" stays a plus, and a value that
// does not decode is kept as sent.
func decodeCookie(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// TextValue is the value of a text attribute: present, and a number too
// when it reads as one.
func TextValue(s string) plugin.Value {
	v := plugin.Value{Str: s, Present: true}
	if maybeNumber(s) {
		v.Num, v.Number = plugin.ParseNumber(s)
	}
	return v
}

// NumberValue is the value of a numeric attribute.
func NumberValue(n float64) plugin.Value {
	return plugin.Value{Str: strconv.FormatFloat(n, 'f', -1, 64), Num: n, Present: true, Number: true}
}

// BoolValue is the value of a yes/no attribute.
func BoolValue(t bool) plugin.Value {
	if t {
		return plugin.Value{Str: "true", Num: 1, Present: true, Number: true}
	}
	return plugin.Value{Str: "false", Num: 0, Present: true, Number: true}
}

// maybeNumber skips ParseFloat for values that cannot be numbers, which is
// most of them.
func maybeNumber(s string) bool {
	s = trimSpace(s)
	if s == "" {
		return false
	}
	c := s[0]
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.'
}

func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[:i], ":") {
		return h[:i]
	}
	return h
}

// Query returns the first value of the query parameter key in rawQuery,
// decoded, scanning without building the whole parameter map. Pairs are
// read as a browser's URLSearchParams reads them (the WHATWG URL
// standard): only "&" separates them (a ";" is part of the value), and
// the key is compared decoded ("a+b" is the key "a b"). A "%" that does
// not begin an escape is kept as written ("50%" is "50%"), as browsers
// keep it; url.ParseQuery skipped the whole pair.
func Query(rawQuery, key string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue // "a=1&&b=2": no pair, not one named ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if formDecode(k) != key {
			continue
		}
		return formDecode(v), true
	}
	return "", false
}

// formDecode decodes a name or value of a query as the WHATWG URL
// standard's application/x-www-form-urlencoded parser does: "+" is a
// space, "%XX" with two hex digits its byte, any other "%" itself.
func formDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
