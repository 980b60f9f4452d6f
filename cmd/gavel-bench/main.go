// Command gavel-bench is Gavel's load tool: it drives any XMPP server
// (Gavel, Prosody, ejabberd) over standard c2s TCP (STARTTLS optional) or
// WebSocket through the scenarios of docs/benchmarks.md, prints a table and
// one JSON line per run, and compares runs side by side.
//
//	gavel-bench run -scenario S2 -addr 127.0.0.1:5222 -users 1000 -server-pid 1234
//	gavel-bench prepare -data DIR -users 1000        # Gavel accounts, server stopped
//	gavel-bench compare -markdown results.jsonl
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gavelhq/gavel/internal/bench"
)

const usage = `Usage:
  gavel-bench run [flags] [SCENARIO]     run a scenario (S1 idle sessions, S2 login storm, S3 one-to-one chat,
                                         S4 auction room, S5 silent watchers, S6 MUC join storm,
                                         S7 pubsub fan-out)
  gavel-bench prepare [flags]            create benchmark accounts in a stopped Gavel's data directory
  gavel-bench compare [flags] FILE...    side-by-side table from JSON result lines
  gavel-bench quiet [flags]              wait until the host's CPU is idle enough to measure
Run "gavel-bench COMMAND -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "prepare":
		return cmdPrepare(ctx, rest, stdout, stderr)
	case "compare":
		return cmdCompare(rest, stdout, stderr)
	case "quiet":
		return cmdQuiet(ctx, rest, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gavel-bench: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// -cpuprofile is taken out before the scenario flags: it is about the
	// tool, not the run (is the tool the bottleneck?).
	var profile string
	for i := 0; i < len(args); i++ {
		if a := args[i]; a == "-cpuprofile" || a == "--cpuprofile" {
			if i+1 >= len(args) {
				fmt.Fprintln(stderr, "gavel-bench run: -cpuprofile needs a file")
				return 2
			}
			profile = args[i+1]
			args = append(args[:i:i], args[i+2:]...)
			break
		}
	}
	cfg, err := bench.ParseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "  -cpuprofile file\n    \twrite the tool's CPU profile to file")
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gavel-bench run: %v\n", err)
		return 2
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			fmt.Fprintf(stderr, "gavel-bench run: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "gavel-bench run: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, cfg, stderr)
	if res != nil && len(res.Metrics) > 0 {
		res.WriteTable(stdout)
		line, jerr := res.JSONLine()
		if jerr == nil {
			fmt.Fprintf(stdout, "%s\n", line)
		}
		if cfg.JSONFile != "" {
			if err := res.AppendJSON(cfg.JSONFile); err != nil {
				fmt.Fprintf(stderr, "gavel-bench: %v\n", err)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gavel-bench run: %s: %v\n", cfg.Scenario, err)
		if res != nil {
			for _, e := range res.Errors {
				fmt.Fprintf(stderr, "  %s\n", e)
			}
		}
		return 1
	}
	return 0
}

func cmdCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gavel-bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subject := fs.String("subject", "gavel", "server whose ratios against the best other server are shown")
	markdown := fs.Bool("markdown", false, "print Markdown tables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "gavel-bench compare: give one or more files of JSON result lines")
		return 2
	}
	var all []*bench.Result
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "gavel-bench compare: %v\n", err)
			return 1
		}
		rs, err := bench.ReadResults(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "gavel-bench compare: %s: %v\n", name, err)
			return 1
		}
		all = append(all, rs...)
	}
	if len(all) == 0 {
		fmt.Fprintf(stderr, "gavel-bench compare: no results in %s\n", strings.Join(fs.Args(), ", "))
		return 1
	}
	bench.WriteComparison(stdout, all, *subject, *markdown)
	return 0
}

// cmdQuiet waits until the whole host uses less than -max-busy percent of
// one core over a -window, for at most -timeout: on a shared machine other
// work would otherwise inflate the latencies of the next run. Exit 0 when
// quiet, 1 on timeout (the caller may run anyway; other_cpu in the result
// shows how much the run competed).
func cmdQuiet(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gavel-bench quiet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxBusy := fs.Float64("max-busy", 25, "percent of one core the host may use")
	window := fs.Duration("window", 3*time.Second, "sampling window")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *window <= 0 || *timeout <= 0 {
		fmt.Fprintln(stderr, "gavel-bench quiet: -window and -timeout must be positive")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for {
		b0, err := bench.HostBusy()
		if err != nil {
			fmt.Fprintf(stderr, "gavel-bench quiet: %v\n", err)
			return 1
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "gavel-bench quiet: host still busy after %v\n", *timeout)
			return 1
		case <-time.After(*window):
		}
		b1, err := bench.HostBusy()
		if err != nil {
			fmt.Fprintf(stderr, "gavel-bench quiet: %v\n", err)
			return 1
		}
		busy := 100 * float64(b1-b0) / float64(*window)
		if busy <= *maxBusy {
			return 0
		}
		fmt.Fprintf(stderr, "gavel-bench quiet: host busy %.0f%% of a core, waiting\n", busy)
	}
}
