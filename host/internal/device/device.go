// Package device classifies a visitor's device from User-Agent Client
// Hints, falling back to the User-Agent string: its type (mobile, tablet,
// desktop, tv, console, wearable, bot), operating system, browser and
// their versions.
//
// Classification looks for fixed anchors ("Android", "Mobile", "CriOS/")
// with strings.Index rather than running a list of regular expressions,
// after one pass over the User-Agent has collected the byte pairs it
// contains, which rules out most anchors without searching. A bounded LRU
// cache (Cache) makes repeated User-Agents, which is most traffic, a map
// lookup.
//
// The type is decided, in this order, by Client Hints, by tokens of the
// User-Agent (a system, a browser, a bot's or a TV's name), by the device
// model an Android or Tizen User-Agent names, read with per-vendor code
// patterns ("SM-T" is a Samsung tablet, "CPH" an OPPO phone, "55UR50GU"
// a TV whose code starts with its screen size), and by defaults.
// Explain says which decided.
//
// # Decisions
//
//   - A browser that names no device is a desktop, as most analytics
//     platforms count it: Classify never returns the zero Type. A
//     User-Agent not shaped like a browser's ("Mozilla/..." or
//     "Opera/...") that names no device, system or phone maker is a bot:
//     a product token such as "collectd/5.5.1" or "GoogleProber" is a
//     script, a monitor or a library.
//   - An empty User-Agent with no Client Hints is a bot: every browser sends
//     one, scripts and health checks often do not.
//   - Crawlers are bots whatever device they emulate: the smartphone
//     Googlebot is Type Bot, with OS "android" (the device it renders as).
//     Bot words ("…bot", "crawler", "spider", "checker", "monitor", a URL,
//     an e-mail address) count as tokens, and not inside an Android
//     device model ("M bot tab 10" is a tablet).
//   - Game consoles are Console, those under a television (PlayStation,
//     Xbox, Wii, Switch) and handhelds (PlayStation Vita, Nintendo 3DS,
//     Android handhelds such as Retroid) alike. Watches (Apple Watch, Wear
//     OS, Galaxy Watch on Tizen) and VR headsets (Quest, Pico) are Wearable.
//     Car browsers, smart displays and media players are rare and poorly
//     told apart; they take the type their browser looks like.
//   - On Android the model decides when its vendor's code pattern is known:
//     browsers on phones leave "Mobile" out (apps' HTTP clients, desktop
//     mode) and browsers on tablets and TV boxes put it in. Without a known
//     model, Android without "Mobile" is a tablet, the convention Google
//     asks Android browsers to follow, and an app's HTTP client (Dalvik)
//     is a phone.
//   - Client Hints are read as the Structured Field Values they are
//     (RFC 9651, sf.go): a hint that fails to parse is not there (the
//     RFC's "fail parsing" ignores the field), and neither is one of
//     another type than its own (Android as a token, a brand's v=124 as
//     an integer); a brand list sent on several lines is one list.
//   - Sec-CH-UA-Mobile "?0" from an Android device is a tablet: Chrome asks
//     for desktop sites by default on large tablets, and on phones only
//     when the user chooses to. Sec-CH-UA-Model, when sent, decides over
//     Sec-CH-UA-Mobile where its code pattern is known.
//   - Windows is a desktop, including Surface-style tablets and touch
//     laptops that run a desktop browser; only Windows Phone, Windows CE
//     and Mobile (Mobile) and Windows RT on ARM with touch (Tablet) are not.
//   - Kindle e-readers and Fire tablets are tablets; Fire TV is TV.
//   - Feature phones (WAP, MIDP, UP.Browser, Japanese carriers, a phone
//     maker's model as the whole User-Agent) are Mobile.
//
// # Known limits
//
//   - iPads since iPadOS 13 send the User-Agent of desktop Safari on a Mac by
//     default, and Safari sends no Client Hints, so such an iPad is a
//     desktop running macOS; only script on the page (navigator.maxTouchPoints)
//     can tell. iPads are recognized when the browser says "iPad" (Safari's
//     mobile mode, in-app browsers, Chrome), names an iOS-only browser
//     (CriOS, FxiOS, EdgiOS) or an iOS build ("Mobile/15E148") on a Mac
//     User-Agent.
//   - Android devices whose model follows no known pattern fall back on the
//     "Mobile" convention: Chinese tablets that say Mobile are phones, TV
//     boxes that do not are tablets.
//   - User-Agent reduction freezes versions: Chrome sends "Android 10; K",
//     "Windows NT 10.0" (Windows 11 too) and "Mac OS X 10_15_7" whatever
//     the real version, and Safari and Firefox freeze macOS at 10.15 too.
//     Sec-CH-UA-Platform-Version, when the browser sends it (it does after
//     an Accept-CH response header asks for it), gives the real one.
//   - Browsers that copy Chrome's User-Agent exactly (Brave, Vivaldi, Arc,
//     Kiwi) are "chrome" unless the Sec-CH-UA brand list names them.
package device

