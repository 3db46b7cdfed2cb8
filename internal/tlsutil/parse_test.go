package tlsutil

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseClientAuth(t *testing.T) {
	tests := []struct {
		in      string
		want    tls.ClientAuthType
		wantErr bool
	}{
		{"", tls.NoClientCert, false},
		{"none", tls.NoClientCert, false},
		{"request", tls.VerifyClientCertIfGiven, false},
		{"Requested", tls.VerifyClientCertIfGiven, false},
		{"require", tls.RequireAndVerifyClientCert, false},
		{" REQUIRED ", tls.RequireAndVerifyClientCert, false},
		{"optional", 0, true},
		{"true", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseClientAuth(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "none, request or require")) {
				t.Errorf("unclear error: %v", err)
			}
		})
	}
}

func TestParseTLSVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    uint16
		wantMsg string
	}{
		{"", tls.VersionTLS12, ""},
		{"1.2", tls.VersionTLS12, ""},
		{"TLSv1.2", tls.VersionTLS12, ""},
		{"1.3", tls.VersionTLS13, ""},
		{"tls1.3", tls.VersionTLS13, ""},
		{"TLSv1.3", tls.VersionTLS13, ""},
		{"1.1", 0, "deprecated"},
		{"TLSv1", 0, "want 1.2 or 1.3"},
		{"1.4", 0, "want 1.2 or 1.3"},
		{"ssl3", 0, "want 1.2 or 1.3"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTLSVersion(tt.in)
			if got != tt.want {
				t.Errorf("got %x, want %x", got, tt.want)
			}
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err %v, want one mentioning %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseCipherSuites(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []uint16
		wantMsg string
	}{
		{"empty means defaults", nil, nil, ""},
		{"one", []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"comma list, spaces, case, duplicates",
			[]string{" tls_ecdhe_ecdsa_with_aes_256_gcm_sha384 ,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, ""},
		{"unknown lists known", []string{"TLS_FANCY"}, nil, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{"openssl name", []string{"ECDHE-RSA-AES128-GCM-SHA256"}, nil, "unknown cipher suite"},
		{"insecure", []string{"TLS_RSA_WITH_RC4_128_SHA"}, nil, "insecure"},
		{"TLS 1.3 suite", []string{"TLS_AES_128_GCM_SHA256"}, nil, "TLS 1.3 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCipherSuites(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err %v, want one mentioning %q", err, tt.wantMsg)
			}
		})
	}
}
