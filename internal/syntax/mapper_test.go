package syntax

import (
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
				table := align(n.Value, d.src, start)
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
