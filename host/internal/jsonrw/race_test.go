//go:build race

package jsonrw

// raceEnabled: the race detector drops pooled values on purpose.
const raceEnabled = true
