package device

import (
	"bytes"
	"strings"
	"sync"
)

// Bot detection works on a lower-cased copy of the User-Agent: crawlers
// spell their names as they like ("bingbot", "Googlebot", "MJ12bot").
// A User-Agent is a bot's when, in this order:
//
//   - it starts with the product token of an HTTP library or tool
//     ("curl/", "python-requests/");
//   - a word of the bot vocabulary occurs as a token ("…bot", "crawler",
//     "spider", "checker", "monitor", "scanner", a URL or an e-mail
//     address, ...), outside the device model of an Android User-Agent
//     ("M bot tab 10" is a Logicom tablet);
//   - it names a crawler of botNames that uses none of those words
//     ("facebookexternalhit", "Slurp");
//   - it is not shaped like a browser's, "Mozilla/…" or "Opera/…", and
//     names no device, system or phone maker: a plain product token such
//     as "collectd/5.5.1" or "GoogleProber";
//   - it is "Mozilla/…" with no system at all ("Mozilla/5.0",
//     "Mozilla/5.0 (compatible; Dataprovider.com)").

// weakBotWordList are bot words that also occur in the names of apps
// and devices ("AgentWeb", "Capture+"): they count only in a User-Agent
// that names no phone or tablet.
var weakBotWordList = []string{"agent", "verif", "audit", "optimiz", "insights", "requests", "headers", "capture",
	"thumbnail", "screenshot", "research", "survey", "analyzer"}

// botWordList is the vocabulary of bots, matched in a lower-cased
// User-Agent where a token may hold it: "bot" (searched on its own) only
// ends a word, these may occur anywhere in one.
var botWordList = []string{
	"crawl", "spider", "scrap", "check", "monitor", "uptime", "valid", "scan", "fetch", "preview", "imageproxy", "imgproxy",
	"prefetch proxy", "probe", "prerender", "rendertron", "unfurl", "oembed", "httpclient", "http client", "http-client",
	"urllib", "synthetic", "headless", "lighthouse", "phantomjs", "selenium", "puppeteer", "playwright", "webdriver",
	"archiv", "indexer", "ptst/", "inspector", "transcoder", "libwww-perl", "http://", "https://", "+http", "www.",
}

var (
	weakBotWords = compileSet(weakBotWordList...)
	botWords     = compileSet(botWordList...)
)

// botGates are substrings one of which every bot that starts with
// "Mozilla/" and is recognized here contains: a browser's User-Agent has
// none, which the pair filter of a probe shows without searching. They
// are the bot words, the names that make a bot alone, and the markers
// botHit looks for besides.
var botGates = func() *needleSet {
	gates := []string{"bot", "google", "compatible", ".com", ".net", ".org", ".io", "gecko; "}
	gates = append(gates, botWordList...)
	gates = append(gates, weakBotWordList...)
	for _, b := range botNames {
		if b.alone {
			gates = append(gates, b.needle)
		}
	}
	return compileSet(gates...)
}()

var (
	lowBot    = []byte("bot")
	lowGoogle = []byte("google")
	lowCompat = []byte("compatible")
	lowMoz    = []byte("mozilla/")
)

