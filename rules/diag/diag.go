// Package diag holds positions in rule files and the errors the compiler
// reports against them: "file:line:col: what is wrong", then how to fix it.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a rule file. Line and Col are 1-based; Col counts
// characters (Unicode code points: an é or a 🙂 is one, a tab is one), as
// YAML reads the file. The zero Pos means "no position" (the whole file).
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether p points somewhere.
func (p Pos) IsValid() bool { return p.Line > 0 }

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Shift returns p moved n characters to the right on the same line.
func (p Pos) Shift(n int) Pos {
	if p.Line > 0 {
		p.Col += n
	}
	return p
}

// Severity says whether a problem stops the file from compiling.
type Severity uint8

// Severities. The zero Severity is SeverityError.
const (
	// SeverityError: the file does not compile.
	SeverityError Severity = iota
	// SeverityWarning: the file compiles, but something in it is probably
	// not what its writer meant (a test value no rule reads, a condition
	// that always holds).
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Error is one problem in a rule file.
type Error struct {
	Pos Pos
	// Msg says what is wrong, and what was expected.
	Msg string
	// Hint, when not empty, says how to fix it ("did you mean ...?").
	Hint string
	// Severity is SeverityError unless the problem is only a warning.
	Severity Severity
	// Code names the kind of problem for tools ("yaml-tab",
	// "unknown-attribute"); empty when it has no particular name.
	Code string
}

func (e *Error) Error() string {
	s := e.Pos.String() + ": "
	if e.Severity == SeverityWarning {
		s += "warning: "
	}
	if e.Hint == "" {
		return s + e.Msg
	}
	return s + e.Msg + "; " + e.Hint
}

// Warningf returns a warning at pos.
func Warningf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Severity: SeverityWarning}
}

// WithCode sets the code and returns e.
func (e *Error) WithCode(code string) *Error {
	e.Code = code
	return e
}

// JSON is one diagnostic as `bespoke check --format json` prints it, one
// object per line: what editor plugins read.
type JSON struct {
	File       string `json:"file"`
	Line       int    `json:"line"`
	Col        int    `json:"col"`
	Severity   string `json:"severity"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion"` // "" when there is none
	Code       string `json:"code"`       // "" when it has none
}

// JSON returns e in its JSON form.
func (e *Error) JSON() JSON {
	return JSON{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Severity: e.Severity.String(), Message: e.Msg, Suggestion: e.Hint, Code: e.Code}
}

// Errorf returns an Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// WithHint sets the hint and returns e.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// List is a list of errors, reported together so an editor fixes them in one
// pass. A nil List is no error.
type List []*Error

// Add appends an error.
func (l *List) Add(e *Error) { *l = append(*l, e) }

// Sort orders the errors by position.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns the errors of l (not its warnings) sorted, or nil when
// there are none.
func (l List) Err() error {
	errs := l.Errors()
	if len(errs) == 0 {
		return nil
	}
	errs.Sort()
	return errs
}

// Errors returns the problems of l that are errors, not warnings.
func (l List) Errors() List {
	n := 0
	for _, e := range l {
		if e.Severity == SeverityError {
			n++
		}
	}
	if n == len(l) {
		return l
	}
	out := make(List, 0, n)
	for _, e := range l {
		if e.Severity == SeverityError {
			out = append(out, e)
		}
	}
	return out
}

// Warnings returns the problems of l that are warnings.
func (l List) Warnings() List {
	var out List
	for _, e := range l {
		if e.Severity == SeverityWarning {
			out = append(out, e)
		}
	}
	return out
}

// Nearest returns the candidate closest to name by edit distance, or "" when
// none is close enough to be what the writer meant.
func Nearest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := distance(strings.ToLower(name), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	// Allow about one edit per four characters, and at least one: enough
	// for typos, few enough that unrelated names are not offered.
	limit := max(1, (len(name)+1)/4)
	if bestD > limit {
		return ""
	}
	return best
}

// DidYouMean returns `did you mean "x"?` for the nearest candidate, or "".
func DidYouMean(name string, candidates []string) string {
	if n := Nearest(name, candidates); n != "" {
		return fmt.Sprintf("did you mean %q?", n)
	}
	return ""
}

// distance is the optimal string alignment distance (Levenshtein plus
// adjacent transpositions, the commonest typo).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
