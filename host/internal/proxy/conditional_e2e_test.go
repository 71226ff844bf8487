package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// The differential test of Range and conditional requests: each request
// goes to the origin directly and through the proxy, and the origin's
// answer is the reference. Two origins serve the same files: net/http's
// ServeContent and nginx.

// condRules rewrite every page and JSON document but those under
// /plain/: the style sheet, the video, the page past the rewrite limit
// and the 404 page go through a plan with page edits, which must leave
// them as the origin sent them.
var condRules = []byte(`rules:
  - name: greet
    when: not path starts_with "/plain/"
    actions:
      - set_inner: { select: "#x", text: Bonjour }
      - json_set: { path: greeting, value: bonjour }
`)

// condMaxRewrite is the proxy's rewrite limit in this test, which
// /big.html passes.
const condMaxRewrite = 16 << 10

// condFile is a file both origins serve.
type condFile struct {
	path, ctype string
	body        []byte
}

// condModified is the files' modification time.
var condModified = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// condNotFound is the page both origins answer 404 with.
var condNotFound = []byte("<!doctype html><title>Not found</title><p id=\"x\">No such page</p>\n")

// condFiles are the files: a page, the same page on the route without
// edits, a style sheet, a video, a page past condMaxRewrite and a JSON
// document.
func condFiles() []condFile {
	page := []byte("<!doctype html><html><head><title>Shop</title></head><body><p id=\"x\">Hello</p>\n" +
		strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n", 24) + "</body></html>\n")
	big := []byte("<!doctype html><html><head><title>Catalogue</title></head><body><p id=\"x\">Hello</p>\n" +
		strings.Repeat("<li>An item of the catalogue, with its description.</li>\n", 700) + "</body></html>\n")
	video := make([]byte, 8000)
	for i := range video {
		video[i] = byte(i*7 + i>>8)
	}
	return []condFile{
		{"/page.html", "text/html", page},
		{"/plain/page.html", "text/html", page},
		{"/site.css", "text/css", []byte(strings.Repeat("body { color: #333; margin: 0 auto; }\n", 30))},
		{"/clip.mp4", "video/mp4", video},
		{"/big.html", "text/html", big},
		{"/data.json", "application/json", []byte(`{"greeting":"hello","items":[` + strings.Repeat("1,", 40) + `1]}`)},
	}
}

// condGoOrigin serves the files with http.ServeContent, each with a
// strong ETag of its own; other paths answer 404 with condNotFound. A
// PUT or POST is a change whose preconditions ServeContent checks (412),
// which otherwise succeeds (204).
func condGoOrigin(files []condFile) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := slices.IndexFunc(files, func(f condFile) bool { return f.path == r.URL.Path })
		if i < 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			w.Write(condNotFound)
			return
		}
		f := files[i]
		w.Header().Set("Etag", `"`+strings.Trim(strings.ReplaceAll(f.path, "/", "-"), "-")+`-v1"`)
		w.Header().Set("Content-Type", f.ctype)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rec := httptest.NewRecorder()
			for k, v := range w.Header() {
				rec.Header()[k] = v
			}
			http.ServeContent(rec, r, "", condModified, bytes.NewReader(f.body))
			if rec.Code == http.StatusPreconditionFailed {
				w.WriteHeader(rec.Code)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.ServeContent(w, r, "", condModified, bytes.NewReader(f.body))
	})
}

// condNginx starts nginx serving the files, with its own ETags and
// Last-Modified, and condNotFound as its 404 page.
func condNginx(t *testing.T, files []condFile) string {
	dir := t.TempDir()
	write := func(p string, b []byte) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, condModified, condModified); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		write(f.path, f.body)
	}
	write("/404.html", condNotFound)
	os.Chmod(dir, 0o755)
	return testproc.Nginx(t, "the differential test of ranges and conditional requests", func(addr string) string {
		return fmt.Sprintf(`  types { text/html html; text/css css; video/mp4 mp4; application/json json; }
  server {
    listen %s;
    root %s;
    error_page 404 /404.html;
  }`, addr, dir)
	})
}

