// Package jsonpath is the path language of bespoke's JSON edits: the part
// of gjson's path syntax (https://github.com/tidwall/gjson/blob/master/SYNTAX.md)
// that names one place in a document, so that an edit can change it. The
// rule checker parses paths to refuse, with the reason, those that can
// never name such a place; the host's JSON editor walks the steps.
//
// Supported:
//
//	items  banner.title                  keys, separated by dots
//	items.0                              an array element by index (on an object, the key "0")
//	item*  ite?s                         keys with wildcards: the first key in document order that matches
//	items.#(id=="sku-1").price           the first array element a gjson query matches
//	a\.b  \#tag  \@type                  escapes: the next character is part of the key
//	@this                                the whole document (alone)
//	a|b                                  the same as a.b
//
// Refused: modifiers other than a lone @this (@reverse, @pretty, ...:
// they compute a new value, which is in no place of the document), and in
// a query @pretty, @dig and @fromstr, whose cost grows with the nesting
// of each element (see Unbounded), # (an
// array's length) and #.key (a value of every element), queries that
// return every match (#(...)#), multipaths ([a,b] and {a,b}), literals
// (!true) and JSON Lines (..).
package jsonpath

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// This is the path of the whole document.
const This = "@this"

// Kind is what a step selects.
type Kind uint8

// Kinds of steps.
const (
	// Key selects an object's member by name (Name, with wildcards when
	// Wild), or an array's element when Index is not -1.
	Key Kind = iota
	// Query selects the first element of an array that matches Query.
	Query
)

// Step is one step of a path.
type Step struct {
	Kind Kind
	// Name is the key, unescaped (Key); with Wild, the pattern as
	// written, escapes included (see Match).
	Name string
	// Wild says Name holds wildcards: * matches any run of characters and
	// ? any one character.
	Wild bool
	// Index is Name read as an array index, or -1 when it is not one.
	Index int
	// Query is the text between #( and ) (Query), in gjson's query
	// syntax.
	Query string
}

