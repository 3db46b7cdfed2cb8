// Package version carries the build's version, stamped by the Makefile with -ldflags.
package version

// Version is set at link time: -X github.com/airlock-kafka/airlock/internal/version.Version=v1.2.3.
var Version = "dev"
