package syntax

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// A YAML syntax error stops a YAML parser at the first mistake, and the
// line it names is often the start of the enclosing block rather than the
// line at fault. So that an editor sees every mistake at once, and each at
// its real position, a file that does not parse is read line by line first:
//
//   - a scanner follows the few YAML constructs rule files use (block
//     mappings and lists, one-line flow collections, quoted and block
//     scalars) and recognizes the common traps at their line and column:
//     a tab in the indentation, a # that starts a comment where a selector
//     was meant, ": " inside an unquoted value, a quote that ends a quoted
//     value early, a backslash that starts no escape in a double-quoted
//     value, a missing space after a colon, a bracket or quote left
//     open, and lines indented to no level above them;
//   - an outline groups the lines into regions (a key and what is nested
//     under it, a list item and what is nested under it), so that each
//     rule, segment, experiment and test can be parsed on its own;
//   - every entry that does not parse on its own loses the smallest region
//     that makes it parse: the one holding a trap, else the one found by
//     removing regions one by one. Its lines are blanked (kept as empty
//     lines, so every other position stays exact), and the error is
//     reported once, at the trap or at the region.
//
// The rest of the file is then read and checked as usual, so the errors of
// every other rule are reported in the same pass.

// srcLine is what the scanner learned about one line.
type srcLine struct {
	text string
	// indent is the column (0-based, in bytes) of the line's first
	// character that is not indentation; a tab counts as 4 columns, so a
	// line indented with tabs still falls under some level.
	indent int
	// content is set on lines the outline starts a region on: not blank,
	// not a comment, not the body of a block scalar and not the
	// continuation of a flow collection or quoted scalar.
	content bool
	dash    bool // the line starts with "- "
	// emptyItem is a bare "-": the item's content is nested below.
	emptyItem bool
	key       string // the key the line starts (after "- "), or ""
	keyCol    int    // the key's column, or -1
	// hasValue says the key has a value on the same line (not just
	// "key:" with its value nested below).
	hasValue bool
}

// trap is a YAML mistake recognized by the scanner.
type trap struct {
	line int // 1-based
	col  int // 0-based byte offset in the line
	msg  string
	hint string
	code string
}

// flowOpen is an open flow collection: its bracket, '{' or '[', and where
// it is.
type flowOpen struct {
	c         byte
	line, col int
}

// yamlScanner scans lines in order, carrying the state of multi-line
// constructs from one line to the next.
type yamlScanner struct {
	lines []*srcLine
	traps []trap

	flow      []flowOpen // open flow collections, outermost first
	flowOwner int        // the indentation of the line that opened the outermost
	quote     byte
	quoteLine int
	quoteCol  int
	// quoteOwner is the indentation of the line a multi-line quoted
	// scalar started on; quoteFlow says it started inside a flow
	// collection.
	quoteOwner int
	quoteFlow  bool
	// blockIndent, when >= 0, is the indentation of the key that opened a
	// block scalar: lines indented more belong to its text.
	blockIndent int
}

// knownKeys are the field names of every part of a rule file, for the
// missing-space trap ("when:geo.country"), which must not fire on values
// that merely contain a colon.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range [][]string{topFields, ruleFields, experimentFields, testFields, requestFields, expectFields, pageFields} {
		for _, k := range l {
			m[k] = true
		}
	}
	for op, spec := range ops {
		m[op] = true
		for _, f := range spec.fields {
			m[f] = true
		}
	}
	return m
}()

func scanYAML(src []byte) *yamlScanner {
	s := &yamlScanner{blockIndent: -1}
	text := string(src)
	n := 0
	for len(text) > 0 || n == 0 {
		line, rest, found := strings.Cut(text, "\n")
		n++
		s.line(n, strings.TrimSuffix(line, "\r"))
		text = rest
		if !found {
			break
		}
	}
	s.finish()
	return s
}

func (s *yamlScanner) addTrap(line, col int, code, hint, format string, args ...any) {
	s.traps = append(s.traps, trap{line: line, col: col, code: code, hint: hint, msg: fmt.Sprintf(format, args...)})
}

// finish reports constructs still open at the end of the file.
func (s *yamlScanner) finish() {
	s.unclosed()
}

// unclosed reports what is still open: a quote, which swallowed whatever
// would have closed the collections around it, else the innermost
// collection.
func (s *yamlScanner) unclosed() {
	if s.quote != 0 {
		s.unclosedQuote()
		s.flow = s.flow[:0]
		return
	}
	if len(s.flow) == 0 {
		return
	}
	open := s.flow[len(s.flow)-1]
	hint := fmt.Sprintf("close it with %c on the same line", closer(open.c))
	if len(s.flow) > 1 {
		hint = fmt.Sprintf("close it with %c, then the %c before it with %c, on the same line", closer(open.c), s.flow[len(s.flow)-2].c, closer(s.flow[len(s.flow)-2].c))
	}
	s.addTrap(open.line, open.col, "yaml-unclosed", hint, "this %c is never closed", open.c)
	s.flow = s.flow[:0]
}

// closer returns the bracket that closes the flow collection open opens.
func closer(open byte) byte {
	if open == '[' {
		return ']'
	}
	return '}'
}

func (s *yamlScanner) unclosedQuote() {
	s.addTrap(s.quoteLine, s.quoteCol, "yaml-unclosed", fmt.Sprintf("close the value with %c on the same line", s.quote),
		"this %c starts a quoted value that is never closed", s.quote)
	s.quote = 0
}

