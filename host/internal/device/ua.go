package device

import (
	"strconv"
	"strings"
)

// probe is a User-Agent with the set of the byte pairs it contains, case
// folded. A needle with a pair the set lacks cannot occur in the string,
// which rules out most of the hundred-odd needles Classify looks for in a
// few nanoseconds each; only the others are searched for.
type probe struct {
	s     string
	pairs [64]uint64 // bit b of pairs[a]: the pair of codes a, b occurs
}

// pairCodes maps a byte to 6 bits for the pair set: letters without case,
// digits, the punctuation of User-Agents, and 0 for anything else.
var pairCodes = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = uint8(c-'a') + 1
		t[c-'a'+'A'] = uint8(c-'a') + 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c-'0') + 27
	}
	for i, c := range " /.;()-_,:+[]" {
		t[c] = uint8(i) + 37
	}
	return t
}()

func newProbe(ua string) probe {
	p := probe{s: ua}
	if len(ua) == 0 {
		return p
	}
	prev := pairCodes[ua[0]]
	for i := 1; i < len(ua); i++ {
		c := pairCodes[ua[i]]
		p.pairs[prev&63] |= 1 << (c & 63)
		prev = c
	}
	return p
}

// may reports whether needle can occur in the string, ignoring case: false
// is certain, true is to be checked. Eight pairs say enough.
func (p *probe) may(needle string) bool {
	if len(needle) > len(p.s) || len(needle) == 0 {
		return len(needle) == 0
	}
	prev := pairCodes[needle[0]]
	for i := 1; i < len(needle) && i <= 8; i++ {
		c := pairCodes[needle[i]]
		if p.pairs[prev&63]&(1<<(c&63)) == 0 {
			return false
		}
		prev = c
	}
	return true
}

// needle is a string compiled for the pair filter: the pairs it
// contains (its first nine bytes), as the word and bit of probe.pairs.
type needle struct {
	s     string
	pairs []pairBit
}

type pairBit struct {
	word uint8
	bit  uint64
}

