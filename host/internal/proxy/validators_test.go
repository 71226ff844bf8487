package proxy

import (
	"encoding/binary"
	"hash/fnv"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/plugin"
)

func TestDerivedETag(t *testing.T) {
	const tag = 0xabc
	tests := []struct {
		origin, want string
	}{
		{`"v1"`, `W/"v1-bsks0000000000000abc"`},
		{`W/"v1"`, `W/"v1-bskw0000000000000abc"`},
		{` "a,b" `, `W/"a,b-bsks0000000000000abc"`},
		{``, ``},
		{`v1`, ``},
		{`"v1" "v2"`, ``},
		{`"unterminated`, ``},
	}
	for _, tt := range tests {
		got := derivedETag(tt.origin, tag)
		if got != tt.want {
			t.Errorf("derivedETag(%q) = %q, want %q", tt.origin, got, tt.want)
			continue
		}
		if got == "" {
			continue
		}
		et, _, _ := parseEntityTag(got)
		o, v, ok := splitDerived(et)
		want, _, _ := parseEntityTag(trimOWS(tt.origin))
		if !ok || v != tag || o != want {
			t.Errorf("splitDerived(%s) = %v %x %v, want %v", got, o, v, ok, want)
		}
	}
	if derivedETag(`"v1"`, 0) != "" {
		t.Error("a plan without a tag derived an ETag")
	}
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// TestConditionals: what of a request's conditional headers reaches the
// origin, with tag the plan's (0: it edits nothing, or depends on the
// seen-filter), when the response may be a page the plan rewrites
// (rewrites) and when the request loads no document or nothing edits it.
func TestConditionals(t *testing.T) {
	const tag = 0x1234
	ours := derivedETag(`"v7"`, tag)
	oursWeak := derivedETag(`W/"v7"`, tag)
	stale := derivedETag(`"v7"`, tag+1)
	const date = "Mon, 01 Jan 2024 00:00:00 GMT"
	tests := []struct {
		name     string
		rewrites bool
		tag      uint64
		in, want http.Header
		edited   bool
	}{
		{"ranges go to the origin as they came", true, tag,
			http.Header{"Range": {"bytes=100-160"}, "If-Range": {`"v7"`}},
			http.Header{"Range": {"bytes=100-160"}, "If-Range": {`"v7"`}}, false},
		{"our tag for the same edits becomes the origin's", true, tag,
			http.Header{"If-None-Match": {ours}, "If-Modified-Since": {date}},
			http.Header{"If-None-Match": {`"v7"`}}, true},
		{"our tag without its W/ is ours: If-None-Match compares weakly", true, tag,
			http.Header{"If-None-Match": {strings.TrimPrefix(ours, "W/")}},
			http.Header{"If-None-Match": {`"v7"`}}, true},
		{"a weak origin tag comes back weak", true, tag,
			http.Header{"If-None-Match": {oursWeak}},
			http.Header{"If-None-Match": {`W/"v7"`}}, true},
		{"our tag for other edits goes, with If-Modified-Since", true, tag,
			http.Header{"If-None-Match": {stale}, "If-Modified-Since": {date}},
			http.Header{}, false},
		{"the origin's tags name a copy without the edits", true, tag,
			http.Header{"If-None-Match": {`"x", ` + stale + `, W/"y"`}},
			http.Header{}, false},
		{"the origin's tags go, ours stays", true, tag,
			http.Header{"If-None-Match": {`"v7", ` + ours}},
			http.Header{"If-None-Match": {`"v7"`}}, true},
		{"so does a date: a rewritten page has no Last-Modified", true, tag,
			http.Header{"If-Modified-Since": {date}},
			http.Header{}, false},
		{"a plan that depends on the seen-filter has no tag to revalidate", true, 0,
			http.Header{"If-None-Match": {`"v7", ` + ours}, "If-Modified-Since": {date}},
			http.Header{}, false},
		{"star goes", true, tag,
			http.Header{"If-None-Match": {"*"}},
			http.Header{}, false},
		{"a malformed list goes", true, tag,
			http.Header{"If-None-Match": {`"x" junk`}},
			http.Header{}, false},
		{"a style sheet's tags stay, ours for other edits goes", false, tag,
			http.Header{"If-None-Match": {`"x", ` + stale + `, W/"y"`}, "If-Modified-Since": {date}},
			http.Header{"If-None-Match": {`"x", W/"y"`}, "If-Modified-Since": {date}}, false},
		{"a list of origin tags is not touched", false, tag,
			http.Header{"If-None-Match": {`"x", "y"`}, "If-Modified-Since": {date}},
			http.Header{"If-None-Match": {`"x", "y"`}, "If-Modified-Since": {date}}, false},
		{"nor a date", false, tag,
			http.Header{"If-Modified-Since": {date}},
			http.Header{"If-Modified-Since": {date}}, false},
		{"star is not touched", false, tag,
			http.Header{"If-None-Match": {"*"}},
			http.Header{"If-None-Match": {"*"}}, false},
		{"a malformed list is not touched", false, tag,
			http.Header{"If-None-Match": {`"x" junk`}},
			http.Header{"If-None-Match": {`"x" junk`}}, false},
		{"a plan that edits nothing never matches ours", false, 0,
			http.Header{"If-None-Match": {ours}},
			http.Header{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.in.Clone()
			tags, _ := conditionals(h, tt.rewrites, tt.tag)
			if edited := tags != nil; !reflect.DeepEqual(h, tt.want) || edited != tt.edited {
				t.Errorf("got %v, edited %v; want %v, %v", h, tags, tt.want, tt.edited)
			}
		})
	}
}

// TestPlanTagCoversEdits: a field added to an edit must be hashed too, or
// two plans that write different pages would share a tag.
func TestPlanTagCoversEdits(t *testing.T) {
	if n := reflect.TypeFor[rewrite.Edit]().NumField(); n != 11 {
		t.Errorf("rewrite.Edit has %d fields; planTag hashes 11: update it", n)
	}
	if n := reflect.TypeFor[jsonrw.Edit]().NumField(); n != 9 {
		t.Errorf("jsonrw.Edit has %d fields; planTag hashes 9: update it", n)
	}
	m := &plugin.Manifest{SourceHash: "sha256:1", Selectors: []string{"h1", "p"}}
	base := plan.Plan{Edits: []rewrite.Edit{{Selector: 0, Op: rewrite.SetInner, Content: []byte("Bonjour")}}}
	a := planTag(&base, m)
	if a == 0 || planTag(&base, m) != a {
		t.Fatalf("planTag is %x, not stable", a)
	}
	for name, other := range map[string]plan.Plan{
		"content":  {Edits: []rewrite.Edit{{Selector: 0, Op: rewrite.SetInner, Content: []byte("Hello")}}},
		"selector": {Edits: []rewrite.Edit{{Selector: 1, Op: rewrite.SetInner, Content: []byte("Bonjour")}}},
		"op":       {Edits: []rewrite.Edit{{Selector: 0, Op: rewrite.Append, Content: []byte("Bonjour")}}},
		"json":     {Edits: base.Edits, JSONEdits: []jsonrw.Edit{{Op: jsonrw.Remove, Path: "a"}}},
	} {
		if planTag(&other, m) == a {
			t.Errorf("a different %s gives the same tag", name)
		}
	}
	if planTag(&base, &plugin.Manifest{SourceHash: "sha256:2", Selectors: m.Selectors}) == a {
		t.Error("another rule file gives the same tag")
	}
	seen := base
	seen.SeenEdits = true
	if planTag(&seen, m) != 0 {
		t.Error("a plan that depends on the seen-filter has a tag")
	}
}

// TestPlanTagIsFNV: planTag is hash/fnv's FNV-1a over the plan's fields
// (numbers as 8 bytes little-endian, strings after their length), so
// that derived ETags stay what they were, for manifests in turn (each
// hashed once, then remembered).
func TestPlanTagIsFNV(t *testing.T) {
	want := func(pl *plan.Plan, m *plugin.Manifest) uint64 {
		h := fnv.New64a()
		num := func(v int) { h.Write(binary.LittleEndian.AppendUint64(nil, uint64(v))) }
		str := func(s string) { num(len(s)); h.Write([]byte(s)) }
		flag := func(b bool) {
			if b {
				num(1)
			} else {
				num(0)
			}
		}
		str(m.SourceHash)
		num(len(m.Selectors))
		for _, s := range m.Selectors {
			str(s)
		}
		num(len(pl.Edits))
		for _, e := range pl.Edits {
			num(e.Selector)
			num(int(e.Op))
			str(string(e.Content))
			str(e.Attr)
			str(e.Value)
			num(e.N)
			num(len(e.Order))
			for _, o := range e.Order {
				str(o)
			}
			flag(e.Demote)
			num(e.MarkFirst)
			flag(e.NoMark)
			flag(e.Interpolated)
		}
		num(len(pl.JSONEdits))
		for _, e := range pl.JSONEdits {
			num(int(e.Op))
			str(e.Path)
			str(string(e.Value))
			str(e.ID)
			num(e.N)
			num(len(e.Order))
			for _, o := range e.Order {
				str(o)
			}
			flag(e.Demote)
			num(e.MarkFirst)
			flag(e.NoMark)
		}
		return h.Sum64()
	}
	plans := []plan.Plan{
		{Edits: []rewrite.Edit{{Selector: 0, Op: rewrite.SetInner, Content: []byte("Bonjour"), Attr: "a", Value: "v", N: 3, Order: []string{"x", "y"}, Demote: true, MarkFirst: 2, Interpolated: true}}},
		{JSONEdits: []jsonrw.Edit{{Op: jsonrw.Remove, Path: "a.b", Value: []byte(`{"k":1}`), ID: "id", N: 4, Order: []string{"z"}, MarkFirst: 1, NoMark: true}}},
	}
	manifests := []*plugin.Manifest{
		{SourceHash: "sha256:1", Selectors: []string{"h1", "p"}},
		{SourceHash: "sha256:2"},
	}
	for round := range 2 {
		for _, m := range manifests {
			for i := range plans {
				if got, w := planTag(&plans[i], m), want(&plans[i], m); got != w {
					t.Errorf("round %d, %s, plan %d: tag %x, FNV-1a %x", round, m.SourceHash, i, got, w)
				}
			}
		}
	}
}

func FuzzParseETagList(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a", "b"`, `*`, `"a" junk`, `W/"x-bsks0000000000000abc"`, `,,"a",,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, star, ok := parseETagList(s)
		if !ok || star {
			return
		}
		// What parses, printed and parsed again, is the same list.
		var out string
		for i, tg := range tags {
			if i > 0 {
				out += ", "
			}
			out += tg.String()
		}
		again, _, ok := parseETagList(out)
		if !ok || !reflect.DeepEqual(again, tags) && len(tags) > 0 {
			t.Fatalf("%q → %q → %v", s, out, again)
		}
		for _, tg := range tags {
			if o, v, ok := splitDerived(tg); ok {
				if derivedETag(o.String(), v) != tg.String() && v != 0 {
					t.Fatalf("%s splits into %s and %x, which derive %s", tg, o, v, derivedETag(o.String(), v))
				}
			}
		}
	})
}

