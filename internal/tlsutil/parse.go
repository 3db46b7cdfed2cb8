package tlsutil

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// ParseClientAuth parses a client-auth mode: "none", "request" or "require" (Kafka's
// ssl.client.auth spellings "requested" and "required" work too). The result is the
// crypto/tls type with the same meaning: a certificate, when presented (request) or
// always (require), must verify against the client CA.
func ParseClientAuth(s string) (tls.ClientAuthType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return tls.NoClientCert, nil
	case "request", "requested":
		return tls.VerifyClientCertIfGiven, nil
	case "require", "required":
		return tls.RequireAndVerifyClientCert, nil
	default:
		return 0, fmt.Errorf("%w: client auth %q: want none, request or require", ErrInvalidConfig, s)
	}
}

// ParseTLSVersion parses a minimum TLS version: "1.2" or "1.3" ("TLSv1.2" and
// "TLS1.3" spellings too); empty means 1.2. Versions below 1.2 are refused: they
// are deprecated (RFC 8996) and every supported Kafka client speaks 1.2.
func ParseTLSVersion(s string) (uint16, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(strings.TrimPrefix(v, "tls"), "v")
	switch v {
	case "", "1.2", "12":
		return tls.VersionTLS12, nil
	case "1.3", "13":
		return tls.VersionTLS13, nil
	case "1.0", "1.1", "10", "11":
		return 0, fmt.Errorf("%w: TLS version %q is deprecated and not supported: use 1.2 or 1.3", ErrInvalidConfig, s)
	default:
		return 0, fmt.Errorf("%w: TLS version %q: want 1.2 or 1.3", ErrInvalidConfig, s)
	}
}

// ParseCipherSuites parses cipher suite names as crypto/tls spells them
// (tls.CipherSuites(), e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256). Each entry may
// hold several names separated by commas, so a flag value can be a list. An empty
// result means Go's defaults. Insecure suites are refused, and so are TLS 1.3
// suites: Go always enables all of them and does not let them be configured.
func ParseCipherSuites(names []string) ([]uint16, error) {
	known := map[string]*tls.CipherSuite{}
	for _, cs := range tls.CipherSuites() {
		known[cs.Name] = cs
	}
	insecure := map[string]bool{}
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.Name] = true
	}
	var ids []uint16
	for _, entry := range names {
		for _, n := range strings.Split(entry, ",") {
			n = strings.ToUpper(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			cs, ok := known[n]
			switch {
			case insecure[n]:
				return nil, fmt.Errorf("%w: cipher suite %s is insecure and not supported", ErrInvalidConfig, n)
			case !ok:
				return nil, fmt.Errorf("%w: unknown cipher suite %q (known: %s)", ErrInvalidConfig, n, strings.Join(configurableSuites(), ", "))
			case !slices.Contains(cs.SupportedVersions, tls.VersionTLS12):
				return nil, fmt.Errorf("%w: cipher suite %s is TLS 1.3 only; Go always enables every TLS 1.3 suite, list only TLS 1.2 suites", ErrInvalidConfig, n)
			}
			if !slices.Contains(ids, cs.ID) {
				ids = append(ids, cs.ID)
			}
		}
	}
	return ids, nil
}

// configurableSuites lists the names ParseCipherSuites accepts, for error messages.
func configurableSuites() []string {
	var out []string
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			out = append(out, cs.Name)
		}
	}
	return out
}
