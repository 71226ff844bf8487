package proxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// TestJSONInALegacyCharset: JSON an origin declares in another charset
// than UTF-8 gets what a json_set writes as \u escapes, which read the
// same in UTF-8 (fetch's json() ignores the charset) and in the declared
// one (a client that decodes with it): the UTF-8 bytes of "Café" went
// into a document labelled ISO-8859-1 and read "CafÃ©" there. A charset
// whose characters may hold the bytes " and \ (Shift_JIS, Big5, GBK,
// gb18030) cannot be read as JSON's bytes: such a document passes as the
// origin sent it.
func TestJSONInALegacyCharset(t *testing.T) {
	src := `rules:
  - name: api
    actions:
      - json_set: { path: banner.title, value: "Café 😀 {{ cookie('who') or '' }}" }
      - json_limit: { path: items, n: 2 }
`
	tests := []struct {
		charset string
		doc     string // in charset
		name    string // the origin's "name", decoded
		edited  bool
	}{
		{"ISO-8859-1", "{\"name\":\"Andr\xe9\",\"items\":[1,2,3]}", "André", true},
		{"windows-1251", "{\"name\":\"\xc8\xe2\xe0\xed\",\"items\":[1,2,3]}", "Иван", true},
		{"utf-8", `{"name":"André","items":[1,2,3]}`, "André", true},
		{"us-ascii", `{"name":"Andre","items":[1,2,3]}`, "Andre", true},
		// ソ is 0x83 0x5C in Shift_JIS: its second byte is JSON's \.
		{"shift_jis", "{\"name\":\"\x83\x5c\",\"items\":[1,2,3]}", "ソ", false},
		{"big5", "{\"name\":\"\xa5\x5c\",\"items\":[1,2,3]}", "功", false},
	}
	for _, tt := range tests {
		t.Run(tt.charset, func(t *testing.T) {
			u := startProxyWith(t, src, reqctx.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset="+tt.charset)
				io.WriteString(w, tt.doc)
			}))
			req, _ := http.NewRequest("GET", u+"/api", nil)
			req.Header.Set("Cookie", "who=%C3%A9t%C3%A9")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !tt.edited {
				if string(body) != tt.doc {
					t.Errorf("got %q, want the origin's %q", body, tt.doc)
				}
				return
			}
			enc, err := htmlindex.Get(tt.charset)
			if err != nil {
				t.Fatal(err)
			}
			text, err := enc.NewDecoder().Bytes(body)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Name   string
				Items  []int
				Banner struct{ Title string }
			}
			if err := json.Unmarshal(text, &v); err != nil {
				t.Fatalf("%q: %v", body, err)
			}
			if v.Name != tt.name || v.Banner.Title != "Café 😀 été" || len(v.Items) != 2 {
				t.Errorf("read in %s: %+v (%q)", tt.charset, v, body)
			}
			if tt.charset == "utf-8" && !bytes.Contains(body, []byte("Café 😀 été")) {
				t.Errorf("UTF-8 JSON got its text escaped: %q", body)
			}
		})
	}
}

// TestJSONTypesAndStatuses: the JSON edits apply to application/json,
// text/json and any +json type of a 200 (the WHATWG's JSON MIME types),
// as rules/SYNTAX.md says; a 201, an error's
// problem+json and what is not JSON by its type pass as the origin sent
// them, with the origin's length.
func TestJSONTypesAndStatuses(t *testing.T) {
	src := `rules:
  - name: api
    actions:
      - json_set: { path: banner, value: hi }
`
	const doc = `{"a":1}`
	tests := []struct {
		ct     string
		status int
		edited bool
	}{
		{"application/json", 200, true},
		{"Application/JSON; charset=utf-8", 200, true},
		{"application/vnd.api+json", 200, true},
		{"application/problem+json", 200, true},
		{"application/problem+json", 404, false},
		{"application/json", 201, false},
		{"application/json", 500, false},
		{"text/json", 200, true},
		{"TEXT/JSON;charset=utf-8", 200, true},
		{"application/json\u00a0", 200, false},
		{"application /json", 200, false},
		{"application/x-ndjson", 200, false},
		{"application/javascript", 200, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ct, " ", tt.status), func(t *testing.T) {
			u := startProxyWith(t, src, reqctx.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ct)
				w.WriteHeader(tt.status)
				io.WriteString(w, doc)
			}))
			resp, err := http.Get(u + "/api")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := doc
			if tt.edited {
				want = `{"a":1,"banner":"hi"}`
			}
			if resp.StatusCode != tt.status || string(body) != want || resp.ContentLength != int64(len(want)) {
				t.Errorf("%d %q (length %d), want %d %q", resp.StatusCode, body, resp.ContentLength, tt.status, want)
			}
		})
	}
}

