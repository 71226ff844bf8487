//go:build !race

package jsonrw

const raceEnabled = false