func (s *yamlScanner) line(n int, text string) {
	l := &srcLine{text: text, keyCol: -1}
	s.lines = append(s.lines, l)
	// Indentation: spaces, and tabs (a mistake, reported below).
	i, col, tab := 0, 0, -1
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		if text[i] == '\t' {
			if tab < 0 {
				tab = i
			}
			col += 4
		} else {
			col++
		}
		i++
	}
	l.indent = col
	blank := i == len(text) || text[i] == '#'
	if s.blockIndent >= 0 {
		if blank || col > s.blockIndent {
			return // the text of a block scalar
		}
		s.blockIndent = -1
	}
	if s.quote != 0 {
		if !blank && (col <= s.quoteOwner && !s.quoteFlow || s.quoteFlow && len(s.flow) > 0 && col <= s.flowOwner) {
			// A quoted value continues only on lines indented more than
			// the key that holds it (or, in a flow collection, than the
			// line that opened it): this line starts something else.
			s.unclosed()
		} else {
			j := closeQuote(text, 0, s.quote)
			if j < 0 {
				return
			}
			s.quote = 0
			if len(s.flow) > 0 {
				s.afterQuoted(n, text, j, true, "")
				s.scanFlow(n, text, j+1, len(s.flow))
			} else {
				s.afterQuoted(n, text, j, false, "")
			}
			return
		}
	}
	if len(s.flow) > 0 {
		if !blank && col <= s.flowOwner {
			s.unclosed()
		} else {
			s.scanFlow(n, text, 0, len(s.flow))
			return
		}
	}
	if blank {
		return
	}
	if tab >= 0 {
		s.addTrap(n, tab, "yaml-tab", "replace the tab with spaces (set the editor to indent YAML with spaces)",
			"a tab in the indentation: YAML indents with spaces only")
	}
	l.content = true
	if text[i] == '-' && (i+1 == len(text) || text[i+1] == ' ') {
		l.dash = true
		i++
		for i < len(text) && text[i] == ' ' {
			i++
		}
		if i == len(text) || text[i] == '#' {
			l.emptyItem = true
			return
		}
	}
	if strings.HasPrefix(text[i:], "---") || strings.HasPrefix(text[i:], "...") {
		return
	}
	s.keyOrValue(n, l, i)
}

// keyOrValue scans from i, where a line's key or a list item's value
// starts.
func (s *yamlScanner) keyOrValue(n int, l *srcLine, i int) {
	text := l.text
	switch text[i] {
	case '"', '\'':
		j := closeQuote(text, i+1, text[i])
		if j < 0 {
			s.openQuote(n, l, i)
			return
		}
		k := skipSpaces(text, j+1)
		if k < len(text) && text[k] == ':' && (k+1 == len(text) || text[k+1] == ' ') {
			l.key, l.keyCol = text[i+1:j], i
			s.value(n, l, k+1)
			return
		}
		s.escapeTrap(n, text, i, j, "")
		s.afterQuoted(n, text, j, false, "")
		return
	case '{', '[':
		s.openFlow(n, l, i)
		return
	case '|', '>':
		if l.dash {
			s.blockIndent = l.indent
		}
		return
	}
	// A plain key, or a plain value (a list item, or a mistake).
	end := plainEnd(text, i)
	if c := keyColon(text, i, end); c >= 0 {
		l.key, l.keyCol = strings.TrimSpace(text[i:c]), i
		s.value(n, l, c+1)
		return
	}
	word := text[i:end]
	if m := gluedKey.FindStringSubmatch(word); m != nil && knownKeys[m[1]] {
		s.addTrap(n, i+len(m[1]), "yaml-colon-space", fmt.Sprintf("write %s: %s", m[1], word[len(m[1])+1:]),
			"`%s:` needs a space after its colon: without one, YAML reads the line as one piece of text", m[1])
	}
}

// gluedKey is a key with no space after its colon: "when:geo.country".
var gluedKey = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]*):[^\s:/]`)

// value scans from i, just after a key's colon.
func (s *yamlScanner) value(n int, l *srcLine, i int) {
	text := l.text
	i = skipSpaces(text, i)
	if i == len(text) || text[i] == '#' {
		return // "key:" with its value nested below, or null
	}
	l.hasValue = true
	switch text[i] {
	case '"', '\'':
		j := closeQuote(text, i+1, text[i])
		if j < 0 {
			s.openQuote(n, l, i)
			return
		}
		s.escapeTrap(n, text, i, j, l.key)
		s.afterQuoted(n, text, j, false, l.key)
	case '{', '[':
		s.openFlow(n, l, i)
	case '|', '>':
		s.blockIndent = l.indent
		if l.keyCol >= 0 {
			// Under "- key: |" the text is indented more than the key.
			s.blockIndent = max(l.indent, l.keyCol)
		}
	case '&', '!':
		// An anchor or a tag, then the value.
		j := i
		for j < len(text) && text[j] != ' ' {
			j++
		}
		if j < len(text) {
			s.value(n, l, j)
		}
	case '*':
	default:
		end := plainEnd(text, i)
		if c := innerColon(text, i, end); c >= 0 {
			s.colonTrap(n, l, i, end, c)
		}
	}
}

// colonTrap reports ": " inside the unquoted value text[from:end].
func (s *yamlScanner) colonTrap(n int, l *srcLine, from, end, colon int) {
	v := strings.TrimSpace(l.text[from:end])
	key := l.key
	if key == "" {
		key = "value"
	}
	s.addTrap(n, colon, "yaml-colon", "quote the whole value: "+key+": "+quoteFor(v),
		"`: ` inside a value that is not quoted: YAML takes it for the colon of a new key")
}

// quoteFor quotes a value the way YAML reads it back unchanged: with
// double quotes unless it holds some (then single quotes, which need no
// escapes but doubled single quotes).
func quoteFor(v string) string {
	if !strings.Contains(v, `"`) && !strings.Contains(v, `\`) {
		return `"` + v + `"`
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func (s *yamlScanner) openQuote(n int, l *srcLine, i int) {
	s.quote, s.quoteLine, s.quoteCol, s.quoteOwner, s.quoteFlow = l.text[i], n, i, l.indent, len(s.flow) > 0
}

func (s *yamlScanner) openFlow(n int, l *srcLine, i int) {
	s.flowOwner = l.indent
	l.hasValue = true
	s.scanFlow(n, l.text, i, 0)
}

