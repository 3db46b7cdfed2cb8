//go:build !linux

package benchutil

import "syscall"

// dieWithParent has no portable equivalent outside Linux; Stop still kills
// children on every normal exit path.
func dieWithParent() *syscall.SysProcAttr { return nil }
