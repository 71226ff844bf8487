package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/site"
)

func TestFailedPages(t *testing.T) {
	var f failedPages
	page := func(path string) failedPage {
		return pageOf(httptest.NewRequest("GET", "http://shop.example"+path, nil))
	}
	if f.has(page("/a")) {
		t.Fatal("an empty set has a page")
	}
	now := time.Now()
	f.add(page("/a?x=1"), now)
	f.add(page("/old"), now.Add(-failedPageTTL))
	for _, c := range []struct {
		page failedPage
		want bool
	}{
		{page("/a?x=1"), true},
		{page("/a?x=2"), false}, // another query is another page
		{page("/a"), false},
		{page("/old"), false}, // its TTL passed
	} {
		if got := f.has(c.page); got != c.want {
			t.Errorf("has(%+v) = %v, want %v", c.page, got, c.want)
		}
	}
	if n := f.n.Load(); n != 1 {
		t.Fatalf("%d pages held after the expired one was looked up, want 1", n)
	}

	// Bounded: past maxFailedPages the first to expire go, and the newest
	// is always kept.
	for i := range maxFailedPages + 10 {
		f.add(page("/p"+strconv.Itoa(i)), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := int(f.n.Load()); n != maxFailedPages || len(f.m) != n {
		t.Fatalf("%d pages held (map %d), want %d", n, len(f.m), maxFailedPages)
	}
	if !f.has(page("/p" + strconv.Itoa(maxFailedPages+9))) {
		t.Fatal("the newest page was dropped")
	}
	if f.has(page("/a?x=1")) || f.has(page("/p0")) {
		t.Fatal("the pages that expire first were kept past the bound")
	}
	f.clear()
	if f.has(page("/p"+strconv.Itoa(maxFailedPages+9))) || f.n.Load() != 0 {
		t.Fatal("a page is still held after clear")
	}
}

func TestResendable(t *testing.T) {
	for _, c := range []struct {
		method, body string
		want         bool
	}{
		{"GET", "", true},
		{"HEAD", "", true},
		{"GET", "x", false},
		{"POST", "", false},
		{"PUT", "", false},
	} {
		r := httptest.NewRequest(c.method, "/", nil)
		if c.body != "" {
			r = httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
		}
		if got := resendable(r); got != c.want {
			t.Errorf("%s with body %q: resendable %v, want %v", c.method, c.body, got, c.want)
		}
	}
}

func TestFailureReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("decide: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("wasm error: unreachable (trapped)"), "trap"},
		{&site.PanicError{Value: "bug"}, "panic"},
		{fmt.Errorf("deciding: %w", &site.PanicError{Value: "bug"}), "panic"},
		{errors.New("decide: 2 values for 3 slots"), "error"},
	} {
		if got := failureReason(c.err); got != c.want {
			t.Errorf("failureReason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
