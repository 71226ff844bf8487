// Package syntax reads rule files: YAML for the structure, a small expression
// language for conditions, and {{ }} interpolations in texts. Every node it
// produces carries its position in the file, and every error names
// file:line:col and says what was expected.
package syntax

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/unicode/norm"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// LanguageVersion is the version of the rule language this package reads.
const LanguageVersion = 1

// File is a parsed rule file.
type File struct {
	Name        string
	Version     int
	Segments    []*Segment
	Experiments []*Experiment
	Rules       []*Rule
	Tests       []*Test
	// Pages, when not nil, is the directory (relative to the rule file)
	// holding the origin's pages, where tests and previews find the page
	// of a URL.
	Pages *Text
	// Lost names the rules, segments, experiments and tests that could
	// not be read at all (a YAML error): the checker does not report
	// references to them as unknown. Nil when nothing was lost.
	Lost map[string]bool
}

// Experiment is a named experiment: visitors are split between variants by
// weight, deterministically by an attribute (the visitor id by default).
type Experiment struct {
	Name        string
	NamePos     diag.Pos
	Description string
	// When restricts who is enrolled; nil enrolls everyone.
	When Expr
	// By is the attribute visitors are bucketed by; nil means visitor.id.
	By Expr
	// Seed changes the assignment; empty means the experiment's name.
	Seed     string
	Variants []*Variant
	// Meta asks for <meta name="bespoke-experiment"> in pages.
	Meta bool
	Pos  diag.Pos
	// Incomplete is set when part of the experiment could not be read (a
	// YAML error, reported): what is missing is not reported again.
	Incomplete bool
}

// Variant is one variant of an experiment and its share of traffic.
type Variant struct {
	Name string
	Pos  diag.Pos
	// Percent is the share of traffic, 0-100.
	Percent float64
}

// Segment is a named, reusable condition.
type Segment struct {
	Name    string
	NamePos diag.Pos
	When    Expr
}

// Rule is one rule: a condition and what to do when it holds.
type Rule struct {
	Name        string
	Pos         diag.Pos // the rule's list item
	NamePos     diag.Pos
	Description string
	// When is the condition; nil means the rule applies to every request.
	When Expr
	// Disabled rules are checked but never match.
	Disabled bool
	// From and Until bound when the rule applies (RFC 3339 times).
	From, Until *Text
	// AtMost, when not nil, caps how often the rule applies to a visitor.
	AtMost *Cap
	// Rollout, when not nil, limits the rule to a share of visitors:
	// Percent of them, bucketed by By (nil: visitor.id) with Seed (empty:
	// the rule's name).
	Rollout *Rollout
	Actions []*Action
	// Incomplete is set when part of the rule could not be read (a YAML
	// error, reported): what is missing is not reported again.
	Incomplete bool
}

// Cap is a frequency cap: at most Times per Window.
type Cap struct {
	Times  int
	Window time.Duration
	Pos    diag.Pos
	// Untracked is what the rule does for a visitor whose count cannot be
	// kept (Global Privacy Control, declined consent), as written: "" (not
	// given), "hide" or "show".
	Untracked    string
	UntrackedPos diag.Pos
}

// Rollout is a rule's share of visitors.
type Rollout struct {
	Percent float64
	Pos     diag.Pos
	By      Expr
	Seed    string
}

// Text is a string value with its position.
type Text struct {
	Value string
	Pos   diag.Pos
	// Map maps byte offsets in Value to positions, for errors inside it.
	Map Mapper
}

// Action is one action of a rule, as written. Fields an operation does not
// take are nil or zero.
type Action struct {
	Op  string
	Pos diag.Pos
	// Select is the CSS selector of the elements the action changes.
	Select *Text
	// Content is the text or HTML to insert; HTML says which.
	Content *Template
	HTML    bool
	// Name is an attribute, class, header or cookie name.
	Name *Text
	// Value is an attribute, header or cookie value, or a redirect target.
	Value *Template
	// On is "request" or "response" (set_header).
	On *Text
	// Status is a redirect status, 0 when not given.
	Status    int
	StatusPos diag.Pos
	// MaxAge is a cookie's lifetime, 0 when not given.
	MaxAge time.Duration
	// MaxAgePos is where MaxAge was written.
	MaxAgePos diag.Pos
	// HTTPOnly is set_cookie's http_only.
	HTTPOnly bool
	// ID is the attribute holding an item's id, as written ("@data-item-id").
	ID *Text
	// N is limit's n and hide_seen's keep_at_least.
	N    int
	NPos diag.Pos
	// Order is reorder's order: a list of ids, or one text of
	// comma-separated ids that may interpolate (a recommendations cookie).
	Order []*Template
	// NoMark is hide_seen's `mark: false`; MarkFirst its `mark: { first:
	// N }` (0 when not given).
	NoMark       bool
	MarkFirst    int
	MarkFirstPos diag.Pos
	// Demote is hide_seen's `demote: true`.
	Demote bool
	// Item is mark_seen's item.
	Item *Template
	// Path is a json_* action's gjson path.
	Path *Text
	// JSON says Value is raw JSON (json_set's json field).
	JSON bool
	// Schemes lets a value start a URL (set_attr on a URL attribute, a
	// URL attribute in html, a redirect target) when its scheme is one
	// of these ("relative" for none); nil when not given.
	Schemes    []string
	SchemesPos diag.Pos
}

// fieldSpec describes the fields of an action operation.
type opSpec struct {
	fields   []string // allowed fields, in documentation order
	required []string
	// oneOf: exactly one of these must be given (text or html).
	oneOf []string
	// short is the field a plain scalar stands for (`remove: "#promo"`).
	short string
}

var contentOp = opSpec{fields: []string{"select", "text", "html", "schemes"}, required: []string{"select"}, oneOf: []string{"text", "html"}}

// ops is the shape of every action operation.
var ops = map[string]opSpec{
	"set_inner":           contentOp,
	"replace":             contentOp,
	"insert_before":       contentOp,
	"insert_after":        contentOp,
	"prepend":             contentOp,
	"append":              contentOp,
	"remove":              {fields: []string{"select"}, required: []string{"select"}, short: "select"},
	"set_attr":            {fields: []string{"select", "name", "value", "schemes"}, required: []string{"select", "name", "value"}},
	"remove_attr":         {fields: []string{"select", "name"}, required: []string{"select", "name"}},
	"add_class":           {fields: []string{"select", "class"}, required: []string{"select", "class"}},
	"remove_class":        {fields: []string{"select", "class"}, required: []string{"select", "class"}},
	"remove_keep_content": {fields: []string{"select"}, required: []string{"select"}, short: "select"},
	"limit":               {fields: []string{"select", "n"}, required: []string{"select", "n"}},
	"reorder":             {fields: []string{"select", "id", "order"}, required: []string{"select", "id", "order"}},
	"hide_seen":           {fields: []string{"select", "id", "keep_at_least", "demote", "mark"}, required: []string{"select", "id"}},
	"mark_seen":           {fields: []string{"item"}, required: []string{"item"}, short: "item"},
	"json_set":            {fields: []string{"path", "value", "json"}, required: []string{"path"}, oneOf: []string{"value", "json"}},
	"json_remove":         {fields: []string{"path"}, required: []string{"path"}, short: "path"},
	"json_hide_seen":      {fields: []string{"path", "id", "keep_at_least", "demote", "mark"}, required: []string{"path", "id"}},
	"json_limit":          {fields: []string{"path", "n"}, required: []string{"path", "n"}},
	"json_reorder":        {fields: []string{"path", "id", "order"}, required: []string{"path", "id", "order"}},
	"redirect":            {fields: []string{"to", "status", "schemes"}, required: []string{"to"}, short: "to"},
	"set_header":          {fields: []string{"name", "value", "on"}, required: []string{"name", "value"}},
	"set_cookie":          {fields: []string{"name", "value", "max_age", "http_only"}, required: []string{"name", "value"}},
}

