package tlsutil

import (
	"flag"

	"github.com/airlock-kafka/airlock/internal/flagenv"
)

// Register defines flags for f on fs, each name starting with prefix ("client-"
// gives --client-tls-cert-file); what names the listener in help texts. Repeatable
// flags (cipher suites, required subjects) also take ';'-separated lists from the
// environment, see flagenv.
func (f *ServerFiles) Register(fs *flag.FlagSet, prefix, what string) {
	fs.StringVar(&f.CertFile, prefix+"tls-cert-file", "", "PEM certificate (chain) served on "+what+"; reloaded when it changes")
	fs.StringVar(&f.KeyFile, prefix+"tls-key-file", "", "PEM key of the certificate served on "+what)
	fs.StringVar(&f.KeyPassword, prefix+"tls-key-password", "", "password of an encrypted key")
	fs.StringVar(&f.ClientCAFile, prefix+"tls-client-ca-file", "", "PEM CA bundle client certificates on "+what+" must chain to (enables mutual TLS)")
	fs.StringVar(&f.ClientAuth, prefix+"tls-client-auth", "", "client certificates on "+what+": none, request or require (default: require with a client CA file, else none)")
	fs.StringVar(&f.MinVersion, prefix+"tls-min-version", "1.2", "minimum TLS version on "+what+": 1.2 or 1.3")
	fs.Var((*flagenv.StringList)(&f.CipherSuites), prefix+"tls-cipher-suites", "TLS 1.2 cipher suites on "+what+", comma-separated Go names (default: Go's secure set)")
	fs.Var((*flagenv.StringList)(&f.RequiredSubjects), prefix+"tls-required-subject", "allowed client subject on "+what+", e.g. 'bridge' (CN) or 'CN=bridge-*,O=airlock'; repeat for alternatives")
}
