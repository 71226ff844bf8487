package syntax

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestMapperVerbatim checks the mapper's shortcut for values that are
// their source's bytes as they are: for every scalar of documents in
// every YAML style, each offset maps where align's table maps it.
func TestMapperVerbatim(t *testing.T) {
	docs := []string{
		"rules:\n  - name: fr\n    when: geo.country in [\"FR\", \"BE\"]\n    actions: [remove: \"#promo\"]\n",
		"a: plain value\nb: \"double \\\"quoted\\\" \\u00e9\"\nc: 'single ''quoted'''\nd: \"\"\ne: ''\n",
		"f: |\n  literal\n  block\ng: >\n  folded\n  block\n",
		"h: plain\n  over two lines\ni: \"quoted\n  over two lines\"\n",
		"j: {k: flow, l: [x, \"y z\", 'w']}\n",
		"m: café ünïcödé\nn: \"tab\\there\"\no:\n",
		"p: x\r\nq: \"crlf\r\n  continued\"\r\n",
	}
	for _, doc := range docs {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		d := &decoder{file: "t.yaml", src: []byte(doc)}
		d.indexLines()
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode {
				m := d.mapper(n)
				start := d.offset(n.Line, n.Column)
				switch n.Style {
				case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
					start++
				case yaml.LiteralStyle, yaml.FoldedStyle:
					for start < len(d.src) && d.src[start] != '\n' {
						start++
					}
					start++
				}
				table := align(n.Value, d.src, start, n.Style == yaml.DoubleQuotedStyle)
				for off := 0; off <= len(n.Value)+2; off++ {
					want := d.posAt(start)
					if off < len(table) {
						want = d.posAt(table[off])
					} else if len(table) > 0 {
						want = d.posAt(table[len(table)-1] + off - len(table) + 1)
					}
					if got := m(off); got != want {
						t.Errorf("%q: value %q, offset %d: got %v, want %v", doc, n.Value, off, got, want)
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&root)
	}
}

// TestMapperEscapes: in a double-quoted value, each character an escape
// stands for maps to the escape's backslash, and what follows an escape
// maps to its own column, however long the escape.
func TestMapperEscapes(t *testing.T) {
	for _, tc := range []struct {
		src string // one line, "v: ..."
		at  string // a part of the value
		col int    // the column its first byte comes from
	}{
		{`v: "\u00e9 {{ geo.cty }}"`, "geo.cty", 15},
		{`v: "\u00e9"`, "é", 5},
		{`v: "\xe9\xe9 x"`, "x", 14},
		{`v: "\U0001F600 x"`, "x", 16},
		{`v: "a\nb"`, "b", 8},
		{`v: "a\tb\\c\"d"`, "d", 14},
		{`v: "\"quoted\" x"`, "x", 16},
		{`v: "\_\N\L\P x"`, "x", 14},
	} {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(tc.src), &root); err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		n := root.Content[0].Content[1]
		d := &decoder{file: "t.yaml", src: []byte(tc.src)}
		d.indexLines()
		off := strings.Index(n.Value, tc.at)
		if off < 0 {
			t.Fatalf("%s: %q is not in %q", tc.src, tc.at, n.Value)
		}
		if got := d.mapper(n)(off); got.Line != 1 || got.Col != tc.col {
			t.Errorf("%s: %q at %v, want column %d", tc.src, tc.at, got, tc.col)
		}
	}
}