// opOrder lists the operations as the docs present them.
var opOrder = []string{"set_inner", "replace", "remove", "remove_keep_content", "insert_before", "insert_after", "prepend", "append",
	"set_attr", "remove_attr", "add_class", "remove_class", "limit", "reorder", "hide_seen", "mark_seen", "redirect", "set_header", "set_cookie",
	"json_set", "json_remove", "json_hide_seen", "json_limit", "json_reorder"}

// OpNames returns the action operations, for suggestions and docs.
func OpNames() []string {
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	return names
}

var topFields = []string{"version", "pages", "segments", "experiments", "rules", "tests"}
var ruleFields = []string{"name", "description", "when", "enabled", "from", "until", "rollout", "by", "seed", "at_most", "actions"}
var experimentFields = []string{"name", "description", "when", "by", "seed", "variants", "meta"}

// Fields returns the fields of each part of a rule file, by part ("file",
// "rule", "experiment", "test", "request", "page", "expect", "check"), for
// the JSON Schema's tests and for tools.
func Fields() map[string][]string {
	return map[string][]string{
		"file": topFields, "rule": ruleFields, "experiment": experimentFields, "test": testFields,
		"request": requestFields, "page": pageFields, "expect": expectFields, "check": pageCheckFields,
		"then": thenFields,
	}
}

// OpFields returns the fields each action operation takes.
func OpFields() map[string][]string {
	m := make(map[string][]string, len(ops))
	for op, spec := range ops {
		m[op] = spec.fields
	}
	return m
}

var nameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)

// nameRule says, in an error, what nameRE asks of a name.
const nameRule = "must start with a letter a-z and hold only letters a-z (no accents), digits, - and _"

// badName reports the name s of what (a rule, a segment...) at n, which
// does not match nameRE, with the name it could be.
func (d *decoder) badName(n *yaml.Node, what, s string) {
	e := d.errorf(n, "%s name %q %s", what, s, nameRule)
	if fix := validName(s); fix != "" {
		e.WithHint("for example: %s", fix)
	} else {
		e.WithHint("for example: french-hero")
	}
}

// validName returns s made into a name nameRE matches: accents removed,
// other characters turned into dashes (élan: elan, "summer sale":
// summer-sale), or "" when nothing is left or it does not start with a
// letter.
func validName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// An accent, decomposed from its letter.
		case r < utf8.RuneSelf && (r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	fix := strings.TrimRight(b.String(), "-")
	if fix == s || !nameRE.MatchString(fix) {
		return ""
	}
	return fix
}

// Parse reads a rule file. It returns the file and nil, or nil and a
// diag.List with every problem found.
func Parse(name string, src []byte) (*File, error) {
	f, errs := ParsePartial(name, src)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ParsePartial reads as much of a rule file as it can, and returns it with
// every problem found. What YAML cannot read is left out: the file's Lost
// names what was lost whole, and the Incomplete flag of a rule, experiment
// or test says it lost a part. The file is never nil.
func ParsePartial(name string, src []byte) (*File, diag.List) {
	f, errs, _ := parsePartial(name, src)
	return f, errs
}

// parsePartial is ParsePartial, with the decoder it used, whose work
// TestColumnsLinear reads.
func parsePartial(name string, src []byte) (*File, diag.List, *decoder) {
	// YAML reads \r\n and a lone \r as line breaks too: count lines as
	// it does, so that every position agrees with the editor's.
	if bytes.IndexByte(src, '\r') >= 0 {
		src = bytes.ReplaceAll(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
	}
	var nbsp diag.List
	src, nbsp = indentSpaces(name, src)
	d := &decoder{file: name, src: src, errs: nbsp}
	d.indexLines()
	f := &File{Name: name, Version: LanguageVersion}
	var root yaml.Node
	parsed := src // what YAML read: the file, or the file with its mistakes blanked
	if err := yaml.Unmarshal(src, &root); err != nil {
		patched, errs, lost, partial := recoverYAML(name, src)
		parsed = patched
		d.errs = append(d.errs, errs...)
		d.partial = partial
		if len(lost) > 0 {
			f.Lost = lost
		}
		root = yaml.Node{}
		if err := yaml.Unmarshal(patched, &root); err != nil {
			// Recovery blanks lines until the file parses; should it not,
			// the first YAML error is all there is to say.
			line, msg := yamlErrLine(err)
			d.errs.Add(diag.Errorf(diag.Pos{File: name, Line: max(line, 1), Col: 1}, "YAML cannot read this: %s", msg).WithHint("%s", yamlHint(msg)).WithCode("yaml"))
			return f, d.errs, d
		}
	}
	d.skipProperties(&root)
	if line := secondDocument(parsed); line > 0 {
		// yaml.Unmarshal reads the first document alone: the rules
		// after a --- would be dropped, their mistakes unseen.
		d.errs.Add(diag.Errorf(diag.Pos{File: name, Line: line, Col: 1}, "a second YAML document starts here: a rule file is one document, and what follows would be ignored").
			WithHint("join the two files' rules under one rules: list, or keep them in two files").WithCode("yaml"))
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		if len(d.errs) == 0 {
			d.errs.Add(diag.Errorf(diag.Pos{File: name, Line: 1, Col: 1}, "empty rule file").
				WithHint("a rule file has `version: 1` and a list of `rules:`"))
		}
		return f, d.errs, d
	}
	doc := root.Content[0]
	sawRules := false
	d.mapping(doc, "the rule file", topFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			n, ok := d.int(v, fmt.Sprintf("write version: %d", LanguageVersion))
			if ok && n != LanguageVersion {
				d.errorf(v, "rule language version %d is not supported", n).WithHint("this bespoke reads version %d", LanguageVersion)
			}
			f.Version = n
		case "pages":
			f.Pages, _ = d.text(v, "`pages`")
		case "segments":
			d.segments(f, v)
		case "experiments":
			d.experiments(f, v)
		case "rules":
			sawRules = true
			d.rules(f, v)
		case "tests":
			d.tests(f, v)
		}
	})
	if doc.Kind == yaml.MappingNode && !sawRules && len(d.errs) == 0 {
		d.errs.Add(diag.Errorf(d.pos(doc), "the rule file has no `rules:`").WithHint("add a list of rules, each with a name, a `when` condition and `actions`"))
	}
	if f.Rules == nil {
		f.Rules = []*Rule{}
	}
	d.errs.Sort()
	return f, d.errs, d
}

type decoder struct {
	file    string
	src     []byte
	lines   []int // byte offset of each line's start
	lastCol lastCol
	// walked counts the bytes read to turn offsets into columns and
	// back, which must stay linear in the file (TestColumnsLinear).
	walked int
	// lineRunes holds, of each line offset was asked about, its end and
	// where its runes start (see offset).
	lineRunes map[int]lineRunes
	// srcText is src as a string (see str).
	srcText string
	errs    diag.List
	// partial holds the lines of the entries (rules, tests, experiments)
	// that lost a part to a YAML error.
	partial map[int]bool
	// written holds the tags beginning with a single '!' that the
	// nodes were written with (see skipProperties).
	written map[*yaml.Node]string
	tagAt   map[*yaml.Node][2]int // the line and column of each of those tags
	// swallowed counts the quoted values reported for running on over
	// the lines after them: what those lines held is missing from the
	// entry, and is not reported missing again.
	swallowed int
}

// incomplete reports whether the entry starting at n lost a part.
func (d *decoder) incomplete(n *yaml.Node) bool { return d.partial[n.Line] }

func (d *decoder) indexLines() {
	d.lines = append(d.lines, 0)
	for i, c := range d.src {
		if c == '\n' {
			d.lines = append(d.lines, i+1)
		}
	}
}

func (d *decoder) pos(n *yaml.Node) diag.Pos {
	return diag.Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) *diag.Error {
	e := diag.Errorf(d.pos(n), format, args...)
	d.errs.Add(e)
	return e
}

var kindNames = map[yaml.Kind]string{
	yaml.DocumentNode: "a document", yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping (key: value)",
	yaml.ScalarNode: "a single value", yaml.AliasNode: "an alias",
}

