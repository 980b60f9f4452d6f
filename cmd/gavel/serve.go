package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelhq/gavel/server"
)

// shutdownTimeout bounds a graceful stop; past it connections are cut.
const shutdownTimeout = 30 * time.Second

func cmdServe(ctx context.Context, args []string, e env, stopSignals func()) int {
	fs := newFlagSet("gavel serve", e.stderr)
	cf := addConfigFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		return fail(e, usageError("serve takes no arguments, got %q", fs.Args()))
	}
	cfg, err := cf.load(e)
	if err != nil {
		return fail(e, err)
	}
	log := server.NewLogger(cfg.Log, e.stderr)
	s, err := server.Start(ctx, cfg, server.WithLogger(log), server.WithOutput(e.stdout))
	if err != nil {
		return fail(e, err)
	}
	code := exitOK
	select {
	case <-ctx.Done():
		log.Info("signal received, stopping (send it again to exit at once)")
	case err := <-s.Errors():
		fmt.Fprintf(e.stderr, "gavel: %v\n", err)
		code = exitError
	}
	if stopSignals != nil {
		stopSignals()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		fmt.Fprintf(e.stderr, "gavel: shutdown: %v\n", err)
		code = exitError
	}
	return code
}
