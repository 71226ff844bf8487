package geo

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestSyntaxListsProviderHeaders checks the table of rules/SYNTAX.md that
// tells editors which headers each CDN provider is read from against the
// headers the readers consult.
func TestSyntaxListsProviderHeaders(t *testing.T) {
	b, err := os.ReadFile("../../../rules/SYNTAX.md")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile("`([A-Za-z0-9-]+)`")
	rows := 0
	for _, line := range strings.Split(string(b), "\n") {
		m := regexp.MustCompile("^\\| `([a-z]+)` \\|").FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p := Provider(m[1])
		want, ok := providerHeaders[p]
		if !ok {
			continue
		}
		rows++
		var got []string
		for _, c := range code.FindAllStringSubmatch(line, -1)[1:] {
			if strings.Contains(c[1], "-") || p == Akamai && strings.HasPrefix(c[1], "X-") {
				got = append(got, http.CanonicalHeaderKey(c[1]))
			}
		}
		sort.Strings(got)
		w := slices.Clone(want)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: SYNTAX.md lists %v, the reader consults %v", p, got, w)
		}
	}
	if rows != len(providerHeaders) {
		t.Errorf("SYNTAX.md lists %d providers, there are %d", rows, len(providerHeaders))
	}
}