// resolve follows YAML aliases (&anchor / *alias), which editors use to
// share action lists.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping walks a mapping node's keys in order, rejecting duplicates and
// keys not in fields (suggesting the nearest one).
func (d *decoder) mapping(n *yaml.Node, what string, fields []string, each func(key string, k, v *yaml.Node)) bool {
	ok, _ := d.mappingMeant(n, what, fields, each)
	return ok
}

// mappingMeant is mapping, and also returns the fields that its unknown
// keys most likely meant (actions, for acitons: a misspelt key's error
// says so): the caller does not report such a field missing, which would
// send the writer after a second mistake that is not there.
func (d *decoder) mappingMeant(n *yaml.Node, what string, fields []string, each func(key string, k, v *yaml.Node)) (ok bool, meant map[string]bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true, nil // "key:" with nothing under it: empty
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping (key: value), not %s", what, kindNames[n.Kind])
		return false, nil
	}
	seen := map[string]bool{}
	split := false // a second name: the entry is two, its - left out
	nameAt := -1   // the first name's index in n.Content
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		key := k.Value
		if key == "name" && nameAt < 0 {
			nameAt = i
		}
		if seen[key] {
			switch {
			case split:
				// Told once, at the second name.
			case key == "name" && (what == "a rule" || what == "an experiment" || what == "a test") && i-nameAt > 2:
				// Keys between the two names: a whole second entry.
				split = true
				d.errorf(k, "a second name in %s: a new entry of the list starts with \"- \"", what).
					WithHint("write - name: %s, at the indentation of the - above", v.Value)
			default:
				d.errorf(k, "%q is given twice in %s", key, what).WithHint("remove one of them")
			}
			continue
		}
		seen[key] = true
		if key == "<<" && k.Tag == "!!merge" {
			// yaml.v3 leaves merging to who decodes the node.
			d.errorf(k, "YAML merge keys (<<) are not read in a rule file").
				WithHint("write the fields in each entry; an anchor (&name) and an alias (*name) can repeat a whole value, such as a condition or a list of actions")
			continue
		}
		if fields != nil && !contains(fields, key) {
			e := d.errorf(k, "unknown field %q in %s", key, what)
			near := diag.Nearest(key, fields)
			if alias := fieldAliases[key]; near == "" && contains(fields, alias) {
				near = alias
			}
			if near != "" {
				e.WithHint("did you mean %q?", near)
				if meant == nil {
					meant = map[string]bool{}
				}
				meant[near] = true
			} else if contains(topFields, key) && !contains(fields, "rules") {
				// A section of the file indented into the entry above it.
				e.WithHint("%s: is a section of the file: write it at the start of its line, with no indentation, like rules:", key)
			} else {
				e.WithHint("expected one of: %s", strings.Join(fields, ", "))
			}
			continue
		}
		each(key, k, v)
	}
	return true, meant
}

// fieldAliases are the names other tools give a field of an action, by
// the field they stand for: a set_attr's attr is its name, a redirect's
// url its to. Each applies where the field it names is one.
var fieldAliases = map[string]string{
	"attr": "name", "attribute": "name", "header": "name", "cookie": "name",
	"url": "to", "href": "to", "target": "to", "location": "to",
	"count": "n", "max": "n", "limit": "n",
	"expires": "max_age", "expiry": "max_age", "ttl": "max_age", "max-age": "max_age", "lifetime": "max_age",
	"content": "text", "value": "text",
}

// closingBrace returns the length of the {…} that src starts with, its
// braces balanced (outside quotes), or len(src) when they never are.
func closingBrace(src []byte) int {
	depth, q := 0, byte(0)
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '{':
			depth++
		case c == '}':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(src)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decoder) sequence(n *yaml.Node, what string) []*yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list (lines starting with \"- \"), not %s", what, kindNames[n.Kind])
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// conditionList reports a condition written as a list (key: then items,
// as filters are listed), with the one condition that joins them, and
// says whether it did.
func (d *decoder) conditionList(n *yaml.Node, what, key string) bool {
	if n.Kind != yaml.SequenceNode {
		return false
	}
	e := d.errorf(n, "%s is one expression, not a list", what)
	var parts []string
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || strings.TrimSpace(item.Value) == "" {
			e.WithHint("join the conditions with and, for all of them, or with or, for any of them: %s: a and b", key)
			return true
		}
		p := strings.TrimSpace(item.Value)
		if strings.Contains(p, " or ") {
			p = "(" + p + ")"
		}
		parts = append(parts, p)
	}
	e.WithHint("join the items with and, for all of them: %s: %s (or with or, for any of them)", key, strings.Join(parts, " and "))
	return true
}

func (d *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0 && n.Line > 0 && bytes.HasPrefix(d.src[d.offset(n.Line, n.Column):], []byte("{{")) {
		// text: {{ geo.city }} is a mapping in a mapping to YAML: it
		// ends where its braces close (in { select: x, text: {{ a }} }
		// the last one is the outer mapping's).
		src := d.src[d.offset(n.Line, n.Column):]
		if end := bytes.IndexByte(src, '\n'); end >= 0 {
			src = src[:end]
		}
		src = src[:closingBrace(src)]
		d.errorf(n, "a value that starts with {{ must be quoted: YAML reads { as the start of a mapping").
			WithHint("quote the whole value: \"%s\"", strings.ReplaceAll(strings.TrimSpace(string(src)), `"`, `\"`))
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not %s", what, kindNames[n.Kind])
		return "", false
	}
	if tag := d.writtenTag(n); tag != "" {
		// `when: ! visitor.new` is the string "visitor.new" to YAML,
		// whose "!" starts a tag: the negation would be lost, silently.
		// The error points at the tag.
		at := *n
		at.Line, at.Column = d.tagAt[n][0], d.tagAt[n][1]
		d.errorf(&at, "%s starts with %q, which YAML reads as a tag, not as part of the value: write not for a negation (when: not device.bot), or quote the value", what, tag)
		return "", false
	}
	if n.Tag == "!!null" && n.Value == "" && d.commentTrap(n) {
		return "", false
	}
	if d.cutByComment(n) {
		return "", false
	}
	if (n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle) && d.unclosedQuote(n) {
		return "", false
	}
	return n.Value, true
}

// writtenTag returns the tag written before the value n, when it is one
// of YAML's own ("!", "!name") rather than a standard one ("!!str"),
// which no rule file means: "" otherwise.
func (d *decoder) writtenTag(n *yaml.Node) string {
	if n.Tag != "" && n.Tag[0] == '!' && !strings.HasPrefix(n.Tag, "!!") {
		return n.Tag
	}
	// A lone "!" (the non-specific tag) leaves no trace in the node:
	// skipProperties saw it in the source.
	return d.written[n]
}

// skipProperties moves the position of each node of the tree under n
// that has an anchor or a tag written before its value (&fr "...",
// !!str geo.country) from the first of those, where YAML puts it, to the
// value on the same line: errors then point at what they speak of, and
// the checks that read the source at a node's position (a quote left
// open, a template written as a mapping) read the value. It notes a
// tag that begins with a single '!' for writtenTag. A block collection,
// whose value starts on the next line, keeps the position of its
// properties.
func (d *decoder) skipProperties(n *yaml.Node) {
	if n.Kind != yaml.AliasNode && n.Line >= 1 {
		start := d.offset(n.Line, n.Column)
		i := start
		tag, tagAt := "", [2]int{}
		for i < len(d.src) && (d.src[i] == '&' || d.src[i] == '!') {
			j := i
			for j < len(d.src) && !isPropertyEnd(d.src[j]) {
				j++
			}
			if d.src[i] == '!' && (j-i < 2 || d.src[i+1] != '!') {
				tag, tagAt = d.str(i, j), [2]int{n.Line, n.Column + utf8.RuneCount(d.src[start:i])}
			}
			for j < len(d.src) && (d.src[j] == ' ' || d.src[j] == '\t') {
				j++
			}
			i = j
		}
		if tag != "" {
			if d.written == nil {
				d.written, d.tagAt = map[*yaml.Node]string{}, map[*yaml.Node][2]int{}
			}
			d.written[n], d.tagAt[n] = tag, tagAt
		}
		switch {
		case i == start || i >= len(d.src):
		case d.src[i] != '\n' && d.src[i] != '#':
			n.Column += utf8.RuneCount(d.src[start:i])
		case n.Kind == yaml.ScalarNode && n.Value != "" && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0:
			// The value on a line of its own, after the anchor's or
			// a comment: its first character, past blank and comment
			// lines.
			for i < len(d.src) {
				if d.src[i] == '#' {
					for i < len(d.src) && d.src[i] != '\n' {
						i++
					}
				}
				if i >= len(d.src) || d.src[i] != ' ' && d.src[i] != '\t' && d.src[i] != '\n' {
					break
				}
				i++
			}
			if i < len(d.src) {
				p := d.posAt(i)
				n.Line, n.Column = p.Line, p.Col
			}
		}
	}
	for _, c := range n.Content {
		d.skipProperties(c)
	}
}

