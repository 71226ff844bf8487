package router

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(name)) })
}

func TestMatch(t *testing.T) {
	rt := New([]Route{
		{Name: "any", Handler: named("any")},
		{Name: "blog", Prefix: "/blog/", Handler: named("blog")},
		{Name: "shop", Host: "shop.example.com", Handler: named("shop")},
		{Name: "shop-api", Host: "shop.example.com", Prefix: "/api/", Handler: named("shop-api")},
		{Name: "sub", Host: "*.example.com", Handler: named("sub")},
		{Name: "docs", Prefix: "/docs", Handler: named("docs")},
	})
	tests := []struct{ host, path, want string }{
		{"other.test", "/", "any"},
		{"other.test", "/blog/post", "blog"},
		{"shop.example.com", "/", "shop"},
		{"SHOP.example.com:8080", "/api/items", "shop-api"},
		{"shop.example.com", "/blog/x", "shop"}, // an exact host wins over a longer prefix on any host
		{"eu.example.com", "/", "sub"},
		// A prefix matches whole segments; one ending in / what is under it.
		{"other.test", "/docs", "docs"},
		{"other.test", "/docs/", "docs"},
		{"other.test", "/docs/install", "docs"},
		{"other.test", "/docs?page=2", "docs"},
		{"other.test", "/docsearch", "any"},
		{"other.test", "/docs.html", "any"},
		{"other.test", "/blog", "any"},
		{"other.test", "/blogger", "any"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://"+tt.host+tt.path, nil))
		if got := rec.Body.String(); got != tt.want {
			t.Errorf("%s%s -> %s, want %s", tt.host, tt.path, got, tt.want)
		}
	}
}

func TestNoRoute(t *testing.T) {
	rt := New([]Route{{Name: "a", Host: "a.test", Handler: named("a")}})
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://b.test/", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
}