// condCase is one request of the differential test. Its header values
// are templates: {O} is the file's ETag at the origin, {WO} that tag
// weak, {D} the weak ETag the proxy derived for the file when it edits
// it, for /page.html otherwise, {Ds} that tag strong, {LM} the origin's Last-Modified, {LM-} and {LM+} an hour
// before and after.
type condCase struct {
	method, path string
	header       []string // name, value pairs
	// bare: the request says nothing of what it loads (curl, a CDN),
	// where a browser sends Sec-Fetch-Dest (see condDest).
	bare bool
}

func (c condCase) String() string {
	h := slices.Clone(c.header)
	for i, v := range h {
		if len(v) > 40 {
			h[i] = fmt.Sprintf("%s... (%d ranges)", v[:20], strings.Count(v, ",")+1)
		}
	}
	bare := ""
	if c.bare {
		bare = " (no Sec-Fetch-Dest)"
	}
	return c.method + " " + c.path + bare + " " + fmt.Sprintf("%q", h)
}

// condCases are the requests: ranges of every form RFC 9110 14 allows
// and some it does not, with and without If-Range, and the conditions of
// 13.1, alone, together and with a range, for GET and HEAD, and the
// preconditions of a change for PUT and POST.
func condCases(files []condFile) []condCase {
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf("%d-%d", 2*i, 2*i)
	}
	ranges := []string{
		"bytes=0-9", "bytes=-10", "bytes=10-", "bytes=0-0", "bytes=0-", "bytes=0-999999", "bytes=-999999",
		"bytes=0-4,10-14", "bytes=0-9,5-14", "bytes=-5,0-4", "bytes=0-4, 10-14, -5", "bytes=0-1,2-3",
		"bytes=999999-", "bytes=999999-,0-4", "bytes=5-1", "bytes=-0", "bytes= 1-2", "items=0-1",
		"bytes=", "bytes=a-b", "bytes=0-1,", "Bytes=0-9", "bytes=" + strings.Join(many, ","),
	}
	ifRanges := []string{"{O}", "{WO}", "{LM}", "{LM-}", `"nope"`, "{D}", "{Ds}", "garbage"}
	var sets [][]string
	sets = append(sets, nil)
	for _, r := range ranges {
		sets = append(sets, []string{"Range", r})
	}
	for _, r := range []string{"bytes=0-9", "bytes=0-4,10-14", "bytes=999999-"} {
		for _, ir := range ifRanges {
			sets = append(sets, []string{"Range", r, "If-Range", ir})
		}
	}
	changes := [][]string{
		{"If-None-Match", "{O}"}, {"If-None-Match", "{WO}"}, {"If-None-Match", "{D}"}, {"If-None-Match", "{Ds}"},
		{"If-None-Match", "*"}, {"If-None-Match", `"a", {O}`}, {"If-None-Match", `"a", "b"`},
		{"If-None-Match", `W/"a", {WO}`}, {"If-None-Match", "{D}, {O}"}, {"If-None-Match", `"a",{D}`},
		{"If-None-Match", "{O}, garbage"},
		{"If-Match", "{O}"}, {"If-Match", "{WO}"}, {"If-Match", "*"}, {"If-Match", `"nope"`},
		{"If-Match", "{D}"}, {"If-Match", `"a", {O}`},
		{"If-Unmodified-Since", "{LM}"}, {"If-Unmodified-Since", "{LM-}"}, {"If-Unmodified-Since", "{LM+}"},
		{"If-Unmodified-Since", "garbage"}, {"If-Match", "{O}", "If-Unmodified-Since", "{LM-}"},
		{"If-Match", `"nope"`, "If-None-Match", "{O}"},
	}
	reads := [][]string{
		{"If-Modified-Since", "{LM}"}, {"If-Modified-Since", "{LM-}"}, {"If-Modified-Since", "{LM+}"},
		{"If-Modified-Since", "garbage"}, {"If-None-Match", `"a"`, "If-Modified-Since", "{LM}"},
		{"If-None-Match", "{O}", "If-Modified-Since", "{LM-}"},
		{"If-None-Match", "{O}", "Range", "bytes=0-9"}, {"If-None-Match", "{D}", "Range", "bytes=0-9"},
		{"If-Modified-Since", "{LM}", "Range", "bytes=0-9"}, {"If-Match", `"nope"`, "Range", "bytes=0-9"},
		{"If-None-Match", "{O}", "Range", "bytes=999999-"}, {"If-Unmodified-Since", "{LM-}", "Range", "bytes=0-9"},
		{"If-None-Match", `"a"`, "Range", "bytes=0-9", "If-Range", "{O}"},
	}
	var cases []condCase
	paths := []string{"/missing.html"}
	for _, f := range files {
		paths = append(paths, f.path)
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			for _, h := range slices.Concat(sets, changes, reads) {
				cases = append(cases, condCase{m, p, h, false})
			}
		}
		for _, m := range []string{http.MethodPut, http.MethodPost} {
			for _, h := range changes {
				cases = append(cases, condCase{m, p, h, false})
			}
		}
		if p != "/site.css" && p != "/clip.mp4" {
			continue
		}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			for _, h := range slices.Concat(changes, reads) {
				cases = append(cases, condCase{m, p, h, true})
			}
		}
	}
	return cases
}

