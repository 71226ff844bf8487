// Command caddy-bespoke is Caddy with its standard modules and bespoke's
// (the bespoke Caddyfile directive). It is what `xcaddy build --with
// github.com/bespoke-edge/bespoke/caddy` builds, kept here so that the
// tests and benchmarks build the same binary from this checkout.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/bespoke-edge/bespoke/caddy"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
