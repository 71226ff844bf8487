package plugin

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/escape"
)

// Manifest describes a compiled rule module: what the host must compute for
// it (slots), the strings it compares against (symbols) and matches
// (patterns), and what each rule does when it matches (actions). It travels
// as JSON in the artifact's SectionManifest.
type Manifest struct {
	// ABI is the ABIVersion the module was built for.
	ABI int `json:"abi"`
	// Compiler names the compiler and its version.
	Compiler string `json:"compiler"`
	// Source is the rule file's name, as given to the compiler.
	Source string `json:"source"`
	// SourceHash is "sha256:" and the hex digest of the rule file.
	SourceHash string `json:"source_hash"`
	// Layout is where the module expects the Context and writes the Decision.
	Layout Layout `json:"layout"`
	// Slots are the values the module reads, in slot-table order.
	Slots []Slot `json:"slots"`
	// Symbols are the strings the module compares values with; a slot's sym
	// is an index into Symbols.
	Symbols []string `json:"symbols"`
	// Patterns are RE2 regular expressions, by ImportRegexMatch index.
	Patterns []string `json:"patterns,omitempty"`
	// Selectors are the CSS selectors actions target, by Action.Select index.
	Selectors []string `json:"selectors,omitempty"`
	// Rules are the rules in file order; bit i of the Decision is Rules[i].
	Rules []Rule `json:"rules"`
	// Experiments are the experiments, by Decision.Variants index.
	Experiments []Experiment `json:"experiments,omitempty"`
	// RuleReads says each rule's Reads and ReadsSeen are filled in (by
	// compilers that know them); without it the host takes every rule to
	// depend on every slot.
	RuleReads bool `json:"rule_reads,omitempty"`
}

// Slot is one value of the Context.
type Slot struct {
	// Attr is the name of an attribute of the catalog (Attributes).
	Attr string `json:"attr"`
	// Arg is the attribute's argument (the cookie's name for cookie), or
	// empty when it takes none.
	Arg string `json:"arg,omitempty"`
	// From is the slot a computed attribute (json, semver, base64, bucket) is
	// computed from; nil for the others.
	From *Slot `json:"from,omitempty"`
	// Symbols are the indexes in Manifest.Symbols the module compares this
	// slot with. The host interns the slot's value against these only: a
	// value equal to some other symbol gets -1, which no comparison of this
	// slot can tell apart from "no symbol".
	Symbols []int `json:"symbols,omitempty"`
	// Bytes says the module reads the value's bytes (substring tests, host
	// functions aside). When false the host leaves ptr and len zero and
	// saves the copy.
	Bytes bool `json:"bytes,omitempty"`
}

func (s Slot) String() string {
	switch {
	case s.Attr == "json" && s.From != nil:
		return fmt.Sprintf("json(%s, %q)", s.From, s.Arg)
	case s.Attr == "semver" && s.From != nil:
		return fmt.Sprintf("semver(%s)", s.From)
	case s.Attr == "base64" && s.From != nil:
		return fmt.Sprintf("base64(%s)", s.From)
	case s.Attr == "bucket" && s.From != nil:
		return fmt.Sprintf("bucket(%s, %q)", s.From, s.Arg)
	case s.Attr == "geo.distance":
		return fmt.Sprintf("distance from (%s)", s.Arg)
	case s.Attr == "cap":
		// Internal: the rule's at_most count, keyed "seconds:rule",
		// written in at_most's words (views of "popup" per 1d).
		if secs, rule, ok := strings.Cut(s.Arg, ":"); ok {
			if n, err := strconv.Atoi(secs); err == nil && n > 0 {
				return fmt.Sprintf("views of %q per %s", rule, windowText(n))
			}
		}
	case s.Arg != "":
		return fmt.Sprintf("%s(%q)", s.Attr, s.Arg)
	}
	return s.Attr
}

