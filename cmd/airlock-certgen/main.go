// Command airlock-certgen creates the CA, server and client certificates (PEM and
// PKCS#12) an Airlock deployment or testbed needs; see --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/version"
)

func main() {
	var f certgen.Flags
	fs := flag.NewFlagSet("airlock-certgen", flag.ContinueOnError)
	f.Register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), certgen.HelpText)
		fs.PrintDefaults()
	}
	if err := flagenv.Parse(fs, certgen.EnvPrefix, os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "airlock-certgen:", err)
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "airlock-certgen: unexpected arguments %q (names go in --server/--client)\n", fs.Args())
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, logger, os.Stdout, &f)
	stop()
	os.Exit(code)
}

// run generates the files and prints what it did; it returns the exit code.
func run(ctx context.Context, logger *slog.Logger, stdout io.Writer, f *certgen.Flags) int {
	if f.Version {
		fmt.Fprintln(stdout, "airlock-certgen", version.Version)
		return 0
	}
	dir, opts, err := f.Opts()
	if err != nil {
		logger.Error("invalid flags", "err", err)
		return 2
	}
	if ctx.Err() != nil {
		return 1
	}
	res, err := certgen.Generate(dir, opts...)
	if res != nil {
		if perr := res.Print(stdout); perr != nil {
			logger.Error("print result", "err", perr)
		}
	}
	if err != nil {
		logger.Error("generate certificates", "dir", dir, "err", err)
		return 1
	}
	return 0
}