// afterQuoted checks what follows a quoted value that closes at text[j]:
// the end of the line, a comment, or in a flow collection a separator.
// Anything else means a quote inside the value ended it early.
func (s *yamlScanner) afterQuoted(n int, text string, j int, inFlow bool, key string) {
	k := skipSpaces(text, j+1)
	if k == len(text) || (text[k] == '#' && k > j+1) {
		return
	}
	if inFlow && strings.IndexByte(",}]:", text[k]) >= 0 {
		return
	}
	q := text[j]
	// Find where the value was meant to end: the last quote of its kind
	// before a separator, a comment or the end of the line.
	start := strings.LastIndexByte(text[:j], q)
	if start < 0 {
		start = 0 // the value opened on an earlier line
	}
	stop := len(text)
	if inFlow {
		// The value was meant to end at the first separator right after
		// a quote of its kind: a ] inside it ("li[data-id="3"]") is
		// not one.
		stop = -1
		for p := k; p < len(text) && stop < 0; p++ {
			if strings.IndexByte(",}]", text[p]) >= 0 && strings.HasSuffix(strings.TrimRight(text[k:p], " "), string(q)) {
				if next := skipSpaces(text, p+1); text[p] != ']' || next == len(text) || strings.IndexByte(",}", text[next]) >= 0 {
					stop = p
				}
			}
		}
		if stop < 0 {
			stop = len(text)
			if c := strings.IndexAny(text[k:], ",}]"); c >= 0 {
				stop = k + c
			}
		}
	}
	meant := strings.TrimSpace(text[start:stop])
	word := strings.Fields(text[k:stop])
	after := ""
	if len(word) > 0 {
		w := strings.TrimLeft(word[0], `"'`)
		if q := strings.IndexAny(w, `"'`); q >= 0 {
			w = w[:q]
		}
		if w != "" {
			after = " before " + w
		}
	}
	hint := "to put " + string(q) + " inside a value, quote the value with the other kind of quote"
	// The value written again, when it is short enough to read in a
	// hint: a long one is told by the generic hint.
	if len(meant) >= 2 && len(meant) <= maxHintValue && meant[0] == q && meant[len(meant)-1] == q {
		inner := meant[1 : len(meant)-1]
		lead := ""
		if key != "" {
			lead = key + ": "
		}
		if q == '"' && !strings.Contains(inner, "'") {
			hint = "to put \" inside a value, quote the value with single quotes: " + lead + "'" + inner + "'"
		} else if q == '\'' {
			hint = "write '' for a ' inside single quotes, or quote with double quotes: " + lead + "\"" + strings.ReplaceAll(inner, `"`, `\"`) + "\""
		}
	}
	s.addTrap(n, j, "yaml-quote", hint, "the %c%s ends the quoted value early", q, after)
}

// maxHintValue is the longest value a hint writes out again.
const maxHintValue = 200

// scanFlow scans a flow collection ({ ... } or [ ... ]) from text[i],
// tracking nesting across lines. startDepth is the nesting at i; a trap in
// a collection opened on this line closes it, so that the lines after it
// are read afresh.
func (s *yamlScanner) scanFlow(n int, text string, i, startDepth int) {
	expectKey := true // after { or ,: a key; after ": " a value
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t'):
			if len(s.flow) > 0 && !expectKey {
				s.hashTrap(n, text, i)
				s.flow = s.flow[:min(startDepth, len(s.flow))]
			}
			return
		case c == '{' || c == '[':
			s.flow = append(s.flow, flowOpen{c: c, line: n, col: i})
			expectKey = c == '{'
			i++
		case c == '}' || c == ']':
			if len(s.flow) > 0 {
				if open := s.flow[len(s.flow)-1]; closer(open.c) != c {
					// "[a, b }": the } closes the { around the list, and
					// the [ is left open.
					s.addTrap(open.line, open.col, "yaml-unclosed", fmt.Sprintf("close it with %c before the %c", closer(open.c), c),
						"this %c is never closed: the %c after it closes the %c before it", open.c, c, flowOpener(c))
					s.flow = s.flow[:min(startDepth, len(s.flow))]
					return
				}
				s.flow = s.flow[:len(s.flow)-1]
			}
			i++
			if len(s.flow) == 0 {
				return // what follows a closed collection is not scanned
			}
			expectKey = false
		case c == ',':
			expectKey = len(s.flow) > 0 && s.flow[len(s.flow)-1].c == '{'
			i++
		case c == ':' && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == ','):
			expectKey = false
			i++
		case c == '"' || c == '\'':
			j := closeQuote(text, i+1, c)
			if j < 0 {
				s.quote, s.quoteLine, s.quoteCol, s.quoteOwner, s.quoteFlow = c, n, i, 0, true
				return
			}
			s.escapeTrap(n, text, i, j, flowKeyBefore(text, i))
			k := skipSpaces(text, j+1)
			if k < len(text) && strings.IndexByte(",}]:#", text[k]) < 0 {
				if f := fieldAt(text, k); f != "" && !expectKey && s.flow[len(s.flow)-1].c == '{' {
					// { select: "#x" text: a }: the comma is missing.
					key := flowKeyBefore(text, i)
					s.addTrap(n, k, "yaml-comma", "separate the fields with a comma: "+key+": "+text[i:j+1]+", "+f+": …",
						"`%s:` follows the value of %s without a comma between them", f, key)
					s.flow = s.flow[:min(startDepth, len(s.flow))]
					return
				}
				s.afterQuoted(n, text, j, true, flowKeyBefore(text, i))
				s.flow = s.flow[:min(startDepth, len(s.flow))]
				return
			}
			i = j + 1
		default:
			end := i
			for end < len(text) && strings.IndexByte(",[]{}", text[end]) < 0 &&
				!(text[end] == ' ' && end+1 < len(text) && text[end+1] == '#') &&
				!(text[end] == ':' && (end+1 == len(text) || text[end+1] == ' ' || text[end+1] == ',')) {
				end++
			}
			if !expectKey && end < len(text) && text[end] == ':' && len(s.flow) > 0 && s.flow[len(s.flow)-1].c == '{' {
				// A second ": " in one entry: the value holds a colon.
				vend := end
				for vend < len(text) && strings.IndexByte(",}]", text[vend]) < 0 {
					vend++
				}
				key := flowKeyBefore(text, i)
				if w := strings.LastIndexByte(strings.TrimRight(text[i:end], " "), ' '); w >= 0 && isField(strings.TrimSpace(text[i+w:end])) {
					// { select: h1 text: a }: the comma is missing, or
					// the value holds a field's name and a colon.
					f, v := strings.TrimSpace(text[i+w:end]), strings.TrimSpace(text[i:i+w])
					s.addTrap(n, i+w+1, "yaml-comma", "separate the fields with a comma: "+key+": "+v+", "+f+": …; or, if the colon is the value's, quote the whole value: "+key+": "+quoteFor(strings.TrimSpace(text[i:vend])),
						"`%s:` follows the value of %s without a comma between them", f, key)
					s.flow = s.flow[:min(startDepth, len(s.flow))]
					return
				}
				l := &srcLine{text: text, key: key}
				s.colonTrap(n, l, i, vend, end)
				s.flow = s.flow[:min(startDepth, len(s.flow))]
				return
			}
			i = max(end, i+1)
		}
	}
}

