// Package logging builds the slog.Logger every Airlock binary uses, from the
// --log-level and --log-format flags.
package logging

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Options are the logging flags.
type Options struct {
	Level  string
	Format string
}

// Register defines --log-level and --log-format on fs.
func (o *Options) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.Format, "log-format", "text", "log format: text or json")
}

// New returns a logger writing to w.
func (o Options) New(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", o.Level)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(o.Format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", o.Format)
	}
}
