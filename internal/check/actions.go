package check

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/jsonpath"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// action checks one action and lowers it to its manifest form.
func (c *checker) action(a *syntax.Action) (plugin.Action, bool) {
	before := len(c.errs)
	act := plugin.Action{Op: a.Op, Pos: plugin.Pos{Line: a.Pos.Line, Col: a.Pos.Col}, Select: -1}
	if plugin.ElementOp(a.Op) {
		act.Select = c.selector(a.Select)
	}
	act.Content = c.template(a.Content)
	act.HTML = a.HTML
	act.Value = c.template(a.Value)
	if a.Name != nil {
		act.Name = a.Name.Value
	}
	switch a.Op {
	case plugin.OpSetAttr, plugin.OpRemoveAttr:
		c.attrName(a)
		act.Name = strings.ToLower(act.Name)
		if a.Op != plugin.OpSetAttr || a.Value == nil {
			break
		}
		if raw, ok := a.Value.Raw(); ok && len(raw) > 0 {
			first, _ := utf8.DecodeRuneInString(raw)
			last, _ := utf8.DecodeLastRuneInString(raw)
			if syntax.IsTypographicQuote(first) && syntax.IsTypographicQuote(last) && (attrKind(act.Name) != escape.Text || act.Name == "class" || act.Name == "id") {
				c.errorf(a.Value.Pos, "the value %s is in typographic quotes, as word processors write them: the quotes would be part of the %s", raw, act.Name).
					WithHint("write the value with straight quotes, or none: value: %s", yamlQuote(strings.TrimFunc(raw, syntax.IsTypographicQuote)))
			}
		}
	case plugin.OpAddClass, plugin.OpRemoveClass:
		raw, literal := a.Value.Raw()
		switch {
		case strings.HasPrefix(a.Name.Value, "."):
			// class=".promo" is a class no selector .promo selects.
			c.errorf(a.Name.Pos, "the class %q is written with a dot: a dot is how a selector names a class, not part of the class", a.Name.Value).
				WithHint("write the class without its dot: class: %s", strings.TrimLeft(a.Name.Value, "."))
		case literal && typographic(raw) >= 0:
			c.errorf(a.Name.Pos, "the class %s is in typographic quotes, as word processors write them: the quotes would be part of the class", raw).
				WithHint("write the class without quotes: class: %s", strings.TrimFunc(raw, syntax.IsTypographicQuote))
		case literal && (raw == "" || strings.ContainsAny(raw, " \t\n\"'<>")):
			c.errorf(a.Name.Pos, "%q is not a class name", raw).WithHint("give one class, without spaces or quotes")
		case !literal:
			for _, p := range a.Value.Parts {
				if p.Value == nil && strings.ContainsAny(p.Text, " \t\n\"'<>") {
					c.errorf(a.Name.Pos, "%q is not a class name", a.Name.Value).WithHint("give one class, without spaces or quotes")
				}
			}
		}
		if literal {
			act.Value = nil
		} else {
			act.Name = ""
		}
	case plugin.OpRedirect:
		act.Status = 302
		if a.Status != 0 {
			act.Status = a.Status
			if !plugin.RedirectStatus(a.Status) {
				c.errorf(a.StatusPos, "redirect status %d is not a redirect", a.Status).WithHint("use 301 or 308 (permanent), 302 or 307 (temporary), or 303")
			}
		}
		c.redirectTarget(a)
	case plugin.OpSetHeader:
		act.On = "response"
		if a.On != nil {
			switch v := strings.ToLower(a.On.Value); v {
			case "request", "response":
				act.On = v
			default:
				c.errorf(a.On.Pos, "`on` is %q; expected request or response", a.On.Value).WithHint("%s", diag.DidYouMean(a.On.Value, []string{"request", "response"}))
			}
		}
		c.headerName(a.Name, act.On == "request")
		act.Name = http.CanonicalHeaderKey(act.Name)
		c.headerText(a.Value)
	case plugin.OpLimit:
		if a.N < 1 {
			c.errorf(a.NPos, "limit keeps at least 1 item, not %d", a.N).WithHint("to hide them all, use remove")
		}
		act.N = a.N
	case plugin.OpHideSeen, plugin.OpReorder:
		act.IDAttr = c.idAttr(a)
		if a.N < 0 {
			c.errorf(a.NPos, "keep_at_least cannot be negative")
		}
		act.N = a.N
		c.seenOptions(a, &act)
		if a.Op == plugin.OpReorder {
			act.Order = c.order(a.Order)
		}
	case plugin.OpJSONSet, plugin.OpJSONRemove, plugin.OpJSONHideSeen, plugin.OpJSONLimit, plugin.OpJSONReorder:
		c.jsonAction(a, &act)
	case plugin.OpMarkSeen:
		act.Item = c.template(a.Item)
		if len(act.Item) == 0 {
			c.errorf(a.Pos, "mark_seen needs an item id").WithHint("write mark_seen: promo-summer")
		}
	case plugin.OpSetCookie:
		c.cookieName(a.Name)
		if a.MaxAge < 0 {
			c.errorf(a.Pos, "max_age cannot be negative")
		}
		if a.MaxAgePos.Line > 0 && a.MaxAge >= 0 && a.MaxAge < time.Second {
			// Written as no Max-Age at all, which is not what an editor
			// who writes 0s to take a cookie away means.
			c.errorf(a.MaxAgePos, "max_age: %s would not remove the cookie: a cookie without a lifetime is a session cookie, which the browser keeps until it closes", a.MaxAge).
				WithHint("leave max_age out for a session cookie, or give it a lifetime: max_age: 30m")
		}
		if a.MaxAge > maxCookieLife {
			c.warnf(a.MaxAgePos, "max_age is longer than a browser keeps a cookie (400 days): browsers cut it to 400 days").
				WithHint("write max_age: 400d or less").WithCode("cookie-life-too-long")
		}
		act.MaxAge = int(a.MaxAge.Seconds())
		act.HTTPOnly = a.HTTPOnly
	}
	act.Schemes = a.Schemes
	if len(c.errs) == before {
		c.escaping(a, &act)
	}
	if len(c.errs) == before && a.HTML && a.Content != nil {
		c.typographicMarkup(a.Content)
	}
	if len(c.errs) == before && a.HTML {
		c.fragment(a, &act)
	}
	return act, len(c.errs) == before
}

