//go:build !unix

package upstream

import "net"

// quiet cannot look at a connection without reading it here: a request
// on one the origin closed is sent again (see Transport.RoundTrip).
func quiet(net.Conn) bool { return true }

// isConnReset has no portable test for a reset connection here.
func isConnReset(error) bool { return false }
