//go:build !race

package fragment

const raceEnabled = false
