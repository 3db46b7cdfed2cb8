package certgen

import "errors"

// Sentinel errors; wrapped with the offending file or name, test them with errors.Is.
var (
	// ErrKeyMismatch means an existing certificate does not belong to the key next to
	// it. Generate refuses to guess which of the two is wrong and overwrites neither
	// unless Force is given.
	ErrKeyMismatch = errors.New("certificate does not match its key")
	// ErrIncomplete means one file of a CA pair exists without the other, or a file
	// cannot be read back; replacing it could discard a key someone still relies on.
	ErrIncomplete = errors.New("incomplete or unreadable existing files")
	// ErrInvalidName is returned for a certificate name that is empty, reserved (ca,
	// truststore), duplicated, or not usable as both a file name and a DNS label.
	ErrInvalidName = errors.New("invalid certificate name")
	// ErrInvalidSAN is returned for a subject alternative name that is neither an IP
	// address nor a DNS name.
	ErrInvalidSAN = errors.New("invalid subject alternative name")
	// ErrInvalidOption is returned for an option value out of range (zero validity,
	// unknown key type, ...).
	ErrInvalidOption = errors.New("invalid option")
)