// condDest is the Sec-Fetch-Dest a browser sends for a file: a
// request for a style sheet or a video says so, and the proxy keeps its
// validators (see conditionals).
func condDest(p string) string {
	switch {
	case strings.HasSuffix(p, ".css"):
		return "style"
	case strings.HasSuffix(p, ".mp4"):
		return "video"
	case strings.HasSuffix(p, ".json"):
		return "empty" // fetch()
	}
	return "document"
}

// condResponse is what the test compares of a response.
type condResponse struct {
	status int
	header http.Header
	body   []byte
}

// condClient sends the test's requests: it asks for no compression
// (the bodies are compared byte for byte) and follows no redirect.
var condClient = &http.Client{
	Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// condChangeClient sends the test's PUT and POST requests, each on a
// connection of its own.
var condChangeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func condDo(base string, c condCase, header []string) (condResponse, error) {
	method, path := c.method, c.path
	var body io.Reader
	if method == http.MethodPut || method == http.MethodPost {
		body = strings.NewReader("x")
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return condResponse{}, err
	}
	if !c.bare {
		req.Header.Set("Sec-Fetch-Dest", condDest(path))
	}

	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	client := condClient
	if body != nil {
		// A change is not sent again on a new connection when the
		// one it was given turns out closed (nginx closes its
		// connections after 1,000 requests): it gets one of its own.
		client = condChangeClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return condResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return condResponse{resp.StatusCode, resp.Header, b}, err
}

// condTags are the values a case's templates stand for.
type condTags struct {
	etag map[string]string // by path
	lm   time.Time
	// derived are the proxy's weak ETags of the files it edits.
	derived map[string]string
}

// derivedFor is the derived tag {D} stands for in a request for path,
// and the origin's tag it was derived from.
func (tg condTags) derivedFor(path string) (derived, origin string) {
	if d, ok := tg.derived[path]; ok {
		return d, tg.etag[path]
	}
	return tg.derived["/page.html"], tg.etag["/page.html"]
}

func (tg condTags) expand(path string, header []string) []string {
	out := slices.Clone(header)
	o := tg.etag[path]
	d, _ := tg.derivedFor(path)
	r := strings.NewReplacer("{O}", o, "{WO}", "W/"+o, "{Ds}", strings.TrimPrefix(d, "W/"), "{D}", d,
		"{LM-}", tg.lm.Add(-time.Hour).Format(http.TimeFormat), "{LM+}", tg.lm.Add(time.Hour).Format(http.TimeFormat),
		"{LM}", tg.lm.Format(http.TimeFormat))
	for i := 1; i < len(out); i += 2 {
		out[i] = r.Replace(out[i])
	}
	return out
}

// reference is the request sent to the origin directly for a case whose
// request the proxy forwards: a change's preconditions reach the origin
// with the tag the proxy derived named by the origin's tag it was
// derived from (see originConditions): a visitor who read the edited
// page makes its change conditional on the resource it read.
func (tg condTags) reference(c condCase) []string {
	h := tg.expand(c.path, c.header)
	if c.method == http.MethodGet || c.method == http.MethodHead {
		return h
	}
	d, o := tg.derivedFor(c.path)
	for i := 0; i+1 < len(h); i += 2 {
		switch h[i] {
		case "If-Match":
			h[i+1] = strings.ReplaceAll(h[i+1], d, o)
		case "If-None-Match":
			// Compared weakly: the tag without its W/ too.
			h[i+1] = strings.ReplaceAll(h[i+1], d, o)
			h[i+1] = strings.ReplaceAll(h[i+1], strings.TrimPrefix(d, "W/"), o)
		}
	}
	return h
}

// weakMatch reports whether an If-None-Match value lists tag, compared
// weakly (RFC 9110 8.8.3.2).
func weakMatch(list, tag string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == strings.TrimPrefix(tag, "W/") {
			return true
		}
	}
	return false
}

// condReprHeaders are the representation headers compared.
var condReprHeaders = []string{"Content-Range", "Content-Type", "Etag", "Last-Modified", "Accept-Ranges", "Content-Length", "Content-Encoding"}

// boundary returns a multipart/byteranges response's boundary, or "".
func boundary(h http.Header) string {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		return ""
	}
	return params["boundary"]
}

