// Package e2e holds Airlock's docker end-to-end specs (Ginkgo v2 + testcontainers):
// topologies built with internal/testbed from locally built images, no registry.
// Run them with `make e2e`, which builds the images first; plain `go test` skips
// them unless AIRLOCK_E2E=1.
//
// Labels select specs (E2E_FLAGS='-ginkgo.label-filter=...'): e2e (all),
// addresses (address rewriting through the proxies, kafka:<version> for one
// emulated Kafka release), eos (airlock-producer -> source broker -> proxy ->
// toxiproxy -> airlock-bridge -> toxiproxy -> proxy -> target broker ->
// airlock-consumer, checked exactly once, with kafka:<version> for the emulated
// releases), restart (broker restarts with persistence, and a kill -9 of the
// bridge mid-stream).
//
// Environment: KAFKA_IMAGE=apache/kafka:<v> runs real Kafka brokers instead of
// airlock-testbroker (needs a registry or the image present; version specs
// skip); AIRLOCK_E2E_DEBUG=1 logs testcontainers' steps; AIRLOCK_E2E_LOG_DIR
// moves the container logs of failed specs (default build/reports/e2e-logs).
package e2e
