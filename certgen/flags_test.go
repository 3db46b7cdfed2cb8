package certgen_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/flagenv"
)

func TestFlags(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantErr     error
		wantServers []string
		wantClients []string
		wantSAN     string // in every server certificate
		wantP12     bool
		wantDays    int
	}{
		{name: "comma lists and repeats", args: []string{"--server", "a,b", "--server", "c", "--client", "x"},
			wantServers: []string{"a", "b", "c"}, wantClients: []string{"x"}, wantDays: 365},
		{name: "env", env: map[string]string{"AIRLOCK_CERTGEN_SERVER": "a;b", "AIRLOCK_CERTGEN_IP": "10.0.0.9", "AIRLOCK_CERTGEN_DAYS": "10"},
			wantServers: []string{"a", "b"}, wantSAN: "10.0.0.9", wantDays: 10},
		{name: "config file", args: []string{"--config", "testdata/certgen.conf"},
			wantServers: []string{"from-file"}, wantClients: []string{"file-client"}, wantDays: 30},
		{name: "flag beats config file", args: []string{"--config", "testdata/certgen.conf", "--days", "7"},
			wantServers: []string{"from-file"}, wantClients: []string{"file-client"}, wantDays: 7},
		{name: "server-san and san", args: []string{"--server", "a", "--server-san", "a=alias-a,10.2.2.2", "--san", "extra.example"},
			wantServers: []string{"a"}, wantSAN: "extra.example", wantDays: 365},
		{name: "p12 password file", args: []string{"--client", "x", "--p12-password-file", pwFile},
			wantClients: []string{"x"}, wantP12: true, wantDays: 365},
		{name: "nothing to do", args: nil, wantErr: certgen.ErrInvalidOption},
		{name: "bad ip", args: []string{"--server", "a", "--ip", "example.com"}, wantErr: certgen.ErrInvalidSAN},
		{name: "bad key type", args: []string{"--server", "a", "--key-type", "dsa"}, wantErr: certgen.ErrInvalidOption},
		{name: "zero days", args: []string{"--server", "a", "--days", "0"}, wantErr: certgen.ErrInvalidOption},
		{name: "negative renew", args: []string{"--server", "a", "--renew-days", "-1"}, wantErr: certgen.ErrInvalidOption},
		{name: "bad server-san", args: []string{"--server", "a", "--server-san", "alias-a"}, wantErr: certgen.ErrInvalidOption},
		{name: "server-san for unknown server", args: []string{"--server", "a", "--server-san", "b=x"}, wantErr: certgen.ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f certgen.Flags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			f.Register(fs)
			if err := flagenv.Parse(fs, certgen.EnvPrefix, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatalf("parse: %v", err)
			}
			f.Out = filepath.Join(t.TempDir(), "out")
			dir, opts, err := f.Opts()
			var res *certgen.Result
			if err == nil {
				res, err = certgen.Generate(dir, opts...)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var servers, clients []string
			for name, p := range res.Certs {
				if p.Usage == certgen.ServerUsage {
					servers = append(servers, name)
				} else {
					clients = append(clients, name)
				}
				leaf := readCert(t, p.CertFile)
				days := int(leaf.NotAfter.Sub(leaf.NotBefore).Round(time.Hour) / (24 * time.Hour))
				if days != tt.wantDays {
					t.Errorf("%s: %d days, want %d", name, days, tt.wantDays)
				}
				if p.Usage == certgen.ServerUsage && tt.wantSAN != "" {
					sans := slices.Clone(leaf.DNSNames)
					for _, ip := range leaf.IPAddresses {
						sans = append(sans, ip.String())
					}
					if !slices.Contains(sans, tt.wantSAN) {
						t.Errorf("%s: SANs %v lack %s", name, sans, tt.wantSAN)
					}
				}
				if (p.P12File != "") != tt.wantP12 {
					t.Errorf("%s: p12 %q, want one: %v", name, p.P12File, tt.wantP12)
				}
			}
			slices.Sort(servers)
			slices.Sort(clients)
			if !slices.Equal(servers, tt.wantServers) || !slices.Equal(clients, tt.wantClients) {
				t.Errorf("servers %v clients %v, want %v %v", servers, clients, tt.wantServers, tt.wantClients)
			}
		})
	}
}
