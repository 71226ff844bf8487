package escape

import "testing"

// TestAttrKindFrameworks: the attributes client-side frameworks run as
// JavaScript, in every spelling each framework reads, are code; others
// that look like them are not.
func TestAttrKindFrameworks(t *testing.T) {
	code := []string{
		"onclick", "ONLOAD", "style", "srcdoc", "download", "data-bind",
		// AngularJS normalizes ':', '-' and '_', after an optional x or data.
		"ng-init", "ng:init", "ng_init", "NG-CLICK", "data-ng-init", "data-ng:init", "data_ng_init", "x-ng-init", "x:ng:init",
		"x-data", "x-on:click", "@click", ":href", "v-html", "#default",
		"hx-get", "hx-on:click", "data-hx-post",
		"_", "script", "data-script",
		"data-on-click", "data-on:click", "data-text", "data-signals", "data-computed-total", "data-attr-title",
		"up-on-loaded", "mv-value",
		"click.trigger", "value.bind", "submit.delegate",
	}
	text := []string{"title", "alt", "class", "data-geo", "data-name", "data-onboarding", "aria-label", "name", "nginx", "ngram", "data-ngram", "x", "datatext", "up-href"}
	for _, n := range code {
		if k, why := AttrKind(n); k != Code || why == "" {
			t.Errorf("AttrKind(%q) = %v, %q; want code", n, k, why)
		}
	}
	for _, n := range text {
		if k, _ := AttrKind(n); k == Code {
			t.Errorf("AttrKind(%q) is code", n)
		}
	}
}

// TestAttrKindPresentationURLs: the SVG presentation attributes whose
// value may be url() make the browser load what it names, from any host
// (Chromium fetches fill, stroke, mask, clip-path, the markers and cursor
// from another site): like style, they are code. Those that take no URL
// are text.
func TestAttrKindPresentationURLs(t *testing.T) {
	for _, c := range []struct {
		name string
		want Kind
	}{
		{"fill", Code},
		{"FILL", Code},
		{"stroke", Code},
		{"filter", Code},
		{"mask", Code},
		{"clip-path", Code},
		{"marker-start", Code},
		{"marker-mid", Code},
		{"marker-end", Code},
		{"cursor", Code},
		{"fill-opacity", Text},
		{"stroke-width", Text},
		{"opacity", Text},
		{"viewbox", Text},
		{"d", Text},
	} {
		if k, why := AttrKind(c.name); k != c.want || k == Code && why == "" {
			t.Errorf("AttrKind(%q) = %v, %q; want %v", c.name, k, why, c.want)
		}
	}
}
