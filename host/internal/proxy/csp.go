package proxy

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// A page whose Content-Security-Policy allows scripts (or style
// elements) by nonce blocks every inline <script> and <style> without
// it, the ones a rule inserts too: the rule would apply, and do nothing
// in the browser. Those the rule file writes (never a visitor's value:
// see rewrite.Edit.Interpolated) get the page's nonce, as the page's own
// do; an element that names a nonce keeps its own.
//
// Only the response's Content-Security-Policy header is read: a policy
// in a <meta> of the page is not (it rarely uses nonces, which must
// change with every response). Report-only policies block nothing.

// cspNonces returns the nonce the response's policies let <script>
// elements, and <style> elements, run with ("" for none): from the
// first policy with one in the directive that governs them
// (script-src-elem, else script-src, else default-src; style-src-elem,
// style-src, default-src), as CSP 3 falls back.
func cspNonces(h http.Header) (script, style string) {
	for _, line := range h.Values("Content-Security-Policy") {
		for policy := range strings.SplitSeq(line, ",") {
			if script == "" {
				script = policyNonce(policy, "script-src-elem", "script-src")
			}
			if style == "" {
				style = policyNonce(policy, "style-src-elem", "style-src")
			}
		}
	}
	return script, style
}

// policyNonce returns the nonce of the first of elem, src and default-src
// that policy has, or "".
func policyNonce(policy, elem, src string) string {
	var found [3]string
	var has [3]bool
	for d := range strings.SplitSeq(policy, ";") {
		// A directive's name ends at ASCII whitespace, a tab too, as CSP
		// 3 parses it: cut at a space alone, "script-src\t'nonce-b'"
		// named nothing, and default-src's nonce, which the browser does
		// not take for scripts then, was given to them.
		d = strings.Trim(d, cspSpace)
		name, sources := d, ""
		if i := strings.IndexAny(d, cspSpace); i >= 0 {
			name, sources = d[:i], d[i:]
		}
		k := -1
		switch {
		case equalFoldASCII(name, elem):
			k = 0
		case equalFoldASCII(name, src):
			k = 1
		case equalFoldASCII(name, "default-src"):
			k = 2
		}
		if k < 0 || has[k] {
			continue // a repeated directive is ignored
		}
		has[k] = true
		for s := range strings.FieldsFuncSeq(sources, isCSPSpace) {
			if len(s) > len("'nonce-'") && s[len(s)-1] == '\'' && equalFoldASCII(s[:len("'nonce-")], "'nonce-") {
				if v := s[len("'nonce-") : len(s)-1]; validNonce(v) {
					found[k] = v
					break
				}
			}
		}
	}
	for k := range found {
		if has[k] {
			return found[k]
		}
	}
	return ""
}

// cspSpace is the ASCII whitespace that separates a directive's name
// and sources; a no-break space or a vertical tab does not.
const cspSpace = "\t\n\f\r "

func isCSPSpace(r rune) bool { return r < 0x80 && strings.IndexByte(cspSpace, byte(r)) >= 0 }

// validNonce reports whether v is a nonce-source's value: base64 or
// base64url (CSP 3's base64-value).
func validNonce(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return v != ""
}

// nonceProgram finds the script and style elements without a nonce in
// the HTML a rule inserts.
var nonceProgram = sync.OnceValue(func() *rewrite.Program {
	p, err := rewrite.CompileStrings([]string{"script:not([nonce])", "style:not([nonce])"})
	if err != nil {
		panic(err)
	}
	return p
})

// nonceEdits returns edits with the script and style elements their HTML
// inserts given the nonces (either may be ""), or edits itself when
// none needs one. edits is not modified.
func nonceEdits(edits []rewrite.Edit, script, style string) []rewrite.Edit {
	if script == "" && style == "" {
		return edits
	}
	var set []rewrite.Edit
	if script != "" {
		set = append(set, rewrite.Edit{Selector: 0, Op: rewrite.SetAttr, Attr: "nonce", Value: script})
	}
	if style != "" {
		set = append(set, rewrite.Edit{Selector: 1, Op: rewrite.SetAttr, Attr: "nonce", Value: style})
	}
	out := edits
	for i := range edits {
		c := edits[i].Content
		if !mayHoldScript(c) {
			continue
		}
		var b bytes.Buffer
		rw := nonceProgram().NewRewriter(&b, set, rewrite.Options{})
		rw.Write(c)
		err := rw.Close()
		rw.Release()
		if err != nil || bytes.Equal(b.Bytes(), c) {
			continue
		}
		if &out[0] == &edits[0] {
			out = slices.Clone(edits)
		}
		out[i].Content = b.Bytes()
	}
	return out
}

// mayHoldScript reports whether HTML c may hold a script or style
// element: it has "<s" or "<S". Most inserted HTML has neither.
func mayHoldScript(c []byte) bool {
	for {
		i := bytes.IndexByte(c, '<')
		if i < 0 || i+1 >= len(c) {
			return false
		}
		if c[i+1]|0x20 == 's' {
			return true
		}
		c = c[i+1:]
	}
}