// isPropertyEnd reports whether c ends an anchor's or a tag's name.
func isPropertyEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', ',', '[', ']', '{', '}':
		return true
	}
	return false
}

// unclosedQuote reports a quoted value that does not close on its line and
// runs on over lines that are not indented under it: YAML reads them as
// part of the value, but they were meant as the next keys. It reports
// whether it did.
func (d *decoder) unclosedQuote(n *yaml.Node) bool {
	if n.Line < 1 || n.Line >= len(d.lines) {
		return false
	}
	start := d.offset(n.Line, n.Column)
	end := d.lines[n.Line] - 1
	if start >= end || closeQuote(d.str(start+1, end), 0, d.src[start]) >= 0 {
		return false
	}
	indent := func(line int) (int, bool) {
		from := d.lines[line-1]
		to := len(d.src)
		if line < len(d.lines) {
			to = d.lines[line] - 1
		}
		text := d.str(from, to)
		t := strings.TrimLeft(text, " ")
		return len(text) - len(t), strings.TrimSpace(t) != ""
	}
	own, _ := indent(n.Line)
	for l := n.Line + 1; l <= len(d.lines); l++ {
		in, content := indent(l)
		if !content {
			continue
		}
		if in > own {
			return false // a quoted value folded over lines indented under it
		}
		break
	}
	q := d.src[start]
	d.swallowed++
	d.errs.Add(diag.Errorf(d.posAt(start), "this %c starts a quoted value that is not closed on its line, so YAML reads the lines after it as part of the value", q).
		WithHint("close the value with %c", q).WithCode("yaml-unclosed"))
	return true
}

// indentSpaces returns src with the non-breaking spaces (U+00A0, U+202F)
// of its lines' indentation made spaces, one for one, and an error at
// each: pasted from a web page or a chat, they are no space to YAML,
// which would read them as the start of a key and the lines after as
// misplaced.
func indentSpaces(name string, src []byte) ([]byte, diag.List) {
	if !bytes.Contains(src, []byte("\u00a0")) && !bytes.Contains(src, []byte("\u202f")) {
		return src, nil
	}
	var errs diag.List
	var out []byte
	for n, line := range bytes.SplitAfter(src, []byte("\n")) {
		col, i, told := 1, 0, false
		for i < len(line) {
			switch {
			case line[i] == ' ' || line[i] == '\t':
				out = append(out, line[i])
				i++
			case bytes.HasPrefix(line[i:], []byte("\u00a0")) || bytes.HasPrefix(line[i:], []byte("\u202f")):
				if !told {
					errs.Add(diag.Errorf(diag.Pos{File: name, Line: n + 1, Col: col}, "a non-breaking space in the indentation: YAML indents with spaces only").
						WithHint("replace it with a space (it often comes with text pasted from a web page)").WithCode("yaml-nbsp"))
					told = true
				}
				out = append(out, ' ')
				i += len("\u00a0")
			default:
				out = append(out, line[i:]...)
				i = len(line)
				continue
			}
			col++
		}
	}
	return out, errs
}

// secondDocument returns the line where a second YAML document of src
// starts, or 0 when it holds one.
func secondDocument(src []byte) int {
	if !mayHoldDocuments(src) {
		return 0
	}
	return decodeSecondDocument(src)
}

// decodeSecondDocument is secondDocument by reading the documents.
func decodeSecondDocument(src []byte) int {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var first, second yaml.Node
	if dec.Decode(&first) != nil {
		return 0 // the first document's mistakes are told elsewhere
	}
	if err := dec.Decode(&second); err != nil {
		if errors.Is(err, io.EOF) {
			return 0
		}
		// What follows the first document is no document YAML can
		// read (text after a ... without a ---): lost all the same.
		line, _ := yamlErrLine(err)
		return max(line, 1)
	}
	if len(second.Content) == 0 || second.Content[0].Kind == yaml.ScalarNode && second.Content[0].Tag == "!!null" && second.Content[0].Value == "" {
		return 0 // a --- that ends the file, or an empty document: nothing lost
	}
	line := second.Content[0].Line
	// Point at the --- before it, when there is one.
	lines := bytes.Split(src, []byte("\n"))
	for l := min(line, len(lines)) - 1; l >= 0; l-- {
		if bytes.HasPrefix(lines[l], []byte("---")) {
			return l + 1
		}
	}
	return max(line, 1)
}

// mayHoldDocuments reports whether src could hold more than one YAML
// document: a second one needs a marker, --- or ..., at the start of a
// line. A file without one past the leading --- is read once, not twice
// (the second read was a third of compiling a large rule file). YAML
// also breaks lines at NEL, LS and PS (U+0085, U+2028, U+2029), which
// text pasted from a web page may hold: a file with one is read again.
func mayHoldDocuments(src []byte) bool {
	if bytes.Contains(src, []byte("\u0085")) || bytes.Contains(src, []byte("\u2028")) || bytes.Contains(src, []byte("\u2029")) {
		return true
	}
	content := false // a line before this one held something
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		if bytes.HasPrefix(line, []byte("---")) && content || bytes.HasPrefix(line, []byte("...")) {
			return true
		}
		if t := bytes.TrimLeft(line, " \t"); len(t) > 0 && t[0] != '#' {
			content = true
		}
	}
	return false
}

// cutByComment reports a plain value YAML cut at a # that reads as part
// of it ("text: Rated #1 by our readers" is "Rated", then a comment), and
// reports whether it did: a comment written as one starts with "# ".
func (d *decoder) cutByComment(n *yaml.Node) bool {
	c := n.LineComment
	if n.Style != 0 || n.Value == "" || len(c) < 2 || c[0] != '#' || c[1] == ' ' || c[1] == '#' || c[1] == '\t' || n.Line < 1 || n.Line > len(d.lines) {
		return false
	}
	start := d.offset(n.Line, n.Column)
	end := len(d.src)
	if n.Line < len(d.lines) {
		end = d.lines[n.Line]
	}
	whole := strings.TrimSpace(d.str(start, end))
	at := start + strings.Index(d.str(start, end), c)
	d.errs.Add(diag.Errorf(d.posAt(at), "%q is read as a YAML comment: a # after a space starts one, so the value is %q", c, n.Value).
		WithHint("quote the whole value: \"%s\"", strings.ReplaceAll(whole, `"`, `\"`)).WithCode("yaml-comment"))
	return true
}

// commentTrap reports a value YAML read as nothing because it starts with
// # after a space ("select: #hero h1"), which makes it a comment, and
// reports whether it did.
func (d *decoder) commentTrap(n *yaml.Node) bool {
	if n.Line < 1 || n.Line > len(d.lines) {
		return false
	}
	start := d.offset(n.Line, n.Column)
	end := len(d.src)
	if n.Line < len(d.lines) {
		end = d.lines[n.Line]
	}
	rest := d.str(start, end)
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	if i == 0 && start > 0 && d.src[start-1] != ' ' && d.src[start-1] != '\t' {
		return false
	}
	if i >= len(rest) || rest[i] != '#' || i+1 >= len(rest) || rest[i+1] == ' ' || rest[i+1] == '#' {
		// A real comment ("key: # note") starts with "# ".
		return false
	}
	v := strings.TrimSpace(rest[i:])
	key := ""
	if k := strings.LastIndexByte(strings.TrimRight(d.str(d.lines[n.Line-1], start), " \t"), ':'); k >= 0 {
		before := strings.TrimSpace(d.str(d.lines[n.Line-1], d.lines[n.Line-1]+k))
		before = strings.TrimSpace(strings.TrimPrefix(before, "-"))
		if j := strings.LastIndexAny(before, "{,"); j >= 0 {
			before = strings.TrimSpace(before[j+1:])
		}
		key = before
	}
	fix := "quote it: \"" + v + "\""
	if key != "" {
		fix = "quote it: " + key + ": \"" + v + "\""
	}
	d.errs.Add(diag.Errorf(d.posAt(start+i), "%q is read as a YAML comment: a # after a space starts one, so this value is empty", v).WithHint("%s", fix).WithCode("yaml-comment"))
	return true
}

