package seen

import (
	"net/http"
	"strings"
)

// Allowed reports whether seen-state may be written for r. It is false
// when the visitor sends Sec-GPC: 1 (Global Privacy Control), or when
// consentCookie is not empty and a cookie of that name holds one of
// denyValues (compared exactly); it is also false for a nil r, since
// nothing is known of the visitor. An empty consentCookie or nil
// denyValues consult no cookie.
//
// The proxy loads the state either way, so that what is stored is still
// honoured, and skips Save when Allowed is false: nothing new is written
// for a visitor who opted out.
func Allowed(r *http.Request, consentCookie string, denyValues []string) bool {
	if r == nil {
		return false
	}
	for _, v := range r.Header.Values("Sec-GPC") {
		if strings.TrimSpace(v) == "1" {
			return false
		}
	}
	if consentCookie == "" || len(denyValues) == 0 {
		return true
	}
	for _, c := range r.CookiesNamed(consentCookie) {
		for _, d := range denyValues {
			if c.Value == d {
				return false
			}
		}
	}
	return true
}
