//go:build !rewritework

package rewrite

// trackWork turns on the work counter (Rewriter.work), which the
// linearity tests read: build with -tags rewritework. Off, the counter
// costs nothing.
const trackWork = false
