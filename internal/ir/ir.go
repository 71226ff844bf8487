// Package ir is the intermediate representation of a checked rule file: the
// slots a module reads, the interned strings and patterns it compares with,
// and each rule's condition as a tree of typed tests over slots. Names are
// resolved and segments are shared, but nothing is lowered to Wasm yet: both
// the code generator and the reference evaluator start from here, so that
// they can be checked against each other.
//
// Every node carries the position of the source it came from.
package ir

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Program is a checked rule file.
type Program struct {
	// Source is the rule file's name; SourceHash its "sha256:" digest.
	Source     string
	SourceHash string
	// Slots are the values of the Context the rules read.
	Slots []plugin.Slot
	// Symbols are strings compared for equality (interned by the host).
	Symbols []string
	// Patterns are regular expressions (RE2 syntax).
	Patterns []string
	// Selectors are CSS selectors, by action index.
	Selectors   []string
	Segments    []*Segment
	Experiments []*Experiment
	Rules       []*Rule
	Tests       []*Test
	// Pages is the directory holding the origin's pages, for tests and
	// previews, as the rule file names it (relative to the file unless
	// absolute, see FromFile); empty when it names none. PagesAt is
	// where the file names it.
	Pages   string
	PagesAt diag.Pos
}

// FromFile returns the path p that a rule file in directory dir names:
// p itself when it is absolute, else p from dir.
func FromFile(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Experiment assigns each enrolled visitor one variant: the visitor's bucket
// (slot Bucket, 0-9999) falls in consecutive ranges, one per variant, of
// Weights[i] buckets each, in order. Visitors for whom Cond is false, whose
// bucket is missing, or whose bucket lies past the last range are not
// enrolled (variant -1).
type Experiment struct {
	Name     string
	Pos      diag.Pos
	Variants []string
	Weights  []int
	Bucket   int
	Cond     Node
	Meta     bool
}

// Segment is a named condition. Rules refer to it by index; it is evaluated
// at most once per request.
type Segment struct {
	Name string
	Pos  diag.Pos
	Cond Node
}

// Rule is one rule: its condition and its actions, ready for the manifest.
type Rule struct {
	Name string
	// Description is the rule's description: for people (explain shows
	// it), not compiled into the plugin.
	Description string
	Pos         diag.Pos
	Cond        Node
	Actions     []plugin.Action
	// Cap, when not nil, is the rule's frequency cap (its count is tested
	// in Cond; the host counts the times the rule applies).
	Cap *plugin.Cap
	// Disabled is set for a rule switched off with `enabled: false`: its
	// Cond is false.
	Disabled bool
}

// Node is a boolean condition.
type Node interface {
	// Position is the source of the node.
	Position() diag.Pos
	node()
}

// Const is a constant condition (a rule without `when`, a disabled rule).
type Const struct {
	Pos   diag.Pos
	Value bool
}

// And holds when every operand holds; evaluated left to right, stopping at
// the first that does not.
type And struct {
	Pos diag.Pos
	X   []Node
}

// Or holds when one operand holds; evaluated left to right, stopping at the
// first that does.
type Or struct {
	Pos diag.Pos
	X   []Node
}

// Not negates X.
type Not struct {
	Pos diag.Pos
	X   Node
}

// SegmentRef holds when segment Index holds.
type SegmentRef struct {
	Pos   diag.Pos
	Index int
}

// Exists holds when slot Slot has a value.
type Exists struct {
	Pos  diag.Pos
	Slot int
}

// Truthy holds when the yes/no slot Slot is present and true.
type Truthy struct {
	Pos  diag.Pos
	Slot int
}

// SymIn holds when slot Slot equals one of Syms (indexes into
// Program.Symbols). A missing value equals nothing.
type SymIn struct {
	Pos  diag.Pos
	Slot int
	Syms []int
}

// StrOp is a substring test.
type StrOp uint8

// Substring tests.
const (
	Prefix StrOp = iota + 1
	Suffix
	Contains
)

func (o StrOp) String() string {
	switch o {
	case Prefix:
		return "starts_with"
	case Suffix:
		return "ends_with"
	case Contains:
		return "contains"
	}
	return "?"
}

// StrTest holds when slot Slot is present and Op holds of it and Arg.
type StrTest struct {
	Pos  diag.Pos
	Slot int
	Op   StrOp
	Arg  string
}

// NumOp is a numeric comparison.
type NumOp uint8

// Numeric comparisons.
const (
	EQ NumOp = iota + 1
	LT
	LE
	GT
	GE
)

func (o NumOp) String() string {
	return [...]string{"?", "==", "<", "<=", ">", ">="}[o]
}

// NumCmp holds when slot Slot holds a number and `number Op Value`. A
// missing or non-numeric value compares false with everything.
type NumCmp struct {
	Pos   diag.Pos
	Slot  int
	Op    NumOp
	Value float64
}

// VariantIs holds when the visitor got one of Variants in experiment Exp.
type VariantIs struct {
	Pos      diag.Pos
	Exp      int
	Variants []int
}

// Seen holds when the visitor's seen-filter holds the item Symbols[Item]
// (asked of the host, lazily, with the seen import).
type Seen struct {
	Pos  diag.Pos
	Item int
}

// Match holds when slot Slot is present and matches pattern Pattern.
type Match struct {
	Pos     diag.Pos
	Slot    int
	Pattern int
}

func (n *Const) Position() diag.Pos      { return n.Pos }
func (n *And) Position() diag.Pos        { return n.Pos }
func (n *Or) Position() diag.Pos         { return n.Pos }
func (n *Not) Position() diag.Pos        { return n.Pos }
func (n *SegmentRef) Position() diag.Pos { return n.Pos }
func (n *Exists) Position() diag.Pos     { return n.Pos }
func (n *Truthy) Position() diag.Pos     { return n.Pos }
func (n *SymIn) Position() diag.Pos      { return n.Pos }
func (n *StrTest) Position() diag.Pos    { return n.Pos }
func (n *NumCmp) Position() diag.Pos     { return n.Pos }
func (n *Match) Position() diag.Pos      { return n.Pos }
func (n *VariantIs) Position() diag.Pos  { return n.Pos }
func (n *Seen) Position() diag.Pos       { return n.Pos }

func (*Const) node()      {}
func (*And) node()        {}
func (*Or) node()         {}
func (*Not) node()        {}
func (*SegmentRef) node() {}
func (*Exists) node()     {}
func (*Truthy) node()     {}
func (*SymIn) node()      {}
func (*StrTest) node()    {}
func (*NumCmp) node()     {}
func (*Match) node()      {}
func (*VariantIs) node()  {}
func (*Seen) node()       {}

// Format prints a node in the rule language's syntax, using the program's
// names, so explanations read like the rules that were written.
// listItem returns the item a test of a list for one item looks for
// (contains "\x00de\x00"), and whether n is one.
func listItem(n *StrTest) (string, bool) {
	if n.Op != Contains || len(n.Arg) < 2 || !plugin.IsList(n.Arg) || !strings.HasSuffix(n.Arg, plugin.ListSep) {
		return "", false
	}
	items := plugin.ListItems(n.Arg)
	if len(items) != 1 {
		return "", false
	}
	return items[0], true
}

// jsonContains recognizes `json(...) contains "x"` as the checker
// writes it: the array holds "x", or the value, not a list, contains it.
func jsonContains(n *Or) (*StrTest, string, bool) {
	if len(n.X) != 2 {
		return nil, "", false
	}
	inList, ok := n.X[0].(*StrTest)
	and, ok2 := n.X[1].(*And)
	if !ok || !ok2 || len(and.X) != 2 {
		return nil, "", false
	}
	item, isItem := listItem(inList)
	notList, ok := and.X[0].(*Not)
	text, ok2 := and.X[1].(*StrTest)
	if !isItem || !ok || !ok2 {
		return nil, "", false
	}
	prefix, ok := notList.X.(*StrTest)
	if !ok || prefix.Op != Prefix || prefix.Arg != plugin.ListSep || prefix.Slot != inList.Slot ||
		text.Op != Contains || text.Slot != inList.Slot || text.Arg != item {
		return nil, "", false
	}
	return inList, item, true
}

func (p *Program) Format(n Node) string {
	var b strings.Builder
	p.format(&b, n, false)
	return b.String()
}

// format writes n; nested says n is an operand of and/or/not, where compound
// conditions need parentheses.
func (p *Program) format(b *strings.Builder, n Node, nested bool) {
	switch n := n.(type) {
	case *Const:
		b.WriteString(strconv.FormatBool(n.Value))
	case *And:
		p.list(b, "and", n.X, nested)
	case *Or:
		if x, item, ok := jsonContains(n); ok {
			// json(...) contains "run": the array holds it, or the text
			// does, as the checker writes it (one test, as written).
			fmt.Fprintf(b, "%s contains %q", p.Slots[x.Slot], item)
			return
		}
		p.list(b, "or", n.X, nested)
	case *Not:
		switch x := n.X.(type) {
		case *StrTest:
			if x.Op == Prefix && x.Arg == plugin.ListSep {
				fmt.Fprintf(b, "%s is not a list", p.Slots[x.Slot])
				return
			}
		case *SymIn:
			if len(x.Syms) == 1 {
				fmt.Fprintf(b, "%s != %q", p.Slots[x.Slot], p.Symbols[x.Syms[0]])
			} else {
				fmt.Fprintf(b, "%s not in %s", p.Slots[x.Slot], p.symList(x.Syms))
			}
			return
		case *NumCmp:
			if x.Op == EQ {
				fmt.Fprintf(b, "%s != %s", p.Slots[x.Slot], p.literal(x.Slot, x.Value))
				return
			}
		}
		b.WriteString("not ")
		p.format(b, n.X, true)
	case *SegmentRef:
		b.WriteString(p.Segments[n.Index].Name)
	case *Exists:
		fmt.Fprintf(b, "%s exists", p.Slots[n.Slot])
	case *Truthy:
		b.WriteString(p.Slots[n.Slot].String())
	case *SymIn:
		if len(n.Syms) == 1 {
			fmt.Fprintf(b, "%s == %q", p.Slots[n.Slot], p.Symbols[n.Syms[0]])
		} else {
			fmt.Fprintf(b, "%s in %s", p.Slots[n.Slot], p.symList(n.Syms))
		}
	case *StrTest:
		switch item, isItem := listItem(n); {
		case isItem:
			// A list holds the item: what `languages contains "de"` is
			// stored as, its separators the module's business.
			fmt.Fprintf(b, "%s contains %q", p.Slots[n.Slot], item)
		case n.Op == Prefix && n.Arg == plugin.ListSep:
			fmt.Fprintf(b, "%s is a list", p.Slots[n.Slot])
		default:
			fmt.Fprintf(b, "%s %s %q", p.Slots[n.Slot], n.Op, n.Arg)
		}
	case *NumCmp:
		fmt.Fprintf(b, "%s %s %s", p.Slots[n.Slot], n.Op, p.literal(n.Slot, n.Value))
	case *Match:
		fmt.Fprintf(b, "%s matches %q", p.Slots[n.Slot], p.Patterns[n.Pattern])
	case *Seen:
		fmt.Fprintf(b, "seen(%q)", p.Symbols[n.Item])
	case *VariantIs:
		e := p.Experiments[n.Exp]
		if len(n.Variants) == 1 {
			fmt.Fprintf(b, "variant(%q) == %q", e.Name, e.Variants[n.Variants[0]])
		} else {
			q := make([]string, len(n.Variants))
			for i, v := range n.Variants {
				q[i] = strconv.Quote(e.Variants[v])
			}
			fmt.Fprintf(b, "variant(%q) in [%s]", e.Name, strings.Join(q, ", "))
		}
	default:
		fmt.Fprintf(b, "<%T>", n)
	}
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// literal prints a number compared with a slot as the editor wrote it: a
// time for now, a version for semver.
func (p *Program) literal(slot int, v float64) string {
	switch p.Slots[slot].Attr {
	case "now":
		return strconv.Quote(time.Unix(int64(v), 0).UTC().Format(time.RFC3339))
	case "semver":
		n := uint64(math.Ceil(v))
		s := fmt.Sprintf("%d.%d.%d", n/1e12, n/1e6%1e6, n%1e6)
		if v != math.Trunc(v) {
			s += "-pre"
		}
		return strconv.Quote(s)
	}
	return num(v)
}

func (p *Program) symList(syms []int) string {
	q := make([]string, len(syms))
	for i, s := range syms {
		q[i] = strconv.Quote(p.Symbols[s])
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (p *Program) list(b *strings.Builder, op string, xs []Node, nested bool) {
	if nested {
		b.WriteByte('(')
	}
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" " + op + " ")
		}
		p.format(b, x, true)
	}
	if nested {
		b.WriteByte(')')
	}
}

// Dump prints the whole program, one line per slot, segment and rule, for
// `bespoke compile --dump-ir`.
func (p *Program) Dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "program %s %s\n", p.Source, p.SourceHash)
	for i, s := range p.Slots {
		fmt.Fprintf(&b, "slot %d %s\n", i, s)
	}
	for i, s := range p.Symbols {
		fmt.Fprintf(&b, "symbol %d %q\n", i, s)
	}
	for i, s := range p.Patterns {
		fmt.Fprintf(&b, "pattern %d /%s/\n", i, s)
	}
	for i, s := range p.Selectors {
		fmt.Fprintf(&b, "selector %d %s\n", i, s)
	}
	for i, s := range p.Segments {
		fmt.Fprintf(&b, "segment %d %s @%d:%d = %s\n", i, s.Name, s.Pos.Line, s.Pos.Col, p.Format(s.Cond))
	}
	for i, e := range p.Experiments {
		fmt.Fprintf(&b, "experiment %d %s @%d:%d by %s variants %v weights %v when %s\n", i, e.Name, e.Pos.Line, e.Pos.Col, p.Slots[e.Bucket], e.Variants, e.Weights, p.Format(e.Cond))
	}
	for i, r := range p.Rules {
		fmt.Fprintf(&b, "rule %d %s @%d:%d = %s\n", i, r.Name, r.Pos.Line, r.Pos.Col, p.Format(r.Cond))
		for _, a := range r.Actions {
			fmt.Fprintf(&b, "  %s", a.Op)
			if a.Select >= 0 {
				fmt.Fprintf(&b, " %q", p.Selectors[a.Select])
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
