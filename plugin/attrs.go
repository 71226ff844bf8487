package plugin

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is the type of an attribute's value.
type Type uint8

// Attribute types. The zero Type is invalid.
const (
	String Type = iota + 1
	Number
	Bool
	// List is a list of texts (languages). Its value is the items joined
	// and surrounded by ListSep, so that membership is a substring test.
	List
	// Any is a value whose type is known only per request (a JSON path:
	// text, number, yes/no or list).
	Any
)

func (t Type) String() string {
	switch t {
	case String:
		return "text"
	case Number:
		return "a number"
	case Bool:
		return "yes/no"
	case List:
		return "a list"
	case Any:
		return "a JSON value"
	}
	return "invalid"
}

// Fold says how the host normalizes an attribute's value before the module
// sees it, so that the compiler can normalize literals the same way
// (geo.country == "fr" then means what the editor meant).
type Fold uint8

// Folds. The zero Fold keeps values as they are.
const (
	FoldNone Fold = iota
	FoldUpper
	FoldLower
)

// Apply normalizes s.
func (f Fold) Apply(s string) string {
	switch f {
	case FoldUpper:
		return strings.ToUpper(s)
	case FoldLower:
		return strings.ToLower(s)
	}
	return s
}

// Attr describes one attribute of the visitor's context that rules can read.
type Attr struct {
	// Name is how rules spell it: "geo.country", or "cookie" for cookie("x").
	Name string
	// Type is the type of its value.
	Type Type
	// Arg names the argument when the attribute is a function of a name
	// (cookie("plan")); empty when it takes none.
	Arg string
	// From says the attribute is computed from another one (json, semver,
	// base64, bucket): a slot of it has a From slot.
	From bool
	// Internal attributes are produced by the compiler (geo.within,
	// rollouts), not written by editors.
	Internal bool
	// Values is the closed set of values the host produces, or nil when any
	// value may occur. The compiler rejects a literal outside the set.
	Values []string
	// Fold is how the host normalizes the value.
	Fold Fold
	// Doc says where the value comes from, for error messages and docs.
	Doc string
}

// The catalog's value lists are unexported: a caller that changed one
// would change what every plugin and host of the process accepts. The
// functions below hand out copies.
var (
	deviceTypes = []string{"mobile", "tablet", "desktop", "tv", "console", "wearable", "bot"}
	deviceOSes  = []string{"android", "ios", "ipados", "windows", "macos", "linux", "chromeos", "tvos", "tizen", "webos", "fireos", "playstation", "xbox", "nintendo", "other"}
	continents  = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	weekdays    = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
)

// DeviceTypes returns the values of device.type.
func DeviceTypes() []string { return slices.Clone(deviceTypes) }

// DeviceOSes returns the values of device.os.
func DeviceOSes() []string { return slices.Clone(deviceOSes) }

// Continents returns the values of geo.continent.
func Continents() []string { return slices.Clone(continents) }

// Weekdays returns the values of visitor.weekday, Sunday first.
func Weekdays() []string { return slices.Clone(weekdays[:]) }

// Weekday returns the value of visitor.weekday for d.
func Weekday(d time.Weekday) string { return weekdays[d%7] }

// Attributes returns the catalog of attributes, in the order the docs
// list them. A slot in a manifest names one of these.
func Attributes() []Attr {
	out := slices.Clone(attributes)
	for i := range out {
		out[i].Values = slices.Clone(out[i].Values)
	}
	return out
}

