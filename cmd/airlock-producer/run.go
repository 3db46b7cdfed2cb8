package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/producer"
)

// run produces the workload the config describes and prints the result as JSON on out.
func run(ctx context.Context, c *config, logger *slog.Logger, out io.Writer) int {
	fail := func(err error) int {
		logger.Error("airlock-producer failed", "err", err)
		return exitError
	}
	defaults, err := event.DefaultSchemas()
	if err != nil {
		return fail(err)
	}
	store, err := c.schemas.Open(defaults...)
	if err != nil {
		return fail(err)
	}
	writer, err := event.WriterSchema(c.writerSchema)
	if err != nil {
		return fail(err)
	}
	secOpts, err := c.sec.KgoOpts()
	if err != nil {
		return fail(err)
	}

	opts := []producer.Opt{
		producer.Brokers(c.brokerList()...),
		producer.KgoOpts(secOpts...),
		producer.Topic(c.topic),
		producer.ProducerID(c.producerID),
		producer.Events(c.events),
		producer.Duration(c.duration),
		producer.Rate(c.rate),
		producer.Keys(c.keys),
		producer.PayloadSize(c.payloadSize),
		producer.Idempotent(c.idempotent),
		producer.DeliveryTimeout(c.deliveryTimeout),
		producer.Linger(c.linger),
		producer.Schema(store, writer, c.subject),
		producer.Logger(logger),
		producer.ProgressInterval(c.progress),
		producer.TxnTimeout(c.txnTimeout),
	}
	if c.createTopic {
		opts = append(opts, producer.CreateTopic(int32(c.partitions), int16(c.replicas)))
	}
	if c.txnID != "" {
		opts = append(opts, producer.Transactional(c.txnID, c.txnSize, c.abortFraction))
	}
	var ledgerFile *os.File
	if c.ledger != "" {
		ledgerFile, err = os.Create(c.ledger)
		if err != nil {
			return fail(fmt.Errorf("create ledger: %w", err))
		}
		defer func() { _ = ledgerFile.Close() }()
		opts = append(opts, producer.Ledger(ledgerFile))
	}

	p, err := producer.New(opts...)
	if err != nil {
		return fail(err)
	}
	res, err := p.Run(ctx)
	if err != nil {
		return fail(err)
	}
	if ledgerFile != nil {
		if err := ledgerFile.Sync(); err != nil {
			return fail(fmt.Errorf("sync ledger: %w", err))
		}
		if err := ledgerFile.Close(); err != nil {
			return fail(fmt.Errorf("close ledger: %w", err))
		}
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(res); err != nil {
		return fail(err)
	}
	return exitOK
}
