package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/bespoke-edge/bespoke/host"
)

// greeting thanks readers arriving from the newsletter.
const greeting = `version: 1
rules:
  - name: newsletter-thanks
    when: query("ref") == "newsletter"
    actions:
      - set_inner: { select: "#greet", text: "Thanks for reading our newsletter" }
`

const page = `<html><body><p id="greet">Hello</p></body></html>`

func get(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Personalizing an origin reached over HTTP.
func Example() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	defer origin.Close()

	h, err := host.New(context.Background(), host.Config{
		Origin:   origin.URL,
		Rules:    []byte(greeting),
		Secret:   []byte("an example secret of 32 bytes..."),
		CacheDir: "-",
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(context.Background())
	front := httptest.NewServer(h)
	defer front.Close()

	fmt.Println(get(front.URL + "/?ref=newsletter"))
	fmt.Println(get(front.URL + "/"))
	// Output:
	// <html><body><p id="greet">Thanks for reading our newsletter</p></body></html>
	// <html><body><p id="greet">Hello</p></body></html>
}

// Middleware around a handler of the same program: the page it writes is
// personalized as it streams out.
func Example_middleware() {
	app := http.NewServeMux()
	app.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})

	h, err := host.New(context.Background(), host.Config{
		Next:     app,
		Rules:    []byte(greeting),
		Secret:   []byte("an example secret of 32 bytes..."),
		CacheDir: "-",
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(context.Background())
	front := httptest.NewServer(h)
	defer front.Close()

	fmt.Println(get(front.URL + "/?ref=newsletter"))
	// Output:
	// <html><body><p id="greet">Thanks for reading our newsletter</p></body></html>
}

// Bad configurations are errors from New, never a handler that fails on
// its first request.
func ExampleNew_errors() {
	for _, cfg := range []host.Config{
		{},
		{Origin: "localhost:8080"},
		{Origin: "http://127.0.0.1:8080", Rules: []byte("version: 1\nrules: [{name: x, when: geo.country == 3, actions: [{remove: \"#x\"}]}]\n"), RulesName: "site.yaml"},
		{Origin: "http://127.0.0.1:8080", Seen: "memcached://x"},
	} {
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.CacheDir = "-"
		_, err := host.New(context.Background(), cfg)
		fmt.Println(err)
	}
	// Output:
	// bespoke: no upstream: give Origin (a URL) or Next (a handler)
	// bespoke: origin "localhost:8080": the scheme must be http or https
	// site.yaml:2:40: geo.country is a text (ISO 3166-1 alpha-2 country code) and is never a number, so this never holds; compare it with a quoted text: geo.country == "..."
	// bespoke: Seen: Redis URL "memcached://x": unknown scheme "memcached": use redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or unix
}