var attributes = []Attr{
	{Name: "geo.country", Type: String, Fold: FoldUpper, Doc: "ISO 3166-1 alpha-2 country code"},
	{Name: "geo.region", Type: String, Fold: FoldUpper, Doc: "ISO 3166-2 subdivision code without the country (\"IDF\", \"CA\")"},
	{Name: "geo.city", Type: String, Doc: "city name"},
	{Name: "geo.continent", Type: String, Values: continents, Fold: FoldUpper, Doc: "continent code"},
	{Name: "geo.timezone", Type: String, Doc: "IANA time zone (\"Europe/Paris\")"},
	{Name: "geo.lat", Type: Number, Doc: "latitude in degrees"},
	{Name: "geo.lon", Type: Number, Doc: "longitude in degrees"},
	{Name: "geo.distance", Type: Number, Arg: "lat,lon", Internal: true, Doc: "kilometres from a point (geo.within)"},
	{Name: "device.type", Type: String, Values: deviceTypes, Fold: FoldLower, Doc: "from Client Hints (Sec-CH-UA-Mobile), else the User-Agent"},
	{Name: "device.os", Type: String, Values: deviceOSes, Fold: FoldLower, Doc: "operating system family"},
	{Name: "device.os_version", Type: String, Doc: "operating system version (\"17.4\")"},
	{Name: "device.browser", Type: String, Fold: FoldLower, Doc: "browser or crawler (\"chrome\", \"safari\", \"googlebot\")"},
	{Name: "device.browser_version", Type: String, Doc: "browser version (\"124.0\")"},
	{Name: "device.bot", Type: Bool, Doc: "true for crawlers and tools"},
	{Name: "language", Type: String, Fold: FoldLower, Doc: "primary language subtag of the visitor's preferred Accept-Language entry (\"fr\")"},
	{Name: "languages", Type: List, Fold: FoldLower, Doc: "every language of Accept-Language with a weight above 0, preferred first"},
	{Name: "path", Type: String, Doc: "request path, without the query (\"/journal/\")"},
	{Name: "host", Type: String, Fold: FoldLower, Doc: "request host, without the port"},
	{Name: "cookie", Type: String, Arg: "cookie name", Doc: "value of a request cookie"},
	{Name: "header", Type: String, Arg: "header name", Doc: "value of a request header (the first one when repeated)"},
	{Name: "query", Type: String, Arg: "query parameter", Doc: "value of a query parameter (the first one when repeated)"},
	{Name: "visitor.id", Type: String, Doc: "stable first-party visitor id (cookie bsk_vid)"},
	{Name: "visitor.new", Type: Bool, Doc: "true on a visitor's first request (no valid visitor id cookie yet)"},
	{Name: "visitor.hour", Type: Number, Doc: "hour of the day, 0-23, in the visitor's time zone"},
	{Name: "visitor.weekday", Type: String, Values: weekdays[:], Fold: FoldLower, Doc: "day of the week in the visitor's time zone"},
	{Name: "now", Type: Number, Doc: "the request time, in seconds since 1970 (compare with RFC 3339 times)"},
	{Name: "json", Type: Any, Arg: "JSON path", From: true, Doc: "a value inside JSON carried by a cookie, header or query parameter"},
	{Name: "semver", Type: Number, From: true, Doc: "a version number, ordered as semantic versions"},
	{Name: "base64", Type: String, From: true, Doc: "a text decoded from base64 (the standard or the URL-safe alphabet, padded or not)"},
	{Name: "bucket", Type: Number, Arg: "seed", From: true, Internal: true, Doc: "the visitor's bucket, 0-9999, for rollouts and experiments"},
	{Name: "cap", Type: Number, Arg: "rule", Internal: true, Doc: "how many times a capped rule applied to the visitor in its window"},
}

var attrIndex = func() map[string]int {
	m := make(map[string]int, len(attributes))
	for i, a := range attributes {
		m[a.Name] = i
	}
	return m
}()

// LookupAttr returns the catalog entry named name.
func LookupAttr(name string) (Attr, bool) {
	i, ok := attrIndex[name]
	if !ok {
		return Attr{}, false
	}
	a := attributes[i]
	a.Values = slices.Clone(a.Values)
	return a, true
}

// AttrNames returns the names of the attributes editors write, for
// suggestions.
func AttrNames() []string {
	names := make([]string, 0, len(attributes))
	for _, a := range attributes {
		if !a.Internal {
			names = append(names, a.Name)
		}
	}
	return names
}

// ParseNumber is how a text value becomes a number, on both sides of the ABI:
// a finite decimal (a sign, digits with at most one point, an exponent),
// surrounding ASCII white space ignored. ok is false for anything else (Go's
// hexadecimal floats and digit separators, "0x1p4" and "1_000", which
// neither JavaScript's Number nor Python's float read), and a comparison
// with a number is then false.
func ParseNumber(s string) (v float64, ok bool) {
	s = strings.Trim(s, " \t\n\r\f\v")
	if !isDecimal(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// isDecimal reports whether s is [+-] digits [. digits] [e [+-] digits],
// with a digit on one side of the point at least.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// MaxCappedRules is how many rules with at_most one rule file may have:
// a visitor's counts (a cookie, or a Redis key) hold that many.
const MaxCappedRules = 64

// ListSep separates the items of a List value. A list is encoded as
// ListSep + items joined by ListSep + ListSep, so "does the list hold x" is
// "does the value contain ListSep+x+ListSep".
const ListSep = "\x00"

// ListValue encodes items as a List value.
func ListValue(items []string) string {
	if len(items) == 0 {
		return ListSep
	}
	return ListSep + strings.Join(items, ListSep) + ListSep
}

// IsList reports whether a value is an encoded list.
func IsList(v string) bool { return strings.HasPrefix(v, ListSep) }

// ListItems decodes a List value.
func ListItems(v string) []string {
	v = strings.TrimPrefix(strings.TrimSuffix(v, ListSep), ListSep)
	if v == "" {
		return nil
	}
	return strings.Split(v, ListSep)
}

// replacedLanguages are the ISO 639 codes withdrawn for another that some
// clients still send (Java and older Android send "iw" for Hebrew).
var replacedLanguages = map[string]string{
	"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "sh": "sr",
}

// ReplacedLanguage returns the code that replaced a withdrawn language
// code ("he" for "iw"); ok is false for any other code. The host reads a
// visitor's language with it, so that rules name each language once.
func ReplacedLanguage(code string) (string, bool) {
	c, ok := replacedLanguages[code]
	return c, ok
}