// sameAsOrigin says how got differs from want, the origin's answer to
// the same request, or "": status, representation headers and body,
// multipart/byteranges boundaries aside, each origin drawing its own.
// whole is the origin's 200 of the file.
func sameAsOrigin(want, got, whole condResponse) string {
	if want.status != got.status {
		return fmt.Sprintf("status %d, the origin's %d", got.status, want.status)
	}
	wb, gb := boundary(want.header), boundary(got.header)
	norm := func(v, b string) string {
		if b == "" {
			return v
		}
		return strings.ReplaceAll(v, b, "BOUNDARY")
	}
	for _, k := range condReprHeaders {
		w, g := norm(strings.Join(want.header.Values(k), ", "), wb), norm(strings.Join(got.header.Values(k), ", "), gb)
		if want.status == http.StatusNotModified && w == "" && (k == "Content-Type" || k == "Last-Modified") && g == whole.header.Get(k) {
			// A 304 the proxy makes in the origin's stead (see
			// notModified) keeps the 200's type and date, as RFC
			// 9110 15.4.5 allows for a cache's update; net/http
			// sends neither beside an ETag, nginx its date.
			continue
		}
		if k == "Content-Length" && wb != "" {
			// The boundaries' lengths may differ.
			w, g = fmt.Sprint(len(want.body)-len(wb)*bytes.Count(want.body, []byte(wb))), fmt.Sprint(len(got.body)-len(gb)*bytes.Count(got.body, []byte(gb)))
		}
		if w != g {
			return fmt.Sprintf("%s %q, the origin's %q", k, g, w)
		}
	}
	wbody, gbody := want.body, got.body
	if wb != "" {
		wbody = bytes.ReplaceAll(wbody, []byte(wb), []byte("BOUNDARY"))
	}
	if gb != "" {
		gbody = bytes.ReplaceAll(gbody, []byte(gb), []byte("BOUNDARY"))
	}
	if !bytes.Equal(wbody, gbody) {
		return fmt.Sprintf("a body of %d bytes, the origin's %d", len(got.body), len(want.body))
	}
	return ""
}

