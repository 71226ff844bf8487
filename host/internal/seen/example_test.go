package seen_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/bespoke-edge/bespoke/host/internal/seen"
)

// A visitor's first page shows an item; the next page knows it was seen.
func ExampleCookieStore() {
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: []byte("at least 16 bytes of secret key")})
	if err != nil {
		panic(err)
	}

	// First page: nothing seen yet. The rewriter shows sku-1.
	r := httptest.NewRequest("GET", "https://shop.example/", nil)
	set, info := store.Load(r.Context(), r, "")
	fmt.Println(info.Source, set.Seen("sku-1"))
	set.Shown("sku-1")
	w := httptest.NewRecorder()
	if seen.Allowed(r, "consent", []string{"denied"}) {
		if err := store.Save(r.Context(), w.Header(), "", set, r.TLS != nil); err != nil {
			panic(err)
		}
	}

	// Next page: the browser sends the cookie back.
	r = httptest.NewRequest("GET", "https://shop.example/", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	set, info = store.Load(r.Context(), r, "")
	fmt.Println(info.Source, set.Seen("sku-1"), set.Count("sku-1"), set.Seen("sku-2"))
	// Output:
	// new false
	// cookie true 1 false
}

// Global Privacy Control or a denying consent cookie: nothing is saved.
func ExampleAllowed() {
	r := httptest.NewRequest("GET", "/", nil)
	fmt.Println(seen.Allowed(r, "consent", []string{"denied"}))
	r.Header.Set("Cookie", "consent=denied")
	fmt.Println(seen.Allowed(r, "consent", []string{"denied"}))
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Sec-GPC", "1")
	fmt.Println(seen.Allowed(r, "", nil))
	// Output:
	// true
	// false
	// false
}
