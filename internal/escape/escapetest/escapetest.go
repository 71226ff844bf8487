// Package escapetest holds the hostile values the escaping tests of every
// context share: each context's table runs all of them.
package escapetest

// Values are values a visitor can send in a cookie, a query parameter or
// a header, each aimed at some way out of where bespoke writes it:
// markup, quotes, character and percent encodings, control characters
// that browsers strip, schemes that run script, hosts in every spelling
// browsers accept, and Unicode that reorders or breaks lines.
var Values = []string{
	`"`, `'`, `<`, `>`, `&`, "`", "\x00", "\r\n", "\n", "\t",
	// ISO-2022-JP's escape sequences: to two-byte characters, which
	// would swallow a closing quote, and back.
	"\x1b$B", "\x1b(B", "\x1b$B\"\x1b(B", "\x1b$@x\x1b(J",
	`"><script>alert(1)</script>`,
	`' onmouseover='alert(1)`,
	`" onmouseover="alert(1)`,
	`x onmouseover=alert(1)`,
	`<img src=x onerror=alert(1)>`,
	`</textarea><script>alert(1)</script>`,
	`]]><script>alert(1)</script>`,
	`--><script>alert(1)</script>`,
	`javascript:alert(1)`,
	`JaVaScRiPt:alert(1)`,
	"java\tscript:alert(1)",
	"java\nscript:alert(1)",
	"\x01javascript:alert(1)",
	" javascript:alert(1)",
	"javascript&colon;alert(1)",
	"javascript&#58;alert(1)",
	"&#106;avascript:alert(1)",
	"%6Aavascript:alert(1)",
	"javascript%3Aalert(1)",
	`data:text/html,<script>alert(1)</script>`,
	`vbscript:msgbox(1)`,
	`//evil.example`,
	`/\evil.example`,
	`\\evil.example`,
	`\/evil.example`,
	`https:evil.example`,
	`https://evil.example`,
	`http://evil.example/`,
	`https://a.example@evil.example/`,
	`%2F%2Fevil.example`,
	`/%2F/evil.example`,
	`?x=1&admin=true`,
	`a&b=c#d`,
	`../../admin`,
	`x, evil.example/y 2x`,
	`1x, javascript:alert(1) 2x`,
	"\xc0\xbcscript\xc0\xbe",    // overlong UTF-8 for < and >
	"\xe0\x80\xbcscript",        // overlong, three bytes
	"\xff\xfe<",                 // invalid UTF-8
	"a\u2028b\u2029c",           // line and paragraph separators (JavaScript line breaks)
	"\u202egnp.exe",             // right-to-left override
	"\u200bjavascript:alert(1)", // zero-width space
	"ｊａｖａｓｃｒｉｐｔ:alert(1)",       // fullwidth letters
	"&lt;script&gt;",
	"&amp;lt;",
	"{{ geo.city }}",
	"${alert(1)}",
	"expression(alert(1))",
	"red;background:url(https://evil.example/leak)",
	"a\x7fb",
	"Set-Cookie: x=1",
	"x\r\nSet-Cookie: x=1",
}
