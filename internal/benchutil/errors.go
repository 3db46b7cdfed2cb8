package benchutil

import "errors"

var (
	// ErrProcFormat means a /proc file did not have the expected layout.
	ErrProcFormat = errors.New("unexpected /proc format")
	// ErrMetricMissing means a Prometheus endpoint did not export a metric the
	// benchmark reads.
	ErrMetricMissing = errors.New("metric missing")
	// ErrProcessExited means a process under test exited while it was still needed.
	ErrProcessExited = errors.New("process under test exited")
	// ErrShortRun means a phase ended before it moved what it was asked to (the
	// deadline passed or the broker stopped answering).
	ErrShortRun = errors.New("phase ended early")
	// ErrBadOption means an option was out of range.
	ErrBadOption = errors.New("bad benchmark option")
)