func (d *decoder) text(n *yaml.Node, what string) (*Text, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return nil, false
	}
	return &Text{Value: s, Pos: d.pos(n), Map: d.mapper(n)}, true
}

// int reads a whole number; hint says what it counts and how to write
// it, for a value that is not one ("2.5", "three").
func (d *decoder) int(n *yaml.Node, hint string) (int, bool) {
	s, ok := d.scalar(n, "this field")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.errorf(n, "expected a whole number, found %q", s).WithHint("%s", hint)
		return 0, false
	}
	return v, true
}

// redirectStatusHint is how to write a redirect's status.
const redirectStatusHint = "write the redirect's status, 301, 302, 303, 307 or 308: status: 301"

// bool reads a yes/no field, key.
func (d *decoder) bool(n *yaml.Node, key string) (bool, bool) {
	s, ok := d.scalar(n, "this field")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	d.errorf(n, "expected true or false, found %q", s).WithHint("write %s: true or %s: false", key, key)
	return false, false
}

func (d *decoder) segments(f *File, n *yaml.Node) {
	if m := resolve(n); m.Kind == yaml.SequenceNode {
		// Segments written as a list (- name: condition): that is
		// reported once below, and the names it holds are not unknown
		// where conditions use them.
		for _, item := range m.Content {
			if item = resolve(item); item.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(item.Content); i += 2 {
					f.lose(item.Content[i].Value)
				}
			}
		}
	}
	d.mapping(n, "segments", nil, func(key string, k, v *yaml.Node) {
		if !nameRE.MatchString(key) {
			d.badName(k, "segment", key)
			return
		}
		if keywords[key] {
			d.errorf(k, "segment name %q is a keyword of the condition language", key).WithHint("choose another name")
			return
		}
		if d.conditionList(v, "a segment's condition", key) {
			f.lose(key)
			return
		}
		src, ok := d.scalar(v, "a segment's condition")
		if !ok {
			f.lose(key)
			return
		}
		x, err := ParseExpr(src, d.mapper(v))
		if err != nil {
			d.addErr(err)
			// References to it are not unknown names: its error is
			// reported here.
			f.lose(key)
			return
		}
		f.Segments = append(f.Segments, &Segment{Name: key, NamePos: d.pos(k), When: x})
	})
}

// lose records that name's definition could not be read.
func (f *File) lose(name string) {
	if f.Lost == nil {
		f.Lost = map[string]bool{}
	}
	f.Lost[name] = true
}

func (d *decoder) rules(f *File, n *yaml.Node) {
	if m := resolve(n); m.Kind == yaml.MappingNode {
		// One rule written without its "- ": what refers to it by name
		// is not an error of its own.
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "name" {
				f.lose(m.Content[i+1].Value)
			}
		}
	}
	items := d.sequence(n, "rules")
	f.Rules = []*Rule{}
	for _, item := range items {
		r := &Rule{Pos: d.pos(item), Incomplete: d.incomplete(item)}
		hasActions := false
		var emptyActions *yaml.Node
		swallowed := d.swallowed
		ok, meant := d.mappingMeant(item, "a rule", ruleFields, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				if s, ok := d.scalar(v, "a rule's name"); ok {
					r.Name, r.NamePos = s, d.pos(v)
					if !nameRE.MatchString(s) {
						d.badName(v, "rule", s)
					}
				}
			case "description":
				r.Description, _ = d.scalar(v, "a description")
			case "when":
				if d.conditionList(v, "a condition", "when") {
					r.Incomplete = true
					return
				}
				src, ok := d.scalar(v, "a condition")
				if !ok {
					r.Incomplete = true
					return
				}
				x, err := ParseExpr(src, d.mapper(v))
				if err != nil {
					d.addErr(err)
					// Checked without its condition, the rule would look
					// like it applies to everyone.
					r.Incomplete = true
					return
				}
				r.When = x
			case "enabled":
				if b, ok := d.bool(v, "enabled"); ok {
					r.Disabled = !b
				}
			case "at_most":
				r.AtMost = d.cap(v)
			case "from":
				r.From, _ = d.text(v, "`from`")
			case "until":
				r.Until, _ = d.text(v, "`until`")
			case "rollout":
				if p, ok := d.percent(v, "rollout"); ok {
					if r.Rollout == nil {
						r.Rollout = &Rollout{}
					}
					r.Rollout.Percent, r.Rollout.Pos = p, d.pos(v)
				}
			case "by":
				if x := d.expr(v); x != nil {
					if r.Rollout == nil {
						r.Rollout = &Rollout{Percent: -1}
					}
					r.Rollout.By = x
				}
			case "seed":
				if s, ok := d.scalar(v, "a seed"); ok {
					if r.Rollout == nil {
						r.Rollout = &Rollout{Percent: -1}
					}
					r.Rollout.Seed = s
				}
			case "actions":
				hasActions = true
				list := d.sequence(v, "actions")
				if rv := resolve(v); len(list) == 0 && (rv.Kind == yaml.SequenceNode || rv.Tag == "!!null") {
					emptyActions = k
				}
				for _, a := range list {
					if act := d.action(a); act != nil {
						r.Actions = append(r.Actions, act)
					}
				}
			}
		})
		if !ok {
			continue
		}
		if d.swallowed > swallowed {
			r.Incomplete = true
		}
		if r.Name == "" && !r.Incomplete && !meant["name"] {
			d.errorf(item, "this rule has no name").WithHint("add `name: some-name`; names appear in logs, headers and tests")
		}
		if !hasActions && !r.Incomplete && !meant["actions"] {
			d.errorf(item, "rule %q has no actions", r.Name).WithHint("add `actions:` with at least one action, such as set_inner")
		}
		if emptyActions != nil && !r.Incomplete {
			// Written, but empty: a rule that would match and do nothing,
			// most often because its actions were indented as if they
			// were the rule's own fields. (Not when YAML lost lines of
			// the rule: those are reported, and may be its actions.)
			d.errorf(emptyActions, "rule %q has an empty list of actions", r.Name).
				WithHint("list at least one action under `actions:`, each on its own line starting with \"- \" and indented more than `actions:`; to turn the rule off, write enabled: false")
		}
		if r.Rollout != nil && r.Rollout.Percent < 0 && !r.Incomplete && !meant["rollout"] {
			d.errorf(item, "rule %q has `by` or `seed` but no `rollout`", r.Name).WithHint("add rollout: 20%%, or remove by and seed")
		}
		f.Rules = append(f.Rules, r)
	}
}

// expr parses a scalar node as a condition or attribute.
func (d *decoder) expr(v *yaml.Node) Expr {
	src, ok := d.scalar(v, "an attribute")
	if !ok {
		return nil
	}
	x, err := ParseExpr(src, d.mapper(v))
	if err != nil {
		d.addErr(err)
		return nil
	}
	return x
}