import (
	"net/http"
	"strings"
)

// Type is a device type: one of the constants Mobile, Tablet, Desktop, TV,
// Console, Wearable and Bot. The zero Type ("") means "not classified"; Classify never
// returns it.
type Type string

// Device types.
const (
	// Mobile is a phone, feature phones included.
	Mobile Type = "mobile"
	// Tablet is a tablet or an e-reader.
	Tablet Type = "tablet"
	// Desktop is a desktop or laptop computer, and a browser on an
	// unrecognized device.
	Desktop Type = "desktop"
	// TV is a smart TV, a set-top box or a streaming stick.
	TV Type = "tv"
	// Console is a game console, handhelds included.
	Console Type = "console"
	// Wearable is a watch or a VR headset.
	Wearable Type = "wearable"
	// Bot is a crawler, a link-preview fetcher, a monitor, an automated or
	// headless browser, or an HTTP library or command-line tool.
	Bot Type = "bot"
)

// OSes are the values Info.OS takes besides "" (unknown); do not modify
// it. The rule compiler knows the same list (plus "other", which is how
// rules see "").
var OSes = []string{"android", "ios", "ipados", "windows", "macos", "linux", "chromeos", "tvos", "tizen", "webos", "fireos", "playstation", "xbox", "nintendo"}

// Info is what is known of a device. The zero Info is an unclassified
// device; Classify always sets Type.
type Info struct {
	// Type is the kind of device; never empty in a result of Classify.
	Type Type

	// OS is the operating system family, lower case, one of OSes: android,
	// ios (iPhone, iPod), ipados (every iPad, also those running iOS 12 or
	// older), windows (also Windows Phone), macos, linux, chromeos, tvos,
	// tizen, webos (LG TVs, and Palm/HP devices), fireos (Fire tablets and
	// Fire TV), playstation, xbox, nintendo. "" means unknown or another
	// system (BlackBerry, KaiOS, Roku, FreeBSD, ...).
	OS string

	// OSVersion is the system version, numbers only, major[.minor] with a
	// zero minor left out: "17.4", "14", "10.15". Windows is its marketing
	// number where there is one ("11", "10", "8.1", "8", "7") and the NT
	// version before ("6.0" is Vista, "5.1" XP); chromeos is the platform
	// build ("14541.0"). "" means unknown.
	OSVersion string

	// Browser names the browser, lower case: chrome, safari, firefox, edge,
	// ie, opera, samsung, oculus (the Meta Quest's), ucbrowser, yandex, vivaldi, brave, whale, qq,
	// miui, huawei, duckduckgo, silk, android (the pre-Chrome Android
	// browser), or webview for an app's embedded browser (Facebook,
	// Instagram, WeChat, TikTok, an Android WebView, an iOS app's web
	// view). For a bot it is the crawler's or tool's short name:
	// "googlebot", "bingbot", "gptbot", "curl", ... "" means unknown.
	Browser string

	// BrowserVersion is the browser's (or the bot's) version, major.minor
	// as the User-Agent writes it ("124.0", "17.4"); "" means unknown.
	BrowserVersion string

	// Bot is true for crawlers, link previews, monitors, headless browsers
	// and HTTP tools; Type is then Bot.
	Bot bool
}

