package certgen

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/airlock-kafka/airlock/internal/flagenv"
)

// EnvPrefix is the environment variable prefix of airlock-certgen's flags.
const EnvPrefix = "AIRLOCK_CERTGEN_"

// HelpText is the text --help prints above the flag list.
const HelpText = `airlock-certgen creates a CA and TLS certificates for Airlock and its tests.

  airlock-certgen --out secrets/ --server source-kafka,target-kafka,source-proxy \
      --client bridge,producer,consumer [--ip 10.0.0.5] [--p12-password-file pw.txt]

Files in --out: ca.crt, ca.key, <name>.crt, <name>.key for every server and client,
and with a PKCS#12 password also <name>.p12 (key, certificate, CA) and
truststore.p12 (the CA) for Java. Keys are mode 0600 (PEM PKCS#8), certificates 0644.

Server certificates get their name, localhost, 127.0.0.1 and ::1 as SANs, plus
--san, --ip and --server-san extras. Re-running keeps every file that is still
valid (parses, matches its key, signed by ca.crt, same names, usage, key type and
SANs, not expiring within --renew-days) and replaces the others; --force replaces
everything. A certificate that does not match its key is an error, never overwritten.

Flags:
`

// Flags are airlock-certgen's command-line settings.
type Flags struct {
	Out             string
	Servers         flagenv.StringList
	Clients         flagenv.StringList
	SANs            flagenv.StringList
	IPs             flagenv.StringList
	ServerSANs      flagenv.StringList
	KeyType         string
	Days            int
	CADays          int
	RenewDays       int
	Force           bool
	P12Password     string
	P12PasswordFile string
	Org             string
	NoLoopback      bool
	Config          string
	Version         bool
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Out, "out", "secrets", "directory for the generated files (created if missing)")
	fs.Var(&f.Servers, "server", "server certificate names, comma-separated or repeated")
	fs.Var(&f.Clients, "client", "client certificate names for mutual TLS, comma-separated or repeated")
	fs.Var(&f.SANs, "san", "extra DNS name or IP SAN for every server certificate, comma-separated or repeated")
	fs.Var(&f.IPs, "ip", "extra IP address SAN for every server certificate, comma-separated or repeated")
	fs.Var(&f.ServerSANs, "server-san", "extra SANs for one server: name=san1,san2 (repeatable)")
	fs.StringVar(&f.KeyType, "key-type", string(ECDSA), "key algorithm: ecdsa (P-256) or rsa (3072 bits)")
	fs.IntVar(&f.Days, "days", int(DefaultValidity/(24*time.Hour)), "lifetime of server and client certificates in days")
	fs.IntVar(&f.CADays, "ca-days", int(DefaultCAValidity/(24*time.Hour)), "lifetime of a new CA in days")
	fs.IntVar(&f.RenewDays, "renew-days", int(DefaultRenewBefore/(24*time.Hour)), "replace certificates expiring within this many days (at most half their lifetime)")
	fs.BoolVar(&f.Force, "force", false, "replace every file, the CA included, even when valid")
	fs.StringVar(&f.P12Password, "p12-password", "", "password of the PKCS#12 files; without it (or --p12-password-file) none are written")
	fs.StringVar(&f.P12PasswordFile, "p12-password-file", "", "file holding the PKCS#12 password (keeps it off the command line)")
	fs.StringVar(&f.Org, "org", DefaultOrg, "organization (O) in every subject")
	fs.BoolVar(&f.NoLoopback, "no-loopback", false, "leave localhost, 127.0.0.1 and ::1 out of server certificates")
	fs.StringVar(&f.Config, flagenv.ConfigFlag, "", "config file with one 'name = value' per line")
	fs.BoolVar(&f.Version, "version", false, "print the version and exit")
}

// Opts validates the flags and turns them into Generate's directory and options.
func (f *Flags) Opts() (string, []Opt, error) {
	if f.Out == "" {
		return "", nil, fmt.Errorf("%w: --out must not be empty", ErrInvalidOption)
	}
	kt, err := ParseKeyAlgorithm(f.KeyType)
	if err != nil {
		return "", nil, err
	}
	for _, d := range []struct {
		name string
		v    int
	}{{"days", f.Days}, {"ca-days", f.CADays}} {
		if d.v <= 0 {
			return "", nil, fmt.Errorf("%w: --%s must be positive, got %d", ErrInvalidOption, d.name, d.v)
		}
	}
	if f.RenewDays < 0 {
		return "", nil, fmt.Errorf("%w: --renew-days must not be negative, got %d", ErrInvalidOption, f.RenewDays)
	}
	servers, clients := splitList(f.Servers), splitList(f.Clients)
	if len(servers)+len(clients) == 0 {
		return "", nil, fmt.Errorf("%w: nothing to do: give --server and/or --client names", ErrInvalidOption)
	}
	ips := splitList(f.IPs)
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			return "", nil, fmt.Errorf("%w: --ip %q is not an IP address", ErrInvalidSAN, ip)
		}
	}
	day := 24 * time.Hour
	opts := []Opt{
		Servers(servers...),
		Clients(clients...),
		KeyType(kt),
		Validity(time.Duration(f.Days) * day),
		CAValidity(time.Duration(f.CADays) * day),
		RenewBefore(time.Duration(f.RenewDays) * day),
		ExtraSANs(append(splitList(f.SANs), ips...)...),
		Organization(f.Org),
	}
	for _, s := range f.ServerSANs {
		name, sans, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return "", nil, fmt.Errorf("%w: --server-san %q: want name=san1,san2", ErrInvalidOption, s)
		}
		opts = append(opts, ServerSANs(strings.TrimSpace(name), splitList([]string{sans})...))
	}
	if f.Force {
		opts = append(opts, Force())
	}
	if f.NoLoopback {
		opts = append(opts, NoLoopbackSANs())
	}
	pw := f.P12Password
	if f.P12PasswordFile != "" {
		b, err := os.ReadFile(f.P12PasswordFile)
		if err != nil {
			return "", nil, fmt.Errorf("read PKCS#12 password file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", nil, fmt.Errorf("%w: PKCS#12 password file %s is empty", ErrInvalidOption, f.P12PasswordFile)
		}
	}
	if pw != "" {
		opts = append(opts, P12Password(pw))
	}
	return f.Out, opts, nil
}

// splitList flattens repeated, comma-separated values, dropping empty entries.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