// cap reads a frequency cap: "3 per 7d" or "3 times per 7d", or
// { times: 3, per: 7d, untracked: show }.
func (d *decoder) cap(v *yaml.Node) *Cap {
	if v.Kind == yaml.MappingNode {
		var times, per *yaml.Node
		c := &Cap{Pos: d.pos(v)}
		_, meant := d.mappingMeant(v, "at_most", []string{"times", "per", "untracked"}, func(key string, _, fv *yaml.Node) {
			switch key {
			case "times":
				times = fv
			case "per":
				per = fv
			case "untracked":
				c.Untracked, _ = d.scalar(fv, "untracked")
				c.UntrackedPos = d.pos(fv)
			}
		})
		if times == nil && meant["times"] || per == nil && meant["per"] {
			return nil
		}
		if times == nil || per == nil {
			d.errorf(v, "at_most needs `times` and `per`").WithHint("write at_most: { times: 2, per: 1d, untracked: show }")
			return nil
		}
		n, ok := d.int(times, "write how many times the rule may apply in its window, 1 to 250: times: 3")
		if !ok {
			return nil
		}
		if n < 1 || n > 250 {
			d.errorf(times, "the number of times must be from 1 to 250, found %d", n)
			return nil
		}
		ws, ok := d.scalar(per, "per")
		if !ok {
			return nil
		}
		w, err := ParseDuration(ws)
		if errors.Is(err, errDurationTooLong) {
			d.errorf(per, "the window %q is %v", ws, errDurationTooLong).WithHint("write 12h, 7d or 2w")
			return nil
		}
		if err != nil || w < time.Minute {
			d.errorf(per, "%s", windowError(ws, err)).WithHint("%s", durationHint(err, "write 12h, 7d or 2w"))
			return nil
		}
		c.Times, c.Window = n, w
		return c
	}
	s, ok := d.scalar(v, "a frequency cap")
	if !ok {
		return nil
	}
	return d.capText(v, s)
}

// capText reads "3 per 7d" or "3 times per 7d".
func (d *decoder) capText(v *yaml.Node, s string) *Cap {
	f := strings.Fields(s)
	if len(f) == 4 && (f[1] == "times" || f[1] == "time") {
		f = append(f[:1], f[2:]...)
	}
	if len(f) != 3 || f[1] != "per" {
		d.errorf(v, "expected a cap such as \"3 per 7d\", found %q", s)
		return nil
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 || n > 250 {
		d.errorf(v, "the number of times must be from 1 to 250, found %q", f[0])
		return nil
	}
	w, err := ParseDuration(f[2])
	if errors.Is(err, errDurationTooLong) {
		d.errorf(v, "the window %q is %v", f[2], errDurationTooLong).WithHint("write 12h, 7d or 2w")
		return nil
	}
	if err != nil || w < time.Minute {
		d.errorf(v, "%s", windowError(f[2], err)).WithHint("%s", durationHint(err, "write 12h, 7d or 2w"))
		return nil
	}
	return &Cap{Times: n, Window: w, Pos: d.pos(v)}
}

// percent reads a share of traffic, the value of key (rollout, or a
// variant's name): 20%, 12.5%, or 20, which is 20% too. A number below 1
// without % (0.5) is refused: it reads as 0.5%, where a fraction of 1
// (half of the visitors) was most likely meant.
func (d *decoder) percent(v *yaml.Node, key string) (float64, bool) {
	s, ok := d.scalar(v, "a percentage")
	if !ok {
		return 0, false
	}
	num, sign := strings.CutSuffix(strings.TrimSpace(s), "%")
	p, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(p >= 0 && p <= 100) { // NaN too
		d.errorf(v, "expected a percentage from 0%% to 100%%, found %q", s).WithHint("write %s: 20%%", key)
		return 0, false
	}
	if !sign && p > 0 && p < 1 {
		d.errorf(v, "%s: %s would be %s%% of visitors, not %g%%: a share is a percentage, not a fraction of 1", key, num, num, p*100).
			WithHint("write %s: %g%%, or %s: %s%% if %s%% is meant", key, p*100, key, num, num)
		return 0, false
	}
	return p, true
}

func (d *decoder) experiments(f *File, n *yaml.Node) {
	for _, item := range d.sequence(n, "experiments") {
		e := &Experiment{Pos: d.pos(item), Incomplete: d.incomplete(item)}
		swallowed := d.swallowed
		_, meant := d.mappingMeant(item, "an experiment", experimentFields, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				if s, ok := d.scalar(v, "an experiment's name"); ok {
					e.Name, e.NamePos = s, d.pos(v)
					if !nameRE.MatchString(s) {
						d.badName(v, "experiment", s)
					}
				}
			case "description":
				e.Description, _ = d.scalar(v, "a description")
			case "when":
				e.When = d.expr(v)
			case "by":
				e.By = d.expr(v)
			case "seed":
				e.Seed, _ = d.scalar(v, "a seed")
			case "meta":
				e.Meta, _ = d.bool(v, "meta")
			case "variants":
				before := len(d.errs)
				d.mapping(v, "variants", nil, func(name string, k, w *yaml.Node) {
					if !nameRE.MatchString(name) {
						d.badName(k, "variant", name)
						return
					}
					if p, ok := d.percent(w, name); ok {
						e.Variants = append(e.Variants, &Variant{Name: name, Pos: d.pos(k), Percent: p})
					}
				})
				if len(d.errs) > before {
					// A variant that could not be read is not reported
					// missing, nor are references to it.
					e.Incomplete = true
				}
			}
		})
		if d.swallowed > swallowed {
			e.Incomplete = true
		}
		if e.Name == "" && !e.Incomplete && !meant["name"] {
			d.errorf(item, "this experiment has no name").WithHint("add `name:`; rules refer to it as variant(\"name\")")
		}
		if len(e.Variants) == 0 && !e.Incomplete && !meant["variants"] {
			d.errorf(item, "experiment %q has no variants", e.Name).WithHint("add variants: { control: 50, new: 50 }")
		}
		f.Experiments = append(f.Experiments, e)
	}
}

// unnestedFields recognizes an action written as `- op:` with nothing
// after the colon and its fields on the lines below, as deep as op: n
// is then a mapping of op and fields of op. It returns op's key, the
// first field's key and the fields' names; nil when n is anything else.
func unnestedFields(n *yaml.Node) (op, first *yaml.Node, fields []string) {
	if n.Kind != yaml.MappingNode || len(n.Content) < 4 {
		return nil, nil, nil
	}
	k, v := n.Content[0], resolve(n.Content[1])
	spec, ok := ops[k.Value]
	if !ok || v.Kind != yaml.ScalarNode || v.Tag != "!!null" {
		return nil, nil, nil
	}
	for i := 2; i+1 < len(n.Content); i += 2 {
		f := n.Content[i].Value
		if !slices.Contains(spec.fields, f) {
			return nil, nil, nil
		}
		fields = append(fields, f)
	}
	return k, n.Content[2], fields
}

