package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is how often Watch checks the users file for changes.
const DefaultPollInterval = 2 * time.Second

// UsersFile is a Verifier over a users file that can be reloaded while the proxy
// runs. A reload that fails (unreadable file, any bad line) keeps the users already
// loaded and reports the error; nothing is half-applied. Safe for concurrent use.
type UsersFile struct {
	path     string
	interval time.Duration
	logger   *slog.Logger
	onReload func(users int, err error)

	cur atomic.Pointer[Users]

	mu      sync.Mutex // serializes reloads and guards the fields below
	modTime time.Time
	size    int64
	sum     [sha256.Size]byte
	lastErr string // last reported poll error, so a broken file is logged once
}

// FileOption configures a UsersFile.
type FileOption func(*UsersFile)

// WithPollInterval sets how often Watch looks at the file (default DefaultPollInterval).
func WithPollInterval(d time.Duration) FileOption {
	return func(f *UsersFile) {
		if d > 0 {
			f.interval = d
		}
	}
}

// WithFileLogger logs reloads and reload errors to l (default: discarded).
func WithFileLogger(l *slog.Logger) FileOption {
	return func(f *UsersFile) { f.logger = l }
}

// WithReloadHook calls fn after every reload attempt Watch or Reload makes, with the
// number of users now loaded and the reload error (nil on success). The proxy uses it
// for a reload-failure counter and a users gauge.
func WithReloadHook(fn func(users int, err error)) FileOption {
	return func(f *UsersFile) { f.onReload = fn }
}

// OpenUsersFile loads the users file at path. Unlike a reload, a first load that
// fails is an error: the proxy must not start with no users.
func OpenUsersFile(path string, opts ...FileOption) (*UsersFile, error) {
	f := &UsersFile{path: path, interval: DefaultPollInterval, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(f)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.load(true); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *UsersFile) Path() string { return f.path }

// Users returns the users currently loaded.
func (f *UsersFile) Users() *Users { return f.cur.Load() }

// VerifyPlain implements Verifier with the users currently loaded.
func (f *UsersFile) VerifyPlain(ctx context.Context, user, pass string) (string, error) {
	return f.cur.Load().VerifyPlain(ctx, user, pass)
}

// SCRAMCredentials implements Verifier with the users currently loaded.
func (f *UsersFile) SCRAMCredentials(ctx context.Context, mechanism, user string) (SCRAMCredential, error) {
	return f.cur.Load().SCRAMCredentials(ctx, mechanism, user)
}

// Reload reads the file now, whether or not it changed. On error the users loaded
// before stay in force.
func (f *UsersFile) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.load(true)
	f.report(err)
	return err
}

// Watch polls the file's modification time and size every poll interval and reloads
// it when they change, until ctx is done; then it returns nil. Run it in the proxy's
// errgroup.
func (f *UsersFile) Watch(ctx context.Context) error {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f.poll()
		}
	}
}

func (f *UsersFile) poll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed, err := f.load(false)
	if err != nil {
		// A file being rewritten can fail once; only a new failure is worth a report.
		if err.Error() != f.lastErr {
			f.lastErr = err.Error()
			f.report(err)
		}
		return
	}
	f.lastErr = ""
	if changed {
		f.report(nil)
	}
}

func (f *UsersFile) report(err error) {
	n := f.cur.Load().Len()
	if err != nil {
		f.logger.Error("users file reload failed, keeping the users loaded before", "path", f.path, "users", n, "err", err)
	} else {
		f.logger.Info("users file loaded", "path", f.path, "users", n)
	}
	if f.onReload != nil {
		f.onReload(n, err)
	}
}

// load reads and installs the file; with force false it first skips a file whose
// modification time and size are unchanged, and an unchanged content is not
// reinstalled. It reports whether new users were installed. Callers hold f.mu.
func (f *UsersFile) load(force bool) (bool, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return false, fmt.Errorf("users file: %w", err)
	}
	if !force && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return false, nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return false, fmt.Errorf("users file: %w", err)
	}
	sum := sha256.Sum256(data)
	if !force && sum == f.sum && f.cur.Load() != nil {
		f.modTime, f.size = st.ModTime(), st.Size()
		return false, nil
	}
	users, err := ParseUsers(bytes.NewReader(data), f.path)
	if err != nil {
		// Remember nothing: the next poll tries again even if the stamp stays.
		return false, err
	}
	f.cur.Store(users)
	f.modTime, f.size, f.sum = st.ModTime(), st.Size(), sum
	return true, nil
}

// SetUserEntry writes line (from FormatPlainLine or FormatSCRAMLine) into the users
// file at path, replacing the entry of the same user and kind, and creates the file
// (mode 0600) if needed. The file is replaced atomically, so a watching proxy sees
// either the old or the new file, never half of one.
func SetUserEntry(path, line string) error {
	old, mode, err := readForEdit(path)
	if err != nil {
		return err
	}
	data, err := setEntry(old, line)
	if err != nil {
		return fmt.Errorf("users file %s: %w", path, err)
	}
	return writeAtomic(path, data, mode)
}

// RemoveUser deletes every entry of user from the users file at path and reports how
// many it removed.
func RemoveUser(path, user string) (int, error) {
	old, mode, err := readForEdit(path)
	if err != nil {
		return 0, err
	}
	data, n := removeUser(old, user)
	if n == 0 {
		return 0, nil
	}
	return n, writeAtomic(path, data, mode)
}

func readForEdit(path string) ([]byte, fs.FileMode, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o600, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("users file: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("users file: %w", err)
	}
	return data, st.Mode().Perm(), nil
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("users file: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	return nil
}
