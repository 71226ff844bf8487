//go:build !unix

package upstream

import "net"

// peeker cannot look at a connection without reading it here: a request
// on one the origin closed is sent again (see Transport.RoundTrip).
type peeker struct{}

func (p *peeker) init(net.Conn) {}

func (p *peeker) quiet() bool { return true }

// isConnReset has no portable test for a reset connection here.
func isConnReset(error) bool { return false }