// action reads `- op: {fields}` or the short form `- op: value`.
func (d *decoder) action(n *yaml.Node) *Action {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		if op, first, fields := unnestedFields(n); op != nil {
			// `- set_inner:` with its fields below it, as deep as the
			// operation's name instead of deeper.
			quoted := make([]string, len(fields))
			for i, f := range fields {
				quoted[i] = "`" + f + ":`"
			}
			d.errorf(first, "%s written as deep as `%s:`, so YAML does not read them as its fields", strings.Join(quoted, ", "), op.Value).
				WithHint("indent them by %d spaces, 2 more than %s:; or write them on its line: %s: { %s: ... }", op.Column+1, op.Value, op.Value, strings.Join(fields, ": ..., "))
			return nil
		}
		e := d.errorf(n, "an action is one operation and its fields, such as `- set_inner: { select: \"#hero h1\", text: \"Hello\" }`")
		if n.Kind == yaml.MappingNode && len(n.Content) > 2 {
			e.WithHint("start each action with its own \"- \"")
		}
		return nil
	}
	k, v := n.Content[0], resolve(n.Content[1])
	op := k.Value
	partial := d.incomplete(n)
	spec, ok := ops[op]
	if !ok {
		e := d.errorf(k, "unknown action %q", op)
		if h := diag.DidYouMean(op, OpNames()); h != "" {
			e.WithHint("%s", h)
		} else {
			e.WithHint("actions are: %s", strings.Join(opOrder, ", "))
		}
		return nil
	}
	a := &Action{Op: op, Pos: d.pos(k)}
	given := map[string]*yaml.Node{}
	var meant map[string]bool
	if v.Kind == yaml.ScalarNode && spec.short != "" {
		given[spec.short] = v
	} else if ok, m := d.mappingMeant(v, "action "+op, spec.fields, func(key string, _, fv *yaml.Node) { given[key] = fv }); !ok {
		switch rv := resolve(v); {
		case spec.short == "select" && rv.Kind == yaml.SequenceNode && rv.Style&yaml.FlowStyle != 0:
			// remove: [data-slot=promo]: the selector's [ opened a list.
			src := d.src[d.offset(rv.Line, rv.Column):]
			if end := bytes.IndexByte(src, '\n'); end >= 0 {
				src = src[:end]
			}
			sel := strings.TrimSpace(string(src))
			if j := strings.Index(sel, " #"); j >= 0 {
				sel = strings.TrimSpace(sel[:j])
			}
			// A list of quoted selectors was meant as several: one
			// selector with commas selects them all.
			var sels []string
			for _, it := range rv.Content {
				if it.Kind == yaml.ScalarNode && it.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
					sels = append(sels, it.Value)
				}
			}
			last := d.errs[len(d.errs)-1]
			if len(sels) > 0 && len(sels) == len(rv.Content) {
				last.Msg = fmt.Sprintf("action %s takes one selector, not a list", op)
				last.WithHint("select several with commas in one selector: %s: %q", op, strings.Join(sels, ", "))
				break
			}
			last.WithHint("a [ starts a YAML list: quote a selector that starts with one: %s: '%s'", op, sel)
		case spec.short != "":
			d.errs[len(d.errs)-1].WithHint("write `%s: VALUE` or `%s: { %s: VALUE }`", op, op, spec.short)
		}
		return nil
	} else {
		meant = m
	}
	valid := !partial
	for _, req := range spec.required {
		if given[req] != nil {
			continue
		}
		valid = false
		if !partial && !meant[req] {
			d.errorf(k, "action %s needs `%s`", op, req).WithHint("%s", fieldHelp[req])
		}
	}
	if spec.oneOf != nil {
		n, misspelt := 0, false
		for _, f := range spec.oneOf {
			if given[f] != nil {
				n++
			}
			misspelt = misspelt || meant[f]
		}
		if n != 1 {
			valid = false
		}
		if !partial && (n > 1 || n == 0 && !misspelt) {
			e := d.errorf(k, "action %s needs exactly one of `%s` or `%s`", op, spec.oneOf[0], spec.oneOf[1])
			if spec.oneOf[0] == "text" {
				e.WithHint("`text` is escaped and shown as written; `html` is inserted as markup")
			} else {
				e.WithHint("`value` is a text, sent as a JSON string; `json` is raw JSON such as true, 3 or {\"a\": 1}")
			}
		}
	}
	before := len(d.errs)
	for key, fv := range given {
		switch key {
		case "select":
			a.Select, _ = d.text(fv, "a selector")
		case "text", "html":
			a.HTML = key == "html"
			a.Content = d.template(fv)
		case "name":
			a.Name, _ = d.text(fv, "a name")
		case "class":
			// A class may interpolate: variant-{{ variant("hero") }}.
			a.Name, _ = d.text(fv, "a class")
			a.Value = d.template(fv)
		case "value", "to":
			a.Value = d.template(fv)
		case "json":
			a.Value = d.template(fv)
			a.JSON = true
		case "path":
			a.Path, _ = d.text(fv, "a JSON path")
		case "on":
			a.On, _ = d.text(fv, "`on`")
		case "status":
			a.Status, _ = d.int(fv, redirectStatusHint)
			a.StatusPos = d.pos(fv)
		case "max_age":
			if s, ok := d.scalar(fv, "max_age"); ok {
				dur, err := ParseDuration(s)
				if err != nil {
					d.errorf(fv, "%v", err).WithHint("%s", durationHint(err, "write a duration such as 30m, 12h, 7d or 2w"))
					// The action is kept, without a max_age, which nothing
					// reads amiss: the mistakes of its other fields, which
					// the checker finds, are told too.
					before++
				} else {
					// A position only for a duration read: the
					// checker tells of the lifetimes given.
					a.MaxAge, a.MaxAgePos = dur, d.pos(fv)
				}
			}
		case "http_only":
			a.HTTPOnly, _ = d.bool(fv, "http_only")
		case "id":
			a.ID, _ = d.text(fv, "an id attribute")
		case "n", "keep_at_least":
			a.N, _ = d.int(fv, "write how many items to keep: "+key+": 3")
			a.NPos = d.pos(fv)
		case "mark":
			if fv.Kind == yaml.MappingNode {
				d.mapping(fv, "mark", []string{"first"}, func(_ string, _, v *yaml.Node) {
					a.MarkFirst, _ = d.int(v, "write how many of the first items shown to record: first: 4")
					a.MarkFirstPos = d.pos(v)
				})
				break
			}
			mark, _ := d.bool(fv, "mark")
			a.NoMark = !mark
		case "demote":
			a.Demote, _ = d.bool(fv, "demote")
		case "item":
			a.Item = d.template(fv)
		case "schemes":
			a.SchemesPos = d.pos(fv)
			a.Schemes = []string{}
			if fv.Kind == yaml.ScalarNode {
				if sc, ok := d.scalar(fv, "a scheme"); ok {
					a.Schemes = append(a.Schemes, sc)
				}
				break
			}
			for _, it := range d.sequence(fv, "schemes") {
				if sc, ok := d.scalar(it, "a scheme"); ok {
					a.Schemes = append(a.Schemes, sc)
				}
			}
		case "order":
			if fv.Kind == yaml.SequenceNode {
				for _, it := range d.sequence(fv, "order") {
					if t := d.template(it); t != nil {
						a.Order = append(a.Order, t)
					}
				}
			} else if t := d.template(fv); t != nil {
				a.Order = append(a.Order, t)
			}
		}
	}
	if !valid || len(d.errs) > before {
		return nil
	}
	return a
}

var fieldHelp = map[string]string{
	"select": `add select: "CSS selector", for example select: "#hero h1"`,
	"name":   "add name: the attribute, header or cookie to set",
	"value":  "add value: the new value",
	"class":  "add class: the class name",
	"to":     `add to: "/path" or a full URL`,
	"id":     `add id: "@data-item-id", the attribute holding each item's id`,
	"n":      "add n: how many items to keep",
	"order":  `add order: [id1, id2] or order: "{{ cookie(\"recs\") }}"`,
	"item":   `add item: the id to record, for example item: promo-summer`,
	"path":   `add path: the gjson path of the value, for example path: items`,
}

func (d *decoder) template(n *yaml.Node) *Template {
	s, ok := d.scalar(n, "a text")
	if !ok {
		return nil
	}
	t, err := ParseTemplate(s, d.mapper(n))
	if err != nil {
		d.addErr(err)
		return nil
	}
	return t
}

// ParseDuration parses durations as editors write them: 90s, 30m, 12h, 7d,
// 2w, or a sum such as 1d12h.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil && !errors.Is(err, errDurationTooLong) {
		if fix := durationFix(s); fix != "" {
			return 0, fmt.Errorf("duration %q: a unit is one letter right after its number: %s", s, fix)
		}
	}
	return d, err
}

// yearsError is a duration written in years, which are not a unit (a
// year's length varies): its hint is the days it comes to, as a browser
// counts a cookie's life.
type yearsError struct {
	orig string
	days int
}

func (e *yearsError) Error() string {
	return fmt.Sprintf("duration %q is in years, which are not a unit (their lengths vary)", e.orig)
}

// durationHint is the hint for a duration ParseDuration refused with
// err: the days one in years comes to, else def.
func durationHint(err error, def string) string {
	var y *yearsError
	if errors.As(err, &y) {
		return fmt.Sprintf("write %dd", y.days)
	}
	return def
}

// windowError is the message for a cap's window ParseDuration refused
// with err, or that is under a minute.
func windowError(w string, err error) string {
	var y *yearsError
	if errors.As(err, &y) {
		return fmt.Sprintf("the window %q is in years, which are not a unit", w)
	}
	return fmt.Sprintf("the window %q is not a duration of a minute or more", w)
}