// fieldAt returns the field name of a rule file that text[k:] starts
// with, followed by a colon and a space or the end of the line, or "".
func fieldAt(text string, k int) string {
	e := k
	for e < len(text) && (text[e] == '_' || text[e] >= 'a' && text[e] <= 'z') {
		e++
	}
	if e == k || e == len(text) || text[e] != ':' || e+1 < len(text) && text[e+1] != ' ' {
		return ""
	}
	if !isField(text[k:e]) {
		return ""
	}
	return text[k:e]
}

// isField reports whether w names a field of a rule file's mappings.
func isField(w string) bool {
	for _, l := range [][]string{topFields, ruleFields, experimentFields, testFields, thenFields, requestFields, pageFields, expectFields, pageCheckFields} {
		if slices.Contains(l, w) {
			return true
		}
	}
	for _, op := range ops {
		if slices.Contains(op.fields, w) {
			return true
		}
	}
	return w == "times" || w == "per" || w == "untracked" || w == "first"
}

// flowOpener returns the bracket that the closing bracket c closes.
func flowOpener(c byte) byte {
	if c == ']' {
		return '['
	}
	return '{'
}

// flowKeyBefore returns the key of the flow entry whose value starts at i.
func flowKeyBefore(text string, i int) string {
	c := strings.LastIndexByte(text[:i], ':')
	if c < 0 {
		return ""
	}
	start := strings.LastIndexAny(text[:c], "{,")
	return strings.TrimSpace(text[start+1 : c])
}

// hashTrap reports a # where a value was expected: YAML reads it as the
// start of a comment.
func (s *yamlScanner) hashTrap(n int, text string, i int) {
	end := i + 1
	for end < len(text) && strings.IndexByte(",}]", text[end]) < 0 {
		end++
	}
	v := strings.TrimSpace(text[i:end])
	key := flowKeyBefore(text, i)
	// The whole value is quoted, from its start: "We are #1" is one.
	start := strings.LastIndexAny(text[:i], "{[,")
	if c := strings.LastIndexByte(text[:i], ':'); c > start {
		start = c
	}
	whole := strings.TrimSpace(text[start+1 : end])
	fix := "quote it: \"" + whole + "\""
	if key != "" {
		fix = "quote it: " + key + ": \"" + whole + "\""
	}
	s.addTrap(n, i, "yaml-comment", fix, "%q is read as a YAML comment: a # after a space starts one, so the rest of the line is ignored", v)
}

// escapeTrap reports a backslash YAML does not read as an escape in the
// double-quoted value text[open:close+1] of key ("" when none), as in
// select: "#\31 hero", a CSS escape.
func (s *yamlScanner) escapeTrap(n int, text string, open, close int, key string) {
	if text[open] != '"' {
		return
	}
	inner := text[open+1 : close]
	bad, valid := -1, false
	for i := 0; i < len(inner); i++ {
		if inner[i] != '\\' {
			continue
		}
		if _, size, ok := yamlEscape(inner[i:]); ok {
			valid = true
			i += size - 1
		} else if bad < 0 {
			bad = i
		}
	}
	if bad < 0 {
		return
	}
	esc := inner[bad:min(bad+2, len(inner))]
	hint := `write \\ for a backslash inside double quotes`
	if !valid && !strings.Contains(inner, "'") {
		lead := ""
		if key != "" {
			lead = key + ": "
		}
		hint = "to keep a backslash as it is written, quote the value with single quotes: " + lead + "'" + inner + "'"
	}
	s.addTrap(n, open+1+bad, "yaml-escape", hint,
		"%s is not an escape YAML reads: inside double quotes, a backslash starts an escape such as \\n or \\\"", esc)
}

// yamlEscape decodes the escape sequence that starts src (at its
// backslash) as YAML reads escapes in double-quoted values, and returns
// what it stands for and its length in src; ok is false when YAML does
// not read it. An escaped line break stands for nothing.
func yamlEscape(src string) (decoded string, size int, ok bool) {
	if len(src) < 2 || src[0] != '\\' {
		return "", 0, false
	}
	hex := 0
	switch c := src[1]; c {
	case '0':
		return "\x00", 2, true
	case 'a':
		return "\a", 2, true
	case 'b':
		return "\b", 2, true
	case 't', '\t':
		return "\t", 2, true
	case 'n':
		return "\n", 2, true
	case 'v':
		return "\v", 2, true
	case 'f':
		return "\f", 2, true
	case 'r':
		return "\r", 2, true
	case 'e':
		return "\x1b", 2, true
	case ' ', '"', '\'', '\\':
		return string(c), 2, true
	case 'N':
		return "\u0085", 2, true
	case '_':
		return "\u00a0", 2, true
	case 'L':
		return "\u2028", 2, true
	case 'P':
		return "\u2029", 2, true
	case '\n', '\r':
		return "", 2, true
	case 'x':
		hex = 2
	case 'u':
		hex = 4
	case 'U':
		hex = 8
	default:
		return "", 0, false
	}
	if len(src) < 2+hex {
		return "", 0, false
	}
	v, err := strconv.ParseUint(src[2:2+hex], 16, 32)
	if err != nil || v >= 0xD800 && v <= 0xDFFF || v > 0x10FFFF {
		return "", 0, false
	}
	return string(rune(v)), 2 + hex, true
}

