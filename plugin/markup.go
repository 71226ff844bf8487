package plugin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/fragment"
	"github.com/bespoke-edge/bespoke/internal/selector"
)

// CheckMarkup checks the content of action a when it is html (set_inner,
// replace, insert_before, insert_after, prepend, append): the markup must
// finish what it starts and close no element of the page's (package
// internal/fragment). A browser reads the page after the markup in the
// state the markup left it: an unclosed <script>, comment or quote turns
// the page's own markup after it into script, a comment or a value, and
// a value of the request written there by another action as text or as
// an attribute would be read as that too. sel is the action's selector:
// for set_inner, prepend and append, the type of the element it names
// (ul.cards, select#size) says what the element's end tag closes, and a
// <script>, <style>, <textarea> ... holds text, not markup. Values stand
// as the text "x" (escape.CheckHTML puts them only in text and quoted
// attribute values). It returns the problem, if any, the index of the
// part of a.Content it is in, and the offset in that part's text.
func CheckMarkup(a *Action, sel string) (prob *fragment.Problem, part, off int) {
	op, content := a.Op, a.Content
	switch {
	case !a.HTML || content == nil:
		return nil, 0, 0
	case op != OpSetInner && op != OpReplace && op != OpInsertBefore && op != OpInsertAfter && op != OpPrepend && op != OpAppend:
		return nil, 0, 0
	}
	// The type of the element each alternative of the selector selects
	// ("" for any): for the actions that write inside it, what holds the
	// markup; for the others, what the markup stands beside.
	var types, beside []string
	if list, err := selector.Parse(strings.TrimSpace(sel)); err == nil {
		for _, cx := range list {
			typ := strings.ToLower(cx.Compounds[len(cx.Compounds)-1].Type)
			if op == OpSetInner || op == OpPrepend || op == OpAppend {
				types = append(types, typ)
			} else {
				beside = append(beside, typ)
			}
		}
	}
	for _, typ := range types {
		switch typ {
		case "script", "style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes":
			return nil, 0, 0 // its content is text, not markup
		}
	}
	var b strings.Builder
	starts := make([]int, len(content))
	for i, p := range content {
		starts[i] = b.Len()
		if p.Slot >= 0 || p.Experiment != 0 {
			b.WriteString("x")
		} else {
			b.WriteString(p.Text)
		}
	}
	// In a table, markup stands among rows or cells, which is where the
	// selector puts it: inside a row group or a row, or beside a row or a
	// cell (fragment.CheckTable); elsewhere, set_inner and append end the
	// element: its end tag follows the markup, and closes what HTML lets
	// it (CheckContent) when the selector says which element it is.
	tables := 0
	for _, typ := range types {
		if tableHolder(typ) != "" {
			tables++
		}
	}
	for _, typ := range beside {
		if tableSibling(typ) != "" {
			tables++
		}
	}
	switch {
	case tables > 0 && tables == len(types)+len(beside):
		for _, typ := range types {
			if prob == nil {
				prob = fragment.CheckTable(b.String(), tableHolder(typ))
			}
		}
		for _, typ := range beside {
			if prob == nil {
				prob = fragment.CheckTable(b.String(), tableSibling(typ))
			}
		}
	default:
		if op == OpPrepend || len(types) == 0 {
			prob = fragment.Check(b.String())
		}
		for _, typ := range types {
			if prob != nil {
				break
			}
			if op != OpPrepend {
				prob = fragment.CheckContent(b.String(), typ)
			}
		}
	}
	if prob == nil {
		return nil, 0, 0
	}
	if fragment.ImpliedEnd(prob.Open) && op != OpPrepend && slices.Contains(types, "") {
		p := *prob
		p.Hint += fmt.Sprintf("; or name the type of the element in the selector (ul.cards, select#size): its end tag closes the last <%s>", prob.Open)
		prob = &p
	}
	for i := len(content) - 1; i >= 0; i-- {
		if starts[i] <= prob.Off {
			return prob, i, prob.Off - starts[i]
		}
	}
	return prob, 0, prob.Off
}

// tableHolder is the table context of markup written inside an element
// of type typ: rows in a row group (a table's rows go in a row group the
// parser makes), cells in a row; "" outside tables.
func tableHolder(typ string) string {
	switch typ {
	case "table", "tbody", "thead", "tfoot":
		if typ == "table" {
			return "tbody"
		}
		return typ
	case "tr":
		return "tr"
	}
	return ""
}

// tableSibling is the table context of markup written beside an element
// of type typ: rows beside a row, cells beside a cell; "" otherwise.
func tableSibling(typ string) string {
	switch typ {
	case "tr":
		return "tbody"
	case "td", "th":
		return "tr"
	}
	return ""
}
