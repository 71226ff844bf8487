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
// list showed A B C where the proxy shows B C D.
func TestSeenRotationAsTheProxyKeeps(t *testing.T) {
	for _, tc := range []struct{ name, action string }{
		{"keep_at_least", `hide_seen: { select: "ul > li", id: "@id", keep_at_least: 3 }`},
		{"demote", `hide_seen: { select: "ul > li", id: "@id", demote: true }
      - limit: { select: "ul > li", n: 2 }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, prog := load(t, []byte("rules:\n  - name: fresh\n    actions:\n      - "+tc.action+"\n"))
			ps, origin := proxyOf(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, "<!doctype html><html><body><ul><li id=A>A</li><li id=B>B</li><li id=C>C</li><li id=D>D</li><li id=E>E</li></ul></body></html>")
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
