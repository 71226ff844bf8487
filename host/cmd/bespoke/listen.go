package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/bespoke-edge/bespoke/host/internal/activation"
	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/server"
)

// listeners opens the visitors' listener and the admin one (nil when the
// admin API is off): the sockets a service manager passed (systemd's
// socket activation), which outlive a restart of the process, else the
// configured addresses. passed says which are the manager's sockets,
// whose addresses listen and admin do not set.
func listeners(cfg *config.Config, log *slog.Logger) (ln, adminLn net.Listener, passed server.Passed, err error) {
	socks, err := activation.Listeners()
	if err != nil {
		return nil, nil, passed, err
	}
	if len(socks) > 0 {
		if ln, adminLn, err = activation.Roles(socks); err != nil {
			for _, s := range socks {
				s.Listener.Close()
			}
			return nil, nil, passed, err
		}
		passed.Visitors = true
		log.Info("listening on the sockets the service manager passed", "visitors", ln.Addr().String(), "listen", cfg.Listen+" (not used)")
		if adminLn != nil && cfg.AdminAddr() == "" {
			// The admin API is off: the socket meant for it serves
			// nothing, and is closed rather than left to queue
			// connections no one accepts.
			log.Warn("a socket for the admin API was passed, but the admin API is off (admin: \"\"); closing it", "addr", adminLn.Addr().String())
			adminLn.Close()
			adminLn = nil
		}
		passed.Admin = adminLn != nil
	} else if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, nil, passed, inUse(err, "--listen")
	}
	if addr := cfg.AdminAddr(); addr != "" && adminLn == nil {
		if adminLn, err = net.Listen("tcp", addr); err != nil {
			ln.Close()
			return nil, nil, passed, fmt.Errorf("admin listener: %w", inUse(err, "--admin"))
		}
	}
	if adminLn != nil {
		log.Info("admin listening", "addr", adminLn.Addr().String())
	}
	return ln, adminLn, passed, nil
}

// inUse says, of a listen that failed for an address something else
// holds, what to do and which option changes it (Go says "bind: address
// already in use" alone); any other error is returned as it is.
func inUse(err error, option string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: something else listens there (make run, another bespoke); stop it, or give %s another address", err, option)
	}
	return err
}
