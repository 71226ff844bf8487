package device

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const (
	iPhone      = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	macSafari   = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
	winChrome   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	linuxChrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	phoneChrome = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
	tabChrome   = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	tizenTV     = "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36"
	chrome124   = `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		ua   string
		h    Hints
		want Info
	}{
		// Phones, tablets, desktops, with versions.
		{"iPhone Safari", iPhone, Hints{}, Info{Mobile, "ios", "17.4", "safari", "17.4", false}},
		{"iOS underscores", "Mozilla/5.0 (iPhone; CPU iPhone OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
			Hints{}, Info{Mobile, "ios", "12.5", "safari", "12.1", false}},
		{"iOS zero minor", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
			Hints{}, Info{Mobile, "ios", "18", "safari", "18.0", false}},
		{"Chrome on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1",
			Hints{}, Info{Mobile, "ios", "17.4", "chrome", "123.0", false}},
		{"iOS app web view", "Mozilla/5.0 (iPhone; CPU iPhone OS 15_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
			Hints{}, Info{Mobile, "ios", "15.4", "webview", "", false}},
		{"iPad in its User-Agent", "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
			Hints{}, Info{Tablet, "ipados", "12.5", "safari", "12.1", false}},
		// Known limit: iPadOS 13+ Safari sends exactly this Mac User-Agent.
		{"iPad as a Mac", macSafari, Hints{}, Info{Desktop, "macos", "10.15", "safari", "17.4", false}},
		{"Firefox on an iPad as a Mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/124.0 Safari/605.1.15",
			Hints{}, Info{Tablet, "ipados", "", "firefox", "124.0", false}},
		{"Android phone", "Mozilla/5.0 (Linux; Android 8.0.0; SM-G930F Build/R16NW) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/67.0.3396.87 Mobile Safari/537.36",
			Hints{}, Info{Mobile, "android", "8", "chrome", "67.0", false}},
		{"Android 4.4.2", "Mozilla/5.0 (Linux; Android 4.4.2; SM-G900F Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0.2125.102 Mobile Safari/537.36",
			Hints{}, Info{Mobile, "android", "4.4", "chrome", "38.0", false}},
		{"Android without Mobile is a tablet", tabChrome, Hints{}, Info{Tablet, "android", "10", "chrome", "124.0", false}},
		{"Firefox Android tablet", "Mozilla/5.0 (Android 13; Tablet; rv:124.0) Gecko/124.0 Firefox/124.0",
			Hints{}, Info{Tablet, "android", "13", "firefox", "124.0", false}},
		{"Android WebView", "Mozilla/5.0 (Linux; Android 13; SM-S911B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36",
			Hints{}, Info{Mobile, "android", "13", "webview", "124.0", false}},
		{"Samsung Internet", "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/21.0 Chrome/110.0.5481.154 Mobile Safari/537.36",
			Hints{}, Info{Mobile, "android", "13", "samsung", "21.0", false}},
		{"CUBOT is a phone maker, not a bot", "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.149 Mobile Safari/537.36",
			Hints{}, Info{Mobile, "android", "9", "chrome", "80.0", false}},
		{"Google Play in an app", "Mozilla/5.0 (Linux; Android 12; SM-A127F Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/114.0.5735.196 Mobile Safari/537.36 Channel/googleplay BytedanceWebview/d8a21c6",
			Hints{}, Info{Mobile, "android", "12", "webview", "114.0", false}},
		{"Windows Chrome", winChrome, Hints{}, Info{Desktop, "windows", "10", "chrome", "124.0", false}},
		{"Windows 7", "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
			Hints{}, Info{Desktop, "windows", "7", "chrome", "109.0", false}},
		{"Windows XP", "Mozilla/5.0 (Windows NT 5.1; rv:52.0) Gecko/20100101 Firefox/52.0", Hints{}, Info{Desktop, "windows", "5.1", "firefox", "52.0", false}},
		{"Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
			Hints{}, Info{Desktop, "windows", "10", "edge", "124.0", false}},
		{"Edge legacy", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.18363",
			Hints{}, Info{Desktop, "windows", "10", "edge", "18.18363", false}},
		{"IE 11", "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", Hints{}, Info{Desktop, "windows", "7", "ie", "11.0", false}},
		{"IE 8 on a Tablet PC is a desktop", "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; Tablet PC 2.0)",
			Hints{}, Info{Desktop, "windows", "7", "ie", "8.0", false}},
		{"Windows touch laptop", "Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; Touch; rv:11.0) like Gecko", Hints{}, Info{Desktop, "windows", "8.1", "ie", "11.0", false}},
		{"Surface RT", "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; ARM; Trident/6.0; Touch)", Hints{}, Info{Tablet, "windows", "8", "ie", "10.0", false}},
		{"Windows Phone", "Mozilla/5.0 (Mobile; Windows Phone 8.1; Android 4.0; ARM; Trident/7.0; Touch; rv:11.0; IEMobile/11.0; NOKIA; Lumia 635) like iPhone OS 7_0_3 Mac OS X AppleWebKit/537 (KHTML, like Gecko) Mobile Safari/537",
			Hints{}, Info{Mobile, "windows", "8.1", "ie", "11.0", false}},
		{"Presto Opera", "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18", Hints{}, Info{Desktop, "windows", "7", "opera", "12.18", false}},
		{"Opera Mini", "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
			Hints{}, Info{Mobile, "android", "", "opera", "36.2", false}},
		{"macOS Firefox", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0", Hints{}, Info{Desktop, "macos", "10.15", "firefox", "125.0", false}},
		{"Linux", linuxChrome, Hints{}, Info{Desktop, "linux", "", "chrome", "124.0", false}},
		{"Chromebook", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			Hints{}, Info{Desktop, "chromeos", "14541.0", "chrome", "124.0", false}},
		{"Brave before it hid", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Brave Chrome/71.0.3578.98 Safari/537.36",
			Hints{}, Info{Desktop, "windows", "10", "brave", "71.0", false}},
		{"unknown browser is a desktop", "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) Safari/534.34", Hints{}, Info{Desktop, "linux", "", "", "", false}},
		{"a product token that names no device is a bot", "SomeMediaPlayer 2.0", Hints{}, Info{Bot, "", "", "somemediaplayer", "", true}},
		{"feature phone", "QC-7135/1.0.38 UP.Browser/4.1.25i UP.Link/4.2.2.9", Hints{}, Info{Mobile, "", "", "", "", false}},
		{"text browser", "Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.1.1d", Hints{}, Info{Desktop, "", "", "", "", false}},
		{"iOS app's HTTP client", "App/1.0.0 CFNetwork/1331.0.7 Darwin/21.4.0", Hints{}, Info{Mobile, "ios", "15", "", "", false}},
		{"macOS app's HTTP client", "Safari/6533.18.5 CFNetwork/454.9.8 Darwin/10.4.0 (i386) (MacBookPro7,1)", Hints{}, Info{Desktop, "macos", "", "safari", "", false}},
		{"Windows CE", "Mozilla/4.0 (compatible; MSIE 6.0; Windows CE; IEMobile 7.11)", Hints{}, Info{Mobile, "windows", "", "ie", "6.0", false}},

		// Kindle, Fire, TVs, consoles.
		{"Fire tablet", "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/122.3.1 like Chrome/122.0.6261.128 Safari/537.36",
			Hints{}, Info{Tablet, "fireos", "", "silk", "122.3", false}},
		{"Silk that asks for desktop sites", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Silk/122.3.1 like Chrome/122.0.6261.128 Safari/537.36",
			Hints{}, Info{Tablet, "fireos", "", "silk", "122.3", false}},
		{"first Kindle Fire says Mobile", "Mozilla/5.0 (Linux; U; Android 2.3.4; en-us; Kindle Fire Build/GINGERBREAD) AppleWebKit/533.1 (KHTML, like Gecko) Version/4.0 Mobile Safari/533.1",
			Hints{}, Info{Tablet, "fireos", "", "android", "4.0", false}},
		{"Kindle e-reader", "Mozilla/5.0 (X11; U; Linux armv7l like Android; en-us) AppleWebKit/531.2+ (KHTML, like Gecko) Version/5.0 Safari/531.2+ Kindle/3.0+",
			Hints{}, Info{Tablet, "linux", "", "", "", false}},
		{"Fire TV", "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/110.0.5481.153 Mobile Safari/537.36",
			Hints{}, Info{TV, "fireos", "", "webview", "110.0", false}},
		{"Samsung TV", tizenTV, Hints{}, Info{TV, "tizen", "6", "", "", false}},
		{"LG TV", "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 WebAppManager",
			Hints{}, Info{TV, "webos", "", "chrome", "87.0", false}},
		{"Sony BRAVIA", "Mozilla/5.0 (Linux; Android 9; BRAVIA 4K UR2 Build/PTT1.190515.001.S104; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.198 Safari/537.36",
			Hints{}, Info{TV, "android", "9", "webview", "86.0", false}},
		{"Android TV that says Mobile", "Mozilla/5.0 (Linux; Android 11; SHIELD Android TV Build/RQ1A.210105.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36",
			Hints{}, Info{TV, "android", "11", "webview", "112.0", false}},
		{"Chromecast", "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.225 Safari/537.36 CrKey/1.56.500000 DeviceType/Chromecast",
			Hints{}, Info{TV, "linux", "", "chrome", "91.0", false}},
		{"HbbTV", "Opera/9.80 (Linux mips; U; HbbTV/1.1.1 (; Philips; ; ; ; ) CE-HTML/1.0 NETTV/4.1.3 PHILIPSTV/1.1.1; en) Presto/2.10.250 Version/11.60",
			Hints{}, Info{TV, "linux", "", "opera", "11.60", false}},
		{"Roku", "Roku/DVP-9.10 (519.10E04111A)", Hints{}, Info{TV, "", "", "", "", false}},
		{"Apple TV", "AppleCoreMedia/1.0.0.20K71 (Apple TV; U; CPU OS 16_1 like Mac OS X; en_us)", Hints{}, Info{TV, "tvos", "16.1", "", "", false}},
		{"PlayStation 5", "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
			Hints{}, Info{Console, "playstation", "2.26", "", "", false}},
		{"PlayStation Vita is a console too", "Mozilla/5.0 (PlayStation Vita 3.61) AppleWebKit/537.73 (KHTML, like Gecko) Silk/3.2",
			Hints{}, Info{Console, "playstation", "3.61", "", "", false}},
		{"Xbox", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041",
			Hints{}, Info{Console, "xbox", "", "edge", "18.19041", false}},
		{"Nintendo Switch", "Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393",
			Hints{}, Info{Console, "nintendo", "", "", "", false}},
		{"New 3DS claims an iPhone", "Mozilla/5.0 (New Nintendo 3DS like iPhone) AppleWebKit/536.30 (KHTML, like Gecko) NX/3.0.0.5.15 Mobile NintendoBrowser/1.3.10126.EU",
			Hints{}, Info{Console, "nintendo", "", "", "", false}},
		{"Android handheld console", "Mozilla/5.0 (Linux; Android 13; Retroid Pocket 4 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.96 Mobile Safari/537.36",
			Hints{}, Info{Console, "android", "13", "chrome", "122.0", false}},

		// Watches and headsets.
		{"Galaxy Watch on Tizen", "Mozilla/5.0 (Linux; Tizen 5.5; SAMSUNG SM-R825F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/69.0.3497.106 Mobile Safari/537.36",
			Hints{}, Info{Wearable, "tizen", "5.5", "chrome", "69.0", false}},
		{"Wear OS watch", "Mozilla/5.0 (Linux; Android 8.0.0; Ticwatch S) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/77.0.3865.92 Mobile Safari/537.36",
			Hints{}, Info{Wearable, "android", "8", "chrome", "77.0", false}},
		{"Apple Watch media player", "AppleCoreMedia/1.0.0.18R590 (Apple Watch; U; CPU OS 7_1 like Mac OS X; it_it)", Hints{}, Info{Wearable, "", "", "", "", false}},
		{"Quest headset", "Mozilla/5.0 (X11; Linux x86_64; Quest 3) AppleWebKit/537.36 (KHTML, like Gecko) OculusBrowser/33.1.0.0 Chrome/126.0.6478.122 VR Safari/537.36",
			Hints{}, Info{Wearable, "linux", "", "oculus", "33.1", false}},
		// Its older versions claim Samsung Internet too (ua-parser-js:
		// Oculus Browser).
		{"Quest headset, Samsung claimed", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) OculusBrowser/31.0.0.6.60 SamsungBrowser/4.0 Chrome/120.0.6099.283 VR Safari/537.36",
			Hints{}, Info{Wearable, "linux", "", "oculus", "31.0", false}},
		// Feature phones: an LG model as the whole User-Agent, glued to
		// the maker or not, and a Teleca (Obigo) browser's "compatible".
		{"LG model, spaced", "LG KS10", Hints{}, Info{Mobile, "", "", "", "", false}},
		{"LG model, glued", "LGKU970", Hints{}, Info{Mobile, "", "", "", "", false}},
		{"Teleca browser", "Mozilla/4.1 (compatible; Teleca Q7; BMP 1.0.1; U; en) 240X400 LG-AN510", Hints{}, Info{Mobile, "", "", "", "", false}},
		// Slashes written as spaces: the build is no part of the model.
		{"Lenovo phone, build spaced", "Mozilla 5.0 (Linux; U; Android 2.3.4; zh-cn; Lenovo A1-32AB0 Build GINGERBREAD) UC AppleWebKit 534.31 (KHTML, like Gecko) Mobile Safari 534.31",
			Hints{}, Info{Mobile, "android", "2.3", "", "", false}},

		// Model codes decide where the Mobile token misleads, and words
		// inside a model are not bot or TV markers.
		{"Galaxy Tab that says Mobile", "Mozilla/5.0 (Linux; Android 9; SM-T295) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
			Hints{}, Info{Tablet, "android", "9", "chrome", "120.0", false}},
		{"phone app without Mobile", "Dalvik/2.1.0 (Linux; U; Android 11; SM-A515F Build/RP1A.200720.012)", Hints{}, Info{Mobile, "android", "11", "", "", false}},
		{"phone browser without Mobile", "Mozilla/5.0 (Linux; Android 12; Redmi Note 10 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Safari/537.36",
			Hints{}, Info{Mobile, "android", "12", "chrome", "110.0", false}},
		{"TV box without a TV marker", "Mozilla/5.0 (Linux; Android 10; TX6s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.4896.127 Safari/537.36",
			Hints{}, Info{TV, "android", "10", "chrome", "100.0", false}},
		{"smart TV model code", "Mozilla/5.0 (Linux; Android 7.1.1; 55UR50GU) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/77.0.3865.92 Mobile Safari/537.36",
			Hints{}, Info{TV, "android", "7.1", "chrome", "77.0", false}},
		{"ViziOS", "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.121 Safari/537.36 CrKey/1.0.999999 VIZIO SmartCast Conjure/MTK5581-5.0.23.2-1 FW/0.5.23.2-1 Model/M50Q6-J01 ViziOS",
			Hints{}, Info{TV, "linux", "", "chrome", "72.0", false}},
		{"TV inside a phone model", "Mozilla/5.0 (Linux; Android 5.1; W-K420-TVM) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.110 Mobile Safari/537.36",
			Hints{}, Info{Mobile, "android", "5.1", "chrome", "70.0", false}},
		{"bot inside a tablet model", "Mozilla/5.0 (Linux; Android 7.1.2; M bot tab 10) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36",
			Hints{}, Info{Tablet, "android", "7.1", "chrome", "78.0", false}},
		{"Facebook app is no bot", "[FBAN/FB4A;FBAV/263.0.0.46.121;FBBV/205281663;FBLC/en_US;FBMF/LGE;FBPN/com.facebook.katana;FBDV/LGMS210;FBSV/7.0;]",
			Hints{}, Info{Mobile, "", "", "webview", "", false}},

		// Bots.
		{"empty User-Agent", "", Hints{}, Info{Bot, "", "", "", "", true}},
		{"bare Mozilla", "Mozilla/5.0", Hints{}, Info{Bot, "", "", "bot", "", true}},
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Hints{}, Info{Bot, "", "", "googlebot", "2.1", true}},
		{"smartphone Googlebot", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			Hints{}, Info{Bot, "android", "6", "googlebot", "2.1", true}},
		{"Googlebot-Image", "Googlebot-Image/1.0", Hints{}, Info{Bot, "", "", "googlebot", "1.0", true}},
		{"Google-InspectionTool", "Mozilla/5.0 (compatible; Google-InspectionTool/1.0)", Hints{}, Info{Bot, "", "", "google-inspectiontool", "1.0", true}},
		{"bot named in a URL", "Mozilla/5.0 (compatible; adidxbot/2.0; +http://www.bing.com/bingbot.htm)", Hints{}, Info{Bot, "", "", "adidxbot", "2.0", true}},
		{"like TwitterBot", "TelegramBot (like TwitterBot)", Hints{}, Info{Bot, "", "", "telegrambot", "", true}},
		{"MJ12bot v-version", "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", Hints{}, Info{Bot, "", "", "mj12bot", "1.4", true}},
		{"curl", "curl/8.4.0", Hints{}, Info{Bot, "", "", "curl", "8.4", true}},
		{"HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
			Hints{}, Info{Bot, "linux", "", "headlesschrome", "120.0", true}},
		{"Lighthouse", "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
			Hints{}, Info{Bot, "android", "11", "lighthouse", "", true}},
		{"unknown bot word", "Mozilla/5.0 (compatible; Fancybot/3.1; +https://fancy.example/bot)", Hints{}, Info{Bot, "", "", "fancybot", "", true}},
		{"checker", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/63.0 Safari/537.36 ShopifyChecker", Hints{}, Info{Bot, "linux", "", "shopifychecker", "", true}},
		{"product token only", "collectd/5.5.1", Hints{}, Info{Bot, "", "", "collectd", "", true}},
		{"Google prober", "GoogleProber", Hints{}, Info{Bot, "", "", "googleprober", "", true}},
		{"monitor", "Mozilla/5.0 (compatible; MonTools.com)", Hints{}, Info{Bot, "", "", "montools.com", "", true}},
		{"unknown crawler", "ExampleCrawler/1.0", Hints{}, Info{Bot, "", "", "examplecrawler", "", true}},
		{"unknown spider", "Mozilla/5.0 (compatible; Lookit Spider)", Hints{}, Info{Bot, "", "", "spider", "", true}},
		{"address only", "Mozilla/5.0 (compatible; Fetcher/2.0; +https://fetch.example/)", Hints{}, Info{Bot, "", "", "fetcher", "", true}},

		// Client Hints.
		{"hints: phone", phoneChrome, Hints{Mobile: "?1", Platform: `"Android"`, PlatformVersion: `"14.0.0"`, UA: chrome124},
			Info{Mobile, "android", "14", "chrome", "124.0", false}},
		{"hints win over the User-Agent", tabChrome, Hints{Mobile: "?1", Platform: `"Android"`}, Info{Mobile, "android", "10", "chrome", "124.0", false}},
		{"hints: tablet asking for desktop sites", linuxChrome, Hints{Mobile: "?0", Platform: `"Android"`, PlatformVersion: `"13.0.0"`},
			Info{Tablet, "android", "13", "chrome", "124.0", false}},
		{"hints: Windows 11", winChrome, Hints{Mobile: "?0", Platform: `"Windows"`, PlatformVersion: `"15.0.0"`}, Info{Desktop, "windows", "11", "chrome", "124.0", false}},
		{"hints: macOS version", macSafari, Hints{Mobile: "?0", Platform: `"macOS"`, PlatformVersion: `"14.4.1"`}, Info{Desktop, "macos", "14.4", "safari", "17.4", false}},
		{"hints: not a phone, still a TV", tizenTV, Hints{Mobile: "?0", Platform: `"Linux"`}, Info{TV, "tizen", "6", "", "", false}},
		{"hints: phone flag on a TV", tizenTV, Hints{Mobile: "?1", Platform: `"Linux"`}, Info{TV, "tizen", "6", "", "", false}},
		{"hints: TV model", tabChrome, Hints{Mobile: "?0", Platform: `"Android"`, Model: `"BRAVIA 4K VH2"`}, Info{TV, "android", "10", "chrome", "124.0", false}},
		{"hints: Fire OS stays", "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/122.3.1 like Chrome/122.0.6261.128 Safari/537.36",
			Hints{Mobile: "?0", Platform: `"Android"`, PlatformVersion: `"9.0.0"`}, Info{Tablet, "fireos", "", "silk", "122.3", false}},
		{"hints: Brave", winChrome, Hints{Mobile: "?0", Platform: `"Windows"`, UA: `"Chromium";v="124", "Brave";v="124", "Not-A.Brand";v="99"`},
			Info{Desktop, "windows", "10", "brave", "124.0", false}},
		{"hints: Opera's own version", winChrome, Hints{Mobile: "?0", Platform: `"Windows"`, UA: `"Chromium";v="124", "Opera";v="110", "Not-A.Brand";v="99"`},
			Info{Desktop, "windows", "10", "opera", "110", false}},
		{"hints only", "", Hints{Mobile: "?1", Platform: `"Android"`, UA: chrome124}, Info{Mobile, "android", "", "chrome", "124", false}},
		{"hints: headless brand", linuxChrome, Hints{Mobile: "?0", Platform: `"Linux"`, UA: `"HeadlessChrome";v="124", "Chromium";v="124"`},
			Info{Bot, "linux", "", "headlesschrome", "124.0", true}},
		{"hints: bots keep their name", "curl/8.4.0", Hints{Mobile: "?1", Platform: `"Android"`}, Info{Bot, "", "", "curl", "8.4", true}},
		{"hints: unknown platform", winChrome, Hints{Mobile: "?0", Platform: `"Unknown"`}, Info{Desktop, "windows", "10", "chrome", "124.0", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.ua, tc.h); got != tc.want {
				t.Errorf("Classify(%q, %+v)\n got %+v\nwant %+v", tc.ua, tc.h, got, tc.want)
			}
		})
	}
}

// TestBots checks that each crawler and tool the product must recognize is
// a bot, under the expected name.
func TestBots(t *testing.T) {
	for ua, name := range map[string]string{
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)":                                                                                                   "bingbot",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)": "applebot",
		"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)":                                                                                                                "duckduckbot",
		"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)":                                                                                                          "yandexbot",
		"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)":                                                                                       "baiduspider",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)":                                                                                                 "facebookexternalhit",
		"Twitterbot/1.0": "twitterbot",
		"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)": "linkedinbot",
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)":                            "slackbot",
		"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)":                     "discordbot",
		"WhatsApp/2.23.20.0 A":          "whatsapp",
		"TelegramBot (like TwitterBot)": "telegrambot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)":                  "gptbot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)":                 "claudebot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)": "perplexitybot",
		"CCBot/2.0 (https://commoncrawl.org/faq/)":                                    "ccbot",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)":          "ahrefsbot",
		"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)": "semrushbot",
		"Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)":               "mj12bot",
		"Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)": "petalbot",
		"Wget/1.21.4":            "wget",
		"python-requests/2.31.0": "python-requests",
		"Go-http-client/2.0":     "go-http-client",
		"Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)":          "uptimerobot",
		"Mozilla/5.0 (compatible; Pingdom.com_bot_version_1.4_(http://www.pingdom.com/))": "pingdom",
	} {
		got := Classify(ua, Hints{})
		if got.Type != Bot || !got.Bot || got.Browser != name {
			t.Errorf("Classify(%q) = %+v, want a bot named %q", ua, got, name)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		in       string
		dropZero bool
		want     string
	}{
		{"124.0.6367.82 Safari", false, "124.0"},
		{"17_4_1 like", true, "17.4"},
		{"17_0 like", true, "17"},
		{"8.0.0;", true, "8"},
		{"10;", true, "10"},
		{"10.15", true, "10.15"},
		{"12_05 x", false, "12.05"},
		{"41_12 x", false, "41.12"},
		{"18.19041", false, "18.19041"},
		{"x1.0", false, ""},
		{"", false, ""},
		{"1234567890.1", false, ""},
		{"5.", false, "5"},
		{"5._1", false, "5"},
	} {
		if got := version(tc.in, tc.dropZero); got != tc.want {
			t.Errorf("version(%q, %v) = %q, want %q", tc.in, tc.dropZero, got, tc.want)
		}
	}
}

func TestWindowsHintVersion(t *testing.T) {
	for in, want := range map[string]string{
		"0.1.0": "7", "0.2.0": "8", "0.3.0": "8.1", "1.0.0": "10", "10.0.0": "10", "12.0.0": "10",
		"13.0.0": "11", "15.0.0": "11", "19.0.0": "11", "": "", "x": "", "0.9.0": "", "100.0": "",
	} {
		if got := windowsHintVersion(in); got != want {
			t.Errorf("windowsHintVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", iPhone)
	r.Header.Set("Sec-CH-UA-Mobile", "?1")
	r.Header.Set("Sec-CH-UA-Platform", `"Android"`)
	r.Header.Set("Sec-CH-UA-Platform-Version", `"14.0.0"`)
	r.Header.Set("Sec-CH-UA", chrome124)
	r.Header.Set("Sec-CH-UA-Model", `"Pixel 8"`)
	ua, h := FromRequest(r)
	want := Hints{Mobile: "?1", Platform: `"Android"`, PlatformVersion: `"14.0.0"`, UA: chrome124, Model: `"Pixel 8"`}
	if ua != iPhone || h != want {
		t.Errorf("FromRequest = %q, %+v; want %q, %+v", ua, h, iPhone, want)
	}
	if ua, h := FromRequest(httptest.NewRequest("GET", "/", nil)); ua != "" || h != (Hints{}) {
		t.Errorf("FromRequest without headers = %q, %+v", ua, h)
	}
	if ua, h := FromRequest(nil); ua != "" || h != (Hints{}) {
		t.Errorf("FromRequest(nil) = %q, %+v", ua, h)
	}
}

// TestAcceptCH checks that AcceptCH asks for every hint FromRequest reads,
// and nothing else.
func TestAcceptCH(t *testing.T) {
	var got []string
	for _, f := range strings.Split(AcceptCH, ",") {
		got = append(got, strings.ToLower(strings.TrimSpace(f)))
	}
	want := []string{"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-ch-ua-platform-version", "sec-ch-ua-model"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("AcceptCH names %q, want %q", got, want)
	}
}

// TestAllocations checks that classifying common User-Agents does not
// allocate.
func TestAllocations(t *testing.T) {
	for _, ua := range []string{iPhone, winChrome, phoneChrome, tizenTV, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"} {
		if n := testing.AllocsPerRun(100, func() { Classify(ua, Hints{}) }); n != 0 {
			t.Errorf("Classify(%q) allocates %v times", ua, n)
		}
	}
}

// TestExplainSignal checks which signal Explain says decided the type.
func TestExplainSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		ua   string
		h    Hints
		typ  Type
		sig  Signal
	}{
		{"iPhone token", iPhone, Hints{}, Mobile, SignalToken},
		{"Windows token", winChrome, Hints{}, Desktop, SignalToken},
		{"Android without Mobile", tabChrome, Hints{}, Tablet, SignalToken},
		{"Samsung tablet code", "Mozilla/5.0 (Linux; Android 9; SM-T295) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", Hints{}, Tablet, SignalModel},
		{"TV model code", "Mozilla/5.0 (Linux; Android 7.1.1; 55UR50GU) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/77.0.3865.92 Mobile Safari/537.36", Hints{}, TV, SignalModel},
		{"app client on an unknown phone", "Dalvik/2.1.0 (Linux; U; Android 11; XYZ123 Build/RP1A)", Hints{}, Mobile, SignalDefault},
		{"unknown browser", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko) Safari/537.36", Hints{}, Desktop, SignalDefault},
		{"empty User-Agent", "", Hints{}, Bot, SignalDefault},
		{"crawler", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Hints{}, Bot, SignalToken},
		{"Sec-CH-UA-Mobile on a reduced User-Agent", linuxChrome, Hints{Mobile: "?1", Platform: `"Android"`}, Mobile, SignalHint},
		{"tablet asking for desktop sites", linuxChrome, Hints{Mobile: "?0", Platform: `"Android"`}, Tablet, SignalHint},
		{"Sec-CH-UA-Model", phoneChrome, Hints{Mobile: "?1", Platform: `"Android"`, Model: `"SM-X710"`}, Tablet, SignalModel},
		{"phone asking for desktop sites, model sent", linuxChrome, Hints{Mobile: "?0", Platform: `"Android"`, Model: `"Pixel 8"`}, Mobile, SignalModel},
		{"headless brand", winChrome, Hints{UA: `"HeadlessChrome";v="124"`}, Bot, SignalHint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, sig := Explain(tc.ua, tc.h)
			if info.Type != tc.typ || sig != tc.sig {
				t.Errorf("Explain(%q, %+v) = %s by %q, want %s by %q", tc.ua, tc.h, info.Type, sig, tc.typ, tc.sig)
			}
			if got := Classify(tc.ua, tc.h); got != info {
				t.Errorf("Classify = %+v, Explain = %+v", got, info)
			}
		})
	}
}

// TestModelType checks the model-code patterns on codes of each kind.
func TestModelType(t *testing.T) {
	for m, want := range map[string]Type{
		"SM-G991B": Mobile, "SAMSUNG SM-T580": Tablet, "SAMSUNG-SM-T217A": Tablet, "Redmi Note 8": Mobile, "VOG-L29": Mobile,
		"KOB2-W09": Tablet, "AGS3-AL09HN": Tablet, "Lenovo TB-X606F": Tablet, "CPH2211": Mobile, "RMX3085": Mobile,
		"PEGM10": Mobile, "Pixel 8": Mobile, "Pixel Tablet": Tablet, "Nexus 7": Tablet, "Galaxy Tab A": Tablet,
		"55UR50GU": TV, "LD-43SF4850BS": TV, "HARPER 65Q850TS": TV, "MIBOX4": TV, "TX6s": TV, "Smart Box D2": TV,
		"SHIELD Android TV": TV, "AFTMM": TV, "Box R 4K": TV, "SM-R825F": Wearable, "Ticwatch S": Wearable,
		"Quest 2": Wearable, "Retroid Pocket 4 Pro": Console, "RG505": Console, "OUYA Console": Console,
		"HP Chromebook 13 G1": Desktop, "Inspiron 3542": Desktop, "2201117TG": Mobile, "23073RPBFC": Tablet, "V2027": Mobile,
		"M2101K6G": Mobile, "Sony Tablet P": Tablet, "HUAWEI M2-801L": Tablet,
	} {
		if got, ok := modelType(m); !ok || got != want {
			t.Errorf("modelType(%q) = %q, %v; want %q", m, got, ok, want)
		}
	}
	// Codes no pattern knows, and codes whose words must not mislead:
	// "TV" and "4K" inside a phone's code, "bot" in a tablet's.
	for m, want := range map[string]Type{"W-K420-TVM": Mobile, "STV100-2": "", "5044K": Mobile, "BNTV460": Tablet, "M bot tab 10": Tablet, "XYZ123": ""} {
		got, _ := modelType(m)
		if got != want {
			t.Errorf("modelType(%q) = %q, want %q", m, got, want)
		}
	}
}

func TestAndroidModel(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36":                           "",
		"Mozilla/5.0 (Linux; Android 13; SM-S911B Build/TP1A.220624.014; wv) AppleWebKit": "SM-S911B",
		"Mozilla/5.0 (Linux; U; Android 4.1.2; en-us; Nook HD+ Build/JZO54K) AppleWebKit": "Nook HD+",
		"Mozilla/5.0 (Linux; arm_64; Android 12; RG405M) AppleWebKit/537.36":              "RG405M",
		"AndroidDownloadManager/4.1.1 (Linux; U; Android 4.1.1; MID0714 Build/JRO03H)":    "MID0714",
		"Mozilla/5.0 (Linux; Tizen 5.5; SAMSUNG SM-R825F) AppleWebKit/537.36":             "SAMSUNG SM-R825F",
		"Mozilla/5.0 (Android 13; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0":            "",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36":                    "",
	} {
		if got := androidModel(ua); got != want {
			t.Errorf("androidModel(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestBotGates checks that every word botHit looks for in a
// "Mozilla/" User-Agent gets past the gates of maybeBot: a word the gates
// miss would never be searched.
func TestBotGates(t *testing.T) {
	words := append(append([]string{}, botWordList...), weakBotWordList...)
	words = append(words, "(khtml, like gecko; compatible")
	for _, b := range botNames {
		if b.alone {
			words = append(words, b.needle)
		}
	}
	for _, w := range words {
		p := newProbe("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " + w)
		if !maybeBot(&p) {
			t.Errorf("maybeBot misses %q", w)
		}
	}
	p := newProbe(winChrome)
	if maybeBot(&p) {
		t.Errorf("maybeBot(%q) = true, want the gates to rule a plain browser out", winChrome)
	}
}
