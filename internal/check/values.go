package check

//go:generate go run gen_isodata.go

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the zone names the host knows, on any machine
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/bespoke-edge/bespoke/internal/tzname"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// A value an attribute can never take makes a condition that can never
// hold (or, negated, always holds): almost always a mistake, such as "UK"
// for the United Kingdom, whose code is GB. The checker rejects them, with
// the value that was probably meant.

// literal validates the text v compared with attribute a (with ==, !=, in
// or not in, or given in a test's context) and returns it normalized as
// the host normalizes the attribute. ok is false when v can never be a
// value of a; the error has then been reported at pos.
func (c *checker) literal(a plugin.Attr, v string, pos diag.Pos) (string, bool) {
	folded := a.Fold.Apply(v)
	var e *diag.Error
	switch a.Name {
	case "geo.country":
		e = c.country(v, folded, pos)
	case "geo.continent":
		e = c.continent(v, folded, pos)
	case "geo.region":
		e = c.region(v, folded, pos)
	case "geo.timezone":
		// An old name (Asia/Calcutta) is the zone's current one, as the
		// host makes the visitor's: either name matches either.
		if e = c.timezone(v, pos); e == nil {
			folded = tzname.Current(v)
		}
	case "language", "languages":
		e = c.language(a.Name, v, folded, pos)
	case "visitor.weekday":
		if !slices.Contains(plugin.Weekdays(), folded) {
			e = c.errorf(pos, "%q is not a day: visitor.weekday is one of %s", v, quoteList(plugin.Weekdays()))
			for _, d := range plugin.Weekdays() {
				if len(folded) >= 2 && strings.HasPrefix(d, folded) {
					e.WithHint("did you mean %q?", d)
				}
			}
			if e.Hint == "" {
				if h := diag.DidYouMean(folded, plugin.Weekdays()); h != "" {
					e.WithHint("%s", h)
				}
			}
		}
	case "path":
		e = c.pathValue(v, pos)
	case "host":
		e = c.hostValue(v, pos)
	default:
		if a.Values != nil && !slices.Contains(a.Values, folded) {
			e = c.errorf(pos, "%q is not a value of %s, which is one of %s", v, a.Name, quoteList(a.Values))
			if meant := valueAliases[a.Name][strings.ToLower(strings.TrimSpace(v))]; meant != "" {
				e.WithHint("did you mean %q?", meant)
			} else if h := diag.DidYouMean(folded, a.Values); h != "" {
				e.WithHint("%s", h)
			}
		}
	}
	if e != nil {
		e.WithCode("never-matches")
		return "", false
	}
	return folded, true
}

// Literal validates v as a value of attribute attr, as a test's context
// is validated, and returns it normalized as the host normalizes the
// attribute. The error says why no visitor has that value, with the
// likely fix: "fr-FR" for language, which holds "fr". Tools that make
// up a visitor (explain --set) use it so that they never describe one
// that cannot exist.
func Literal(attr, v string) (string, error) {
	a, ok := plugin.LookupAttr(attr)
	if !ok {
		return "", fmt.Errorf("unknown attribute %q", attr)
	}
	c := &checker{}
	if a.Type == plugin.Number {
		if c.contextNumber(a, v, diag.Pos{}) {
			return v, nil
		}
	} else if norm, ok := c.literal(a, v, diag.Pos{}); ok {
		return norm, nil
	}
	e := c.errs[0]
	if e.Hint != "" {
		return "", fmt.Errorf("%s; %s", e.Msg, e.Hint)
	}
	return "", errors.New(e.Msg)
}