// Show writes v, a value of the slot, as tools show it beside the slot's
// name: a number as it is (visitor.hour = 18), anything else quoted
// (geo.country = "FR"), a list as its items (languages = ["fr", "de"]).
func (s Slot) Show(v string) string {
	if IsList(v) {
		// A list (languages, a JSON array) as its items, not as the
		// separators it is stored with.
		items := ListItems(v)
		q := make([]string, len(items))
		for i, it := range items {
			q[i] = strconv.Quote(it)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	if a, ok := LookupAttr(s.Attr); ok && a.Type == Number {
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return v
		}
	}
	return strconv.Quote(v)
}

// windowText writes a window of seconds as at_most writes it: 1d, 12h,
// 7d, 90m.
func windowText(secs int) string {
	for _, u := range []struct {
		n    int
		unit string
	}{{7 * 86400, "w"}, {86400, "d"}, {3600, "h"}, {60, "m"}} {
		if secs%u.n == 0 {
			if u.unit == "w" {
				return strconv.Itoa(secs/86400) + "d"
			}
			return strconv.Itoa(secs/u.n) + u.unit
		}
	}
	return strconv.Itoa(secs) + "s"
}

// Key identifies what a slot reads, for maps: two slots with the same key
// hold the same value.
func (s Slot) Key() string {
	k := s.Attr + "\x00" + s.Arg
	if s.From != nil {
		k += "\x00(" + s.From.Key() + ")"
	}
	return k
}

// Pos is a position in the rule file: 1-based line and column (in bytes).
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Rule is one rule of the file.
type Rule struct {
	Name    string   `json:"name"`
	Pos     Pos      `json:"pos"`
	Actions []Action `json:"actions"`
	// Cap, when not nil, limits how often the rule applies to a visitor.
	Cap *Cap `json:"cap,omitempty"`
	// Reads are the slots whether the rule applies, and what its actions
	// write, depend on (its condition, the segments and experiments it
	// names, its templates), sorted; ReadsSeen says it also asks the
	// visitor's seen-filter. The host's Vary of a response only some
	// rules can change names the request headers these come from.
	Reads     []int `json:"reads,omitempty"`
	ReadsSeen bool  `json:"reads_seen,omitempty"`
	// ValueReads are the slots of Reads that only the rule's actions'
	// values read, not its condition: a response the rule did not apply
	// to does not depend on them, and its Vary need not name them.
	ValueReads []int `json:"value_reads,omitempty"`
	// Path, when not nil, is a condition on the request path alone that
	// holds whenever the rule applies (its condition's conjuncts on the
	// path, say): on a path where it does not hold, the rule applies
	// to no visitor, whatever else they send, and the host's Vary of
	// that URL leaves out what only such rules read. Nil: any path.
	Path *PathCond `json:"path,omitempty"`
}

// PathCond is a condition on the request path (the path slot's value:
// without the query, percent-decoded).
type PathCond struct {
	// Op is and, or, not (of X); in (the path is one of Args);
	// starts_with, ends_with, contains (Args[0]); matches (Patterns'
	// Pattern); false.
	Op   string      `json:"op"`
	X    []*PathCond `json:"x,omitempty"`
	Args []string    `json:"args,omitempty"`
	// Pattern indexes Manifest.Patterns, for matches.
	Pattern int `json:"pattern,omitempty"`
}

// check reports a pattern index out of range, or a condition nested
// deeper than a compiler writes (Holds recurses).
func (c *PathCond) check(patterns, depth int) error {
	if c == nil {
		return nil
	}
	if depth > 256 {
		return fmt.Errorf("nested over 256 levels")
	}
	if c.Op == "matches" && (c.Pattern < 0 || c.Pattern >= patterns) {
		return fmt.Errorf("pattern %d of %d", c.Pattern, patterns)
	}
	for _, x := range c.X {
		if err := x.check(patterns, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Holds reports whether c holds of path; match tests pattern i (nil:
// unknown). A part it cannot tell (an unknown operation, a pattern with
// no match) is taken to hold, and so is a nil c: a rule it guards is
// then taken to apply there, which keeps a Vary built from it whole.
func (c *PathCond) Holds(path string, match func(i int, s string) bool) bool {
	holds, known := c.eval(path, match)
	return holds || !known
}

// eval is Holds with whether the answer is known: not of an unknown is
// unknown, where taking it to hold would exclude paths the rule may
// apply to.
func (c *PathCond) eval(path string, match func(i int, s string) bool) (holds, known bool) {
	if c == nil {
		return true, false
	}
	arg := func() string {
		if len(c.Args) == 0 {
			return ""
		}
		return c.Args[0]
	}
	switch c.Op {
	case "and":
		known = true
		for _, x := range c.X {
			h, k := x.eval(path, match)
			if k && !h {
				return false, true
			}
			known = known && k
		}
		return true, known
	case "or":
		known = true
		for _, x := range c.X {
			h, k := x.eval(path, match)
			if k && h {
				return true, true
			}
			known = known && k
		}
		return false, known
	case "not":
		if len(c.X) != 1 {
			return true, false
		}
		h, k := c.X[0].eval(path, match)
		return !h, k
	case "false":
		return false, true
	case "in":
		return slices.Contains(c.Args, path), true
	case "starts_with":
		return strings.HasPrefix(path, arg()), true
	case "ends_with":
		return strings.HasSuffix(path, arg()), true
	case "contains":
		return strings.Contains(path, arg()), true
	case "matches":
		if match == nil {
			return true, false
		}
		return match(c.Pattern, path), true
	}
	return true, false
}

// Cap is a frequency cap: a rule applies at most Times times per Window
// seconds to one visitor. The module tests the count (a "cap" slot); the
// host counts the times the rule applied.
type Cap struct {
	Times  int `json:"times"`
	Window int `json:"window"`
	// Slot is the slot holding the visitor's count.
	Slot int `json:"slot"`
	// ShowUntracked lets the rule apply to a visitor whose count cannot
	// be kept (Global Privacy Control, declined consent) as if never
	// counted; false makes it never apply to such a visitor.
	ShowUntracked bool `json:"show_untracked,omitempty"`
}

// Experiment is a named experiment with weighted variants. The module
// decides the variant; the host exposes it.
type Experiment struct {
	Name string `json:"name"`
	// Variants are the variant names, by Decision.Variants index.
	Variants []string `json:"variants"`
	// Weights are the variants' shares of traffic in buckets (of Buckets).
	Weights []int `json:"weights"`
	// Meta asks the host to add <meta name="bespoke-experiment"> to pages.
	Meta bool `json:"meta,omitempty"`
	// Reads are the slots the visitor's variant depends on (its bucket,
	// its condition's), sorted. A page names its variants whatever rules
	// apply there, so its Vary names these on every path; a manifest
	// with path guards whose experiments do not say (empty) gets Vary
	// whole.
	Reads []int `json:"reads,omitempty"`
}

// Operations of actions, as rule files spell them.
const (
	OpSetInner     = "set_inner"
	OpReplace      = "replace"
	OpRemove       = "remove"
	OpInsertBefore = "insert_before"
	OpInsertAfter  = "insert_after"
	OpPrepend      = "prepend"
	OpAppend       = "append"
	OpSetAttr      = "set_attr"
	OpRemoveAttr   = "remove_attr"
	OpAddClass     = "add_class"
	OpRemoveClass  = "remove_class"
	OpRedirect     = "redirect"
	OpSetHeader    = "set_header"
	OpSetCookie    = "set_cookie"

	OpRemoveKeepContent = "remove_keep_content"
	OpLimit             = "limit"
	OpReorder           = "reorder"
	OpHideSeen          = "hide_seen"
	OpMarkSeen          = "mark_seen"

	OpJSONSet      = "json_set"
	OpJSONRemove   = "json_remove"
	OpJSONHideSeen = "json_hide_seen"
	OpJSONLimit    = "json_limit"
	OpJSONReorder  = "json_reorder"
)

// Action is one thing a rule does when it matches. Which fields are used
// depends on Op; the rest are zero.
type Action struct {
	// Op is one of the Op constants.
	Op string `json:"op"`
	// Pos is where the action is written.
	Pos Pos `json:"pos"`
	// Select is the index in Manifest.Selectors of the elements the action
	// changes, or -1 for actions that change no element (redirect, headers,
	// cookies).
	Select int `json:"select"`
	// Content is what set_inner, replace, insert_before, insert_after,
	// prepend and append insert.
	Content Template `json:"content,omitempty"`
	// HTML says Content is HTML, inserted as written; otherwise it is text
	// and escaped. Values interpolated from the context are escaped either
	// way.
	HTML bool `json:"html,omitempty"`
	// Name is the attribute (set_attr, remove_attr), class (add_class,
	// remove_class), header (set_header) or cookie (set_cookie) name.
	Name string `json:"name,omitempty"`
	// Value is the new value of an attribute, header or cookie, or the
	// target of a redirect.
	Value Template `json:"value,omitempty"`
	// On is "request" or "response" for set_header.
	On string `json:"on,omitempty"`
	// Status is a redirect's HTTP status (301, 302, 303, 307, 308).
	Status int `json:"status,omitempty"`
	// MaxAge is a cookie's lifetime in seconds; 0 makes a session cookie.
	MaxAge int `json:"max_age,omitempty"`
	// HTTPOnly hides a cookie from page scripts.
	HTTPOnly bool `json:"http_only,omitempty"`
	// IDAttr is the attribute holding an item's id (hide_seen, reorder).
	IDAttr string `json:"id_attr,omitempty"`
	// N is how many items limit keeps, and how many hide_seen keeps at
	// least.
	N int `json:"n,omitempty"`
	// Order lists item ids, comma-separated once rendered (reorder).
	Order Template `json:"order,omitempty"`
	// NoMark stops hide_seen from recording the items it shows as seen;
	// MarkFirst, when positive, records only the first MarkFirst of them.
	NoMark    bool `json:"no_mark,omitempty"`
	MarkFirst int  `json:"mark_first,omitempty"`
	// Demote makes hide_seen move seen items after the others instead of
	// hiding them.
	Demote bool `json:"demote,omitempty"`
	// Item is the item id mark_seen records.
	Item Template `json:"item,omitempty"`
	// Path is the gjson path a json_* action edits.
	Path string `json:"path,omitempty"`
	// JSON says Value is raw JSON (json_set with json:), not a text to
	// encode as a JSON string.
	JSON bool `json:"json,omitempty"`
	// Schemes, when not nil, lets a value start a URL (in a URL attribute
	// set by set_attr or written in html content, or a redirect target):
	// the value must then have one of these schemes, "relative" standing
	// for a URL without one (see package escape). Nil: the literal text
	// before a URL's first value decides its scheme and host.
	Schemes []string `json:"schemes,omitempty"`
}

// Template is a text with values of the context interpolated into it.
type Template []Part

// Part is a literal text, or a reference to a slot whose value is inserted.
type Part struct {
	// Text is the literal text, when Slot is -1.
	Text string `json:"text,omitempty"`
	// Slot is the index of the slot to insert, or -1 for literal text.
	Slot int `json:"slot"`
	// Default is inserted when the slot has no value.
	Default string `json:"default,omitempty"`
	// Experiment, when not 0, inserts the name of the variant the visitor
	// got in experiment Experiment-1 (Slot is then -1).
	Experiment int `json:"experiment,omitempty"`
}

// Pieces returns the template as package escape's checks see it: literal
// texts and values (with their defaults).
func (t Template) Pieces() []escape.Piece {
	out := make([]escape.Piece, len(t))
	for i, p := range t {
		if p.Slot >= 0 || p.Experiment != 0 {
			out[i] = escape.Piece{Text: p.Default, Value: true}
		} else {
			out[i] = escape.Piece{Text: p.Text}
		}
	}
	return out
}

// IsLiteral reports whether the template has no interpolation.
func (t Template) IsLiteral() bool {
	for _, p := range t {
		if p.Slot >= 0 || p.Experiment != 0 {
			return false
		}
	}
	return true
}

// Value is the value of one slot for one request, on the host side.
type Value struct {
	// Str is the value as text. For numbers it is their decimal form.
	Str string
	// Num is the numeric value when Number is set.
	Num float64
	// Present says the value exists.
	Present bool
	// Number says Num holds a finite number.
	Number bool
}

// Decision is what a module decided for one request.
type Decision struct {
	// Matched is the matched-rules bitset: bit i%64 of word i/64 for rule i.
	Matched []uint64
	// Variants holds, per experiment, the assigned variant or -1.
	Variants []int32
}

// Has reports whether rule i matched.
func (d *Decision) Has(i int) bool {
	w := i / 64
	return w < len(d.Matched) && d.Matched[w]&(1<<(uint(i)%64)) != 0
}

// Set marks rule i as matched, growing the bitset as needed.
func (d *Decision) Set(i int) {
	for len(d.Matched) <= i/64 {
		d.Matched = append(d.Matched, 0)
	}
	d.Matched[i/64] |= 1 << (uint(i) % 64)
}

// Count returns the number of matched rules.
func (d *Decision) Count() int {
	n := 0
	for _, w := range d.Matched {
		n += bits.OnesCount64(w)
	}
	return n
}

// Rules appends the indexes of the matched rules, in order, to dst.
func (d *Decision) Rules(dst []int) []int {
	for wi, w := range d.Matched {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			dst = append(dst, wi*64+b)
			w &= w - 1
		}
	}
	return dst
}

// Equal reports whether two decisions are the same (trailing zero words are
// ignored).
func (d *Decision) Equal(o *Decision) bool {
	n := max(len(d.Matched), len(o.Matched))
	for i := range n {
		var a, b uint64
		if i < len(d.Matched) {
			a = d.Matched[i]
		}
		if i < len(o.Matched) {
			b = o.Matched[i]
		}
		if a != b {
			return false
		}
	}
	if len(d.Variants) != len(o.Variants) {
		return false
	}
	for i := range d.Variants {
		if d.Variants[i] != o.Variants[i] {
			return false
		}
	}
	return true
}