// Hints are the User-Agent Client Hints a browser sent, as raw header
// values, a field sent on several lines joined with ", ". The zero Hints
// means none were sent; each empty field means that hint was not sent.
// Classify reads each as an RFC 9651 Structured Field, and a field that
// does not parse as its hint's type as not sent.
type Hints struct {
	// Mobile is Sec-CH-UA-Mobile: "?1" for a phone, "?0" otherwise.
	Mobile string
	// Platform is Sec-CH-UA-Platform, quoted: "\"Android\"", "\"Windows\"".
	Platform string
	// PlatformVersion is Sec-CH-UA-Platform-Version, quoted: "\"14.0.0\"".
	PlatformVersion string
	// UA is Sec-CH-UA, the brand list:
	// "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"".
	UA string
	// Model is Sec-CH-UA-Model, quoted: "\"Pixel 8\"", often "\"\"".
	Model string
}

// AcceptCH is the value of the Accept-CH response header that asks
// browsers for the Client Hints Classify reads. Sec-CH-UA, Sec-CH-UA-Mobile
// and Sec-CH-UA-Platform are sent without asking; the platform version and
// the model only on requests after a response that asked for them.
const AcceptCH = "Sec-CH-UA, Sec-CH-UA-Mobile, Sec-CH-UA-Platform, Sec-CH-UA-Platform-Version, Sec-CH-UA-Model"

// FromRequest returns the User-Agent and the Client Hints of r, for
// Classify. A missing header is an empty string; a hint sent on several
// lines is their values joined with ", ", as RFC 9651 reads a field (a
// brand list goes on over the lines, an item sent twice is no item).
func FromRequest(r *http.Request) (string, Hints) {
	if r == nil {
		return "", Hints{}
	}
	h := r.Header
	return first(h, "User-Agent"), Hints{
		Mobile:          joined(h, "Sec-Ch-Ua-Mobile"),
		Platform:        joined(h, "Sec-Ch-Ua-Platform"),
		PlatformVersion: joined(h, "Sec-Ch-Ua-Platform-Version"),
		UA:              joined(h, "Sec-Ch-Ua"),
		Model:           joined(h, "Sec-Ch-Ua-Model"),
	}
}

// first is h.Get for a canonical key, without canonicalizing it again.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// joined is the lines of the canonical key in h joined with ", ", which
// allocates only for a field sent on several lines.
func joined(h http.Header, key string) string {
	v := h[key]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	return strings.Join(v, ", ")
}

// Classify classifies the device that sent userAgent and the Client Hints
// h. Hints win over the User-Agent where they say something (see the
// package documentation for the rules). An empty User-Agent with no hints
// is a bot. Classify is pure and safe for concurrent use; it allocates only
// for rare inputs (User-Agents over 512 bytes, the first sighting of a bot
// no table names, iOS-style versions beyond the common range).
func Classify(userAgent string, h Hints) Info {
	info, _ := Explain(userAgent, h)
	return info
}

// Signal names what decided the Type of a classification.
type Signal string

// Signals.
const (
	// SignalHint is a Client Hint: Sec-CH-UA-Mobile, or the brand list
	// of a headless browser.
	SignalHint Signal = "client hint"
	// SignalToken is a token of the User-Agent: a system, a browser, a
	// device's or a bot's name ("iPad", "Mobile", "SMART-TV", "Googlebot").
	SignalToken Signal = "user-agent token"
	// SignalModel is a device model code, from the User-Agent or
	// Sec-CH-UA-Model, read with the model-code patterns ("SM-T580" is a
	// Samsung tablet, "55UR50GU" a TV).
	SignalModel Signal = "model code"
	// SignalDefault means nothing decided: the type is the default for
	// what is known (a desktop for an unknown browser, a bot for an empty
	// User-Agent, a phone for an Android app's HTTP client).
	SignalDefault Signal = "default"
)

