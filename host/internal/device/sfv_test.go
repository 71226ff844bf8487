package device

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// This file holds a reference reading of Structured Field Values (RFC
// 9651), written from the RFC's parsing algorithms step by step for
// clarity rather than speed, and checked against the httpwg's
// structured-field-tests (testdata/sfv). The Client Hints tests hold
// device's own readers to it.

// sfvDir holds the httpwg's test files (see its README.md).
var sfvDir = filepath.Join("..", "..", "..", "testdata", "sfv")

// sfToken, sfDate and sfDisplay are the bare items JSON has no type for.
type (
	sfToken   string
	sfDate    int64
	sfDisplay string
)

// sfParam is one parameter, in the order the field first named it.
type sfParam struct {
	key string
	val any
}

// sfItem is a bare item (int64, float64, string, sfToken, []byte, bool,
// sfDate, sfDisplay) or an inner list ([]sfItem), with its parameters.
type sfItem struct {
	val    any
	params []sfParam
}

// param returns the value of the parameter key, nil when there is none.
func (it sfItem) param(key string) any {
	for _, p := range it.params {
		if p.key == key {
			return p.val
		}
	}
	return nil
}

var errSF = errors.New("fails RFC 9651 parsing")

// sfParser is RFC 9651 section 4.2's input_string.
type sfParser struct{ s string }

func (p *sfParser) peek() byte {
	if p.s == "" {
		return 0
	}
	return p.s[0]
}

func (p *sfParser) skipSP() { p.s = strings.TrimLeft(p.s, " ") }

func (p *sfParser) skipOWS() { p.s = strings.TrimLeft(p.s, " \t") }

// sfParseField parses the field lines of a header of type "list" or
// "item" (RFC 9651 4.2): the lines are combined with commas, as HTTP
// combines them.
func sfParseField(lines []string, typ string) (any, error) {
	p := &sfParser{strings.Join(lines, ", ")}
	p.skipSP()
	var out any
	var err error
	if typ == "list" {
		out, err = p.list()
	} else {
		out, err = p.item()
	}
	if err != nil {
		return nil, err
	}
	p.skipSP()
	if p.s != "" {
		return nil, errSF
	}
	return out, nil
}

// list is 4.2.1.
func (p *sfParser) list() ([]sfItem, error) {
	members := []sfItem{}
	for p.s != "" {
		m, err := p.itemOrInnerList()
		if err != nil {
			return nil, err
		}
		members = append(members, m)
		p.skipOWS()
		if p.s == "" {
			return members, nil
		}
		if p.s[0] != ',' {
			return nil, errSF
		}
		p.s = p.s[1:]
		p.skipOWS()
		if p.s == "" {
			return nil, errSF
		}
	}
	return members, nil
}

// itemOrInnerList is 4.2.1.1.
func (p *sfParser) itemOrInnerList() (sfItem, error) {
	if p.peek() == '(' {
		return p.innerList()
	}
	return p.item()
}

// innerList is 4.2.1.2.
func (p *sfParser) innerList() (sfItem, error) {
	p.s = p.s[1:]
	inner := []sfItem{}
	for p.s != "" {
		p.skipSP()
		if p.peek() == ')' {
			p.s = p.s[1:]
			params, err := p.params()
			return sfItem{inner, params}, err
		}
		it, err := p.item()
		if err != nil {
			return sfItem{}, err
		}
		inner = append(inner, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return sfItem{}, errSF
		}
	}
	return sfItem{}, errSF
}

// item is 4.2.3.
func (p *sfParser) item() (sfItem, error) {
	v, err := p.bareItem()
	if err != nil {
		return sfItem{}, err
	}
	params, err := p.params()
	return sfItem{v, params}, err
}

