package escape

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckAttr(t *testing.T) {
	tests := []struct {
		name, src string
		schemes   []string
		want      string // "" or the start of the problem
	}{
		{"title", "Hello {}", nil, ""},
		{"data-geo", "{}", nil, ""},
		{"onclick", "go()", nil, ""},
		{"onclick", "go('{}')", nil, "a value from the request cannot go in onclick: it is an event handler"},
		{"OnMouseOver", "{}", nil, "a value from the request cannot go in OnMouseOver"},
		{"style", "color: {}", nil, "a value from the request cannot go in style: it is CSS"},
		{"srcdoc", "<p>Hi {}</p>", nil, "a value from the request cannot go in srcdoc"},
		{"sandbox", "{}", nil, "a value from the request cannot go in sandbox"},
		{"x-on:click", "{}", nil, "a value from the request cannot go in x-on:click: Alpine.js"},
		{"href", "/buy", nil, ""},
		{"href", "javascript:void(0)", nil, ""},
		{"href", "/stores/{}", nil, ""},
		{"href", "/stores#{}", nil, ""},
		{"href", "/offers?seg={}", nil, ""},
		{"href", "https://shop.example/{}", nil, ""},
		{"href", "{}", nil, "the URL in href starts with {{ }}"},
		{"href", "  {}", nil, "the URL in href starts with {{ }}"},
		{"href", "{}", []string{"https", "relative"}, ""},
		{"href", "{}/x?y={}", []string{"https"}, ""},
		{"href", "/x/{}", []string{"https"}, "schemes apply to a URL that starts with {{ }}"},
		{"href", "/x", []string{"https"}, "schemes apply to a URL that starts with {{ }}"},
		{"href", "java{}", nil, "in the URL in href, the text before {{ }}, \"java\", could still become a scheme"},
		{"href", "https://{}.shop.example/", nil, "in the URL in href, the host is not written out"},
		{"href", "https://shop.example{}", nil, "in the URL in href, the host is not written out"},
		{"href", `/\{}`, nil, "in the URL in href, the URL starts with two slashes"},
		{"href", "//cdn.example/{}", nil, ""},
		{"href", "javascript:go('{}')", nil, "a value from the request cannot go in the URL in href: a javascript: URL is a script"},
		{"src", "data:text/html,{}", nil, "a value from the request cannot go in the URL in src: a data: URL"},
		{"formaction", "{}", nil, "the URL in formaction starts with {{ }}"},
		{"xlink:href", "{}", nil, "the URL in xlink:href starts with {{ }}"},
		{"srcset", "/a/{}.png 1x, /b/{}.png 2x", nil, ""},
		{"srcset", "/a.png {}", nil, ""},
		{"srcset", "/a.png 1x, {} 2x", nil, "the URL in srcset starts with {{ }}"},
		{"srcset", "/a.png 1x, {} 2x", []string{"https"}, ""},
		{"ping", "/p/{} {}", nil, "the URL in ping starts with {{ }}"},
		{"title", "x", []string{"https"}, "schemes apply to a URL that starts with {{ }}; this value has none"},
		{"title", "{}", []string{"https"}, "schemes apply to URL attributes"},
	}
	for _, tt := range tests {
		prob := CheckAttr(tt.name, tpl(tt.src), tt.schemes)
		got := ""
		if prob != nil {
			got = prob.Msg
		}
		if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s=%q schemes %v: %q, want %q", tt.name, tt.src, tt.schemes, got, tt.want)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	tests := []struct {
		src     string
		schemes []string
		want    string
	}{
		{"/p/{}", nil, ""},
		{"/search?q={}", nil, ""},
		{"https://shop.example/{}", nil, ""},
		{`/\{}`, nil, "in the redirect target, the URL starts with two slashes"},
		{"{}", nil, "the redirect target starts with {{ }}"},
		{"{}", []string{"relative"}, ""},
		{"https://{}/", nil, "in the redirect target, the host is not written out"},
	}
	for _, tt := range tests {
		prob := CheckRedirect(tpl(tt.src), tt.schemes)
		got := ""
		if prob != nil {
			got = prob.Msg
		}
		if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestCheckHTML(t *testing.T) {
	tests := []struct {
		src     string
		schemes []string
		want    string
	}{
		{`<a href="/stores/{}">{}</a>`, nil, ""},
		{`<a href="{}">x</a>`, nil, "the URL attribute starts with {{ }}"},
		{`<a href="{}">x</a>`, []string{"https"}, ""},
		{`<a href="java&#115;cript:{}">x</a>`, nil, "a value from the request cannot go in the URL attribute: a javascript: URL"},
		{`<a href="java&Tab;script:{}">x</a>`, nil, "a value from the request cannot go in the URL attribute: a javascript: URL"},
		{`<a href="ja{}">x</a>`, nil, "in the URL attribute, the text before {{ }}"},
		{`<b>{}</b>`, []string{"https"}, "schemes apply to a URL that starts with {{ }}; this markup has none"},
		{`<img srcset="/a.png 1x, {} 2x">`, nil, "the URL attribute starts with {{ }}"},
	}
	for _, tt := range tests {
		prob := CheckHTML(tpl(tt.src), tt.schemes)
		got := ""
		if prob != nil {
			got = prob.Msg
		}
		if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestCheckHeader(t *testing.T) {
	tests := []struct {
		name     string
		response bool
		src      string
		want     string
	}{
		{"X-City", true, "{}", ""},
		{"Location", true, "/x", ""},
		{"Location", true, "/x/{}", "a value from the request cannot go in the Location header"},
		{"Refresh", true, "0;url=/{}", "a value from the request cannot go in the Refresh header"},
		{"Content-Type", true, "text/{}", "a value from the request cannot go in the Content-Type header"},
		{"Content-Type", false, "text/{}", ""},
		{"X-A", true, "a\r\nb", "a header value cannot hold a control character"},
		// The proxy writes names canonical: a name in another case is
		// the same header.
		{"refresh", true, "0;url=/{}", "a value from the request cannot go in the Refresh header"},
		{"location", true, "/x/{}", "a value from the request cannot go in the Location header"},
		{"content-security-policy", true, "{}", "a value from the request cannot go in the Content-Security-Policy header"},
		{"ACCESS-CONTROL-ALLOW-ORIGIN", true, "{}", "a value from the request cannot go in the Access-Control-Allow-Origin header"},
	}
	for _, tt := range tests {
		prob := CheckHeader(tt.name, tt.response, tpl(tt.src))
		got := ""
		if prob != nil {
			got = prob.Msg
		}
		if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s %q: %q, want %q", tt.name, tt.src, got, tt.want)
		}
	}
	if prob := CheckHeader("X-A", true, []Piece{{Value: true, Text: "a\nb"}}); prob == nil {
		t.Error("a default with a line break passed")
	}
}

// TestPolicyHeader: the headers that are URLs or policies are told in
// any case, and the families of CORS and cross-origin isolation headers
// whole.
func TestPolicyHeader(t *testing.T) {
	for _, name := range []string{
		"Refresh", "refresh", "LOCATION", "content-security-policy", "Access-Control-Allow-Origin",
		"access-control-allow-origin", "Access-Control-Max-Age", "Access-Control-Allow-Private-Network",
		"Access-Control-Allow-Headers", "Access-Control-Something-New", "Cross-Origin-Opener-Policy",
		"Cross-Origin-Embedder-Policy-Report-Only", "Reporting-Endpoints", "report-to", "NEL",
		"Feature-Policy", "Speculation-Rules", "Document-Policy",
	} {
		if why, ok := PolicyHeader(name); !ok || why == "" {
			t.Errorf("%s is not a policy header", name)
		}
	}
	for _, name := range []string{"X-City", "X-Access-Control", "Accessible", "Content-Language", "X-Cross-Origin"} {
		if _, ok := PolicyHeader(name); ok {
			t.Errorf("%s is a policy header", name)
		}
	}
}

// TestMetaReferrer: the content of a <meta name=referrer>, in any case
// and with spaces around the name, is a policy; of another named <meta>,
// metadata.
func TestMetaReferrer(t *testing.T) {
	for name, code := range map[string]bool{"referrer": true, " Referrer ": true, "REFERRER": true, "description": false, "": false, "referrer-policy": false} {
		why := ElementAttrCode("meta", "content", func(string) bool { return false }, func(n string) string {
			if n == "name" {
				return name
			}
			return ""
		})
		if (why != "") != code {
			t.Errorf("<meta name=%q content>: %q, want code %v", name, why, code)
		}
	}
}

// TestElementAttrCode: the attributes that are code on some elements
// only, in any case, and the content of a <meta> that has http-equiv
// (the page's, or one an edit gives it: has says).
func TestElementAttrCode(t *testing.T) {
	tests := []struct {
		tag, attr string
		equiv     bool
		code      bool
	}{
		{"script", "src", false, true},
		{"SCRIPT", "XLINK:HREF", false, true},
		{"link", "href", false, true},
		{"base", "href", false, true},
		{"script", "type", false, true},
		{"script", "language", false, true},
		{"script", "charset", false, true},
		{"script", "for", false, true},
		{"style", "type", false, true},
		{"link", "rel", false, true},
		{"meta", "charset", false, true},
		{"object", "type", false, true},
		{"embed", "type", false, true},
		{"meta", "content", true, true},
		{"Meta", "Content", true, true},
		{"meta", "content", false, false},
		{"div", "content", true, false},
		{"input", "type", false, false},
		{"a", "rel", false, false},
		{"img", "src", false, false},
		{"script", "data-x", false, false},
		{"script", "id", false, false},
	}
	for _, tt := range tests {
		why := ElementAttrCode(tt.tag, tt.attr, func(name string) bool { return name == "http-equiv" && tt.equiv }, func(string) string { return "" })
		if (why != "") != tt.code {
			t.Errorf("<%s %s> (http-equiv %v): %q, want code %v", tt.tag, tt.attr, tt.equiv, why, tt.code)
		}
		if !MetaContent(tt.tag, tt.attr) && (TagAttrCode(tt.tag, tt.attr) != "") != tt.code {
			t.Errorf("<%s %s>: TagAttrCode %q", tt.tag, tt.attr, TagAttrCode(tt.tag, tt.attr))
		}
	}
}

func TestCheckSchemes(t *testing.T) {
	for _, s := range [][]string{{"https"}, {"HTTPS", "relative", "mailto", "tel", "http"}} {
		if prob := CheckSchemes(s); prob != nil {
			t.Errorf("%v: %v", s, prob)
		}
	}
	for _, s := range []string{"javascript", "data", "vbscript:", "ftp", ""} {
		if prob := CheckSchemes([]string{s}); prob == nil {
			t.Errorf("%q passed", s)
		}
	}
}

// TestBrowserHeader: the fields a browser sends of itself keep the
// visitor's value where no rule sets them; the names a site invents are
// the proxy's to send.
func TestBrowserHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Accept-Language": true, "User-Agent": true, "Authorization": true, "If-None-Match": true,
		"Sec-Fetch-Mode": true, "Sec-Ch-Ua-Mobile": true, "Save-Data": true, "Viewport-Width": true,
		"X-Tier": false, "X-Segment": false, "Segment": false, "Sec": false, "X-Requested-With": false,
	} {
		if got := BrowserHeader(http.CanonicalHeaderKey(name)); got != want {
			t.Errorf("BrowserHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCheckCookieValue: Chromium keeps a cookie of 4,096 bytes of name
// and value and drops one of 4,097 (reqctx's TestCookieAsChromiumReads
// sets both; proxy's TestBrowserKeepsBespokeCookies has a rule set one
// of 4,096); a rule's cookie is measured as sent, percent-encoded.
func TestCheckCookieValue(t *testing.T) {
	tests := []struct {
		value []Piece
		ok    bool
	}{
		{[]Piece{{Text: strings.Repeat("x", 4096-len("promo"))}}, true},
		{[]Piece{{Text: strings.Repeat("x", 4097-len("promo"))}}, false},
		{[]Piece{{Text: strings.Repeat(";", (4096-len("promo"))/3)}}, true},
		{[]Piece{{Text: strings.Repeat(";", (4096-len("promo"))/3+1)}}, false},
		{[]Piece{{Text: strings.Repeat("é", 700)}, {Value: true}}, false},
		{[]Piece{{Value: true, Text: strings.Repeat("x", 5000)}}, true}, // a default the plan bounds
	}
	for i, tt := range tests {
		if prob := CheckCookieValue("promo", tt.value); (prob == nil) != tt.ok {
			t.Errorf("%d: CheckCookieValue = %v, want ok %v", i, prob, tt.ok)
		}
	}
}
