package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
)

// handlerOrigin is an http.Handler as the proxy's Transport: the demo
// site answers from memory, so that a fuzzed request costs no socket.
type handlerOrigin struct{ h http.Handler }

func (o handlerOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	o.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// fuzzProxy is the proxy FuzzHandler sends requests to: the demo rules
// (edits, hide_seen, limit, caps, redirects, JSON edits, cookies) on the
// demo site, with the seen and caps cookie stores and edit maps.
var fuzzProxy = sync.OnceValue(func() *proxy.Proxy {
	u, _ := url.Parse("http://origin.test")
	seenStore, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		panic(err)
	}
	capStore, err := caps.New([]byte("fuzz-caps-key-0123456789"), nil)
	if err != nil {
		panic(err)
	}
	// It lives as long as the test process: nothing closes it.
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		panic(err)
	}
	res, err := compiler.Compile(demo.RulesName, demo.Rules())
	if err != nil {
		panic(err)
	}
	s, err := site.Load(context.Background(), eng, "demo", res.Artifact, reqctx.Config{})
	if err != nil {
		panic(err)
	}
	p := proxy.New(proxy.Config{Origin: u, Transport: handlerOrigin{demo.Handler()}, EditMapCache: 4 << 20,
		Seen: seenStore, Caps: capStore, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p.Swap(s)
	return p
})

// FuzzHandler sends the proxy requests with fuzzed paths, queries,
// cookies and the headers the demo rules and the context read, twice:
// the second time with the cookies the first answer set, as a browser
// would. Whatever a visitor sends, the proxy answers (no panic reaches
// net/http, which would close the connection), and never with a 5xx:
// the origin here cannot fail, so any 5xx is the proxy's own.
func FuzzHandler(f *testing.F) {
	f.Add("/", "", "", "FR", "", "fr-FR,fr;q=0.9", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "")
	f.Add("/", "utm_campaign=winter-sale", "club=gold; cart_items=2", "FR", "Lyon", "fr", "Mozilla/5.0", "?1")
	f.Add("/api/recommendations.json", "", "bsk_seen=AAAA; bsk_caps=%%%", "US", "", "en-US", "", "")
	f.Add("/sale", "a=%zz&b", "bsk_vid=!!!; =; club=\"gold", "CH", "Zürich", "de-CH,de;q=0.9", "Googlebot/2.1", "?0")
	f.Add("/p/sku-1001", "q="+strings.Repeat("x", 300), "cart_items=-1; cart_items=1e309", "", "", "*", "curl/8", "")
	f.Add("/journal/", "", strings.Repeat("c=1; ", 200), "XX", "\xff\xfe", "\xc3(", "\x80", "1")
	f.Fuzz(func(t *testing.T, path, query, cookie, country, city, lang, ua, mobile string) {
		p := fuzzProxy()
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		jar := cookie
		for round := range 2 {
			r := &http.Request{
				Method: http.MethodGet, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				URL:  &url.URL{Scheme: "http", Host: "shop.test", Path: path, RawQuery: query},
				Host: "shop.test", Header: http.Header{}, RemoteAddr: "203.0.113.9:40000",
				Body: http.NoBody,
			}
			r.RequestURI = r.URL.RequestURI()
			// What net/http's server lets through: no control bytes in a
			// header value but tab.
			for _, h := range [][2]string{{"Cookie", jar}, {"CF-IPCountry", country}, {"Cf-Ipcity", city},
				{"Accept-Language", lang}, {"User-Agent", ua}, {"Sec-CH-UA-Mobile", mobile}} {
				if h[1] != "" && validHeaderValue(h[1]) {
					r.Header.Set(h[0], h[1])
				}
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code >= 500 || w.Code < 200 {
				t.Fatalf("round %d: %s?%s answered %d: %s", round, path, query, w.Code, w.Body.String())
			}
			if w.Code == http.StatusOK && strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") && w.Body.Len() == 0 {
				t.Fatalf("round %d: %s answered an empty page", round, path)
			}
			var next []string
			for _, sc := range w.Result().Cookies() {
				next = append(next, sc.Name+"="+sc.Value)
			}
			if len(next) == 0 {
				break
			}
			jar = strings.Join(next, "; ")
		}
	})
}

// validHeaderValue reports whether net/http's server would take v as a
// header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
