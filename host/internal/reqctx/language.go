package reqctx

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/plugin"
)

// PrimaryLanguage returns the primary subtag, lower-cased, of the language
// the visitor prefers most in an Accept-Language header ("fr" for
// "fr-CA,fr;q=0.9,en;q=0.8"): Languages(header)[0], without allocating.
// Entries with q=0, the wildcard and tags that are not languages are
// ignored; among equal weights the first listed wins. ok is false when no
// language is given.
func PrimaryLanguage(header string) (lang string, ok bool) {
	best, bestQ := "", 0.0
	for header != "" {
		var item string
		item, header, _ = strings.Cut(header, ",")
		if primary, q, ok := languageItem(item); ok && q > bestQ {
			best, bestQ = primary, q
		}
	}
	if best == "" {
		return "", false
	}
	return best, true
}

// languageItem reads one item of an Accept-Language list ("fr-CA;q=0.9"):
// its primary subtag, lower-cased, and its weight. A withdrawn code gives
// the one that replaced it ("iw" gives "he"). ok is false for the
// wildcard; for a tag whose primary subtag is not a language code of two
// or three letters (RFC 5646 2.2.1; the longer ones are reserved, and
// none is registered), such as "english"; for the private-use and
// grandfathered prefixes ("x-", "i-"); for the codes of no particular
// language ("und", "mul", "mis", "zxx"); and for a weight of 0. A weight
// that is not a qvalue (RFC 9110 12.4.2: 0 to 1, at most three decimals)
// counts as 0, as x/text's parser rejects it.
func languageItem(item string) (primary string, q float64, ok bool) {
	tag, params, _ := strings.Cut(item, ";")
	tag = strings.TrimSpace(tag)
	q = 1
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q = qvalue(strings.TrimSpace(v))
		}
	}
	primary, _, _ = strings.Cut(tag, "-")
	primary, _, _ = strings.Cut(primary, "_")
	if q <= 0 || !isAlpha(primary) || len(primary) < 2 || len(primary) > 3 {
		return "", 0, false
	}
	primary = strings.ToLower(primary)
	switch primary {
	case "und", "mul", "mis", "zxx":
		return "", 0, false
	}
	if c, ok := plugin.ReplacedLanguage(primary); ok {
		primary = c
	}
	return primary, q, true
}

// qvalue reads a weight: "0", "0.5", "1", "1.000"; anything else is 0.
func qvalue(v string) float64 {
	if v == "" || len(v) > 5 || v[0] != '0' && v[0] != '1' {
		return 0
	}
	if len(v) > 1 && v[1] != '.' {
		return 0
	}
	for i := 2; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f > 1 {
		return 0
	}
	return f
}

// joinLines is a list header's lines as one list (RFC 9110 5.3): a
// request may send Accept-Language on two lines.
func joinLines(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs, ",")
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Languages returns the primary subtags, lower-cased and without
// duplicates, of every language in an Accept-Language header with a weight
// above 0, most preferred first (stable among equal weights): "de-CH,
// de;q=0.9, en;q=0.5, fr;q=0" gives [de en].
func Languages(header string) []string {
	type entry struct {
		lang string
		q    float64
	}
	var es []entry
	for header != "" {
		var item string
		item, header, _ = strings.Cut(header, ",")
		if primary, q, ok := languageItem(item); ok {
			es = append(es, entry{primary, q})
		}
	}
	// The header is the visitor's, up to limits.max_header_bytes: an
	// insertion sort and a scan of the languages kept for each item made
	// 64 KB of distinct codes cost seconds. A browser's list is short,
	// and a scan of a few kept languages costs less than a map.
	slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(b.q, a.q) })
	var out []string
	var kept map[string]bool
	for _, e := range es {
		if kept == nil && len(out) >= 8 {
			kept = make(map[string]bool, len(out)*2)
			for _, l := range out {
				kept[l] = true
			}
		}
		if kept == nil && slices.Contains(out, e.lang) || kept[e.lang] {
			continue
		}
		if kept != nil {
			kept[e.lang] = true
		}
		out = append(out, e.lang)
	}
	return out
}