// closeQuote returns the index of the quote q that closes a quoted scalar
// whose text starts at text[i], or -1 when it does not close on this line.
func closeQuote(text string, i int, q byte) int {
	for i < len(text) {
		c := text[i]
		switch {
		case q == '"' && c == '\\':
			i += 2
			continue
		case c == q && q == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i += 2
			continue
		case c == q:
			return i
		}
		i++
	}
	return -1
}

func skipSpaces(text string, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

// plainEnd returns where a plain scalar starting at i ends on its line: at
// a comment (" #") or the end.
func plainEnd(text string, i int) int {
	for j := i; j < len(text); j++ {
		if text[j] == '#' && j > i && (text[j-1] == ' ' || text[j-1] == '\t') {
			return j - 1
		}
	}
	return len(text)
}

// keyColon returns the index of the colon that ends a plain key in
// text[i:end], or -1 when the text is not a key.
func keyColon(text string, i, end int) int {
	for j := i; j < end; j++ {
		if text[j] == ':' && (j+1 == end || text[j+1] == ' ' || text[j+1] == '\t') {
			return j
		}
	}
	return -1
}

// innerColon returns the index of a ": " (or a final ":") inside the plain
// value text[i:end], or -1.
func innerColon(text string, i, end int) int {
	for j := i; j < end; j++ {
		if text[j] == ':' && (j+1 == end || text[j+1] == ' ' || text[j+1] == '\t') {
			return j
		}
	}
	return -1
}

// structure checks the indentation of the content lines: every line must
// sit at a level opened above it. It reports over-indented keys (which
// YAML reads as the continuation of the value above), list items indented
// like keys, and lines indented to no level at all.
func (s *yamlScanner) structure() {
	type level struct {
		indent  int
		seq     bool
		line    int    // where the level started
		key     string // the map's last key
		keyLine int
		valued  bool // the last key has a value on its line
		nested  bool // something is nested under the last key
		empty   bool // a list whose last item is a bare "-": its content is nested below
	}
	stack := []*level{{indent: 0, line: 1}}
	flagged := map[int]bool{}
	for _, t := range s.traps {
		flagged[t.line] = true
	}
	pushItem := func(l *srcLine, n int) {
		stack = append(stack, &level{indent: l.indent, seq: true, line: n, empty: l.emptyItem})
		if l.key != "" {
			stack = append(stack, &level{indent: l.keyCol, line: n, key: l.key, keyLine: n, valued: l.hasValue})
		}
	}
	setKey := func(top *level, l *srcLine, n int) {
		top.key, top.keyLine, top.valued, top.nested = l.key, n, l.hasValue, false
	}
	for idx, l := range s.lines {
		n := idx + 1
		if !l.content {
			continue
		}
		in := l.indent
		top := stack[len(stack)-1]
		if in > top.indent {
			switch {
			case top.seq && top.empty:
				// The content of a bare "-" item.
				top.empty = false
				if l.dash {
					pushItem(l, n)
				} else {
					stack = append(stack, &level{indent: in, line: n, key: l.key, keyLine: n, valued: l.hasValue})
				}
			case !top.seq && top.key != "" && !top.valued && !top.nested:
				top.nested = true
				if l.dash {
					pushItem(l, n)
				} else {
					stack = append(stack, &level{indent: in, line: n, key: l.key, keyLine: n, valued: l.hasValue})
				}
			case l.key != "" && !flagged[n]:
				hint := fmt.Sprintf("indent %s: by %d spaces, like %s:", l.key, top.indent, top.key)
				what := fmt.Sprintf("`%s:` is indented more than `%s:` on line %d above it, so YAML reads it as part of that value", l.key, top.key, top.keyLine)
				if top.seq || top.key == "" {
					what = fmt.Sprintf("`%s:` is indented more than the line above it (line %d)", l.key, top.line)
					hint = "give it the indentation of the keys it belongs with"
				}
				s.addTrap(n, in, "yaml-indent", hint, "%s", what)
				flagged[n] = true
			}
			continue
		}
		var near *level // the level just above the line's indentation
		var dropped []*level
		for len(stack) > 1 && stack[len(stack)-1].indent > in {
			near = stack[len(stack)-1]
			dropped = append(dropped, near)
			stack = stack[:len(stack)-1]
		}
		top = stack[len(stack)-1]
		if top.indent < in {
			// Indented to no level: between the level it fell out of and
			// the one it fell back to.
			if l.dash {
				// A list item belongs with the nearest list, which may be
				// the one it fell back to.
				list, at := -1, 0
				if top.seq {
					list, at = len(dropped), in-top.indent
				}
				for i, d := range dropped {
					if d.seq && (list < 0 || abs(d.indent-in) < at) {
						list, at = i, abs(d.indent-in)
					}
				}
				if list >= 0 {
					if list < len(dropped) {
						// Read on in the dropped list, with the levels
						// that hold it.
						for i := len(dropped) - 1; i >= list; i-- {
							stack = append(stack, dropped[i])
						}
					}
					seq := stack[len(stack)-1]
					if !flagged[n] {
						s.addTrap(n, in, "yaml-indent", fmt.Sprintf("indent the - by %d spaces", seq.indent),
							"this list item is indented by %d spaces, which matches no level above it: the list items it most likely belongs with (line %d) are indented by %d", in, seq.line, seq.indent)
						flagged[n] = true
					}
					seq.empty = l.emptyItem
					if l.key != "" {
						stack = append(stack, &level{indent: l.keyCol, line: n, key: l.key, keyLine: n, valued: l.hasValue})
					}
					continue
				}
			}
			if !flagged[n] && near != nil {
				what := "the keys"
				if near.seq {
					what = "the list items"
				}
				s.addTrap(n, in, "yaml-indent", fmt.Sprintf("indent it by %d spaces", near.indent),
					"this line is indented by %d spaces, which matches no level above it: %s it most likely belongs with (line %d) are indented by %d", in, what, near.line, near.indent)
				flagged[n] = true
			}
			if near != nil {
				// Read on as if it were where it most likely belongs.
				stack = append(stack, near)
				if !near.seq && l.key != "" {
					near.key, near.keyLine, near.valued, near.nested = l.key, n, l.hasValue, false
				}
			}
			continue
		}
		// Same indentation as top.
		switch {
		case top.seq && l.dash:
			// The next item of the list.
			top.empty = l.emptyItem
			if l.key != "" {
				stack = append(stack, &level{indent: l.keyCol, line: n, key: l.key, keyLine: n, valued: l.hasValue})
			}
		case top.seq && !l.dash:
			// A key after a compact list ("key:" then "- a" at the same
			// indentation) ends the list.
			if len(stack) > 1 && !stack[len(stack)-2].seq && stack[len(stack)-2].indent == in {
				stack = stack[:len(stack)-1]
				setKey(stack[len(stack)-1], l, n)
			} else if !flagged[n] && len(l.key) > 1 && l.key[0] == '-' {
				// "-name: x": the space after the dash left out.
				s.addTrap(n, in, "yaml-indent", fmt.Sprintf("write - %s: with a space after the -", l.key[1:]),
					"%q is read as a key, not as a list item: a list item starts with a - and a space", l.key)
				flagged[n] = true
			} else if !flagged[n] {
				hint := "start it with \"- \", or indent it under the item above"
				if near != nil && !near.seq && near.keyLine > near.line && l.key != "" {
					// Most often a key of the item above, indented as
					// deep as its "- ".
					hint = fmt.Sprintf("indent %s: by %d spaces, like %s: on line %d, if it belongs to that item; or start it with \"- \"", l.key, near.indent, near.key, near.keyLine)
				}
				s.addTrap(n, in, "yaml-indent", hint,
					"a key at the indentation of the list items above it (line %d)", top.line)
				flagged[n] = true
			}
		case l.dash:
			if top.key != "" && !top.valued && !top.nested {
				// A compact list: "key:" then "- item" at the same
				// indentation.
				top.nested = true
				pushItem(l, n)
				continue
			}
			if flagged[n] {
				continue
			}
			list := -1
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].seq {
					list = i
					break
				}
			}
			if list >= 0 {
				s.addTrap(n, in, "yaml-indent", fmt.Sprintf("indent the - by %d spaces, like the items of line %d", stack[list].indent, stack[list].line),
					"this list item is indented by %d spaces, like the keys of the mapping above it, so YAML cannot tell which list it belongs to", in)
			} else {
				s.addTrap(n, in, "yaml-indent", "remove the \"- \", or nest the list under a key",
					"a list item where a key was expected")
			}
			flagged[n] = true
		case l.key != "":
			setKey(top, l, n)
		default:
			if !flagged[n] {
				s.addTrap(n, in, "yaml-no-colon", "write key: value",
					"expected `key: value`, found %q", strings.TrimSpace(l.text))
				flagged[n] = true
			}
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// region is a key or list item and everything nested under it.
type region struct {
	first, last int // 1-based lines
	indent      int
	dash        bool
	key         string
	keyNoValue  bool
	parent      *region
	kids        []*region
	blanked     bool
}

// outline builds the region tree of the scanned lines.
func outline(lines []*srcLine) []*region {
	root := &region{indent: -1}
	stack := []*region{root}
	for idx, l := range lines {
		n := idx + 1
		if !l.content {
			if len(stack) > 1 {
				stack[len(stack)-1].last = n
			}
			continue
		}
		for len(stack) > 1 {
			top := stack[len(stack)-1]
			if top.indent < l.indent {
				break
			}
			if top.indent == l.indent && l.dash && top.keyNoValue && !top.dash && len(top.kids) == 0 {
				break // a compact list under "key:"
			}
			if top.indent == l.indent && l.dash && top.keyNoValue && !top.dash && len(top.kids) > 0 && top.kids[0].dash && top.kids[0].indent == l.indent {
				break // the next item of a compact list
			}
			stack = stack[:len(stack)-1]
		}
		parent := stack[len(stack)-1]
		r := &region{first: n, last: n, indent: l.indent, dash: l.dash, key: l.key, keyNoValue: l.key != "" && !l.hasValue, parent: parent}
		if l.dash && l.key != "" {
			r.keyNoValue = false
		}
		parent.kids = append(parent.kids, r)
		stack = append(stack, r)
		for _, a := range stack[1:] {
			a.last = max(a.last, n)
		}
	}
	// A region's last line is its subtree's last line.
	var fix func(r *region) int
	fix = func(r *region) int {
		for _, k := range r.kids {
			r.last = max(r.last, fix(k))
		}
		return r.last
	}
	for _, r := range root.kids {
		fix(r)
		r.parent = nil
	}
	return root.kids
}

// recovery drives the reading of a file that does not parse.
type recovery struct {
	file  string
	src   []byte
	lines []*srcLine
	traps []trap
	roots []*region
	blank []bool // by 0-based line
	errs  diag.List
	// names of the rules, experiments, tests and segments that were lost
	// whole, and the first lines of entries that lost part of themselves.
	lost    map[string]bool
	partial map[int]bool
	buf     []byte
	parses  int // YAML parses made, bounded by maxParses
}

// recoverYAML returns src with the lines YAML cannot read blanked, the
// errors found, the names of what was lost and the lines of the entries
// that were cut short. It is called only when src does not parse.
func recoverYAML(file string, src []byte) (patched []byte, errs diag.List, lost map[string]bool, partial map[int]bool) {
	sc := scanYAML(src)
	sc.structure()
	r := &recovery{file: file, src: src, lines: sc.lines, traps: sc.traps, roots: outline(sc.lines),
		blank: make([]bool, len(sc.lines)), lost: map[string]bool{}, partial: map[int]bool{}}
	for _, root := range r.roots {
		for _, t := range r.traps {
			if t.line == root.first && len(root.kids) > 0 {
				// A broken section header: its section cannot be read.
				r.report(t)
				r.remove(root)
			}
		}
		if root.blanked {
			continue
		}
		entries := root.kids
		if len(entries) == 0 {
			entries = []*region{root}
		}
		for _, e := range entries {
			r.repairEntry(root, e)
		}
	}
	// Whatever still fails lies between entries: remove top-level regions
	// until the file parses.
	for tries := 0; tries < len(r.roots)+1; tries++ {
		err := r.parse(nil)
		if err == nil {
			break
		}
		var culprit *region
		for _, root := range r.roots {
			if r.parses > maxParses {
				break
			}
			if !root.blanked && r.parse(root) == nil {
				culprit = root
				break
			}
		}
		if culprit == nil {
			// Nothing alone fixes it: give up on the first region left.
			for _, root := range r.roots {
				if !root.blanked {
					culprit = root
					break
				}
			}
		}
		if culprit == nil {
			break
		}
		// A trap in the culprit is a certain mistake at its own line,
		// which its entry alone did not show (an entry cut in two by a
		// key indented as deep as the list): report it, not YAML's error
		// at the region's first line.
		trapped := false
		for _, t := range r.traps {
			if t.line >= culprit.first && t.line <= culprit.last && !r.blank[t.line-1] {
				r.report(t)
				g := deepest(culprit, t.line)
				r.remove(g)
				if i := slices.Index(culprit.kids, g); i > 0 {
					// The lines most likely belonged to the entry before:
					// what it lacks now is not a mistake of its own.
					r.partial[culprit.kids[i-1].first] = true
				}
				trapped = true
			}
		}
		if trapped {
			continue
		}
		r.cut(culprit, err)
	}
	out := make([]byte, 0, len(src))
	for i, l := range r.lines {
		if !r.blank[i] {
			out = append(out, l.text...)
		}
		if i < len(r.lines)-1 {
			out = append(out, '\n')
		}
	}
	return out, r.errs, r.lost, r.partial
}

// repairEntry blanks what keeps entry e (under top-level region root)
// from parsing on its own.
func (r *recovery) repairEntry(root, e *region) {
	if r.isolatedParse(root, e, 0, 0) == nil {
		return
	}
	// First the traps: each is a certain mistake, at its own position.
	for _, t := range r.traps {
		if t.line < e.first || t.line > e.last || r.blank[t.line-1] {
			continue
		}
		reg := deepest(e, t.line)
		r.report(t)
		r.remove(reg)
	}
	// Then whatever else: the deepest region whose removal lets the entry
	// parse, found by halving (a file of thousands of lines costs tens of
	// parses, not thousands), until the entry parses.
	for tries := 0; tries < 32 && !e.blanked; tries++ {
		err := r.isolatedParse(root, e, 0, 0)
		if err == nil {
			return
		}
		cur := e
		if r.parses > maxParses {
			r.cut(e, err) // out of budget: give the entry up whole
			return
		}
		for {
			k := r.fixingKid(root, e, cur)
			if k == nil {
				break
			}
			cur = k
		}
		r.cut(cur, err)
	}
}

// maxParses bounds the YAML parses one recovery makes, whatever the file.
const maxParses = 2000

// fixingKid returns the child of cur whose removal, with the children
// before it, lets entry e parse: the first mistake among them. It returns
// nil when removing all of cur's children does not help either (the
// mistake is in cur's own line, or elsewhere).
func (r *recovery) fixingKid(root, e, cur *region) *region {
	var kids []*region
	for _, k := range cur.kids {
		if !k.blanked {
			kids = append(kids, k)
		}
	}
	if len(kids) == 0 || r.isolatedParse(root, e, kids[0].first, kids[len(kids)-1].last) != nil {
		return nil
	}
	lo, hi := 0, len(kids)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if r.isolatedParse(root, e, kids[0].first, kids[mid].last) == nil {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return kids[lo]
}

// deepest returns the deepest region under e that holds line n.
func deepest(e *region, n int) *region {
	for {
		next := (*region)(nil)
		for _, k := range e.kids {
			if k.first <= n && n <= k.last && !k.blanked {
				next = k
			}
		}
		if next == nil {
			return e
		}
		e = next
	}
}

// cut removes region g and reports the YAML error err at it, unless a
// trap was already reported within it.
func (r *recovery) cut(g *region, err error) {
	for _, e := range r.errs {
		if e.Pos.Line >= g.first && e.Pos.Line <= g.last {
			r.remove(g)
			return
		}
	}
	line, msg := yamlErrLine(err)
	if line < g.first || line > g.last {
		line = g.first
	}
	l := r.lines[line-1]
	col := l.indent
	if col > len(l.text) {
		col = 0
	}
	if at, what, fix, ok := unquotedTrap(l.text); ok {
		// What made YAML fail is a value it cannot start with: say so
		// where it is, with the quoting that fixes it.
		r.errs.Add(diag.Errorf(r.pos(line, at), "%s", what).WithHint("%s", fix).WithCode("yaml"))
		r.remove(g)
		return
	}
	e := diag.Errorf(r.pos(line, col), "YAML cannot read this: %s", msg).WithCode("yaml")
	e.WithHint("%s", yamlHint(msg))
	r.errs.Add(e)
	r.remove(g)
}

// unquotedTrap finds, on a line YAML could not read, a plain value that
// YAML cannot start that way: {{ (a template, read as a mapping), or @
// and ` (reserved). It returns the value's offset, what is wrong and the
// quoting that fixes it.
func unquotedTrap(text string) (at int, what, fix string, ok bool) {
	key, v := "", ""
	i := strings.Index(text, ": ")
	if i < 0 {
		return 0, "", "", false
	}
	key = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text[:i]), "- "))
	if strings.ContainsAny(key, "{}[]\"'") {
		return flowTrap(text) // a flow mapping: { select: li.card, id: @data-id }
	}
	at = i + 2
	for at < len(text) && text[at] == ' ' {
		at++
	}
	v = strings.TrimSpace(text[at:])
	if j := strings.Index(v, " #"); j >= 0 {
		v = strings.TrimSpace(v[:j])
	}
	if strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "{{") {
		return flowTrap(text)
	}
	quoted := key + ": \"" + strings.ReplaceAll(v, `"`, `\"`) + "\""
	switch {
	case strings.HasPrefix(v, "{{"):
		return at, "a value that starts with {{ must be quoted: YAML reads { as the start of a mapping", "quote it: " + quoted, true
	case v != "" && (v[0] == '@' || v[0] == '`'):
		return at, fmt.Sprintf("YAML cannot start a plain value with %q", v[:1]), "quote it: " + quoted, true
	}
	return 0, "", "", false
}

