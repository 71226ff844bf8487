package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestServeVarying: every varying response is the page with a request
// number after its stamp's start tag, the same length (but for a render
// time) each time, different bytes each
// time, and no validator a cache could revalidate with.
func TestServeVarying(t *testing.T) {
	page := []byte("<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>")
	f := &servedFile{data: page, ctype: "text/html; charset=utf-8", etag: `"x"`, cache: "public"}
	for key, stamp := range stamps {
		t.Run(key, func(t *testing.T) { testServeVarying(t, f, page, stamp) })
	}
}

// digitElements finds the elements that hold a stamp's digits.
var digitElements = regexp.MustCompile(`<x([0-9])>([0-9])</x([0-9])>`)

func testServeVarying(t *testing.T, f *servedFile, page []byte, st stamp) {
	var bodies [][]byte
	elementNames := map[string]bool{}
	for range 3 {
		rec := httptest.NewRecorder()
		serveVarying(rec, f, st)
		resp := rec.Result()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "" {
			t.Errorf("a varying response carries a validator: %v", resp.Header)
		}
		tag := bytes.Index(page, []byte(st.after))
		at := tag + bytes.IndexByte(page[tag:], '>') + 1
		if tag < 0 || !bytes.HasPrefix(b, append(page[:at:at], st.text[:10]...)) || bytes.Contains(b, bytes.Repeat([]byte("0"), 20)) ||
			!bytes.HasSuffix(b, page[at:]) {
			t.Fatalf("the request number is not in every slot of the stamp right after %s>: %q", st.after, b)
		}
		if strings.Contains(st.text, digitElement) {
			names := ""
			for _, e := range digitElements.FindAllSubmatch(b, -1) {
				if e[1][0] != e[2][0] || e[3][0] != e[2][0] {
					t.Fatalf("element %q is not named after its digit", e[0])
				}
				names += string(e[1])
			}
			if len(names) != strings.Count(st.text, digitElement) {
				t.Fatalf("%d digit elements in %q", len(names), b)
			}
			// Not only two in a row: requests sent at once compare a
			// map with any response near it.
			if elementNames[names] {
				t.Errorf("two responses have the same elements %s", names)
			}
			elementNames[names] = true
		}
		bodies = append(bodies, b)
	}
	for i := 1; i < len(bodies); i++ {
		if len(bodies[i]) != len(bodies[0]) && !strings.Contains(st.text, "{ms}") {
			t.Errorf("response %d is %d bytes, the first %d", i, len(bodies[i]), len(bodies[0]))
		}
		if bytes.Equal(bodies[i], bodies[i-1]) {
			t.Errorf("responses %d and %d are the same bytes", i-1, i)
		}
	}
}

// TestServeStreamed: the streamed page is the page, chunked, with no
// length and no validator.
func TestServeStreamed(t *testing.T) {
	page := bytes.Repeat([]byte("<p>a paragraph of the page</p>\n"), 2000)
	f := &servedFile{data: page, ctype: "text/html; charset=utf-8", etag: `"x"`, cache: "public"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveStreamed(w, f) }))
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(b, page) || resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" ||
			resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "" {
			t.Fatalf("length %d, transfer %v, headers %v, the page %v", resp.ContentLength, resp.TransferEncoding, resp.Header, bytes.Equal(b, page))
		}
	}
}
