package check

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// functions are the names that look like calls but are not plain
// attributes, for suggestions.
var functions = []string{"json", "semver", "base64", "variant", "geo.within", "seen"}

// attr resolves an attribute reference to its catalog entry and slot:
// geo.country, cookie("plan"), json(cookie("profile"), "tier"),
// semver(header("X-App-Version")), base64(header("X-Userinfo")). ok is
// false when e names no attribute; an error has then been reported.
func (c *checker) attr(e syntax.Expr) (a plugin.Attr, slot int, ok bool) {
	switch e := e.(type) {
	case *syntax.Ident:
		a, found := plugin.LookupAttr(e.Name)
		if !found || a.Internal {
			if _, isSeg := c.segIndex[e.Name]; isSeg {
				c.errorf(e.NamePos, "%s is a segment, not an attribute", e.Name).WithHint("use a segment as a condition on its own: when: %s and ...", e.Name)
				return a, 0, false
			}
			c.unknownName(e.NamePos, e.Name)
			return a, 0, false
		}
		if a.Arg != "" && !a.From {
			c.errorf(e.NamePos, "%s needs a %s", a.Name, a.Arg).WithHint("write %s", usage(a.Name))
			return a, 0, false
		}
		if a.From {
			c.errorf(e.NamePos, "%s needs arguments", a.Name).WithHint("write %s", usage(a.Name))
			return a, 0, false
		}
		return a, c.slot(plugin.Slot{Attr: a.Name}), true
	case *syntax.Call:
		switch e.Fun.Name {
		case "json":
			return c.jsonAttr(e)
		case "semver":
			return c.semverAttr(e)
		case "base64":
			return c.base64Attr(e)
		case "variant", "geo.within", "seen":
			c.errorf(e.Fun.NamePos, "%s(...) is a condition, not a value", e.Fun.Name).WithHint("write %s", usage(e.Fun.Name))
			return a, 0, false
		}
		a, found := plugin.LookupAttr(e.Fun.Name)
		if lit, ok := oneString(e); ok && !found && e.Fun.Name == "segment" {
			// A condition reads a segment by its name alone, as an
			// attribute; no function takes it.
			err := c.errorf(e.Fun.NamePos, "a segment is named as it is, not called with segment(...)")
			if _, known := c.segIndex[lit]; known {
				err.WithHint("write %s", lit)
			} else {
				err.WithHint("write the name segments: gives it, alone: when: vip")
			}
			return a, 0, false
		}
		if !found || a.Internal {
			c.unknownName(e.Fun.NamePos, e.Fun.Name)
			return a, 0, false
		}
		if a.Arg == "" {
			c.errorf(e.Fun.NamePos, "%s takes no argument", a.Name).WithHint("write %s without parentheses", a.Name)
			return a, 0, false
		}
		if len(e.Args) != 1 {
			c.errorf(e.Fun.NamePos, "%s takes one argument, the %s; found %d", a.Name, a.Arg, len(e.Args))
			return a, 0, false
		}
		lit, isStr := e.Args[0].(*syntax.StringLit)
		if !isStr {
			c.errorf(e.Args[0].Pos(), "the %s must be a quoted string", a.Arg).WithHint("write %s(\"name\")", a.Name)
			return a, 0, false
		}
		arg := lit.Value
		if err, hint := validArg(a.Name, arg); err != "" {
			e := c.errorf(lit.ValuePos, "%s", err)
			if hint != "" {
				e.WithHint("%s", hint)
			}
			return a, 0, false
		}
		if a.Name == "header" {
			arg = http.CanonicalHeaderKey(arg)
		}
		return a, c.slot(plugin.Slot{Attr: a.Name, Arg: arg}), true
	}
	c.errorf(e.Pos(), "expected an attribute such as geo.country or cookie(\"plan\"), found %s", e)
	return plugin.Attr{}, 0, false
}

