package isolate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"nsh/isolate/seccomp/bpf"
)

// ptraceSeccompGetFilter is PTRACE_SECCOMP_GET_FILTER (linux/ptrace.h),
// which x/sys/unix does not name.
const ptraceSeccompGetFilter = 0x420c

// seccompRetUserNotif is SECCOMP_RET_USER_NOTIF: a filter that hands
// calls to a supervisor through a descriptor, which a copy cannot have.
const seccompRetUserNotif = 0x7fc00000

// ErrFilterNotCopied says the filters of a process could not be read to
// be given to what enters it.
var ErrFilterNotCopied = errors.New("its seccomp filters could not be copied")

// CopySeccompFilters reads the seccomp filters of t, a running process nsh
// did not start, oldest first, as the kernel lets root read them
// (PTRACE_SECCOMP_GET_FILTER, what CRIU does): the process is attached
// with PTRACE_SEIZE, held in a ptrace stop for as long as the reading
// takes, and let go as it was (a signal that arrived meanwhile is passed
// on). runc exec gives what enters a container the filter of the
// container's config; nsh reads the filter the process itself runs under.
// The pid is checked to be t's once attached: a process that ended and
// whose pid was reused meanwhile is let go and never read.
func CopySeccompFilters(t *Child) ([]*bpf.Filter, error) {
	type result struct {
		fs  []*bpf.Filter
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A tracer is a thread: seizing, waiting and reading happen on
		// one, which is never unlocked, so it ends with this goroutine.
		// A thread that ends lets go of what it traces: however the
		// reading went (a detach the kernel refused included), the
		// process is never left stopped under nsh.
		runtime.LockOSThread()
		fs, err := copyFilters(t)
		done <- result{fs, err}
	}()
	r := <-done
	return r.fs, r.err
}

func copyFilters(t *Child) ([]*bpf.Filter, error) {
	pid := t.Pid
	if err := unix.PtraceSeize(pid); err != nil {
		return nil, fmt.Errorf("%w: ptrace(PTRACE_SEIZE, %d): %w (a process already traced, by a debugger or strace, cannot be)", ErrFilterNotCopied, pid, err)
	}
	sig := 0
	defer func() {
		unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0, uintptr(sig), 0, 0)
	}()
	if !t.Alive() {
		return nil, errors.New("the process has exited")
	}
	if err := unix.PtraceInterrupt(pid); err != nil {
		return nil, fmt.Errorf("%w: ptrace(PTRACE_INTERRUPT, %d): %w", ErrFilterNotCopied, pid, err)
	}
	var err error
	if sig, err = waitStopped(pid); err != nil {
		return nil, err
	}
	var filters []*bpf.Filter
	for i := 0; ; i++ {
		n, _, errno := unix.Syscall6(unix.SYS_PTRACE, ptraceSeccompGetFilter, uintptr(pid), uintptr(i), 0, 0, 0)
		if errno == unix.ENOENT {
			break
		}
		if errno != 0 {
			return nil, fmt.Errorf("%w: ptrace(PTRACE_SECCOMP_GET_FILTER, %d, %d): %w", ErrFilterNotCopied, pid, i, errno)
		}
		prog := make([]byte, 8*n)
		if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, ptraceSeccompGetFilter, uintptr(pid), uintptr(i), uintptr(unsafe.Pointer(&prog[0])), 0, 0); errno != 0 {
			return nil, fmt.Errorf("%w: ptrace(PTRACE_SECCOMP_GET_FILTER, %d, %d): %w", ErrFilterNotCopied, pid, i, errno)
		}
		if usesUserNotif(prog) {
			return nil, fmt.Errorf("%w: filter %d hands calls to a supervisor (SECCOMP_RET_USER_NOTIF), which a copy would not have", ErrFilterNotCopied, i)
		}
		filters = append(filters, &bpf.Filter{BPF: prog, From: fmt.Sprintf("filter %d of pid %d, copied", i+1, pid)})
	}
	// Index 0 is the newest; they are installed oldest first.
	for i, j := 0, len(filters)-1; i < j; i, j = i+1, j-1 {
		filters[i], filters[j] = filters[j], filters[i]
	}
	return filters, nil
}

// waitStopped waits, up to a second, for pid's ptrace stop, and returns the
// signal to pass on when it is let go: none for the stop nsh asked for, the
// signal for one that was being delivered.
func waitStopped(pid int) (int, error) {
	deadline := time.Now().Add(time.Second)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%w: wait for pid %d to stop: %w", ErrFilterNotCopied, pid, err)
		}
		if got == pid && ws.Stopped() {
			if ws.TrapCause() == unix.PTRACE_EVENT_STOP {
				return 0, nil
			}
			return int(ws.StopSignal()), nil
		}
		if got == pid {
			return 0, errors.New("the process has exited")
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: pid %d did not stop within a second (a frozen cgroup holds it: cgroup thaw first)", ErrFilterNotCopied, pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// usesUserNotif says whether a classic BPF program can return
// SECCOMP_RET_USER_NOTIF: a BPF_RET|BPF_K whose action is it.
func usesUserNotif(prog []byte) bool {
	for i := 0; i+8 <= len(prog); i += 8 {
		code := binary.NativeEndian.Uint16(prog[i:])
		k := binary.NativeEndian.Uint32(prog[i+4:])
		if code == unix.BPF_RET|unix.BPF_K && k&0xffff0000 == seccompRetUserNotif {
			return true
		}
	}
	return false
}
