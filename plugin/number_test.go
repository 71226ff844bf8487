package plugin

import (
	"strconv"
	"strings"
	"testing"
)

// TestParseNumber: a text is a number when JavaScript's Number and
// Python's float would both read it as a finite decimal; Go's own forms
// (hexadecimal floats, digit separators) are not numbers to an editor.
func TestParseNumber(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"3", 3, true}, {" 2.5 ", 2.5, true}, {"\t-0", 0, true}, {"05", 5, true}, {"+5", 5, true},
		{"5.", 5, true}, {".5", 0.5, true}, {"1e3", 1000, true}, {"-1.5E+1", -15, true}, {"1e-2", 0.01, true}, {"5\n", 5, true}, {"\r\n7 ", 7, true},
		{"", 0, false}, {" ", 0, false}, {".", 0, false}, {"-", 0, false}, {"e3", 0, false}, {"1e", 0, false},
		{"1e+", 0, false}, {"0x10", 0, false}, {"0x1p4", 0, false}, {"1_000", 0, false}, {"1,5", 0, false},
		{"NaN", 0, false}, {"Inf", 0, false}, {"infinity", 0, false}, {"1e400", 0, false}, {"5 5", 0, false},
		{"\u00a05", 0, false}, {"٣", 0, false}, {"--5", 0, false}, {"1.2.3", 0, false},
	} {
		got, ok := ParseNumber(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseNumber: what ParseNumber reads, strconv reads alike.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"3", " 2.5 ", "1e3", "0x10", "1_0", ".5e-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseNumber(s)
		if !ok {
			return
		}
		for _, c := range s {
			if !strings.ContainsRune(" \t\n\r\f\v", c) && c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E' && (c < '0' || c > '9') {
				t.Fatalf("%q read as %v holds %q", s, v, c)
			}
		}
		if w, err := strconv.ParseFloat(strings.Trim(s, " \t\n\r\f\v"), 64); err != nil || w != v {
			t.Fatalf("%q: %v, strconv %v %v", s, v, w, err)
		}
	})
}
