package main

import "testing"

func TestDiagCount(t *testing.T) {
	for _, c := range []struct {
		errs, warns int
		want        string
	}{
		{1, 5, "1 error, 5 warnings"},
		{1, 1, "1 error, 1 warning"},
		{2, 0, "2 errors"},
		{0, 3, "3 warnings"},
		{0, 1, "1 warning"},
		{0, 0, ""},
	} {
		if got := diagCount(c.errs, c.warns); got != c.want {
			t.Errorf("diagCount(%d, %d) = %q, want %q", c.errs, c.warns, got, c.want)
		}
	}
}
