package visit_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
)

var itemRE = regexp.MustCompile(`<li id=(\w+)>`)

// TestSeenRotationAsTheProxyKeeps: views of a list that hide_seen keeps
// at least 3 of, and of one that demote puts after the others then
// limits to 2, one after another through a real proxy and in the
// simulation `bespoke test` runs (each Spec the previous one's Next),
// show the same items. The proxy tells items seen in one half window
// apart by how often they were shown, not when; the simulation brought
// back the items shown longest ago, and on the fourth view of the first
// list showed A B C where the proxy shows B C D. An item one list of a
// page shows is seen in the lists after it on that page (two_lists): the
// simulation took it for unseen until the next view, and showed A twice
// on the first where the proxy shows it once.
func TestSeenRotationAsTheProxyKeeps(t *testing.T) {
	const oneList = "<ul><li id=A>A</li><li id=B>B</li><li id=C>C</li><li id=D>D</li><li id=E>E</li></ul>"
	for _, tc := range []struct{ name, action, lists string }{
		{"keep_at_least", `hide_seen: { select: "ul > li", id: "@id", keep_at_least: 3 }`, oneList},
		{"demote", `hide_seen: { select: "ul > li", id: "@id", demote: true }
      - limit: { select: "ul > li", n: 2 }`, oneList},
		{"two_lists", `hide_seen: { select: "ul > li", id: "@id", keep_at_least: 2 }`,
			"<ul><li id=A>A</li><li id=B>B</li><li id=C>C</li></ul><ul><li id=A>A</li><li id=D>D</li><li id=E>E</li><li id=B>B</li></ul>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, prog := load(t, []byte("rules:\n  - name: fresh\n    actions:\n      - "+tc.action+"\n"))
			ps, origin := proxyOf(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, "<!doctype html><html><body>"+tc.lists+"</body></html>")
			}))
			jar := map[string]string{}
			var spec visit.Spec
			var proxied, simulated []string
			for n := 1; n <= 12; n++ {
				var headers [][2]string
				for k, v := range jar {
					headers = append(headers, [2]string{"Cookie", k + "=" + v})
				}
				resp, body := get(t, ps.URL+"/", headers)
				for _, c := range resp.Cookies() {
					jar[c.Name] = c.Value
				}
				if n == 1 {
					spec.NewID = jar[reqctx.VisitorCookie]
				}
				res, out := simulate(t, s, prog, spec, origin)
				proxied = append(proxied, items(body))
				simulated = append(simulated, items(out.Body))
				spec = res.Next(spec, out)
			}
			if p, s := strings.Join(proxied, " "), strings.Join(simulated, " "); p != s {
				t.Errorf("twelve views:\n  proxy:     %s\n  simulated: %s", p, s)
			}
		})
	}
}

func items(page []byte) string {
	var b strings.Builder
	for _, m := range itemRE.FindAllSubmatch(page, -1) {
		b.Write(m[1])
	}
	return b.String()
}

// TestSeenWithinAPageAsTheProxyKeeps: the items one list of a page shows
// are seen by the lists after it when the view records them, and only
// then: a visitor who declines tracking (Sec-GPC) and a prefetch record
// nothing, and the proxy shows them the lists as they would be without
// the page's own showings.
func TestSeenWithinAPageAsTheProxyKeeps(t *testing.T) {
	s, prog := load(t, []byte("rules:\n  - name: fresh\n    actions:\n      - hide_seen: { select: \"ul > li\", id: \"@id\", keep_at_least: 1 }\n"))
	ps, origin := proxyOf(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><body><ul><li id=A>A</li><li id=B>B</li></ul><ul><li id=A>A</li><li id=C>C</li></ul></body></html>")
	}))
	for _, tc := range []struct {
		name    string
		headers [][2]string
		want    string
	}{
		{"tracked", nil, "ABC"},
		{"Sec-GPC", [][2]string{{"Sec-GPC", "1"}}, "ABAC"},
		{"prefetch", [][2]string{{"Sec-Purpose", "prefetch"}}, "ABAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := get(t, ps.URL+"/", tc.headers)
			_, out := simulate(t, s, prog, visit.Spec{Headers: tc.headers}, origin)
			if p, s := items(body), items(out.Body); p != tc.want || s != p {
				t.Errorf("proxy shows %s, simulation %s; want %s", p, s, tc.want)
			}
		})
	}
}
