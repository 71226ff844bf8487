package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// rawServer answers each GET with what page returns for its path: a
// Content-Type written byte for byte (net/http's server would rewrite
// line breaks and trim spaces), and a body.
func rawServer(t *testing.T, page func(path string) (contentType string, body []byte, ok bool)) string {
	t.Helper()
	ln := testproc.Serve(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		ct, body, ok := page(req.URL.Path)
		if !ok {
			fmt.Fprintf(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n", ct, len(body))
		c.Write(body)
	})
	return "http://" + ln.Addr().String()
}

// chromiumDocument is what Chromium made of a response in an iframe.
type chromiumDocument struct {
	// Loaded is false when no document of the response was made (a
	// download).
	Loaded bool `json:"loaded"`
	// CharacterSet and ContentType are the document's; HTML is whether
	// the body was parsed as HTML (its <p id=x> is an element).
	CharacterSet string `json:"characterSet"`
	ContentType  string `json:"contentType"`
	HTML         bool   `json:"html"`
}

var chromiumDocuments = regexp.MustCompile(`(?s)<pre id="docs">(.*?)</pre>`)

// chromiumReads loads each Content-Type of cts on an ASCII page of its
// own, in iframes of a windows-1250 page (a page that declares no
// encoding inherits it), and returns what Chromium made of each.
func chromiumReads(t *testing.T, bin string, cts []string) []chromiumDocument {
	t.Helper()
	const body = "<!-- no declaration --><p id=x>plain ASCII</p>"
	const batch = 400
	var out []chromiumDocument
	for start := 0; start < len(cts); start += batch {
		part := cts[start:min(start+batch, len(cts))]
		base := rawServer(t, func(path string) (string, []byte, bool) {
			if path == "/" {
				var b strings.Builder
				b.WriteString("<!doctype html><meta charset=windows-1250><body>")
				for k := range part {
					fmt.Fprintf(&b, `<iframe src="/c/%d"></iframe>`, k)
				}
				b.WriteString(`<pre id="docs"></pre><script>window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("iframe").forEach(function (f) {
    var d = f.contentDocument;
    var loaded = !!d && /\/c\/\d+$/.test(d.URL);
    out.push({loaded: loaded, characterSet: loaded ? d.characterSet : "", contentType: loaded ? d.contentType : "",
      html: loaded && !!d.getElementById("x") && d.getElementById("x").localName === "p"});
  });
  document.getElementById("docs").textContent = JSON.stringify(out);
});</script>`)
				return "text/html", []byte(b.String()), true
			}
			k, err := strconv.Atoi(strings.TrimPrefix(path, "/c/"))
			if err != nil || k < 0 || k >= len(part) {
				return "", nil, false
			}
			return part[k], []byte(body), true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
		dom := chromium.Run(ctx, t, bin, t.TempDir(), "--virtual-time-budget=20000", "--dump-dom", base+"/")
		cancel()
		m := chromiumDocuments.FindStringSubmatch(dom)
		var docs []chromiumDocument
		if m == nil || json.Unmarshal([]byte(htmlUnescape(m[1])), &docs) != nil || len(docs) != len(part) {
			t.Fatalf("Chromium's findings do not read: %.300q", dom)
		}
		out = append(out, docs...)
	}
	return out
}

// htmlUnescape undoes what --dump-dom escapes in a <pre>'s text.
func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&amp;", "&").Replace(s)
}

// goRefuses reports whether Go's HTTP client refuses a response with
// the header value v (net/textproto: a control character but tab), as
// the proxy then does (a 502): no page with it reaches the rewriter.
// Chromium refuses those with a NUL too.
func goRefuses(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7F {
			return true
		}
	}
	return false
}

// chromiumSample is the Content-Types of testdata/mimesniff that
// TestContentTypesAgainstChromium loads: the standard's own, and every
// sampleStride-th of the generated ones (none with -short). Line breaks,
// which would end the header, are left out.
func chromiumSample(t *testing.T) []mimeCase {
	var out []mimeCase
	for i, c := range mimeCases(t) {
		if strings.ContainsAny(c.input, "\r\n") {
			continue
		}
		if c.wpt || !testing.Short() && i%sampleStride == 0 {
			out = append(out, c)
		}
	}
	return out
}

// sampleStride: one in 11 of the generated Content-Types goes to
// Chromium, 800 in half a minute. All 8,749 without a line break pass
// against Chromium 156 (sampleStride = 1: six minutes).
const sampleStride = 11

// TestContentTypesAgainstChromium serves a sample of the Content-Types of
// testdata/mimesniff (chromiumSample) to headless Chromium, each with an
// ASCII page in an iframe (chromiumReads), and compares what the proxy
// reads of each with the document Chromium makes:
//
//   - a type the proxy rewrites as HTML is one Chromium renders as HTML
//     (markup inserted into a page shown as text, or offered as a file,
//     is a defect); the reverse, a page Chromium sniffs as HTML from a
//     type that is none ("text /html", none at all), passes unedited,
//     which is safe, and is counted;
//   - the encoding the proxy reads such a page in from its charset is
//     Chromium's; where it finds none, Chromium uses none either: the
//     parent page's windows-1250, which only a page that declares no
//     charset inherits, or windows-1252, its default for a charset it
//     does not know. A page the proxy leaves alone for its charset
//     (headerCharset: UTF-16, or read otherwise by Chromium and the
//     standard) or for a list of types (ambiguousType) is counted.
//
// Headers Go's client refuses never reach the rewriter, and are only
// counted.
func TestContentTypesAgainstChromium(t *testing.T) {
	bin := chromium.Path(t)
	cases := chromiumSample(t)
	cts := make([]string, len(cases))
	for k, c := range cases {
		cts[k] = c.input
	}
	docs := chromiumReads(t, bin, cts)
	var refused, sniffed, ambiguous, unrewritable, unreadable, unreadableAsStandard, html, charsets int
	for k, d := range docs {
		c := cases[k]
		if goRefuses(c.input) {
			refused++
			continue
		}
		chromeHTML := d.Loaded && d.HTML && d.ContentType == "text/html"
		cs, ok := headerCharset(c.input)
		switch {
		case isHTML(c.input) && ambiguousType(http.Header{"Content-Type": {c.input}}):
			// A list of types, which a browser reads as its last: the
			// page passes untouched (reason content_type).
			ambiguous++
			continue
		case isHTML(c.input) && ok && !cs.rewritable():
			// UTF-16, ISO-2022-JP, replacement or unreadable: untouched
			// (reason charset).
			unrewritable++
			if cs == unreadableCharset {
				unreadable++
				if got := strings.ToLower(d.CharacterSet); got == c.encoding || c.encoding == "" && (got == "windows-1250" || got == "windows-1252") {
					unreadableAsStandard++
					t.Logf("%q: left alone, and Chromium reads it as the standard does (%s)", c.input, got)
				}
			}
			continue
		}
		if !isHTML(c.input) {
			if chromeHTML {
				sniffed++
			}
			continue
		}
		html++
		if !chromeHTML {
			t.Errorf("%q: the proxy rewrites it as HTML; Chromium makes %+v", c.input, d)
			continue
		}
		got := strings.ToLower(d.CharacterSet)
		switch {
		case !ok:
			if got != "windows-1250" && got != "windows-1252" {
				t.Errorf("%q: the proxy finds no charset; Chromium reads %s", c.input, got)
			}
		case cs.name != got:
			t.Errorf("%q: the proxy reads %s; Chromium %s", c.input, cs.name, got)
		default:
			charsets++
		}
	}
	t.Logf("%d Content-Types: %d the proxy rewrites as HTML, as Chromium renders them (%d with a charset both read); "+
		"%d that Chromium sniffs as HTML pass unedited; %d lists of types and %d in encodings the rewriter leaves alone pass untouched, "+
		"%d of them with a charset Chromium and the standard read otherwise (%d of which Chromium read as the standard does); %d that Go's client refuses",
		len(docs), html, charsets, sniffed, ambiguous, unrewritable, unreadable, unreadableAsStandard, refused)
}
