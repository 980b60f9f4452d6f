package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/gavelhq/gavel/server"
)

// configFlags registers the flags that feed server.Load; only flags the
// user actually set become overrides.
type configFlags struct {
	fs        *flag.FlagSet
	listeners bool
	o         server.Overrides
}

func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// addConfigFlags registers --config, --data, --domain, --dev and, with
// listeners, the four listener addresses.
func addConfigFlags(fs *flag.FlagSet, listeners bool) *configFlags {
	c := &configFlags{fs: fs, listeners: listeners}
	fs.Func("config", "configuration `file` (env GAVEL_CONFIG)", setString(&c.o.Config))
	fs.Func("data", "data `dir`ectory (env GAVEL_DATA; default ./gavel-data)", setString(&c.o.DataDir))
	fs.Func("domain", "XMPP `domain` (env GAVEL_DOMAIN; default localhost)", setString(&c.o.Domain))
	fs.BoolFunc("dev", "development mode: loopback listeners, no required TLS, demo accounts (env GAVEL_DEV)", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		c.o.Dev = &b
		return nil
	})
	if listeners {
		fs.Func("c2s-addr", "client STARTTLS listener `host:port` (env GAVEL_C2S_ADDR; default :5222)", setString(&c.o.C2SAddr))
		fs.Func("c2s-tls-addr", "client direct-TLS listener `host:port` (env GAVEL_C2S_TLS_ADDR; default :5223)", setString(&c.o.C2STLSAddr))
		fs.Func("s2s-addr", "server-to-server listener `host:port` (env GAVEL_S2S_ADDR; default :5269; not implemented yet)", setString(&c.o.S2SAddr))
		fs.Func("http-addr", "HTTP listener `host:port` (env GAVEL_HTTP_ADDR; default :5280)", setString(&c.o.HTTPAddr))
	}
	return c
}

// parseExit maps a flag parsing error to an exit code: -h is not a mistake.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// parseInterleaved parses args with fs, letting flags come before or
// after the positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func setString(dst **string) func(string) error {
	return func(v string) error {
		*dst = &v
		return nil
	}
}

// load resolves the configuration with e's environment.
func (c *configFlags) load(e env) (server.Config, error) {
	return server.Load(c.o, e.getenv)
}
