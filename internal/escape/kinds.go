package escape

import (
	"net/textproto"
	"strings"
)

// Kind is what an attribute's value is to a browser, which decides how a
// value from the request may go in it.
type Kind uint8

const (
	// Text is an ordinary attribute: any text, escaped for the attribute.
	Text Kind = iota
	// URL is one URL: the literal text before a value decides its scheme
	// and host, values are escaped for the part of the URL they are in.
	URL
	// URLs is a list of URLs separated by whitespace (ping, archive).
	URLs
	// SrcSet is a list of image candidates, each a URL and descriptors,
	// separated by commas (srcset, imagesrcset).
	SrcSet
	// Code is script, CSS, markup or a security policy: no value from the
	// request may go in it, whatever the escaping.
	Code
)

func (k Kind) String() string {
	switch k {
	case URL:
		return "a URL"
	case URLs:
		return "a list of URLs"
	case SrcSet:
		return "a list of image URLs"
	case Code:
		return "code"
	}
	return "text"
}

// urlAttrs are the attributes of HTML, SVG and MathML (current and
// obsolete) whose value is a URL, or a list of them, and what a browser
// does with it.
var urlAttrs = map[string]Kind{
	"href":           URL,  // a, area, link, base; svg a, use, image, feImage, script; math
	"xlink:href":     URL,  // svg (older spelling)
	"src":            URL,  // img, script, iframe, frame, embed, audio, video, source, track, input, portal
	"action":         URL,  // form, isindex
	"formaction":     URL,  // button, input
	"poster":         URL,  // video
	"cite":           URL,  // blockquote, q, del, ins
	"data":           URL,  // object
	"codebase":       URL,  // object, applet
	"classid":        URL,  // object
	"longdesc":       URL,  // img, iframe, frame
	"usemap":         URL,  // img, input, object
	"icon":           URL,  // command, menuitem
	"manifest":       URL,  // html
	"background":     URL,  // body, table, td, th
	"lowsrc":         URL,  // img (obsolete)
	"dynsrc":         URL,  // img (obsolete)
	"pluginspage":    URL,  // embed (obsolete)
	"itemid":         URL,  // microdata
	"xml:base":       URL,  // svg
	"ping":           URLs, // a, area
	"archive":        URLs, // object, applet
	"profile":        URLs, // head (obsolete)
	"itemtype":       URLs, // microdata
	"attributionsrc": URLs, // a, img, script
	"srcset":         SrcSet,
	"imagesrcset":    SrcSet, // link rel=preload
}

// svgURL is why an SVG presentation attribute that takes url() is code.
const svgURL = "it is CSS, which can load from any host with url() (an SVG presentation attribute)"

// codeAttrs are attributes whose value is code or a policy, and why.
var codeAttrs = map[string]string{
	"srcdoc":         "it is an HTML document, whose scripts run in the page's origin",
	"style":          "it is CSS, which can load from any host with url() and restyle the page to deceive",
	"http-equiv":     "it turns a <meta> into a header such as refresh or set-cookie",
	"sandbox":        "it is a security policy: a value could lift an iframe's restrictions",
	"csp":            "it is a security policy the iframe's document must accept",
	"referrerpolicy": "it is a policy: a value could send the page's whole address, query included, to other sites",
	"allow":          "it is a security policy: a value could grant an iframe the camera or the microphone",
	"attributename":  "it names the attribute an SVG animation changes, such as href",
	"values":         "an SVG animation sets an attribute (such as href, to javascript:) to it",
	"from":           "an SVG animation sets an attribute (such as href, to javascript:) to it",
	"to":             "an SVG animation sets an attribute (such as href, to javascript:) to it",
	"by":             "an SVG animation sets an attribute (such as href, to javascript:) to it",
	"data-bind":      "Knockout evaluates it as JavaScript",
	"download":       "it names the file the browser saves, and its type (invoice.exe)",
	// SVG presentation attributes are CSS properties whose values may be
	// url(): the browser loads what they name (a paint server, a mask, a
	// cursor image), from any host.
	"fill":         svgURL,
	"stroke":       svgURL,
	"filter":       svgURL,
	"mask":         svgURL,
	"clip-path":    svgURL,
	"marker-start": svgURL,
	"marker-mid":   svgURL,
	"marker-end":   svgURL,
	"cursor":       svgURL,
	// hyperscript runs these as scripts.
	"_":           "hyperscript runs it as a script",
	"script":      "hyperscript runs it as a script",
	"data-script": "hyperscript runs it as a script",
	// Datastar evaluates these as expressions.
	"data-signals":  "Datastar evaluates it as JavaScript",
	"data-computed": "Datastar evaluates it as JavaScript",
	"data-effect":   "Datastar evaluates it as JavaScript",
	"data-text":     "Datastar evaluates it as JavaScript",
	"data-show":     "Datastar evaluates it as JavaScript",
	"data-attr":     "Datastar evaluates it as JavaScript",
	"data-class":    "Datastar evaluates it as JavaScript",
	"data-style":    "Datastar evaluates it as JavaScript",
	"data-init":     "Datastar evaluates it as JavaScript",
}

