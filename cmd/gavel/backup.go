package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gavelhq/gavel/server"
)

// parseFileCommand parses "NAME FILE [common flags]" (flags before or after
// FILE); code >= 0 means stop with that exit code.
func parseFileCommand(name string, args []string, e env) (cf *configFlags, file string, code int) {
	fs := newFlagSet("gavel "+name, e.stderr)
	cf = addConfigFlags(fs, false)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, "", parseExit(err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(e.stderr, "usage: gavel %s FILE [--config FILE] [--data DIR]\n", name)
		return nil, "", exitUsage
	}
	return cf, positional[0], -1
}

func quietLog(e env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// cmdBackup writes the database to FILE (via a temporary file renamed at
// the end, so a failed backup never leaves a truncated FILE) or to stdout.
func cmdBackup(ctx context.Context, args []string, e env) int {
	cf, file, code := parseFileCommand("backup", args, e)
	if code >= 0 {
		return code
	}
	cfg, err := cf.load(e)
	if err != nil {
		return fail(e, err)
	}
	has, err := server.HasDatabase(cfg.DataDir)
	if err != nil {
		return fail(e, err)
	}
	if !has {
		return fail(e, fmt.Errorf("no database in %s", cfg.DataDir))
	}
	dd, err := server.OpenDataDir(cfg, quietLog(e))
	if err != nil {
		return fail(e, err)
	}
	defer dd.Close()
	if file == "-" {
		if err := dd.Store.Backup(e.stdout); err != nil {
			return fail(e, err)
		}
		return exitOK
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".gavel-backup-*")
	if err != nil {
		return fail(e, err)
	}
	defer os.Remove(tmp.Name())              // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil { // accounts' SCRAM keys are inside
		tmp.Close()
		return fail(e, err)
	}
	if err := dd.Store.Backup(tmp); err != nil {
		tmp.Close()
		return fail(e, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail(e, err)
	}
	if err := tmp.Close(); err != nil {
		return fail(e, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stdout, "backup of %s written to %s\n", cfg.DataDir, file)
	return exitOK
}

// cmdRestore loads FILE into a data directory that holds no database yet.
func cmdRestore(ctx context.Context, args []string, e env) int {
	cf, file, code := parseFileCommand("restore", args, e)
	if code >= 0 {
		return code
	}
	cfg, err := cf.load(e)
	if err != nil {
		return fail(e, err)
	}
	var in io.Reader = e.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fail(e, err)
		}
		defer f.Close()
		in = f
	}
	has, err := server.HasDatabase(cfg.DataDir)
	if err != nil {
		return fail(e, err)
	}
	if has {
		return fail(e, fmt.Errorf("%s already holds a database; restore only into a new, empty data directory (--data DIR)", cfg.DataDir))
	}
	dd, err := server.OpenDataDir(cfg, quietLog(e))
	if err != nil {
		return fail(e, err)
	}
	if err := dd.Store.Restore(in); err != nil {
		dd.Close()
		return fail(e, err)
	}
	if err := dd.Close(); err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stdout, "restored %s into %s\n", file, cfg.DataDir)
	return exitOK
}
