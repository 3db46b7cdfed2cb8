package tlsutil

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// decryptKeyPEM decrypts a legacy encrypted PEM block (Proc-Type: 4,ENCRYPTED), the
// form openssl and many Kafka deployments still produce.
func decryptKeyPEM(keyPEM []byte, password string) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block in key file")
	}
	//nolint:staticcheck // legacy PEM encryption is what operators have; there is no replacement in the standard library
	if !x509.IsEncryptedPEMBlock(block) {
		return keyPEM, nil
	}
	//nolint:staticcheck // see above
	der, err := x509.DecryptPEMBlock(block, []byte(password))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
}
