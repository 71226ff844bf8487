package main

import "io"

func previewCmd(args []string, stdout, stderr io.Writer) error {
	return usagef("not yet")
}
