// Package demo serves the bundled demo site, so `bespoke serve --demo` shows
// personalization with no other service running.
package demo

import (
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke"
)

// Site returns the demo site's files.
func Site() fs.FS {
	sub, err := fs.Sub(bespoke.Demo, "testdata/demo/site")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// Rules returns the demo rule file.
func Rules() []byte {
	b, err := fs.ReadFile(bespoke.Demo, "testdata/demo/rules.yaml")
	if err != nil {
		panic(err)
	}
	return b
}

// RulesName is the name the demo rules are compiled under.
const RulesName = "testdata/demo/rules.yaml"

// Handler serves the demo site like a small origin: HTML with
// Cache-Control, a 404 page, and the JSON API.
func Handler() http.Handler {
	files := Site()
	fileServer := http.FileServerFS(files)
	notFound, _ := fs.ReadFile(files, "404.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "" || strings.HasSuffix(p, "/") {
			p += "index.html"
		}
		if _, err := fs.Stat(files, p); err != nil {
			if _, err := fs.Stat(files, p+".html"); err == nil {
				// Clean URLs: /stores serves stores.html.
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/" + p + ".html"
				w.Header().Set("Cache-Control", "public, max-age=60")
				fileServer.ServeHTTP(w, r2)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			w.Write(notFound)
			return
		}
		if strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".json") {
			w.Header().Set("Cache-Control", "public, max-age=60")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=3600")
		}
		fileServer.ServeHTTP(w, r)
	})
}

// Start serves the demo site on a loopback port and returns its URL and a
// function that stops it.
func Start() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
