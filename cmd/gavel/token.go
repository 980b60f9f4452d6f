package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/webui"
)

const tokenUsage = `Usage:
  gavel token add JID [--label TEXT] [common flags]
  gavel token list [common flags]
  gavel token revoke HASH-PREFIX [common flags]

Tokens of the HTTP publish API (docs/pubsub-api.md). A token acts as JID
(NAME or NAME@DOMAIN, or any JID) with that JID's pubsub permissions. add
prints the token once: only its SHA-256 is stored. list shows each token's
hash prefix, JID, creation time and label; revoke takes a hash prefix of at
least 6 hex digits.
`

func cmdToken(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, tokenUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("gavel token "+sub, e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, tokenUsage); fs.PrintDefaults() }
	cf := addConfigFlags(fs, false)
	var label string
	wantArgs := 1
	switch sub {
	case "add":
		fs.StringVar(&label, "label", "", "what the token is for (shown by list)")
	case "revoke":
	case "list":
		wantArgs = 0
	default:
		fmt.Fprintf(e.stderr, "gavel token: unknown subcommand %q\n\n%s", sub, tokenUsage)
		return exitUsage
	}
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(positional) != wantArgs {
		fmt.Fprint(e.stderr, tokenUsage)
		return exitUsage
	}
	cfg, err := cf.load(e)
	if err != nil {
		return fail(e, err)
	}
	actor := ""
	if sub == "add" {
		// A bare name is an account of the domain; anything with '@' or a
		// dot (a service or remote JID) is taken as given.
		actor = positional[0]
		if !strings.ContainsAny(actor, "@.") {
			j, err := parseUser(actor, cfg.Domain)
			if err != nil {
				return fail(e, err)
			}
			actor = j.String()
		}
	}
	dd, err := server.OpenDataDir(cfg, quietLog(e))
	if err != nil {
		return fail(e, err)
	}
	defer func() {
		if err := dd.Close(); err != nil {
			fmt.Fprintf(e.stderr, "gavel: closing the database: %v\n", err)
		}
	}()
	tokens := webui.NewTokens(dd.Store)

	switch sub {
	case "add":
		token, info, err := tokens.Create(ctx, actor, label)
		if errors.Is(err, webui.ErrTokenInput) {
			return fail(e, usageError("%v", err))
		} else if err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.stdout, "created token %s for %s\ntoken: %s\n", info.Hash[:12], info.JID, token)
		fmt.Fprintln(e.stderr, "gavel: the token is shown only now; store it safely")
		if !cfg.PubSub.API {
			fmt.Fprintln(e.stderr, "gavel: note: the HTTP publish API is off (set pubsub.api: true)")
		}
	case "list":
		list, err := tokens.List(ctx)
		if err != nil {
			return fail(e, err)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "HASH\tJID\tCREATED\tLABEL")
		for _, t := range list {
			fmt.Fprintf(tw, "%.12s\t%s\t%s\t%s\n", t.Hash, t.JID, t.Created.UTC().Format("2006-01-02 15:04:05Z"), t.Label)
		}
		_ = tw.Flush()
	case "revoke":
		info, err := tokens.Revoke(ctx, positional[0])
		switch {
		case errors.Is(err, webui.ErrTokenNotFound), errors.Is(err, webui.ErrTokenAmbiguous):
			return fail(e, fmt.Errorf("%s: %w", positional[0], err))
		case errors.Is(err, webui.ErrTokenInput):
			return fail(e, usageError("%v", err))
		case err != nil:
			return fail(e, err)
		}
		fmt.Fprintf(e.stdout, "revoked token %.12s for %s\n", info.Hash, info.JID)
	}
	return exitOK
}
