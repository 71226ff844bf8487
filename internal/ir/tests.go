package ir

import (
	"time"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Test is a test case written next to the rules: a visitor, and what the
// visitor must get.
type Test struct {
	Name string
	Pos  diag.Pos
	// Values are attribute values given directly, by the slot key
	// (plugin.Slot.Key) of the attribute they name: they replace what the
	// request yields, and what is computed from them (buckets from
	// visitor.id, JSON values from a cookie, the time zone from the
	// country) follows.
	Values map[string]string
	// Buckets replace the visitor's buckets, by the slot key of a bucket
	// slot: a rollout forced in (0) or out (the last bucket).
	Buckets map[string]int
	// Visitor is the visitor id the test names; empty means a new visitor,
	// whose id is derived from the test's name so that it is bucketed the
	// same on every run.
	Visitor string
	// New, when not nil, says whether the visitor is new; nil means new
	// unless the test names the visitor.
	New *bool
	// Request, when not nil, is a request to build the context from.
	Request *Request
	// At is the time of the request; zero means the time of the run.
	At time.Time
	// Variants forces variants: a variant index by experiment index;
	// VariantsPos is where each is forced.
	Variants    map[int]int
	VariantsPos map[int]diag.Pos
	// Seen are items the visitor was already shown.
	Seen []string
	// Shown is how many times capped rules already applied to the
	// visitor, by rule index.
	Shown map[int]int
	// Page is what the origin answers; nil means the page of the request's
	// URL under Program.Pages.
	Page *Page
	// Match and NoMatch are rules (by index) that must and must not match;
	// MatchPos and NoMatchPos where each is named, for the failure to
	// point at.
	Match, NoMatch       []int
	MatchPos, NoMatchPos []diag.Pos
	// Expect is what the visitor must get beyond which rules match.
	Expect Expect
	// Then are the visitor's next page views, one after another, each
	// with what the views before it left. A view of Then has only its
	// Name ("name, view 2"), Pos, URL, Page, Match, NoMatch and Expect.
	Then []*Test
	// URL is the path a view of Then asks for; empty means the same as
	// the view before it.
	URL string
}

// Request is an HTTP request described by a test.
type Request struct {
	Method, URL string
	Headers     [][2]string
	Cookies     [][2]string
}

// Page is the origin's answer in a test: a file (a path relative to the
// rule file, as written) or a body.
type Page struct {
	File string
	Body string
	// Type is "html" or "json"; empty means from the file's extension,
	// else html.
	Type string
	Pos  diag.Pos
}

// Expect is what a test expects the visitor to get. Empty fields expect
// nothing.
type Expect struct {
	// Variants is the expected variant index by experiment index; -1
	// expects the visitor not to be enrolled.
	Variants map[int]int
	// VariantPos is where each variant expectation is written.
	VariantPos map[int]diag.Pos
	Page       []PageCheck
	// Headers are response headers, RequestHeaders headers sent to the
	// origin, Cookies cookies set on the response.
	Headers        []Expected
	RequestHeaders []Expected
	Cookies        []Expected
	// Redirect, when not nil, expects a redirect or none.
	Redirect *Redirect
	// JSON are values at gjson paths of the rewritten JSON response.
	JSON []Expected
}

// Expected is a named value that must be there (Value not nil) or must
// not (Value nil).
type Expected struct {
	Name  string
	Value *string
	Pos   diag.Pos
}

// Redirect expects a redirect to To (with Status, when not 0), or none.
type Redirect struct {
	To     string
	Status int
	None   bool
	Pos    diag.Pos
}

// PageCheck checks the first element Selector matches in the rewritten
// page, or how many elements it matches.
type PageCheck struct {
	Selector string
	// Text is the element's expected text, spaces collapsed; Contains a
	// part of it.
	Text, Contains *string
	Attrs          []Expected
	Classes        []string
	// TextPos, ContainsPos and ClassPos (one for each of Classes) are
	// where each is written; a failure points there.
	TextPos, ContainsPos diag.Pos
	ClassPos             []diag.Pos
	// Count, when HasCount, is how many elements must match.
	Count    int
	HasCount bool
	Pos      diag.Pos
}

// Empty reports whether the expectation asks for nothing.
func (e *Expect) Empty() bool {
	return len(e.Variants) == 0 && len(e.Page) == 0 && len(e.Headers) == 0 && len(e.RequestHeaders) == 0 &&
		len(e.Cookies) == 0 && e.Redirect == nil && len(e.JSON) == 0
}
