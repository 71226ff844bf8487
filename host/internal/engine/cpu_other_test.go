//go:build !unix

package engine_test

import "time"

// cpuTime is not read here: the tests measure wall time instead.
func cpuTime() (time.Duration, bool) { return 0, false }
