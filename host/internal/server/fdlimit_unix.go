//go:build unix

package server

import (
	"os"
	"syscall"
)

// fileLimits returns the file descriptors the process may open (its soft
// RLIMIT_NOFILE, which Go's runtime raises to the hard one at start; 0
// when unlimited or unknown) and those it has open.
func fileLimits() (files, open int64) {
	var rl syscall.Rlimit
	// RLIM_INFINITY is the largest value: unlimited, as is a limit no
	// process reaches.
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<40 {
		return 0, 0
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = int64(len(ents))
	} else if ents, err := os.ReadDir("/dev/fd"); err == nil {
		open = int64(len(ents))
	}
	return int64(rl.Cur), open
}
