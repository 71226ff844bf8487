package rewrite

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
)

// TestSyntaxDifferences checks the table of rules/SYNTAX.md that shows
// where bespoke's idea of the page differs from the browser's: for each
// row, the ids of the elements the rewriter selects, and of those cascadia
// selects on x/net/html's tree of the page.
func TestSyntaxDifferences(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "rules", "SYNTAX.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Where bespoke's idea of the page differs from the browser's")
	if !ok {
		t.Fatal("SYNTAX.md has no section on where bespoke differs from the browser")
	}
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) != 4 || !strings.HasPrefix(cells[0], "| `") {
			continue
		}
		rows++
		page := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		sel := strings.Trim(cells[1], "`")
		wantRW, wantBrowser := idsOf(cells[2]), idsOf(strings.TrimSuffix(cells[3], " |"))
		t.Run(sel, func(t *testing.T) {
			prog, err := CompileStrings([]string{sel})
			if err != nil {
				t.Fatal(err)
			}
			// The start tags the rewriter marked, in the page's order (a
			// browser would show the mark on copies too).
			out, _ := rewrite(t, prog, []Edit{{Op: SetAttr, Attr: hitAttr, Value: "1"}}, Options{}, page, chunker(len(page)+1, nil))
			var gotRW []string
			z := html.NewTokenizer(strings.NewReader(out))
			for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
				if tok := z.Token(); tt == html.StartTagToken || tt == html.SelfClosingTagToken {
					n := &html.Node{Attr: tok.Attr}
					if attrOf(n, hitAttr) != "" {
						gotRW = append(gotRW, attrOf(n, "id"))
					}
				}
			}
			inDoc, err := html.Parse(strings.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			var gotBrowser []string
			for _, n := range cascadia.MustCompile(sel).MatchAll(inDoc) {
				gotBrowser = append(gotBrowser, attrOf(n, "id"))
			}
			if !slices.Equal(gotRW, wantRW) {
				t.Errorf("%s on %s: bespoke selects %q, SYNTAX.md says %q", sel, page, gotRW, wantRW)
			}
			if !slices.Equal(gotBrowser, wantBrowser) {
				t.Errorf("%s on %s: the browser selects %q, SYNTAX.md says %q", sel, page, gotBrowser, wantBrowser)
			}
		})
	}
	if rows < 5 {
		t.Fatalf("found %d rows in the table", rows)
	}
}

// idsOf reads a cell of the table: "none: ..." or the ids in backquotes
// before any colon.
func idsOf(cell string) []string {
	cell, _, _ = strings.Cut(cell, ":")
	var ids []string
	for _, f := range strings.Fields(cell) {
		if strings.HasPrefix(f, "`") {
			ids = append(ids, strings.Trim(f, "`"))
		}
	}
	return ids
}
