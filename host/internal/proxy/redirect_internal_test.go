package proxy

import (
	"net/url"
	"testing"
)

// TestOriginRelative: a Location on the origin itself becomes a path on
// the proxy's site; any other stays as it is.
func TestOriginRelative(t *testing.T) {
	for _, c := range []struct {
		origin, loc, want string // want "" when it stays
	}{
		{"http://127.0.0.1:19001", "http://127.0.0.1:19001/target", "/target"},
		{"http://127.0.0.1:19001", "http://127.0.0.1:19001/a/b?x=1&y=%2F#top", "/a/b?x=1&y=%2F#top"},
		{"http://127.0.0.1:19001", "http://127.0.0.1:19001", "/"},
		{"http://origin.internal", "http://ORIGIN.internal:80/x", "/x"},
		{"https://origin.internal", "https://origin.internal:443/x", "/x"},
		{"http://origin.internal", "https://origin.internal/x", ""},
		{"http://origin.internal", "http://origin.internal:8080/x", ""},
		{"http://origin.internal", "http://other.example/x", ""},
		{"http://origin.internal", "http://user@origin.internal/x", ""},
		{"http://origin.internal", "/already/relative", ""},
		{"http://origin.internal", "http://origin.internal//evil.example/x", ""},
		{"http://origin.internal/app", "http://origin.internal/app/x", "/x"},
		{"http://origin.internal/app/", "http://origin.internal/app", "/"},
		{"http://origin.internal/app", "http://origin.internal/apple", ""},
		{"http://origin.internal/app", "http://origin.internal/other", ""},
	} {
		o, _ := url.Parse(c.origin)
		got, ok := originRelative(c.loc, o)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("origin %s, Location %q: %q, want %q", c.origin, c.loc, got, c.want)
		}
	}
}