// flowTrap is unquotedTrap for the values of a flow mapping on the line
// ({ key: value, ... }): one that starts with @ or `, up to the , or }
// that ends it. ({{ there has its own trap.)
func flowTrap(text string) (at int, what, fix string, ok bool) {
	open := strings.IndexByte(text, '{')
	if open < 0 {
		return 0, "", "", false
	}
	var q byte // the quote of the scalar the scan is in
	keyAt := open + 1
	for i := open + 1; i < len(text); i++ {
		c := text[i]
		switch {
		case q == '"' && c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == ',' || c == '{':
			keyAt = i + 1
		case c == ':' && i+1 < len(text) && text[i+1] == ' ':
			j := i + 1
			for j < len(text) && text[j] == ' ' {
				j++
			}
			if j == len(text) || text[j] != '@' && text[j] != '`' {
				continue
			}
			end := j
			if text[j] == '`' {
				// `a, b` is one value: up to its closing backtick.
				if k := strings.IndexByte(text[j+1:], '`'); k >= 0 {
					end = j + 1 + k + 1
				}
			}
			for end < len(text) && text[end] != ',' && text[end] != '}' {
				end++
			}
			v := strings.TrimSpace(text[j:end])
			key := strings.TrimSpace(text[keyAt:i])
			return j, fmt.Sprintf("YAML cannot start a plain value with %q", v[:1]),
				"quote it: " + key + ": \"" + strings.ReplaceAll(v, `"`, `\"`) + "\"", true
		}
	}
	return 0, "", "", false
}

