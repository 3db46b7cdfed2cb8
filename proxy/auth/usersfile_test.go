package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestParseUsersReportsEveryBadLine(t *testing.T) {
	f, err := os.Open("testdata/bad_users.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	u, err := ParseUsers(f, "bad_users.txt")
	if err == nil || u != nil {
		t.Fatalf("bad file accepted: %v", u)
	}
	if !errors.Is(err, ErrBadEntry) {
		t.Fatalf("error does not match ErrBadEntry: %v", err)
	}
	var lines []int
	for _, m := range regexp.MustCompile(`bad_users\.txt:(\d+): `).FindAllStringSubmatch(err.Error(), -1) {
		n, _ := strconv.Atoi(m[1])
		lines = append(lines, n)
	}
	want := []int{3, 4, 5, 6, 7, 8, 9, 11, 12}
	if !slices.Equal(lines, want) {
		t.Fatalf("reported lines %v, want %v\n%v", lines, want, err)
	}
	for _, frag := range []string{"already has a plain-bcrypt entry on line 2", "unknown kind", "iterations 100", "not base64", "not a number", "keys must be 32 bytes"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q:\n%v", frag, err)
		}
	}
}

func TestParseUsersEntries(t *testing.T) {
	const hash = "$2a$04$h0tVPqyXnJbcggSSkRCMnedSDQgv5F3WjV4ygZBz8mFED7NgB8IY2"
	cases := []struct {
		name    string
		content string
		wantErr bool
		users   int
	}{
		{"empty file", "", false, 0},
		{"comments and blanks", "# x\n\n   \n  # y\n", false, 0},
		{"indented entry, CRLF", "  alice:plain-bcrypt:" + hash + "\r\n", false, 1},
		{"user name with a space", "al ice:plain-bcrypt:" + hash, true, 0},
		{"empty user name", ":plain-bcrypt:" + hash, true, 0},
		{"user name with =, comma, unicode", "a=b,cé:plain-bcrypt:" + hash, false, 1},
		{"extra field", "alice:plain-bcrypt:" + hash + ":x", true, 0},
		{"one bad line spoils the file", "alice:plain-bcrypt:" + hash + "\nbob:plain-bcrypt:x\n", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseUsers(strings.NewReader(tc.content), "f")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && u.Len() != tc.users {
				t.Fatalf("Len() = %d, want %d", u.Len(), tc.users)
			}
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	ctx := context.Background()
	hash, err := HashPlainCost("p@ss:word", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	plainLine, err := FormatPlainLine("alice", hash)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := NewSCRAMCredential(MechanismSCRAMSHA256, "scram-pass", 4096)
	if err != nil {
		t.Fatal(err)
	}
	scramLine, err := FormatSCRAMLine("bob", MechanismSCRAMSHA256, cred)
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseUsers(strings.NewReader(plainLine+"\n"+scramLine+"\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := u.VerifyPlain(ctx, "alice", "p@ss:word"); err != nil || p != "alice" {
		t.Fatalf("alice: %q %v", p, err)
	}
	a, err := NewAuthenticator(u)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := a.Start(MechanismSCRAMSHA256)
	if _, err := exchange(ctx, clientMechanism(t, MechanismSCRAMSHA256, "bob", "scram-pass"), s); err != nil {
		t.Fatalf("bob over SCRAM: %v", err)
	}

	bad := []struct {
		name string
		fn   func() (string, error)
	}{
		{"plain: user with colon", func() (string, error) { return FormatPlainLine("a:b", hash) }},
		{"plain: not a hash", func() (string, error) { return FormatPlainLine("alice", "secret") }},
		{"scram: not SCRAM", func() (string, error) { return FormatSCRAMLine("bob", MechanismPlain, cred) }},
		{"scram: wrong key size", func() (string, error) { return FormatSCRAMLine("bob", MechanismSCRAMSHA512, cred) }},
		{"hash: empty password", func() (string, error) { return HashPlain("") }},
		{"hash: over 72 bytes", func() (string, error) { return HashPlainCost(strings.Repeat("x", 73), bcrypt.MinCost) }},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if line, err := tc.fn(); err == nil {
				t.Fatalf("accepted: %q", line)
			}
		})
	}
}

func TestSetUserEntryAndRemoveUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	line := func(user, pass string) string {
		h, err := HashPlainCost(pass, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		l, err := FormatPlainLine(user, h)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if err := os.WriteFile(path, []byte("# keep this comment\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct{ user, pass string }{{"alice", "one"}, {"bob", "two"}, {"alice", "three"}} {
		if err := SetUserEntry(path, line(st.user, st.pass)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# keep this comment\nalice:") || strings.Count(string(data), "alice:") != 1 {
		t.Fatalf("file after edits:\n%s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode changed to %v", st.Mode().Perm())
	}
	uf, err := OpenUsersFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := uf.VerifyPlain(ctx, "alice", "three"); err != nil {
		t.Fatalf("replaced entry: %v", err)
	}
	if _, err := uf.VerifyPlain(ctx, "alice", "one"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("old password still works: %v", err)
	}
	if err := SetUserEntry(path, "bad line"); err == nil {
		t.Fatal("bad line written")
	}
	n, err := RemoveUser(path, "alice")
	if err != nil || n != 1 {
		t.Fatalf("RemoveUser = %d, %v", n, err)
	}
	if err := uf.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := uf.VerifyPlain(ctx, "alice", "three"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("removed user: %v", err)
	}
	if _, err := uf.VerifyPlain(ctx, "bob", "two"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	newPath := filepath.Join(t.TempDir(), "new")
	if err := SetUserEntry(newPath, line("carol", "x")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(newPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v %v", st, err)
	}
}

func TestOpenUsersFileErrors(t *testing.T) {
	if _, err := OpenUsersFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := OpenUsersFile("testdata/bad_users.txt"); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("bad file: %v", err)
	}
}

// reloadEvent is what the reload hook saw.
type reloadEvent struct {
	users int
	err   error
}

func TestUsersFileWatchReloads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "users")
	write := func(content string) {
		t.Helper()
		// Write through a rename like an editor or a config manager would.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(user, pass string) string {
		h, _ := HashPlainCost(pass, bcrypt.MinCost)
		l, err := FormatPlainLine(user, h)
		if err != nil {
			t.Fatal(err)
		}
		return l + "\n"
	}
	write(entry("alice", "a1"))
	events := make(chan reloadEvent, 16)
	uf, err := OpenUsersFile(path, WithPollInterval(5*time.Millisecond), WithReloadHook(func(n int, err error) {
		select {
		case events <- reloadEvent{n, err}:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- uf.Watch(ctx) }()

	next := func(what string) reloadEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no reload observed after %s", what)
			return reloadEvent{}
		}
	}
	check := func(user, pass string, want error) {
		t.Helper()
		_, err := uf.VerifyPlain(ctx, user, pass)
		if !errors.Is(err, want) {
			t.Fatalf("%s/%s: %v, want %v", user, pass, err, want)
		}
	}

	write(entry("alice", "a2") + entry("bob", "b1"))
	if ev := next("adding bob"); ev.err != nil || ev.users != 2 {
		t.Fatalf("reload: %+v", ev)
	}
	check("bob", "b1", nil)
	check("alice", "a2", nil)
	check("alice", "a1", ErrAuthFailed)

	write(entry("alice", "a3") + "carol:plain-bcrypt:oops\n")
	ev := next("a bad edit")
	if !errors.Is(ev.err, ErrBadEntry) || !strings.Contains(ev.err.Error(), ":2: ") || ev.users != 2 {
		t.Fatalf("bad reload: %+v", ev)
	}
	check("bob", "b1", nil) // the old users stay
	check("alice", "a2", nil)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if ev := next("removing the file"); !errors.Is(ev.err, os.ErrNotExist) {
		t.Fatalf("removed file: %+v", ev)
	}
	check("bob", "b1", nil)

	write(entry("dave", "d1"))
	if ev := next("a fixed file"); ev.err != nil || ev.users != 1 {
		t.Fatalf("fixed reload: %+v", ev)
	}
	check("dave", "d1", nil)
	check("bob", "b1", ErrUnknownUser)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not stop")
	}
}

func TestUsersFileReloadKeepsOldUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	data, err := os.ReadFile("testdata/users.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var got []error
	uf, err := OpenUsersFile(path, WithReloadHook(func(_ int, err error) { got = append(got, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := uf.Reload(); !errors.Is(err, ErrBadEntry) || !strings.Contains(err.Error(), path+":1:") {
		t.Fatalf("Reload() = %v", err)
	}
	if uf.Users().Len() != 3 {
		t.Fatalf("users after a bad reload: %d", uf.Users().Len())
	}
	if len(got) != 1 || got[0] == nil {
		t.Fatalf("hook saw %v", got)
	}
	if _, err := uf.SCRAMCredentials(context.Background(), MechanismSCRAMSHA512, "bob"); err != nil {
		t.Fatal(err)
	}
}

func TestUsersVerifyPlainUnknownUsers(t *testing.T) {
	// Unknown users are answered the same way with or without bcrypt entries.
	ctx := context.Background()
	cred, _ := NewSCRAMCredential(MechanismSCRAMSHA512, "pw", 4096)
	scramOnly, _ := FormatSCRAMLine("bob", MechanismSCRAMSHA512, cred)
	for name, content := range map[string]string{"bcrypt": mustRead(t, "testdata/users.txt"), "scram only": scramOnly, "empty": ""} {
		t.Run(name, func(t *testing.T) {
			u, err := ParseUsers(strings.NewReader(content), name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.VerifyPlain(ctx, "nobody", "pw"); !errors.Is(err, ErrUnknownUser) {
				t.Fatalf("VerifyPlain: %v", err)
			}
			if _, err := u.SCRAMCredentials(ctx, MechanismSCRAMSHA256, "nobody"); !errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrNoCredential) {
				t.Fatalf("SCRAMCredentials: %v", err)
			}
			if _, err := u.SCRAMCredentials(ctx, MechanismPlain, "bob"); !errors.Is(err, ErrUnsupportedMechanism) {
				t.Fatalf("SCRAMCredentials(PLAIN): %v", err)
			}
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := u.VerifyPlain(canceled, "bob", "pw"); !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled: %v", err)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(fmt.Errorf("fixture: %w", err))
	}
	return string(b)
}