// maybeBot reports whether the User-Agent may be a bot's, so that only
// those are lower-cased and searched. Those that do not start with
// "Mozilla/" always may: tools and old devices, fewer and shorter.
func maybeBot(p *probe) bool {
	if len(p.s) < 8 || !strings.EqualFold(p.s[:8], "mozilla/") {
		return true
	}
	for i := range botGates.fw {
		if p.mayAt(botGates, i) {
			return true
		}
	}
	return strings.IndexByte(p.s, ' ') < 0 || strings.IndexByte(p.s, '(') < 0
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
// one that occurs first names it, the earlier entry on a tie. Those
// marked alone are also what makes the User-Agent a bot's: they use
// none of the bot vocabulary.
var botNames = [...]struct {
	needle, name string
	alone        bool
}{
	{"googlebot", "googlebot", false}, {"adsbot-google", "adsbot-google", false}, {"mediapartners-google", "mediapartners-google", false},
	{"google-inspectiontool", "google-inspectiontool", false}, {"googleother", "googleother", false}, {"storebot-google", "storebot-google", false},
	{"feedly", "feedly", true}, {"feedfetcher-google", "feedfetcher-google", false}, {"apis-google", "apis-google", false},
	{"google-read-aloud", "google-read-aloud", false}, {"google-site-verification", "google-site-verification", false},
	{"google favicon", "google-favicon", false}, {"google page speed", "pagespeed", false}, {"google web preview", "google-web-preview", false},
	{"chrome-lighthouse", "lighthouse", false}, {"lighthouse", "lighthouse", false}, {"headlesschrome", "headlesschrome", false},
	{"bingbot", "bingbot", false}, {"bingpreview", "bingpreview", false}, {"msnbot", "msnbot", false}, {"adidxbot", "adidxbot", false},
	{"applebot", "applebot", false}, {"duckduckbot", "duckduckbot", false}, {"duckassistbot", "duckassistbot", false},
	{"yandexbot", "yandexbot", false}, {"yandex.com/bots", "yandexbot", false}, {"baiduspider", "baiduspider", false},
	{"petalbot", "petalbot", false}, {"bytespider", "bytespider", false},
	{"amazonbot", "amazonbot", false}, {"telegrambot", "telegrambot", false}, {"linkedinbot", "linkedinbot", false},
	{"facebookexternalhit", "facebookexternalhit", true}, {"facebookcatalog", "facebookcatalog", true},
	{"meta-externalagent", "meta-externalagent", true}, {"twitterbot", "twitterbot", false}, {"slackbot", "slackbot", false},
	{"slack-imgproxy", "slackbot", false}, {"discordbot", "discordbot", false}, {"whatsapp/", "whatsapp", false},
	{"pinterestbot", "pinterestbot", false}, {"pinterest/0.", "pinterestbot", true},
	{"redditbot", "redditbot", false}, {"skypeuripreview", "skypeuripreview", true}, {"embedly", "embedly", true}, {"vkshare", "vkshare", true},
	{"gptbot", "gptbot", false}, {"chatgpt-user", "chatgpt-user", true}, {"oai-searchbot", "oai-searchbot", false},
	{"claudebot", "claudebot", false}, {"claude-web", "claude-web", true}, {"claude-user", "claude-user", true}, {"anthropic-ai", "anthropic-ai", true},
	{"perplexitybot", "perplexitybot", false}, {"perplexity-user", "perplexity-user", true}, {"ccbot", "ccbot", false},
	{"ahrefs", "ahrefsbot", true}, {"semrushbot", "semrushbot", false}, {"siteauditbot", "siteauditbot", false}, {"mj12bot", "mj12bot", false},
	{"dotbot", "dotbot", false}, {"seznambot", "seznambot", false}, {"qwantify", "qwantify", true}, {"exabot", "exabot", false},
	{"sogou web", "sogou", false}, {"sogou-", "sogou", false}, {"sogou pic", "sogou", false}, {"slurp", "slurp", true}, {"coccocbot", "coccocbot", false}, {"mojeekbot", "mojeekbot", false},
	{"ia_archiver", "ia_archiver", true}, {"archive.org_bot", "archive.org_bot", false}, {"seekport", "seekport", true}, {"uptimerobot", "uptimerobot", false},
	{"pingdom", "pingdom", true}, {"statuscake", "statuscake", true}, {"site24x7", "site24x7", true}, {"better uptime", "betteruptime", false},
	{"gtmetrix", "gtmetrix", true}, {"datadog", "datadog", true}, {"screaming frog", "screamingfrog", true}, {"phantomjs", "phantomjs", false},
	{"pagespeed", "pagespeed", true},
}

// botNeedles are the needles of botNames, compiled.
var botNeedles = func() *needleSet {
	ss := make([]string, len(botNames))
	for i, b := range botNames {
		ss[i] = b.needle
	}
	return compileSet(ss...)
}()

// botOf reports whether the User-Agent (or headless, the Sec-CH-UA brand
// list naming HeadlessChrome) belongs to a bot, and its name and version.
func botOf(p *probe, headless bool) (name, ver string, ok bool) {
	ua := p.s
	if headless {
		return "headlesschrome", versionAfter(ua, "Chrome/", false), true
	}
	if ua == "" || !maybeBot(p) {
		return "", "", false
	}
	var buf [512]byte
	var l []byte
	if len(ua) <= len(buf) {
		l = buf[:len(ua)]
	} else {
		l = make([]byte, len(ua))
	}
	for i := 0; i < len(l); i++ {
		c := ua[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		l[i] = c
	}
	hit, tool := botHit(p, l)
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
		if !p.mayAt(botNeedles, k) {
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
	return fallbackBotName(ua, l, hit), "", true
}

// botHit returns where a bot marker is in the lower-cased l, -1 for none,
// and for a known tool its index in toolPrefixes (else -1).
func botHit(p *probe, l []byte) (int, int) {
	mozilla := bytes.HasPrefix(l, lowMoz)
	if !mozilla {
		for i, t := range toolPrefixes {
			if bytes.HasPrefix(l, []byte(t.prefix)) {
				return 0, i
			}
		}
	}
	// The model of an Android device may hold anything ("M bot tab 10",
	// "XBot Junior", "Spider 8"): it is not searched.
	skipFrom, skipTo, known := -1, -1, false
	outside := func(i, n int) bool {
		if !known {
			// Found only when a hit asks: most bots name no device.
			known = true
			if m := androidModel(p.s); m != "" {
				if j := strings.Index(p.s, m); j >= 0 {
					skipFrom, skipTo = j, j+len(m)
				}
			}
		}
		return i+n <= skipFrom || i >= skipTo
	}
	for off := 0; off < len(l); {
		i := bytes.Index(l[off:], lowBot)
		if i < 0 {
			break
		}
		i += off
		end := i + len(lowBot)
		if (end == len(l) || !isLower(l[end])) && outside(i, len(lowBot)) && !(i >= 2 && l[i-2] == 'c' && l[i-1] == 'u') { // not a CUBOT phone
			return i, -1
		}
		off = end
	}
	for k := range botWords.ns {
		if !p.mayAt(botWords, k) {
			continue
		}
		w := botWords.ns[k].s
		for off := 0; off < len(l); {
			i := bytes.Index(l[off:], []byte(w))
			if i < 0 {
				break
			}
			i += off
			if outside(i, len(w)) {
				return i, -1
			}
			off = i + len(w)
		}
	}
	if i := bytes.Index(l, []byte("(khtml, like gecko; ")); i >= 0 {
		// Browsers keep this parenthesis as WebKit wrote it; crawlers
		// put their name in it ("like Gecko; compatible; GPTBot/1.2").
		return i, -1
	}
	if p.mayAny(weakBotWords) && !p.hasAny(mobileDeviceTokens) {
		for k := range weakBotWords.ns {
			if p.mayAt(weakBotWords, k) {
				if i := bytes.Index(l, []byte(weakBotWords.ns[k].s)); i >= 0 {
					return i, -1
				}
			}
		}
	}
	if i := bytes.IndexByte(l, '@'); i > 0 && i+1 < len(l) && isLower(l[i+1]) && isWordByte(l[i-1]) {
		return i, -1 // an e-mail address to write to about the crawler
	}
	if i := domainIndex(l); i >= 0 && !p.hasAny(mobileDeviceTokens) {
		return i, -1 // an app may name its maker's site; a phone's app is no bot
	}
	for k, b := range botNames {
		if b.alone && p.mayAt(botNeedles, k) {
			if i := bytes.Index(l, []byte(b.needle)); i >= 0 {
				return i, -1
			}
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
	if !mozilla {
		if !bytes.HasPrefix(l, []byte("opera")) && !namesDevice(p, l) {
			return 0, -1
		}
		if bytes.HasPrefix(l, []byte("whatsapp/")) && !namesDevice(p, l[9:]) {
			return 0, -1
		}
		return -1, -1
	}
	if noSystem(l) {
		return 0, -1
	}
	return -1, -1
}

func isWordByte(c byte) bool { return isLower(c) || isDigit(c) || c == '-' || c == '_' || c == '.' }

// domainIndex returns where a domain name such as "dataprovider.com"
// starts in l, or -1: crawlers name the site that runs them, browsers
// never do.
func domainIndex(l []byte) int {
	for _, tld := range [...]string{".com", ".net", ".org", ".io"} {
		for off := 0; off < len(l); {
			i := bytes.Index(l[off:], []byte(tld))
			if i < 0 {
				break
			}
			i += off
			end := i + len(tld)
			if i > 0 && isLower(l[i-1]) && (end == len(l) || !isLower(l[end]) && !isDigit(l[end])) {
				a := i
				for a > 0 && isWordByte(l[a-1]) {
					a--
				}
				return a
			}
			off = end
		}
	}
	return -1
}

// noSystem reports a "Mozilla/" User-Agent that names no system: bare
// ("Mozilla/5.0"), or whose first parenthesis is "compatible" and a
// product that is no browser ("Mozilla/5.0 (compatible; Attracta)").
func noSystem(l []byte) bool {
	open := bytes.IndexByte(l, '(')
	if open < 0 {
		return bytes.IndexByte(l, ' ') < 0 || !bytes.Contains(l, []byte("applewebkit")) && !bytes.Contains(l, []byte("gecko"))
	}
	close := bytes.IndexByte(l[open:], ')')
	if close < 0 {
		close = len(l) - open
	}
	group := l[open+1 : open+close]
	if !bytes.HasPrefix(group, lowCompat) {
		return false
	}
	for _, s := range [...]string{"msie", "windows", "mac", "linux", "x11", "android", "iphone", "ipad", "konqueror",
		"blackberry", "symbian", "series", "nokia", "playstation", "nintendo", "bsd", "sunos", "os/2", "amiga", "beos",
		"webtv", "ce-html", "hbbtv", "smart-tv", "mobile", "tablet", "haiku", "viera", "palm", "rim", "elaine", "tv",
		"openvms", "qnx", "harmony", "kindle", "tizen", "webos", "web0s", "teleca", "obigo", "netfront", "midp", "brew"} {
		if bytes.Contains(group, []byte(s)) {
			return false
		}
	}
	return true
}

// deviceTokens name a device, a system, a phone maker or a device's
// browser engine; a User-Agent that is not shaped like a browser's and
// names none of them is a bot's.
var deviceTokens = compileSet(
	"Android", "iPhone", "iPad", "iPod", "iOS", "Darwin", "CFNetwork", "Windows", "Macintosh", "Mac OS", "Linux",
	"X11", "CrOS", "BlackBerry", "BB10", "Symbian", "SymbOS", "Series40", "Series60", "S60", "MIDP", "CLDC", "UP.Browser",
	"UP.Link", "NetFront", "Obigo", "Teleca", "MAUI", "MRE/", "Tizen", "KaiOS", "KAIOS", "watchOS", "tvOS", "HbbTV",
	"SmartTV", "SMART-TV", "PlayStation", "PLAYSTATION", "Nintendo", "Xbox", "Kindle", "Roku", "Dalvik", "stagefright",
	"AppleCoreMedia", "AppleTV", "FBAN", "FB4A", "FBIOS", "Instagram", "Profile/", "Configuration/", "DoCoMo", "KDDI",
	"SoftBank", "Vodafone", "J-PHONE", "WILLCOM", "FOMA", "BREW", "Opera Mini", "webOS", "Web0S", "PalmOS", "Fuchsia",
	"AFT", "CE-HTML", "Cronet", "NetCast", "Inettv", "InettvBrowser", "Browser/", "WAP", "Mobile", "Nokia", "android",
	"iphone", "ipad", "IOS", "iPh", "Watch", "Palm", "AmigaOS", "Haiku", "OpenVMS", "OpenHarmony", "HarmonyOS", "macOS",
	"win10", "win32", "win64", "Win32", "Win64", "SunOS", "BSD", "QNX", "RISC OS", "BeOS", "Java", "J2ME", "UCWEB",
	"UCBrowser", "VLC", "QuickTime", "Lynx/", "w3m/", "Links (", "ELinks", "Hybridcast", "KreaTV", "YouView", "DLNA", "Gibbon", "Netflix", "FIRETV", "Viera",
	"VIERA", "AQUOS", "BRAVIA", "Roku", "CrKey", "Chromecast", "SmartHub", "DirectFB", "NETTV", "HbbTV", "Kepler/",
)

// mobileDeviceTokens name phones and tablets.
var mobileDeviceTokens = compileSet("Android", "android", "iPhone", "iphone", "iPad", "iOS", "IOS", "iPh", "CPU OS")

// phoneMakers start the User-Agents of feature phones, which often name
// just a maker and a model ("HAIER-N60", "SAMSUNG-SGH-E250/1.0").
var phoneMakers = [...]string{
	"nokia", "samsung", "sec-", "sonyericsson", "sony", "lg-", "lg ", "lge", "mot-", "motorola", "sie-", "siemens", "alcatel",
	"haier", "zte", "huawei", "lenovo", "philips", "sagem", "sharp", "panasonic", "kyocera", "sanyo", "nec-", "benq",
	"micromax", "spice", "karbonn", "lava", "intex", "tcl", "htc", "asus", "acer", "amoi", "pantech", "verykool", "itel",
	"tecno", "infinix", "dewav", "sagetel", "cat-", "iac/", "emobile", "ddipocket", "vertu", "mitsu", "toshiba", "hitachi",
	"casio", "fly", "bird", "konka", "gionee", "coolpad", "xiaomi", "oppo", "vivo", "meizu", "doro", "cricket", "orange",
	"blu", "maxwest", "qmobile", "tmobile", "t-mobile", "telit", "sendo", "qc-", "wap_browser", "opwv", "portalmmm",
	"tianyu", "k-touch", "ktouch", "palm", "xiino", "audiovox", "utstarcom", "ericsson", "sgh-", "sch-", "sph-", "kwc-",
	"vk-", "i-mobile", "gradiente",
}

// namesDevice reports whether a User-Agent that is not shaped like a
// browser's names a device, a system or a phone maker.
func namesDevice(p *probe, l []byte) bool {
	if p.hasAny(deviceTokens) {
		return true
	}
	for _, m := range phoneMakers {
		if bytes.HasPrefix(l, []byte(m)) {
			return true
		}
	}
	return lgModel(p.s)
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
	for _, s := range [...]string{"other", " favicon", " page speed", " web preview", "prober", "producer", "associationservice", "docs", "imageproxy", "-structured-data",
		" search console", "adsense"} {
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

// fallbackBotName names a bot no entry of botNames knows: the word
// around the bot word that was hit unless it is part of an address, else
// the product after "compatible; ", else the first product unless it is
// Mozilla, else "bot".
func fallbackBotName(ua string, l []byte, hit int) string {
	word := func(a int) []byte {
		b := a
		for b < len(l) && isWordByte(l[b]) {
			b++
		}
		for a < b && (l[a] == '-' || l[a] == '_' || l[a] == '.') {
			a++
		}
		for b > a && (l[b-1] == '-' || l[b-1] == '_' || l[b-1] == '.') {
			b--
		}
		return l[a:b]
	}
	if hit > 0 && isWordByte(l[hit]) {
		a := hit
		for a > 0 && isWordByte(l[a-1]) {
			a--
		}
		if a == 0 || (l[a-1] != '/' && l[a-1] != '@' && l[a-1] != '+') {
			if w := word(a); len(w) > 0 {
				return botNameString(w)
			}
		}
	}
	if i := bytes.Index(l, []byte("compatible; ")); i >= 0 {
		if w := word(i + len("compatible; ")); len(w) > 0 {
			return botNameString(w)
		}
	}
	if !bytes.HasPrefix(l, lowMoz) {
		if w := word(0); len(w) > 0 {
			return botNameString(w)
		}
	}
	return "bot"
}

// botNameStrings interns the names of bots no table knows, so that
// naming a bot seen before allocates nothing. It holds at most
// maxBotNames names: a flood of made-up names costs an allocation each,
// not memory.
var botNameStrings = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

const maxBotNames = 4096

// botNameString returns w as a string.
func botNameString(w []byte) string {
	botNameStrings.RLock()
	s, ok := botNameStrings.m[string(w)] // no allocation: a map index
	botNameStrings.RUnlock()
	if ok {
		return s
	}
	s = string(w)
	botNameStrings.Lock()
	if len(botNameStrings.m) < maxBotNames {
		botNameStrings.m[s] = s
	}
	botNameStrings.Unlock()
	return s
}
