package server

import "testing"

// TestRedactQuery: the values of parameters whose names may hold a
// secret are hidden, the rest of the query is kept as it was sent.
func TestRedactQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"q=shoes&page=2", "q=shoes&page=2"},
		{"access_token=abc&client_secret=s&password=p&passwd=p&api_key=k&apikey=k&apiKey=k", "access_token=xxxxx&client_secret=xxxxx&password=xxxxx&passwd=xxxxx&api_key=xxxxx&apikey=xxxxx&apiKey=xxxxx"},
		{"X-Amz-Signature=abc&X-Amz-Credential=c&sig=s&code=c&state=st", "X-Amz-Signature=xxxxx&X-Amz-Credential=xxxxx&sig=xxxxx&code=xxxxx&state=st"},
		{"sessionid=1&PHPSESSID=2&sid=3&jwt=4&otp=5&auth=6&email=a%40b.example", "sessionid=xxxxx&PHPSESSID=xxxxx&sid=xxxxx&jwt=xxxxx&otp=xxxxx&auth=xxxxx&email=xxxxx"},
		{"bsk_preview=tok&bsk_x=1", "bsk_preview=xxxxx&bsk_x=xxxxx"},
		// A name escaped is read unescaped; a word inside another is no word.
		{"access%5Ftoken=abc&keyword=boots&design=x&postcode=75001&zip_code=75001", "access%5Ftoken=xxxxx&keyword=boots&design=x&postcode=75001&zip_code=xxxxx"},
		{"flag&token&=v&&a=b=c", "flag&token&=v&&a=b=c"},
	}
	for _, tt := range tests {
		if got := redactQuery(tt.in); got != tt.want {
			t.Errorf("redactQuery(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestTraceIDW3C reads the traceparent lines of the W3C Trace Context
// test suite (github.com/w3c/trace-context, test/test.py, the cases of
// its TraceContextTest that send a traceparent) as the access line does:
// a trace id where the suite expects its service to keep the caller's
// trace, none where it expects a new one. Each case is one request's
// traceparent lines.
func TestTraceIDW3C(t *testing.T) {
	const id = "12345678901234567890123456789012"
	const tp = "00-" + id + "-1234567890123456-01"
	tests := []struct {
		name  string
		lines []string
		want  string // "" where the suite expects a new trace
	}{
		{"included", []string{tp}, id},
		{"duplicated", []string{"00-12345678901234567890123456789011-1234567890123456-01", tp}, ""},
		{"version 00 trailing dot", []string{tp + "."}, ""},
		{"version 00 with more fields", []string{tp + "-what-the-future-will-be-like"}, ""},
		{"version cc", []string{"cc-" + id + "-1234567890123456-01"}, id},
		{"version cc with more fields", []string{"cc-" + id + "-1234567890123456-01-what-the-future-will-be-like"}, id},
		{"version cc with a dot after the flags", []string{"cc-" + id + "-1234567890123456-01.what-the-future-will-be-like"}, ""},
		{"version ff", []string{"ff-" + id + "-1234567890123456-01"}, ""},
		{"version .0", []string{".0-" + id + "-1234567890123456-01"}, ""},
		{"version 0.", []string{"0.-" + id + "-1234567890123456-01"}, ""},
		{"version 000", []string{"000-" + id + "-1234567890123456-01"}, ""},
		{"version 0000", []string{"0000-" + id + "-1234567890123456-01"}, ""},
		{"version 0", []string{"0-" + id + "-1234567890123456-01"}, ""},
		{"trace id all zero", []string{"00-00000000000000000000000000000000-1234567890123456-01"}, ""},
		{"trace id leading dot", []string{"00-.2345678901234567890123456789012-1234567890123456-01"}, ""},
		{"trace id trailing dot", []string{"00-1234567890123456789012345678901.-1234567890123456-01"}, ""},
		{"trace id too long", []string{"00-123456789012345678901234567890123-1234567890123456-01"}, ""},
		{"trace id too short", []string{"00-1234567890123456789012345678901-1234567890123456-01"}, ""},
		{"parent id all zero", []string{"00-" + id + "-0000000000000000-01"}, ""},
		{"parent id leading dot", []string{"00-" + id + "-.234567890123456-01"}, ""},
		{"parent id trailing dot", []string{"00-" + id + "-123456789012345.-01"}, ""},
		{"parent id too long", []string{"00-" + id + "-12345678901234567-01"}, ""},
		{"parent id too short", []string{"00-" + id + "-123456789012345-01"}, ""},
		{"flags .0", []string{"00-" + id + "-1234567890123456-.0"}, ""},
		{"flags 0.", []string{"00-" + id + "-1234567890123456-0."}, ""},
		{"flags too long", []string{"00-" + id + "-1234567890123456-001"}, ""},
		{"flags too short", []string{"00-" + id + "-1234567890123456-1"}, ""},
		{"leading space", []string{" " + tp}, id},
		{"leading tab", []string{"\t" + tp}, id},
		{"trailing space", []string{tp + " "}, id},
		{"trailing tab", []string{tp + "\t"}, id},
		{"both", []string{"\t " + tp + " \t"}, id},
	}
	for _, tt := range tests {
		got, ok := traceID(tt.lines)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("%s: traceID(%q) = %q, %v; want %q", tt.name, tt.lines, got, ok, tt.want)
		}
	}
}
