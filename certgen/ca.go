package certgen

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Usage says what a leaf certificate is for; it decides the extended key usages.
type Usage int

// Usages. A server certificate carries both EKUs (brokers also dial each other with
// it); a client certificate only client auth, so it cannot impersonate a server.
const (
	ServerUsage Usage = iota + 1
	ClientUsage
)

// String returns "server" or "client".
func (u Usage) String() string {
	switch u {
	case ServerUsage:
		return "server"
	case ClientUsage:
		return "client"
	default:
		return fmt.Sprintf("usage(%d)", int(u))
	}
}

func (u Usage) extKeyUsages() []x509.ExtKeyUsage {
	if u == ServerUsage {
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
}

// CA is a certificate authority held in memory: it issues leaf certificates for
// tests and for Generate.
type CA struct {
	// Cert is the CA certificate; Key signs with it.
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM and KeyPEM are the PEM encodings (the key as unencrypted PKCS#8).
	CertPEM []byte
	KeyPEM  []byte

	cfg config
}

// Cert is an issued leaf certificate with its key.
type Cert struct {
	// Leaf is the parsed certificate; Key its private key.
	Leaf *x509.Certificate
	Key  crypto.Signer
	// CertPEM and KeyPEM are the PEM encodings (the key as unencrypted PKCS#8, the
	// form Kafka's PEM keystores and every Go or OpenSSL client read).
	CertPEM []byte
	KeyPEM  []byte
	// TLS is ready for tls.Config.Certificates.
	TLS tls.Certificate
}

// NewCA creates a self-signed CA. Options used: KeyType, CAValidity, Organization,
// Clock; they also become the defaults of every Issue call.
func NewCA(opts ...Opt) (*CA, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := newKey(cfg.keyType)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := cfg.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The serial in the CN keeps two generated CAs apart in a trust store, where
		// Java and OpenSSL index certificates by subject.
		Subject:               pkix.Name{CommonName: "airlock CA " + serial.Text(16)[:8], Organization: []string{cfg.org}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(cfg.caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Leaves only: an intermediate made from this CA would not verify.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return newCAFromDER(der, key, cfg)
}

func newCAFromDER(der []byte, key crypto.Signer, cfg config) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der), KeyPEM: keyPEM, cfg: cfg}, nil
}

// LoadCA reads a CA from PEM files written by Generate (or any CA whose key is
// unencrypted PKCS#8, PKCS#1 or SEC 1). Options become the defaults of Issue calls.
func LoadCA(certFile, keyFile string, opts ...Opt) (*CA, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return loadCA(certFile, keyFile, cfg)
}

// Pool returns a new pool holding only this CA, for RootCAs or ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue creates a leaf certificate for name (the CN) signed by ca. A server
// certificate gets the SANs described at Servers; a client certificate none.
// Options given here override those given to NewCA.
func (ca *CA) Issue(name string, usage Usage, opts ...Opt) (*Cert, error) {
	cfg := ca.cfg
	cfg.serverSANs = map[string][]string{}
	for k, v := range ca.cfg.serverSANs {
		cfg.serverSANs[k] = v
	}
	cfg.extraSANs = slices.Clone(ca.cfg.extraSANs)
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if usage != ServerUsage && usage != ClientUsage {
		return nil, fmt.Errorf("%w: %s", ErrInvalidOption, usage)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	key, err := newKey(cfg.keyType)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := cfg.now()
	notAfter := now.Add(cfg.validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	dns, ips := cfg.sansFor(name, usage)
	keyUsage := x509.KeyUsageDigitalSignature
	if cfg.keyType == RSA {
		// TLS 1.2 RSA key exchange, still offered by older Java peers.
		keyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{cfg.org}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           usage.extKeyUsages(),
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create certificate %s: %w", name, err)
	}
	return newCert(der, key)
}

func newCert(der []byte, key crypto.Signer) (*Cert, error) {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{
		Leaf:    leaf,
		Key:     key,
		CertPEM: encodeCert(der),
		KeyPEM:  keyPEM,
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
	}, nil
}

// WriteFiles writes the certificate (mode 0644) and key (mode 0600) atomically, so a
// process watching the files never reads half a file. Tests use it to rotate.
func (c *Cert) WriteFiles(certFile, keyFile string) error {
	if err := writeFileAtomic(keyFile, c.KeyPEM, keyMode); err != nil {
		return err
	}
	return writeFileAtomic(certFile, c.CertPEM, certMode)
}

// P12 encodes the key, certificate and CA chain as a password-protected PKCS#12
// keystore (modern PBES2/AES-256 encryption, readable by Java 12+ and OpenSSL 1.1+).
func (c *Cert) P12(ca *CA, password string) ([]byte, error) {
	b, err := pkcs12.Modern.Encode(c.Key, c.Leaf, []*x509.Certificate{ca.Cert}, password)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12 for %s: %w", c.Leaf.Subject.CommonName, err)
	}
	return b, nil
}

// Truststore encodes the CA certificate as a password-protected PKCS#12 truststore
// for Java clients.
func (ca *CA) Truststore(password string) ([]byte, error) {
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, password)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12 truststore: %w", err)
	}
	return b, nil
}

