package schema

import (
	"flag"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/airlock-kafka/airlock/internal/flagenv"
)

// Store is a schema source that producers can also ask for ids: Local and Registry.
type Store interface {
	Source
	Registrar
}

// Flags are the command-line settings that choose a Store, shared by every binary that
// reads or writes Avro: a registry URL, or local schemas (--schema id=path, --schema-dir).
type Flags struct {
	Registry string
	// RegistryURL is --schema-registry-url, the name Confluent tools use; an alias
	// of Registry (both given must agree).
	RegistryURL      string
	RegistryUser     string
	RegistryPassword string
	Specs            flagenv.StringList
	Dir              string
}

// Register defines the flags on fs, each name prefixed with prefix ("source-" gives
// --source-schema-registry).
func (f *Flags) Register(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&f.Registry, prefix+"schema-registry", "", "Confluent-compatible schema registry URL(s), comma-separated (instead of local schemas)")
	fs.StringVar(&f.RegistryURL, prefix+"schema-registry-url", "", "same as --"+prefix+"schema-registry")
	fs.StringVar(&f.RegistryUser, prefix+"schema-registry-user", "", "schema registry basic-auth user")
	fs.StringVar(&f.RegistryPassword, prefix+"schema-registry-password", "", "schema registry basic-auth password (prefer the env variable)")
	fs.Var(&f.Specs, prefix+"schema", "local Avro schema as id=path.avsc (repeatable)")
	fs.StringVar(&f.Dir, prefix+"schema-dir", "", "directory of local .avsc files named <id>.avsc, <id>-<name>.avsc or <name>-v<id>.avsc")
}

// Open returns the Store the flags choose: the registry when one is set, else the local
// schemas given, else a Local built from fallback (the embedded defaults).
func (f *Flags) Open(fallback ...LocalOpt) (Store, error) {
	if err := f.Resolve(); err != nil {
		return nil, err
	}
	local := len(f.Specs) > 0 || f.Dir != ""
	switch {
	case f.Registry != "" && local:
		return nil, fmt.Errorf("%w: give a schema registry or local schemas, not both", ErrBadSpec)
	case f.Registry != "":
		var opts []RegistryOpt
		if f.RegistryUser != "" {
			opts = append(opts, WithClientOpts(sr.BasicAuth(f.RegistryUser, f.RegistryPassword)))
		}
		return NewRegistry(f.Registry, opts...)
	case local:
		opts := []LocalOpt{WithSpecs(f.Specs...)}
		if f.Dir != "" {
			opts = append(opts, WithDir(f.Dir))
		}
		return NewLocal(opts...)
	default:
		return NewLocal(fallback...)
	}
}

// Resolve folds the --schema-registry-url alias into Registry; both given must agree.
func (f *Flags) Resolve() error {
	if f.RegistryURL == "" {
		return nil
	}
	if f.Registry != "" && f.Registry != f.RegistryURL {
		return fmt.Errorf("%w: --schema-registry-url %q and --schema-registry %q disagree", ErrBadSpec, f.RegistryURL, f.Registry)
	}
	f.Registry = f.RegistryURL
	return nil
}
