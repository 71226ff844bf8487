package ruletest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Bounds on the pages CheckPages reads: a pages directory is a few
// saved pages of the site, not a crawl.
const (
	maxPages     = 500
	maxPageBytes = 8 << 20
)

// testPages returns an error for each test whose page file cannot be
// read, at its page:, naming the nearest file beside it: the test would
// fail with no page to check.
func testPages(prog *ir.Program, dir string) diag.List {
	var out diag.List
	var views []*ir.Test
	for _, t := range prog.Tests {
		views = append(append(views, t), t.Then...)
	}
	for _, t := range views {
		if t.Page == nil || t.Page.File == "" {
			continue
		}
		path := ir.FromFile(dir, t.Page.File)
		st, err := os.Stat(path)
		if err == nil && !st.IsDir() {
			continue
		}
		why := "not a file"
		if err != nil {
			why = "no such file"
			if !errors.Is(err, fs.ErrNotExist) {
				why = err.Error()
			}
		}
		d := diag.Errorf(t.Page.Pos, "page: %s cannot be read (%s)", t.Page.File, why)
		var names []string
		if entries, err := os.ReadDir(filepath.Dir(path)); err == nil {
			for _, e := range entries {
				if !e.IsDir() {
					names = append(names, e.Name())
				}
			}
		}
		if near := diag.Nearest(filepath.Base(path), names); near != "" {
			d = d.WithHint("did you mean %s?", filepath.Join(filepath.Dir(t.Page.File), near))
		} else {
			d = d.WithHint("a test's page is a file beside the rule file (page: home.html), or page: { body: '<h1>Hi</h1>' }")
		}
		out.Add(d)
	}
	return out
}

// CheckPages reads the HTML pages of the directory prog names (prog.Pages,
// from the rule file's directory dir) and returns a warning for each
// selector of prog's page edits that selects no element on any of them,
// nor in the html the rules insert: a typo in an id or a class, or an
// element the pages lost, which no request would show otherwise until a
// visitor missed the edit. Where an id or class of the selector is on no
// page, the warning names the nearest one that is. It also warns of a
// hide_seen or reorder whose items, on the pages, have none of them the
// attribute it reads their ids from. It returns nothing when prog names
// no pages or they hold no HTML page.
func CheckPages(prog *ir.Program, dir string) (diag.List, error) {
	missing := testPages(prog, dir)
	if prog.Pages == "" {
		return missing, nil
	}
	root := ir.FromFile(dir, prog.Pages)
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		// Every test of a page would fail with no page to check: say
		// why once, where the file names the directory.
		why := "not a directory"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = "no such directory"
		case err != nil:
			why = err.Error()
		}
		w := diag.Warningf(prog.PagesAt, "pages: %s cannot be read (%s)", root, why).
			WithHint("write the directory holding the origin's saved pages, relative to the rule file or absolute")
		return append(missing, w), nil
	}
	// WalkDir does not follow a link it starts at: pages: may name a
	// link to the saved pages, which bespoke test reads through it.
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	var docs []*html.Node
	var raws [][]byte      // each page's bytes, for ImpliedTag
	var pageNames []string // and its name in the directory
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || ext != ".html" && ext != ".htm" || len(docs) >= maxPages {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxPageBytes {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		doc, err := parseDoc(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		docs = append(docs, doc)
		raws = append(raws, b)
		if rel, err := filepath.Rel(root, path); err == nil {
			path = rel
		}
		pageNames = append(pageNames, filepath.ToSlash(path))
		return nil
	})
	if err != nil || len(docs) == 0 {
		return missing, err
	}
	pages := len(docs)
	// What the rules insert may be what another rule selects.
	for _, r := range prog.Rules {
		for _, a := range r.Actions {
			if doc := insertedDoc(a); doc != nil {
				docs = append(docs, doc)
			}
		}
	}
	ids, classes, tags := names(docs)
	var out diag.List
	warned, warnedID, warnedAlone, warnedImplied := map[int]bool{}, map[int]bool{}, map[int]bool{}, map[int]bool{}
	for _, r := range prog.Rules {
		for _, a := range r.Actions {
			if a.Select < 0 || a.Select >= len(prog.Selectors) || warned[a.Select] || !plugin.ElementOp(a.Op) {
				continue
			}
			src := prog.Selectors[a.Select]
			list, err := selector.Parse(src)
			if err != nil {
				continue
			}
			if items := selected(docs, list); len(items) > 0 {
				if a.IDAttr != "" && !warnedID[a.Select] {
					if e := idWarning(prog, a, src, items); e != nil {
						warnedID[a.Select] = true
						out.Add(e)
					}
				}
				if e := aloneWarning(prog, a, src, items); e != nil && !warnedAlone[a.Select] {
					warnedAlone[a.Select] = true
					out.Add(e)
				}
				if e := markupWarning(prog, a, src, list, items); e != nil {
					out.Add(e)
				}
				if e := impliedWarning(prog, a, src, list, docs[:pages], raws, pageNames); e != nil && !warnedImplied[a.Select] {
					warnedImplied[a.Select] = true
					out.Add(e)
				}
				continue
			}
			warned[a.Select] = true
			where := fmt.Sprintf("the %d pages of %s", pages, prog.Pages)
			if pages == 1 {
				where = "the page in " + prog.Pages
			}
			e := diag.Warningf(diag.Pos{File: prog.Source, Line: a.Pos.Line, Col: a.Pos.Col},
				"selector %q selects nothing on %s", src, where).WithCode("selects-nothing")
			miss, near := nearest(list, ids, classes, tags)
			if miss == "" {
				miss = missingAttr(docs, list)
			}
			switch {
			case miss != "" && near != "":
				e.WithHint("no element %s: did you mean %s?", miss, near)
			case miss != "":
				e.WithHint("no element there %s; if the element is on other pages, save one in %s", miss, prog.Pages)
			default:
				// Each tag, id, class and attribute of the selector is on
				// the pages: the elements that have them are not where
				// the selector looks for them.
				e.WithHint("its parts are there, not together; if the element is on other pages, save one in %s", prog.Pages)
			}
			out.Add(e)
		}
	}
	return append(missing, out...), nil
}

