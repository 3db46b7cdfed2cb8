package e2e

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise
	"github.com/testcontainers/testcontainers-go"

	"github.com/airlock-kafka/airlock/internal/testbed"
)

// Ryuk, testcontainers' reaper, is an image from Docker Hub; the suite cleans up by
// label instead. This must happen before the first testcontainers call, which
// reads the setting once.
func init() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

// runID is shared by every parallel process of the suite; all resources carry it.
var runID string

func TestE2E(t *testing.T) {
	if os.Getenv("AIRLOCK_E2E") != "1" {
		t.Skip("docker specs: run `make e2e` (or `make images` then AIRLOCK_E2E=1 go test ./e2e/...)")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Airlock e2e")
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	Expect(err).NotTo(HaveOccurred(), "docker client")
	defer func() { _ = docker.Close() }()
	stale, err := testbed.RemoveStale(ctx, docker)
	Expect(err).NotTo(HaveOccurred(), "remove resources of earlier runs")
	if len(stale) > 0 {
		GinkgoWriter.Printf("removed %d resources left by earlier runs: %v\n", len(stale), stale)
	}
	im := testbed.DefaultImages()
	Expect(testbed.CheckImages(ctx, docker, im.TestBroker, im.Probe, im.Proxy, im.Toxiproxy, im.Bridge, im.Producer, im.Consumer)).To(Succeed())
	if k := kafkaImage(); k != "" {
		GinkgoWriter.Printf("brokers run %s (KAFKA_IMAGE), which may be pulled\n", k)
	}
	id := testbed.NewRunID()
	GinkgoWriter.Printf("e2e run %s\n", id)
	return []byte(id)
}, func(data []byte) {
	runID = string(data)
}, NodeTimeout(2*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
	if runID == "" {
		return
	}
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	Expect(err).NotTo(HaveOccurred(), "docker client")
	defer func() { _ = docker.Close() }()
	Expect(testbed.RemoveRun(ctx, docker, runID)).To(Succeed())
	left, err := testbed.Leftovers(ctx, docker, runID)
	Expect(err).NotTo(HaveOccurred())
	Expect(left).To(BeEmpty(), "docker resources left behind by run %s", runID)
}, NodeTimeout(2*time.Minute))

// logDir is where container logs of failed specs go.
func logDir() string {
	if d := os.Getenv("AIRLOCK_E2E_LOG_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "build", "reports", "e2e-logs")
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// specLogDir names a directory after the current spec.
func specLogDir() string {
	return filepath.Join(logDir(), runID, unsafeChars.ReplaceAllString(CurrentSpecReport().FullText(), "_"))
}

// kafkaImage is KAFKA_IMAGE: a real Kafka image (apache/kafka:<v>) for the
// brokers instead of airlock-testbroker, for users who have a registry.
func kafkaImage() string { return os.Getenv("KAFKA_IMAGE") }

// skipWithRealKafka skips the current container when KAFKA_IMAGE is set and it
// needs what only the test broker has.
func skipWithRealKafka(needs string) {
	if kafkaImage() != "" {
		Skip("KAFKA_IMAGE runs real Kafka brokers; this needs " + needs)
	}
}

// startTestbed starts a testbed for an Ordered container (call it from BeforeAll)
// and terminates it after the container's last spec.
func startTestbed(ctx context.Context, name string, brokers ...testbed.BrokerSpec) *testbed.Testbed {
	GinkgoHelper()
	return newTestbed(ctx, name, testbed.Options{Brokers: brokers})
}

// startTopology starts a testbed with Airlock's topology (see testbed.Topology)
// for an Ordered container, like startTestbed.
func startTopology(ctx context.Context, name string, t testbed.Topology) *testbed.Testbed {
	GinkgoHelper()
	return newTestbed(ctx, name, testbed.Options{Topology: &t})
}

func newTestbed(ctx context.Context, name string, o testbed.Options) *testbed.Testbed {
	GinkgoHelper()
	level := slog.LevelInfo
	if os.Getenv("AIRLOCK_E2E_DEBUG") == "1" {
		level = slog.LevelDebug // testcontainers' own steps too
	}
	log := slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: level}))
	o.RunID = runID
	o.Name = name + "-p" + itoa(GinkgoParallelProcess())
	o.Logger = log
	o.FailureLogDir = specLogDir()
	o.KafkaImage = kafkaImage()
	tb, err := testbed.New(ctx, o)
	if err != nil {
		attachLogDir(o.FailureLogDir)
	}
	Expect(err).NotTo(HaveOccurred(), "start testbed %s", name)
	DeferCleanup(func(ctx SpecContext) {
		Expect(tb.Terminate(ctx)).To(Succeed())
	}, NodeTimeout(2*time.Minute))
	return tb
}

// logTail is how much of each container's log a failed spec's report carries;
// the whole logs are in files next to the JUnit report.
const logTail = 6 << 10

// collectLogsOnFailure saves every container log of tb when the current spec
// failed, and attaches the end of each to the spec's report (and so to the JUnit
// report); call it from AfterEach.
func collectLogsOnFailure(ctx context.Context, tb *testbed.Testbed) {
	if tb == nil || !CurrentSpecReport().Failed() {
		return
	}
	dir := specLogDir()
	if err := tb.CollectLogs(ctx, dir); err != nil {
		GinkgoWriter.Printf("collect logs: %v\n", err)
	}
	attachLogDir(dir)
}

// attachLogDir adds a report entry per log file in dir: its path, then its tail.
func attachLogDir(dir string) {
	AddReportEntry("container logs", dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(b) > logTail {
			b = append([]byte("...\n"), b[len(b)-logTail:]...)
		}
		AddReportEntry("log "+filepath.Base(f), string(b), ReportEntryVisibilityFailureOrVerbose)
	}
}