// rewrittenAnswer says how got, the proxy's answer to a GET or HEAD of
// the page or JSON document it rewrites (page, with the ETag derived),
// breaks what it must do, or "": the origin's 412
// (a failed If-Match or If-Unmodified-Since) as the origin sent it; a
// 304 exactly when the visitor's If-None-Match names the tag it derived
// for the edited page, with that tag; otherwise the whole edited page
// with a 200, never a range of it or a 416, with none of the origin's
// validators.
func rewrittenAnswer(c condCase, header []string, direct, got condResponse, page []byte, derived string) string {
	if direct.status == http.StatusPreconditionFailed {
		return sameAsOrigin(direct, got, condResponse{header: http.Header{}})
	}
	inm := ""
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "If-None-Match" {
			inm = header[i+1]
		}
	}
	if inm != "" && weakMatch(inm, derived) {
		if got.status != http.StatusNotModified || got.header.Get("Etag") != derived || len(got.body) != 0 {
			return fmt.Sprintf("%d, ETag %q, for a visitor who has the edited page (%s)", got.status, got.header.Get("Etag"), derived)
		}
		return ""
	}
	want := page
	if c.method == http.MethodHead {
		want = nil
	}
	switch {
	case got.status != http.StatusOK:
		return fmt.Sprintf("status %d, want the edited page with a 200 (the origin answered %d)", got.status, direct.status)
	case !bytes.Equal(got.body, want):
		return fmt.Sprintf("a body of %d bytes, not the edited page's %d", len(got.body), len(want))
	case got.header.Get("Content-Range") != "" || got.header.Get("Accept-Ranges") != "" || got.header.Get("Last-Modified") != "":
		return fmt.Sprintf("Content-Range %q, Accept-Ranges %q, Last-Modified %q on the edited page",
			got.header.Get("Content-Range"), got.header.Get("Accept-Ranges"), got.header.Get("Last-Modified"))
	case got.header.Get("Etag") != derived:
		return fmt.Sprintf("ETag %q on the edited page, want %q", got.header.Get("Etag"), derived)
	case got.header.Get("Content-Length") != "" && got.header.Get("Content-Length") != fmt.Sprint(len(page)):
		return fmt.Sprintf("Content-Length %s on the edited page of %d bytes", got.header.Get("Content-Length"), len(page))
	}
	return ""
}

// condKnown says why the proxy's answer to case c may differ from the
// origin's (origin: "net/http" or "nginx"), or "" when it may not. Each
// is a response the proxy answers in the origin's stead, since the
// request, which may be for a page it rewrites, reached the origin
// without the visitor's If-None-Match and If-Modified-Since (see
// conditionals, notModified): the page past the limit, and the style
// sheet and the video asked for without Sec-Fetch-Dest.
func condKnown(origin string, c condCase) string {
	if c.path != "/big.html" && !c.bare || c.method != http.MethodGet && c.method != http.MethodHead {
		return ""
	}
	var inm, ims string
	for i := 0; i+1 < len(c.header); i += 2 {
		switch c.header[i] {
		case "If-None-Match":
			inm = c.header[i+1]
		case "If-Modified-Since":
			ims = c.header[i+1]
		}
	}
	switch {
	case inm == "*":
		return "If-None-Match: * names no copy, which may be one made without the edits: a response the request may " +
			"have been for a rewritten page goes whole (TestStaleCopyAfterARuleStartsEditing, TestUnchangedJSONRevalidates), where the origin answers 304"
	case inm == "{O}, garbage":
		return "a malformed If-None-Match is not read (hasCopy), where the origin matches the tags before the malformed one"
	case origin == "nginx" && (inm == "" && ims == "{LM+}" || inm == "{O}" && ims == "{LM-}"):
		return "in the origin's stead the proxy follows RFC 9110 13.1.3 and 13.2.2 as net/http does (a date after Last-Modified, " +
			"If-None-Match before If-Modified-Since), where nginx's if_modified_since exact wants the very date, and both conditions"
	}
	return ""
}

