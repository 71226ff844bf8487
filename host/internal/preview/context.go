package preview

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Device is a device the preview can pretend to be: a real User-Agent,
// classified as live traffic is.
type Device struct {
	Key, Label, UA string
}

// Devices are the devices the preview offers. Headless and automated
// browsers announce themselves as such and are classified as bots; these
// are the strings real browsers send.
var Devices = []Device{
	{"desktop", "Desktop (Chrome on Windows)", visit.DefaultUserAgent},
	{"phone", "Phone (Safari on iPhone)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"},
	{"android", "Phone (Chrome on Android)", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"},
	{"tablet", "Tablet (Safari on iPad)", "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"},
	{"bot", "Crawler (Googlebot)", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
	{"custom", "Custom User-Agent", ""},
}

// Context is the visitor an editor picks in the preview's form. Every
// field is kept in the page's URL, so that a reload (after an edit of the
// rules) shows the same visitor.
type Context struct {
	Target                int
	URL                   string // empty means the target's Path
	Country, Region, City string
	Lat, Lon              string
	Device, UA            string
	Lang                  string
	Cookies, Headers      string // one a line: name=value, Name: value
	At                    string // RFC 3339; empty means now
	Visitor               string // empty means a new visitor
	Returning             bool
	Seen                  string // item ids, separated by commas or spaces
	Variants              map[string]string
	Shown                 map[string]string
}

// parseContext reads a Context from a query.
func parseContext(q url.Values) Context {
	c := Context{
		URL: strings.TrimSpace(q.Get("url")), Country: strings.TrimSpace(q.Get("country")),
		Region: strings.TrimSpace(q.Get("region")), City: strings.TrimSpace(q.Get("city")),
		Lat: strings.TrimSpace(q.Get("lat")), Lon: strings.TrimSpace(q.Get("lon")),
		Device: q.Get("device"), UA: q.Get("ua"), Lang: strings.TrimSpace(q.Get("lang")),
		Cookies: q.Get("cookies"), Headers: q.Get("headers"), At: strings.TrimSpace(q.Get("at")),
		Visitor: strings.TrimSpace(q.Get("visitor")), Returning: q.Get("returning") != "",
		Seen: q.Get("seen"), Variants: map[string]string{}, Shown: map[string]string{},
	}
	c.Target, _ = strconv.Atoi(q.Get("t"))
	if c.Device == "" {
		c.Device = "desktop"
	}
	for k, vs := range q {
		if name, ok := strings.CutPrefix(k, "v."); ok && vs[0] != "" {
			c.Variants[name] = vs[0]
		}
		if name, ok := strings.CutPrefix(k, "shown."); ok && strings.TrimSpace(vs[0]) != "" {
			c.Shown[name] = strings.TrimSpace(vs[0])
		}
	}
	return c
}

// Query returns the query that parseContext reads back as c.
func (c Context) Query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("t", strconv.Itoa(c.Target))
	set("url", c.URL)
	set("country", c.Country)
	set("region", c.Region)
	set("city", c.City)
	set("lat", c.Lat)
	set("lon", c.Lon)
	set("device", c.Device)
	set("ua", c.UA)
	set("lang", c.Lang)
	set("cookies", c.Cookies)
	set("headers", c.Headers)
	set("at", c.At)
	set("visitor", c.Visitor)
	if c.Returning {
		q.Set("returning", "on")
	}
	set("seen", c.Seen)
	for k, v := range c.Variants {
		set("v."+k, v)
	}
	for k, v := range c.Shown {
		set("shown."+k, v)
	}
	return q
}

// Spec turns the context into the visitor to simulate, and says what in
// the form could not be read.
func (c Context) Spec() (visit.Spec, []string) {
	var problems []string
	spec := visit.Spec{URL: c.URL, NewID: visit.SimulatedID, Values: map[string]string{}}
	host := c.pastedHost()
	if host != "" {
		u, _ := url.Parse(c.URL)
		spec.URL = u.RequestURI()
	}
	if !strings.HasPrefix(spec.URL, "/") {
		spec.URL = "/" + spec.URL
	}
	val := func(attr, v string) {
		if v != "" {
			spec.Values[plugin.Slot{Attr: attr}.Key()] = v
		}
	}
	// A value no visitor can have would preview a page nobody sees: it
	// is refused with what was probably meant, as explain --set does.
	checked := func(attr, v, field string) {
		if v == "" {
			return
		}
		if _, err := check.Literal(attr, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", field, err))
			return
		}
		val(attr, v)
	}
	checked("geo.country", strings.ToUpper(strings.TrimSpace(c.Country)), "country")
	checked("geo.region", strings.ToUpper(strings.TrimSpace(c.Region)), "region")
	val("geo.city", c.City)
	if c.Lat != "" || c.Lon != "" {
		lat, ok1 := plugin.ParseNumber(c.Lat)
		lon, ok2 := plugin.ParseNumber(c.Lon)
		switch {
		case !ok1 || !ok2:
			problems = append(problems, "latitude and longitude are two numbers, such as 45.76 and 4.83")
		case math.Abs(lat) > 90 || math.Abs(lon) > 180:
			// A CDN sends none such; the proxy would read no location.
			problems = append(problems, "latitude is from -90 to 90 and longitude from -180 to 180")
		default:
			val("geo.lat", c.Lat)
			val("geo.lon", c.Lon)
		}
	}
	ua := visit.DefaultUserAgent
	for _, d := range Devices {
		if d.Key == c.Device && d.UA != "" {
			ua = d.UA
		}
	}
	if c.Device == "custom" && strings.TrimSpace(c.UA) != "" {
		ua = strings.TrimSpace(c.UA)
	}
	spec.Headers = append(spec.Headers, [2]string{"User-Agent", ua})
	if c.Lang != "" {
		spec.Headers = append(spec.Headers, [2]string{"Accept-Language", c.Lang})
	}
	hostGiven := false
	for _, line := range lines(c.Headers) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			problems = append(problems, fmt.Sprintf("header %q: write Name: value", line))
			continue
		}
		k = strings.TrimSpace(k)
		hostGiven = hostGiven || strings.EqualFold(k, "Host")
		spec.Headers = append(spec.Headers, [2]string{k, strings.TrimSpace(v)})
	}
	// The visitor who opens a whole address sends its host: rules on
	// host see it, as they would through the proxy. A Host header in the
	// form says otherwise and wins.
	if host != "" && !hostGiven {
		spec.Headers = append(spec.Headers, [2]string{"Host", host})
	}
	for _, line := range lines(c.Cookies) {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			problems = append(problems, fmt.Sprintf("cookie %q: write name=value", line))
			continue
		}
		spec.Cookies = append(spec.Cookies, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	if c.At != "" {
		t, err := visit.ParseTime(c.At)
		if err != nil {
			problems = append(problems, fmt.Sprintf("time %q: write an RFC 3339 time such as 2026-12-05T18:30:00+01:00", c.At))
		} else {
			spec.At = t
		}
	}
	if c.Visitor != "" {
		spec.Visitor = c.Visitor
	} else if c.Returning {
		returning := false
		spec.New = &returning
	}
	spec.Seen = strings.FieldsFunc(c.Seen, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	if len(c.Variants) > 0 {
		spec.Variants = c.Variants
	}
	names := make([]string, 0, len(c.Shown))
	for k := range c.Shown {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		n, err := strconv.Atoi(c.Shown[k])
		if err != nil || n < 0 {
			problems = append(problems, fmt.Sprintf("shown %s: a number of times, such as 2", k))
			continue
		}
		if spec.Shown == nil {
			spec.Shown = map[string]int{}
		}
		spec.Shown[k] = n
	}
	return spec, problems
}

// pastedHost returns the host of the URL field when it holds a whole
// address (https://shop.example.com/stores), as pasted from a browser;
// "" for a path. The page still comes from the target's origin.
func (c Context) pastedHost() string {
	u, err := url.Parse(c.URL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return ""
	}
	return u.Host
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
