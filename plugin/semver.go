package plugin

import (
	"strconv"
	"strings"
)

// SemverNumber maps a version to a number that orders as semantic versions
// do, so that `semver(header("X-App-Version")) >= "2.3"` is one numeric
// comparison in the module. The host applies it to values, the compiler to
// literals.
//
// A leading "v" is ignored; missing minor and patch numbers are 0 ("17" is
// 17.0.0); build metadata ("+...") is ignored; a pre-release ("-beta")
// sorts just before its release, and all pre-releases of one version are
// equal. Major must be below 9000 and minor and patch below 1,000,000, so
// that the number is exact in a float64. ok is false for anything else.
func SemverNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	pre := false
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre = i < len(s)-1
		s = s[:i]
	}
	if s == "" {
		return 0, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return 0, false
	}
	var n [3]uint64
	for i, p := range parts {
		if p == "" || len(p) > 7 {
			return 0, false
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return 0, false
		}
		n[i] = v
	}
	if n[0] >= 9000 || n[1] >= 1e6 || n[2] >= 1e6 {
		return 0, false
	}
	v := float64(n[0])*1e12 + float64(n[1])*1e6 + float64(n[2])
	if pre {
		v -= 0.5
	}
	return v, true
}
