package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/rules/diag"
	"go.yaml.in/yaml/v3"
)

// checkDocument reads the document as the Config it decodes into, before
// it is decoded, and returns every key no field has and every value of
// the wrong kind, each at its line and column with how to fix it: the
// decoder stops at the first and says only its line, in Go's terms
// ("field rulez not found in type config.Route").
func checkDocument(name string, doc *yaml.Node) error {
	c := check(name, doc)
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(c.errs, "\n"))
}

// check walks doc as checkDocument does and returns the checker, its
// errors written at name:line:col.
func check(name string, doc *yaml.Node) *checker {
	c := &checker{}
	c.walk(doc, reflect.TypeFor[Config](), "")
	for i := range c.errs {
		c.errs[i] = name + ":" + c.errs[i]
	}
	return c
}

// prune takes out of n, in place, every key and value the check
// reported, so that the rest decodes and can be validated: a mistake the
// check found does not keep Validate from reporting the others in the
// same run.
func (c *checker) prune(n *yaml.Node) {
	gone := func(n *yaml.Node) bool { return c.bad[n] || c.bad[resolve(n)] }
	switch n.Kind {
	case yaml.DocumentNode:
		for i, k := range n.Content {
			if gone(k) {
				n.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				continue
			}
			c.prune(k)
		}
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if gone(k) || gone(v) {
				continue
			}
			c.prune(v)
			kept = append(kept, k, v)
		}
		n.Content = kept
	case yaml.SequenceNode:
		kept := n.Content[:0]
		for _, e := range n.Content {
			if gone(e) {
				continue
			}
			c.prune(e)
			kept = append(kept, e)
		}
		n.Content = kept
	}
	// An alias is pruned where what it names is written.
}

// under reports whether path (routes[0].origin) is at or under one the
// check reported.
func (c *checker) under(path string) bool {
	for _, p := range c.paths {
		if p == "" || path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

type checker struct {
	errs  []string
	at    map[[2]int]bool // positions reported
	steps int
	// bad holds the nodes reported (a key no field has, a value of the
	// wrong kind) and paths where they are (routes[0].rulez), for prune
	// and for Parse, which then leaves out what Validate would say of
	// them again ("no routes" after "routes: want a list").
	bad   map[*yaml.Node]bool
	paths []string
}

// maxSteps bounds the nodes a check visits.
const maxSteps = 1 << 16

var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

func (c *checker) addf(n *yaml.Node, at, format string, args ...any) {
	if c.bad == nil {
		c.bad = map[*yaml.Node]bool{}
	}
	c.bad[n] = true
	c.paths = append(c.paths, at)
	// A node an alias or a merge brings in again is reported once, where
	// it is written.
	pos := [2]int{n.Line, n.Column}
	if c.at[pos] {
		return
	}
	if c.at == nil {
		c.at = map[[2]int]bool{}
	}
	c.at[pos] = true
	c.errs = append(c.errs, fmt.Sprintf("%d:%d: ", n.Line, n.Column)+fmt.Sprintf(format, args...))
}

// walk checks n against t; at is the path to n for messages (routes[1].rules).
func (c *checker) walk(n *yaml.Node, t reflect.Type, at string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, k := range n.Content {
			c.walk(k, t, at)
		}
		return
	case yaml.AliasNode:
		// What it names, as what it stands for here: an anchor may be
		// written under one key and used under another.
		if n.Alias != nil {
			c.walk(n.Alias, t, at)
		}
		return
	}
	// Aliases of aliases can name exponentially many nodes (the "billion
	// laughs"); past a bound the decoder's own checks are left to say.
	if c.steps++; c.steps > maxSteps {
		return
	}
	if n.Tag == "!!null" {
		return // an empty value leaves the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		// Durations and sizes: their own parsers say what is wrong.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := err.Error()
			if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
				msg = rest
			}
			c.addf(n, at, "%s: %s", at, msg)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.addf(n, at, "%s: want a mapping of %s, got %s", label(at), strings.Join(keysOf(t), ", "), kind(n))
			return
		}
		fields := fieldsOf(t)
		var given map[string]*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if first := given[k.Value]; first != nil && k.Tag != "!!merge" {
				// YAML allows no key twice; its decoder says so without a
				// column, or the key.
				c.addf(k, join(at, k.Value), "%s is given twice (first at line %d); keep one", join(at, k.Value), first.Line)
				continue
			}
			if given == nil {
				given = map[string]*yaml.Node{}
			}
			given[k.Value] = k
			if k.Tag == "!!merge" {
				// <<: *defaults, or a list of them: their keys are this
				// mapping's.
				merged := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					merged = v.Content
				}
				for _, m := range merged {
					if resolve(m).Kind != yaml.MappingNode {
						c.addf(m, at, "<<: want a mapping to merge, or a list of them, got %s", kind(resolve(m)))
						continue
					}
					c.walk(m, t, at)
				}
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				where := ""
				if at != "" {
					where = " in " + at
				}
				hint := diag.DidYouMean(k.Value, keysOf(t))
				if hint == "" {
					hint = "expected one of: " + strings.Join(keysOf(t), ", ")
				}
				c.addf(k, join(at, k.Value), "unknown field %q%s; %s", k.Value, where, hint)
				continue
			}
			c.walk(v, f.Type, join(at, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.addf(n, at, "%s: want a list, got %s", at, kind(n))
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), at+"["+strconv.Itoa(i)+"]")
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.addf(n, at, "%s: want a text value, got %s", at, kind(n))
		}
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			c.addf(n, at, "%s: want true or false, got %s", at, kind(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v := reflect.New(t)
		if n.Kind != yaml.ScalarNode || n.Decode(v.Interface()) != nil {
			// A count that has no sign says what the others do of a
			// negative one, not that -5 is no number.
			var i int64
			if n.Kind == yaml.ScalarNode && n.Decode(&i) == nil && i < 0 {
				c.addf(n, at, "%s cannot be negative", at)
				return
			}
			c.addf(n, at, "%s: want a whole number, got %s", at, kind(n))
		}
	}
}

