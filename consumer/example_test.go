package consumer_test

import (
	"context"
	"os"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
)

// The checker on a tiny run: p1 acked seq 0..2 and had seq 3 aborted; the topic holds
// seq 0 twice, seq 3, and one record that is not Avro. Seq 1 and 2 never arrived.
func ExampleCheck() {
	ledger := event.Ledger{Name: "p1.jsonl"}
	for seq := range int64(4) {
		st, txn := event.StatusAcked, int64(0)
		if seq == 3 {
			st, txn = event.StatusAborted, 1
		}
		ledger.Entries = append(ledger.Entries, event.Entry{Producer: "p1", Seq: seq, Key: "k", Status: st, Topic: "t", Partition: 0, Offset: seq, Txn: txn})
	}
	seen := func(off, seq int64) consumer.Observed {
		return consumer.Observed{Topic: "t", Offset: off, Key: "k", ID: event.ID{Producer: "p1", Seq: seq}, EventKey: "k"}
	}
	observed := []consumer.Observed{
		seen(0, 0), seen(5, 0), seen(6, 3),
		{Topic: "t", Offset: 7, Err: "not in Confluent wire format: magic byte 0x67, want 0"},
	}
	rep := consumer.Check(context.Background(), []event.Ledger{ledger}, observed, consumer.WithMaxExamples(1))
	_ = rep.WriteTable(os.Stdout)
	// Output:
	// CLASS                   COUNT
	// lost                        2
	//     p1/1 key=k at t/0@1 - acked at t/0@1, never seen
	//     ... and 1 more
	// duplicate                   1
	//     p1/0 key=k at t/0@0, t/0@5 - seen 2 times
	// aborted_read                1
	//     p1/3 key=k at t/0@6 - transaction 1 of p1 was aborted (ledger p1.jsonl)
	// unexpected                  0
	// order_partition             0
	// order_key                   0
	// undecodable                 1
	//     at t/0@7 - not in Confluent wire format: magic byte 0x67, want 0
	// inconsistent                0
	// provenance_mismatch         0
	// ledgers: 4 events (acked 3, aborted 1, uncertain 0) in p1.jsonl
	// records: 4 read, 3 decoded, 2 distinct events; acked seen 1/3; uncertain seen 0, unseen 0
	// result: FAIL (5 violations, 0 errors)
}
