package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

const usersUsage = `airlock-proxy users: manage the users file of --client-sasl-users-file.

  airlock-proxy users add --file users.txt --user alice [--mechanism scram-sha-512]
  airlock-proxy users remove --file users.txt --user alice

The password is read from --password-file, from AIRLOCK_PROXY_USERS_PASSWORD, or
from standard input (first line); it is never taken as a flag value. Mechanisms:
plain (bcrypt hash, PLAIN only) or scram-sha-256 / scram-sha-512 (salted SCRAM
credential, which also serves PLAIN logins). The running proxy reloads the file
by itself.

Flags:
`

// runUsers implements the users subcommand; it returns the exit code.
func runUsers(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("airlock-proxy users "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usersUsage); fs.PrintDefaults() }
	file := fs.String("file", "", "users file to edit (created if missing)")
	user := fs.String("user", "", "user name")
	mech := fs.String("mechanism", "scram-sha-512", "plain, scram-sha-256 or scram-sha-512")
	passFile := fs.String("password-file", "", "file holding the password")
	iters := fs.Int("iterations", 8192, "SCRAM iterations")
	if err := flagenv.Parse(fs, "AIRLOCK_PROXY_USERS_", args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *file == "" || *user == "" {
		fmt.Fprintln(stderr, "airlock-proxy users: --file and --user are required")
		return 2
	}
	if verb == "remove" {
		n, err := auth.RemoveUser(*file, *user)
		if err != nil {
			fmt.Fprintln(stderr, "airlock-proxy users:", err)
			return 1
		}
		if n == 0 {
			fmt.Fprintf(stderr, "airlock-proxy users: no user %q in %s\n", *user, *file)
			return 1
		}
		fmt.Fprintf(stdout, "removed %s from %s\n", *user, *file)
		return 0
	}
	pass, err := readPassword(*passFile, stdin, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "airlock-proxy users:", err)
		return 2
	}
	line, err := userLine(*user, strings.ToLower(*mech), pass, *iters)
	if err == nil {
		err = auth.SetUserEntry(*file, line)
	}
	if err != nil {
		fmt.Fprintln(stderr, "airlock-proxy users:", err)
		return 1
	}
	fmt.Fprintf(stdout, "set %s (%s) in %s\n", *user, *mech, *file)
	return 0
}

func readPassword(file string, stdin io.Reader, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := getenv("AIRLOCK_PROXY_USERS_PASSWORD"); p != "" {
		return p, nil
	}
	sc := bufio.NewScanner(stdin)
	if !sc.Scan() || sc.Text() == "" {
		return "", errors.New("no password: give --password-file, AIRLOCK_PROXY_USERS_PASSWORD or a line on standard input")
	}
	return sc.Text(), nil
}

func userLine(user, mech, pass string, iters int) (string, error) {
	switch mech {
	case "plain":
		h, err := auth.HashPlain(pass)
		if err != nil {
			return "", err
		}
		return auth.FormatPlainLine(user, h)
	case "scram-sha-256", "scram-sha-512":
		m := strings.ToUpper(mech)
		cred, err := auth.NewSCRAMCredential(m, pass, iters)
		if err != nil {
			return "", err
		}
		return auth.FormatSCRAMLine(user, m, cred)
	default:
		return "", fmt.Errorf("mechanism %q: want plain, scram-sha-256 or scram-sha-512", mech)
	}
}