var tzName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+$`)

// tzWord is a zone name of one word: the database's start with a capital
// (GMT, EST5EDT, Japan), the files a system keeps beside them do not
// (posixrules, localtime).
var tzWord = regexp.MustCompile(`^[A-Z][A-Za-z0-9+-]*$`)

// ianaZone reports whether name is a zone of the IANA database, whatever
// the machine: a system's database may hold copies of it under right/
// (counting leap seconds) and posix/, which the embedded one lacks.
func ianaZone(name string) bool {
	if strings.HasPrefix(name, "right/") || strings.HasPrefix(name, "posix/") {
		return false
	}
	return (tzName.MatchString(name) || tzWord.MatchString(name)) && knownZone(name)
}

// timezone checks a geo.timezone literal: the host's value is a name the
// time zone database holds, as it spells it (time.LoadLocation's names are
// case-sensitive), so any other text never matches.
func (c *checker) timezone(v string, pos diag.Pos) *diag.Error {
	if v == "UTC" || ianaZone(v) {
		return nil
	}
	switch guess := zoneCase(v); {
	case strings.EqualFold(v, "UTC"):
		return c.errorf(pos, "%q is no time zone of the IANA database, whose names are case-sensitive", v).WithHint(`did you mean "UTC"?`)
	case guess != v && ianaZone(guess):
		return c.errorf(pos, "%q is no time zone of the IANA database, whose names are case-sensitive", v).WithHint("did you mean %q?", guess)
	}
	return c.errorf(pos, "%q is no time zone of the IANA database", v).WithHint("write a name such as Europe/Paris or America/New_York")
}

// knownZone reports whether the time zone database (the system's, or
// the one embedded in the binary) holds zone name.
func knownZone(name string) bool {
	if name == "" || name == "Local" {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// zoneCase spells a zone name as the database mostly does: each word
// capitalized, the rest lower case (europe/paris, EUROPE/PARIS:
// Europe/Paris; america/new_york: America/New_York).
func zoneCase(name string) string {
	b := []byte(strings.ToLower(name))
	for i := range b {
		if i == 0 || strings.IndexByte("/_-", b[i-1]) >= 0 {
			if 'a' <= b[i] && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
	}
	return string(b)
}

// countryAliases are what people write for a country instead of its
// code, beyond the names and alpha-3 codes of the ISO tables.
var countryAliases = map[string]string{
	"UK": "GB", "EL": "GR", "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB", "BRITAIN": "GB", "GREAT BRITAIN": "GB",
	"NORTHERN IRELAND": "GB", "AMERICA": "US", "UNITED STATES OF AMERICA": "US", "HOLLAND": "NL", "RUSSIA": "RU",
	"KOREA": "KR", "CZECH REPUBLIC": "CZ", "VATICAN": "VA", "DEUTSCHLAND": "DE", "ESPANA": "ES", "ESPAÑA": "ES",
	"SUISSE": "CH", "SCHWEIZ": "CH", "BELGIQUE": "BE", "ITALIA": "IT", "NEDERLAND": "NL", "ÖSTERREICH": "AT",
}

// countryByName maps upper-cased English names to codes.
var countryByName = func() map[string]string {
	m := map[string]string{}
	for code, name := range countryNames {
		m[strings.ToUpper(name)] = code
	}
	return m
}()

func (c *checker) country(v, code string, pos diag.Pos) *diag.Error {
	code = strings.TrimSpace(code)
	if _, ok := countryNames[code]; ok && code == strings.ToUpper(v) {
		return nil
	}
	if why, ok := withdrawnCountries[code]; ok {
		return c.errorf(pos, "%q is no longer a country code (%s)", v, why).WithHint("use the code of the country it became")
	}
	if code == "EU" {
		// Visitors of the European Union, or of Europe: no country has
		// either code, and geo.continent holds Europe's.
		return c.errorf(pos, "%q is not a country code: it is Europe's continent code, and no country's", v).
			WithHint("for visitors in Europe, write geo.continent == \"EU\"; for the European Union, list its countries: geo.country in %s", euCountries)
	}
	meant := meantCountry(code)
	e := c.errorf(pos, "%q is not a country code: geo.country holds ISO 3166-1 alpha-2 codes, such as \"FR\" or \"GB\"", v)
	switch {
	case meant != "":
		e.WithHint("did you mean %q (%s)?", meant, countryNames[meant])
	case len(code) == 2:
		e.WithHint("no country has this code")
	default:
		e.WithHint("country codes are two letters: FR, DE, GB, US, ...")
	}
	return e
}

// euCountries are the member states of the European Union, as a list of
// geo.country, for a rule meant for the Union.
const euCountries = `["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]`

// meantText is the text a bare word compared with a most likely means,
// as it must be written: a country's code for a name or an alias (UK:
// GB), a value of a's list in its case, or the word itself.
func meantText(a plugin.Attr, word string) string {
	folded := a.Fold.Apply(word)
	switch {
	case a.Name == "geo.country":
		if _, ok := countryNames[folded]; ok {
			return folded
		}
		if meant := meantCountry(folded); meant != "" {
			return meant
		}
	case a.Values != nil:
		if slices.Contains(a.Values, folded) {
			return folded
		}
		if meant := valueAliases[a.Name][strings.ToLower(word)]; meant != "" {
			return meant
		}
	}
	return word
}

// meantCountry returns the country code an upper-cased text that is not
// one most likely means (UK: GB, FRA: FR, FRANCE: FR), or "".
func meantCountry(code string) string {
	if meant := countryAliases[code]; meant != "" {
		return meant
	}
	if meant := countryAlpha3[code]; meant != "" {
		return meant
	}
	return countryByName[code]
}

var continentNames = map[string]string{
	"AFRICA": "AF", "ANTARCTICA": "AN", "ASIA": "AS", "EUROPE": "EU", "NORTH AMERICA": "NA",
	"OCEANIA": "OC", "AUSTRALIA": "OC", "SOUTH AMERICA": "SA",
}

func (c *checker) continent(v, code string, pos diag.Pos) *diag.Error {
	if slices.Contains(plugin.Continents(), code) {
		return nil
	}
	e := c.errorf(pos, "%q is not a continent code: geo.continent is one of %s", v, quoteList(plugin.Continents()))
	if meant := continentNames[code]; meant != "" {
		e.WithHint("did you mean %q?", meant)
	}
	return e
}

var (
	regionCode     = regexp.MustCompile(`^[A-Z0-9]{1,3}$`)
	regionWithLand = regexp.MustCompile(`^([A-Z]{2})-([A-Z0-9]{1,3})$`)
)

func (c *checker) region(v, code string, pos diag.Pos) *diag.Error {
	if regionCode.MatchString(code) {
		return nil
	}
	if m := regionWithLand.FindStringSubmatch(code); m != nil {
		return c.errorf(pos, "%q never matches: geo.region holds the subdivision code without its country", v).
			WithHint("write geo.region == %q (and geo.country == %q)", m[2], m[1])
	}
	return c.errorf(pos, "%q is not a subdivision code: geo.region holds ISO 3166-2 codes without the country, 1 to 3 letters or digits", v).
		WithHint("for example \"IDF\" for Île-de-France or \"CA\" for California")
}

var languageByName = func() map[string]string {
	m := map[string]string{}
	for code, name := range languageNames {
		m[strings.ToLower(name)] = code
	}
	return m
}()

func (c *checker) language(attr, v, tag string, pos diag.Pos) *diag.Error {
	tag = strings.TrimSpace(tag)
	if now, ok := plugin.ReplacedLanguage(tag); ok {
		return c.errorf(pos, "%q never matches: it is the withdrawn code of %s, which the proxy reads as %q when a browser sends it", v, languageNames[now], now).
			WithHint("write %s", languageTest(attr, now))
	}
	if len(tag) == 2 {
		if _, ok := languageNames[tag]; ok {
			return nil
		}
		if country, ok := countryNames[strings.ToUpper(tag)]; ok {
			// jp for Japanese, cz for Czech: the code of the country
			// where it is spoken.
			e := c.errorf(pos, "%q is the country code of %s, not a language code: %s holds ISO 639-1 codes", v, country, attr)
			hint := fmt.Sprintf("to test the country, write geo.country == %q", strings.ToUpper(tag))
			if code := countryLanguage[tag]; code != "" {
				hint = fmt.Sprintf("did you mean %s (%s)? %s", languageTest(attr, code), languageNames[code], hint)
			}
			return e.WithHint("%s", hint)
		}
		return c.errorf(pos, "%q is not an ISO 639-1 language code", v).WithHint("language codes are two letters: en, fr, de, es, ...")
	}
	if primary, region, found := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-"); found && len(primary) >= 2 && len(primary) <= 3 {
		e := c.errorf(pos, "%q never matches: %s holds the language without its region (%q for a browser that sends %s)", v, attr, primary, v)
		hint := fmt.Sprintf("write %s", languageTest(attr, primary))
		if len(region) == 2 {
			hint += fmt.Sprintf(", and add geo.country == %q to tell the country apart", strings.ToUpper(region))
		}
		return e.WithHint("%s", hint)
	}
	if len(tag) == 3 {
		if two, ok := language3[tag]; ok {
			return c.errorf(pos, "%q never matches: browsers send the two-letter code %q for %s", v, two, languageNames[two]).
				WithHint("write %s", languageTest(attr, two))
		}
		if isLower(tag) {
			return nil // a language with no two-letter code (fil, haw, ...)
		}
	}
	e := c.errorf(pos, "%q is not a language code: %s holds ISO 639 codes such as \"en\" or \"fr\"", v, attr)
	if code, ok := languageByName[strings.ToLower(v)]; ok {
		e.WithHint("did you mean %q (%s)?", code, languageNames[code])
	}
	return e
}