// escaping reports, with its position, where an action would put a
// value of the request where no escaping makes it safe: the checks the
// host also makes on every manifest (plugin.CheckAction), and those
// that need the selector: a value becoming the address of a script,
// style sheet or base, an attribute that decides whether a <script> or
// <style> runs (escape.TagAttrCode), the content of a <meta http-equiv>,
// or the text of a <script> or <style>.
func (c *checker) escaping(a *syntax.Action, act *plugin.Action) {
	if a.Schemes != nil && len(a.Schemes) == 0 {
		c.errorf(a.SchemesPos, "schemes is empty").WithHint("list the schemes a value may choose: schemes: [https, relative]")
		return
	}
	if prob := plugin.CheckAction(act); prob != nil {
		t := a.Value
		if plugin.ElementOp(a.Op) && a.Op != plugin.OpSetAttr {
			t = a.Content
		}
		pos := a.Pos
		switch {
		case prob.Name && a.Name != nil:
			pos = a.Name.Pos
		case prob.Piece < 0 && a.Schemes != nil:
			pos = a.SchemesPos
		case t != nil && prob.Piece >= 0 && prob.Piece < len(t.Parts):
			pos = t.Parts[prob.Piece].Pos
		case t != nil:
			pos = t.Pos
		}
		e := c.errorf(pos, "%s", prob.Msg)
		if prob.Hint != "" {
			e.WithHint("%s", prob.Hint)
		}
		return
	}
	if act.Select < 0 || a.Select == nil {
		return
	}
	var values *syntax.Template
	switch a.Op {
	case plugin.OpSetAttr:
		values = a.Value
	case plugin.OpSetInner, plugin.OpPrepend, plugin.OpAppend:
		values = a.Content
	default:
		return
	}
	var value *syntax.TemplatePart
	for i := range values.Parts {
		if values.Parts[i].Value != nil {
			value = &values.Parts[i]
			break
		}
	}
	if value == nil {
		return
	}
	list, err := selector.Parse(strings.TrimSpace(a.Select.Value))
	if err != nil {
		return
	}
	for _, cx := range list {
		target := cx.Compounds[len(cx.Compounds)-1]
		switch {
		case a.Op != plugin.OpSetAttr && escape.RawTextCode(target.Type):
			c.errorf(value.Pos, "a value from the request inside <%s> would be code", target.Type).
				WithHint("put the value in a data- attribute and read it from the script")
			return
		case a.Op == plugin.OpSetAttr && escape.TagAttrCode(target.Type, act.Name) != "":
			c.errorf(value.Pos, "a value from the request in the %s of <%s>: %s", act.Name, strings.ToLower(target.Type), escape.TagAttrCode(target.Type, act.Name)).
				WithHint("write the value out")
			return
		case a.Op == plugin.OpSetAttr && escape.MetaContent(target.Type, act.Name) && referrerMeta(target):
			c.errorf(value.Pos, "a value from the request in the content of <meta name=\"referrer\">, the page's referrer policy: a value could send the page's whole address, query included, to other sites").
				WithHint("write the policy out, such as content: strict-origin-when-cross-origin")
			return
		case a.Op == plugin.OpSetAttr && escape.MetaContent(target.Type, act.Name) && !namedMeta(target):
			c.errorf(value.Pos, "a value from the request in the content of a <meta>, which with http-equiv acts as a header such as refresh").
				WithHint(`select the <meta> by its name or property: meta[name="description"], meta[property="og:title"]`)
			return
		}
	}
}

