package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// Status is what the producer knows about one send.
type Status string

// Ledger statuses.
const (
	// StatusAcked: the broker acknowledged the event (and, when transactional, its
	// transaction committed). It must be delivered.
	StatusAcked Status = "acked"
	// StatusAborted: the event's transaction was aborted. It must never be delivered to
	// a read_committed consumer.
	StatusAborted Status = "aborted"
	// StatusUncertain: the outcome is unknown (a produce error after the request may
	// have reached the broker, or a commit whose outcome was lost). It counts as
	// delivered only if seen; it is never "lost".
	StatusUncertain Status = "uncertain"
)

// Valid reports whether s is one of the ledger statuses.
func (s Status) Valid() bool {
	return s == StatusAcked || s == StatusAborted || s == StatusUncertain
}

// Entry is one line of a ledger: the fate of one event.
type Entry struct {
	Producer string `json:"producer"`
	Seq      int64  `json:"seq"`
	Key      string `json:"key"`
	Status   Status `json:"status"`
	Topic    string `json:"topic,omitempty"`
	// Partition and Offset are where the broker put the event, -1 when unknown (they
	// are known for every acked event; aborted events keep the offsets they had).
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
	// Txn numbers the producer's transactions from 0; -1 when not transactional.
	Txn int64 `json:"txn"`
	// Error is the produce or commit error behind an uncertain or aborted status.
	Error string `json:"error,omitempty"`
}

// ID returns the entry's event identity.
func (e *Entry) ID() ID { return ID{Producer: e.Producer, Seq: e.Seq} }

// LedgerWriter appends entries as JSON lines. Safe for concurrent use; entries are
// buffered until Flush.
type LedgerWriter struct {
	mu  sync.Mutex
	bw  *bufio.Writer
	enc *json.Encoder
	err error
}

// NewLedgerWriter writes a ledger to w.
func NewLedgerWriter(w io.Writer) *LedgerWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &LedgerWriter{bw: bw, enc: json.NewEncoder(bw)}
}

// Write appends e. The first write error is kept and returned by every later call.
func (l *LedgerWriter) Write(e *Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if err := l.enc.Encode(e); err != nil {
		l.err = fmt.Errorf("write ledger: %w", err)
	}
	return l.err
}

// Flush writes buffered entries through.
func (l *LedgerWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if err := l.bw.Flush(); err != nil {
		l.err = fmt.Errorf("flush ledger: %w", err)
	}
	return l.err
}

// Ledger is the entries of one ledger file, with the name reports use for it.
type Ledger struct {
	Name    string
	Entries []Entry
}

// ReadLedger reads JSON-lines entries from r. Blank lines are skipped; a bad line is an
// error naming its line number (a truncated last line from a killed producer included:
// the caller decides whether to repair the file, the checker must not guess).
func ReadLedger(name string, r io.Reader) (Ledger, error) {
	l := Ledger{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return l, fmt.Errorf("%w: %s:%d: %v", ErrBadLedger, name, line, err)
		}
		if e.Producer == "" || e.Seq < 0 || !e.Status.Valid() {
			return l, fmt.Errorf("%w: %s:%d: need producer, seq >= 0 and status acked|aborted|uncertain", ErrBadLedger, name, line)
		}
		l.Entries = append(l.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read ledger %s: %w", name, err)
	}
	return l, nil
}

// ReadLedgerFile reads the ledger at path.
func ReadLedgerFile(path string) (Ledger, error) {
	f, err := os.Open(path)
	if err != nil {
		return Ledger{Name: path}, fmt.Errorf("open ledger: %w", err)
	}
	defer func() { _ = f.Close() }()
	return ReadLedger(path, f)
}