func (r *recovery) report(t trap) {
	for _, e := range r.errs {
		if e.Pos.Line == t.line && e.Code == t.code {
			return
		}
	}
	e := diag.Errorf(r.pos(t.line, t.col), "%s", t.msg).WithCode(t.code)
	if t.hint != "" {
		e.WithHint("%s", t.hint)
	}
	r.errs.Add(e)
}

func (r *recovery) pos(line, col int) diag.Pos {
	text := r.lines[line-1].text
	col = min(col, len(text))
	return diag.Pos{File: r.file, Line: line, Col: utf8.RuneCountInString(text[:col]) + 1}
}

// remove blanks region g, and notes what the file lost.
func (r *recovery) remove(g *region) {
	if g.blanked {
		return
	}
	var mark func(x *region)
	mark = func(x *region) {
		x.blanked = true
		for _, k := range x.kids {
			mark(k)
		}
	}
	mark(g)
	for i := g.first; i <= g.last; i++ {
		r.blank[i-1] = true
	}
	// Name what was lost: a whole item's name, a segment's key, or the
	// entry (rule, test, experiment) that lost a part.
	// Every region that holds g (the rule, its action, ...) lost a part.
	for a := g.parent; a != nil; a = a.parent {
		r.partial[a.first] = true
	}
	if name := r.itemName(g); name != "" {
		r.lost[name] = true
	}
	if g.parent != nil && g.parent.parent == nil && g.key != "" && !g.dash {
		r.lost[g.key] = true // a segment
	}
}