// fragment reports, where it is, markup in an action's html that would
// change how a browser reads the page around it (plugin.CheckMarkup,
// which the host also checks): a tag or comment it does not finish, an
// element it leaves open, an end tag of one it did not open. Values
// from the request stand as text (the escaping checks put them only in
// text and quoted values).
func (c *checker) fragment(a *syntax.Action, act *plugin.Action) {
	t := a.Content
	if t == nil {
		return
	}
	sel := ""
	if a.Select != nil {
		sel = a.Select.Value
	}
	prob, part, off := plugin.CheckMarkup(act, sel)
	if prob == nil {
		return
	}
	pos := t.Pos
	if part < len(t.Parts) {
		p := t.Parts[part]
		pos = p.Pos
		if p.Value == nil && t.At != nil {
			pos = t.At(p.Off + off)
		}
	}
	c.errorf(pos, "%s", prob.Msg).WithHint("%s", prob.Hint)
}

// attrKind is escape.AttrKind without the why.
func attrKind(name string) escape.Kind {
	k, _ := escape.AttrKind(name)
	return k
}

// typographic returns the offset in s of its first typographic quote,
// or -1.
func typographic(s string) int {
	return strings.IndexFunc(s, syntax.IsTypographicQuote)
}

// typographicMarkup reports an attribute value in the html t, written
// unquoted, that starts with a typographic quote (<div class=“banner”>):
// browsers keep such quotes as part of the value.
func (c *checker) typographicMarkup(t *syntax.Template) {
	var b strings.Builder
	starts := make([]int, len(t.Parts))
	for i, p := range t.Parts {
		starts[i] = b.Len()
		if p.Value != nil {
			b.WriteString("x")
		} else {
			b.WriteString(p.Text)
		}
	}
	src := b.String()
	if typographic(src) < 0 {
		return
	}
	z := html.NewTokenizer(strings.NewReader(src))
	for off := 0; ; {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		raw := string(z.Raw())
		start := off
		off += len(raw)
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		_, more := z.TagName()
		for more {
			var key, val []byte
			key, val, more = z.TagAttr()
			r, _ := utf8.DecodeRune(val)
			if !syntax.IsTypographicQuote(r) {
				continue
			}
			i := strings.Index(raw, string(val))
			if i <= 0 || raw[i-1] == '"' || raw[i-1] == '\'' {
				continue // quoted: the typographic quotes are the text's
			}
			at := start + i
			pos := t.Pos
			for i := len(t.Parts) - 1; i >= 0; i-- {
				if starts[i] <= at {
					if p := t.Parts[i]; p.Value == nil && t.At != nil {
						pos = t.At(p.Off + at - starts[i])
					} else {
						pos = p.Pos
					}
					break
				}
			}
			v := strings.TrimFunc(string(val), syntax.IsTypographicQuote)
			c.errorf(pos, "the value of %s is in typographic quotes, as word processors write them: browsers keep them as part of the value", key).
				WithHint("quote it with straight quotes: %s=\"%s\"", key, v)
			return
		}
	}
}