// sansFor returns the DNS and IP SANs of a certificate, sorted and deduplicated so
// a stored certificate can be compared with a request.
func (c *config) sansFor(name string, usage Usage) ([]string, []net.IP) {
	var all []string
	if usage == ServerUsage {
		all = append(all, name)
		if !c.noLoopback {
			all = append(all, "localhost", "127.0.0.1", "::1")
		}
		all = append(all, c.serverSANs[name]...)
		all = append(all, c.extraSANs...)
	}
	var dns []string
	var ips []net.IP
	seenIP := map[string]bool{}
	for _, s := range all {
		if ip := net.ParseIP(s); ip != nil {
			if !seenIP[ip.String()] {
				seenIP[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		dns = append(dns, strings.ToLower(s))
	}
	slices.Sort(dns)
	dns = slices.Compact(dns)
	slices.SortFunc(ips, func(a, b net.IP) int { return bytes.Compare(a.To16(), b.To16()) })
	return dns, ips
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	dnsRE  = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$`)
)

// reserved names would collide with the CA and truststore files.
var reserved = []string{"ca", "truststore"}

func checkName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%w %q: want letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit", ErrInvalidName, name)
	}
	if slices.Contains(reserved, strings.ToLower(name)) {
		return fmt.Errorf("%w %q: reserved for the %s files", ErrInvalidName, name, name)
	}
	return nil
}

func checkSAN(s string) error {
	if net.ParseIP(s) != nil {
		return nil
	}
	if len(s) > 253 || !dnsRE.MatchString(s) {
		return fmt.Errorf("%w %q: not an IP address or DNS name", ErrInvalidSAN, s)
	}
	return nil
}

func newKey(k KeyAlgorithm) (crypto.Signer, error) {
	switch k {
	case RSA:
		key, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		return key, nil
	default:
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ECDSA key: %w", err)
		}
		return key, nil
	}
}

// keyAlgorithm reports the algorithm of a public key, "" for anything else.
func keyAlgorithm(pub crypto.PublicKey) KeyAlgorithm {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return ECDSA
		}
	case *rsa.PublicKey:
		return RSA
	}
	return ""
}

func newSerial() (*big.Int, error) {
	// 128 random bits: unique without bookkeeping, as the CA/B forum asks (>= 64).
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKey reads the first private key block of a PEM file.
func parseKey(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("no PEM private key found")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("key is encrypted; certgen only manages unencrypted keys")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, err
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return s, nil
	}
}

// parseCert reads the first certificate of a PEM file.
func parseCert(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("no PEM certificate found")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// readPair reads and cross-checks a certificate and its key. A missing or
// unparsable file is ErrIncomplete, a mismatch ErrKeyMismatch.
func readPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: certificate %s: %w", ErrIncomplete, certFile, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: key %s: %w", ErrIncomplete, keyFile, err)
	}
	if !keyMatches(cert, key) {
		return nil, nil, fmt.Errorf("%w: %s (CN=%s) is not the certificate of key %s; remove the wrong one or pass --force",
			ErrKeyMismatch, certFile, cert.Subject.CommonName, keyFile)
	}
	return cert, key, nil
}

// timeText formats a certificate time for messages.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02") }
