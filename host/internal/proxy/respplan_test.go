package proxy

import (
	"net/http"
	"slices"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/jsonrw"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// TestPersonalized is the definition of a personalized response, as a
// table; serve and `bespoke explain` both use it.
func TestPersonalized(t *testing.T) {
	edit := []rewrite.Edit{{Op: rewrite.SetInner}}
	tests := []struct {
		name        string
		plan        plan.Plan
		page, body  bool
		want        bool
		explainSays bool // what explain computes for a page: Personalized(p, true, len(Edits) > 0)
	}{
		{"nothing matched", plan.Plan{}, true, false, false, false},
		{"an experiment enrols the visitor, no rule matched", plan.Plan{Experiments: "hero=control"}, true, false, true, true},
		{"an experiment on an asset", plan.Plan{Experiments: "hero=control"}, false, false, false, true},
		{"page edits", plan.Plan{Edits: edit}, true, true, true, true},
		{"page edits on an asset (nothing to edit)", plan.Plan{Edits: edit}, false, false, false, true},
		{"a response header", plan.Plan{ResponseHeaders: []plan.Header{{Name: "X-A", Value: "1"}}}, false, false, true, true},
		{"a request header", plan.Plan{RequestHeaders: []plan.Header{{Name: "X-A", Value: "1"}}}, false, false, true, true},
		{"a cookie", plan.Plan{Cookies: []plan.Cookie{{Cookie: &http.Cookie{Name: "a", Value: "b"}}}}, false, false, true, true},
		{"a redirect", plan.Plan{Redirect: &plan.Redirect{Location: "/x", Status: 302}}, false, false, true, true},
		{"mark_seen only", plan.Plan{MarkSeen: []string{"sku"}}, true, false, false, false},
		{"JSON edits that changed nothing", plan.Plan{JSONEdits: []jsonrw.Edit{{Op: jsonrw.Remove, Path: "a"}}}, true, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Personalized(&tt.plan, tt.page, tt.body); got != tt.want {
				t.Errorf("Personalized = %v, want %v", got, tt.want)
			}
			if got := Personalized(&tt.plan, true, len(tt.plan.Edits) > 0); got != tt.explainSays {
				t.Errorf("for a page, as explain asks: %v, want %v", got, tt.explainSays)
			}
		})
	}
}

