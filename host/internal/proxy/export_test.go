package proxy

import "time"

// faultyRewriter panics once it has been given at bytes, or, with at < 0,
// when the page ends: a rewriter bug, as the proxy meets it.
type faultyRewriter struct {
	pageRewriter
	at, in int
}

func (f *faultyRewriter) Write(p []byte) (int, error) {
	f.in += len(p)
	if f.at >= 0 && f.in >= f.at {
		panic("rewriter bug (injected by the test)")
	}
	return f.pageRewriter.Write(p)
}

func (f *faultyRewriter) Close() error {
	if f.at < 0 {
		panic("rewriter bug at the end of the page (injected by the test)")
	}
	return f.pageRewriter.Close()
}

// FailRewriters makes every page's rewriter panic once it has been
// given at bytes (at < 0: when the page ends), until undo is called. The
// tests that call it must not run in parallel.
func FailRewriters(at int) (undo func()) {
	testHookRewriter = func(rw pageRewriter) pageRewriter { return &faultyRewriter{pageRewriter: rw, at: at} }
	return func() { testHookRewriter = nil }
}

// FailJSONEdits makes the JSON edits panic, until undo is called.
func FailJSONEdits() (undo func()) {
	testHookJSONEdits = func() { panic("JSON edits bug (injected by the test)") }
	return func() { testHookJSONEdits = nil }
}

// ShortenWarnPeriod makes p's warnings about requests start a new
// period after d, for a test to see left_out without waiting.
func ShortenWarnPeriod(p *Proxy, d time.Duration) {
	p.warnings.Period = d
}