// frameworkPrefixes start attribute names that client-side frameworks
// evaluate as JavaScript expressions. (AngularJS's many spellings are
// angularName's.)
var frameworkPrefixes = []struct{ prefix, who string }{
	{"x-", "Alpine.js"},
	{"hx-", "htmx"},
	{"data-hx-", "htmx"},
	{"v-", "Vue"},
	{":", "Vue"},
	{"@", "Vue and Alpine.js"},
	{"#", "Vue"},
	{"data-on-", "Datastar"},
	{"data-on:", "Datastar"},
	{"data-attr-", "Datastar"},
	{"data-attr:", "Datastar"},
	{"data-class-", "Datastar"},
	{"data-class:", "Datastar"},
	{"data-computed-", "Datastar"},
	{"data-computed:", "Datastar"},
	{"data-signals-", "Datastar"},
	{"data-signals:", "Datastar"},
	{"data-style-", "Datastar"},
	{"data-style:", "Datastar"},
	{"data-bind-", "Datastar"},
	{"data-bind:", "Datastar"},
	{"up-on-", "Unpoly"},
	{"mv-", "Mavo"},
}

// angularName reports whether AngularJS reads name (lower case) as one
// of its directives: it drops a leading "x" or "data" followed by ':',
// '-' or '_', and takes "ng" followed by any of the three for "ng-"
// (ng:init, ng_init, data-ng:init, x_ng-init are all ng-init).
func angularName(n string) bool {
	for _, p := range []string{"x", "data"} {
		if len(n) > len(p) && strings.HasPrefix(n, p) && strings.IndexByte(":-_", n[len(p)]) >= 0 {
			n = n[len(p)+1:]
			break
		}
	}
	return len(n) > 2 && strings.HasPrefix(n, "ng") && strings.IndexByte(":-_", n[2]) >= 0
}

// AttrKind returns the kind of the attribute named name (in any case),
// and for Code why no value may go in it.
func AttrKind(name string) (Kind, string) {
	n := strings.ToLower(name)
	if k, ok := urlAttrs[n]; ok {
		return k, ""
	}
	if why, ok := codeAttrs[n]; ok {
		return Code, why
	}
	if strings.HasPrefix(n, "on") {
		return Code, "it is an event handler: its value is JavaScript"
	}
	for _, f := range frameworkPrefixes {
		if strings.HasPrefix(n, f.prefix) {
			return Code, f.who + " evaluates it as JavaScript"
		}
	}
	if angularName(n) {
		return Code, "AngularJS evaluates it as JavaScript"
	}
	if strings.IndexByte(n, '.') >= 0 {
		// Aurelia's binding commands (click.trigger, value.bind) and
		// the modifiers of Vue's and Alpine's (.prevent): no attribute
		// a page styles or scripts itself has a dot in its name.
		return Code, "Aurelia evaluates an attribute named with a binding command (click.trigger, value.bind) as JavaScript"
	}
	return Text, ""
}

// tagCode are, per element, the attributes that decide whether and how
// the element's own text or address runs as code, and why: a value from
// the request in them would turn an inert block (<script
// type="text/plain">, a template's text) into script or a style sheet
// that applies, a template's content into live markup, or choose how
// the page is decoded.
var tagCode = map[string]map[string]string{
	"script": {
		"type":     "it decides whether the script's text runs, and as what",
		"language": "it decides whether the script's text runs",
		"event":    "it decides whether the script's text runs",
		"for":      "it decides whether the script's text runs",
		"charset":  "it decides how the script is decoded",
	},
	"style": {"type": "it decides whether the style sheet applies"},
	"link": {
		"rel":     "it decides what the linked resource is to the page (a style sheet, an icon, a module to load)",
		"type":    "it decides whether a linked style sheet applies",
		"charset": "it decides how the linked resource is decoded",
	},
	"meta":   {"charset": "it decides how the whole page is decoded"},
	"object": {"type": "it decides how the browser runs what the element loads", "codetype": "it decides how the browser runs what the element loads"},
	"embed":  {"type": "it decides how the browser runs what the element loads"},
	// A template's content is inert markup until shadowrootmode makes it
	// a declarative shadow root, whose scripts and handlers run.
	"template": {"shadowrootmode": "it decides whether the template's inert content becomes live markup"},
}