// TestAddVary: the names the rules read join the origin's Vary once each,
// in any case, in one field; a Vary of * is left alone.
func TestAddVary(t *testing.T) {
	for _, tt := range []struct {
		name   string
		origin []string
		names  []string
		want   []string
	}{
		{"none from the origin", nil, []string{"Cf-Ipcountry", "Accept-Encoding"}, []string{"Cf-Ipcountry, Accept-Encoding"}},
		{"nothing to add", []string{"Accept-Encoding"}, nil, []string{"Accept-Encoding"}},
		{"already there, in another case", []string{"accept-encoding,  cookie"}, []string{"Accept-Encoding", "Cookie"}, []string{"accept-encoding,  cookie"}},
		{"some there, over two fields", []string{"Origin", " accept-encoding "}, []string{"Accept-Encoding", "Sec-Gpc"}, []string{"Origin", " accept-encoding ", "Sec-Gpc"}},
		{"a name twice", nil, []string{"Cookie", "Sec-Gpc", "Cookie", "Accept-Encoding"}, []string{"Cookie, Sec-Gpc, Accept-Encoding"}},
		{"more names than the stack's room", nil, manyNames(40), []string{strings.Join(manyNames(40), ", ")}},
		{"star", []string{"Origin, *"}, []string{"Cookie"}, []string{"Origin, *"}},
		{"empty fields", []string{"", " , "}, []string{"Cookie"}, []string{"", " , ", "Cookie"}},
		{"an empty name", nil, []string{"", "Cookie", ""}, []string{"Cookie"}},
		{"a name only Unicode folds", []string{"CooKie"}, []string{"Cookie"}, []string{"CooKie", "Cookie"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.origin {
				h.Add("Vary", v)
			}
			addVary(h, tt.names)
			if got := h.Values("Vary"); !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("Vary %q, want %q", got, tt.want)
			}
			// The proxy's, which remembers the last field it built,
			// says the same the first time and the next, and after
			// another list.
			p := &Proxy{}
			for _, names := range [][]string{tt.names, tt.names, {"X-Other"}, tt.names} {
				h, want := http.Header{}, http.Header{}
				for _, v := range tt.origin {
					h.Add("Vary", v)
					want.Add("Vary", v)
				}
				p.addVary(h, names)
				addVary(want, names)
				if !reflect.DeepEqual(h["Vary"], want["Vary"]) {
					t.Errorf("Proxy.addVary(%q) %q, want %q", names, h["Vary"], want["Vary"])
				}
				if len(h["Vary"]) > 0 {
					h["Vary"][0] = "changed by a handler after"
				}
			}
		})
	}
}

