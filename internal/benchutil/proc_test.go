package benchutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		raw     string
		want    time.Duration
		wantErr error
	}{
		{name: "plain command", file: "stat.txt", want: 100 * time.Millisecond},
		{name: "parentheses and spaces in command", file: "stat_parens.txt", want: 18010 * time.Millisecond},
		{name: "no command", raw: "12 S 1 2 3", wantErr: ErrProcFormat},
		{name: "truncated", raw: "12 (x) S 1 2 3 4 5", wantErr: ErrProcFormat},
		{name: "negative ticks", raw: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 3 0", wantErr: ErrProcFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.raw)
			if tt.file != "" {
				b = readFixture(t, tt.file)
			}
			got, err := ParseStatCPU(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("cpu = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	tests := []struct {
		file    string
		want    int64
		wantErr error
	}{
		{file: "status.txt", want: 2220 << 10},
		{file: "status_kthread.txt", wantErr: ErrProcFormat},
		{file: "status_bad.txt", wantErr: ErrProcFormat},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseStatusRSS(readFixture(t, tt.file))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("rss = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestProcSelf reads this test process, the one pid certain to exist.
func TestProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	rss, err := ProcRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 {
		t.Fatalf("rss = %d, want > 0", rss)
	}
	if _, err := ProcCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcCPU(-1); err == nil {
		t.Fatal("ProcCPU(-1) succeeded")
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