// TagAttrCode returns why no value from the request may go in attribute
// attr (in any case) of a tag element, whatever its other attributes:
// the address of a script, of a style sheet or other linked resource, or
// the document's base URL (which moves every relative script), even with
// a fixed scheme and host; or an attribute that decides whether the
// element's text or address runs as code (tagCode). "" when the element
// does not forbid it (AttrKind decides the attribute's own kind). The
// content of a <meta http-equiv> is the other such place, which depends
// on another attribute (ElementAttrCode).
func TagAttrCode(tag, attr string) string {
	tag, attr = strings.ToLower(tag), strings.ToLower(attr)
	switch tag {
	case "script", "link", "base":
		if k, _ := AttrKind(attr); k == URL {
			return "it would choose code the page runs"
		}
	}
	return tagCode[tag][attr]
}

// ElementAttrCode is TagAttrCode for an element whose attributes are
// known: has reports whether the element has an attribute (a lower-case
// name), and value its value, as the edits leave them. The content of a
// <meta> with http-equiv is a header (refresh, set-cookie); that of a
// <meta name=referrer>, the page's referrer policy; of any other,
// metadata.
func ElementAttrCode(tag, attr string, has func(name string) bool, value func(name string) string) string {
	if why := TagAttrCode(tag, attr); why != "" {
		return why
	}
	if MetaContent(tag, attr) {
		if has("http-equiv") {
			return "with http-equiv, it acts as a header such as refresh"
		}
		if strings.EqualFold(strings.TrimSpace(value("name")), "referrer") {
			return "with name=referrer, it is the page's referrer policy: a value could send the page's whole address, query included, to other sites"
		}
	}
	return ""
}

// MetaContent reports whether attr of a tag element is the content of a
// <meta>, which is code when the element has http-equiv.
func MetaContent(tag, attr string) bool {
	return strings.EqualFold(tag, "meta") && strings.EqualFold(attr, "content")
}

// RawTextCode reports whether the content of a tag element is code: the
// text of a <script> or <style>. Values from the request never go in it.
func RawTextCode(tag string) bool {
	return strings.EqualFold(tag, "script") || strings.EqualFold(tag, "style")
}

// policyHeaders are response headers whose value is a URL the browser
// follows or reports to, or a policy or type that decides what the
// browser does with the response: a value from the request never goes in
// them. Keys are canonical (textproto.CanonicalMIMEHeaderKey); every
// header starting with one of policyPrefixes is one too.
var policyHeaders = map[string]string{
	"Location":                             "it says where the browser goes (use redirect)",
	"Content-Location":                     "it is a URL the browser may follow",
	"Refresh":                              "it sends the browser to a URL",
	"Link":                                 "it makes the browser load or connect to URLs",
	"Content-Type":                         "it decides how the browser reads the body (text/html runs scripts)",
	"Content-Disposition":                  "it decides whether the browser shows or saves the body, and the file's name",
	"Content-Security-Policy":              "it is the page's script policy",
	"Content-Security-Policy-Report-Only":  "it is the page's script policy",
	"Access-Control-Allow-Origin":          "it lets other sites read the response",
	"Access-Control-Allow-Credentials":     "it lets other sites read the response",
	"Access-Control-Allow-Private-Network": "it lets public sites reach the private network",
	"Cache-Control":                        "it decides which caches keep a personalized response",
	"Vary":                                 "it decides which caches keep a personalized response",
	"Expires":                              "it decides how long caches keep the response",
	"Strict-Transport-Security":            "it is a transport security policy",
	"X-Frame-Options":                      "it decides which sites may frame the page",
	"X-Content-Type-Options":               "it decides how the browser reads the body",
	"X-Xss-Protection":                     "it is a script policy",
	"Referrer-Policy":                      "it decides what other sites learn of the page's URL",
	"Permissions-Policy":                   "it grants the page's frames powerful features",
	"Feature-Policy":                       "it grants the page's frames powerful features",
	"Document-Policy":                      "it is a policy of what the page may do",
	"Clear-Site-Data":                      "it erases the visitor's data for the site",
	"Service-Worker-Allowed":               "it widens what a service worker controls",
	"Speculation-Rules":                    "it is a URL of rules that make the browser load pages ahead",
	"Sourcemap":                            "it is a URL the browser's tools load",
	"X-Sourcemap":                          "it is a URL the browser's tools load",
	"Timing-Allow-Origin":                  "it lets other sites read timing data",
	"Origin-Agent-Cluster":                 "it is an isolation policy",
	"Alt-Svc":                              "it sends the browser's next connections to another host",
	"Reporting-Endpoints":                  "it is a URL the browser sends reports of the page to",
	"Report-To":                            "it is a URL the browser sends reports of the page to",
	"Nel":                                  "it is a URL the browser sends reports of the site's network errors to",
	"X-Permitted-Cross-Domain-Policies":    "it is a cross-origin policy",
	// A server in front of bespoke acts on these: it serves the file or
	// URL they name instead of the response.
	"X-Sendfile":           "a server in front serves the file it names instead of the response",
	"X-Lighttpd-Send-File": "a server in front serves the file it names instead of the response",
	"X-Litespeed-Location": "a server in front serves the URL it names instead of the response",
	"Accept-Ch":            "it asks the browser for more of the visitor's data (client hints)",
	"Critical-Ch":          "it asks the browser for more of the visitor's data (client hints)",
}

