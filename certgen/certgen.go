// Package certgen creates the certificates an Airlock deployment or test needs: a
// CA, server certificates with DNS and IP SANs, client certificates for mutual TLS,
// PEM files for Go and librdkafka, and PKCS#12 keystores and a truststore for Java.
//
// Generate is idempotent: it keeps every existing file that is still valid, so it
// can run at every start of a testbed or deployment without rotating trust under
// running services. A certificate is valid when it parses, matches its key, is
// signed by the current CA, has the requested name, usage, key type and SANs, and
// does not expire within the renewal window. Force replaces everything. A
// certificate that does not match its key is never overwritten silently: someone
// may have put it there on purpose, so Generate stops with ErrKeyMismatch.
//
// NewCA and (*CA).Issue do the same in memory, for tests.
package certgen

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Op says what Generate did with a file.
type Op string

// Operations reported in Result.Actions.
const (
	Created  Op = "created"
	Kept     Op = "kept"
	Replaced Op = "replaced"
	// Stale marks a PKCS#12 file left as it was although its certificate changed,
	// because no P12Password was given to rewrite it.
	Stale Op = "stale"
)

// Action is one file Generate looked at.
type Action struct {
	Path   string
	Op     Op
	Detail string // why it was replaced, or until when a kept file is valid
}

// Paths are the files of one certificate.
type Paths struct {
	Name     string
	Usage    Usage  // zero for the CA
	CertFile string // PEM certificate, mode 0644
	KeyFile  string // PEM PKCS#8 key, mode 0600
	P12File  string // PKCS#12 keystore, mode 0600; empty without P12Password
}

// Result lists what Generate produced.
type Result struct {
	Dir string
	CA  Paths
	// Truststore is the PKCS#12 truststore holding the CA; empty without P12Password.
	Truststore string
	// Certs holds the paths of every server and client certificate by name.
	Certs map[string]Paths
	// Actions lists every file in the order it was handled.
	Actions []Action
}

