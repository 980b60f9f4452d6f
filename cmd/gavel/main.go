// Command gavel is the Gavel XMPP server and its operations tool.
//
//	gavel serve [--dev] [--config FILE] [--data DIR] [--domain D] [listener flags]
//	gavel user add|delete|passwd|list ...
//	gavel token add|list|revoke ...
//	gavel backup FILE
//	gavel restore FILE
//	gavel version
//
// The flag package of the standard library is enough for one level of
// subcommands with a handful of flags each; a CLI framework would be the
// only third-party dependency of this file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/server"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1 // the command failed
	exitUsage  = 2 // bad command line or configuration
	exitLocked = 3 // the data directory is in use by another process
)

const usage = `Gavel: an XMPP server.

Usage:
  gavel serve [flags]                   run the server (--dev for zero-setup development)
  gavel user add NAME [--password PW | --password-stdin]
                                        create an account (a password is generated and
                                        printed when none is given)
  gavel user passwd NAME [--password PW | --password-stdin]
                                        set an account's password
  gavel user delete NAME                delete an account and its data
  gavel user list                       list the accounts of the domain
  gavel token add JID [--label L] | list | revoke HASH-PREFIX
                                        HTTP publish API tokens (docs/pubsub-api.md)
  gavel backup FILE                     write a full backup of the database ("-": stdout)
  gavel restore FILE                    load a backup into an empty data directory
  gavel version                         print the version

NAME is a localpart (alice) or a bare JID (alice@example.org).
user, token, backup and restore open the data directory directly: stop the server first.

Common flags (each also read from the environment variable in brackets):
  --config FILE      configuration file [GAVEL_CONFIG]
  --data DIR         data directory [GAVEL_DATA]
  --domain DOMAIN    XMPP domain [GAVEL_DOMAIN]
  --dev              development defaults [GAVEL_DEV]
serve only:
  --c2s-addr, --c2s-tls-addr, --s2s-addr, --http-addr HOST:PORT
                     listener addresses [GAVEL_C2S_ADDR, GAVEL_C2S_TLS_ADDR,
                     GAVEL_S2S_ADDR, GAVEL_HTTP_ADDR]; "" disables a listener
Precedence: flag > environment > file > default. See docs/configuration.md.

Exit status: 0 ok, 1 failure, 2 usage or configuration error, 3 data directory in use.
`

// env is what a command sees of its process, so tests can run commands
// in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(ctx, os.Args[1:], e, stop))
}

// run executes one command line and returns the exit code. stopSignals
// (may be nil) restores default signal handling once shutdown begins, so a
// second Ctrl-C kills the process.
func run(ctx context.Context, args []string, e env, stopSignals func()) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, e, stopSignals)
	case "user":
		return cmdUser(ctx, rest, e)
	case "token":
		return cmdToken(ctx, rest, e)
	case "backup":
		return cmdBackup(ctx, rest, e)
	case "restore":
		return cmdRestore(ctx, rest, e)
	case "version", "--version", "-version":
		fmt.Fprintf(e.stdout, "gavel %s\n", server.Version)
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "gavel: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// fail prints err and maps it to an exit code.
func fail(e env, err error) int {
	fmt.Fprintf(e.stderr, "gavel: %v\n", err)
	var ce *server.ConfigError
	switch {
	case errors.Is(err, server.ErrLocked), errors.Is(err, data.ErrInUse):
		return exitLocked
	case errors.As(err, &ce), errors.Is(err, errUsage):
		return exitUsage
	}
	return exitError
}

var errUsage = errors.New("usage")

// usageError is a command-line mistake.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}