// resolve returns what an alias stands for.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// fieldsOf maps t's keys to its fields.
func fieldsOf(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if key := keyOf(f); key != "" {
			m[key] = f
		}
	}
	return m
}

// keysOf returns t's keys in the order the fields are declared.
func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if key := keyOf(t.Field(i)); key != "" && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys
}

func keyOf(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" {
		return ""
	}
	if key == "" {
		key = strings.ToLower(f.Name)
	}
	return key
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func label(at string) string {
	if at == "" {
		return "the file"
	}
	return at
}

// kind names what a node holds, for messages.
func kind(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

// placeErrors writes each of Validate's errors at the position of the
// value it names in doc, or of the nearest enclosing one the file writes
// (a default has no position of its own).
func placeErrors(name string, doc *yaml.Node, err error) error {
	var lines []string
	for _, e := range unjoin(err) {
		lines = append(lines, placeError(name, doc, e))
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// placeError is one of Validate's errors at its position in doc.
func placeError(name string, doc *yaml.Node, e error) string {
	line, col := 1, 1
	if fe, ok := e.(*FieldError); ok {
		line, col = position(doc, fe.Path)
	}
	return fmt.Sprintf("%s:%d:%d: %s", name, line, col, e)
}

// unjoin returns the errors errors.Join made err of; none for nil.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// position returns where the value at path (a.b, routes[1].origin) is
// written in doc, or the nearest enclosing value that is.
func position(doc *yaml.Node, path string) (int, int) {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := max(n.Line, 1), max(n.Column, 1)
	for _, part := range strings.Split(path, ".") {
		key, index, hasIndex := part, -1, false
		if k, rest, ok := strings.Cut(part, "["); ok {
			key = k
			index, _ = strconv.Atoi(strings.TrimSuffix(rest, "]"))
			hasIndex = true
		}
		n = valueOf(n, key)
		if n == nil {
			return line, col
		}
		line, col = n.Line, n.Column
		if hasIndex {
			if n.Kind != yaml.SequenceNode || index < 0 || index >= len(n.Content) {
				return line, col
			}
			n = n.Content[index]
			line, col = n.Line, n.Column
		}
	}
	return line, col
}

// valueOf returns the value of key in the mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
