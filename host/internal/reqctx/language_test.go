package reqctx

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
)

func TestLanguages(t *testing.T) {
	tests := []struct {
		header  string
		want    []string
		primary string
	}{
		{"fr-CA,fr;q=0.9,en;q=0.8", []string{"fr", "en"}, "fr"},
		{"de-CH, de;q=0.9, en;q=0.5, fr;q=0", []string{"de", "en"}, "de"},
		{"en;q=0.5, ja", []string{"ja", "en"}, "ja"},
		{"*", nil, ""},
		{"*;q=1, es;q=0.1", []string{"es"}, "es"},
		{"", nil, ""},
		{" , ;q=1", nil, ""},
		{"EN-us", []string{"en"}, "en"},
		{"zh-Hant-TW,zh;q=0.8", []string{"zh"}, "zh"},
		{"pt_BR", []string{"pt"}, "pt"},
		{"1234, fr;q=0.5", []string{"fr"}, "fr"},      // not a language: the next one
		{"x-klingon, it;q=0.2", []string{"it"}, "it"}, // private use: no language
		{"i-klingon, it;q=0.2", []string{"it"}, "it"},
		{"english, de;q=0.9", []string{"de"}, "de"}, // a word, not a code
		{"und, mul, mis, zxx, ja;q=0.1", []string{"ja"}, "ja"},
		{"iw-IL, en;q=0.5", []string{"he", "en"}, "he"}, // withdrawn codes
		{"in, ji, jw, mo, sh", []string{"id", "yi", "jv", "ro", "sr"}, "id"},
		{"he, iw;q=0.9", []string{"he"}, "he"},
		{"haw, fil;q=0.5", []string{"haw", "fil"}, "haw"},
		{"toolongtag, nl;q=0.3", []string{"nl"}, "nl"},
		{"en;q=NaN, de;q=0.1", []string{"de"}, "de"}, // not a qvalue: 0
		{"en;q=0x1p-1, de;q=0.1", []string{"de"}, "de"},
		{"en;q=1.5, de;q=0.1", []string{"de"}, "de"},
		{"en;q=.5, de;q=0.1", []string{"de"}, "de"},
		{"en;q=1.000, de;q=0.999", []string{"en", "de"}, "en"},
		{"en;Q=0.2, de;q=0.3", []string{"de", "en"}, "de"},
		{"fr;q=0.5, en;q=0.5", []string{"fr", "en"}, "fr"}, // equal: the first listed
		{"en, en-GB;q=0.9, fr", []string{"en", "fr"}, "en"},
	}
	for _, tt := range tests {
		if got := Languages(tt.header); !slices.Equal(got, tt.want) {
			t.Errorf("Languages(%q) = %q, want %q", tt.header, got, tt.want)
		}
		got, ok := PrimaryLanguage(tt.header)
		if got != tt.primary || ok != (tt.primary != "") {
			t.Errorf("PrimaryLanguage(%q) = %q, %v; want %q", tt.header, got, ok, tt.primary)
		}
	}
}

// TestLanguagesLongHeader: a visitor's header of thousands of languages,
// each listed with a higher weight than the one before (the order that
// moved every item past all the others), reads in time linear in its
// length, as each language's best weight, the first listed among equal
// ones.
func TestLanguagesLongHeader(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 256<<10; i++ {
		code := string([]byte{byte('a' + i%26), byte('a' + i/26%26), byte('a' + i/676%26)})
		fmt.Fprintf(&b, "%s;q=0.%03d, ", code, 1+i%999)
	}
	header := b.String()
	start := time.Now()
	got := Languages(header)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Languages took %v on %d bytes", d, len(header))
	}
	best := map[string]float64{}
	first := map[string]int{}
	var order []string
	for i, item := range strings.Split(header, ",") {
		lang, q, ok := languageItem(item)
		if !ok {
			continue
		}
		if _, ok := best[lang]; !ok {
			order = append(order, lang)
		}
		if q > best[lang] {
			best[lang], first[lang] = q, i
		}
	}
	slices.SortFunc(order, func(a, b string) int {
		if best[a] != best[b] {
			return cmp.Compare(best[b], best[a])
		}
		return cmp.Compare(first[a], first[b])
	})
	if !slices.Equal(got, order) {
		t.Errorf("Languages gave %d languages, first %q; want %d, first %q", len(got), got[:min(5, len(got))], len(order), order[:min(5, len(order))])
	}
}

// TestLanguagesAgainstXText compares Languages with x/text's
// Accept-Language parser on random headers made of real tags, weights,
// wildcards and spacing, the way browsers and scripts write them: the
// same languages, in the same order.
func TestLanguagesAgainstXText(t *testing.T) {
	tags := []string{"en", "en-US", "EN-gb", "fr", "fr-CA", "de-CH", "de", "es-419", "pt-BR", "zh-Hant-TW", "zh-CN", "ja",
		"ko", "ru", "ar-EG", "it", "nl-BE", "sv", "pl", "tr", "he", "hi-IN", "sr-Latn", "*",
		"iw-IL", "in", "ji", "jw", "mo", "sh"} // withdrawn codes, which x/text replaces
	weights := []string{"", ";q=1", ";q=0.9", ";q=0.5", ";q=0.500", ";q=0.1", ";q=0", ";q=0.0", ";q=1.0", " ; q=0.7"}
	rng := rand.New(rand.NewPCG(5, 6))
	compared := 0
	for range 20000 {
		var items []string
		for range 1 + rng.IntN(6) {
			items = append(items, tags[rng.IntN(len(tags))]+weights[rng.IntN(len(weights))])
		}
		header := strings.Join(items, []string{",", ", ", " ,"}[rng.IntN(3)])
		ref, qs, err := language.ParseAcceptLanguage(header)
		if err != nil {
			continue
		}
		var want []string
		for i, tag := range ref {
			base, _ := tag.Base() // the wildcard is "mul"
			if qs[i] <= 0 || base.String() == "und" || base.String() == "mul" || slices.Contains(want, base.String()) {
				continue
			}
			want = append(want, base.String())
		}
		compared++
		if got := Languages(header); !slices.Equal(got, want) {
			t.Fatalf("Languages(%q) = %q; x/text reads %q", header, got, want)
		}
		got, ok := PrimaryLanguage(header)
		if len(want) > 0 && got != want[0] || ok != (len(want) > 0) {
			t.Fatalf("PrimaryLanguage(%q) = %q, %v; x/text reads %q", header, got, ok, want)
		}
	}
	if compared < 10000 {
		t.Fatalf("only %d headers compared", compared)
	}
}

// FuzzLanguages: any header gives lower-case primary subtags of 2 or 3
// letters, without duplicates, and PrimaryLanguage is the first of them.
func FuzzLanguages(f *testing.F) {
	f.Add("fr-CA,fr;q=0.9,en;q=0.8")
	f.Add("*;q=1, es;q=0.1, 1234")
	f.Fuzz(func(t *testing.T, header string) {
		langs := Languages(header)
		for i, l := range langs {
			if len(l) < 2 || len(l) > 3 || strings.ToLower(l) != l || !isAlpha(l) || slices.Contains(langs[:i], l) {
				t.Fatalf("Languages(%q) = %q", header, langs)
			}
		}
		p, ok := PrimaryLanguage(header)
		if ok != (len(langs) > 0) || ok && p != langs[0] {
			t.Fatalf("PrimaryLanguage(%q) = %q, %v; Languages %q", header, p, ok, langs)
		}
	})
}
