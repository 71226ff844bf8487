package tzname

import (
	"testing"
	"time"
	_ "time/tzdata"
)

func TestCurrent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Asia/Calcutta", "Asia/Kolkata"},
		{"Asia/Kolkata", "Asia/Kolkata"},
		{"Europe/Kiev", "Europe/Kyiv"},
		{"Asia/Saigon", "Asia/Ho_Chi_Minh"},
		{"US/Eastern", "America/New_York"},
		{"GB", "Europe/London"},
		{"Europe/Belfast", "Europe/London"},
		// A link whose data points at another region's zone because
		// their clocks agree is read as the region it names.
		{"Iceland", "Atlantic/Reykjavik"},
		{"Pacific/Truk", "Pacific/Chuuk"},
		{"Africa/Asmera", "Africa/Asmara"},
		// A link to a link ends at a current name.
		{"Australia/ACT", "Australia/Sydney"},
		// A region's own name stays, even where its data is a link.
		{"Europe/Busingen", "Europe/Busingen"},
		{"Europe/Amsterdam", "Europe/Amsterdam"},
		{"Arctic/Longyearbyen", "Arctic/Longyearbyen"},
		{"UTC", "UTC"},
		{"Etc/UTC", "UTC"},
		{"Zulu", "UTC"},
		{"Etc/GMT", "Etc/GMT"},
		{"asia/calcutta", "asia/calcutta"}, // names are case-sensitive
		{"", ""},
		{"Mars/Olympus_Mons", "Mars/Olympus_Mons"},
	} {
		if got := Current(tc.in); got != tc.want {
			t.Errorf("Current(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLinksKeepTheClock holds every old name to a current one that keeps
// the same time, by Go's embedded database, at instants across the years
// a visitor's clock is read for; and every current name to one the
// database holds and the table does not rename again.
func TestLinksKeepTheClock(t *testing.T) {
	if len(links) < 100 {
		t.Fatalf("%d links: the table is not the tz database's", len(links))
	}
	var instants []time.Time
	for y := 2000; y <= 2030; y++ {
		for _, m := range []time.Month{time.January, time.April, time.July, time.October} {
			instants = append(instants, time.Date(y, m, 15, 12, 0, 0, 0, time.UTC))
		}
	}
	for old, cur := range links {
		if _, again := links[cur]; again {
			t.Errorf("%s -> %s, which is renamed again", old, cur)
		}
		lo, err := time.LoadLocation(old)
		if err != nil {
			t.Errorf("%s: %v", old, err)
			continue
		}
		lc, err := time.LoadLocation(cur)
		if err != nil {
			t.Errorf("%s -> %s: %v", old, cur, err)
			continue
		}
		for _, at := range instants {
			_, o1 := at.In(lo).Zone()
			_, o2 := at.In(lc).Zone()
			if o1 != o2 {
				t.Errorf("%s -> %s: at %s, offsets %d and %d", old, cur, at.Format(time.DateOnly), o1, o2)
				break
			}
		}
	}
}

func BenchmarkCurrent(b *testing.B) {
	for b.Loop() {
		Current("Europe/Paris")
	}
}