// Print writes one line per file: operation, path and detail.
func (r *Result) Print(w io.Writer) error {
	for _, a := range r.Actions {
		line := fmt.Sprintf("%-8s %s", a.Op, a.Path)
		if a.Detail != "" {
			line += " (" + a.Detail + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func (r *Result) add(path string, op Op, detail string) {
	r.Actions = append(r.Actions, Action{Path: path, Op: op, Detail: detail})
}

// Generate creates or refreshes a CA, the certificates named by Servers and Clients
// and, with P12Password, PKCS#12 files, in dir (created if missing). Layout:
// ca.crt, ca.key, <name>.crt, <name>.key, <name>.p12, truststore.p12.
func Generate(dir string, opts ...Opt) (*Result, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkNames(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	g := &generator{cfg: cfg, res: &Result{Dir: dir, Certs: map[string]Paths{}}}
	g.res.CA = Paths{Name: "ca", CertFile: filepath.Join(dir, "ca.crt"), KeyFile: filepath.Join(dir, "ca.key")}
	ca, caChanged, err := g.ensureCA()
	if err != nil {
		return g.res, err
	}
	if cfg.p12Password != "" {
		g.res.Truststore = filepath.Join(dir, "truststore.p12")
		if err := g.ensureTruststore(ca, caChanged); err != nil {
			return g.res, err
		}
	}
	for _, n := range cfg.servers {
		if err := g.ensureLeaf(ca, caChanged, n, ServerUsage); err != nil {
			return g.res, err
		}
	}
	for _, n := range cfg.clients {
		if err := g.ensureLeaf(ca, caChanged, n, ClientUsage); err != nil {
			return g.res, err
		}
	}
	return g.res, nil
}

type generator struct {
	cfg config
	res *Result
}

func (c *config) checkNames() error {
	seen := map[string]bool{}
	for _, n := range slices.Concat(c.servers, c.clients) {
		if err := checkName(n); err != nil {
			return err
		}
		if seen[strings.ToLower(n)] {
			return fmt.Errorf("%w %q: given twice (names are file names, so a server and a client cannot share one)", ErrInvalidName, n)
		}
		seen[strings.ToLower(n)] = true
	}
	for n := range c.serverSANs {
		if !slices.Contains(c.servers, n) {
			return fmt.Errorf("%w %q: SANs given for a server that is not generated", ErrInvalidName, n)
		}
	}
	return nil
}

// expiryProblem says why cert is outside its validity or renewal window, "" if not.
// The window never exceeds half the certificate's lifetime, or a short-lived
// certificate would be replaced on every run.
func (c *config) expiryProblem(cert *x509.Certificate) string {
	now := c.now()
	window := min(c.renewBefore, cert.NotAfter.Sub(cert.NotBefore)/2)
	switch {
	case now.Before(cert.NotBefore):
		return "not valid before " + timeText(cert.NotBefore)
	case now.After(cert.NotAfter):
		return "expired " + timeText(cert.NotAfter)
	case now.Add(window).After(cert.NotAfter):
		return "expires " + timeText(cert.NotAfter)
	}
	return ""
}

func (g *generator) ensureCA() (*CA, bool, error) {
	p := g.res.CA
	op := Created
	detail := ""
	if g.cfg.force {
		if ok, err := exists(p.CertFile); err != nil {
			return nil, false, err
		} else if ok {
			op, detail = Replaced, "forced"
		}
	} else {
		certOK, err := exists(p.CertFile)
		if err != nil {
			return nil, false, err
		}
		keyOK, err := exists(p.KeyFile)
		if err != nil {
			return nil, false, err
		}
		switch {
		case certOK && keyOK:
			ca, err := loadCA(p.CertFile, p.KeyFile, g.cfg)
			if err != nil {
				return nil, false, fmt.Errorf("existing CA: %w (a new CA would invalidate every certificate it signed: fix the files or pass --force)", err)
			}
			problem := g.cfg.expiryProblem(ca.Cert)
			if problem == "" {
				detail := "valid until " + timeText(ca.Cert.NotAfter)
				if alg := keyAlgorithm(ca.Cert.PublicKey); alg != g.cfg.keyType {
					detail += fmt.Sprintf("; its key is %s, not %s: --force replaces it", alg, g.cfg.keyType)
				}
				g.res.add(p.CertFile, Kept, detail)
				if err := g.keepKey(p.KeyFile); err != nil {
					return nil, false, err
				}
				return ca, false, nil
			}
			op, detail = Replaced, problem
		case certOK || keyOK:
			have, missing := p.CertFile, p.KeyFile
			if keyOK {
				have, missing = missing, have
			}
			return nil, false, fmt.Errorf("%w: %s exists but %s does not; restore it, or pass --force to create a new CA (which replaces every certificate)",
				ErrIncomplete, have, missing)
		}
	}
	ca, err := NewCA(g.opts()...)
	if err != nil {
		return nil, false, err
	}
	if err := (&Cert{CertPEM: ca.CertPEM, KeyPEM: ca.KeyPEM}).WriteFiles(p.CertFile, p.KeyFile); err != nil {
		return nil, false, err
	}
	if detail == "" {
		detail = "valid until " + timeText(ca.Cert.NotAfter)
	}
	g.res.add(p.CertFile, op, detail)
	g.res.add(p.KeyFile, op, "")
	return ca, true, nil
}

// opts turns the generator's config back into options for NewCA and Issue.
func (g *generator) opts() []Opt {
	return []Opt{func(c *config) { *c = g.cfg }}
}

func loadCA(certFile, keyFile string, cfg config) (*CA, error) {
	cert, key, err := readPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrIncomplete, certFile)
	}
	return newCAFromDER(cert.Raw, key, cfg)
}

func (g *generator) keepKey(path string) error {
	changed, err := tightenKeyMode(path)
	if err != nil {
		return err
	}
	detail := ""
	if changed {
		detail = "mode tightened to 0600"
	}
	g.res.add(path, Kept, detail)
	return nil
}

func (g *generator) ensureLeaf(ca *CA, caChanged bool, name string, usage Usage) error {
	dir := g.res.Dir
	p := Paths{Name: name, Usage: usage, CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	if g.cfg.p12Password != "" {
		p.P12File = filepath.Join(dir, name+".p12")
	}
	g.res.Certs[name] = p

	op, detail := Created, ""
	var cert *x509.Certificate
	var key crypto.Signer
	switch {
	case g.cfg.force || caChanged:
		// Say why instead of "not signed by the current CA".
		if ok, err := exists(p.CertFile); err != nil {
			return err
		} else if ok {
			op, detail = Replaced, "new CA"
			if g.cfg.force {
				detail = "forced"
			}
		}
	default:
		var err error
		cert, key, detail, err = g.inspectLeaf(ca, p, usage)
		if err != nil {
			return err
		}
		if cert != nil && detail == "" {
			g.res.add(p.CertFile, Kept, "valid until "+timeText(cert.NotAfter))
			if err := g.keepKey(p.KeyFile); err != nil {
				return err
			}
			return g.ensureP12(ca, p, cert, key, false)
		}
		if detail != "" {
			op = Replaced
		}
	}
	c, err := ca.Issue(name, usage, g.opts()...)
	if err != nil {
		return err
	}
	if err := c.WriteFiles(p.CertFile, p.KeyFile); err != nil {
		return err
	}
	if detail == "" {
		detail = "valid until " + timeText(c.Leaf.NotAfter)
	}
	g.res.add(p.CertFile, op, detail)
	g.res.add(p.KeyFile, op, "")
	return g.ensureP12(ca, p, c.Leaf, c.Key, true)
}

// inspectLeaf reads an existing certificate and key. It returns (nil, nil, "", nil)
// when neither exists, a non-empty problem when they must be replaced, and an error
// when replacing them could destroy something (a key it cannot read, a mismatch).
func (g *generator) inspectLeaf(ca *CA, p Paths, usage Usage) (*x509.Certificate, crypto.Signer, string, error) {
	certOK, err := exists(p.CertFile)
	if err != nil {
		return nil, nil, "", err
	}
	keyOK, err := exists(p.KeyFile)
	if err != nil {
		return nil, nil, "", err
	}
	switch {
	case !certOK && !keyOK:
		return nil, nil, "", nil
	case !certOK:
		return nil, nil, "certificate missing", nil
	case !keyOK:
		return nil, nil, "key missing", nil
	}
	cert, key, err := readPair(p.CertFile, p.KeyFile)
	switch {
	case errors.Is(err, ErrKeyMismatch):
		return nil, nil, "", err
	case err != nil:
		// An unreadable certificate is harmless to replace; an unreadable key is not.
		if _, kerr := readKeyFile(p.KeyFile); kerr != nil {
			return nil, nil, "", fmt.Errorf("%w: key %s: %w; remove it or pass --force", ErrIncomplete, p.KeyFile, kerr)
		}
		return nil, nil, "unreadable certificate", nil
	}
	return cert, key, g.cfg.leafProblem(ca, cert, p.Name, usage), nil
}

func readKeyFile(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKey(b)
}

// leafProblem says why an existing, key-matching certificate differs from what is
// requested, "" when it can be kept.
func (c *config) leafProblem(ca *CA, cert *x509.Certificate, name string, usage Usage) string {
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return "not signed by the current CA"
	}
	if p := c.expiryProblem(cert); p != "" {
		return p
	}
	if cert.Subject.CommonName != name || !slices.Equal(cert.Subject.Organization, []string{c.org}) {
		return fmt.Sprintf("subject %s, want CN=%s,O=%s", cert.Subject, name, c.org)
	}
	if !slices.Equal(cert.ExtKeyUsage, usage.extKeyUsages()) {
		return "key usage is not " + usage.String()
	}
	if alg := keyAlgorithm(cert.PublicKey); alg != c.keyType {
		return fmt.Sprintf("key type %s, want %s", alg, c.keyType)
	}
	dns, ips := c.sansFor(name, usage)
	haveDNS := slices.Sorted(slices.Values(cert.DNSNames))
	if !slices.Equal(haveDNS, dns) || !sameIPs(cert.IPAddresses, ips) {
		return fmt.Sprintf("SANs %s, want %s", sanText(haveDNS, cert.IPAddresses), sanText(dns, ips))
	}
	return ""
}

func sameIPs(a, b []net.IP) bool {
	return slices.EqualFunc(sortedIPs(a), sortedIPs(b), net.IP.Equal)
}

func sortedIPs(ips []net.IP) []net.IP {
	out := slices.Clone(ips)
	slices.SortFunc(out, func(a, b net.IP) int { return strings.Compare(string(a.To16()), string(b.To16())) })
	return out
}

func sanText(dns []string, ips []net.IP) string {
	all := slices.Clone(dns)
	for _, ip := range ips {
		all = append(all, ip.String())
	}
	return "[" + strings.Join(all, " ") + "]"
}

// ensureP12 keeps or rewrites the keystore of one certificate. PKCS#12 encoding is
// salted, so an unchanged keystore is recognized by decoding it, not by its bytes.
func (g *generator) ensureP12(ca *CA, p Paths, cert *x509.Certificate, key crypto.Signer, changed bool) error {
	path := filepath.Join(g.res.Dir, p.Name+".p12")
	ok, err := exists(path)
	if err != nil {
		return err
	}
	if g.cfg.p12Password == "" {
		if ok && changed {
			g.res.add(path, Stale, "holds the previous certificate; pass a PKCS#12 password to rewrite it")
		}
		return nil
	}
	op, detail := Created, ""
	if ok {
		op = Replaced
		switch {
		case g.cfg.force:
			detail = "forced"
		case changed:
			detail = "certificate changed"
		default:
			_, have, chain, err := pkcs12.DecodeChain(readOrNil(path), g.cfg.p12Password)
			switch {
			case err != nil:
				detail = "cannot be opened with the password"
			case !have.Equal(cert) || len(chain) != 1 || !chain[0].Equal(ca.Cert):
				detail = "holds another certificate"
			default:
				return g.keepKey(path)
			}
		}
	}
	b, err := (&Cert{Leaf: cert, Key: key}).P12(ca, g.cfg.p12Password)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, b, keyMode); err != nil {
		return err
	}
	g.res.add(path, op, detail)
	return nil
}

func (g *generator) ensureTruststore(ca *CA, caChanged bool) error {
	path := g.res.Truststore
	ok, err := exists(path)
	if err != nil {
		return err
	}
	op, detail := Created, ""
	if ok {
		op = Replaced
		switch {
		case g.cfg.force:
			detail = "forced"
		case caChanged:
			detail = "new CA"
		default:
			certs, err := pkcs12.DecodeTrustStore(readOrNil(path), g.cfg.p12Password)
			switch {
			case err != nil:
				detail = "cannot be opened with the password"
			case len(certs) != 1 || !certs[0].Equal(ca.Cert):
				detail = "holds another CA"
			default:
				g.res.add(path, Kept, "")
				return nil
			}
		}
	}
	b, err := ca.Truststore(g.cfg.p12Password)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, b, certMode); err != nil {
		return err
	}
	g.res.add(path, op, detail)
	return nil
}

// readOrNil returns the file's bytes, or nil when it cannot be read: the decoder then
// fails and the file is replaced, which is the right outcome for an unreadable file.
func readOrNil(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
