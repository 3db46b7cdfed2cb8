package tlsutil

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// keyPEMForTLS finds the private key block of a PEM file and decrypts it when it is
// a legacy encrypted PEM block (Proc-Type: 4,ENCRYPTED), the form openssl and many
// Kafka deployments still produce. Other blocks (EC PARAMETERS, certificates) are
// skipped, so an encrypted key is found wherever it sits in the file.
func keyPEMForTLS(keyPEM []byte, password string) ([]byte, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted PKCS#8 keys are not supported; convert with " +
				"'openssl pkcs8 -in KEY -out PLAIN' (and protect it with file permissions) " +
				"or 'openssl ec|rsa -in KEY -aes256 -traditional'")
		}
		//nolint:staticcheck // legacy PEM encryption is what operators have; there is no replacement in the standard library
		if !x509.IsEncryptedPEMBlock(block) {
			return pem.EncodeToMemory(block), nil
		}
		if password == "" {
			return nil, errors.New("key is encrypted but no key password was given")
		}
		//nolint:staticcheck // see above
		der, err := x509.DecryptPEMBlock(block, []byte(password))
		if err != nil {
			return nil, fmt.Errorf("decrypt (wrong password?): %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
	}
}
