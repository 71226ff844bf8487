package device

import "strings"

// Android User-Agents name the device model ("SM-T580", "Redmi Note 8",
// "55UR50GU"), and the model says more about the device than the browser's
// "Mobile" token does: browsers on phones leave it out (apps' HTTP
// clients, some Chinese browsers, desktop mode), browsers on tablets and
// TV boxes put it in. Models are read with vendor naming patterns rather
// than a list of devices: a pattern covers the models a vendor has not
// released yet.

// androidModel returns the model an Android User-Agent names: the item
// after "Android x.y;" (past a "U;" or a locale), up to " Build/", ";" or
// ")". It returns "" when there is none, or when Chrome's reduced
// User-Agent hides it ("K").
func androidModel(ua string) string {
	i := systemIndex(ua, "Android")
	if i < 0 {
		if i = systemIndex(ua, "Andr0id"); i < 0 {
			if i = systemIndex(ua, "Tizen"); i < 0 {
				return ""
			}
		}
	}
	s := ua[i:]
	j := strings.IndexByte(s, ';')
	if j < 0 {
		return ""
	}
	s = s[j+1:]
	for range 4 {
		s = strings.TrimLeft(s, " ")
		end := len(s)
		for k := 0; k < len(s); k++ {
			if s[k] == ';' || s[k] == ')' {
				end = k
				break
			}
		}
		item := s[:end]
		if b := strings.Index(item, " Build/"); b >= 0 {
			item = item[:b]
		} else if b := strings.Index(item, " Build "); b >= 0 {
			// A User-Agent whose slashes became spaces ("Lenovo
			// A1-32AB0 Build GINGERBREAD"): the build is no part of
			// the model, and "32AB0 Build" read as a TV's size code.
			item = item[:b]
		} else if strings.HasPrefix(item, "Build/") {
			item = ""
		}
		item = strings.TrimSpace(item)
		if !isModelNoise(item) {
			if item == "K" {
				return ""
			}
			return item
		}
		if end == len(s) || s[end] == ')' {
			return ""
		}
		s = s[end+1:]
	}
	return ""
}

// systemIndex returns where name stands for the system, followed by a
// version or ';' ("Android 10;", not "AndroidDownloadManager/"), or -1.
func systemIndex(ua, name string) int {
	for off := 0; off < len(ua); {
		i := strings.Index(ua[off:], name)
		if i < 0 {
			return -1
		}
		i += off
		j := i + len(name)
		if j == len(ua) || ua[j] == ';' || ua[j] == ' ' && j+1 < len(ua) && (isDigit(ua[j+1]) || ua[j+1] == ';') {
			return i
		}
		off = j
	}
	return -1
}