// itemName finds the `name:` of a list item region.
func (r *recovery) itemName(g *region) string {
	if !g.dash {
		return ""
	}
	for i := g.first; i <= g.last && i <= len(r.lines); i++ {
		if m := nameLine.FindStringSubmatch(r.lines[i-1].text); m != nil {
			return strings.Trim(strings.TrimSpace(m[1]), `"'`)
		}
	}
	return ""
}

var nameLine = regexp.MustCompile(`^\s*(?:-\s+)?name:\s*([^#]+)`)

// parse parses the file with the blanked lines, and also without region
// skip when not nil.
func (r *recovery) parse(skip *region) error {
	r.parses++
	r.buf = r.buf[:0]
	for i, l := range r.lines {
		n := i + 1
		if !r.blank[i] && (skip == nil || n < skip.first || n > skip.last) {
			r.buf = append(r.buf, l.text...)
		}
		r.buf = append(r.buf, '\n')
	}
	var node yaml.Node
	return yaml.Unmarshal(r.buf, &node)
}

// isolatedParse parses entry e alone under the first line of its
// top-level region, without lines skipFrom to skipTo (none when skipFrom
// is 0).
func (r *recovery) isolatedParse(root, e *region, skipFrom, skipTo int) error {
	r.parses++
	r.buf = r.buf[:0]
	for i, l := range r.lines {
		n := i + 1
		keep := !r.blank[i] && (n == root.first || (n >= e.first && n <= e.last)) &&
			(skipFrom == 0 || n < skipFrom || n > skipTo)
		if keep {
			r.buf = append(r.buf, l.text...)
		}
		r.buf = append(r.buf, '\n')
	}
	var node yaml.Node
	return yaml.Unmarshal(r.buf, &node)
}

// yamlErrRE extracts the line of a YAML syntax error ("yaml: line 7: ...").
var yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErrLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg = m[2]
		// The YAML parser (unlike its scanner) reports the 0-based line
		// where the enclosing construct starts.
		if strings.HasPrefix(msg, "did not find expected") {
			line++
		}
		return line, msg
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

func yamlHint(msg string) string {
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		return "check the indentation of this line, and quote values that hold \": \""
	case strings.Contains(msg, "did not find expected"), strings.Contains(msg, "could not find expected ':'"):
		return "check the indentation of this line and the lines around it"
	case strings.Contains(msg, "unexpected end"):
		return "a quote or bracket is not closed"
	case strings.Contains(msg, "unknown anchor"):
		return "an alias (*name) refers to an anchor (&name) defined above it"
	}
	return "check the indentation and quoting of this part"
}

// YAMLErrors returns the syntax errors of a YAML document that does not
// parse, each at its line and column with a hint, as rule files get
// them (nil when src parses): for the other YAML files bespoke reads.
func YAMLErrors(file string, src []byte) diag.List {
	var node yaml.Node
	if yaml.Unmarshal(src, &node) == nil {
		return nil
	}
	_, errs, _, _ := recoverYAML(file, src)
	return errs
}
