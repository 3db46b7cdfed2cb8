package clientsec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// tokenSource yields OAUTHBEARER tokens from a static value, a file or a command,
// caching file and command results for a TTL.
type tokenSource struct {
	static  string
	file    string
	command string
	ttl     time.Duration

	mu      sync.Mutex
	cached  string
	fetched time.Time
}

func (o *Options) tokenSource() (*tokenSource, error) {
	set := 0
	for _, v := range []string{o.OAuthToken, o.OAuthTokenFile, o.OAuthTokenCommand} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("OAUTHBEARER needs exactly one of a token, a token file or a token command")
	}
	return &tokenSource{static: o.OAuthToken, file: o.OAuthTokenFile, command: o.OAuthTokenCommand, ttl: o.OAuthTokenTTL}, nil
}

func (s *tokenSource) token(ctx context.Context) (string, error) {
	if s.static != "" {
		return s.static, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != "" && time.Since(s.fetched) < s.ttl {
		return s.cached, nil
	}
	var raw []byte
	var err error
	if s.file != "" {
		raw, err = os.ReadFile(s.file)
		if err != nil {
			return "", fmt.Errorf("read OAUTHBEARER token file: %w", err)
		}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", s.command)
		cmd.Stderr = os.Stderr
		raw, err = cmd.Output()
		if err != nil {
			return "", fmt.Errorf("OAUTHBEARER token command: %w", err)
		}
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", errors.New("OAUTHBEARER token source gave an empty token")
	}
	s.cached, s.fetched = tok, time.Now()
	return tok, nil
}