// Explain is Classify, and also says which signal decided the Type.
func Explain(userAgent string, h Hints) (Info, Signal) {
	hv := readHints(h)
	hinted := hv.hasMobile || hv.hasPlatform
	if userAgent == "" && !hinted && !hv.brands.listed {
		return Info{Type: Bot, Bot: true}, SignalDefault
	}
	p := newProbe(userAgent)
	if name, ver, ok := botOf(&p, hv.brands.headless); ok {
		info := Info{Type: Bot, Bot: true, Browser: name, BrowserVersion: ver}
		info.OS, info.OSVersion = osOf(&p)
		if !strings.Contains(userAgent, "HeadlessChrome") && hv.brands.headless {
			return info, SignalHint
		}
		return info, SignalToken
	}
	var info Info
	info.OS, info.OSVersion = osOf(&p)
	info.Browser, info.BrowserVersion = browserOf(&p, info.OS)
	var sig Signal
	info.Type, sig = typeOf(&p, info.OS)
	if hinted || hv.hasModel {
		sig = applyHints(&info, hv, sig)
	}
	if hv.brands.listed {
		applyBrands(&info, hv.brands)
	}
	return info, sig
}

// hintValues are the Client Hints as RFC 9651 reads them (sf.go): a
// hint that fails to parse, or is of another type than the hint's, is
// not there.
type hintValues struct {
	mobile, hasMobile     bool
	platform, platformVer string
	hasPlatform           bool
	model                 string
	hasModel              bool
	brands                brands
}

func readHints(h Hints) hintValues {
	var hv hintValues
	if h.Mobile != "" {
		kind, text := sfReadItem(h.Mobile)
		hv.mobile, hv.hasMobile = text == "1", kind == sfBool
	}
	if h.Platform != "" {
		hv.platform, hv.hasPlatform = sfString(h.Platform)
	}
	if h.PlatformVersion != "" {
		hv.platformVer, _ = sfString(h.PlatformVersion)
	}
	if h.Model != "" {
		hv.model, hv.hasModel = sfString(h.Model)
	}
	if h.UA != "" {
		hv.brands = readBrands(h.UA)
	}
	return hv
}

// platformOS maps Sec-CH-UA-Platform to an OS; "" for unknown values.
func platformOS(p string) string {
	switch {
	case strings.EqualFold(p, "Android"):
		return "android"
	case strings.EqualFold(p, "Windows"):
		return "windows"
	case strings.EqualFold(p, "macOS"):
		return "macos"
	case strings.EqualFold(p, "iOS"):
		return "ios"
	case strings.EqualFold(p, "Linux"):
		return "linux"
	case strings.EqualFold(p, "Chrome OS"), strings.EqualFold(p, "Chromium OS"), strings.EqualFold(p, "ChromeOS"):
		return "chromeos"
	}
	return ""
}

// applyHints lets Client Hints override the User-Agent: since User-Agent
// reduction, Chromium browsers freeze the OS version and the model in the
// User-Agent and tell the truth only in hints.
func applyHints(info *Info, h hintValues, sig Signal) Signal {
	hintOS := platformOS(h.platform)
	if hintOS != "" && hintOS != info.OS {
		// The User-Agent may name a more precise system than the hint
		// (Fire OS and TV systems are Android or Linux underneath; an iPad
		// is iOS to Chrome); keep it then.
		refines := hintOS == "android" && info.OS == "fireos" || hintOS == "windows" && info.OS == "xbox" ||
			hintOS == "linux" && (info.OS == "tizen" || info.OS == "webos" || info.OS == "chromeos") ||
			hintOS == "ios" && info.OS == "ipados"
		if !refines {
			info.OS, info.OSVersion = hintOS, ""
		}
	}
	if v := h.platformVer; v != "" && hintOS != "" && hintOS == info.OS {
		switch info.OS {
		case "windows":
			info.OSVersion = windowsHintVersion(v)
		case "chromeos":
			info.OSVersion = version(v, false)
		default:
			info.OSVersion = version(v, true)
		}
	}
	// A TV, console or watch the User-Agent names stays one whatever
	// Sec-CH-UA-Mobile says.
	special := info.Type == TV || info.Type == Console || info.Type == Wearable
	switch {
	case h.hasMobile && h.mobile:
		if !special && info.Type != Mobile {
			info.Type, sig = Mobile, SignalHint
		} else if !special && sig != SignalModel {
			sig = SignalHint
		}
	case h.hasMobile:
		// Not a phone.
		if info.Type == Mobile || info.Type == Desktop {
			t := Desktop
			if info.OS == "android" || info.OS == "fireos" {
				t = Tablet
			}
			if t != info.Type || sig != SignalModel {
				info.Type, sig = t, SignalHint
			}
		}
	}
	// The model, when the browser sends it, says more than
	// Sec-CH-UA-Mobile: a phone asking for desktop sites sends "?0".
	if t, ok := modelType(h.model); ok && !special && info.OS != "windows" && info.OS != "macos" {
		info.Type, sig = t, SignalModel
	}
	return sig
}