// impliedWarning warns of an action whose selector selects, on saved
// pages, an element the page has no tag for (html, head, body, tbody:
// the browser makes them where the page leaves their tags out, as
// minifiers do). The pages' documents have them, so the selector seems
// to select; bespoke edits only elements whose tags are in the page, and
// on those pages the action changes nothing. nil when no such page.
func impliedWarning(prog *ir.Program, a plugin.Action, src string, list selector.List, docs []*html.Node, raws [][]byte, pages []string) *diag.Error {
	var on []string
	tag := ""
	for i, doc := range docs {
		t := visit.ImpliedTag(src, raws[i])
		if t == "" || len(selected([]*html.Node{doc}, list)) == 0 {
			continue
		}
		tag = t
		on = append(on, pages[i])
	}
	if len(on) == 0 {
		return nil
	}
	where := filepath.ToSlash(filepath.Join(prog.Pages, on[0]))
	if len(on) > 1 {
		where = fmt.Sprintf("%d of the pages of %s (%s, ...)", len(on), prog.Pages, on[0])
	}
	return diag.Warningf(diag.Pos{File: prog.Source, Line: a.Pos.Line, Col: a.Pos.Col},
		"selector %q names %s, which %s has no <%s> tag for: the browser makes one, but bespoke edits only elements whose tags are in the page, so there this action changes nothing", src, tag, where, tag).
		WithCode("implied-element").
		WithHint("select an element whose tag the page has (main, #app), or have the origin write the <%s> tag", tag)
}

// selected returns the elements list selects in docs.
func selected(docs []*html.Node, list selector.List) []*html.Node {
	var out []*html.Node
	for _, d := range docs {
		out = append(out, queryAll(d, list)...)
	}
	return out
}