// countryLanguage is the language of a country whose code is no
// language code, written for the language (jp for ja), when one
// language is the country's: not for Belgium or India.
var countryLanguage = map[string]string{
	"jp": "ja", "cz": "cs", "gr": "el", "dk": "da", "ua": "uk", "cn": "zh",
	"vn": "vi", "rs": "sr", "al": "sq", "il": "he", "ir": "fa", "at": "de",
	"us": "en", "gb": "en", "au": "en", "nz": "en", "mx": "es", "cl": "es",
	"pe": "es", "pk": "ur", "bd": "bn", "eg": "ar", "qa": "ar",
	"jo": "ar", "hk": "zh", "ge": "ka",
}

func languageTest(attr, code string) string {
	if attr == "languages" {
		return fmt.Sprintf("languages contains %q", code)
	}
	return fmt.Sprintf("language == %q", code)
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// valueAliases are what people call a value of a closed attribute, by
// attribute: the name of a device or a brand rather than the value
// bespoke gives it (iphone: ios, mac: macos, phone: mobile).
// MeantValue returns the value of attribute attr that v, which is not
// one, most likely means (phone: mobile for device.type), or "".
func MeantValue(attr, v string) string {
	return valueAliases[attr][strings.ToLower(strings.TrimSpace(v))]
}

var valueAliases = map[string]map[string]string{
	"device.os": {
		"iphone": "ios", "iphone os": "ios", "ipad": "ipados", "ipad os": "ipados", "ipados": "ipados",
		"mac": "macos", "macintosh": "macos", "osx": "macos", "os x": "macos", "mac os": "macos", "mac os x": "macos", "macosx": "macos",
		"win": "windows", "windows 10": "windows", "windows 11": "windows", "win10": "windows", "win11": "windows",
		"chrome os": "chromeos", "chromebook": "chromeos", "fire os": "fireos", "kindle": "fireos",
		"ubuntu": "linux", "debian": "linux", "fedora": "linux", "apple tv": "tvos", "appletv": "tvos", "web os": "webos",
		"ps4": "playstation", "ps5": "playstation", "switch": "nintendo",
	},
	"device.type": {
		"phone": "mobile", "smartphone": "mobile", "mobile phone": "mobile", "cellphone": "mobile", "cell phone": "mobile",
		"computer": "desktop", "pc": "desktop", "laptop": "desktop", "ipad": "tablet", "iphone": "mobile",
		"smart tv": "tv", "smarttv": "tv", "television": "tv", "game console": "console",
		"watch": "wearable", "smartwatch": "wearable", "crawler": "bot", "robot": "bot", "spider": "bot",
	},
}

// hostValue rejects hosts the request host can never be: it is the host
// name alone, without a scheme, a port or a path.
func (c *checker) hostValue(v string, pos diag.Pos) *diag.Error {
	h, scheme := v, false
	if i := strings.Index(h, "://"); i >= 0 {
		h, scheme = h[i+3:], true
	}
	path := ""
	if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h, path = h[:i], h[i:]
	}
	port := false
	if end := strings.LastIndexByte(h, ']'); strings.HasPrefix(h, "[") && end > 0 {
		// An IPv6 address, which host holds without its brackets.
		port = end+1 < len(h) && h[end+1] == ':'
		h = h[1:end]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[:i], ":") {
		h, port = h[:i], true
	}
	if !scheme && !port && path == "" && h == v {
		return c.idnHost(v, pos, false, false)
	}
	e := c.errorf(pos, "%q never matches: host is the host name alone, without a scheme, a port or a path", v)
	switch {
	case h == "":
		e.WithHint("write the host name alone, such as \"shop.example.com\"")
	case strings.HasPrefix(path, "/") && len(path) > 1:
		e.WithHint("write %q, and test the path with path starts_with %q", h, path)
	default:
		e.WithHint("write %q", h)
	}
	return e
}

