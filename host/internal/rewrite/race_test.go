//go:build race

package rewrite

// raceEnabled: the race detector slows the differential test about ten
// times; it runs on fewer generated pages.
const raceEnabled = true
