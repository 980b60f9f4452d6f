package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/server"
)

const userUsage = `Usage:
  gavel user add NAME [--password PW | --password-stdin] [common flags]
  gavel user passwd NAME [--password PW | --password-stdin] [common flags]
  gavel user delete NAME [common flags]
  gavel user list [common flags]

Without --password or --password-stdin a random password is generated and
printed. --password puts the password in your shell history and the process
list; prefer --password-stdin (the first line of standard input).
`

func cmdUser(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, userUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("gavel user "+sub, e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, userUsage); fs.PrintDefaults() }
	cf := addConfigFlags(fs, false)
	var password *string
	var fromStdin bool
	if sub == "add" || sub == "passwd" {
		fs.Func("password", "the new `password`", setString(&password))
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	wantArgs := 1
	switch sub {
	case "add", "passwd", "delete":
	case "list":
		wantArgs = 0
	default:
		fmt.Fprintf(e.stderr, "gavel user: unknown subcommand %q\n\n%s", sub, userUsage)
		return exitUsage
	}
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(positional) != wantArgs {
		fmt.Fprint(e.stderr, userUsage)
		return exitUsage
	}
	if password != nil && fromStdin {
		return fail(e, usageError("give either --password or --password-stdin, not both"))
	}
	cfg, err := cf.load(e)
	if err != nil {
		return fail(e, err)
	}
	var user jid.JID
	if wantArgs == 1 {
		if user, err = parseUser(positional[0], cfg.Domain); err != nil {
			return fail(e, err)
		}
	}
	dd, err := server.OpenDataDir(cfg, slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return fail(e, err)
	}
	defer func() {
		if err := dd.Close(); err != nil {
			fmt.Fprintf(e.stderr, "gavel: closing the database: %v\n", err)
		}
	}()
	acc := dd.Accounts

	switch sub {
	case "list":
		names, err := acc.List(ctx, cfg.Domain)
		if err != nil {
			return fail(e, err)
		}
		for _, n := range names {
			fmt.Fprintf(e.stdout, "%s@%s\n", n, cfg.Domain)
		}
		return exitOK
	case "delete":
		if err := acc.Delete(ctx, user); err != nil {
			if errors.Is(err, auth.ErrNoAccount) {
				return fail(e, fmt.Errorf("no account %s", user))
			}
			return fail(e, err)
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", user)
		return exitOK
	}

	pw, generated, err := choosePassword(password, fromStdin, e.stdin)
	if err != nil {
		return fail(e, err)
	}
	if sub == "add" {
		err = acc.Create(ctx, user, pw)
	} else {
		err = acc.SetPassword(ctx, user, pw)
	}
	switch {
	case errors.Is(err, auth.ErrExists):
		return fail(e, fmt.Errorf("account %s already exists (use gavel user passwd to change its password)", user))
	case errors.Is(err, auth.ErrNoAccount):
		return fail(e, fmt.Errorf("no account %s (use gavel user add to create it)", user))
	case errors.Is(err, auth.ErrWeak):
		return fail(e, fmt.Errorf("password rejected: %w", err))
	case err != nil:
		return fail(e, err)
	}
	verb := "created"
	if sub == "passwd" {
		verb = "changed password of"
	}
	if generated {
		fmt.Fprintf(e.stdout, "%s %s\npassword: %s\n", verb, user, pw)
	} else {
		fmt.Fprintf(e.stdout, "%s %s\n", verb, user)
	}
	return exitOK
}

// parseUser accepts a localpart or a bare JID of the configured domain.
func parseUser(name, domain string) (jid.JID, error) {
	if !strings.Contains(name, "@") {
		name += "@" + domain
	}
	j, err := jid.Parse(name)
	if err != nil {
		return jid.JID{}, usageError("%q is not a valid user name: %v", name, err)
	}
	if j.Localpart() == "" || j.Resourcepart() != "" {
		return jid.JID{}, usageError("%q is not a user (want NAME or NAME@%s)", name, domain)
	}
	if j.Domainpart() != domain {
		return jid.JID{}, usageError("%s is not on this server's domain %s (set --domain)", j, domain)
	}
	return j, nil
}

// choosePassword returns the flag's password, the first line of stdin, or a
// generated one.
func choosePassword(flagPW *string, fromStdin bool, stdin io.Reader) (pw string, generated bool, err error) {
	switch {
	case flagPW != nil:
		pw = *flagPW
	case fromStdin:
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("reading the password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	default:
		return server.GeneratePassword(), true, nil
	}
	if pw == "" {
		return "", false, usageError("empty password")
	}
	return pw, false, nil
}