// usage shows how to write an attribute or function.
func usage(name string) string {
	switch name {
	case "json":
		return `json(cookie("profile"), "path.to.value")`
	case "semver":
		return `semver(header("X-App-Version")) >= "2.3"`
	case "base64":
		return `base64(header("X-Userinfo"))`
	case "variant":
		return `variant("experiment") == "variant"`
	case "geo.within":
		return "geo.within(48.85, 2.35, 50) (latitude, longitude, kilometres)"
	case "seen":
		return `seen("promo-summer")`
	case "bucket", "geo.distance":
		return "rollout: or geo.within(...)"
	}
	return name + `("name")`
}

// jsonAttr is json(source, "path"): a value inside JSON carried by a
// cookie, header or query parameter, read with a gjson path.
func (c *checker) jsonAttr(e *syntax.Call) (plugin.Attr, int, bool) {
	a, _ := plugin.LookupAttr("json")
	if len(e.Args) != 2 {
		c.errorf(e.Fun.NamePos, "json takes two arguments, found %d", len(e.Args)).WithHint("write %s", usage("json"))
		return a, 0, false
	}
	if !visitorText(e.Args[0]) {
		hint := usage("json")
		if src, ok := e.Args[0].(*syntax.Call); ok && src.Fun.Name == "base64" {
			hint = `json(base64(header("X-Userinfo")), "email")`
		}
		c.errorf(e.Args[0].Pos(), "json reads a cookie, a header or a query parameter, or one decoded with base64(...), not %s", e.Args[0]).WithHint("write %s", hint)
		return a, 0, false
	}
	src := e.Args[0].(*syntax.Call)
	_, from, ok := c.attr(src)
	if !ok {
		return a, 0, false
	}
	path, ok := e.Args[1].(*syntax.StringLit)
	if !ok || strings.TrimSpace(path.Value) == "" {
		c.errorf(e.Args[1].Pos(), "the JSON path must be a quoted, non-empty string").WithHint(`for example "segments" or "user.tier"`)
		return a, 0, false
	}
	if m := jsonpath.Unbounded(path.Value); m != "" {
		// bespoke reads no value with it: a visitor's value of a few KB
		// would cost seconds and gigabytes (see jsonpath.Unbounded).
		c.errorf(path.Pos(), "%s costs more, the deeper the visitor's JSON is nested: bespoke reads no value with it", m).
			WithHint("compare values without %s (@ugly for the JSON text, a path for a key inside)", m)
		return a, 0, false
	}
	if g, kind := gjsonForm(path.Value); g != "" {
		// As for the path of a JSON edit (jsonPath): gjson reads it as a
		// key, so the condition most likely never holds.
		c.warnf(path.Pos(), "the JSON path %q is written as %s: json() reads gjson paths, which read it otherwise, so it most likely reads no value", path.Value, kind).
			WithHint("write %q", g).WithCode("json-path-form")
	}
	fs := c.prog.Slots[from]
	return a, c.slot(plugin.Slot{Attr: "json", Arg: path.Value, From: &plugin.Slot{Attr: fs.Attr, Arg: fs.Arg, From: fs.From}}), true
}

// visitorText says e is cookie(...), header(...) or query(...), or one
// of them decoded with base64(...): where a visitor's JSON comes from.
func visitorText(e syntax.Expr) bool {
	src, ok := e.(*syntax.Call)
	if ok && src.Fun.Name == "base64" && len(src.Args) == 1 {
		src, ok = src.Args[0].(*syntax.Call)
	}
	return ok && (src.Fun.Name == "cookie" || src.Fun.Name == "header" || src.Fun.Name == "query")
}

// semverAttr is semver(attribute): the attribute read as a version.
func (c *checker) semverAttr(e *syntax.Call) (plugin.Attr, int, bool) {
	a, _ := plugin.LookupAttr("semver")
	if len(e.Args) != 1 {
		c.errorf(e.Fun.NamePos, "semver takes one attribute, found %d arguments", len(e.Args)).WithHint("write %s", usage("semver"))
		return a, 0, false
	}
	inner, from, ok := c.attr(e.Args[0])
	if !ok {
		return a, 0, false
	}
	if inner.Type != plugin.String && inner.Type != plugin.Any {
		c.errorf(e.Args[0].Pos(), "semver reads a text attribute; %s is %s", e.Args[0], inner.Type)
		return a, 0, false
	}
	fs := c.prog.Slots[from]
	return a, c.slot(plugin.Slot{Attr: "semver", From: &plugin.Slot{Attr: fs.Attr, Arg: fs.Arg, From: fs.From}}), true
}