// Error is a path that names no place an edit can change.
type Error struct {
	// Offset is the byte of the path the problem is at.
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errAt(off int, format string, args ...any) error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads path. It returns no steps for This. An error is an *Error.
func Parse(path string) ([]Step, error) {
	return AppendParse(nil, path)
}

// AppendParse is Parse appending the steps to dst (which a caller can
// back with an array, to walk paths without allocating).
func AppendParse(dst []Step, path string) ([]Step, error) {
	switch {
	case path == "":
		return dst, errAt(0, "the path is empty")
	case path == This:
		return dst, nil
	case strings.HasPrefix(path, ".."):
		return dst, errAt(0, "%q reads JSON Lines, one document per line; a response is one document", path)
	}
	switch path[0] {
	case '[', '{':
		return dst, errAt(0, "%q is a multipath, which builds a new value from several; edit each place with its own action", path)
	case '!':
		return dst, errAt(0, "%q is a literal, not a place in the document", path)
	}
	for i := 0; i <= len(path); {
		start := i
		if i < len(path) && path[i] == '@' {
			name := path[i:]
			if j := strings.IndexAny(name, ".|:"); j >= 0 {
				name = name[:j]
			}
			if name == This {
				return dst, errAt(i, "@this stands for the whole document and must be the whole path")
			}
			return dst, errAt(i, "%s is a modifier: it computes a new value, which is in no place of the document; write \\@ for a key that starts with @", name)
		}
		if i < len(path) && path[i] == '#' {
			switch {
			case i+1 == len(path) || path[i+1] == '.' || path[i+1] == '|':
				return dst, errAt(i, "# is an array's length, or with .key a value of every element: no one place to edit; use an index (items.0) or a query (items.#(id==\"a\"))")
			case path[i+1] == '(':
				end, ok := queryEnd(path, i+1)
				if !ok {
					return dst, errAt(i, "the query %q has no closing parenthesis", path[i:])
				}
				q := path[i+2 : end]
				i = end + 1
				if i < len(path) && path[i] == '#' {
					return dst, errAt(start, "#(...)# selects every match; an edit needs one place: drop the last #")
				}
				if strings.TrimSpace(q) == "" {
					return dst, errAt(start, "the query is empty")
				}
				// gjson evaluates the query on each element until one
				// matches: what a modifier in it costs, it costs per
				// element.
				if m := Unbounded(q); m != "" {
					return dst, errAt(start, "%s in a query costs more, the deeper an element is nested; compare the value itself", m)
				}
				if slices.Contains(Modifiers(q), "fromstr") {
					return dst, errAt(start, "@fromstr in a query reads JSON out of a string, whose nesting no limit bounds")
				}
				dst = append(dst, Step{Kind: Query, Query: q, Index: -1})
				next, err := separator(path, i)
				if err != nil {
					return dst, err
				}
				if next < 0 {
					return dst, nil
				}
				i = next
				continue
			}
		}
		// A key, up to an unescaped separator. At the start of a key
		// gjson reads !, [ and { as syntax (the rest of this loop reads
		// what it reads as characters of the key).
		if i < len(path) {
			switch c := path[i]; c {
			case '!', '[', '{':
				return dst, errAt(i, "%q cannot start a key; write \\%c for the character", c, c)
			}
		}
		var b []byte // the unescaped key, when it had escapes
		wild := false
		j := i
		for ; j < len(path); j++ {
			c := path[j]
			if c == '.' || c == '|' {
				break
			}
			switch c {
			case '\\':
				if b == nil {
					b = append([]byte(nil), path[i:j]...)
				}
				j++
				if j == len(path) {
					return dst, errAt(j-1, "the path ends with a lone \\")
				}
				b = append(b, path[j])
				continue
			case '*', '?':
				wild = true
			}
			if b != nil {
				b = append(b, c)
			}
		}
		name := path[i:j]
		if b != nil && !wild {
			name = string(b)
		}
		if name == "" {
			return dst, errAt(i, "the path has an empty key (two separators in a row, or one at an end)")
		}
		st := Step{Kind: Key, Name: name, Wild: wild, Index: -1}
		if b == nil && !wild {
			st.Index = index(name)
		}
		dst = append(dst, st)
		if j == len(path) {
			return dst, nil
		}
		i = j + 1
		if i == len(path) {
			return dst, errAt(j, "the path ends with a separator")
		}
	}
	return dst, nil
}

// index reads a key as an array index: digits, below a billion; -1 for
// anything else. Leading zeros are read as gjson reads them: items.01
// is the element items.1 is.
func index(name string) int {
	if len(name) == 0 {
		return -1
	}
	digits := strings.TrimLeft(name, "0")
	if len(digits) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// separator reads what follows a query at i: the end (-1) or a
// separator, returning the offset of the next step.
func separator(path string, i int) (int, error) {
	if i == len(path) {
		return -1, nil
	}
	if path[i] != '.' && path[i] != '|' {
		return 0, errAt(i, "a query must be followed by . or | and the next key, or end the path")
	}
	if i+1 == len(path) {
		return 0, errAt(i, "the path ends with a separator")
	}
	return i + 1, nil
}

// queryEnd finds the parenthesis closing the one at open, skipping
// quoted strings.
func queryEnd(path string, open int) (int, bool) {
	depth := 0
	for i := open; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '"':
			for i++; i < len(path) && path[i] != '"'; i++ {
				if path[i] == '\\' {
					i++
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i, true
			}
		}
	}
	return 0, false
}

// KeysMeet reports whether two Key steps may select the same member or
// element: the same key or index, a wildcard and a key it matches, or
// two wildcards (what two patterns both match depends on the document).
// Queries are the callers' to weigh: one may take them for the same
// step, another only when they are written alike.
func KeysMeet(x, y Step) bool {
	switch {
	case x.Wild && y.Wild:
		return true
	case x.Wild:
		return Match(y.Name, x.Name)
	case y.Wild:
		return Match(x.Name, y.Name)
	}
	return x.Name == y.Name || x.Index >= 0 && x.Index == y.Index
}

// Match reports whether key matches a step's Name with wildcards: *
// matches any run of bytes, ? any one character, and \ makes the next
// character of the pattern stand for itself.
func Match(key, pattern string) bool {
	// Iterative matching with one backtrack point, linear enough for
	// keys.
	k, p := 0, 0
	star, mark := -1, 0
	for k < len(key) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, k
			p++
		case p < len(pattern) && pattern[p] == '?':
			k += runeLen(key, k)
			p++
		case p+1 < len(pattern) && pattern[p] == '\\' && pattern[p+1] == key[k]:
			k++
			p += 2
		case p < len(pattern) && pattern[p] != '\\' && pattern[p] == key[k]:
			k++
			p++
		case star >= 0:
			p = star + 1
			mark++
			k = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// runeLen is the length of the UTF-8 sequence at key[k] (1 for a byte
// that starts none).
func runeLen(key string, k int) int {
	c := key[k]
	n := 1
	switch {
	case c >= 0xF0:
		n = 4
	case c >= 0xE0:
		n = 3
	case c >= 0xC0:
		n = 2
	}
	if k+n > len(key) {
		return 1
	}
	return n
}

// ErrNotEditable wraps the reason a path cannot be edited, for callers
// that want errors.Is.
var ErrNotEditable = errors.New("jsonpath: the path names no place an edit can change")

func (e *Error) Unwrap() error { return ErrNotEditable }

// Modifiers returns the names, without their @, of the gjson modifiers a
// path applies, in the order written: "@reverse|0" gives ["reverse"].
// An @ counts at the start of the path or of a part of it (after . | ( [
// { , : " or a space) when it is not escaped (\@type is a key), in the
// quoted text of a query too: a quote is a character of a key outside
// queries, so that skipping quoted text would skip what follows a key
// with a quote in it (a"b|@pretty).
func Modifiers(path string) []string {
	var names []string
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '\\':
			i++
		case '@':
			if i > 0 && !strings.ContainsRune(".|([{,: \"", rune(path[i-1])) {
				continue
			}
			j := i + 1
			for j < len(path) && (path[j] >= 'a' && path[j] <= 'z' || path[j] >= 'A' && path[j] <= 'Z' || path[j] >= '0' && path[j] <= '9' || path[j] == '_') {
				j++
			}
			if j > i+1 {
				names = append(names, path[i+1:j])
			}
			i = j - 1
		}
	}
	return names
}

// Unbounded returns the first modifier of a path (see Modifiers) whose
// work grows faster than the value it reads, or "": @pretty indents each
// line once per level of nesting (a 60 KB value of nested arrays becomes
// 60 MB), and @dig searches the value again under each level.
func Unbounded(path string) string {
	for _, m := range Modifiers(path) {
		if m == "pretty" || m == "dig" {
			return "@" + m
		}
	}
	return ""
}
