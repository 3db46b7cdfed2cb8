package benchutil

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat. The kernel fixes
// USER_HZ at 100 on every architecture Go supports; reading it needs sysconf,
// which needs cgo.
const userHZ = 100

// ParseStatCPU returns utime+stime from the contents of /proc/<pid>/stat. The
// command name can hold spaces and parentheses, so fields are counted from the
// last ')'.
func ParseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat without command name: %w", ErrProcFormat)
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15).
	f := bytes.Fields(stat[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("stat has %d fields after the command: %w", len(f), ErrProcFormat)
	}
	var ticks int64
	for _, k := range []int{utime, stime} {
		n, err := strconv.ParseInt(string(f[k]), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("stat field %d %q: %w", k+3, f[k], ErrProcFormat)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// ParseStatusRSS returns VmRSS in bytes from the contents of /proc/<pid>/status.
func ParseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: %w", bytes.TrimSpace(line), ErrProcFormat)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("VmRSS value %q: %w", f[0], ErrProcFormat)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line (kernel thread or zombie?): %w", ErrProcFormat)
}

// ProcCPU returns the CPU time (user + system) process pid has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of pid %d: %w", pid, err)
	}
	d, err := ParseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return d, nil
}

// ProcRSS returns the resident set size of process pid in bytes.
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS of pid %d: %w", pid, err)
	}
	n, err := ParseStatusRSS(b)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return n, nil
}

// LoadAvg returns the 1-minute load average from /proc/loadavg, or NaN where it
// cannot be read. The report prints it: on a shared machine it explains a noisy
// run.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