// headerText warns of a character outside ASCII in the literal text of
// a header value (a default included): a header value is bytes, which
// browsers and their fetch() read as Latin-1, one character a byte, so
// "Café" arrives as "CafÃ©".
func (c *checker) headerText(t *syntax.Template) {
	if t == nil {
		return
	}
	for _, p := range t.Parts {
		for _, s := range []string{p.Text, p.Default} {
			i := strings.IndexFunc(s, func(r rune) bool { return r >= utf8.RuneSelf })
			if i < 0 {
				continue
			}
			pos := p.Pos
			if p.Value == nil && t.At != nil {
				pos = t.At(p.Off + i)
			}
			r, _ := utf8.DecodeRuneInString(s[i:])
			c.warnf(pos, "%q is not ASCII: a header value is bytes, which browsers and most servers read one character a byte (Latin-1), so what reads the header gets other characters", r).
				WithCode("header-not-ascii").
				WithHint("write the value in ASCII, or percent-encode it (Caf%%C3%%A9) and decode it where it is read")
			return
		}
	}
}

// namedMeta reports whether a compound selects <meta> elements by their
// name, property or itemprop, which carry metadata rather than
// http-equiv headers. (A page's <meta> with both is refused at run time
// by the rewriter.)
// referrerMeta reports whether the compound selects a <meta> by the
// name "referrer", whose content is the page's referrer policy.
func referrerMeta(cp selector.Compound) bool {
	for _, at := range cp.Attrs {
		if at.Name == "name" && at.Op == selector.Equals && strings.EqualFold(at.Value, "referrer") {
			return true
		}
	}
	return false
}

func namedMeta(cp selector.Compound) bool {
	for _, at := range cp.Attrs {
		switch at.Name {
		case "name", "property", "itemprop":
			return true
		}
	}
	return false
}