// isModelNoise reports an item of the system part that is not a model:
// "U", "I", "N" (encryption strength), a locale ("en-us", "zh_CN"), "wv",
// "arm", "arm_64".
func isModelNoise(item string) bool {
	switch item {
	case "", "U", "I", "N", "wv", "arm", "arm_64", "arm64", "Mobile", "Linux":
		return true
	}
	if strings.HasPrefix(item, "rv:") {
		return true // Firefox: "(Android 13; Mobile; rv:125.0)"
	}
	return len(item) == 5 && (item[2] == '-' || item[2] == '_') && isLetter(item[0]) && isLetter(item[1]) &&
		isLetter(item[3]) && isLetter(item[4]) ||
		len(item) == 2 && item[0] >= 'a' && item[0] <= 'z' && item[1] >= 'a' && item[1] <= 'z'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool  { return c >= 'a' && c <= 'z' }

// modelType classifies a device model code; ok is false when the model
// follows no pattern known here.
func modelType(m string) (Type, bool) {
	if len(m) < 2 {
		return "", false
	}
	b := bytesOf(m)
	switch {
	case isWearableModel(m, &b):
		return Wearable, true
	case tabletTable.match(m):
		return Tablet, true
	}
	for _, v := range [...]string{"SAMSUNG ", "SAMSUNG-", "Samsung ", "samsung ", "HUAWEI ", "Huawei "} {
		// "SAMSUNG SM-T580": the code after the maker's name decides.
		if len(m) > len(v)+2 && strings.HasPrefix(m, v) {
			if t, ok := modelType(m[len(v):]); ok {
				return t, true
			}
			return Mobile, true
		}
	}
	switch {
	case phoneTable.match(m) && !strings.Contains(m, "TV") && !hasWordFold(m, "box") && !hasTabletWord(m):
		return Mobile, true
	case isTVModel(m, &b):
		return TV, true
	case isConsoleModel(m):
		return Console, true
	case isLaptopModel(m, &b):
		return Desktop, true
	case oppoChinaCode(m):
		return Mobile, true
	case isTabletModel(m):
		return Tablet, true
	case isPhoneModel(m):
		return Mobile, true
	}
	return "", false
}

// tvModelParts occur in the models of Android TVs and set-top boxes.
var tvModelParts = [...]string{
	"BRAVIA", "Chromecast", "SHIELD Android TV", "MIBOX", "MiBOX", "Mi Box", "Beelink", "Ugoos", "Tanix", "Formuler",
	"Amlogic", "Allwinner", "RK3318", "RK3328", "UHD", "STB", "DVB", "Stick", "STICK", "IPTV", "Smart Box", "SmartBox",
	"Shell", "VIDAA", "Freebox", "ADT-", "HiTV", "Leanback", "Q-Box", "MagicBox", "Sunvell", "Magicsee",
}

// tvBoxPrefixes start the models of Android TV boxes.
var tvBoxPrefixes = [...]string{"X96", "H96", "A95X", "T95", "MXQ", "TX3", "TX6", "TX9", "S905", "X88", "HK1", "Transpeed"}

// byteSet is the set of the bytes of a string.
type byteSet [4]uint64

func bytesOf(s string) (b byteSet) {
	for i := 0; i < len(s); i++ {
		b[s[i]>>6] |= 1 << (s[i] & 63)
	}
	return b
}

func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// mayContain reports whether s, whose bytes are b, may contain part:
// false is certain.
func (b *byteSet) mayContain(part string) bool {
	return b.has(part[0]) && (len(part) < 2 || b.has(part[1])) && (len(part) < 3 || b.has(part[len(part)-1]))
}

// isTVModel reports a TV or set-top box model: a "TV" or "box" token, a
// part in tvModelParts, Amazon's "AFT" codes, or a TV's model code, which
// starts with the screen size ("55UR50GU", "LD-43SF4850BS").
func isTVModel(m string, b *byteSet) bool {
	if b.has('T') && hasTVToken(m) || (b.has('x') || b.has('X')) && (hasWordFold(m, "box") || strings.HasSuffix(m, "BOX") ||
		strings.HasSuffix(m, "Box") || strings.Contains(m, "BOX-") || strings.Contains(m, "BOX_") || strings.Contains(m, "Box-")) {
		return !strings.Contains(m, "Xbox") && !strings.Contains(m, "XBOX")
	}
	for _, s := range tvModelParts {
		if b.mayContain(s) && strings.Contains(m, s) {
			return true
		}
	}
	if strings.HasPrefix(m, "AFT") && len(m) > 3 && isUpper(m[3]) || strings.HasSuffix(m, "TV") && !strings.HasSuffix(m, "DTV") ||
		hasToken(m, "4K") || hasToken(m, "8K") {
		return true
	}
	for _, p := range tvBoxPrefixes {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	if i := strings.Index(m, "LED"); i >= 0 && i+4 < len(m) && isDigit(m[i+3]) && isDigit(m[i+4]) {
		return true // "SW-LED43SB300": a screen size after LED
	}
	if screenSizeCode(m) {
		return true
	}
	// The code may follow the maker: "LD-43SF4850BS", "ONVO_32OV6000H",
	// "HARPER 65Q850TS".
	for i := 1; i < len(m)-5; i++ {
		if (m[i] == '-' || m[i] == '_' || m[i] == ' ') && screenSizeCode(m[i+1:]) {
			return true
		}
	}
	return false
}

// screenSizeCode reports a TV model code that starts with the screen
// size: two digits from 24 to 98, a capital letter, then a capital or a
// digit, at least six characters in all ("55UR50GU", "43F660TS",
// "50U11B").
func screenSizeCode(m string) bool {
	if len(m) < 6 || !isDigit(m[0]) || !isDigit(m[1]) || !isUpper(m[2]) || !isUpper(m[3]) && !isDigit(m[3]) {
		return false
	}
	n := int(m[0]-'0')*10 + int(m[1]-'0')
	return n >= 24 && n <= 98
}

// hasTVToken reports "TV" as a token of s: after the start, a separator
// or a lower-case letter ("MiTV", "HbbTV", "SMART-TV"), and before the end
// or a separator. "BNTV460" (a Nook tablet), "W-K420-TVM" (a phone) and
// "STV100" (a BlackBerry) have no TV token.
func hasTVToken(s string) bool {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], "TV")
		if i < 0 {
			return false
		}
		i += off
		before := i == 0 || isLower(s[i-1]) || isSep(s[i-1])
		j := i + 2
		after := j == len(s) || isSep(s[j])
		if before && after {
			return true
		}
		off = i + 2
	}
	return false
}

