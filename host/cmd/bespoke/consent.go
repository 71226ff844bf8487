package main

import (
	"flag"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/escape"
)

// consentFlags are the proxy's consent settings (seen.consent_cookie,
// seen.consent_deny), for test and explain: without them a visitor whose
// consent cookie declines was decided as one who consents, where the
// proxy and the preview keep nothing of their views.
type consentFlags struct {
	cookie string
	deny   multiFlag
}

func (c *consentFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.cookie, "consent-cookie", "", "the proxy's consent `cookie` (seen.consent_cookie): a visitor whose cookie of that name holds a --consent-deny value declines tracking, as with Sec-GPC: 1")
	fs.Var(&c.deny, "consent-deny", "a `value` of --consent-cookie that declines tracking (seen.consent_deny; repeatable)")
}

// check says what is wrong with the options, as the configuration file's
// check says it of the same settings.
func (c *consentFlags) check() error {
	switch {
	case c.cookie != "" && !escape.ValidToken(c.cookie):
		return usagef("--consent-cookie %q: not a cookie name (letters, digits and !#$%%&'*+-.^_`|~)", c.cookie)
	case c.cookie != "" && len(c.deny) == 0:
		return usagef("--consent-cookie is given without --consent-deny, the values of it that decline tracking: add them (--consent-deny denied)")
	case c.cookie == "" && len(c.deny) > 0:
		return usagef("--consent-deny is given without --consent-cookie, the cookie that holds it: add it (--consent-cookie cookie_consent)")
	}
	for _, v := range c.deny {
		// As net/http reads a cookie's value: printable ASCII but for
		// " ; and \, which no value read can hold.
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == ';' || r == '\\' }) {
			return usagef("--consent-deny %q: no value a cookie holds (printable ASCII, without \" ; or \\)", v)
		}
	}
	return nil
}
