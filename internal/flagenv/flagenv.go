// Package flagenv makes every flag of a flag.FlagSet settable three ways, so each
// binary gets the same configuration story: command-line flags win over environment
// variables, which win over an optional config file, which wins over defaults.
//
// Environment variable names are derived from the flag name: prefix + upper case, with
// dashes turned into underscores (--max-request-size -> AIRLOCK_PROXY_MAX_REQUEST_SIZE).
// A config file holds one "name = value" per line (the flag name without dashes);
// blank lines and lines starting with # are ignored; a repeatable flag may appear on
// several lines.
package flagenv

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// ConfigFlag is the name of the flag that points at a config file, when the flag set
// defines it.
const ConfigFlag = "config"

// Repeatable is implemented by flag values that accept several occurrences. Their
// environment variable holds several values separated by ';' or newlines.
type Repeatable interface {
	flag.Value
	Repeatable() bool
}

// StringList is a repeatable string flag.
type StringList []string

// String implements flag.Value.
func (s *StringList) String() string { return strings.Join(*s, ";") }

// Set implements flag.Value; each call appends one value.
func (s *StringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// Repeatable marks StringList as accepting several occurrences.
func (s *StringList) Repeatable() bool { return true }

// EnvName returns the environment variable that sets flag name under prefix.
func EnvName(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Annotate appends "(env NAME)" to the usage of every flag, so --help documents the
// environment variables. Call it after all flags are defined and before Parse.
func Annotate(fs *flag.FlagSet, prefix string) {
	fs.VisitAll(func(f *flag.Flag) {
		env := EnvName(prefix, f.Name)
		if !strings.Contains(f.Usage, env) {
			f.Usage = fmt.Sprintf("%s (env %s)", f.Usage, env)
		}
	})
}

// Parse annotates fs, parses args, then fills every flag that was not given on the
// command line from the environment and, failing that, from the config file named by
// the "config" flag (if the flag set defines one). getenv is usually os.Getenv; tests
// pass their own.
func Parse(fs *flag.FlagSet, prefix string, args []string, getenv func(string) string) error {
	Annotate(fs, prefix)
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// The config file location itself may come from the environment.
	if cf := fs.Lookup(ConfigFlag); cf != nil && !set[ConfigFlag] {
		if v := getenv(EnvName(prefix, ConfigFlag)); v != "" {
			if err := cf.Value.Set(v); err != nil {
				return fmt.Errorf("env %s: %w", EnvName(prefix, ConfigFlag), err)
			}
			set[ConfigFlag] = true
		}
	}

	var errs []error
	fromEnv := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == ConfigFlag {
			return
		}
		env := EnvName(prefix, f.Name)
		v, ok := lookup(getenv, env)
		if !ok {
			return
		}
		fromEnv[f.Name] = true
		for _, part := range splitValues(f.Value, v) {
			if err := f.Value.Set(part); err != nil {
				errs = append(errs, fmt.Errorf("env %s=%q: %w", env, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	if cf := fs.Lookup(ConfigFlag); cf != nil && cf.Value.String() != "" {
		skip := func(name string) bool { return set[name] || fromEnv[name] }
		if err := applyFile(fs, cf.Value.String(), skip); err != nil {
			return err
		}
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func splitValues(v flag.Value, s string) []string {
	if r, ok := v.(Repeatable); ok && r.Repeatable() {
		var out []string
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return []string{s}
}

func applyFile(fs *flag.FlagSet, path string, skip func(string) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("config file %s:%d: want name = value, got %q", path, line, text)
		}
		name = strings.TrimLeft(strings.TrimSpace(name), "-")
		value = strings.Trim(strings.TrimSpace(value), `"`)
		fl := fs.Lookup(name)
		if fl == nil {
			return fmt.Errorf("config file %s:%d: unknown setting %q", path, line, name)
		}
		if skip(name) {
			continue
		}
		if err := fl.Value.Set(value); err != nil {
			return fmt.Errorf("config file %s:%d: %s: %w", path, line, name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}