// policyPrefixes start the names of families of policy headers: every
// CORS header (Access-Control-Max-Age, ...-Allow-Headers, ...) and every
// cross-origin isolation policy (Cross-Origin-Opener-Policy, its
// -Report-Only, ...), including those defined after this list.
var policyPrefixes = []struct{ prefix, why string }{
	{"Access-Control-", "it is a cross-origin policy"},
	{"Cross-Origin-", "it is a cross-origin isolation policy"},
	{"X-Accel-", "nginx in front acts on it: an internal redirect to any file it serves (X-Accel-Redirect), its buffering and rate"},
}

// PolicyHeader reports whether the response header name (in any case:
// the proxy writes it canonical) takes no value from the request, and
// why.
func PolicyHeader(name string) (string, bool) {
	name = textproto.CanonicalMIMEHeaderKey(name)
	if why, ok := policyHeaders[name]; ok {
		return why, true
	}
	for _, p := range policyPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.why, true
		}
	}
	return "", false
}

// reservedHeaders are headers rules may not set, on a response or on
// the request to the origin: they frame the message, or belong to the
// proxy. Keys are canonical.
var reservedHeaders = map[string]string{
	"Content-Length":    "it is computed by the proxy",
	"Transfer-Encoding": "it is computed by the proxy",
	"Content-Encoding":  "it is computed by the proxy",
	"Connection":        "it is a hop-by-hop header",
	"Keep-Alive":        "it is a hop-by-hop header",
	"Upgrade":           "it is a hop-by-hop header",
	"Te":                "it is a hop-by-hop header",
	"Trailer":           "it is a hop-by-hop header",
	// Hop-by-hop too (httputil.ReverseProxy drops them from both sides):
	// an HTTP/2 response with Proxy-Connection is malformed (RFC 9113
	// 8.2.2), which curl and the other clients built on nghttp2 refuse
	// (PROTOCOL_ERROR), and net/http sends it as given.
	"Proxy-Connection":    "it is a hop-by-hop header",
	"Proxy-Authenticate":  "it is a hop-by-hop header",
	"Proxy-Authorization": "it is a hop-by-hop header",
	"Host":                "the proxy sets it for the origin",
	// The origin reads the visitor's address, scheme and host from
	// these: a rule that set them (with a value of the request, say)
	// would let a visitor pass for another address.
	"X-Forwarded-For":   "the proxy sets it for the origin, from the connection and the trusted proxies before it",
	"X-Forwarded-Host":  "the proxy sets it for the origin, from the connection and the trusted proxies before it",
	"X-Forwarded-Proto": "the proxy sets it for the origin, from the connection and the trusted proxies before it",
	"Forwarded":         "the proxy sets it for the origin, from the connection and the trusted proxies before it",
	"Via":               "the proxy sets it",
	// The visitor's address as proxies and CDNs before an origin pass
	// it on: the proxy removes them from untrusted peers.
	"X-Real-Ip":           "the origin reads the visitor's address from it",
	"True-Client-Ip":      "the origin reads the visitor's address from it",
	"Cf-Connecting-Ip":    "the origin reads the visitor's address from it",
	"Fastly-Client-Ip":    "the origin reads the visitor's address from it",
	"X-Client-Ip":         "the origin reads the visitor's address from it",
	"X-Cluster-Client-Ip": "the origin reads the visitor's address from it",
	"Set-Cookie":          "use the set_cookie action",
	"Cookie":              "cookies are read with cookie(\"name\")",
}

