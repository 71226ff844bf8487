// Package rulegen writes synthetic rule files of a given size, for the
// benchmarks and scale tests that show how compile time and decide time
// grow with the number of rules, and random programs in IR with random
// contexts, for the tests that hold the compiled module to the reference
// evaluator.
package rulegen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

var (
	countries = []string{"FR", "BE", "CH", "DE", "US", "CA", "GB", "ES", "IT", "NL", "JP", "BR"}
	devices   = []string{"mobile", "tablet", "desktop", "bot"}
	languages = []string{"fr", "de", "en", "es", "it", "nl", "ja"}
	plans     = []string{"free", "pro", "team", "gold", "trial"}
	patterns  = []string{`^/p/[0-9]+$`, `^/(fr|de)/`, `\.html$`, `^/journal/[a-z-]+/?$`, `^newsletter-[0-9]+$`}
)

// Rules returns a rule file of n rules, the same for the same n and seed.
// The rules are varied the way a real site's are: conditions on the
// country, device, cookies, query, headers, language and path, with every
// operator and a few regular expressions, some through named segments;
// actions edit elements, interpolate context values, set headers and hide
// seen items.
func Rules(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	list := func(xs []string, k int) string {
		var out []string
		for _, i := range r.Perm(len(xs))[:k] {
			out = append(out, `"`+xs[i]+`"`)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("version: 1\nsegments:\n")
	b.WriteString("  eu: geo.country in [\"FR\", \"BE\", \"DE\", \"ES\", \"IT\", \"NL\"]\n")
	b.WriteString("  phone: device.type == \"mobile\"\n")
	b.WriteString("  paying: cookie(\"plan\") in [\"pro\", \"team\", \"gold\"]\n")
	b.WriteString("rules:\n")
	for i := range n {
		var conds []string
		for range 1 + r.IntN(3) {
			var c string
			switch r.IntN(12) {
			case 0:
				c = "geo.country == \"" + pick(countries) + "\""
			case 1:
				c = "geo.country in " + list(countries, 3)
			case 2:
				c = "device.type == \"" + pick(devices) + "\""
			case 3:
				c = "cookie(\"plan\") == \"" + pick(plans) + "\""
			case 4:
				c = fmt.Sprintf("cookie(\"cart\") >= %d", r.IntN(10))
			case 5:
				c = fmt.Sprintf("query(\"ref\") starts_with \"camp-%d\"", r.IntN(50))
			case 6:
				c = "path matches \"" + pick(patterns) + "\""
			case 7:
				c = "language == \"" + pick(languages) + "\""
			case 8:
				c = fmt.Sprintf("header(\"X-Tier\") contains \"t%d\"", r.IntN(20))
			case 9:
				c = pick([]string{"eu", "phone", "paying", "not phone", "eu and not paying"})
			case 10:
				c = fmt.Sprintf("path starts_with \"/c/%d/\"", r.IntN(100))
			default:
				c = "cookie(\"seg\") exists"
			}
			conds = append(conds, c)
		}
		op := " and "
		if r.IntN(4) == 0 {
			op = " or "
		}
		fmt.Fprintf(&b, "  - name: rule-%d\n    when: '%s'\n    actions:\n", i, strings.ReplaceAll(strings.Join(conds, op), "'", "''"))
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "      - set_inner: { select: \"#slot-%d h2\", text: 'Hello {{ geo.city or \"there\" }}' }\n", i)
		case 1:
			fmt.Fprintf(&b, "      - add_class: { select: \"#slot-%d\", class: c%d }\n", i, i)
		case 2:
			fmt.Fprintf(&b, "      - set_attr: { select: \"#slot-%d a\", name: href, value: \"/offers/%d\" }\n", i, i)
		case 3:
			fmt.Fprintf(&b, "      - remove: \"#slot-%d .promo\"\n", i)
		case 4:
			fmt.Fprintf(&b, "      - set_header: { name: X-Rule-%d, value: \"1\" }\n", i)
		default:
			fmt.Fprintf(&b, "      - hide_seen: { select: \"#slot-%d li.card\", id: \"@data-item-id\", keep_at_least: 4 }\n", i)
		}
	}
	return []byte(b.String())
}

// YAMLQuoted writes s as a YAML double-quoted scalar, a value of a rule
// file whatever it holds: JSON's escapes are YAML's.
func YAMLQuoted(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// ExprQuoted writes s as a string literal of a condition.
func ExprQuoted(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
