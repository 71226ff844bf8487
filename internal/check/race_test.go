//go:build race

package check

// raceEnabled: the race detector makes the random-program test ten times
// slower; it runs fewer programs then.
const raceEnabled = true
