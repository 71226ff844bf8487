//go:build race

package fragment

// raceEnabled: the race detector makes the random-fragment tests several
// times slower; they try fewer fragments then.
const raceEnabled = true