// TestPlanResponse: what the proxy does with a response, by plan, site
// and request, without HTTP.
func TestPlanResponse(t *testing.T) {
	html := http.Header{"Content-Type": {"text/html; charset=utf-8"}, "Etag": {`"v1"`}, "Cache-Control": {"public, max-age=60"}}
	gz := http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip"}}
	css := http.Header{"Content-Type": {"text/css"}, "Cache-Control": {"public, max-age=3600"}}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	edits := plan.Plan{Edits: []rewrite.Edit{{Op: rewrite.SetInner}}}
	seenEdits := plan.Plan{Edits: []rewrite.Edit{{Op: rewrite.HideSeen}}, SeenEdits: true}
	jsonEdits := plan.Plan{JSONEdits: []jsonrw.Edit{{Op: jsonrw.Remove, Path: "a"}}}
	site := siteFacts{hasEdits: true, vary: []string{"Cf-Ipcountry"}}
	get := requestFacts{method: "GET", maxRewriteBytes: 1000}

	type want struct {
		body         BodyKind
		head         bool
		reason       string
		personalized bool
		private      bool
		experiments  bool
		setVisitor   bool
		changed      bool
		validators   validators
		encode       string
		save         saveWhen
		vary         []string
	}
	tests := []struct {
		name   string
		in     responseInput
		after  func(responsePlan) responsePlan // a later stage: passed or jsonEdited
		expect want
	}{
		{"HTML page with edits",
			responseInput{status: 200, header: html, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyHTML, personalized: true, private: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"HEAD of that page answers as GET would",
			responseInput{status: 200, header: html, contentLength: 500, plan: &edits, site: site, req: requestFacts{method: "HEAD", maxRewriteBytes: 1000}}, nil,
			want{body: BodyHTML, head: true, personalized: true, private: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"a page nothing changed stays shared-cacheable",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: site, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"an enrolled visitor's page names the variant, so it is private",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{Experiments: "hero=bold"}, site: site, req: get}, nil,
			want{body: BodyPass, personalized: true, private: true, experiments: true, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"a page the rules that read its URL alone edited is every visitor's: not private",
			responseInput{status: 200, header: html, contentLength: 500, plan: &edits, site: site, req: requestFacts{method: "GET", maxRewriteBytes: 1000, sameForAll: true}}, nil,
			want{body: BodyHTML, personalized: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"those rules' edits with the visitor's variant named: private",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{Edits: edits.Edits, Experiments: "hero=bold"}, site: site, req: requestFacts{method: "GET", maxRewriteBytes: 1000, sameForAll: true}}, nil,
			want{body: BodyHTML, personalized: true, private: true, experiments: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"those rules' header, and a rule's cookie: private",
			responseInput{status: 200, header: css, contentLength: 500, plan: &plan.Plan{ResponseHeaders: []plan.Header{{Name: "X-A", Value: "1"}}, Cookies: []plan.Cookie{{Cookie: &http.Cookie{Name: "a", Value: "b"}}}}, site: siteFacts{touchesNonHTML: true}, req: requestFacts{method: "GET", maxRewriteBytes: 1000, sameForAll: true}}, nil,
			want{body: BodyPass, personalized: true, private: true, save: saveNever}},
		{"not a 200: passed, not personalized",
			responseInput{status: 404, header: html, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonStatus, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"larger than the limit",
			responseInput{status: 200, header: html, contentLength: 5000, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonTooLarge, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"an encoding bespoke cannot decode",
			responseInput{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"zstd"}}, contentLength: -1, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonEncoding, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"the origin asks that no intermediary change the page (no-transform)",
			responseInput{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Cache-Control": {"public, No-Transform"}}, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonNoTransform, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"no-transform on a JSON document its edits would change",
			responseInput{status: 200, header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-transform"}}, contentLength: 500, plan: &jsonEdits, site: siteFacts{touchesNonHTML: true}, req: get}, nil,
			want{body: BodyPass, reason: reasonNoTransform, save: saveNever}},
		{"XHTML, which browsers read as XML, passes untouched",
			responseInput{status: 200, header: http.Header{"Content-Type": {"application/xhtml+xml; charset=utf-8"}}, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonXHTML, save: saveNever}},
		{"a Content-Type that lists another type, which browsers take, passes untouched",
			responseInput{status: 200, header: http.Header{"Content-Type": {`text/html;x=",",application/xhtml+xml`}}, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonContentType, save: saveNever}},
		{"a Content-Type given twice passes untouched",
			responseInput{status: 200, header: http.Header{"Content-Type": {"text/html", "application/xhtml+xml"}}, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, reason: reasonContentType, save: saveNever}},
		{"an HTML file sent to be saved (Content-Disposition: attachment) is no page view",
			responseInput{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Content-Disposition": {`Attachment; filename="report.html"`}}, contentLength: 500, plan: &seenEdits, site: site, req: requestFacts{method: "GET", seen: true, seenInHeaders: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, reason: reasonAttachment, save: saveNever}},
		{"inline is shown",
			responseInput{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Content-Disposition": {"inline"}}, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyHTML, personalized: true, private: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"gzip kept for a visitor who takes it",
			responseInput{status: 200, header: gz, contentLength: -1, plan: &edits, site: site, req: requestFacts{method: "GET", acceptEncoding: "gzip, br", maxRewriteBytes: 1000}}, nil,
			want{body: BodyHTML, personalized: true, private: true, changed: true, validators: weakValidators, encode: "gzip", save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"a body that turned out not to decode passes, unpersonalized",
			responseInput{status: 200, header: gz, contentLength: -1, plan: &edits, site: site, req: get},
			func(rp responsePlan) responsePlan { return rp.passed(reasonBadEncoding) },
			want{body: BodyPass, reason: reasonBadEncoding, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"several ranges of a page carry its Vary, as a single range does",
			responseInput{status: 206, header: http.Header{"Content-Type": {"multipart/byteranges; boundary=x"}}, contentLength: 500, plan: &plan.Plan{}, site: site, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"an asset with page edits in the plan",
			responseInput{status: 200, header: css, contentLength: 500, plan: &edits, site: site, req: get}, nil,
			want{body: BodyPass, save: saveNever}},
		{"a new visitor's id on a page, when decisions read it: private",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{readsVisitor: true}, req: requestFacts{method: "GET", newVisitor: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, setVisitor: true, private: true, save: saveNever}},
		{"no visitor id on a shared-cacheable asset",
			responseInput{status: 200, header: css, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{readsVisitor: true}, req: requestFacts{method: "GET", newVisitor: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, save: saveNever}},
		{"no visitor id when nothing reads it",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{}, req: requestFacts{method: "GET", newVisitor: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, save: saveNever}},
		{"a visitor id keyed server-side seen-filter needs the id",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{}, req: requestFacts{method: "GET", newVisitor: true, seen: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, setVisitor: true, private: true, save: saveNow}},
		{"mark_seen sets the seen cookie: private",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{MarkSeen: []string{"sku"}}, site: site, req: requestFacts{method: "GET", seen: true, seenInHeaders: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, private: true, save: saveNow, vary: []string{"Cf-Ipcountry"}}},
		{"HEAD of that page: private as its GET, nothing saved",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{MarkSeen: []string{"sku"}}, site: site, req: requestFacts{method: "HEAD", seen: true, seenInHeaders: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, head: true, private: true, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"hide_seen with the cookie store holds the page",
			responseInput{status: 200, header: html, contentLength: 500, plan: &seenEdits, site: site, req: requestFacts{method: "GET", seen: true, seenInHeaders: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyHTML, personalized: true, private: true, changed: true, validators: weakValidators, save: saveAfterHold, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"hide_seen with Redis saves after the body",
			responseInput{status: 200, header: html, contentLength: 500, plan: &seenEdits, site: site, req: requestFacts{method: "GET", seen: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyHTML, personalized: true, private: true, changed: true, validators: weakValidators, save: saveAfterBody, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"the caps cookie makes a page view private",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: site, req: requestFacts{method: "GET", caps: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, private: true, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"no caps cookie on an asset",
			responseInput{status: 200, header: css, contentLength: 500, plan: &plan.Plan{}, site: site, req: requestFacts{method: "GET", caps: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, save: saveNever}},
		{"JSON: read whole before anything is known",
			responseInput{status: 200, header: jsonH, contentLength: -1, plan: &jsonEdits, site: siteFacts{touchesNonHTML: true}, req: requestFacts{method: "GET", seen: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyJSON, save: saveAfterEdit}},
		{"JSON the edits changed",
			responseInput{status: 200, header: jsonH, contentLength: -1, plan: &jsonEdits, site: siteFacts{touchesNonHTML: true}, req: get},
			func(rp responsePlan) responsePlan { return rp.jsonEdited(true) },
			want{body: BodyJSON, personalized: true, private: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Accept-Encoding"}}},
		{"JSON the edits left alone keeps the origin's headers",
			responseInput{status: 200, header: jsonH, contentLength: -1, plan: &jsonEdits, site: siteFacts{touchesNonHTML: true}, req: get},
			func(rp responsePlan) responsePlan { return rp.jsonEdited(false) },
			want{body: BodyJSON, save: saveNever}},
		{"HEAD of JSON with edits: as if changed",
			responseInput{status: 200, header: jsonH, contentLength: -1, plan: &jsonEdits, site: siteFacts{touchesNonHTML: true}, req: requestFacts{method: "HEAD", maxRewriteBytes: 1000}}, nil,
			want{body: BodyJSON, head: true, personalized: true, private: true, changed: true, validators: weakValidators, save: saveNever, vary: []string{"Accept-Encoding"}}},
		{"a 304 for a page this plan edits loses the origin's validators, and varies as its 200",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}}, contentLength: 0, plan: &edits, site: site, req: requestFacts{method: "GET", editedCopy: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, personalized: true, private: true, validators: weakValidators, save: saveNever, vary: []string{"Cf-Ipcountry", "Accept-Encoding"}}},
		{"a 304 for a style sheet is the origin's",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}}, contentLength: 0, plan: &edits, site: site, req: requestFacts{method: "GET", noDocument: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, save: saveNever}},
		{"a 304 for a page nothing edits keeps them, and varies as its 200",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}}, contentLength: 0, plan: &plan.Plan{}, site: site, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"a 304 that names no type varies as a page and as a JSON document would",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}}, contentLength: 0, plan: &plan.Plan{}, site: siteFacts{hasEdits: true, touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"Cookie"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "X-Preview", "Cookie"}}},
		{"a 304 of a route that keeps visitors' state varies with Sec-Gpc, as its 200",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}}, contentLength: 0, plan: &plan.Plan{}, site: site, req: requestFacts{method: "GET", tracking: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "Sec-Gpc"}}},
		{"a 304 that names no type sets no visitor id: it may be a public asset's",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}, "Cache-Control": {"public, max-age=60"}}, contentLength: 0, plan: &plan.Plan{}, site: siteFacts{readsVisitor: true}, req: requestFacts{method: "GET", newVisitor: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, save: saveNever}},
		{"a page whose rules read what a GeoIP lookup gave this visitor is private: no Vary can name an address",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{hasEdits: true, vary: []string{"Forwarded", "X-Forwarded-For"}}, req: requestFacts{method: "GET", byAddress: true, maxRewriteBytes: 1000}}, nil,
			want{body: BodyPass, private: true, save: saveNever, vary: []string{"Forwarded", "X-Forwarded-For"}}},
		{"where the CDN's headers gave it, the page keeps the origin's caching",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{hasEdits: true, vary: []string{"Cf-Ipcountry", "Forwarded", "X-Forwarded-For"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "Forwarded", "X-Forwarded-For"}}},
		{"a rule's response header on an asset",
			responseInput{status: 200, header: css, contentLength: 500, plan: &plan.Plan{ResponseHeaders: []plan.Header{{Name: "X-A", Value: "1"}}}, site: siteFacts{touchesNonHTML: true, vary: []string{"Cookie", "User-Agent"}, varyNonHTML: []string{"Cookie"}, varyAsset: []string{"Cookie"}}, req: get}, nil,
			want{body: BodyPass, personalized: true, private: true, save: saveNever, vary: []string{"Cookie"}}},
		{"an asset no rule changed varies with what the rules that can change it read",
			responseInput{status: 200, header: css, contentLength: 500, plan: &edits, site: siteFacts{hasEdits: true, touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"X-Preview"}, varyAsset: []string{"X-Preview"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"X-Preview"}}},
		{"an asset does not vary with what rules that edit JSON alone read",
			responseInput{status: 200, header: css, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"Cf-Ipcountry", "X-Preview"}, varyAsset: []string{"X-Preview"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"X-Preview"}}},
		{"JSON no rule changed varies with what the rules that edit it read",
			responseInput{status: 200, header: http.Header{"Content-Type": {"application/json"}}, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"Cf-Ipcountry", "X-Preview"}, varyAsset: []string{"X-Preview"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "X-Preview"}}},
		{"a 416 varies as the page or JSON it may stand for",
			responseInput{status: 416, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, contentLength: 20, plan: &plan.Plan{}, site: siteFacts{hasEdits: true, touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"X-Preview"}, varyAsset: []string{}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "X-Preview"}}},
		{"a 416 varies as the JSON it may stand for",
			responseInput{status: 416, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, contentLength: 20, plan: &plan.Plan{}, site: siteFacts{touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"Cf-Ipcountry"}, varyAsset: []string{}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry"}}},
		{"a 304 of no type varies as the JSON it may stand for",
			responseInput{status: 304, header: http.Header{"Etag": {`"v1"`}}, contentLength: 0, plan: &plan.Plan{}, site: siteFacts{touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"Cf-Ipcountry", "X-Preview"}, varyAsset: []string{"X-Preview"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "X-Preview"}}},
		{"a page those rules and the page edits may change varies with what they all read",
			responseInput{status: 200, header: html, contentLength: 500, plan: &plan.Plan{}, site: siteFacts{hasEdits: true, touchesNonHTML: true, vary: []string{"Cf-Ipcountry", "X-Preview"}, varyNonHTML: []string{"X-Preview"}}, req: get}, nil,
			want{body: BodyPass, save: saveNever, vary: []string{"Cf-Ipcountry", "X-Preview"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := planResponse(tt.in)
			if tt.after != nil {
				rp = tt.after(rp)
			}
			got := want{rp.body, rp.head, rp.reason, rp.personalized, rp.private, rp.experiments, rp.setVisitor, rp.changed, rp.validators, rp.encode, rp.save, rp.vary}
			if got.body != tt.expect.body || got.head != tt.expect.head || got.reason != tt.expect.reason ||
				got.personalized != tt.expect.personalized || got.private != tt.expect.private || got.experiments != tt.expect.experiments ||
				got.setVisitor != tt.expect.setVisitor || got.changed != tt.expect.changed || got.validators != tt.expect.validators ||
				got.encode != tt.expect.encode || got.save != tt.expect.save || !slices.Equal(got.vary, tt.expect.vary) {
				t.Errorf("plan:\n got  %+v\n want %+v", got, tt.expect)
			}
			// The shared definition and the plan agree.
			ct := tt.in.header.Get("Content-Type")
			page := isHTML(ct) || isJSON(ct) || tt.in.status == http.StatusNotModified && rp.validators == weakValidators
			bodyChanged := rp.changed || tt.in.status == http.StatusNotModified && rp.validators == weakValidators
			if p := Personalized(tt.in.plan, page, bodyChanged); p != rp.personalized {
				t.Errorf("Personalized(plan, page=%v, changed=%v) = %v, the plan says %v", page, bodyChanged, p, rp.personalized)
			}
		})
	}
}

// TestPageViews: which responses are page views, when the caps and the
// mark_seen items of the rules that took effect are known, and how long a
// page is held back for them.
func TestPageViews(t *testing.T) {
	html := http.Header{"Content-Type": {"text/html"}}
	css := http.Header{"Content-Type": {"text/css"}}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	popup := rewrite.Edit{Op: rewrite.InsertBefore, Content: []byte("<div>")}
	// Rule 0 is capped: by a header, by a page edit, by both.
	byHeader := plan.Plan{Capped: []int{0}, ResponseHeaders: []plan.Header{{Name: "X-Promo", Value: "1", Rule: 0}}}
	byEdit := plan.Plan{Capped: []int{0}, Edits: []rewrite.Edit{popup}, EditRules: []int{0}}
	byBoth := plan.Plan{Capped: []int{0}, Edits: []rewrite.Edit{popup}, EditRules: []int{0}, Cookies: []plan.Cookie{{Cookie: &http.Cookie{Name: "c", Value: "1"}, Rule: 0}}}
	byJSON := plan.Plan{Capped: []int{0}, JSONEdits: []jsonrw.Edit{{Op: jsonrw.Remove, Path: "a"}}, JSONRules: []int{0}}
	marked := plan.Plan{MarkSeen: []string{"promo"}, MarkSeenRules: []int{0}, Edits: []rewrite.Edit{popup}, EditRules: []int{0}}
	seenAndCapped := plan.Plan{Capped: []int{1}, Edits: []rewrite.Edit{{Op: rewrite.HideSeen}, popup}, EditRules: []int{0, 1}, SeenEdits: true}
	get := requestFacts{method: "GET", caps: true, maxRewriteBytes: 1000}
	cookieStore := requestFacts{method: "GET", seen: true, seenInHeaders: true, maxRewriteBytes: 1000}
	redis := requestFacts{method: "GET", seen: true, maxRewriteBytes: 1000}
	with := func(r requestFacts, f func(*requestFacts)) requestFacts { f(&r); return r }

	type want struct {
		view            bool
		capsAt, marksAt effectsWhen
		hold            holdKind
		save            saveWhen
		noCache         bool
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		plan   plan.Plan
		req    requestFacts
		want   want
	}{
		{"a page, capped by a header: counted before the headers", 200, html, byHeader, get, want{true, effectsNow, effectsNever, holdNone, saveNever, false}},
		{"the same rule on a style sheet: no view", 200, css, byHeader, get, want{false, effectsNever, effectsNever, holdNone, saveNever, false}},
		{"a page loaded as an image (Sec-Fetch-Dest)", 200, html, byHeader, with(get, func(r *requestFacts) { r.asset = true }), want{false, effectsNever, effectsNever, holdNone, saveNever, false}},
		{"HEAD: no view, but no-cache as its GET's that counts", 200, html, byHeader, with(get, func(r *requestFacts) { r.method = "HEAD" }), want{false, effectsNever, effectsNever, holdNone, saveNever, true}},
		{"HEAD of a page hide_seen edits: nothing recorded, no-cache as its GET", 200, html, seenAndCapped, with(cookieStore, func(r *requestFacts) { r.method = "HEAD" }), want{false, effectsNever, effectsNever, holdNone, saveNever, true}},
		{"HEAD of a prefetch", 200, html, marked, with(cookieStore, func(r *requestFacts) { r.method, r.asset = "HEAD", true }), want{false, effectsNever, effectsNever, holdNone, saveNever, false}},
		{"a 404 page", 404, html, byHeader, get, want{false, effectsNever, effectsNever, holdNone, saveNever, false}},
		{"capped by a page edit: held until it applies", 200, html, byEdit, get, want{true, effectsAfterHold, effectsNever, holdEffects, saveNever, false}},
		{"capped by an edit and a cookie: the cookie decides", 200, html, byBoth, get, want{true, effectsNow, effectsNever, holdNone, saveNever, false}},
		{"capped by a JSON edit", 200, jsonH, byJSON, get, want{true, effectsAfterEdit, effectsNever, holdNone, saveNever, false}},
		{"a 304 for a copy with the edits", 304, http.Header{}, byEdit, with(get, func(r *requestFacts) { r.editedCopy = true }), want{true, effectsNow, effectsNever, holdNone, saveNever, false}},
		{"a 304 for another copy", 304, http.Header{}, byEdit, get, want{false, effectsNever, effectsNever, holdNone, saveNever, false}},
		{"mark_seen with an edit, cookie store: held", 200, html, marked, cookieStore, want{true, effectsNever, effectsAfterHold, holdEffects, saveAfterHold, true}},
		{"mark_seen with an edit, Redis: after the body", 200, html, marked, redis, want{true, effectsNever, effectsAfterBody, holdNone, saveAfterBody, true}},
		{"mark_seen on a prefetch: nothing recorded", 200, html, marked, with(cookieStore, func(r *requestFacts) { r.asset = true }), want{false, effectsNever, effectsNever, holdNone, saveNever, false}},
		{"hide_seen in a cookie and a capped edit: held whole", 200, html, seenAndCapped, with(cookieStore, func(r *requestFacts) { r.caps = true }), want{true, effectsAfterHold, effectsNever, holdAll, saveAfterHold, true}},
		{"hide_seen with Redis and a capped edit: held for the cap", 200, html, seenAndCapped, with(redis, func(r *requestFacts) { r.caps = true }), want{true, effectsAfterHold, effectsNever, holdEffects, saveAfterBody, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := planResponse(responseInput{status: tt.status, header: tt.header, contentLength: 100, plan: &tt.plan, site: siteFacts{hasEdits: true, touchesNonHTML: true}, req: tt.req})
			got := want{rp.view, rp.capsAt, rp.marksAt, rp.hold, rp.save, rp.noCache}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestEffective: which matched rules took effect in a page view.
func TestEffective(t *testing.T) {
	popup := rewrite.Edit{Op: rewrite.InsertBefore}
	pl := plan.Plan{
		// Rule 0 sets a header; 1 edits the page (edits 0 and 1); 2 only
		// records; 3 edits JSON; 4 lost its conflicts (nothing in the
		// plan); 5 redirects.
		ResponseHeaders: []plan.Header{{Name: "X-A", Rule: 0}},
		Edits:           []rewrite.Edit{popup, popup}, EditRules: []int{1, 1},
		MarkSeen: []string{"a", "b"}, MarkSeenRules: []int{2, 1},
		JSONEdits: []jsonrw.Edit{{Op: jsonrw.Remove}}, JSONRules: []int{3},
		Redirect: &plan.Redirect{Rule: 5},
	}
	none := func(int) bool { return false }
	second := func(ei int) bool { return ei == 1 }
	tests := []struct {
		rule    int
		body    BodyKind
		applied func(int) bool
		want    bool
	}{
		{0, BodyHTML, none, true},
		{0, BodyPass, nil, true},
		{1, BodyHTML, none, false},
		{1, BodyHTML, second, true},
		{1, BodyHTML, nil, true},
		{1, BodyJSON, second, false},
		{1, BodyPass, nil, false},
		{2, BodyHTML, none, true},
		{2, BodyJSON, none, true},
		{3, BodyJSON, func(ei int) bool { return ei == 0 }, true},
		{3, BodyJSON, none, false},
		{3, BodyHTML, nil, false},
		{4, BodyHTML, nil, false},
		{5, BodyPass, nil, true},
	}
	for _, tt := range tests {
		if got := effective(&pl, tt.rule, tt.body, tt.applied); got != tt.want {
			t.Errorf("rule %d, body %v: %v, want %v", tt.rule, tt.body, got, tt.want)
		}
	}
}

// TestNotAView: which requests say they are no page view (NotAView),
// and which that they load no document the rules could edit
// (loadsNoDocument).
func TestNotAView(t *testing.T) {
	tests := []struct {
		header          http.Header
		notView, noPage bool
	}{
		{http.Header{}, false, false},
		{http.Header{"Sec-Fetch-Dest": {"document"}}, false, false},
		{http.Header{"Sec-Fetch-Dest": {"iframe"}}, false, false},
		{http.Header{"Sec-Fetch-Dest": {"empty"}}, false, false}, // fetch(), XHR
		{http.Header{"Sec-Fetch-Dest": {"image"}}, true, true},
		{http.Header{"Sec-Fetch-Dest": {"style"}}, true, true},
		{http.Header{"Sec-Fetch-Dest": {"script"}}, true, true},
		{http.Header{"Sec-Fetch-Dest": {"font"}}, true, true},
		{http.Header{"Sec-Fetch-Dest": {"video"}, "Accept": {"*/*"}}, true, true},
		{http.Header{"Sec-Fetch-Dest": {"json"}}, true, false},     // a JSON module
		{http.Header{"Sec-Fetch-Dest": {"manifest"}}, true, false}, // JSON too
		{http.Header{"Sec-Fetch-Dest": {"document"}, "Sec-Purpose": {"prefetch"}}, true, false},
		{http.Header{"Sec-Fetch-Dest": {"document"}, "Sec-Purpose": {"prefetch;prerender"}}, true, false},
		{http.Header{"Purpose": {"prefetch"}}, true, false},
		{http.Header{"X-Moz": {"prefetch"}}, true, false},
		{http.Header{"Accept": {"*/*"}}, false, false}, // curl
		{http.Header{"Accept": {"text/html,application/xhtml+xml;q=0.9"}}, false, false},
		{http.Header{"Accept": {"application/json"}}, false, false},
		{http.Header{"Accept": {"application/vnd.api+json"}}, false, false},
		{http.Header{"Accept": {"text/css,*/*;q=0.1"}}, false, false},
		{http.Header{"Accept": {"text/css"}}, true, true},
		{http.Header{"Accept": {"image/avif,image/webp"}}, true, true},
	}
	for _, tt := range tests {
		if got := NotAView(tt.header); got != tt.notView {
			t.Errorf("NotAView(%v): %v, want %v", tt.header, got, tt.notView)
		}
		if got := loadsNoDocument(tt.header); got != tt.noPage {
			t.Errorf("loadsNoDocument(%v): %v, want %v", tt.header, got, tt.noPage)
		}
	}
}

// TestAcceptDecodable: a request whose response may be rewritten offers
// the origin only the codings the proxy can undo, in the visitor's order
// and with the visitor's weights.
func TestAcceptDecodable(t *testing.T) {
	tests := []struct {
		name string
		in   []string // the visitor's Accept-Encoding lines; nil: none
		want []string // nil: left as it was
	}{
		{"none sent: left so", nil, nil},
		{"Chrome and Firefox", []string{"gzip, deflate, br, zstd"}, []string{"gzip, br"}},
		{"only what can be undone: left as it was", []string{"br;q=1.0, gzip;q=0.8"}, nil},
		{"a wildcard would let the origin pick any", []string{"gzip, *;q=0.1"}, []string{"gzip"}},
		{"weights and case kept", []string{"ZSTD;q=1, Br;q=0.9, GZIP;q=0.5"}, []string{"Br;q=0.9, GZIP;q=0.5"}},
		{"identity kept", []string{"zstd, identity;q=0.5, *;q=0"}, []string{"identity;q=0.5"}},
		{"nothing that can be undone: identity", []string{"zstd"}, []string{"identity"}},
		{"several lines", []string{"zstd", "x-gzip"}, []string{"x-gzip"}},
		{"empty parts", []string{" , gzip ,, "}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.in {
				h.Add("Accept-Encoding", v)
			}
			want := tt.want
			if want == nil {
				want = tt.in
			}
			acceptDecodable(h)
			if got := h.Values("Accept-Encoding"); !slices.Equal(got, want) {
				t.Errorf("%q became %q, want %q", tt.in, got, want)
			}
		})
	}
}
