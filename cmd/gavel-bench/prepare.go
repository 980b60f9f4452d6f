package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/internal/bench"
	"github.com/gavelhq/gavel/server"
)

// cmdPrepare creates PREFIX0..PREFIX(N-1) in a Gavel data directory while
// no server runs on it: in-band registration is throttled per address (and
// off outside --dev), and one `gavel user add` process per account would
// take minutes for 10,000.
// Existing accounts are left as they are.
func cmdPrepare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gavel-bench prepare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "Gavel data `directory` (created if missing; the server must be stopped)")
	domain := fs.String("domain", "localhost", "XMPP domain of the accounts (the server's domain)")
	users := fs.Int("users", 1000, "number of accounts")
	prefix := fs.String("prefix", "bench", "account name prefix")
	password := fs.String("password", "secret", "password of every account")
	workers := fs.Int("workers", 4, "accounts created concurrently (each costs two PBKDF2 derivations)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dataDir == "" || *users <= 0 || *users > 1_000_000 || *workers <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "gavel-bench prepare: need -data, 1 <= -users <= 1000000, -workers >= 1 and no arguments")
		return 2
	}
	cfg := server.Defaults(true)
	cfg.DataDir, cfg.Domain = *dataDir, *domain
	if err := cfg.Finalize(); err != nil {
		fmt.Fprintf(stderr, "gavel-bench prepare: %v\n", err)
		return 2
	}
	dd, err := server.OpenDataDir(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintf(stderr, "gavel-bench prepare: %v\n", err)
		return 1
	}
	start := time.Now()
	var created, existed atomic.Int64
	var firstErr error
	var once sync.Once
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(*workers, *users) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= *users {
					return
				}
				j, err := jid.New(bench.AccountName(*prefix, i), *domain, "")
				if err == nil {
					err = dd.Accounts.Create(ctx, j, *password)
				}
				switch {
				case err == nil:
					created.Add(1)
				case errors.Is(err, auth.ErrExists):
					existed.Add(1)
				default:
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if cerr := dd.Close(); cerr != nil && firstErr == nil {
		firstErr = cerr
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		fmt.Fprintf(stderr, "gavel-bench prepare: %v\n", firstErr)
		return 1
	}
	fmt.Fprintf(stdout, "prepared %d accounts %s0..%s%d@%s in %s (%d created, %d existed) in %s\n",
		*users, *prefix, *prefix, *users-1, *domain, *dataDir, created.Load(), existed.Load(), time.Since(start).Round(time.Millisecond))
	return 0
}
