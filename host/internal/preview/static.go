package preview

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// StaticOrigin serves a directory of saved pages as a small origin would:
// "/" from index.html, "/stores" from stores.html, everything else as is,
// never cached (the files are being edited). Previews and tests of a rule
// file whose pages are files (`pages:`) fetch them from it, as the proxy
// fetches from a real origin.
func StaticOrigin(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if p != "" && !strings.HasSuffix(r.URL.Path, "/") {
			if st, err := fs.Stat(fsys, p); err != nil || st.IsDir() {
				if _, err := fs.Stat(fsys, p+".html"); err == nil {
					r2 := r.Clone(r.Context())
					r2.URL.Path = "/" + p + ".html"
					files.ServeHTTP(w, r2)
					return
				}
			}
		}
		files.ServeHTTP(w, r)
	})
}