// idnHost rejects a host text with letters outside ASCII: browsers send
// an internationalized domain name in its ASCII form (punycode:
// "café.example" is "xn--caf-dma.example"), the only one host holds.
// partialFirst and partialLast say the text's first or last label may be
// part of one (ends_with, starts_with, contains): the ASCII form of a
// part of a label is not part of the label's, so none is suggested there.
func (c *checker) idnHost(v string, pos diag.Pos, partialFirst, partialLast bool) *diag.Error {
	if isASCII(v) {
		return nil
	}
	e := c.errorf(pos, "%q never matches: a browser sends a host name with letters outside a-z in its ASCII form (punycode, xn--…), and host holds that form", v)
	labels := strings.Split(v, ".")
	for i, l := range labels {
		if isASCII(l) {
			continue
		}
		a, err := idna.Lookup.ToASCII(l)
		if err != nil || (i == 0 && partialFirst) || (i == len(labels)-1 && partialLast) {
			return e.WithHint("write whole labels in their ASCII form: %q is %q", l, asciiLabel(l))
		}
		labels[i] = a
	}
	return e.WithHint("write %q", strings.Join(labels, "."))
}

// asciiLabel is the ASCII form of a host's label, or the label itself
// when it has none (then the host never holds it).
func asciiLabel(l string) string {
	if a, err := idna.Lookup.ToASCII(l); err == nil {
		return a
	}
	return l
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// pathValue rejects paths the request path can never be: it always starts
// with "/" and never holds the query.
func (c *checker) pathValue(v string, pos diag.Pos) *diag.Error {
	switch {
	case !strings.HasPrefix(v, "/"):
		return c.errorf(pos, "%q never matches: the path always starts with /", v).WithHint("write %q", "/"+v)
	case strings.Contains(v, "?"):
		p, q, _ := strings.Cut(v, "?")
		k, _, _ := strings.Cut(q, "=")
		return c.errorf(pos, "%q never matches: path is the request path without its query", v).
			WithHint("write path == %q and test the query with query(%q)", p, k)
	}
	return nil
}

// numberRange is the range of a numeric attribute, and whether it takes
// only whole numbers.
type numberRange struct {
	min, max float64
	whole    bool
	what     string
}

var numberRanges = map[string]numberRange{
	"visitor.hour": {0, 23, true, "an hour of the day, 0 to 23"},
	"geo.lat":      {-90, 90, false, "a latitude, -90 to 90"},
	"geo.lon":      {-180, 180, false, "a longitude, -180 to 180"},
}

// numberTest checks a numeric comparison of attribute a with v against
// the attribute's range: one that can never hold is an error, one that
// always holds (for a visitor who has the value) a warning.
func (c *checker) numberTest(a plugin.Attr, expr, op string, v float64, pos diag.Pos) bool {
	r, ok := numberRanges[a.Name]
	if !ok {
		return true
	}
	never, always := false, false
	switch op {
	case "==", "in":
		never = v < r.min || v > r.max || (r.whole && v != math.Trunc(v))
	case "!=", "not in":
		always = v < r.min || v > r.max || (r.whole && v != math.Trunc(v))
	case "<":
		never, always = v <= r.min, v > r.max
	case "<=":
		never, always = v < r.min, v >= r.max
	case ">":
		never, always = v >= r.max, v < r.min
	case ">=":
		never, always = v > r.max, v <= r.min
	}
	switch {
	case never:
		c.errorf(pos, "%s is %s, so `%s` never holds", a.Name, r.what, expr).WithCode("never-matches")
		return false
	case always:
		c.warnf(pos, "%s is %s, so `%s` always holds", a.Name, r.what, expr).WithCode("always-matches")
	}
	return true
}

// numericText says whether a text attribute can read as a number, so that
// <, >, <=, >= and numbers in == and in make sense for it: the values a
// visitor or a site chooses can (a cookie holding a count); the values the
// host derives cannot (a country, a path).
func numericText(a plugin.Attr) bool {
	switch a.Name {
	case "cookie", "header", "query", "base64":
		return true
	}
	return false
}

// versionText says whether a text attribute holds a version, compared with
// semver().
func versionText(a plugin.Attr) bool {
	return a.Name == "device.os_version" || a.Name == "device.browser_version"
}

// stringOpNever reports, for the test `attr op arg` (op contains,
// starts_with, ends_with or matches; arg as written, before folding) on
// attribute a, whether no value a takes can pass it, and then what a's
// values are. It is exact where the values can be listed (a closed set,
// the two-letter country codes) and looks only at the characters a value
// cannot hold otherwise (a language's region): it never calls a test
// that can hold one that cannot. compile compiles a pattern, which it
// does only when there are values to try it on.
func stringOpNever(a plugin.Attr, op, arg string, compile func(string) (*regexp.Regexp, error)) (what string, never bool) {
	test := func(v string) bool { return true }
	folded := a.Fold.Apply(arg)
	switch op {
	case "contains":
		test = func(v string) bool { return strings.Contains(v, folded) }
	case "starts_with":
		test = func(v string) bool { return strings.HasPrefix(v, folded) }
	case "ends_with":
		test = func(v string) bool { return strings.HasSuffix(v, folded) }
	case "matches":
		pattern := arg
		if a.Fold != plugin.FoldNone {
			pattern = "(?i)" + pattern
		}
		if a.Values == nil && a.Name != "geo.country" {
			break // no values to try it on
		}
		re, err := compile(pattern)
		if err != nil {
			return "", false
		}
		test = re.MatchString
	}
	anyOf := func(values []string) bool {
		for _, v := range values {
			if test(v) {
				return true
			}
		}
		return false
	}
	switch {
	case a.Values != nil:
		return "one of " + quoteList(a.Values), !anyOf(a.Values)
	case a.Name == "geo.country":
		return "a two-letter country code (ISO 3166-1, \"FR\")", !anyOf(countryShapes())
	case a.Name == "language" && op != "matches" && strings.ContainsFunc(folded, func(r rune) bool { return r < 'a' || r > 'z' }):
		return "a language's primary subtag, letters alone (\"fr\", not \"fr-CA\")", true
	}
	return "", false
}

// countryShapes returns every text a country code can be: two capital
// letters.
var countryShapes = sync.OnceValue(func() []string {
	var all []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			all = append(all, string([]rune{a, b}))
		}
	}
	return all
})