// commonPairs are the pairs of everyday browsers' User-Agents. A
// needle's other pairs are checked first: most User-Agents lack them, so
// one look-up usually rules the needle out.
var commonPairs = newProbe("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 " +
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1 " +
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 " +
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0")

// compile compiles strings for mayN and hasN.
func compile(ss ...string) []needle {
	ns := make([]needle, len(ss))
	for k, s := range ss {
		ns[k].s = s
		var rare, common []pairBit
		for i := 1; i < len(s) && i <= 8; i++ {
			b := pairBit{pairCodes[s[i-1]] & 63, 1 << (pairCodes[s[i]] & 63)}
			if commonPairs.pairs[b.word]&b.bit == 0 {
				rare = append(rare, b)
			} else {
				common = append(common, b)
			}
		}
		ns[k].pairs = append(rare, common...)
	}
	return ns
}

// mayN is may for a compiled needle.
func (p *probe) mayN(n *needle) bool {
	if len(n.s) > len(p.s) {
		return false
	}
	for _, b := range n.pairs {
		if p.pairs[b.word]&b.bit == 0 {
			return false
		}
	}
	return true
}

// hasN is has for a compiled needle.
func (p *probe) hasN(n *needle) bool { return p.mayN(n) && strings.Contains(p.s, n.s) }

// needleSet is a list of compiled needles with the union of their
// first-checked pairs: a User-Agent with none of those pairs contains
// none of the needles, which 64 look-ups show.
type needleSet struct {
	ns    []needle
	first [64]uint64
	// fw and fb are each needle's first-checked pair, side by side so
	// that a loop over the set rules most needles out in one look-up
	// each without loading the needles.
	fw []uint8
	fb []uint64
}

// compileSet compiles strings, each two bytes long at least, into a
// needleSet.
func compileSet(ss ...string) *needleSet {
	s := &needleSet{ns: compile(ss...)}
	for _, n := range s.ns {
		if len(n.pairs) == 0 {
			panic("device: needle " + n.s + " is shorter than two bytes")
		}
		s.first[n.pairs[0].word] |= n.pairs[0].bit
		s.fw = append(s.fw, n.pairs[0].word)
		s.fb = append(s.fb, n.pairs[0].bit)
	}
	return s
}

// mayAny reports whether the User-Agent may contain one of the needles
// of s: false is certain.
func (p *probe) mayAny(s *needleSet) bool {
	for w := range p.pairs {
		if p.pairs[w]&s.first[w] != 0 {
			return true
		}
	}
	return false
}

// mayAt reports whether the User-Agent may contain needle i of s: false
// is certain.
func (p *probe) mayAt(s *needleSet, i int) bool {
	return p.pairs[s.fw[i]]&s.fb[i] != 0 && p.mayN(&s.ns[i])
}

// hasAny reports whether the User-Agent contains one of the needles of s.
func (p *probe) hasAny(s *needleSet) bool {
	for i := range s.fw {
		if p.pairs[s.fw[i]]&s.fb[i] != 0 && p.hasN(&s.ns[i]) {
			return true
		}
	}
	return false
}

// has reports whether the User-Agent contains needle.
func (p *probe) has(needle string) bool {
	return p.may(needle) && strings.Contains(p.s, needle)
}

// index returns the index of the first needle in the User-Agent, or -1.
func (p *probe) index(needle string) int {
	if !p.may(needle) {
		return -1
	}
	return strings.Index(p.s, needle)
}

// after returns the version that follows needle in the User-Agent.
func (p *probe) after(needle string, dropZeroMinor bool) string {
	if !p.may(needle) {
		return ""
	}
	return versionAfter(p.s, needle, dropZeroMinor)
}

// osOf finds the operating system and its version. Order matters: many
// systems also claim to be Linux, Android, or an iPhone.
func osOf(p *probe) (string, string) {
	if p.s == "" {
		return "", ""
	}
	if !p.hasAny(rareOSTokens) {
		return commonOS(p)
	}
	switch {
	case p.has("Apple Watch"), p.has("watchOS"), p.has("Watch OS"):
		return "", "" // watchOS is none of OSes
	case p.has("Xbox"), p.has("XBOX"):
		return "xbox", ""
	case p.has("Windows Phone"):
		if v := p.after("Windows Phone OS ", true); v != "" {
			return "windows", v
		}
		return "windows", p.after("Windows Phone ", true)
	case p.has("PlayStation"), p.has("PLAYSTATION"), p.has("Playstation"):
		return "playstation", playStationVersion(p)
	case p.has("Nintendo"):
		return "nintendo", ""
	case p.has("Tizen"):
		return "tizen", p.after("Tizen ", true)
	case p.has("Web0S"):
		return "webos", ""
	case p.has("webOS/"):
		return "webos", p.after("webOS/", true)
	case p.has("hpwOS/"):
		return "webos", p.after("hpwOS/", true)
	case p.has("AppleTV"), p.has("Apple TV"), p.has("tvOS"):
		if v := p.after("CPU OS ", true); v != "" {
			return "tvos", v
		}
		return "tvos", p.after("tvOS ", true)
	case p.has("KAIOS"), p.has("KaiOS"):
		return "", ""
	case p.has("Kindle/"):
		// E-ink Kindles: Linux, though some say "like Android".
		return "linux", ""
	case p.has("CrOS "):
		return "chromeos", chromeOSVersion(p.s)
	case isFireTV(p), isFireTablet(p):
		return "fireos", ""
	}
	return commonOS(p)
}

// rareOSTokens are the tokens of the systems osOf looks for before the
// common ones; most User-Agents have none, which one pass shows.
var rareOSTokens = compileSet("Apple Watch", "watchOS", "Watch OS", "Xbox", "XBOX", "Windows Phone", "PlayStation", "PLAYSTATION", "Playstation", "Nintendo",
	"Tizen", "Web0S", "webOS/", "hpwOS/", "AppleTV", "Apple TV", "tvOS", "KAIOS", "KaiOS", "Kindle", "CrOS ", "; AFT",
	"Amazon AFT", "Amazon;AFT", "Silk/", "; KF")

// commonOS finds Android, iOS, Windows, macOS and Linux.
func commonOS(p *probe) (string, string) {
	if i := p.index("Android"); i >= 0 {
		return "android", versionAfter(p.s[i:], "Android ", true)
	}
	switch {
	case p.has("iPad"):
		return "ipados", p.after("CPU OS ", true)
	case p.has("iPhone"), p.has("iPod"):
		return "ios", p.after("iPhone OS ", true)
	}
	if p.has("Darwin/") && p.has("CFNetwork/") {
		// An app's HTTP client on Apple's systems. A Mac names its
		// processor or model; iOS names neither.
		if p.has("x86_64") || p.has("i386") || p.has("Mac") || p.has("arm64e") {
			return "macos", ""
		}
		return "ios", darwinIOSVersion(p.after("Darwin/", false))
	}
	if i := p.index("Windows"); i >= 0 {
		return "windows", windowsVersion(p.s[i:])
	}
	switch {
	case p.has("Macintosh"), p.has("Mac OS X"), p.has("Mac_PowerPC"):
		if isIOSBrowser(p) || p.has("Mobile/") {
			// An iOS-only browser, or an iOS build number, on an iPad
			// asking for desktop sites.
			return "ipados", ""
		}
		return "macos", p.after("Mac OS X ", true)
	case p.has("Linux"):
		return "linux", ""
	}
	return "", ""
}

// darwinIOSVersions are the iOS major versions of Darwin 14 (iOS 8) to
// 29 (iOS 23): iOS is Darwin's major version less six.
var darwinIOSVersions = func() (t [16]string) {
	for i := range t {
		t[i] = strconv.Itoa(i + 8)
	}
	return t
}()

// darwinIOSVersion maps a Darwin version ("21.4") to the iOS major
// version it shipped in ("15"); "" outside the table.
func darwinIOSVersion(v string) string {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 14 || n-14 >= len(darwinIOSVersions) {
		return ""
	}
	return darwinIOSVersions[n-14]
}

// isIOSBrowser reports whether the User-Agent names a browser that exists
// only on iOS and iPadOS.
func isIOSBrowser(p *probe) bool {
	return p.has("CriOS/") || p.has("FxiOS/") || p.has("EdgiOS/")
}

// windowsVersion maps "Windows NT 10.0" to "10", and so on; see
// Info.OSVersion.
func windowsVersion(s string) string {
	v := versionAfter(s, "Windows NT ", false)
	switch v {
	case "10.0":
		return "10"
	case "6.3":
		return "8.1"
	case "6.2":
		return "8"
	case "6.1":
		return "7"
	}
	return v
}

// chromeOSVersion reads the platform build in "CrOS x86_64 14541.0.0".
func chromeOSVersion(ua string) string {
	i := strings.Index(ua, "CrOS ")
	s := ua[i+len("CrOS "):]
	if j := strings.IndexByte(s, ' '); j >= 0 {
		return version(s[j+1:], false)
	}
	return ""
}

// playStationVersion reads the firmware in "PlayStation 4 5.55",
// "PlayStation 5/2.26" and "PLAYSTATION 3 4.81".
func playStationVersion(p *probe) string {
	for _, tok := range [...]string{"PlayStation 5/", "PlayStation 4 ", "PLAYSTATION 3 ", "PLAYSTATION 3; ", "PlayStation Vita ", "PlayStation Portable); "} {
		if v := p.after(tok, false); v != "" {
			return v
		}
	}
	return ""
}

// isFireTV reports a Fire TV model ("AFTMM", "AFTKA").
func isFireTV(p *probe) bool { return hasModel(p, "; AFT", 1) }

// isFireTablet reports a Fire tablet: Silk, or a model such as "KFTT" or
// "KFMAWI".
func isFireTablet(p *probe) bool {
	return p.has("Silk/") || p.has("Kindle Fire") || hasModel(p, "; KF", 2)
}

// hasModel reports whether the User-Agent has prefix followed by at least
// n more capital letters and then the end of the model.
func hasModel(p *probe, prefix string, n int) bool {
	if !p.may(prefix) {
		return false
	}
	ua := p.s
	for off := 0; off < len(ua); {
		i := strings.Index(ua[off:], prefix)
		if i < 0 {
			return false
		}
		s := ua[off+i+len(prefix):]
		j := 0
		for j < len(s) && s[j] >= 'A' && s[j] <= 'Z' {
			j++
		}
		if j >= n && (j == len(s) || s[j] == ' ' || s[j] == ')' || s[j] == ';') {
			return true
		}
		off += i + len(prefix)
	}
	return false
}

// tvTokens name televisions, set-top boxes, streaming sticks and the
// systems and apps that run only on them, besides any "TV" token
// (SMART-TV, HbbTV, GoogleTV, Android TV, AppleTV, ...).
var tvTokens = compileSet(
	"Web0S", "NetCast", "BRAVIA", "Roku", "CrKey", "Chromecast", "Viera", "AQUOS", "MIBOX", "Large Screen", "SmartHub",
	"VIDAA", "DirectFB", "NETTV", "Inettv", "ViziOS", "VIZIO", "Linux mips", "Linux sh4", "Andr0id", "OMI/", "TiviMate",
	"Kepler/", "BrightSign", "DuneHD", "NETRANGE", "CE-HTML", "HbbTV", "SmartTV", "SMART-TV", "WatchFree", "Xumo",
	"PhilipsTV", "Opera TV", "AmazonWebAppPlatform", "SonyCEBrowser", "Freebox", "Espial", "TVSN", "STB",
	"Hybridcast", "YouView", "Gibbon", "FIRETV", "Kodi/", "Sagemcom", "Google Fiber", "KreaTV", "DLNADOC",
)

// wearableTokens name watches and headsets.
var wearableTokens = compileSet("watchOS", "Watch OS", "Apple Watch", "Wear OS", "WearOS", "OculusBrowser", "; Quest 2", "; Quest 3",
	"; Quest Pro", "; Quest)", "Mobile VR", "MobileVR",
	" VR Safari", "PicoBrowser", "Google Glass", "Glass 1")

// windowsMobileTokens name the phones and handhelds that say Windows.
var windowsMobileTokens = compileSet("Windows Phone", "Windows CE", "Windows Mobile", "IEMobile", "Lumia", "ZuneWP7",
	"PalmSource", "Blazer", "PPC;", "Smartphone")

// featurePhoneTokens name the browsers, platforms and carriers of phones
// that are not smartphones, and phone apps that name no system ("[FBAN/FB4A;...]").
var featurePhoneTokens = compileSet(
	"MIDP", "CLDC", "UP.Browser", "UP.Link", "NetFront", "Obigo", "Teleca", "MAUI", "MRE/", "DoCoMo", "KDDI", "SoftBank",
	"J-PHONE", "WILLCOM", "DDIPOCKET", "FOMA", "BREW", "Series40", "Series60", "SymbOS", "Symbian", "PDA;", "IEMobile",
	"Windows CE", "Windows Mobile", "PalmOS", "PalmSource", "Profile/", "portalmmm", "Polaris", "Jasmine", "Dorado",
	"KaiOS", "KAIOS", "BlackBerry", "BB10", "Opera Mini", "webOS/", "Dalvik", "emobile", "WAP", "FBAN/", "FB4A", "FBIOS",
	"jig browser", "Blazer", "SAMSUNG-", "SonyEricsson", "Nokia", "NOKIA", "Lumia", "ZuneWP7",
)

// typeOf decides the device type from the User-Agent and its OS, and
// what decided it.
func typeOf(p *probe, os string) (Type, Signal) {
	if os != "windows" && (p.hasAny(wearableTokens) || appleWatchModel(p.s)) {
		// Before the systems: a watch's media player claims Mac OS X.
		return Wearable, SignalToken
	}
	switch os {
	case "playstation", "xbox", "nintendo":
		return Console, SignalToken
	case "tvos":
		return TV, SignalToken
	case "ipados":
		return Tablet, SignalToken
	case "ios":
		return Mobile, SignalToken
	case "macos", "chromeos":
		return Desktop, SignalToken
	case "windows":
		switch {
		case p.hasAny(windowsMobileTokens):
			// Windows Phone, Windows CE and Mobile, Lumias on Windows 10,
			// Palm browsers that claim Windows.
			return Mobile, SignalToken
		case p.has("ARM;") && p.has("Touch"):
			// Windows RT: the Surface and other ARM tablets.
			return Tablet, SignalToken
		}
		return Desktop, SignalToken
	}
	if hasTVToken(p.s) || isFireTV(p) || p.has("Amazon AFT") || p.has("Amazon;AFT") {
		return TV, SignalToken
	}
	if p.hasAny(tvTokens) {
		return TV, SignalToken
	}
	if os == "android" || os == "fireos" || os == "tizen" {
		if t, ok := modelType(androidModel(p.s)); ok {
			return t, SignalModel
		}
	}
	switch {
	case p.has("iPad"), p.has("Tablet"), p.has("tablet"), p.has("Kindle"), p.has("Silk"),
		p.has("PlayBook"), p.has("TouchPad"), os == "fireos":
		return Tablet, SignalToken
	case p.has("Mobi"), p.has("iPhone"), p.has("iPod"):
		return Mobile, SignalToken
	case os == "android":
		if !strings.HasPrefix(p.s, "Mozilla/") {
			// An app's HTTP client (Dalvik, okhttp with a system part)
			// never says Mobile; phones run most apps.
			return Mobile, SignalDefault
		}
		// Android without "Mobile" is a tablet, by Google's convention.
		return Tablet, SignalToken
	}
	if os == "" || os == "webos" {
		if p.hasAny(featurePhoneTokens) {
			return Mobile, SignalToken
		}
	}
	if !strings.HasPrefix(p.s, "Mozilla/") && !strings.HasPrefix(p.s, "Opera") && startsWithPhoneMaker(p.s) {
		return Mobile, SignalToken
	}
	switch os {
	case "macos", "linux", "chromeos":
		return Desktop, SignalToken
	}
	if p.has("X11") || p.has("BSD") || p.has("SunOS") {
		return Desktop, SignalToken
	}
	return Desktop, SignalDefault
}

// appleWatchModel reports an Apple Watch model code ("Watch6,14") at
// the start of the User-Agent or of a bracketed item.
func appleWatchModel(ua string) bool {
	i := strings.Index(ua, "Watch")
	return i >= 0 && (i == 0 || ua[i-1] == ',' || ua[i-1] == ' ') && i+7 < len(ua) && isDigit(ua[i+5]) &&
		(ua[i+6] == ',' || isDigit(ua[i+6]) && ua[i+7] == ',')
}

// startsWithPhoneMaker reports a User-Agent that starts with the name of
// a phone maker ("Nokia303/14.87", "SAMSUNG-SGH-E250/1.0").
func startsWithPhoneMaker(ua string) bool {
	for _, m := range phoneMakers {
		if len(ua) >= len(m) && strings.EqualFold(ua[:len(m)], m) {
			return true
		}
	}
	return lgModel(ua)
}

// lgModel reports a User-Agent that starts with an LG phone's model,
// glued to the maker's name ("LGKU970", "LGKP500"): two or three letters,
// then a digit.
func lgModel(ua string) bool {
	if len(ua) < 5 || !strings.EqualFold(ua[:2], "lg") {
		return false
	}
	i := 2
	for i < len(ua) && i < 5 && isUpper(ua[i]) {
		i++
	}
	return i >= 4 && i < len(ua) && isDigit(ua[i])
}

// browsers are User-Agent tokens naming a browser, in priority order: most
// browsers also claim to be Chrome, Safari and Mozilla, and in-app browsers
// claim to be anything.
var browsers = [...]struct{ token, name string }{
	{"FBAN/", "webview"}, {"FBAV/", "webview"}, {"FB_IAB/", "webview"}, {"Instagram ", "webview"},
	{"MicroMessenger/", "webview"}, {" Line/", "webview"}, {"Snapchat", "webview"}, {"musical_ly", "webview"},
	{"BytedanceWebview", "webview"}, {"trill_", "webview"}, {" GSA/", "webview"}, {"[Pinterest/", "webview"},
	{"[LinkedInApp]", "webview"}, {"KAKAOTALK", "webview"}, {"NAVER(inapp", "webview"},
	{"EdgA/", "edge"}, {"EdgiOS/", "edge"}, {"Edg/", "edge"}, {"Edge/", "edge"},
	{"OPR/", "opera"}, {"OPT/", "opera"}, {"OPiOS/", "opera"}, {"Opera Mini/", "opera"}, {"Opera Mobi/", "opera"},
	{"OculusBrowser/", "oculus"}, {"SamsungBrowser/", "samsung"}, {"UCBrowser/", "ucbrowser"}, {"UCWEB", "ucbrowser"}, {"UBrowser/", "ucbrowser"},
	{"YaBrowser/", "yandex"}, {"YaSearchBrowser/", "yandex"}, {"Vivaldi/", "vivaldi"},
	{"Brave/", "brave"}, {"Brave ", "brave"}, {"Whale/", "whale"}, {"MQQBrowser/", "qq"}, {"QQBrowser/", "qq"},
	{"MiuiBrowser/", "miui"}, {"HuaweiBrowser/", "huawei"}, {"DuckDuckGo/", "duckduckgo"}, {"Ddg/", "duckduckgo"},
	{"Silk/", "silk"}, {"CriOS/", "chrome"}, {"FxiOS/", "firefox"}, {"Firefox/", "firefox"},
}

// browserNeedles are the tokens of browsers, compiled.
var browserNeedles = func() *needleSet {
	ss := make([]string, len(browsers))
	for i, b := range browsers {
		ss[i] = b.token
	}
	return compileSet(ss...)
}()

// browserOf finds the browser and its version.
func browserOf(p *probe, os string) (string, string) {
	ua := p.s
	if ua == "" || os == "playstation" {
		// The PlayStation browsers claim Silk or Safari but are neither.
		return "", ""
	}
	for k, b := range browsers {
		if !p.mayAt(browserNeedles, k) {
			continue
		}
		i := strings.Index(ua, b.token)
		if i < 0 {
			continue
		}
		if b.name == "webview" {
			return "webview", webviewVersion(p)
		}
		s := ua[i+len(b.token):]
		if b.token == "Brave " {
			s = "" // "Brave Chrome/71.0": the version is Chrome's, read below
			if j := p.index("Chrome/"); j >= 0 {
				s = ua[j+len("Chrome/"):]
			}
		}
		return b.name, version(s, false)
	}
	if i := p.index("Opera"); i >= 0 {
		// Presto Opera froze "Opera/9.80" and moved the version to Version/.
		if v := p.after("Version/", false); v != "" {
			return "opera", v
		}
		s := ua[i+len("Opera"):]
		if len(s) > 0 && (s[0] == '/' || s[0] == ' ') {
			s = s[1:]
		}
		return "opera", version(s, false)
	}
	if p.has("; wv)") || p.has("Version/4.0 Chrome/") {
		// Android WebView (the second form before Android 5).
		return "webview", p.after("Chrome/", false)
	}
	for _, tok := range [...]string{"Chrome/", "Chromium/", "CrMo/"} {
		if i := p.index(tok); i >= 0 {
			return "chrome", version(ua[i+len(tok):], false)
		}
	}
	if i := p.index("MSIE "); i >= 0 {
		return "ie", version(ua[i+len("MSIE "):], false)
	}
	if p.has("Trident/") {
		return "ie", p.after("rv:", false)
	}
	switch os {
	case "ios", "ipados", "macos":
		if p.has("Safari/") {
			return "safari", p.after("Version/", false)
		}
		if os != "macos" && p.has("AppleWebKit/") {
			// An app's WKWebView: it leaves out Safari/ and Version/.
			return "webview", ""
		}
	case "android", "fireos":
		if p.has("Version/") && p.has("Safari/") {
			return "android", p.after("Version/", false)
		}
	}
	return "", ""
}

// webviewVersion is the engine version an in-app browser runs, when it
// says: Chrome's on Android; none on iOS.
func webviewVersion(p *probe) string {
	return p.after("Chrome/", false)
}

// versionAfter returns the version that follows the first token in s.
func versionAfter(s, token string, dropZeroMinor bool) string {
	i := strings.Index(s, token)
	if i < 0 {
		return ""
	}
	return version(s[i+len(token):], dropZeroMinor)
}

// smallVersions are "major.minor" strings for iOS-style versions
// ("17_4"), so that converting them does not allocate.
var smallVersions = func() (t [40][20]string) {
	for i := range t {
		for j := range t[i] {
			t[i][j] = strconv.Itoa(i) + "." + strconv.Itoa(j)
		}
	}
	return t
}()

// version reads the version number at the start of s (digits separated by
// '.' or '_') and keeps major.minor; with dropZeroMinor a zero minor is
// left out ("14.0.0" is "14"). "" when s starts with no digit.
func version(s string, dropZeroMinor bool) string {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || i > 9 {
		return ""
	}
	if i+1 >= len(s) || (s[i] != '.' && s[i] != '_') || !isDigit(s[i+1]) {
		return s[:i]
	}
	sep := s[i]
	j := i + 1
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j-i > 10 {
		return s[:i]
	}
	if dropZeroMinor && strings.Trim(s[i+1:j], "0") == "" {
		return s[:i]
	}
	if sep == '.' {
		return s[:j]
	}
	major, _ := strconv.Atoi(s[:i])
	minor, _ := strconv.Atoi(s[i+1 : j])
	if major < len(smallVersions) && minor < len(smallVersions[0]) && (s[i+1] != '0' || j == i+2) && (s[0] != '0' || i == 1) {
		return smallVersions[major][minor]
	}
	return s[:i] + "." + s[i+1:j]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