// bareItem is 4.2.3.1.
func (p *sfParser) bareItem() (any, error) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '*' || isAlpha(c):
		return p.token()
	case c == ':':
		return p.binary()
	case c == '?':
		return p.boolean()
	case c == '@':
		return p.date()
	case c == '%':
		return p.displayString()
	}
	return nil, errSF
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// params is 4.2.3.2: a repeated key keeps its first place and its last
// value.
func (p *sfParser) params() ([]sfParam, error) {
	params := []sfParam{}
	for p.peek() == ';' {
		p.s = p.s[1:]
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var val any = true
		if p.peek() == '=' {
			p.s = p.s[1:]
			if val, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		found := false
		for i := range params {
			if params[i].key == key {
				params[i].val, found = val, true
			}
		}
		if !found {
			params = append(params, sfParam{key, val})
		}
	}
	return params, nil
}

// key is 4.2.3.3.
func (p *sfParser) key() (string, error) {
	if c := p.peek(); c != '*' && (c < 'a' || c > 'z') {
		return "", errSF
	}
	i := 0
	for i < len(p.s) && (p.s[i] >= 'a' && p.s[i] <= 'z' || isDigit(p.s[i]) || strings.IndexByte("_-.*", p.s[i]) >= 0) {
		i++
	}
	k := p.s[:i]
	p.s = p.s[i:]
	return k, nil
}

// number is 4.2.4.
func (p *sfParser) number() (any, error) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.s = p.s[1:]
	}
	if !isDigit(p.peek()) {
		return nil, errSF
	}
	decimal := false
	var num strings.Builder
	for p.s != "" {
		c := p.s[0]
		if isDigit(c) {
			num.WriteByte(c)
		} else if !decimal && c == '.' {
			if num.Len() > 12 {
				return nil, errSF
			}
			num.WriteByte(c)
			decimal = true
		} else {
			break
		}
		p.s = p.s[1:]
		if !decimal && num.Len() > 15 || decimal && num.Len() > 16 {
			return nil, errSF
		}
	}
	n := num.String()
	if neg {
		n = "-" + n
	}
	if !decimal {
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err
	}
	if strings.HasSuffix(n, ".") || len(n)-strings.IndexByte(n, '.')-1 > 3 {
		return nil, errSF
	}
	return strconv.ParseFloat(n, 64)
}

// str is 4.2.5.
func (p *sfParser) str() (any, error) {
	p.s = p.s[1:]
	var out strings.Builder
	for p.s != "" {
		c := p.s[0]
		p.s = p.s[1:]
		switch {
		case c == '\\':
			if p.s == "" || p.s[0] != '"' && p.s[0] != '\\' {
				return nil, errSF
			}
			out.WriteByte(p.s[0])
			p.s = p.s[1:]
		case c == '"':
			return out.String(), nil
		case c < 0x20 || c > 0x7e:
			return nil, errSF
		default:
			out.WriteByte(c)
		}
	}
	return nil, errSF
}

// token is 4.2.6.
func (p *sfParser) token() (any, error) {
	i := 1
	for i < len(p.s) && (refTchar(p.s[i]) || p.s[i] == ':' || p.s[i] == '/') {
		i++
	}
	t := p.s[:i]
	p.s = p.s[i:]
	return sfToken(t), nil
}

func refTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// binary is 4.2.7. Content without its padding is read, as the RFC
// allows (the tests let a parser refuse it).
func (p *sfParser) binary() (any, error) {
	end := strings.IndexByte(p.s[1:], ':')
	if end < 0 {
		return nil, errSF
	}
	b64 := p.s[1 : 1+end]
	p.s = p.s[2+end:]
	for i := 0; i < len(b64); i++ {
		if c := b64[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return nil, errSF
		}
	}
	if strings.Contains(strings.TrimRight(b64, "="), "=") {
		return nil, errSF
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
	if err != nil {
		return nil, errSF
	}
	return b, nil
}

// boolean is 4.2.8.
func (p *sfParser) boolean() (any, error) {
	if len(p.s) < 2 || p.s[1] != '0' && p.s[1] != '1' {
		return nil, errSF
	}
	b := p.s[1] == '1'
	p.s = p.s[2:]
	return b, nil
}

// date is 4.2.9.
func (p *sfParser) date() (any, error) {
	p.s = p.s[1:]
	n, err := p.number()
	if err != nil {
		return nil, err
	}
	i, ok := n.(int64)
	if !ok {
		return nil, errSF
	}
	return sfDate(i), nil
}

// displayString is 4.2.10.
func (p *sfParser) displayString() (any, error) {
	if len(p.s) < 2 || p.s[1] != '"' {
		return nil, errSF
	}
	p.s = p.s[2:]
	var out []byte
	for p.s != "" {
		c := p.s[0]
		p.s = p.s[1:]
		switch {
		case c < 0x20 || c > 0x7e:
			return nil, errSF
		case c == '%':
			if len(p.s) < 2 || !refLowerHex(p.s[0]) || !refLowerHex(p.s[1]) {
				return nil, errSF
			}
			b, _ := strconv.ParseUint(p.s[:2], 16, 8)
			out = append(out, byte(b))
			p.s = p.s[2:]
		case c == '"':
			if !utf8.Valid(out) {
				return nil, errSF
			}
			return sfDisplay(out), nil
		default:
			out = append(out, c)
		}
	}
	return nil, errSF
}

func refLowerHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' }

// sfJSON is v as the test files write it.
func sfJSON(v any) any {
	switch v := v.(type) {
	case []sfItem:
		out := []any{}
		for _, it := range v {
			out = append(out, sfJSON(it))
		}
		return out
	case sfItem:
		params := []any{}
		for _, p := range v.params {
			params = append(params, []any{p.key, sfJSON(p.val)})
		}
		return []any{sfJSON(v.val), params}
	case int64:
		return float64(v)
	case sfToken:
		return map[string]any{"__type": "token", "value": string(v)}
	case []byte:
		return map[string]any{"__type": "binary", "value": base32.StdEncoding.EncodeToString(v)}
	case sfDate:
		return map[string]any{"__type": "date", "value": float64(v)}
	case sfDisplay:
		return map[string]any{"__type": "displaystring", "value": string(v)}
	}
	return v
}

// sfCase is one test of the httpwg's files.
type sfCase struct {
	File       string
	Name       string   `json:"name"`
	Raw        []string `json:"raw"`
	HeaderType string   `json:"header_type"`
	Expected   any      `json:"expected"`
	MustFail   bool     `json:"must_fail"`
	CanFail    bool     `json:"can_fail"`
}

// loadSFCases reads every list and item test of testdata/sfv.
func loadSFCases(tb testing.TB) []sfCase {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(sfvDir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no test files in %s: %v", sfvDir, err)
	}
	var all []sfCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var cases []sfCase
		if err := json.Unmarshal(b, &cases); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			if c.HeaderType == "list" || c.HeaderType == "item" {
				c.File = filepath.Base(f)
				all = append(all, c)
			}
		}
	}
	return all
}

// TestSFReference holds the reference reading to every list and item
// test of the httpwg's structured-field-tests: a must_fail input fails,
// others parse to their expected value, and a can_fail one may do either.
func TestSFReference(t *testing.T) {
	cases := loadSFCases(t)
	failed := 0
	for _, c := range cases {
		got, err := sfParseField(c.Raw, c.HeaderType)
		switch {
		case c.MustFail:
			if err == nil {
				t.Errorf("%s %q: %q parsed (%v), want a failure", c.File, c.Name, c.Raw, got)
			}
			failed++
		case err != nil:
			if !c.CanFail {
				t.Errorf("%s %q: %q: %v", c.File, c.Name, c.Raw, err)
			}
		case !reflect.DeepEqual(sfJSON(got), c.Expected):
			if !c.CanFail || c.Expected != nil {
				t.Errorf("%s %q: %q = %v, want %v", c.File, c.Name, c.Raw, sfJSON(got), c.Expected)
			}
		}
	}
	if len(cases) < 1000 {
		t.Errorf("only %d list and item cases read", len(cases))
	}
	t.Logf("%d list and item cases, %d of them must fail", len(cases), failed)
}