// TestAddVaryRemembers: responses of two kinds in turn (a page's names,
// an asset's) each find the field built for their kind, and allocate
// only the header's slice.
func TestAddVaryRemembers(t *testing.T) {
	page := manyNames(17)
	asset := []string{"Cookie", "Accept-Encoding"}
	p := &Proxy{}
	call := func(names []string) {
		h := http.Header{}
		p.addVary(h, names)
		if want := strings.Join(names, ", "); len(h["Vary"]) != 1 || h["Vary"][0] != want {
			t.Fatalf("Vary %q, want %q", h["Vary"], want)
		}
	}
	call(page)
	call(asset)
	if n := testing.AllocsPerRun(100, func() { call(page); call(asset) }); n > 4 {
		t.Errorf("%v allocations for two responses", n)
	}
}

// manyNames are n distinct canonical header names.
func manyNames(n int) []string {
	var names []string
	for i := range n {
		names = append(names, "X-Name-"+strconv.Itoa(i))
	}
	return names
}

// TestHeaderListsAreCanonical: the lists of names the responses' headers
// are removed by are used as map keys directly, so they must be in the
// form net/http stores fields under.
func TestHeaderListsAreCanonical(t *testing.T) {
	for _, list := range [][]string{sharedCacheHeaders, digestHeaders} {
		for _, k := range list {
			if c := http.CanonicalHeaderKey(k); c != k {
				t.Errorf("%q is stored as %q", k, c)
			}
		}
	}
}

