// Package e2e holds Airlock's docker end-to-end specs (Ginkgo v2 + testcontainers):
// topologies built with internal/testbed from locally built images, no registry.
// Run them with `make e2e`, which builds the images first; plain `go test` skips
// them unless AIRLOCK_E2E=1.
package e2e
