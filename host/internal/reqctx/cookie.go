package reqctx

import (
	"net/http"
	"strings"
)

// Cookie returns the value of the first cookie named name in r's Cookie
// headers. It scans the headers without allocating, and skips malformed
// pairs rather than failing on them: a broken cookie from one site must not
// hide the others. Surrounding double quotes are removed.
func Cookie(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		if v, ok := cookieIn(line, name); ok {
			return v, true
		}
	}
	return "", false
}

func cookieIn(line, name string) (string, bool) {
	found, v := false, ""
	eachCookie(line, func(k, val string) bool {
		if k == name {
			found, v = true, val
			return false
		}
		return true
	})
	return v, found
}

// eachCookie calls f with each well-formed name=value pair of a Cookie
// header line, until f returns false.
func eachCookie(line string, f func(name, value string) bool) {
	for line != "" {
		var part string
		if i := strings.IndexByte(line, ';'); i >= 0 {
			part, line = line[:i], line[i+1:]
		} else {
			part, line = line, ""
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			continue
		}
		k, v := trimSpace(part[:eq]), trimSpace(part[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
			if strings.IndexByte(v, '\\') >= 0 {
				v = unquoteCookie(v)
			}
		}
		if k == "" || !validCookieValue(v) {
			continue
		}
		if !f(k, v) {
			return
		}
	}
}

// unquoteCookie undoes the escapes of a quoted cookie value as Python's
// http.cookies, Django and Flask write them: \" and \\ for the character,
// \NNN (three octal digits) for a byte (\054 a comma, \073 a semicolon,
// \303\251 an é). A JSON cookie set by such an application, which
// quotes it whole ("{\"tier\": \"gold\"\054 \"score\": 80}"), read as
// no JSON with its escapes left in.
func unquoteCookie(v string) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 == len(v) {
			b = append(b, c)
			continue
		}
		if i+3 < len(v) && v[i+1] >= '0' && v[i+1] <= '3' && isOctal(v[i+2]) && isOctal(v[i+3]) {
			b = append(b, (v[i+1]-'0')<<6|(v[i+2]-'0')<<3|(v[i+3]-'0'))
			i += 3
			continue
		}
		i++
		b = append(b, v[i])
	}
	return string(b)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// trimSpace trims spaces and tabs; strings.Trim with a cutset builds a set
// on every call.
func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// validCookieValue accepts RFC 6265 cookie-octets, plus the spaces, commas,
// double quotes and backslashes that browsers send (document.cookie lets a
// page store raw JSON, and json(cookie(...)) reads it); control characters
// mark a broken cookie.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
