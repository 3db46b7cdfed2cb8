package event

import (
	"bytes"
	"errors"
	"testing"
)

func TestLedgerRoundTrip(t *testing.T) {
	entries := []Entry{
		{Producer: "p1", Seq: 0, Key: "key-0", Status: StatusAcked, Topic: "t", Partition: 0, Offset: 0, Txn: -1},
		{Producer: "p1", Seq: 1, Key: "key-1", Status: StatusUncertain, Topic: "t", Partition: -1, Offset: -1, Txn: -1, Error: "boom"},
		{Producer: "p1", Seq: 2, Key: "key-2", Status: StatusAborted, Topic: "t", Partition: 2, Offset: 5, Txn: 1},
	}
	var buf bytes.Buffer
	w := NewLedgerWriter(&buf)
	for i := range entries {
		if err := w.Write(&entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLedger("mem", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != len(entries) {
		t.Fatalf("%d entries, want %d", len(l.Entries), len(entries))
	}
	for i := range entries {
		if l.Entries[i] != entries[i] {
			t.Errorf("entry %d = %+v, want %+v", i, l.Entries[i], entries[i])
		}
	}
}

func TestReadLedgerFile(t *testing.T) {
	for _, tc := range []struct {
		file    string
		entries int
		wantErr error
	}{
		{file: "testdata/ledger.jsonl", entries: 3},
		{file: "testdata/truncated.jsonl", wantErr: ErrBadLedger},
		{file: "testdata/badstatus.jsonl", wantErr: ErrBadLedger},
	} {
		t.Run(tc.file, func(t *testing.T) {
			l, err := ReadLedgerFile(tc.file)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Entries) != tc.entries {
				t.Fatalf("%d entries, want %d", len(l.Entries), tc.entries)
			}
			if e := l.Entries[1]; e.Status != StatusUncertain || e.Error == "" {
				t.Fatalf("entry 1 = %+v", e)
			}
		})
	}
	if _, err := ReadLedgerFile("testdata/missing.jsonl"); err == nil {
		t.Fatal("missing file read without error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLedgerWriterKeepsError(t *testing.T) {
	w := NewLedgerWriter(failWriter{})
	_ = w.Write(&Entry{Producer: "p", Status: StatusAcked})
	if err := w.Flush(); err == nil {
		t.Fatal("flush to a failing writer succeeded")
	}
	if err := w.Write(&Entry{Producer: "p", Status: StatusAcked}); err == nil {
		t.Fatal("write after a failure succeeded")
	}
}
