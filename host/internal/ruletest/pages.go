package ruletest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Bounds on the pages UnusedSelectors reads: a pages directory is a few
// saved pages of the site, not a crawl.
const (
	maxPages     = 500
	maxPageBytes = 8 << 20
)

// UnusedSelectors returns a warning for each selector of prog's page
// edits that selects no element on any HTML page of the directory pages
// (prog.Pages, read from the rule file's directory dir), nor in the html
// the rules insert: a typo in an id or a class, or an element the pages
// lost, which no request would show otherwise until a visitor missed the
// edit. Where an id or class of the selector is on no page, the warning
// names the nearest one that is. It returns nothing when prog names no
// pages or they hold no HTML page.
func UnusedSelectors(prog *ir.Program, dir string) (diag.List, error) {
	if prog.Pages == "" {
		return nil, nil
	}
	root := filepath.Join(dir, prog.Pages)
	var docs []*html.Node
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
		return nil
	})
	if err != nil || len(docs) == 0 {
		return nil, err
	}
	pages := len(docs)
	// What the rules insert may be what another rule selects.
	for _, r := range prog.Rules {
		for _, a := range r.Actions {
			if a.HTML && len(a.Content) > 0 {
				var b strings.Builder
				for _, p := range a.Content {
					b.WriteString(p.Text)
					b.WriteString(p.Default)
				}
				if doc, err := parseDoc([]byte(b.String())); err == nil {
					docs = append(docs, doc)
				}
			}
		}
	}
	ids, classes := names(docs)
	var out diag.List
	warned := map[int]bool{}
	for _, r := range prog.Rules {
		for _, a := range r.Actions {
			if a.Select < 0 || a.Select >= len(prog.Selectors) || warned[a.Select] || !plugin.ElementOp(a.Op) {
				continue
			}
			src := prog.Selectors[a.Select]
			list, err := selector.Parse(src)
			if err != nil || selects(docs, list) {
				continue
			}
			warned[a.Select] = true
			where := fmt.Sprintf("%d pages of %s", pages, prog.Pages)
			if pages == 1 {
				where = "the page in " + prog.Pages
			}
			e := diag.Warningf(diag.Pos{File: prog.Source, Line: a.Pos.Line, Col: a.Pos.Col},
				"selector %q selects nothing on the %s", src, where).WithCode("selects-nothing")
			if miss, near := nearest(list, ids, classes); miss != "" && near != "" {
				e.WithHint("no element has %s: did you mean %s?", miss, near)
			} else if miss != "" {
				e.WithHint("no element there has %s; if the element is on other pages, save one in %s", miss, prog.Pages)
			} else {
				e.WithHint("its parts are there, not together; if the element is on other pages, save one in %s", prog.Pages)
			}
			out.Add(e)
		}
	}
	return out, nil
}

// selects reports whether list selects an element of one of docs.
func selects(docs []*html.Node, list selector.List) bool {
	for _, d := range docs {
		if len(queryAll(d, list)) > 0 {
			return true
		}
	}
	return false
}

// names returns every id and class of docs.
func names(docs []*html.Node) (ids, classes map[string]bool) {
	ids, classes = map[string]bool{}, map[string]bool{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
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
	return ids, classes
}

// nearest returns the first id or class of list that no page has ("the
// id \"heor\""), and the one of the pages nearest it ("#hero"), or "".
func nearest(list selector.List, ids, classes map[string]bool) (miss, near string) {
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
					return fmt.Sprintf("the id %q", id), suggest(id, ids, classes, "#", ".")
				}
			}
			for _, c := range cp.Classes {
				if !classes[c] {
					return fmt.Sprintf("the class %q", c), suggest(c, classes, ids, ".", "#")
				}
			}
		}
	}
	return "", ""
}