// base64Attr is base64(attribute): the attribute's text decoded from
// base64 (see reqctx.Base64Text).
func (c *checker) base64Attr(e *syntax.Call) (plugin.Attr, int, bool) {
	a, _ := plugin.LookupAttr("base64")
	if len(e.Args) != 1 {
		c.errorf(e.Fun.NamePos, "base64 takes one attribute, found %d arguments", len(e.Args)).WithHint("write %s", usage("base64"))
		return a, 0, false
	}
	switch arg := e.Args[0].(type) {
	case *syntax.StringLit, *syntax.NumberLit:
		// Decoding a text of the rule file reads the same for every
		// visitor: the editor means a cookie or a header, or the
		// decoded text itself.
		c.errorf(arg.Pos(), "base64 decodes an attribute of the request, not %s", arg).
			WithHint("write %s, or compare with the decoded text itself", usage("base64"))
		return a, 0, false
	case *syntax.Call:
		if arg.Fun.Name == "base64" {
			// A slot's From chain is bounded (plugin.Manifest.Validate),
			// and a value is seldom encoded twice.
			c.errorf(arg.Fun.NamePos, "base64 decodes once: base64(base64(...)) is not read").
				WithHint("decode the attribute once: %s", usage("base64"))
			return a, 0, false
		}
	}
	inner, from, ok := c.attr(e.Args[0])
	if !ok {
		return a, 0, false
	}
	if inner.Type != plugin.String {
		c.errorf(e.Args[0].Pos(), "base64 decodes a text attribute; %s is %s", e.Args[0], inner.Type).
			WithHint("decode a cookie, a header or a query parameter: %s", usage("base64"))
		return a, 0, false
	}
	fs := c.prog.Slots[from]
	return a, c.slot(plugin.Slot{Attr: "base64", From: &plugin.Slot{Attr: fs.Attr, Arg: fs.Arg, From: fs.From}}), true
}

// validArg returns why arg cannot name what attr reads (a cookie, a
// header, a query parameter), and a hint, or "" when it can.
func validArg(attr, arg string) (msg, hint string) {
	if arg == "" {
		example := map[string]string{"cookie": `cookie("plan")`, "header": `header("X-Tier")`, "query": `query("ref")`}[attr]
		return fmt.Sprintf("the %s name is empty", attr), "write the name in the quotes: " + example
	}
	if attr == "cookie" && strings.Contains(arg, "=") {
		// document.cookie = "a=b=1" sets a, to b=1, and a Cookie header
		// is read so too: no browser sends a name with an =.
		msg = fmt.Sprintf("%q is not a valid cookie name: a cookie's name ends at its first =, so none holds one", arg)
		if name, _, _ := strings.Cut(arg, "="); name != "" {
			return msg, fmt.Sprintf("to read the cookie %q, write cookie(%q)", name, name)
		}
		return msg, "write the name alone, without its value"
	}
	if attr == "cookie" {
		return validCookieName(arg)
	}
	if attr == "header" {
		for _, r := range arg {
			if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
				if dashed := strings.Join(strings.Fields(arg), "-"); attr == "header" && r == ' ' {
					if m, _ := validArg(attr, dashed); m == "" {
						// user agent: the words of User-Agent, as it is said.
						return fmt.Sprintf("%q is not a valid header name: a header's name holds no space", arg), fmt.Sprintf("write header(%q)", http.CanonicalHeaderKey(dashed))
					}
				}
				return fmt.Sprintf("%q is not a valid header name", arg),
					"a header's name is ASCII letters, digits and !#$%&'*+-.^_`|~ (RFC 9110), as X-App-Version: no request carries another"
			}
		}
	}
	if attr == "header" {
		// Go's server moves these out of the request's headers, as
		// HTTP/2 never sends a Host: a test of them never holds.
		switch http.CanonicalHeaderKey(arg) {
		case "Host":
			return `header("Host") is never there: the server takes the Host header out of the request's headers; read the host with host: host == "shop.example.com"`, ""
		case "Transfer-Encoding":
			return `header("Transfer-Encoding") is never there: the server takes it out of the request's headers to read the body`, ""
		}
	}
	return "", ""
}