// jsonAction checks the fields of a json_* action.
func (c *checker) jsonAction(a *syntax.Action, act *plugin.Action) {
	act.Path = strings.TrimSpace(a.Path.Value)
	if act.Path == "" {
		c.errorf(a.Path.Pos, "the JSON path is empty").WithHint("write path: items, or path: data.banner.title")
	}
	c.jsonPath(a.Path, "JSON")
	if act.Path == jsonpath.This && a.Op == plugin.OpJSONRemove {
		pos := a.Path.Pos
		if a.Path.Map != nil {
			pos = a.Path.Map(strings.Index(a.Path.Value, act.Path))
		}
		c.errorf(pos, "json_remove cannot remove the whole document").WithHint("json_set: { path: \"@this\", json: ... } replaces it")
	}
	switch a.Op {
	case plugin.OpJSONSet:
		act.JSON = a.JSON
		if a.JSON && a.Value != nil {
			if prob := escape.CheckRawJSON(act.Value.Pieces()); prob != nil {
				c.problem(a.Value.Pos, prob)
			}
		}
	case plugin.OpJSONLimit:
		if a.N < 0 {
			c.errorf(a.NPos, "n cannot be negative")
		}
		act.N = a.N
	case plugin.OpJSONHideSeen, plugin.OpJSONReorder:
		act.IDAttr = strings.TrimSpace(a.ID.Value)
		if act.IDAttr == "" {
			c.errorf(a.ID.Pos, "the id path is empty").WithHint("write id: id, the path of each element's id")
		}
		if a.N < 0 {
			c.errorf(a.NPos, "keep_at_least cannot be negative")
		}
		act.N = a.N
		c.seenOptions(a, act)
		c.jsonPath(a.ID, "id")
		if a.Op == plugin.OpJSONReorder {
			act.Order = c.order(a.Order)
		}
	}
}

// jsonPath refuses a JSON path that names no place an edit can change,
// at the offending character.
func (c *checker) jsonPath(t *syntax.Text, field string) {
	p := strings.TrimSpace(t.Value)
	if p == "" {
		return // reported as empty
	}
	if _, err := jsonpath.Parse(p); err != nil {
		pos, msg := t.Pos, err.Error()
		var pe *jsonpath.Error
		if errors.As(err, &pe) && t.Map != nil {
			pos = t.Map(strings.Index(t.Value, p) + pe.Offset)
			msg = pe.Msg
		}
		c.errorf(pos, "the %s path %q can never be edited: %s", field, p, msg)
		return
	}
	if g, kind := gjsonForm(p); g != "" {
		pos := t.Pos
		if t.Map != nil {
			pos = t.Map(strings.Index(t.Value, p))
		}
		c.warnf(pos, "the %s path %q is written as %s: bespoke's paths are gjson's, which read it otherwise, so it most likely names nothing in the response", field, p, kind).
			WithHint("write %s: %s", map[string]string{"JSON": "path", "id": "id"}[field], g).WithCode("json-path-form")
	}
}

// gjsonForm returns the gjson form of a path written in another path
// language (JSONPath's $.items[0].title, JavaScript's items[0],
// items["title"], a JSON Pointer's /items/0/title), and that language;
// "" when p reads as none of them. gjson reads each as one key.
func gjsonForm(p string) (form, kind string) {
	if strings.ContainsAny(p, `\#*?|`) {
		return "", "" // escapes, queries, wildcards: gjson's own
	}
	switch {
	case strings.HasPrefix(p, "/") && len(p) > 1:
		kind, p = "a JSON Pointer", strings.ReplaceAll(p[1:], "/", ".")
	case p == "$" || strings.HasPrefix(p, "$.") || strings.HasPrefix(p, "$["):
		kind, p = "JSONPath", p[1:]
	}
	if i := strings.IndexByte(p, '['); i >= 0 && (i > 0 || kind != "") {
		if kind == "" {
			kind = "JavaScript"
		}
		var b strings.Builder
		for p != "" {
			i := strings.IndexByte(p, '[')
			if i < 0 {
				b.WriteString(p)
				break
			}
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return "", ""
			}
			key := strings.Trim(p[i+1:i+j], `"'`)
			if key == "" || strings.ContainsAny(key, ".[]") {
				return "", ""
			}
			b.WriteString(p[:i])
			b.WriteByte('.')
			b.WriteString(key)
			p = p[i+j+1:]
		}
		p = b.String()
	}
	if kind == "" {
		return "", ""
	}
	p = strings.TrimPrefix(p, ".")
	if p == "" {
		p = jsonpath.This
	}
	return p, kind
}