// idWarning returns a warning when no element of items, those the
// selector src of a (a hide_seen or reorder) selects on the pages, has
// the attribute a reads item ids from, or nil.
func idWarning(prog *ir.Program, a plugin.Action, src string, items []*html.Node) *diag.Error {
	seen := map[string]bool{}
	var names []string
	for _, n := range items {
		if _, ok := attr(n, a.IDAttr); ok {
			return nil
		}
		for _, at := range n.Attr {
			if k := strings.ToLower(at.Key); !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	e := diag.Warningf(diag.Pos{File: prog.Source, Line: a.Pos.Line, Col: a.Pos.Col},
		"%s reads each item's id from its %s attribute, which none of the %d elements %q selects on the pages has", a.Op, a.IDAttr, len(items), src).WithCode("selects-nothing")
	if near := diag.Nearest(a.IDAttr, names); near != "" {
		e.WithHint("did you mean id: \"@%s\"?", near)
	} else {
		e.WithHint("their attributes are: %s", strings.Join(names, ", "))
	}
	return e
}

// aloneWarning returns a warning when a (a limit, a reorder, or a
// hide_seen that demotes or keeps some) selects several elements on the
// pages, src its selector, and never two in one parent, or nil: list
// edits work on the items of each list, the matched children of one
// parent, and a list of one has nothing to keep, move or bring back.
func aloneWarning(prog *ir.Program, a plugin.Action, src string, items []*html.Node) *diag.Error {
	what := ""
	switch {
	case a.Op == plugin.OpLimit:
		what = "keeps the first " + strconv.Itoa(a.N) + " items of each list"
	case a.Op == plugin.OpReorder:
		what = "moves items to the front of their list"
	case a.Op == plugin.OpHideSeen && a.Demote:
		what = "moves seen items to the end of their list"
	case a.Op == plugin.OpHideSeen && a.N > 0:
		what = "keeps at least " + strconv.Itoa(a.N) + " items of each list"
	default:
		return nil
	}
	if len(items) < 2 {
		return nil
	}
	parents := map[*html.Node]bool{}
	for _, n := range items {
		if n.Parent == nil || parents[n.Parent] {
			return nil
		}
		parents[n.Parent] = true
	}
	return diag.Warningf(diag.Pos{File: prog.Source, Line: a.Pos.Line, Col: a.Pos.Col},
		"%s %s, the elements it selects among the children of one parent, but each of the %d elements %q selects on the pages is alone in its parent: it changes nothing", a.Op, what, len(items), src).
		WithCode("list-of-one").
		WithHint("select the list's items themselves, the parent's children (ul.cards > li), not an element inside each")
}

// markupWarning returns a warning when the html of a, whose selector
// src (list) names no element type, cannot stand in an element it
// selects on the pages (items), as check tells when the selector names
// the type: a <div> appended to what is a <p> there, which browsers
// close before the <div>. Nil when there is no such problem.
func markupWarning(prog *ir.Program, a plugin.Action, src string, list selector.List, items []*html.Node) *diag.Error {
	if !a.HTML {
		return nil
	}
	typed := true
	for _, cx := range list {
		if cx.Compounds[len(cx.Compounds)-1].Type == "" {
			typed = false
		}
	}
	if typed {
		return nil // check told it, from the selector
	}
	tried := map[string]bool{}
	for _, n := range items {
		tag := strings.ToLower(n.Data)
		if n.Namespace != "" || tried[tag] || len(tried) >= 8 {
			continue
		}
		tried[tag] = true
		if prob, _, _ := plugin.CheckMarkup(&a, tag); prob != nil {
			return diag.Warningf(diag.Pos{File: prog.Source, Line: a.Pos.Line, Col: a.Pos.Col},
				"on the pages, %q selects a <%s>, and there %s", src, tag, prob.Msg).
				WithCode("html-in-element").
				WithHint("%s", prob.Hint)
		}
	}
	return nil
}

// names returns every id, class and tag name of docs.
func names(docs []*html.Node) (ids, classes, tags map[string]bool) {
	ids, classes, tags = map[string]bool{}, map[string]bool{}, map[string]bool{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			tags[strings.ToLower(n.Data)] = true
			if v, ok := attr(n, "id"); ok {
				ids[v] = true
			}
			if v, ok := attr(n, "class"); ok {
				for _, c := range strings.Fields(v) {
					classes[c] = true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	return ids, classes, tags
}

// nearest returns what no element of the pages is or has, of the ids,
// classes and tag names of list ("has the id \"heor\"", "is a <h2>"),
// and the one of the pages nearest it ("#hero"), or "".
func nearest(list selector.List, ids, classes, tags map[string]bool) (miss, near string) {
	keys := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	// The nearest of the same kind, else of the other: an id written as a
	// class (.currency for #currency) is a mistake too.
	suggest := func(name string, same, other map[string]bool, sameMark, otherMark string) string {
		if n := diag.Nearest(name, keys(same)); n != "" {
			return sameMark + n
		}
		if n := diag.Nearest(name, keys(other)); n != "" {
			return otherMark + n
		}
		return ""
	}
	for _, cx := range list {
		for _, cp := range cx.Compounds {
			for _, id := range cp.IDs {
				if !ids[id] {
					return fmt.Sprintf("has the id %q", id), suggest(id, ids, classes, "#", ".")
				}
			}
			for _, c := range cp.Classes {
				if !classes[c] {
					return fmt.Sprintf("has the class %q", c), suggest(c, classes, ids, ".", "#")
				}
			}
		}
	}
	for _, cx := range list {
		for _, cp := range cx.Compounds {
			if cp.Type != "" && !tags[cp.Type] {
				near := ""
				if len(cp.Type) >= 4 {
					// Short names are a digit or a letter apart (h2, h3).
					near = diag.Nearest(cp.Type, keys(tags))
				}
				return fmt.Sprintf("is a <%s>", cp.Type), near
			}
		}
	}
	return "", ""
}

// missingAttr returns what no element of docs has, of the attribute
// tests of list ("has the attribute data-slot", "has
// [data-slot=\"hero\"]"), or "".
func missingAttr(docs []*html.Node, list selector.List) string {
	for _, cx := range list {
		for _, cp := range cx.Compounds {
			for _, a := range cp.Attrs {
				named, matched := false, false
				for _, d := range docs {
					for _, n := range queryAll(d, selector.List{{Compounds: []selector.Compound{{Attrs: []selector.Attr{{Name: a.Name}}}}}}) {
						named = true
						if v, _ := attr(n, a.Name); a.Matches(v) {
							matched = true
						}
					}
				}
				switch {
				case !named:
					return fmt.Sprintf("has the attribute %s", a.Name)
				case !matched:
					only := selector.Compound{Attrs: []selector.Attr{a}}
					return "has " + only.String()
				}
			}
		}
	}
	return ""
}

// insertedDoc parses the html action a inserts, its templates' literal
// text and defaults (the values of the request are text, no elements);
// nil when a inserts no html.
func insertedDoc(a plugin.Action) *html.Node {
	if !a.HTML || len(a.Content) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range a.Content {
		b.WriteString(p.Text)
		b.WriteString(p.Default)
	}
	doc, err := parseDoc([]byte(b.String()))
	if err != nil {
		return nil
	}
	return doc
}
