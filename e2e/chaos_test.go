package e2e

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise

	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/chaos/dockerenv"
)

// chaosForm is the size the chaos specs run in: short in `make test`,
// AIRLOCK_CHAOS_FORM=long for the full size (`make chaos` runs the CLI long).
func chaosForm() chaos.FormName {
	f, err := chaos.ParseForm(os.Getenv("AIRLOCK_CHAOS_FORM"))
	if err != nil {
		return chaos.Short
	}
	return f
}

// chaosSeed is the nemesis seed (AIRLOCK_CHAOS_SEED, default 1): fixed, so a
// failure replays with `airlock-chaos run nemesis --seed N --form short`.
func chaosSeed() int64 {
	if n, err := strconv.ParseInt(os.Getenv("AIRLOCK_CHAOS_SEED"), 10, 64); err == nil && n != 0 {
		return n
	}
	return 1
}

// chaosReportDir is where each scenario's report goes.
func chaosReportDir(name string) string {
	return filepath.Join("..", "build", "reports", "chaos", name)
}

// needsBrokerAdmin reports whether a scenario acts through the test broker's
// admin API, which a real Kafka image lacks.
func needsBrokerAdmin(s chaos.Scenario) bool {
	if s.Nemesis != nil {
		return true
	}
	for _, w := range s.Long.Windows {
		if _, ok := w.Fault.(chaos.BrokerFault); ok {
			return true
		}
	}
	return false
}

// Every built-in scenario runs as a spec against its own testbed: the real
// proxy and bridge images under the scenario's faults, judged by its
// invariants. A violation fails the spec with the checker's examples; the
// report (text, JSON, timeline) is written either way.
var _ = Describe("Chaos scenario", Label("chaos"), func() {
	for _, s := range chaos.Catalogue() {
		form := chaosForm()
		plan, err := s.Plan(form, chaos.Overrides{Seed: chaosSeed()})
		if err != nil {
			panic(err) // the catalogue is fixed; its tests cover Plan
		}
		timeout := plan.Duration + 2*plan.Recovery + 5*time.Minute

		It(s.Name, Label("chaos:"+s.Name), func(ctx SpecContext) {
			if needsBrokerAdmin(s) {
				skipWithRealKafka("the test broker's admin API")
			}
			log := slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelInfo}))
			logs := specLogDir()
			factory := dockerenv.Factory(
				dockerenv.RunID(runID),
				dockerenv.Name(s.Name+"-p"+itoa(GinkgoParallelProcess())),
				dockerenv.Logger(log.With("component", "testbed")),
				dockerenv.FailureLogDir(logs),
				dockerenv.KafkaImage(kafkaImage()),
			)
			env, err := factory(ctx, plan.Needs)
			if err != nil {
				attachLogDir(logs)
			}
			Expect(err).NotTo(HaveOccurred(), "start the scenario's testbed")
			DeferCleanup(func(ctx SpecContext) {
				Expect(env.Close(ctx)).To(Succeed())
			}, NodeTimeout(2*time.Minute))

			rep, err := chaos.Run(ctx, env, plan,
				chaos.WithLogger(log),
				chaos.WithDescription(s.Description),
				chaos.WithProgress(5*time.Second, func(st chaos.Status) { GinkgoWriter.Println(st.String()) }),
			)
			Expect(rep).NotTo(BeNil(), "scenario did not start: %v", err)
			var text bytes.Buffer
			Expect(rep.WriteText(&text)).To(Succeed())
			AddReportEntry("chaos report", text.String())
			_, werr := rep.WriteDir(chaosReportDir(s.Name))
			Expect(werr).NotTo(HaveOccurred(), "write the report")
			if err != nil || !rep.OK {
				if de, ok := env.(*dockerenv.Env); ok {
					_ = de.CollectLogs(ctx, logs)
					attachLogDir(logs)
				}
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Err()).NotTo(HaveOccurred())
		}, SpecTimeout(timeout))
	}
})
