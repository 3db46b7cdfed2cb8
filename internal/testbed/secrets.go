package testbed

import (
	"crypto/tls"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

// SecretsDir is where containers find the testbed's TLS material and users file.
const SecretsDir = "/secrets"

// Client certificate names the testbed generates, besides one server
// certificate per broker and proxy: the proxies towards their brokers, the
// Airlock components, the probe, and the test process itself.
const (
	CertProxy    = "proxy"
	CertBridge   = "bridge"
	CertProducer = "producer"
	CertConsumer = "consumer"
	CertProbe    = "probe"
	CertHost     = "host"
)

// UsersFile is the proxies' users file in SecretsDir.
const UsersFile = "users.txt"

// scramIterations is low because every login pays it; this is a test.
const scramIterations = 4096

// Secrets is a testbed's TLS material (certgen) and the proxies' users file, in
// a temporary directory Terminate removes.
type Secrets struct {
	// Dir is the host directory.
	Dir string
	// User and Password are the SASL credentials the proxies accept
	// (SCRAM-SHA-512 or PLAIN).
	User, Password string
	// P12Password protects the PKCS#12 files (written for real Kafka brokers only).
	P12Password string
}

// secretsRequest says what to generate.
type secretsRequest struct {
	servers    []string
	serverSANs map[string][]string
	user       string
	password   string
	p12        bool
}

// newSecrets generates everything in a new temporary directory under parent
// ("" for the system's).
func newSecrets(parent, prefix string, r secretsRequest) (*Secrets, error) {
	dir, err := os.MkdirTemp(parent, prefix+"-secrets-")
	if err != nil {
		return nil, fmt.Errorf("secrets dir: %w", err)
	}
	s := &Secrets{Dir: dir, User: r.user, Password: r.password}
	opts := []certgen.Opt{
		certgen.Servers(r.servers...),
		certgen.Clients(CertProxy, CertBridge, CertProducer, CertConsumer, CertProbe, CertHost),
	}
	for _, name := range slices.Sorted(maps.Keys(r.serverSANs)) {
		opts = append(opts, certgen.ServerSANs(name, r.serverSANs[name]...))
	}
	if r.p12 {
		s.P12Password = randomHex(12)
		opts = append(opts, certgen.P12Password(s.P12Password))
	}
	if _, err := certgen.Generate(dir, opts...); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("generate certificates: %w", err)
	}
	cred, err := auth.NewSCRAMCredential(auth.MechanismSCRAMSHA512, r.password, scramIterations)
	if err == nil {
		var line string
		if line, err = auth.FormatSCRAMLine(r.user, auth.MechanismSCRAMSHA512, cred); err == nil {
			err = auth.SetUserEntry(filepath.Join(dir, UsersFile), line)
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("users file: %w", err)
	}
	return s, nil
}

// File returns the file name (ca.crt, users.txt, <cert>.crt, ...) to copy
// into a container's SecretsDir.
func (s *Secrets) File(name string) File {
	return File{HostPath: filepath.Join(s.Dir, name), ContainerPath: path.Join(SecretsDir, name)}
}

// CertFiles returns the CA and the certificate and key of name, to copy.
func (s *Secrets) CertFiles(name string) []File {
	return []File{s.File("ca.crt"), s.File(name + ".crt"), s.File(name + ".key")}
}

// Path returns where a secret file is in a container.
func (s *Secrets) Path(name string) string { return path.Join(SecretsDir, name) }

// HostTLS returns the TLS configuration of a host-side client: the testbed's CA
// and, with client set, that client certificate for mutual TLS.
func (s *Secrets) HostTLS(client string) (*tls.Config, error) {
	f := tlsutil.ClientFiles{CAFile: filepath.Join(s.Dir, "ca.crt")}
	if client != "" {
		f.CertFile = filepath.Join(s.Dir, client+".crt")
		f.KeyFile = filepath.Join(s.Dir, client+".key")
	}
	tc, err := tlsutil.ClientConfig(f)
	if err != nil {
		return nil, fmt.Errorf("host TLS (%s): %w", client, err)
	}
	return tc, nil
}

// SASL returns the franz-go option that logs in to a proxy.
func (s *Secrets) SASL() kgo.Opt {
	return kgo.SASL(scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism())
}

// ClientArgs returns the clientsec flags (see internal/clientsec) with which an
// Airlock binary in the bridge zone reaches a proxy: TLS against the testbed's
// CA and SASL; prefix is the binary's flag prefix ("" for airlock-probe,
// "source-" for the bridge's source side). ClientFiles lists what to copy.
func (s *Secrets) ClientArgs(prefix string) []string {
	return []string{
		"--" + prefix + "tls",
		"--" + prefix + "tls-ca-file", s.Path("ca.crt"),
		"--" + prefix + "sasl-mechanism", auth.MechanismSCRAMSHA512,
		"--" + prefix + "sasl-user", s.User,
		"--" + prefix + "sasl-password", s.Password,
	}
}

// ClientFiles returns the files ClientArgs needs in the container.
func (s *Secrets) ClientFiles() []File { return []File{s.File("ca.crt")} }

// BrokerClientArgs returns the clientsec flags with which an Airlock binary in a
// cluster's zone (producer, consumer) reaches its broker directly: mutual TLS
// with certificate cert (CertProducer, CertConsumer). CertFiles(cert) lists what
// to copy.
func (s *Secrets) BrokerClientArgs(prefix, cert string) []string {
	return []string{
		"--" + prefix + "tls",
		"--" + prefix + "tls-ca-file", s.Path("ca.crt"),
		"--" + prefix + "tls-cert-file", s.Path(cert + ".crt"),
		"--" + prefix + "tls-key-file", s.Path(cert + ".key"),
	}
}
