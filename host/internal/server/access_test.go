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