// seenOptions checks hide_seen's demote and mark.
func (c *checker) seenOptions(a *syntax.Action, act *plugin.Action) {
	act.NoMark, act.Demote = a.NoMark, a.Demote
	if a.MarkFirstPos.Line > 0 {
		if a.MarkFirst < 1 {
			c.errorf(a.MarkFirstPos, "mark.first records the first N items shown; N must be 1 or more, not %d", a.MarkFirst).WithHint("to record none, write mark: false")
		}
		act.MarkFirst = a.MarkFirst
	}
	if a.Demote && a.N > 0 {
		c.errorf(a.NPos, "keep_at_least does nothing with demote: demote hides no item").WithHint("to show a fixed number, follow with limit (or json_limit)")
	}
}

// idAttr reads the attribute holding item ids: "@data-item-id" or
// "data-item-id".
func (c *checker) idAttr(a *syntax.Action) string {
	n := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(a.ID.Value), "@"))
	if n == "" || strings.ContainsAny(n, " \t\n\"'<>/=") {
		c.errorf(a.ID.Pos, "%q is not an attribute", a.ID.Value).WithHint(`write id: "@data-item-id"`)
	}
	return n
}

// order joins reorder's ids into one template of comma-separated ids.
func (c *checker) order(ts []*syntax.Template) plugin.Template {
	var out plugin.Template
	for i, t := range ts {
		if i > 0 {
			out = append(out, plugin.Part{Text: ",", Slot: -1})
		}
		out = append(out, c.template(t)...)
	}
	return out
}

// attrName rejects attribute names HTML cannot hold. (Which values an
// attribute may take is escaping's.)
func (c *checker) attrName(a *syntax.Action) {
	n := a.Name.Value
	if n == "" || strings.ContainsAny(n, " \t\n\f\r\"'<>/=`\x00") {
		c.errorf(a.Name.Pos, "%q is not an attribute name", n)
	}
}

// headerName reports, at the name, a header a rule cannot set
// (escape.CheckHeaderName, which the host also checks).
func (c *checker) headerName(t *syntax.Text, request bool) {
	if prob := escape.CheckHeaderName(t.Value, request); prob != nil {
		c.problem(t.Pos, prob)
	}
}

// cookieName reports, at the name, a cookie a rule cannot set
// (escape.CheckCookieName, which the host also checks).
func (c *checker) cookieName(t *syntax.Text) {
	if prob := escape.CheckCookieName(t.Value); prob != nil {
		c.problem(t.Pos, prob)
	}
}

// problem reports prob at pos, with its hint.
func (c *checker) problem(pos diag.Pos, prob *escape.Problem) {
	e := c.errorf(pos, "%s", prob.Msg)
	if prob.Hint != "" {
		e.WithHint("%s", prob.Hint)
	}
}

// redirectTarget requires the target to start with a literal path or
// absolute http(s) URL, so interpolated visitor values can never choose
// where a visitor is sent.
func (c *checker) redirectTarget(a *syntax.Action) {
	t := a.Value
	if t == nil {
		return
	}
	lead := ""
	if len(t.Parts) > 0 && t.Parts[0].Value == nil {
		lead = t.Parts[0].Text
	} else if a.Schemes != nil {
		return // the target's value chooses among the schemes (escaping)
	}
	switch {
	case strings.HasPrefix(lead, "//"):
		c.errorf(t.Pos, "redirect target %q is protocol-relative", lead).WithHint("write https://host/... or a /path")
	case strings.HasPrefix(lead, "/"):
	case strings.HasPrefix(lead, "https://") || strings.HasPrefix(lead, "http://"):
		rest := lead[strings.Index(lead, "//")+2:]
		if _, literal := t.Raw(); !strings.Contains(rest, "/") && !literal {
			c.errorf(t.Pos, "the host of a redirect target must be written out, not interpolated").WithHint("write https://example.com/{{ ... }}")
		}
	default:
		c.errorf(t.Pos, "redirect target must start with / or https://").WithHint(`for example to: "/fr/"`)
	}
}
