package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// TestCSPNonces: the nonce a page's policies let its script and style
// elements run with, by CSP 3's fallback from the -elem directive to
// -src to default-src.
func TestCSPNonces(t *testing.T) {
	tests := []struct {
		name          string
		csp           []string
		script, style string
	}{
		{"none", nil, "", ""},
		{"script-src", []string{"script-src 'nonce-abc123' 'strict-dynamic'; object-src 'none'"}, "abc123", ""},
		{"default-src covers both", []string{"default-src 'self' 'nonce-r4nd0m+/='"}, "r4nd0m+/=", "r4nd0m+/="},
		{"script-src wins over default-src", []string{"default-src 'nonce-d'; script-src 'self'"}, "", "d"},
		{"script-src-elem wins over script-src", []string{"script-src 'nonce-s'; script-src-elem 'nonce-e'; style-src 'nonce-y'"}, "e", "y"},
		{"case and spacing", []string{"  Script-Src   'NONCE-Mixed_Case-1' ;STYLE-SRC 'nonce-z'"}, "Mixed_Case-1", "z"},
		{"a repeated directive is ignored", []string{"script-src 'self'; script-src 'nonce-late'"}, "", ""},
		{"hashes and unsafe-inline only", []string{"script-src 'sha256-AAAA' 'unsafe-inline'"}, "", ""},
		{"not base64: ignored", []string{`script-src 'nonce-a"b'`}, "", ""},
		{"unquoted: not a nonce", []string{"script-src nonce-abc"}, "", ""},
		{"the first policy with one", []string{"img-src *, script-src 'nonce-p2'", "script-src 'nonce-p3'"}, "p2", ""},
		{"a tab after the name", []string{"default-src 'nonce-d'; script-src\t'nonce-s'\t'strict-dynamic'"}, "s", "d"},
		{"a no-break space is no separator", []string{"script-src 'nonce-a'\u00a0'self'; style-src\u00a0'nonce-b'"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.csp {
				h.Add("Content-Security-Policy", v)
			}
			h.Add("Content-Security-Policy-Report-Only", "script-src 'nonce-reportonly'")
			script, style := cspNonces(h)
			if script != tt.script || style != tt.style {
				t.Errorf("script %q, style %q; want %q, %q", script, style, tt.script, tt.style)
			}
		})
	}
}

// FuzzCSPNonces: a nonce read from any policy is one the policy writes
// as a source, 'nonce-' and the value in quotes, with ASCII whitespace,
// a semicolon, a comma or an end on either side, as browsers split it.
func FuzzCSPNonces(f *testing.F) {
	f.Add("default-src 'nonce-d'; script-src\t'nonce-s'\t'strict-dynamic'")
	f.Add("script-src 'nonce-a'\u00a0'self'; style-src 'NONCE-b'")
	f.Add("img-src *, Script-Src-Elem 'nonce-e', default-src 'nonce-=+/_-'")
	f.Fuzz(func(t *testing.T, csp string) {
		h := http.Header{"Content-Security-Policy": strings.Split(csp, "\n")}
		script, style := cspNonces(h)
		// Lower-cased byte for byte, so that offsets stay the policy's.
		lc := []byte(csp)
		for i, c := range lc {
			lc[i] = lower(c)
		}
		for _, n := range []string{script, style} {
			if n == "" {
				continue
			}
			found := false
			for i := 0; !found; i++ {
				j := strings.Index(string(lc[i:]), "'nonce-"+strings.ToLower(n)+"'")
				if j < 0 {
					break
				}
				i += j
				end := i + len("'nonce-'") + len(n)
				found = csp[i+len("'nonce-"):end-1] == n &&
					(i == 0 || strings.IndexByte(cspSpace+";,\n", csp[i-1]) >= 0) &&
					(end == len(csp) || strings.IndexByte(cspSpace+";,\n", csp[end]) >= 0)
			}
			if !found {
				t.Fatalf("nonce %q read from %q", n, csp)
			}
		}
	})
}

// TestNonceEdits: the script and style elements the rules insert get the
// page's nonces; other elements, text that only looks like a tag, and
// elements that name their own nonce do not; the plan's edits are left
// as they were.
func TestNonceEdits(t *testing.T) {
	tests := []struct{ content, want string }{
		{`<div class="a">x</div>`, `<div class="a">x</div>`},
		{`<script>track()</script>`, `<script nonce="N1">track()</script>`},
		{`<SCRIPT src="/a.js"></SCRIPT><style>.x{}</style>`, `<SCRIPT src="/a.js" nonce="N1"></SCRIPT><style nonce="N2">.x{}</style>`},
		{`<script nonce="own">x()</script>`, `<script nonce="own">x()</script>`},
		{`<!-- <script>no</script> --><p>&lt;script&gt;</p>`, `<!-- <script>no</script> --><p>&lt;script&gt;</p>`},
		{`<section><scripts>not one</scripts></section>`, `<section><scripts>not one</scripts></section>`},
		{`<div><script>var s = "<script>";</script></div>`, `<div><script nonce="N1">var s = "<script>";</script></div>`},
		// SVG's script and style elements are under the policy too.
		{`<svg><style>circle{}</style><script>a()</script></svg>`, `<svg><style nonce="N2">circle{}</style><script nonce="N1">a()</script></svg>`},
	}
	for _, tt := range tests {
		edits := []rewrite.Edit{{Op: rewrite.Append, Content: []byte(tt.content)}, {Op: rewrite.AddClass, Attr: "b"}}
		got := nonceEdits(edits, "N1", "N2")
		if string(got[0].Content) != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.content, got[0].Content, tt.want)
		}
		if string(edits[0].Content) != tt.content {
			t.Errorf("the plan's edit changed: %s", edits[0].Content)
		}
		if (tt.content == tt.want) != (&got[0] == &edits[0]) {
			t.Errorf("%s: edits copied %v, want a copy only when one changed", tt.content, &got[0] != &edits[0])
		}
	}
	if got := nonceEdits(nil, "N1", ""); got != nil {
		t.Errorf("no edits: %v", got)
	}
}
