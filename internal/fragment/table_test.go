package fragment

import (
	"strings"
	"testing"
)

// TestCheckTable: markup among a row group's rows or a row's cells is
// read by x/net/html, a parser that follows the HTML standard, in a
// table: rows and cells that close what they open pass, with the end
// tags HTML lets a page leave out; what the parser moves out of the
// table, what ends the element the markup is put in, and what stays open
// are refused.
func TestCheckTable(t *testing.T) {
	tests := []struct {
		ctx, src string
		want     string // in the problem's message; "" for none
	}{
		{"tbody", "<tr><td>XL</td></tr>", ""},
		{"tbody", "<tr><td>XL</td><td>42</td></tr><tr><td>XXL</td></tr>", ""},
		{"tbody", "<tr><td>XL", ""}, // ends HTML lets a page leave out
		{"tbody", "<tr><th scope=row>XL</th><td><b>42</b></td></tr>", ""},
		{"tbody", "<tr><td><div>x</div></td></tr>", ""},
		{"tbody", "  <tr><td>x</td></tr>\n", ""}, // spaces stay in the table
		{"thead", "<tr><th>Size</th></tr>", ""},
		{"tr", "<td>new</td>", ""},
		{"tr", "<th>Size</th><td>1</td>", ""},
		{"tbody", "<div>oops</div>", "a <div> cannot stand in a <tbody>"},
		{"tbody", "<tr><td>x</td></tr>stray text", "text cannot stand in a <tbody>"},
		{"tbody", "</tbody>", "closes an element this html did not open"},
		{"tbody", "</table>", "closes an element this html did not open"},
		{"tr", "</tr>", "closes an element this html did not open"},
		{"tbody", "<tr><td><table><tr><td>x", "is not closed"},
		{"tbody", "<tr><td><!-- x", "the comment is not closed"},
		{"tbody", "<tr><td><script>x", "<script> is not closed"},
		{"tr", "<tr><td>x</td></tr>", "ends the <tr> it is put in"},
		{"tbody", "<tbody><tr><td>x</td></tr></tbody>", "ends the <tbody> it is put in"},
		{"tr", "<span>x</span>", "a <span> cannot stand in a <tr>"},
	}
	for _, tt := range tests {
		p := CheckTable(tt.src, tt.ctx)
		switch {
		case tt.want == "" && p != nil:
			t.Errorf("%s: %q: %s; %s", tt.ctx, tt.src, p.Msg, p.Hint)
		case tt.want != "" && (p == nil || !strings.Contains(p.Msg, tt.want)):
			t.Errorf("%s: %q: %v, want a problem saying %q", tt.ctx, tt.src, p, tt.want)
		}
	}
	// Outside tables it is Check.
	if p := CheckTable("<p>x", "div"); p == nil {
		t.Error("div: an unclosed <p> passes")
	}
}
