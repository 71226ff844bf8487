package plugin

import "testing"

// TestPathCondHolds: a path condition holds where the path satisfies
// it, and wherever it cannot tell (an operation it does not know, a
// pattern with no matcher), even under a not, which would otherwise
// exclude paths its rule may apply to.
func TestPathCondHolds(t *testing.T) {
	in := func(args ...string) *PathCond { return &PathCond{Op: "in", Args: args} }
	op := func(o string, x ...*PathCond) *PathCond { return &PathCond{Op: o, X: x} }
	re := func(s string) bool { return s == "/p/1" }
	match := func(i int, s string) bool { return i == 0 && re(s) }
	tests := []struct {
		name  string
		c     *PathCond
		path  string
		match func(int, string) bool
		want  bool
	}{
		{"nil", nil, "/x", nil, true},
		{"in", in("/a", "/b"), "/b", nil, true},
		{"not in", in("/a", "/b"), "/c", nil, false},
		{"starts_with", &PathCond{Op: "starts_with", Args: []string{"/shop/"}}, "/shop/t", nil, true},
		{"starts_with, other", &PathCond{Op: "starts_with", Args: []string{"/shop/"}}, "/shop", nil, false},
		{"ends_with", &PathCond{Op: "ends_with", Args: []string{".json"}}, "/a.json", nil, true},
		{"contains", &PathCond{Op: "contains", Args: []string{"sale"}}, "/x/sale/y", nil, true},
		{"false", &PathCond{Op: "false"}, "/", nil, false},
		{"and", op("and", in("/a"), &PathCond{Op: "starts_with", Args: []string{"/"}}), "/a", nil, true},
		{"and, one fails", op("and", in("/a"), in("/b")), "/a", nil, false},
		{"or", op("or", in("/a"), in("/b")), "/b", nil, true},
		{"or, none", op("or", in("/a"), in("/b")), "/c", nil, false},
		{"not", op("not", in("/a")), "/a", nil, false},
		{"not, other", op("not", in("/a")), "/b", nil, true},
		{"matches", &PathCond{Op: "matches"}, "/p/1", match, true},
		{"matches, no", &PathCond{Op: "matches"}, "/p/2", match, false},
		{"matches, no matcher", &PathCond{Op: "matches"}, "/p/2", nil, true},
		{"not matches, no matcher", op("not", &PathCond{Op: "matches"}), "/p/2", nil, true},
		{"unknown op", &PathCond{Op: "glob"}, "/x", nil, true},
		{"not unknown op", op("not", &PathCond{Op: "glob"}), "/x", nil, true},
		{"not of an and with an unknown", op("not", op("and", in("/x"), &PathCond{Op: "glob"})), "/x", nil, true},
		{"not of an and known false", op("not", op("and", in("/y"), &PathCond{Op: "glob"})), "/x", nil, true},
		{"and of a known false and an unknown", op("and", in("/y"), &PathCond{Op: "glob"}), "/x", nil, false},
		{"or of a known true and an unknown", op("or", in("/x"), &PathCond{Op: "glob"}), "/x", nil, true},
		{"not of an or known true", op("not", op("or", in("/x"), &PathCond{Op: "glob"})), "/x", nil, false},
		{"not with two operands", op("not", in("/x"), in("/y")), "/x", nil, true},
	}
	for _, tt := range tests {
		if got := tt.c.Holds(tt.path, tt.match); got != tt.want {
			t.Errorf("%s: Holds(%q) = %v, want %v", tt.name, tt.path, got, tt.want)
		}
	}
}