// TestCacheControlRewrites: what a personalized or recording response's
// Cache-Control becomes. Directive names compare in ASCII case only (RFC
// 9110 5.6.2 tokens): "no-ſtore" is no directive a cache knows, so the
// response still needs no-cache.
func TestCacheControlRewrites(t *testing.T) {
	for _, tt := range []struct{ in, private, noCache string }{
		{"", "private", "private, no-cache"},
		{"public, max-age=600", "private, max-age=600", "public, max-age=600, no-cache"},
		{"Public, S-MAXAGE=60, max-age=10", "private, max-age=10", "Public, S-MAXAGE=60, max-age=10, no-cache"},
		{"max-age=600, NO-STORE", "private, max-age=600, NO-STORE", "max-age=600, NO-STORE"},
		{" no-cache ", "private, no-cache", " no-cache "},
		{"proxy-revalidate,,private", "private", "proxy-revalidate,,private, no-cache"},
		{"max-age=600, no-\u017ftore", "private, max-age=600, no-\u017ftore", "max-age=600, no-\u017ftore, no-cache"},
		{"\u017f-maxage=60", "private, \u017f-maxage=60", "\u017f-maxage=60, no-cache"},
	} {
		if got := privateCacheControl(tt.in); got != tt.private {
			t.Errorf("privateCacheControl(%q) = %q, want %q", tt.in, got, tt.private)
		}
		if got := withNoCache(tt.in); got != tt.noCache {
			t.Errorf("withNoCache(%q) = %q, want %q", tt.in, got, tt.noCache)
		}
	}
}

// TestEqualFoldASCII: HTTP's case-insensitive comparison of tokens folds
// ASCII letters only.
func TestEqualFoldASCII(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"no-store", "NO-STORE", true},
		{"No-Store", "no-store", true},
		{"", "", true},
		{"no-store", "no-stor", false},
		{"no-\u017ftore", "no-store", false}, // ſ folds to s in Unicode only
		{"\u212aeep", "keep", false},         // the Kelvin sign
		{"a@", "A`", false},                  // the bytes around the letters
		{"[", "{", false},
	} {
		if got := equalFoldASCII(tt.a, tt.b); got != tt.want {
			t.Errorf("equalFoldASCII(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
