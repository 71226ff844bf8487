package escape_test

import (
	"fmt"

	"github.com/bespoke-edge/bespoke/internal/escape"
)

// A value is escaped for the part of the URL it lands in, which the
// text before it tells.
func ExampleAppendValue() {
	v := "shoes & socks/2=1"
	for _, before := range []string{"/search/", "/search?q=", "/search#"} {
		b, _ := escape.AppendValue(nil, escape.URL, before, v)
		fmt.Println(before + string(b))
	}
	// Output:
	// /search/shoes%20&%20socks%2F2=1
	// /search?q=shoes%20%26%20socks/2%3D1
	// /search#shoes%20%26%20socks/2%3D1
}

// The literal text before a URL's first value must decide its scheme and
// host.
func ExamplePrefix() {
	for _, text := range []string{"/stores/", "https://shop.example/", "", "java", "https://shop.example", `/\`} {
		scheme, why := escape.Prefix(text)
		fmt.Printf("%q: scheme %q, decided %v\n", text, scheme, why == "")
	}
	// Output:
	// "/stores/": scheme "", decided true
	// "https://shop.example/": scheme "https", decided true
	// "": scheme "", decided false
	// "java": scheme "", decided false
	// "https://shop.example": scheme "https", decided false
	// "/\\": scheme "", decided false
}

// A whole URL from a value passes only with a scheme the rule allows.
func ExampleAppendWholeURL() {
	schemes := []string{"https", "relative"}
	for _, v := range []string{"/buy", "https://shop.example/", "javascript:alert(1)", "//evil.example", "java\tscript:alert(1)"} {
		b, ok := escape.AppendWholeURL(nil, escape.URL, v, schemes)
		fmt.Printf("%q: %q %v\n", v, b, ok)
	}
	// Output:
	// "/buy": "/buy" true
	// "https://shop.example/": "https://shop.example/" true
	// "javascript:alert(1)": "" false
	// "//evil.example": "" false
	// "java\tscript:alert(1)": "" false
}