// CDNHeaders are the request headers only a CDN or load balancer in
// front may set: the client's address, geography, scheme, port, host
// and path prefix as it saw them. The origin believes them, so rules
// cannot set them on the request (CheckHeaderName), and the proxy removes
// them from untrusted peers' requests. A trailing "*" matches any
// suffix.
var CDNHeaders = []string{
	// Cloudflare
	"CF-Connecting-IP", "CF-Connecting-IPv6", "CF-Pseudo-IPv4", "CF-IPCountry", "CF-IPCity", "CF-IPContinent",
	"CF-IPLatitude", "CF-IPLongitude", "CF-Region", "CF-Region-Code", "CF-Metro-Code", "CF-Postal-Code",
	"CF-Timezone", "CF-Visitor", "CF-Ray", "CF-Worker", "CF-EW-Via", "CDN-Loop",
	// Generic client-address headers set by CDNs and load balancers
	"True-Client-IP", "X-Real-IP", "X-Client-IP", "X-Cluster-Client-IP", "X-Original-Forwarded-For", "Client-IP",
	// What scheme, port, host and path prefix the client asked for,
	// which frameworks read ahead of X-Forwarded-Proto (Rack reads
	// X-Forwarded-Ssl first; Spring and ASP.NET read X-Forwarded-Prefix),
	// and which poison a cache in front when believed from anyone
	"X-Forwarded-Ssl", "X-Forwarded-Port", "X-Forwarded-Scheme", "X-Forwarded-Server", "X-Forwarded-Prefix",
	"X-Forwarded-Path", "X-Forwarded-Uri", "X-Original-Host", "X-Host", "X-Url-Scheme", "Front-End-Https",
	"X-Original-URL", "X-Rewrite-URL",
	// CloudFront
	"CloudFront-Viewer-*", "CloudFront-Is-*", "CloudFront-Forwarded-Proto",
	// Fastly
	"Fastly-Client-IP", "Fastly-Client", "Fastly-SSL", "Fastly-Orig-Accept-Encoding", "Client-Geo-*",
	// Vercel
	"X-Vercel-IP-*", "X-Vercel-Forwarded-For", "X-Vercel-Id",
	// Akamai
	"X-Akamai-*", "Akamai-Origin-Hop", "Akamai-Client-IP",
	// Google Cloud load balancers, Azure Front Door
	"X-Client-Geo-Location", "X-Azure-ClientIP", "X-Azure-SocketIP",
}

// cdnHeader reports whether canonical name c is one of CDNHeaders.
func cdnHeader(c string) bool {
	for _, h := range CDNHeaders {
		if p, ok := strings.CutSuffix(h, "*"); ok {
			if len(c) >= len(p) && strings.EqualFold(c[:len(p)], p) {
				return true
			}
		} else if strings.EqualFold(c, h) {
			return true
		}
	}
	return false
}

// ReservedCookiePrefix starts the names of bespoke's own cookies (the
// visitor's id, the seen-filter, caps): rules cannot set them.
const ReservedCookiePrefix = "bsk_"

// browserHeaders are the request fields a visitor's browser or HTTP
// client sends of itself (RFC 9110's, the Fetch standard's, Client
// Hints). A rule may set one on the request to the origin in place of
// the visitor's, but the visitor's stays when no rule sets it: without
// it the origin could not negotiate a language or an encoding, nor see
// who is logged in. Keys are canonical.
var browserHeaders = map[string]bool{
	"Accept": true, "Accept-Charset": true, "Accept-Encoding": true, "Accept-Language": true,
	"Authorization": true, "Cache-Control": true, "Pragma": true,
	"Content-Type": true, "Content-Language": true, "Content-Location": true,
	"Date": true, "Dnt": true, "Expect": true, "From": true, "Origin": true, "Referer": true,
	"If-Match": true, "If-None-Match": true, "If-Modified-Since": true, "If-Unmodified-Since": true, "If-Range": true,
	"Range": true, "Priority": true, "Purpose": true, "Save-Data": true, "Upgrade-Insecure-Requests": true,
	"User-Agent": true, "Max-Forwards": true,
	"Access-Control-Request-Method": true, "Access-Control-Request-Headers": true,
	// Client Hints of before the Sec-CH- names
	"Device-Memory": true, "Dpr": true, "Width": true, "Viewport-Width": true, "Rtt": true, "Downlink": true, "Ect": true,
}

// BrowserHeader reports whether canonical header name c is one a
// visitor's browser sends of itself: a standard request field, or one
// of the Sec- fields only browsers set (Sec-Fetch-Mode, Sec-CH-UA, ...).
// Any other name a rule sets on the request is the proxy's to send, and
// the proxy takes the visitor's out of the request.
func BrowserHeader(c string) bool {
	return browserHeaders[c] || len(c) > 4 && strings.EqualFold(c[:4], "Sec-")
}
