package producer

import "errors"

// ErrConfig wraps every configuration error New returns.
var ErrConfig = errors.New("producer config")
