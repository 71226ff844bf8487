package reqctx_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// TestQueryAsChromiumReads is the differential test of query(): for a
// corpus of queries, written and random (escapes good and bad, "+", ";",
// "=", empty pairs), the first value of each parameter is what Chromium's
// URLSearchParams reads.
func TestQueryAsChromiumReads(t *testing.T) {
	bin := chromium.Path(t)
	queries := []string{
		"promo=50%", "a=%", "a=%4", "a=%zz&a=2", "%zz=1&x=2", "a%3=1", "a=%41%zz+b", "a=%2B%2b%20",
		"a=1;b=2", "a+b=6", "a%2Bb=6", "x", "x=&x=2", "&&x=3", "k=%C3%A9t%C3%A9", "k==v=w", "=v", "%=%&%25=%25",
		"a=%%41", "a=%4%41", "a=%G1", "+=+", "a%20=b", "a=1&A=2",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "%", "+", "=", "&", ";", "2", "F", "z", "%41", "%2B", "%C3%A9", " "}
	for range 300 {
		q := ""
		for range 1 + rng.IntN(12) {
			q += alphabet[rng.IntN(len(alphabet))]
		}
		if q[0] != '?' {
			queries = append(queries, q)
		}
	}
	corpus, _ := json.Marshal(queries)
	page := `<!DOCTYPE html><html><body><pre id="out"></pre><script>
var qs = ` + string(corpus) + `, out = [];
qs.forEach(function (q) { var seen = {}, first = []; new URLSearchParams(q).forEach(function (v, k) { if (!(k in seen)) { seen[k] = 1; first.push([k, v]); } }); out.push(first); });
document.getElementById("out").textContent = JSON.stringify(out);
</script></body></html>`
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dom := chromium.DumpPage(ctx, t, bin, page, nil)
	var got [][][2]string
	if chromium.Answer(t, dom, &got); len(got) != len(queries) {
		t.Fatalf("Chromium answered %d of %d", len(got), len(queries))
	}
	compared := 0
	for i, q := range queries {
		for _, kv := range got[i] {
			if strings.ContainsRune(kv[0], utf8.RuneError) {
				continue // a name of invalid UTF-8, which the browser replaced
			}
			v, ok := reqctx.Query(q, kv[0])
			if !utf8.ValidString(v) {
				continue // the browser reads invalid UTF-8 as U+FFFD
			}
			compared++
			if !ok || v != kv[1] {
				t.Errorf("query(%q) of %q = %q, %v; Chromium reads %q", kv[0], q, v, ok, kv[1])
			}
		}
	}
	if compared < 300 {
		t.Errorf("only %d parameters compared", compared)
	}
}
