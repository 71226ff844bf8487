package visit

import (
	"strings"
	"time"
)

// ParseTime reads the time of a simulated request (bespoke explain --at
// and --set now=, the preview's time, serve --dev-clock) as the checker
// reads a rule's from and until: RFC 3339 with its offset, its T and Z in
// either case. RFC 3339 allows them lower case, and a time a rule file
// accepts must not be refused when the same editor previews it.
func ParseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339, strings.ToUpper(strings.TrimSpace(s)))
}
