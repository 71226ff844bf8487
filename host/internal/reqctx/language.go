package reqctx

import (
	"slices"
	"strconv"
	"strings"
)

// PrimaryLanguage returns the primary subtag, lower-cased, of the language
// the visitor prefers most in an Accept-Language header ("fr" for
// "fr-CA,fr;q=0.9,en;q=0.8"). Entries with q=0 and the wildcard are
// ignored; among equal weights the first listed wins. ok is false when no
// language is given.
func PrimaryLanguage(header string) (lang string, ok bool) {
	best, bestQ := "", -1.0
	for header != "" {
		var entry string
		entry, header, _ = strings.Cut(header, ",")
		tag, params, _ := strings.Cut(entry, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" || tag == "*" {
			continue
		}
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0 // a malformed weight counts as "not acceptable"
				}
				q = f
			}
		}
		if q > bestQ && q > 0 {
			best, bestQ = tag, q
		}
	}
	if best == "" {
		return "", false
	}
	primary, _, _ := strings.Cut(best, "-")
	primary, _, _ = strings.Cut(primary, "_")
	if !isAlpha(primary) || len(primary) > 8 {
		return "", false
	}
	return strings.ToLower(primary), true
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
		tag, params, _ := strings.Cut(item, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" || tag == "*" {
			continue
		}
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		primary, _, _ := strings.Cut(tag, "-")
		primary, _, _ = strings.Cut(primary, "_")
		if q <= 0 || !isAlpha(primary) || len(primary) > 8 {
			continue
		}
		es = append(es, entry{strings.ToLower(primary), q})
	}
	// Insertion sort: stable, and lists are short.
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].q > es[j-1].q; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	var out []string
	for _, e := range es {
		if !slices.Contains(out, e.lang) {
			out = append(out, e.lang)
		}
	}
	return out
}