// TestUnchangedJSONRevalidates: a JSON document the rules' edits leave as
// it is goes with the origin's ETag and Last-Modified, and a client that
// sends them back gets a 304 when the document is still the same and
// still unchanged by the edits. The origin is asked without them (a copy
// the edits would now change must not be kept), so every revalidation
// of such a document read it whole: an API behind a json_limit its lists
// never reach, or a json_hide_seen with nothing seen, answered no 304.
func TestUnchangedJSONRevalidates(t *testing.T) {
	src := `rules:
  - name: api
    actions:
      - json_limit: { path: items, n: 10 }
  - name: short
    when: path == "/short"
    actions:
      - json_limit: { path: items, n: 1 }
`
	modified := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	lm := modified.Format(http.TimeFormat)
	var asked []string
	u := startProxyWith(t, src, reqctx.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Header.Get("If-None-Match")+"|"+r.Header.Get("If-Modified-Since"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "max-age=60")
		http.ServeContent(w, r, "", modified, strings.NewReader(`{"items":[1,2,3]}`))
	}))
	tests := []struct {
		name, path, inm, ims string
		status               int
		etag                 string // "" for the origin's
	}{
		{"its ETag", "/api", `"v1"`, "", 304, ""},
		{"its ETag, weak", "/api", `W/"v1"`, "", 304, ""},
		{"a list with it", "/api", `"v0", "v1"`, "", 304, ""},
		{"another ETag", "/api", `"v0"`, "", 200, ""},
		{"its date", "/api", "", lm, 304, ""},
		{"a later date", "/api", "", modified.Add(time.Hour).Format(http.TimeFormat), 304, ""},
		{"an earlier date", "/api", "", modified.Add(-time.Hour).Format(http.TimeFormat), 200, ""},
		{"another ETag and its date", "/api", `"v0"`, lm, 200, ""},
		{"any", "/api", `*`, "", 200, ""},
		{"a copy the edits change", "/short", `"v1"`, "", 200, "derived"},
		{"a date of a copy the edits change", "/short", "", lm, 200, "derived"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			req, _ := http.NewRequest("GET", u+tt.path, nil)
			if tt.inm != "" {
				req.Header.Set("If-None-Match", tt.inm)
			}
			if tt.ims != "" {
				req.Header.Set("If-Modified-Since", tt.ims)
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			etag := resp.Header.Get("ETag")
			switch {
			case resp.StatusCode != tt.status:
				t.Errorf("%d %q, want %d", resp.StatusCode, body, tt.status)
			case tt.status == 304 && (len(body) > 0 || etag != `"v1"` || resp.Header.Get("Cache-Control") != "max-age=60" || resp.Header.Get("Last-Modified") != lm):
				t.Errorf("304 with %q, headers %v", body, resp.Header)
			case tt.status == 200 && tt.etag == "" && (string(body) != `{"items":[1,2,3]}` || etag != `"v1"`):
				t.Errorf("200 %q, ETag %s", body, etag)
			case tt.etag == "derived" && (string(body) != `{"items":[1]}` || !strings.HasPrefix(etag, `W/"v1-bsk`)):
				t.Errorf("200 %q, ETag %s, want the edited document with a derived tag", body, etag)
			}
			if len(asked) != 1 || asked[0] != "|" {
				t.Errorf("the origin was asked %q, want once without conditions", asked)
			}
		})
	}
}
