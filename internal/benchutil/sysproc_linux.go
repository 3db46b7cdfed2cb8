package benchutil

import "syscall"

// dieWithParent makes the kernel kill a child when the benchmark dies, so a
// crashed or SIGKILLed run leaves no proxy behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