// validCookieName returns why no browser sends a cookie named name, and
// a hint, or "" when one may. Browsers store and send names with spaces
// inside, commas, quotes, backslashes and letters outside ASCII (as
// UTF-8), and Cookie reads them as they come (reqctx's
// TestCookieAsChromiumReads); what none sends is a name with a
// semicolon, which ends a cookie in the Cookie header, a control
// character, which makes a browser refuse the cookie, or spaces around
// it, which it drops.
func validCookieName(name string) (msg, hint string) {
	const other = "write the name of the cookie the site sets: a browser sends any other name, with spaces, commas or letters outside ASCII"
	if strings.Contains(name, ";") {
		return fmt.Sprintf("%q is not a valid cookie name: a Cookie header separates its cookies with ;, so no cookie's name holds one", name), other
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Sprintf("%q is not a valid cookie name: browsers store no cookie whose name holds a control character", name), other
	}
	if trimmed := strings.Trim(name, " "); trimmed != name {
		msg = fmt.Sprintf("%q is not a valid cookie name: browsers drop the spaces around a cookie's name", name)
		if trimmed == "" {
			return msg, `write the name in the quotes: cookie("plan")`
		}
		return msg, fmt.Sprintf("write cookie(%q)", trimmed)
	}
	return "", ""
}

// oneString returns the argument of a call given one quoted string.
func oneString(e *syntax.Call) (string, bool) {
	if len(e.Args) != 1 {
		return "", false
	}
	lit, ok := e.Args[0].(*syntax.StringLit)
	if !ok {
		return "", false
	}
	return lit.Value, true
}

func (c *checker) unknownName(pos diag.Pos, name string) {
	if c.file.Lost[name] {
		return // its definition could not be read, and that was reported
	}
	cands := append(plugin.AttrNames(), functions...)
	for n := range c.segIndex {
		cands = append(cands, n)
	}
	e := c.errorf(pos, "unknown attribute or segment %q", name)
	if h := diag.DidYouMean(name, cands); h != "" {
		e.WithHint("%s", h)
	} else if i := strings.IndexByte(name, '.'); i > 0 && attrsUnder(name[:i+1]) != nil {
		e.WithHint("attributes under %s. are: %s", name[:i], strings.Join(attrsUnder(name[:i+1]), ", "))
	} else if i > 0 && sameLeaf(name) != "" {
		// time.hour, user.country: a namespace bespoke does not have, and
		// an attribute it has under another.
		e.WithHint("there is no %s.; did you mean %q?", name[:i], sameLeaf(name))
	} else if i < 0 && sameLeaf(name) != "" {
		// city, country, hour: an attribute's name without its namespace.
		e.WithHint("did you mean %q?", sameLeaf(name))
	} else {
		e.WithHint("attributes are: %s", strings.Join(plugin.AttrNames(), ", "))
	}
}

// attrsUnder returns the attributes whose names start with prefix.
func attrsUnder(prefix string) []string {
	var out []string
	for _, n := range plugin.AttrNames() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// sameLeaf returns the attribute whose last part is name's, or is
// nearest it, when only one is: visitor.hour for time.hour.
func sameLeaf(name string) string {
	leaf := name[strings.LastIndexByte(name, '.')+1:]
	var leaves []string
	byLeaf := map[string][]string{}
	for _, n := range plugin.AttrNames() {
		l := n[strings.LastIndexByte(n, '.')+1:]
		if byLeaf[l] == nil {
			leaves = append(leaves, l)
		}
		byLeaf[l] = append(byLeaf[l], n)
	}
	if got := byLeaf[leaf]; len(got) == 1 {
		return got[0]
	}
	if near := diag.Nearest(leaf, leaves); near != "" && len(byLeaf[near]) == 1 {
		return byLeaf[near][0]
	}
	return ""
}

func isAttrRef(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.Call:
		return e.Fun.Name != "variant" && e.Fun.Name != "geo.within" && e.Fun.Name != "seen"
	case *syntax.Ident:
		a, ok := plugin.LookupAttr(e.Name)
		return ok && !a.Internal
	}
	return false
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
