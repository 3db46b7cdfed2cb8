package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
)

// run consumes, checks against the ledgers, prints the table on out and writes the
// JSON report. Exit status: 0 clean, 1 violations, 3 could not run.
func run(ctx context.Context, c *config, logger *slog.Logger, out io.Writer) int {
	fail := func(err error) int {
		logger.Error("airlock-consumer failed", "err", err)
		return exitError
	}
	// Read the ledgers first: a typo in a path should fail before minutes of consuming.
	var ledgers []event.Ledger
	for _, path := range c.ledgerList() {
		l, err := event.ReadLedgerFile(path)
		if err != nil {
			return fail(err)
		}
		ledgers = append(ledgers, l)
	}
	defaults, err := event.DefaultSchemas()
	if err != nil {
		return fail(err)
	}
	store, err := c.schemas.Open(defaults...)
	if err != nil {
		return fail(err)
	}
	secOpts, err := c.sec.KgoOpts()
	if err != nil {
		return fail(err)
	}
	var checkOpts []consumer.CheckOpt
	checkOpts = append(checkOpts, consumer.WithMaxExamples(c.maxExamples))
	if src := c.sourceList(); len(src) > 0 {
		srcSec, err := c.sourceSec.KgoOpts()
		if err != nil {
			return fail(err)
		}
		lookup := consumer.NewKafkaLookup(store, c.lookupIdle, append([]kgo.Opt{kgo.SeedBrokers(src...)}, srcSec...)...)
		checkOpts = append(checkOpts, consumer.WithSourceLookup(lookup))
	}

	got, err := consumer.Consume(ctx,
		consumer.Brokers(c.brokerList()...),
		consumer.KgoOpts(secOpts...),
		consumer.Topics(c.topicList()...),
		consumer.SchemaSource(store),
		consumer.Expect(c.expect),
		consumer.IdleTimeout(c.idle),
		consumer.Settle(c.settle),
		consumer.Deadline(c.deadline),
		consumer.Logger(logger),
		consumer.ProgressInterval(c.progress),
	)
	if err != nil {
		return fail(err)
	}
	if got.StopReason == consumer.StopInterrupted {
		logger.Warn("interrupted: checking what was read so far")
	}
	// The lookup reads another cluster; an interrupt must not make it hang.
	rep := consumer.Check(context.WithoutCancel(ctx), ledgers, got.Records, checkOpts...)
	if len(ledgers) == 0 {
		logger.Warn("no --ledger given: only record-level checks (duplicates, order, Avro validity, provenance) ran")
	}
	if err := rep.WriteTable(out); err != nil {
		return fail(err)
	}
	if c.report != "" {
		if err := writeReport(c.report, &rep); err != nil {
			return fail(err)
		}
	}
	logger.Info("check done", "ok", rep.OK, "violations", rep.Violations(), "errors", len(rep.Errors), "stop", got.StopReason)
	if !rep.OK {
		return exitViolations
	}
	return exitOK
}

func writeReport(path string, rep *consumer.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close report: %w", err)
	}
	return nil
}
