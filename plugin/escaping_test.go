package plugin

import (
	"strings"
	"testing"
)

// TestValidateRefusesUnsafeActions: a manifest that did not come from
// the checker (a hand-written guest, or an old compiler) is refused when
// an action puts a value of the request where no escaping makes it
// safe.
func TestValidateRefusesUnsafeActions(t *testing.T) {
	value := Template{{Slot: 0}}
	tests := []struct {
		a    Action
		want string // "" when the manifest is valid
	}{
		{Action{Op: OpSetAttr, Select: 0, Name: "data-x", Value: value}, ""},
		{Action{Op: OpSetAttr, Select: 0, Name: "onclick", Value: value}, "cannot go in onclick"},
		{Action{Op: OpSetAttr, Select: 0, Name: "href", Value: value}, "the URL in href starts with {{ }}"},
		{Action{Op: OpSetAttr, Select: 0, Name: "href", Value: value, Schemes: []string{"https"}}, ""},
		{Action{Op: OpSetAttr, Select: 0, Name: "href", Value: value, Schemes: []string{"javascript"}}, "is not a scheme a value may choose"},
		{Action{Op: OpSetAttr, Select: 0, Name: "href", Value: Template{{Text: "/p/", Slot: -1}, {Slot: 0}}}, ""},
		{Action{Op: OpAppend, Select: 0, HTML: true, Content: Template{{Text: "<script>", Slot: -1}, {Slot: 0}, {Text: "</script>", Slot: -1}}}, "inside <script> would be code"},
		{Action{Op: OpAppend, Select: 0, Content: value}, ""},
		{Action{Op: OpAppend, Select: 0, Content: value, Schemes: []string{"https"}}, "schemes apply to URLs"},
		{Action{Op: OpRedirect, Select: -1, Status: 302, Value: Template{{Text: `/\`, Slot: -1}, {Slot: 0}}}, "the URL starts with two slashes"},
		{Action{Op: OpRedirect, Select: -1, Status: 302, Value: Template{{Text: "/p/", Slot: -1}, {Slot: 0}}}, ""},
		{Action{Op: OpRedirect, Select: -1, Value: Template{{Text: "/p", Slot: -1}}}, "redirect status 0 is not a redirect"},
		{Action{Op: OpRedirect, Select: -1, Status: 200, Value: Template{{Text: "/p", Slot: -1}}}, "redirect status 200 is not a redirect"},
		{Action{Op: OpSetHeader, Select: -1, Name: "Refresh", Value: value}, "cannot go in the Refresh header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "refresh", Value: value}, "cannot go in the Refresh header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "access-control-max-age", Value: value}, "cannot go in the Access-Control-Max-Age header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "refresh", Value: value, On: "request"}, ""},
		{Action{Op: OpSetHeader, Select: -1, Name: "X-City", Value: value}, ""},
		{Action{Op: OpSetHeader, Select: -1, Name: "Set-Cookie", Value: Template{{Text: "a=b", Slot: -1}}}, "rules cannot set the Set-Cookie header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "content-length", Value: Template{{Text: "1", Slot: -1}}}, "rules cannot set the Content-Length header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "host", Value: value, On: "request"}, "rules cannot set the Host header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "proxy-connection", Value: Template{{Text: "keep-alive", Slot: -1}}}, "rules cannot set the Proxy-Connection header"},
		{Action{Op: OpSetHeader, Select: -1, Name: "Set-Cookie  ", Value: value}, `"Set-Cookie  " is not a header name`},
		{Action{Op: OpSetHeader, Select: -1, Name: "X-A:b", Value: value}, "is not a header name"},
		{Action{Op: OpSetHeader, Select: -1, Name: "", Value: value}, "is not a header name"},
		{Action{Op: OpSetCookie, Select: -1, Name: "bsk_vid", Value: value}, "cookie names starting with bsk_ belong to bespoke"},
		{Action{Op: OpSetCookie, Select: -1, Name: "a=b", Value: value}, "is not a cookie name"},
		{Action{Op: OpSetCookie, Select: -1, Name: "plan", Value: value}, ""},
		{Action{Op: OpJSONSet, Select: -1, Path: "a", JSON: true, Value: value}, "raw JSON cannot interpolate values"},
		{Action{Op: OpJSONSet, Select: -1, Path: "a", JSON: true, Value: Template{{Text: `{"a":`, Slot: -1}}}, "is not valid JSON"},
		{Action{Op: OpJSONSet, Select: -1, Path: "a", JSON: true, Value: Template{{Text: `{"a":1}`, Slot: -1}}}, ""},
		{Action{Op: OpJSONSet, Select: -1, Path: "a", Value: value}, ""},
		{Action{Op: OpAppend, Select: 0, HTML: true, Content: Template{{Text: "<script>", Slot: -1}}}, "<script>"},
		{Action{Op: OpAppend, Select: 0, HTML: true, Content: Template{{Text: `<b title="`, Slot: -1}}}, "quote"},
		{Action{Op: OpAppend, Select: 0, HTML: true, Content: Template{{Text: "<b>", Slot: -1}, {Slot: 0}, {Text: "</b>", Slot: -1}}}, ""},
	}
	for _, tt := range tests {
		m := Manifest{ABI: ABIVersion, Selectors: []string{"a"}, Slots: []Slot{{Attr: "query", Arg: "u"}}, Rules: []Rule{{Name: "r", Actions: []Action{tt.a}}}}
		m.Layout = NewLayout(len(m.Slots), len(m.Rules), 0, 0)
		err := m.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %s: %v", tt.a.Op, tt.a.Name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s %s: %v, want %q", tt.a.Op, tt.a.Name, err, tt.want)
		}
	}
}
