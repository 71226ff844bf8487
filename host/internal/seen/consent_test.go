package seen

import (
	"net/http"
	"testing"
)

func TestAllowed(t *testing.T) {
	deny := []string{"denied", "0"}
	tests := []struct {
		name    string
		headers map[string][]string
		cookie  string
		deny    []string
		want    bool
	}{
		{"nothing said", nil, "consent", deny, true},
		{"GPC", map[string][]string{"Sec-Gpc": {"1"}}, "consent", deny, false},
		{"GPC without a consent cookie configured", map[string][]string{"Sec-Gpc": {"1"}}, "", nil, false},
		{"GPC with spaces", map[string][]string{"Sec-Gpc": {" 1 "}}, "", nil, false},
		{"GPC 0", map[string][]string{"Sec-Gpc": {"0"}}, "consent", deny, true},
		{"GPC other value", map[string][]string{"Sec-Gpc": {"yes"}}, "consent", deny, true},
		{"consent denied", map[string][]string{"Cookie": {"a=b; consent=denied"}}, "consent", deny, false},
		{"consent second deny value", map[string][]string{"Cookie": {"consent=0"}}, "consent", deny, false},
		{"consent given", map[string][]string{"Cookie": {"consent=granted"}}, "consent", deny, true},
		{"deny value is exact", map[string][]string{"Cookie": {"consent=DENIED"}}, "consent", deny, true},
		{"deny in another cookie", map[string][]string{"Cookie": {"other=denied"}}, "consent", deny, true},
		{"one of two consent cookies denies", map[string][]string{"Cookie": {"consent=granted; consent=denied"}}, "consent", deny, false},
		{"no consent cookie configured", map[string][]string{"Cookie": {"consent=denied"}}, "", deny, true},
		{"no deny values", map[string][]string{"Cookie": {"consent=denied"}}, "consent", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			for k, v := range tt.headers {
				r.Header[k] = v
			}
			if got := Allowed(r, tt.cookie, tt.deny); got != tt.want {
				t.Errorf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
	if Allowed(nil, "", nil) {
		t.Error("Allowed(nil) = true")
	}
}
