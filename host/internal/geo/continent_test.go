package geo

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestContinentTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range continentCountries {
		if normContinent(c.continent) != c.continent {
			t.Errorf("continent %q is not a continent code", c.continent)
		}
		for cc := range strings.FieldsSeq(c.countries) {
			if seen[cc] {
				t.Errorf("%s is listed twice", cc)
			}
			seen[cc] = true
			if normCountry(cc) != cc {
				t.Errorf("%s is not a country code", cc)
			}
		}
	}
	// ISO 3166-1 has 249 officially assigned codes; XK is the one addition.
	if len(seen) != 250 {
		t.Errorf("table has %d countries, want 250", len(seen))
	}
	for cc, want := range map[string]string{
		"FR": "EU", "RU": "EU", "CY": "EU", "TR": "AS", "GE": "AS", "EG": "AF",
		"US": "NA", "PA": "NA", "JM": "NA", "BR": "SA", "AU": "OC", "TL": "OC",
		"AQ": "AN", "XK": "EU", "JP": "AS",
		"XX": "", "ZZ": "", "": "", "FRA": "", "1A": "",
	} {
		if got := continentFor(cc); got != want {
			t.Errorf("continentFor(%q) = %q, want %q", cc, got, want)
		}
	}
}

// TestContinentTableCoversISO3166 checks the table against the system's
// copy of the ISO 3166 list from the tz database, where there is one.
func TestContinentTableCoversISO3166(t *testing.T) {
	f, err := os.Open("/usr/share/zoneinfo/iso3166.tab")
	if err != nil {
		t.Skip("no iso3166.tab here:", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		cc, _, _ := strings.Cut(line, "\t")
		n++
		if continentFor(cc) == "" {
			t.Errorf("%s (%s) has no continent", cc, line)
		}
	}
	if n < 240 {
		t.Errorf("read only %d codes from iso3166.tab", n)
	}
}

func TestNormContinent(t *testing.T) {
	for in, want := range map[string]string{
		"EU": "EU", "eu": "EU", " na ": "NA", "AN": "AN", "OC": "OC",
		"XX": "", "T1": "", "Europe": "", "": "", "E": "",
	} {
		if got := normContinent(in); got != want {
			t.Errorf("normContinent(%q) = %q, want %q", in, got, want)
		}
	}
}