// errDurationTooLong is a duration past what a time.Duration holds,
// which would wrap around to another length.
var errDurationTooLong = errors.New("longer than any duration bespoke can hold (some 290 years)")

func parseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("malformed duration %q", orig)
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("malformed duration %q", orig)
		}
		var unit time.Duration
		switch s[i] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'w':
			unit = 7 * 24 * time.Hour
		case 'y', 'Y':
			return 0, &yearsError{orig: orig, days: int(total/(24*time.Hour)) + n*365}
		default:
			return 0, fmt.Errorf("unknown unit %q in duration %q", s[i:i+1], orig)
		}
		if time.Duration(n) > (math.MaxInt64-total)/unit {
			return 0, fmt.Errorf("duration %q: %w", orig, errDurationTooLong)
		}
		total += time.Duration(n) * unit
		s = s[i+1:]
	}
	return total, nil
}

// durationWords are the units editors write as words, English and French.
var durationWords = map[string]string{
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s", "seconde": "s", "secondes": "s",
	"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "heure": "h", "heures": "h",
	"d": "d", "day": "d", "days": "d", "j": "d", "jour": "d", "jours": "d",
	"w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w", "semaine": "w", "semaines": "w",
}

// durationFix returns the duration s written with units as words (7
// days, 2 hours 30 minutes, 90 secs) in the form ParseDuration reads (7d,
// 2h30m, 90s), or "" when s is not such a duration.
func durationFix(s string) string {
	words := strings.Fields(strings.ReplaceAll(strings.ToLower(s), ",", " "))
	var b strings.Builder
	for i := 0; i < len(words); i++ {
		w := words[i]
		j := 0
		for j < len(w) && isDigit(w[j]) {
			j++
		}
		if j == 0 {
			return ""
		}
		num, unit := w[:j], w[j:]
		if unit == "" {
			if i+1 == len(words) {
				return ""
			}
			i++
			unit = words[i]
		}
		u := durationWords[unit]
		if u == "" {
			return ""
		}
		b.WriteString(num + u)
	}
	return b.String()
}

// mapper returns the Mapper of a scalar node: it aligns the scalar's value
// with the source text, so that an offset inside a quoted, folded or
// multi-line value still maps to the right line and column.
func (d *decoder) mapper(n *yaml.Node) Mapper {
	start := d.offset(n.Line, n.Column)
	value := n.Value
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		start++
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The value starts on the line after the indicator.
		if nl := strings.IndexByte(d.str(start, len(d.src)), '\n'); nl >= 0 {
			start += nl + 1
		}
	}
	var table []int // table[i] = source offset of value byte i
	verbatim, checked := false, false
	return func(off int) diag.Pos {
		if !checked {
			// Most values are their source's bytes as they are (one line,
			// no escapes): their offsets map by adding start, without a
			// table, which cost a tenth of compiling a large file.
			checked = true
			verbatim = start+len(value) <= len(d.src) && d.str(start, start+len(value)) == value
		}
		if verbatim {
			if len(value) == 0 {
				return d.posAt(start)
			}
			return d.posAt(start + off) // what align's table gives
		}
		if table == nil {
			table = align(value, d.src, start, n.Style == yaml.DoubleQuotedStyle)
		}
		if off >= len(table) {
			if len(table) == 0 {
				return d.posAt(start)
			}
			return d.posAt(table[len(table)-1] + (off - len(table) + 1))
		}
		return d.posAt(table[off])
	}
}

// align finds, for each byte of value, the source offset it came from,
// skipping the line breaks, indentation and escapes YAML removed. In a
// double-quoted value (double), an escape's bytes come from its
// backslash: \u00e9 is one character of six in the source.
func align(value string, src []byte, start int, double bool) []int {
	table := make([]int, len(value))
	j := start
	for i := 0; i < len(value); i++ {
		c := value[i]
		k := j
		for k < len(src) && src[k] != c {
			if double && src[k] == '\\' {
				rest := string(src[k:min(k+10, len(src))])
				if dec, size, ok := yamlEscape(rest); ok {
					if dec == "" {
						k += size // an escaped line break
						continue
					}
					if strings.HasPrefix(value[i:], dec) {
						break
					}
				}
			}
			if src[k] != ' ' && src[k] != '\n' && src[k] != '\r' && src[k] != '\t' && src[k] != '\\' && src[k] != '\'' {
				break
			}
			k++
		}
		if double && k < len(src) && src[k] == '\\' {
			rest := string(src[k:min(k+10, len(src))])
			if dec, size, ok := yamlEscape(rest); ok && dec != "" && strings.HasPrefix(value[i:], dec) {
				for x := range len(dec) {
					table[i+x] = k
				}
				i += len(dec) - 1
				j = k + size
				continue
			}
		}
		if k < len(src) && src[k] == c {
			j = k
		}
		table[i] = j
		if j < len(src) {
			j++
		}
	}
	return table
}

func (d *decoder) offset(line, col int) int {
	if line < 1 || line > len(d.lines) {
		return len(d.src)
	}
	start := d.lines[line-1]
	// Columns count characters, not bytes. Walking them from the line's
	// start for each node cost the square of a long line's length (a
	// flow sequence of thousands of actions on one line): each line is
	// read once, and a column found by index.
	l, ok := d.lineRunes[line]
	if !ok {
		l.end = start
		ascii := true
		for l.end < len(d.src) && d.src[l.end] != '\n' {
			ascii = ascii && d.src[l.end] < utf8.RuneSelf
			l.end++
		}
		d.walked += l.end - start
		if !ascii {
			for off := start; off < l.end; {
				l.starts = append(l.starts, off)
				_, size := utf8.DecodeRune(d.src[off:])
				off += size
			}
		}
		if d.lineRunes == nil {
			d.lineRunes = map[int]lineRunes{}
		}
		d.lineRunes[line] = l
	}
	n := max(col-1, 0)
	switch {
	case l.starts == nil:
		return min(start+n, l.end)
	case n < len(l.starts):
		return l.starts[n]
	}
	return l.end
}

// str returns src[from:to] as a string without copying it: a copy of
// the rest of a line or of the file for each node made parsing a long
// line or a file of many block values take time and memory in their
// square (TestAllocLinear).
func (d *decoder) str(from, to int) string {
	if len(d.srcText) != len(d.src) {
		d.srcText = string(d.src)
	}
	return d.srcText[from:to]
}

// lineRunes is a line's end (its '\n' or the end of the file) and, if it
// holds other bytes than ASCII, the offset of each of its runes.
type lineRunes struct {
	end    int
	starts []int
}

func (d *decoder) posAt(off int) diag.Pos {
	line := 1
	lo, hi := 0, len(d.lines)-1
	for lo <= hi {
		mid := (lo + hi) / 2
		if d.lines[mid] <= off {
			line = mid + 1
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	start := d.lines[line-1]
	if off > len(d.src) {
		off = len(d.src)
	}
	// A column counts the runes from the line's start; on one long line
	// (a when: of thousands of terms), counting from the last position
	// asked there keeps the positions of all its tokens linear.
	var col int
	switch c := d.lastCol; {
	case c.line != line:
		col = utf8.RuneCount(d.src[start:off]) + 1
		d.walked += off - start
	case off >= c.off:
		col = c.col + utf8.RuneCount(d.src[c.off:off])
		d.walked += off - c.off
	default:
		col = c.col - utf8.RuneCount(d.src[off:c.off])
		d.walked += c.off - off
	}
	d.lastCol = lastCol{line: line, off: off, col: col}
	return diag.Pos{File: d.file, Line: line, Col: col}
}

// lastCol is the last position posAt found: its line, byte offset and
// column.
type lastCol struct{ line, off, col int }

// addErr adds err, a *diag.Error or a diag.List (see ParseExpr).
func (d *decoder) addErr(err error) {
	if list, ok := err.(diag.List); ok {
		for _, e := range list {
			d.errs.Add(e)
		}
		return
	}
	d.errs.Add(err.(*diag.Error))
}
