package device

import (
	"bytes"
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
	switch {
	case p.s == "":
		return "", ""
	case p.has("Windows Phone"):
		if v := p.after("Windows Phone OS ", true); v != "" {
			return "windows", v
		}
		return "windows", p.after("Windows Phone ", true)
	case p.has("PlayStation"), p.has("PLAYSTATION"):
		return "playstation", playStationVersion(p)
	case p.has("Xbox"):
		return "xbox", ""
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
	if i := p.index("Android"); i >= 0 {
		return "android", versionAfter(p.s[i:], "Android ", true)
	}
	switch {
	case p.has("iPad"):
		return "ipados", p.after("CPU OS ", true)
	case p.has("iPhone"), p.has("iPod"):
		return "ios", p.after("iPhone OS ", true)
	}
	if i := p.index("Windows"); i >= 0 {
		return "windows", windowsVersion(p.s[i:])
	}
	switch {
	case p.has("Macintosh"), p.has("Mac OS X"):
		if isIOSBrowser(p) {
			// An iOS-only browser on an iPad asking for desktop sites.
			return "ipados", ""
		}
		return "macos", p.after("Mac OS X ", true)
	case p.has("Linux"):
		return "linux", ""
	}
	return "", ""
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

// tvMarkers name televisions, set-top boxes and streaming sticks, besides
// any "TV" (SMART-TV, HbbTV, GoogleTV, Android TV, AppleTV, NETTV, ...).
var tvMarkers = [...]string{"Web0S", "NetCast", "BRAVIA", "Roku", "CrKey", "Chromecast", "Viera", "AQUOS", "MIBOX", "Large Screen", "SmartHub", "VIDAA", "DirectFB"}

// typeOf decides the device type from the User-Agent and its OS.
func typeOf(p *probe, os string) Type {
	switch os {
	case "playstation":
		if p.has("Vita") || p.has("Portable") {
			return Mobile
		}
		return TV
	case "xbox", "tvos":
		return TV
	case "nintendo":
		if p.has("Switch") || p.has("Wii") {
			return TV
		}
		return Mobile
	case "ipados":
		return Tablet
	case "windows":
		switch {
		case p.has("Windows Phone"):
			return Mobile
		case p.has("ARM;") && p.has("Touch"):
			// Windows RT: the Surface and other ARM tablets.
			return Tablet
		}
		return Desktop
	}
	if p.has("TV") || isFireTV(p) {
		return TV
	}
	for _, m := range tvMarkers {
		if p.has(m) {
			return TV
		}
	}
	switch {
	case p.has("iPad"), p.has("Tablet"), p.has("tablet"), p.has("Kindle"), p.has("Silk"),
		p.has("PlayBook"), p.has("TouchPad"), os == "fireos":
		return Tablet
	case p.has("Mobi"), p.has("iPhone"), p.has("iPod"), p.has("Opera Mini"), p.has("BlackBerry"),
		p.has("BB10"), p.has("MIDP"), p.has("Symbian"), p.has("KAIOS"), p.has("KaiOS"), p.has("webOS/"):
		return Mobile
	case os == "android":
		// Android without "Mobile" is a tablet, by Google's convention.
		return Tablet
	}
	return Desktop
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
	{"SamsungBrowser/", "samsung"}, {"UCBrowser/", "ucbrowser"}, {"UCWEB", "ucbrowser"}, {"UBrowser/", "ucbrowser"},
	{"YaBrowser/", "yandex"}, {"YaSearchBrowser/", "yandex"}, {"Vivaldi/", "vivaldi"},
	{"Brave/", "brave"}, {"Brave ", "brave"}, {"Whale/", "whale"}, {"MQQBrowser/", "qq"}, {"QQBrowser/", "qq"},
	{"MiuiBrowser/", "miui"}, {"HuaweiBrowser/", "huawei"}, {"DuckDuckGo/", "duckduckgo"}, {"Ddg/", "duckduckgo"},
	{"Silk/", "silk"}, {"CriOS/", "chrome"}, {"FxiOS/", "firefox"}, {"Firefox/", "firefox"},
}

// browserOf finds the browser and its version.
func browserOf(p *probe, os string) (string, string) {
	ua := p.s
	if ua == "" || os == "playstation" {
		// The PlayStation browsers claim Silk or Safari but are neither.
		return "", ""
	}
	for _, b := range browsers {
		i := p.index(b.token)
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

// Bot detection works on a lower-cased copy of the User-Agent: crawlers
// spell their names as they like ("bingbot", "Googlebot", "MJ12bot").

// botGates are substrings one of which every crawler and tool handled here
// contains, besides "bot" and "google": a browser's User-Agent has none,
// which the pair filter of a probe shows without searching.
var botGates = [...]string{
	"spider", "crawl", "http", "headless", "lighthouse", "preview", "facebook", "whatsapp",
	"phantomjs", "gtmetrix", "pagespeed", "site24x7", "statuscake", "datadog", "slurp",
}

var (
	lowBot    = []byte("bot")
	lowGoogle = []byte("google")
	lowCompat = []byte("compatible; ")
)

// maybeBot reports whether the User-Agent may be a bot's, so that only
// those are lower-cased and searched. Those that do not start with
// "Mozilla/" always may: tools and old devices, fewer and shorter.
func maybeBot(p *probe) bool {
	if len(p.s) < 8 || !strings.EqualFold(p.s[:8], "mozilla/") {
		return true
	}
	if p.may("bot") || p.may("google") {
		return true
	}
	for _, g := range botGates {
		if p.may(g) {
			return true
		}
	}
	return strings.IndexByte(p.s, ' ') < 0 && strings.IndexByte(p.s, '(') < 0
}

// toolPrefixes start the User-Agents of HTTP libraries and command-line
// tools, which do not pretend to be Mozilla.
var toolPrefixes = [...]struct{ prefix, name string }{
	{"curl/", "curl"}, {"wget/", "wget"}, {"python-requests/", "python-requests"}, {"python-urllib/", "python-urllib"},
	{"python-httpx/", "httpx"}, {"python/", "python"}, {"go-http-client/", "go-http-client"}, {"okhttp/", "okhttp"},
	{"java/", "java"}, {"java ", "java"}, {"apache-httpclient/", "apache-httpclient"}, {"libwww-perl/", "libwww-perl"},
	{"lwp::", "libwww-perl"}, {"axios/", "axios"}, {"node-fetch/", "node-fetch"}, {"undici", "undici"},
	{"postmanruntime/", "postman"}, {"insomnia/", "insomnia"}, {"httpie/", "httpie"}, {"dart/", "dart"},
	{"guzzlehttp/", "guzzle"}, {"ruby", "ruby"}, {"faraday ", "faraday"}, {"php/", "php"}, {"reqwest/", "reqwest"},
	{"aiohttp/", "aiohttp"}, {"scrapy/", "scrapy"}, {"expanse", "expanse"}, {"newrelicpinger/", "newrelic"},
	{"datadog", "datadog"}, {"zgrab/", "zgrab"}, {"masscan/", "masscan"}, {"nmap ", "nmap"}, {"winhttp", "winhttp"},
	{"wordpress/", "wordpress"}, {"mediapartners-google", "mediapartners-google"},
	{"googleother", "googleother"}, {"ia_archiver", "ia_archiver"}, {"feedfetcher-google", "feedfetcher-google"},
	{"node", "node"},
}

// botNames name the crawlers and tools found in a bot's User-Agent; the
// one that occurs first names it, the earlier entry on a tie.
var botNames = [...]struct{ needle, name string }{
	{"googlebot", "googlebot"}, {"adsbot-google", "adsbot-google"}, {"mediapartners-google", "mediapartners-google"},
	{"google-inspectiontool", "google-inspectiontool"}, {"googleother", "googleother"}, {"storebot-google", "storebot-google"},
	{"feedly", "feedly"}, {"feedfetcher-google", "feedfetcher-google"}, {"apis-google", "apis-google"},
	{"google-read-aloud", "google-read-aloud"}, {"google-site-verification", "google-site-verification"},
	{"google favicon", "google-favicon"}, {"google page speed", "pagespeed"}, {"google web preview", "google-web-preview"},
	{"chrome-lighthouse", "lighthouse"}, {"lighthouse", "lighthouse"}, {"headlesschrome", "headlesschrome"},
	{"bingbot", "bingbot"}, {"bingpreview", "bingpreview"}, {"msnbot", "msnbot"}, {"adidxbot", "adidxbot"},
	{"applebot", "applebot"}, {"duckduckbot", "duckduckbot"}, {"duckassistbot", "duckassistbot"},
	{"yandex", "yandexbot"}, {"baiduspider", "baiduspider"}, {"petalbot", "petalbot"}, {"bytespider", "bytespider"},
	{"amazonbot", "amazonbot"}, {"telegrambot", "telegrambot"}, {"linkedinbot", "linkedinbot"},
	{"facebookexternalhit", "facebookexternalhit"}, {"facebookcatalog", "facebookcatalog"},
	{"meta-externalagent", "meta-externalagent"}, {"twitterbot", "twitterbot"}, {"slackbot", "slackbot"},
	{"slack-imgproxy", "slackbot"}, {"discordbot", "discordbot"}, {"whatsapp", "whatsapp"}, {"pinterest", "pinterestbot"},
	{"redditbot", "redditbot"}, {"skypeuripreview", "skypeuripreview"}, {"embedly", "embedly"}, {"vkshare", "vkshare"},
	{"gptbot", "gptbot"}, {"chatgpt-user", "chatgpt-user"}, {"oai-searchbot", "oai-searchbot"},
	{"claudebot", "claudebot"}, {"claude-web", "claude-web"}, {"claude-user", "claude-user"}, {"anthropic-ai", "anthropic-ai"},
	{"perplexitybot", "perplexitybot"}, {"perplexity-user", "perplexity-user"}, {"ccbot", "ccbot"},
	{"ahrefs", "ahrefsbot"}, {"semrushbot", "semrushbot"}, {"siteauditbot", "siteauditbot"}, {"mj12bot", "mj12bot"},
	{"dotbot", "dotbot"}, {"seznambot", "seznambot"}, {"qwantify", "qwantify"}, {"exabot", "exabot"},
	{"sogou", "sogou"}, {"slurp", "slurp"}, {"coccocbot", "coccocbot"}, {"mojeekbot", "mojeekbot"},
	{"ia_archiver", "ia_archiver"}, {"archive.org_bot", "archive.org_bot"}, {"seekport", "seekport"}, {"uptimerobot", "uptimerobot"},
	{"pingdom", "pingdom"}, {"statuscake", "statuscake"}, {"site24x7", "site24x7"}, {"better uptime", "betteruptime"},
	{"gtmetrix", "gtmetrix"}, {"datadog", "datadog"}, {"screaming frog", "screamingfrog"}, {"phantomjs", "phantomjs"},
}

// botOf reports whether the User-Agent (or the Sec-CH-UA brand list)
// belongs to a bot, and its name and version.
func botOf(p *probe, brands string) (name, ver string, ok bool) {
	ua := p.s
	if brands != "" && strings.Contains(brands, "HeadlessChrome") {
		return "headlesschrome", versionAfter(ua, "Chrome/", false), true
	}
	if ua == "" || !maybeBot(p) {
		return "", "", false
	}
	var buf [512]byte
	l := buf[:0]
	if len(ua) > len(buf) {
		l = make([]byte, 0, len(ua))
	}
	for i := 0; i < len(ua); i++ {
		c := ua[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		l = append(l, c)
	}
	hit, tool := botHit(l)
	if hit < 0 {
		return "", "", false
	}
	if tool >= 0 {
		t := toolPrefixes[tool]
		return t.name, botVersion(ua, l, t.prefix), true
	}
	// The name that comes first wins: "TelegramBot (like TwitterBot)",
	// "adidxbot/2.0; +http://www.bing.com/bingbot.htm".
	best, at := -1, len(l)
	for k, b := range botNames {
		if !p.may(b.needle) {
			continue
		}
		end := min(len(l), at+len(b.needle)-1)
		if i := bytes.Index(l[:end], []byte(b.needle)); i >= 0 && i < at {
			best, at = k, i
		}
	}
	if best >= 0 {
		b := botNames[best]
		return b.name, botVersion(ua, l[at:], b.needle), true
	}
	return fallbackBotName(l, hit), "", true
}

// botHit returns where a bot marker is in the lower-cased l, -1 for none,
// and for a known tool its index in toolPrefixes (else -1).
func botHit(l []byte) (int, int) {
	mozilla := bytes.HasPrefix(l, []byte("mozilla/"))
	if !mozilla {
		for i, t := range toolPrefixes {
			if bytes.HasPrefix(l, []byte(t.prefix)) {
				return 0, i
			}
		}
	}
	for off := 0; off < len(l); {
		i := bytes.Index(l[off:], lowBot)
		if i < 0 {
			break
		}
		i += off
		if i < 2 || l[i-2] != 'c' || l[i-1] != 'u' { // not a CUBOT phone
			return i, -1
		}
		off = i + len(lowBot)
	}
	for _, g := range botGates {
		if i := bytes.Index(l, []byte(g)); i >= 0 {
			return i, -1
		}
	}
	for off := 0; off < len(l); {
		i := bytes.Index(l[off:], lowGoogle)
		if i < 0 {
			break
		}
		i += off
		if isGoogleAgent(l, i) {
			return i, -1
		}
		off = i + len(lowGoogle)
	}
	if mozilla && bytes.IndexByte(l, ' ') < 0 && bytes.IndexByte(l, '(') < 0 {
		// Bare "Mozilla/5.0": scripts, never a browser.
		return 0, -1
	}
	return -1, -1
}

// isGoogleAgent reports whether the "google" at l[i:] names one of
// Google's fetchers ("Google-InspectionTool", "AdsBot-Google",
// "GoogleOther", "Google Favicon") rather than a product on a device
// ("GoogleTV", an app's "Channel/googleplay").
func isGoogleAgent(l []byte, i int) bool {
	rest := l[i+len(lowGoogle):]
	if i > 0 && l[i-1] == '-' || len(rest) > 0 && rest[0] == '-' {
		return true
	}
	for _, s := range [...]string{"other", " favicon", " page speed", " web preview"} {
		if bytes.HasPrefix(rest, []byte(s)) {
			return true
		}
	}
	return false
}

// botVersion reads the version after a bot's name in l (lower case) as
// ua spells it: "Googlebot-Image/1.0" is 1.0, "MJ12bot/v1.4.8" 1.4.
func botVersion(ua string, l []byte, needle string) string {
	j := len(needle)
	if len(needle) > 0 && (needle[len(needle)-1] == '/' || needle[len(needle)-1] == ' ') {
		j--
	}
	for j < len(l) && (l[j] >= 'a' && l[j] <= 'z' || l[j] == '-' || l[j] == '_' || l[j] == '.') {
		j++
	}
	if j < len(l) && (l[j] == '/' || l[j] == ' ') {
		j++
	}
	if j < len(l) && l[j] == 'v' {
		j++
	}
	// l is a suffix of the lower-cased ua: the same offsets from its end.
	return version(ua[len(ua)-len(l)+j:], false)
}

// fallbackBotName names a bot no entry of botNames knows: the word around
// "bot", "spider" or "crawler" unless it is part of an address, else the
// product after "compatible; ", else the first product unless it is
// Mozilla, else "bot".
func fallbackBotName(l []byte, hit int) string {
	isWord := func(c byte) bool {
		return c >= 'a' && c <= 'z' || isDigit(c) || c == '-' || c == '_' || c == '.'
	}
	word := func(s []byte) string {
		n := 0
		for n < len(s) && isWord(s[n]) {
			n++
		}
		return strings.Trim(string(s[:n]), "-_.")
	}
	if bytes.HasPrefix(l[hit:], lowBot) || bytes.HasPrefix(l[hit:], []byte("spider")) || bytes.HasPrefix(l[hit:], []byte("crawl")) {
		a := hit
		for a > 0 && isWord(l[a-1]) {
			a--
		}
		if a == 0 || (l[a-1] != '/' && l[a-1] != '@' && l[a-1] != '+') {
			return word(l[a:])
		}
	}
	if i := bytes.Index(l, lowCompat); i >= 0 {
		if w := word(l[i+len(lowCompat):]); w != "" {
			return w
		}
	}
	if !bytes.HasPrefix(l, []byte("mozilla/")) {
		if w := word(l); w != "" {
			return w
		}
	}
	return "bot"
}