// TestRangesAndConditionsAgainstOrigins sends every case to the origin
// and through the proxy, for an origin of net/http's ServeContent and
// for nginx: a response the proxy does not rewrite (the style sheet, the
// video, the page of a route without edits, the page past the rewrite
// limit, the 404 page, the answers to a change) is the origin's: status,
// representation headers and body; the page and the JSON document it
// rewrites are answered as rewrittenAnswer says.
func TestRangesAndConditionsAgainstOrigins(t *testing.T) {
	files := condFiles()
	origins := []struct {
		name string
		url  func(t *testing.T) string
		// change is how the origin answers a change whose
		// preconditions hold: nginx serves files, and changes none.
		change int
	}{
		{"net/http", func(t *testing.T) string {
			s := httptest.NewServer(condGoOrigin(files))
			t.Cleanup(s.Close)
			return s.URL
		}, http.StatusNoContent},
		{"nginx", func(t *testing.T) string { return "http://" + condNginx(t, files) }, http.StatusMethodNotAllowed},
	}
	for _, o := range origins {
		t.Run(o.name, func(t *testing.T) {
			origin := o.url(t)
			u, _ := url.Parse(origin)
			e := newEnv(t, http.NotFoundHandler(), condRules, func(c *proxy.Config) {
				c.Origin = u
				c.MaxRewriteBytes = condMaxRewrite
				c.DebugHeaders = false
			})
			tg := condTags{etag: map[string]string{}, derived: map[string]string{}}
			wholes := map[string]condResponse{}
			for _, f := range files {
				r, err := condDo(origin, condCase{method: http.MethodGet, path: f.path}, nil)
				if err != nil || r.status != 200 || !bytes.Equal(r.body, f.body) || r.header.Get("Etag") == "" {
					t.Fatalf("%s from the origin: %v %d, ETag %q", f.path, err, r.status, r.header.Get("Etag"))
				}
				tg.etag[f.path], wholes[f.path] = r.header.Get("Etag"), r
				if tg.lm, err = http.ParseTime(r.header.Get("Last-Modified")); err != nil {
					t.Fatal(err)
				}
			}
			// The edited page and JSON document, as the proxy serves them.
			edited := map[string]condResponse{}
			for _, p := range []string{"/page.html", "/data.json"} {
				r, err := condDo(e.proxy.URL, condCase{method: http.MethodGet, path: p}, nil)
				if err != nil || r.status != 200 || !bytes.Contains(bytes.ToLower(r.body), []byte("bonjour")) || !strings.HasPrefix(r.header.Get("Etag"), "W/") {
					t.Fatalf("%s edited: %v %d, ETag %q: %q", p, err, r.status, r.header.Get("Etag"), r.body)
				}
				edited[p], tg.derived[p] = r, r.header.Get("Etag")
			}

			cases := condCases(files)
			diffs := make([]string, len(cases))
			statuses := make([]int, len(cases)) // the proxy's
			var wg sync.WaitGroup
			work := make(chan int)
			for range 4 {
				wg.Go(func() {
					for i := range work {
						c := cases[i]
						direct, err := condDo(origin, c, tg.reference(c))
						if err != nil {
							diffs[i] = "origin: " + err.Error()
							continue
						}
						h := tg.expand(c.path, c.header)
						got, err := condDo(e.proxy.URL, c, h)
						statuses[i] = got.status
						switch {
						case err != nil:
							diffs[i] = "proxy: " + err.Error()
						case edited[c.path].status != 0 && (c.method == http.MethodGet || c.method == http.MethodHead):
							diffs[i] = rewrittenAnswer(c, h, direct, got, edited[c.path].body, edited[c.path].header.Get("Etag"))
						default:
							diffs[i] = sameAsOrigin(direct, got, wholes[c.path])
						}
					}
				})
			}
			for i := range cases {
				work <- i
			}
			close(work)
			wg.Wait()
			failed, known := 0, map[string]int{}
			for i, d := range diffs {
				switch why := condKnown(o.name, cases[i]); {
				case d == "":
				case why != "":
					known[why]++
				default:
					failed++
					t.Errorf("%s: %s", cases[i], d)
				}
			}
			n := 0
			for why, k := range known {
				n += k
				t.Logf("%d deliberate differences: %s", k, why)
			}
			t.Logf("%d cases: %d as they must be, %d deliberate differences, %d defects", len(cases), len(cases)-n-failed, n, failed)
			// Each answer the cases are to draw from the proxy did come.
			for _, want := range []int{200, 206, 304, 404, 412, 416, o.change} {
				if !slices.Contains(statuses, want) {
					t.Errorf("no case was answered %d", want)
				}
			}
		})
	}
}
