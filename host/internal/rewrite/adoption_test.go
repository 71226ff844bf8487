package rewrite

import (
	"fmt"
	"strings"
	"testing"
)

// TestAdoptionBound: a second <a> while the first is open runs the
// adoption agency, which closes what lies between the first <a> and the
// block after it (browsers close every element; the p then moves out).
// Up to maxAdoptWalk elements between, the rewriter closes them too, and
// the browser differential compares the whole page; past it, they stay
// open, and the differential stops at that tag (diffAdoption). The
// pages are FuzzBrowserDifferential's (nine elements between: they once
// stayed open, and the last p was inside the innermost) grown.
func TestAdoptionBound(t *testing.T) {
	for _, between := range []int{1, 9, maxAdoptWalk - 1, maxAdoptWalk, maxAdoptWalk + 1, 3 * maxAdoptWalk} {
		t.Run(fmt.Sprint(between), func(t *testing.T) {
			page := "<a><a>" + strings.Repeat("<span>", between) + "<p><a class=x><p>y"
			stats := checkPage(t, page)
			if stats == nil {
				return // checkPage said why
			}
			_, c := markedTree(page)
			cut := c.adopt
			wantCut := -1
			if between > maxAdoptWalk {
				wantCut = strings.Index(page, "<a class=x>")
			}
			if cut != wantCut {
				t.Errorf("the rewriter's adoption agency stopped at byte %d, want %d", cut, wantCut)
			}
			if got, want := stats[diffAdoption.name], min(1, wantCut+1); got != want {
				t.Errorf("%d pages cut for %s, want %d", got, diffAdoption.name, want)
			}
		})
	}
}
