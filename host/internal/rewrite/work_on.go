//go:build rewritework

package rewrite

// trackWork turns on the work counter (Rewriter.work), which the
// linearity tests read.
const trackWork = true
