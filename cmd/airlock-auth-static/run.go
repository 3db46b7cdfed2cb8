package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

const envPrefix = "AIRLOCK_AUTH_STATIC_"

// config is the plugin's command line.
type config struct {
	users      flagenv.StringList
	usersFile  string
	iterations int
	logLevel   slog.Level
	version    bool
}

func newConfig(fs *flag.FlagSet) *config {
	c := &config{}
	fs.Var(&c.users, "user", "a user as user=password (repeatable; in the env separate entries with ';')")
	fs.StringVar(&c.usersFile, "users-file", "", "file of user=password lines, # for comments")
	fs.IntVar(&c.iterations, "scram-iterations", 4096, "SCRAM iteration count of the derived credentials (4096 and up)")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error (logs go to stderr, which the proxy forwards)")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.String(flagenv.ConfigFlag, "", "config file of name = value lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `airlock-auth-static: example authentication plugin for airlock-proxy.

airlock-proxy starts this binary and asks it to check its clients' SASL logins
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) against a static user list. It is not meant
to be run by hand. Point the proxy at it, with its flags as plugin arguments.

Users: --user user=password (repeatable) and/or --users-file FILE (user=password
per line). Prefer the file: flags and the environment are visible to other users
of the machine.

Flags:
`)
		fs.PrintDefaults()
	}
	return c
}

// loadUsers merges the users file and the --user flags (flags win).
func (c *config) loadUsers() (map[string]string, error) {
	users := map[string]string{}
	if c.usersFile != "" {
		f, err := os.Open(c.usersFile)
		if err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		defer func() { _ = f.Close() }()
		if users, err = auth.ParseStaticUsers(f, c.usersFile); err != nil {
			return nil, err
		}
	}
	for _, u := range c.users {
		if err := auth.AddStaticUser(users, u); err != nil {
			return nil, fmt.Errorf("--user: %w", err)
		}
	}
	if len(users) == 0 {
		return nil, errors.New("no users: give --user or --users-file")
	}
	return users, nil
}

// run serves the users until the proxy stops the plugin; it returns the exit code.
func run(ctx context.Context, c *config, logger *slog.Logger) int {
	users, err := c.loadUsers()
	if err != nil {
		logger.Error("cannot load users", "err", err)
		return 1
	}
	v, err := auth.NewStaticVerifier(users, c.iterations)
	if err != nil {
		logger.Error("bad configuration", "err", err)
		return 1
	}
	logger.Info("users loaded", "users", len(users))
	if err := auth.ServePlugin(ctx, v); err != nil {
		logger.Error("cannot serve", "err", err)
		return 1
	}
	return 0
}
