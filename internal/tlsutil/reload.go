package tlsutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// watched holds a value loaded from files and reloads it when their contents
// change. It compares contents, not modification times: file timestamps tick in
// jiffies and inode numbers are reused, so a same-size replacement written soon
// after the previous one can look unchanged to stat. Reading a few small PEM files
// at most once per interval costs about as much as the stat would.
//
// Handshakes call get, which checks at most once per interval without blocking:
// one handshake does the check while the others keep using the current value.
type watched[T any] struct {
	what  string
	files []string
	parse func(contents [][]byte) (*T, error)
	o     *options

	cur  atomic.Pointer[T]
	next atomic.Int64 // unix nanoseconds when the next check is due

	mu      sync.Mutex // serializes loads; guards the fields below
	loaded  [][]byte   // contents behind cur
	failed  [][]byte   // contents that last failed to parse, reported once
	readErr string     // last read error reported, reported once
}

func newWatched[T any](what string, files []string, o *options, parse func([][]byte) (*T, error)) (*watched[T], error) {
	w := &watched[T]{what: what, files: files, parse: parse, o: o}
	contents, err := readAll(files)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	v, err := parse(contents)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	w.cur.Store(v)
	w.loaded = contents
	w.next.Store(time.Now().Add(o.interval).UnixNano())
	return w, nil
}

// get returns the current value, first reloading it if its files changed.
func (w *watched[T]) get() *T {
	w.maybeReload()
	return w.cur.Load()
}

func (w *watched[T]) maybeReload() {
	now := time.Now().UnixNano()
	due := w.next.Load()
	if now < due || !w.next.CompareAndSwap(due, now+int64(w.o.interval)) {
		return
	}
	if !w.mu.TryLock() {
		return
	}
	defer w.mu.Unlock()
	contents, err := readAll(w.files)
	if err != nil {
		// Mid-rotation a file can be briefly missing; report once, retry next time.
		if err.Error() != w.readErr {
			w.readErr = err.Error()
			w.reportError(fmt.Errorf("reload %s: %w (keeping the previous one)", w.what, err))
		}
		return
	}
	w.readErr = ""
	if sameContents(contents, w.loaded) || sameContents(contents, w.failed) {
		return
	}
	_ = w.loadLocked(contents)
}

// reload loads the files now, whether or not they changed.
func (w *watched[T]) reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	contents, err := readAll(w.files)
	if err != nil {
		err = fmt.Errorf("reload %s: %w (keeping the previous one)", w.what, err)
		w.reportError(err)
		return err
	}
	return w.loadLocked(contents)
}

func (w *watched[T]) loadLocked(contents [][]byte) error {
	v, err := w.parse(contents)
	if err != nil {
		w.failed = contents
		err = fmt.Errorf("reload %s: %w (keeping the previous one)", w.what, err)
		w.reportError(err)
		return err
	}
	w.cur.Store(v)
	w.loaded, w.failed = contents, nil
	w.o.logger.Info("tls files reloaded", "what", w.what, "files", w.files)
	if w.o.onReload != nil {
		w.o.onReload(w.what)
	}
	return nil
}

func (w *watched[T]) reportError(err error) {
	w.o.logger.Error("tls reload failed", "what", w.what, "err", err)
	if w.o.onReloadError != nil {
		w.o.onReloadError(err)
	}
}

func readAll(files []string) ([][]byte, error) {
	out := make([][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func sameContents(a, b [][]byte) bool {
	return len(a) > 0 && slices.EqualFunc(a, b, bytes.Equal)
}

// keyPairWatcher reloads a certificate and key. A pair whose certificate does not
// match its key (the files are replaced one at a time and only one has landed)
// fails to load, so the previous pair stays until both are in place.
func keyPairWatcher(what, certFile, keyFile, password string, o *options) (*watched[tls.Certificate], error) {
	return newWatched(what, []string{certFile, keyFile}, o, func(c [][]byte) (*tls.Certificate, error) {
		cert, err := parseKeyPair(c[0], c[1], password, certFile, keyFile)
		if err != nil {
			return nil, err
		}
		if time.Now().After(cert.Leaf.NotAfter) {
			o.logger.Warn("tls certificate has expired", "what", what, "file", certFile, "not_after", cert.Leaf.NotAfter)
		}
		return &cert, nil
	})
}

// poolWatcher reloads a CA bundle.
func poolWatcher(what, file string, o *options) (*watched[x509.CertPool], error) {
	return newWatched(what, []string{file}, o, func(c [][]byte) (*x509.CertPool, error) {
		return parseCertPool(c[0], file)
	})
}
