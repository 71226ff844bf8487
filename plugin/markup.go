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
	// ("" for any), for the actions that write inside it.
	var types []string
	if op == OpSetInner || op == OpPrepend || op == OpAppend {
		if list, err := selector.Parse(strings.TrimSpace(sel)); err == nil {
			for _, cx := range list {
				types = append(types, strings.ToLower(cx.Compounds[len(cx.Compounds)-1].Type))
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
	// set_inner and append end the element: its end tag follows the
	// markup, and closes what HTML lets it (CheckContent) when the
	// selector says which element it is.
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
