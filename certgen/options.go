package certgen

import (
	"fmt"
	"strings"
	"time"
)

// KeyAlgorithm selects the kind of key pairs to generate.
type KeyAlgorithm string

// Supported key algorithms. ECDSA P-256 is the default: small, fast, and accepted by
// Go, librdkafka (OpenSSL) and Java. RSA 3072 is there for peers that still insist on RSA.
const (
	ECDSA KeyAlgorithm = "ecdsa"
	RSA   KeyAlgorithm = "rsa"
)

// rsaBits is the RSA modulus size: 3072 bits matches the 128-bit security level of P-256.
const rsaBits = 3072

// ParseKeyAlgorithm parses a --key-type value ("ecdsa" or "rsa", case-insensitive).
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	switch k := KeyAlgorithm(strings.ToLower(strings.TrimSpace(s))); k {
	case ECDSA, RSA:
		return k, nil
	case "":
		return ECDSA, nil
	default:
		return "", fmt.Errorf("%w: key type %q (want %s or %s)", ErrInvalidOption, s, ECDSA, RSA)
	}
}

// Defaults, chosen so a freshly generated testbed runs for a year without attention
// and a CA outlives many leaf rotations.
const (
	DefaultValidity    = 365 * 24 * time.Hour
	DefaultCAValidity  = 10 * 365 * 24 * time.Hour
	DefaultRenewBefore = 30 * 24 * time.Hour
	DefaultOrg         = "airlock"
)

// backdate is subtracted from NotBefore so peers with a slightly slow clock accept a
// certificate that was just issued.
const backdate = 5 * time.Minute

// Opt configures Generate, NewCA and (*CA).Issue. Options that do not concern a call
// are ignored by it (Servers means nothing to Issue, for example), so one option
// slice can be shared.
type Opt func(*config)

type config struct {
	servers     []string
	clients     []string
	keyType     KeyAlgorithm
	validity    time.Duration
	caValidity  time.Duration
	renewBefore time.Duration
	force       bool
	p12Password string
	extraSANs   []string
	serverSANs  map[string][]string
	org         string
	noLoopback  bool
	now         func() time.Time
}

func newConfig(opts []Opt) config {
	c := config{
		keyType:     ECDSA,
		validity:    DefaultValidity,
		caValidity:  DefaultCAValidity,
		renewBefore: DefaultRenewBefore,
		org:         DefaultOrg,
		now:         time.Now,
		serverSANs:  map[string][]string{},
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func (c *config) validate() error {
	if _, err := ParseKeyAlgorithm(string(c.keyType)); err != nil {
		return err
	}
	if c.validity <= 0 || c.caValidity <= 0 {
		return fmt.Errorf("%w: validity must be positive (leaf %s, CA %s)", ErrInvalidOption, c.validity, c.caValidity)
	}
	if c.renewBefore < 0 {
		return fmt.Errorf("%w: renew-before must not be negative (%s)", ErrInvalidOption, c.renewBefore)
	}
	for _, s := range c.extraSANs {
		if err := checkSAN(s); err != nil {
			return err
		}
	}
	for name, sans := range c.serverSANs {
		for _, s := range sans {
			if err := checkSAN(s); err != nil {
				return fmt.Errorf("server %s: %w", name, err)
			}
		}
	}
	return nil
}

// Servers adds server certificates, one per name. Each gets the name itself,
// localhost, 127.0.0.1 and ::1 as SANs (see NoLoopbackSANs), plus ExtraSANs and
// ServerSANs. Server certificates also carry the client-auth usage, because Kafka
// brokers present their keystore when they connect to each other.
func Servers(names ...string) Opt { return func(c *config) { c.servers = append(c.servers, names...) } }

// Clients adds client certificates for mutual TLS, one per name (CN=name, O=Org).
func Clients(names ...string) Opt { return func(c *config) { c.clients = append(c.clients, names...) } }

// KeyType selects the key algorithm for new keys (default ECDSA).
func KeyType(k KeyAlgorithm) Opt { return func(c *config) { c.keyType = k } }

// Validity sets the lifetime of leaf certificates (default one year). A leaf never
// outlives its CA: the end is capped at the CA's NotAfter.
func Validity(d time.Duration) Opt { return func(c *config) { c.validity = d } }

// CAValidity sets the lifetime of a new CA (default ten years).
func CAValidity(d time.Duration) Opt { return func(c *config) { c.caValidity = d } }

// RenewBefore makes Generate replace certificates that expire within d (default 30
// days), so a re-run ahead of expiry rotates them.
func RenewBefore(d time.Duration) Opt { return func(c *config) { c.renewBefore = d } }

// Force makes Generate replace every file, CA included, even when valid.
func Force() Opt { return func(c *config) { c.force = true } }

// P12Password makes Generate write <name>.p12 (key, certificate and CA chain) for
// every certificate and truststore.p12 (the CA) for Java clients, encrypted with pw.
// Without it no PKCS#12 file is written.
func P12Password(pw string) Opt { return func(c *config) { c.p12Password = pw } }

// ExtraSANs adds SANs (DNS names or IP addresses) to every server certificate.
func ExtraSANs(sans ...string) Opt {
	return func(c *config) { c.extraSANs = append(c.extraSANs, sans...) }
}

// ServerSANs adds SANs to one server certificate only, e.g. the docker alias of one
// broker.
func ServerSANs(name string, sans ...string) Opt {
	return func(c *config) { c.serverSANs[name] = append(c.serverSANs[name], sans...) }
}

// Organization sets the O attribute of every subject (default "airlock"); it is what
// a required-subject rule such as "O=airlock" matches.
func Organization(o string) Opt { return func(c *config) { c.org = o } }

// NoLoopbackSANs leaves localhost, 127.0.0.1 and ::1 out of server certificates,
// for deployments where a certificate valid on loopback is unwanted.
func NoLoopbackSANs() Opt { return func(c *config) { c.noLoopback = true } }

// Clock sets the time certificates are issued at and validity is judged against
// (default time.Now). Tests use it to make expired or soon-expiring certificates.
func Clock(now func() time.Time) Opt { return func(c *config) { c.now = now } }