// isSep reports a byte that separates tokens in a User-Agent.
func isSep(c byte) bool {
	switch c {
	case ' ', '-', '_', '/', ';', '(', ')', '.', ',', '[', ']', ':', '+':
		return true
	}
	return false
}

// hasToken reports whether s contains t between separators (or the
// ends): "Box R 4K", not "5044K".
func hasToken(s, t string) bool {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], t)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(t)
		if (i == 0 || isSep(s[i-1])) && (j == len(s) || isSep(s[j])) {
			return true
		}
		off = j
	}
	return false
}

// hasWordFold reports whether s contains word (lower-case letters and
// digits), ignoring case, not inside a longer run of letters.
func hasWordFold(s, word string) bool {
	n := len(word)
	for i := 0; i+n <= len(s); i++ {
		if s[i]|0x20 != word[0] || (i > 0 && isLetter(s[i-1])) || (i+n < len(s) && isLetter(s[i+n])) {
			continue
		}
		j := 1
		for j < n && s[i+j]|0x20 == word[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// isWearableModel reports a watch or a headset: "Watch" (Galaxy Watch,
// TicWatch), Samsung's "SM-R" watch codes, a "VR" token, Meta's Quest and
// Pico headsets.
func isWearableModel(m string, b *byteSet) bool {
	return (b.has('W') || b.has('w')) && (strings.Contains(m, "Watch") || strings.Contains(m, "WATCH") || strings.Contains(m, "watch")) ||
		strings.HasPrefix(m, "SM-R") || m == "Quest" || strings.HasPrefix(m, "Quest 2") || strings.HasPrefix(m, "Quest 3") ||
		strings.HasPrefix(m, "Quest Pro") || strings.HasPrefix(m, "Pacific") || strings.HasPrefix(m, "Glass ") ||
		strings.HasPrefix(m, "Pico Neo") || strings.HasPrefix(m, "PICO 4") || strings.HasPrefix(m, "Pico 4") || hasWordFold(m, "vr")
}

// isConsoleModel reports a game console or a handheld: OUYA, NVIDIA
// SHIELD (the portable and the tablet, not the TV box), Retroid and
// Anbernic ("RG505") handhelds, gamepads.
func isConsoleModel(m string) bool {
	if hasWordFold(m, "ouya") || hasWordFold(m, "gamepad") || strings.HasPrefix(m, "SHIELD") || strings.HasPrefix(m, "Retroid") ||
		strings.HasPrefix(m, "AYANEO") || strings.HasPrefix(m, "AYN ") {
		return true
	}
	return len(m) == 5 && m[0] == 'R' && m[1] == 'G' && isDigit(m[2]) && isDigit(m[3]) && isDigit(m[4]) ||
		len(m) == 6 && m[0] == 'R' && m[1] == 'G' && isDigit(m[2]) && isDigit(m[3]) && isDigit(m[4]) && isUpper(m[5])
}

// laptopLines are the product lines of laptops and desktops, which run
// Android apps (Chromebooks, Windows Subsystem for Android) or Android
// itself.
var laptopLines = [...]string{
	"Chromebook", "Inspiron", "Latitude", "Vostro", "TravelMate", "LIFEBOOK", "Satellite", "SATELLITE", "EliteBook",
	"ProBook", "Pavilion", "OptiPlex", "ZenBook", "VivoBook", "MacBook", "NUC", "AIO", "Notebook", "Laptop", "Swift SF",
}

// isLaptopModel reports a laptop's or a desktop's model.
func isLaptopModel(m string, b *byteSet) bool {
	for _, l := range laptopLines {
		if b.mayContain(l) && strings.Contains(m, l) {
			return true
		}
	}
	return false
}

// oppoChinaCode reports OPPO's codes for phones sold in China: P, three
// capitals, two digits ("PEGM10", "PADM00").
func oppoChinaCode(m string) bool {
	return len(m) == 6 && m[0] == 'P' && isUpper(m[1]) && isUpper(m[2]) && isUpper(m[3]) && isDigit(m[4]) && isDigit(m[5])
}

// huaweiTabletCodes are the first letters of Huawei's and Honor's tablet
// codes ("AGS3-W09", "BAH2-L09", "KOB2-W09").
var huaweiTabletCodes = [...]string{
	"AGS", "AGR", "AGM", "BAH", "BZI", "BZT", "BZW", "BZK", "CMR", "DBY", "DBR", "GOT", "HDN", "HEY", "JDN", "KOB", "KRJ",
	"MRX", "SCM", "VRD", "BTV", "WGR", "BG2", "BGO", "BTK", "MON", "ELN", "NDL", "HDL", "CGA", "GDI", "TGR", "AGS2", "AGS3",
}

// huaweiTablet reports a Huawei or Honor tablet code, or a Huawei code
// whose "-W" says Wi-Fi only.
func huaweiTablet(m string) bool {
	i := strings.IndexByte(m, '-')
	if i < 3 || i > 4 || i+2 >= len(m) {
		return false
	}
	for _, c := range huaweiTabletCodes {
		if m[:i] == c || len(c) == 3 && i == 4 && m[:3] == c && isDigit(m[3]) {
			return true
		}
	}
	return isUpper(m[0]) && isUpper(m[1]) && m[i+1] == 'W' && isDigit(m[i+2])
}

// tabletPrefixes start the model codes of tablets: Samsung (SM-T, SM-X,
// SM-P, GT-P), Lenovo (TB-, YT-), Huawei and Honor (AGS, BAH, KOB, ...),
// Amazon (KF), Sony (SGP), Barnes & Noble (BNTV), Prestigio (PMT), Acer
// (A1-, B1-), and generic "MID" tablets.
var tabletPrefixes = [...]string{
	"SM-T", "SM-X", "SM-P", "GT-P", "GT-N5", "GT-N8", "SCH-I8", "SGP", "SGPT", "SHT-", "SHW-M38", "SHV-E140",
	"Lenovo TB", "TB-", "TB2-", "TB3-", "TB8", "TB-X", "YT-", "YT3-", "Lenovo YT", "IdeaTab", "Lenovo Tab", "Lenovo A1000L",
	"MediaPad", "MatePad", "HUAWEI MediaPad", "HUAWEI MatePad", "HUAWEI M2-", "HUAWEI M3", "HUAWEI M5",
	"KF", "BNTV", "BNRV", "Nook", "NOOK", "PMT", "PMID", "PMP", "MID", "A1-", "B1-", "B3-", "A3-A", "Iconia", "Xoom", "XOOM",
	"Nexus 7", "Nexus 9", "Nexus 10", "Pixel C", "Pixel Tablet", "OPD", "RMP2", "Transformer", "ASUS Pad",
	"K00", "K01", "P00", "P01", "P02", "iPlay", "Yoga Tab", "YOGA Tab", "Venue", "Dell Venue",
	"Optima", "Plane", "ImPAD", "Kingpad", "EZpad", "Readboy", "Nomi C", "Nomi_C", "Nokia T", "HTC Flyer", "PocketBook",
	"Vodafone Smart Tab", "LG-V", "LGT", "LM-T", "Surftab", "SurfTab", "ThinkPad Tablet", "Lenovo B", "Lenovo YB",
	"Lenovo PB", "Alldocube", "Kurio", "ThinkPadTablet", "SHIELD Tablet", "LG-LK", "LGLK", "SonySGP", "SM-N80",
	"MITO T",
	"Galaxy Tab", "Mi Pad", "MI PAD", "Redmi Pad", "Xiaomi Pad", "M2105K81", "21051182", "22081283", "23043RP34",
	"Teclast", "ALLDOCUBE",
}

// prefixTable holds prefixes by their first byte, so that a model is
// compared with the few that can match.
type prefixTable [256][]string

func newPrefixTable(prefixes []string) *prefixTable {
	var t prefixTable
	for _, p := range prefixes {
		t[p[0]] = append(t[p[0]], p)
	}
	return &t
}

// match reports whether m starts with one of the prefixes.
func (t *prefixTable) match(m string) bool {
	for _, p := range t[m[0]] {
		if len(p) <= len(m) && (len(p) < 2 || p[1] == m[1]) && m[:len(p)] == p {
			return true
		}
	}
	return false
}

var (
	tabletTable = newPrefixTable(tabletPrefixes[:])
	phoneTable  = newPrefixTable(phonePrefixes[:])
)

// isTabletModel reports a tablet model: a prefix in tabletPrefixes, a
// "Tab", "Pad" or "Tablet" token, or a numeric Alcatel or BQ tablet code.
func isTabletModel(m string) bool {
	if tabletTable.match(m) || huaweiTablet(m) {
		return true
	}
	if xiaomiNumber(m) && strings.Contains(m, "RP") {
		return true // Redmi Pad: "23073RPBFC"
	}
	if hasTabletWord(m) {
		return true
	}
	// BQ: 1xxx, 7xxx and 8xxx are tablets ("BQ-1036L", "BQ-8077L").
	if (strings.HasPrefix(m, "BQ-") || strings.HasPrefix(m, "BQru-")) && fourDigits(m[strings.IndexByte(m, '-')+1:]) {
		c := m[strings.IndexByte(m, '-')+1]
		return c == '1' || c == '7' || c == '8'
	}
	return false
}

// hasTabletWord reports a word that names a tablet in a model: "Tab",
// "Pad" (not "PadFone", a phone), "MID", "Nook", "Kids".
func hasTabletWord(m string) bool {
	if hasWordFold(m, "pad") || strings.Contains(m, "Pad") || strings.Contains(m, "PAD") || hasTab(m) ||
		hasWordFold(m, "kids") || hasWordFold(m, "nook") || strings.Contains(m, "MID") {
		return !strings.Contains(m, "Padfone") && !strings.Contains(m, "PadFone")
	}
	return false
}

// hasTab reports "tab" in any case, not as the start of "table"
// ("Portable", "Stable"): "Galaxy Tab", "Mobitab10c", "MyTAB", "Tablet".
func hasTab(m string) bool {
	for i := 0; i+3 <= len(m); i++ {
		if m[i]|0x20 == 't' && m[i+1]|0x20 == 'a' && m[i+2]|0x20 == 'b' &&
			!(i+5 <= len(m) && m[i+3]|0x20 == 'l' && m[i+4]|0x20 == 'e' && !(i+6 <= len(m) && m[i+5]|0x20 == 't')) {
			return true
		}
	}
	return false
}

// xiaomiNumber reports Xiaomi's numeric codes: the year and month of
// release, more digits, then capitals ("2201117TG", "23049PCD8G").
func xiaomiNumber(m string) bool {
	if len(m) < 8 {
		return false
	}
	i := 0
	for i < len(m) && isDigit(m[i]) {
		i++
	}
	return i >= 4 && i <= 8 && i < len(m) && isUpper(m[i]) && (m[0] == '2' || m[0] == '1')
}

// fourDigits reports four digits followed by the end, a letter, '_' or a
// space.
func fourDigits(m string) bool {
	if len(m) < 4 || !isDigit(m[0]) || !isDigit(m[1]) || !isDigit(m[2]) || !isDigit(m[3]) {
		return false
	}
	return len(m) == 4 || isLetter(m[4]) || m[4] == '_' || m[4] == ' '
}

// phonePrefixes start the model codes of phones.
var phonePrefixes = [...]string{
	"SM-G", "SM-A", "SM-J", "SM-N", "SM-S", "SM-F", "SM-M", "SM-E", "SM-C", "SM-W", "SM-B", "SAMSUNG", "Samsung", "Galaxy",
	"GT-I", "GT-S", "GT-B", "GT-C", "GT-E", "GT-N7", "GT-N9", "SGH-", "SCH-", "SPH-", "SC-0", "SC-5", "SCV", "SHV-", "SHW-",
	"LG-", "LGM-", "LGL", "LGMS", "LM-", "VS9", "VS8", "VS5", "moto", "Moto", "MOTO", "XT1", "XT2", "ONEPLUS", "OnePlus",
	"CPH", "RMX", "vivo", "VIVO", "iQOO", "Redmi", "REDMI", "MI ", "Mi ", "MI-", "MIX", "POCO", "Poco", "HM ", "Xiaomi",
	"Pixel", "Nexus", "Nokia", "NOKIA", "TA-1", "HTC", "ZTE", "Blade", "TECNO", "Tecno", "Infinix", "itel", "HUAWEI",
	"HONOR", "Honor", "ASUS_X", "ASUS_Z", "ASUS_I", "ASUS_A", "Zenfone", "ZenFone", "Lenovo K", "Lenovo P",
	"Lenovo X", "Lenovo Z", "Lenovo L", "Alcatel", "ALCATEL", "SO-", "SOV", "SOG", "XQ-", "Xperia", "Sony",
	"Micromax", "Lava", "LAVA", "OPPO", "Oppo", "realme", "Realme", "Meizu", "MEIZU", "Coolpad", "Motorola",
	"motorola", "Sharp", "SH-", "SHV", "KYOCERA", "Kyocera", "KYV", "F-0", "Infinix", "Hisense", "Wiko", "WIKO",
	"W-K", "W-V", "Vodafone", "UMIDIGI", "Ulefone", "DOOGEE", "Doogee", "BLU", "CUBOT", "Cubot", "OUKITEL", "Oukitel",
	"Condor", "Panasonic", "Fairphone", "Nothing", "A0", "IN20", "GM19", "HD19", "KB20", "LE21", "NE22", "PJ", "PH",
	"CPN", "MITO A", "IMO ", "Amazing", "TURKCELL", "MALATA", "UTime", "Yezz", "YEZZ", "Andy", "ZUUM", "iCherry",
	"NOA", "KENEKSI", "RHYTHM", "verykool",
}

// isPhoneModel reports a phone model: a prefix in phonePrefixes, Huawei's
// "ABC-L29" codes, or Alcatel's four-digit codes below 8000.
func isPhoneModel(m string) bool {
	if phoneTable.match(m) {
		return true
	}
	if fourDigits(m) && m[0] >= '4' && m[0] <= '7' {
		return true
	}
	// vivo ("V2027"), iQOO ("I2012") and Xiaomi ("M2101K6G",
	// "2201117TG") codes.
	if (m[0] == 'V' || m[0] == 'I') && fourDigits(m[1:]) || m[0] == 'M' && len(m) > 6 && fourDigits(m[1:]) && isUpper(m[5]) || xiaomiNumber(m) {
		return true
	}
	// Huawei and Honor phones: three or four capitals, '-', then L, AL,
	// TL, LX, NX, CL, DL, AN or U and a digit ("VOG-L29", "MED-AL00").
	i := strings.IndexByte(m, '-')
	if i >= 3 && i <= 4 && isUpper(m[0]) && isUpper(m[1]) && isUpper(m[2]) && i+2 < len(m) {
		r := m[i+1:]
		for _, p := range [...]string{"L", "AL", "TL", "LX", "NX", "CL", "DL", "AN", "U", "LGRP", "N"} {
			if strings.HasPrefix(r, p) && len(r) > len(p) && isDigit(r[len(p)]) {
				return true
			}
		}
	}
	return false
}