// windowsHintVersion maps Sec-CH-UA-Platform-Version on Windows (the
// Windows.Foundation.UniversalApiContract version) to the marketing
// version: 13 and above is Windows 11, 1 to 10 is Windows 10, and 0.1, 0.2
// and 0.3 are Windows 7, 8 and 8.1.
func windowsHintVersion(v string) string {
	major, rest, _ := strings.Cut(v, ".")
	switch {
	case major == "0":
		switch {
		case strings.HasPrefix(rest, "3"):
			return "8.1"
		case strings.HasPrefix(rest, "2"):
			return "8"
		case strings.HasPrefix(rest, "1"):
			return "7"
		}
		return ""
	case len(major) == 1 || major == "10" || major == "11" || major == "12":
		if major[0] < '0' || major[0] > '9' {
			return ""
		}
		return "10"
	case len(major) == 2 && major[0] >= '1' && major[0] <= '9' && major[1] >= '0' && major[1] <= '9':
		return "11"
	}
	return ""
}

// brands is what the Sec-CH-UA brand list says.
type brands struct {
	// listed is true when the list parses and has members.
	listed bool
	// headless is true when the list names HeadlessChrome.
	headless bool
	// chromeV is the version of the first "Google Chrome" or "Chromium"
	// brand, which hasChrome says there is.
	chromeV   string
	hasChrome bool
	// name is the first brand device knows other than those, and v its
	// version.
	name, v string
}

// readBrands reads the Sec-CH-UA brand list, a List of Strings whose "v"
// parameter is the brand's version (RFC 9651; a brand list that does not
// parse is none). A member that is no String (a token, an inner list) is
// no brand, and the others are still read; a v that is no String is no
// version.
func readBrands(list string) brands {
	var b brands
	b.listed = sfList(list, func(name, v string) {
		switch name {
		case "HeadlessChrome":
			b.headless = true
		case "Google Chrome", "Chromium":
			if !b.hasChrome {
				b.chromeV, b.hasChrome = v, true
			}
		default:
			if n := brandBrowser(name); n != "" && b.name == "" {
				b.name, b.v = n, v
			}
		}
	})
	if !b.listed {
		// A list that does not parse is no list (RFC 9651 4.2).
		return brands{}
	}
	return b
}

// brandBrowser is the browser a brand of Sec-CH-UA names, "" for one
// device does not know.
func brandBrowser(brand string) string {
	switch brand {
	case "Brave":
		return "brave"
	case "Microsoft Edge":
		return "edge"
	case "Opera", "Opera GX":
		return "opera"
	case "Samsung Internet":
		return "samsung"
	case "YaBrowser", "Yandex":
		return "yandex"
	case "Vivaldi":
		return "vivaldi"
	case "DuckDuckGo":
		return "duckduckgo"
	case "Whale":
		return "whale"
	}
	return ""
}

// applyBrands applies the Sec-CH-UA brand list, which names browsers that
// send Chrome's User-Agent word for word (Brave) or hide in a reduced one.
func applyBrands(info *Info, b brands) {
	if info.Browser != "" && info.Browser != "chrome" {
		return
	}
	if b.hasChrome && info.Browser == "" {
		info.Browser = "chrome"
		info.BrowserVersion = version(b.chromeV, false)
	}
	if b.name == "" {
		return
	}
	v := version(b.v, false)
	if !(v != "" && strings.HasPrefix(info.BrowserVersion, v+".")) {
		// Keep the User-Agent's major.minor when it is the same
		// release (Brave numbers itself as Chromium does).
		info.BrowserVersion = v
	}
	info.Browser = b.name
}
