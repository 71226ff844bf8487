package geo

import "strings"

// continentCountries lists, per continent code, the ISO 3166-1 alpha-2
// countries on it. It follows GeoNames, which MaxMind databases use, so that
// a country named by a CDN header lands on the continent the database would
// give: Russia and Cyprus in Europe, Turkey and the Caucasus in Asia, Egypt
// in Africa, Panama and the Caribbean in North America. XK (Kosovo) is
// included because providers use it although ISO has not assigned it.
var continentCountries = [...]struct{ continent, countries string }{
	{"AF", "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW"},
	{"AN", "AQ BV GS HM TF"},
	{"AS", "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TM TR TW UZ VN YE"},
	{"EU", "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK"},
	{"NA", "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI"},
	{"OC", "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TL TO TV UM VU WF WS"},
	{"SA", "AR BO BR CL CO EC FK GF GY PE PY SR UY VE"},
}

// twoLetter holds every upper-case two-letter string, so that normalising a
// country code from a header never allocates; continentOf is indexed the
// same way and holds "" for codes that are not countries.
var (
	twoLetter   [26 * 26]string
	continentOf [26 * 26]string
)

func init() {
	for i := range twoLetter {
		twoLetter[i] = string([]byte{'A' + byte(i/26), 'A' + byte(i%26)})
	}
	for _, c := range continentCountries {
		for cc := range strings.FieldsSeq(c.countries) {
			continentOf[letterIndex(cc[0], cc[1])] = c.continent
		}
	}
}

// letterIndex maps two ASCII letters of either case to their slot in
// twoLetter, or -1.
func letterIndex(a, b byte) int {
	a |= 0x20
	b |= 0x20
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return -1
	}
	return int(a-'a')*26 + int(b-'a')
}

// continentFor returns the continent of an upper-case country code, or "".
func continentFor(country string) string {
	if len(country) != 2 {
		return ""
	}
	i := letterIndex(country[0], country[1])
	if i < 0 {
		return ""
	}
	return continentOf[i]
}

// continents are the valid values of Info.Continent.
var continents = [...]string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

// normContinent returns the upper-case continent code in s, or "" when s is
// not one of the seven codes.
func normContinent(s string) string {
	s = trimOWS(s)
	if len(s) != 2 {
		return ""
	}
	i := letterIndex(s[0], s[1])
	if i < 0 {
		return ""
	}
	for _, c := range continents {
		if twoLetter[i] == c {
			return c
		}
	}
	return ""
}
