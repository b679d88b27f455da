package isolate

import (
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"nsh/internal/kfile"
	"nsh/isolate/cgroup"
)

// nsh is a child subreaper (PR_SET_CHILD_SUBREAPER): a process its
// children leave behind (a daemon, `setsid sleep &`, the rest of a shell
// pipeline) is reparented to nsh instead of the machine's init. Without a
// cgroup (a non-root nsh, `cgroup off`) this is what keeps such
// grandchildren from outliving nsh: nsh reaps them as they exit and ends
// the rest when it ends (EndOrphans). With a cgroup, they are in the
// child's cgroup anyway.
//
// nsh reaps only orphans, never a process it started itself, whose status
// belongs to whoever waits for it: those are tracked from the moment of
// their fork (track), under the same lock the reaper scans under.

var reaper struct {
	sync.Mutex
	once  sync.Once
	known map[int]bool // processes nsh started; their waiters reap them
	// shared is set once nsh has started a process in its own pid
	// namespace. Only such a process's descendants can become nsh's:
	// the kernel looks for a subreaper only among the ancestors in the
	// orphan's parent's pid namespace (find_new_reaper), so what a child
	// with a pid namespace of its own leaves goes to that child, its
	// init, and is killed with it. Until then a SIGCHLD is one of nsh's
	// own children ending, and nsh does not even listen for it: each one
	// woke os/signal's thread and the reaper's goroutine for nothing
	// (a scan after it, a /proc read per thread, was some 5% of nsh's
	// time per spawn; the wake-ups, 6% of its context switches).
	shared    atomic.Bool
	watchOnce sync.Once
	subreaper bool         // the prctl took
	scans     atomic.Int64 // scans done, for tests
}

// becomeSubreaper makes nsh a child subreaper, once.
func becomeSubreaper() {
	reaper.once.Do(func() {
		reaper.known = map[int]bool{}
		reaper.subreaper = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == nil
	})
}

// shareReaper is called before nsh starts a process in its own pid
// namespace: from then on, orphans can come to nsh, and each SIGCHLD
// starts a scan that reaps those that exited.
func shareReaper() {
	reaper.shared.Store(true)
	reaper.watchOnce.Do(func() {
		if !reaper.subreaper {
			return
		}
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs, unix.SIGCHLD)
		go func() {
			for range sigs {
				if reaper.shared.Load() {
					reapOrphans(false)
				}
			}
		}()
	})
}

// track runs start, which forks a process nsh will wait for itself, so
// that the orphan reaper never takes its status. ownPidNS says the
// process is born init of a new pid namespace, so that nothing it leaves
// behind can come to nsh.
func track(ownPidNS bool, start func() (int, error)) (int, error) {
	Prepared() // every process nsh starts, helpers included
	becomeSubreaper()
	if !ownPidNS {
		shareReaper()
	}
	reaper.Lock()
	defer reaper.Unlock()
	pid, err := start()
	if err == nil && pid > 0 {
		reaper.known[pid] = true
	}
	return pid, err
}

// untrack forgets a process nsh started, once it has been reaped.
func untrack(pid int) {
	reaper.Lock()
	delete(reaper.known, pid)
	reaper.Unlock()
}

// RunTracked runs a helper command to its end (busybox --list-full,
// nsh-k8s): like every process nsh starts, through track, so that the
// orphan reaper never takes its status and anything it leaves behind is
// looked for.
func RunTracked(cmd *exec.Cmd) error {
	wait, err := StartTracked(cmd)
	if err != nil {
		return err
	}
	return wait()
}

// orphans lists nsh's children that it did not start itself: the kernel's
// list of each thread's children (orphans are reparented to any thread).
// The janitor is nsh's own and is never among them.
func orphans() []int {
	tasks, _ := os.ReadDir("/proc/self/task")
	jan := cgroup.JanitorPid()
	var out []int
	for _, t := range tasks {
		b, _ := kfile.ReadFile("/proc/self/task/" + t.Name() + "/children")
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err == nil && !reaper.known[pid] && pid != jan {
				out = append(out, pid)
			}
		}
	}
	return out
}

// reapOrphans reaps orphans that have exited; with all, it kills the
// others first and goes on until none is left (their own children come
// to nsh in turn).
func reapOrphans(all bool) {
	reaper.Lock()
	defer reaper.Unlock()
	reaper.scans.Add(1)
	for round := 0; round < 100; round++ {
		list := orphans()
		if len(list) == 0 {
			return
		}
		for _, pid := range list {
			// A child of nsh's that is not reaped keeps its pid, so
			// the number cannot name another process meanwhile.
			if all {
				unix.Kill(pid, unix.SIGKILL)
			}
			var ws unix.WaitStatus
			flags := unix.WNOHANG
			if all {
				flags = 0
			}
			unix.Wait4(pid, &ws, flags, nil)
		}
		if !all {
			return
		}
	}
}

// EndOrphans ends every process that was left to nsh by its children and
// is still running: called when nsh ends, after its children. While
// every process nsh started had a pid namespace of its own, none can
// have been (reaper.shared), and there is nothing to look for.
func EndOrphans() {
	Prepared()
	if reaper.known == nil || !reaper.shared.Load() {
		return
	}
	reapOrphans(true)
}

// StartTracked starts a helper that runs beside nsh (nsh-pair) through
// track, as RunTracked does; wait waits for its end.
func StartTracked(cmd *exec.Cmd) (wait func() error, err error) {
	pid, err := track(false, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		defer untrack(pid)
		return cmd.Wait()
	}, nil
}
