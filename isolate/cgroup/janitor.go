package cgroup

import (
	"fmt"
	"nsh/internal/forkexec"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The janitor makes "nothing nsh made outlives it" hold even when nsh is
// killed outright. It is C (isolate/janitor.c), run before any Go runtime
// starts: nsh re-executed as nsh:janitor (every nsh binary links package
// isolate, whose constructor runs it), for a script run by nsh's own
// constructor (posix_spawn), otherwise by Go. It reads lines from a pipe
// whose other end only nsh holds:
//
//	add DIR              nsh is about to make cgroup DIR
//	made DIR             nsh made it (its children may be placed there)
//	del DIR              nsh removed it, or did not make it after all
//	subtree DIR CTRL...  nsh enabled CTRLs in DIR/cgroup.subtree_control
//	leaf LEAF PARENT     nsh is moving itself (and the janitor) into LEAF
//	tree DIR             nsh made DIR, a directory tree (a child's overlay layer)
//	untree DIR           nsh removed it
//
// At end of file, which comes however nsh ends, it kills what is left in
// each made cgroup, removes them newest first, removes (without killing
// anything) those nsh was only about to make, and undoes the subtree and
// leaf changes. It blocks every signal, so that a Ctrl-C or SIGTERM that
// ends nsh leaves it time to clean up.
//
// No window is left: the janitor exists before the first cgroup (the first
// New starts it and returns once it exists, unless isolate.Prepare
// started it already, or nsh's constructor did for a script run: see
// AdoptJanitor), and a directory is announced
// before its mkdir, so a SIGKILL between the two leaves an announcement
// of a directory that is either missing or empty, never an unannounced
// directory. Both the janitor's lists and its lines are unbounded.

var (
	janMu      sync.Mutex
	janPid     int
	janIn      *os.File
	janPending int // what it would have to undo: adds less dels, subtree and leaf changes
)

// makeAnnounced makes dirs with mk, announced to the janitor before and
// confirmed after, under the janitor's lock: stopJanitor (a signal that
// ends nsh, handled while a spawn runs) cannot slip in between, and a
// janitor stopped before is started again, so no directory is ever made
// that no janitor has heard of. Each announcement is one write for all
// the dirs: every line wakes the janitor, on a CPU the spawn needs. When
// mk fails, the dirs after it are withdrawn, and its own unless it says
// it made it (it may fail after its mkdir): those made stay announced for
// the caller's Remove.
func makeAnnounced(dirs []groupDir, mk func(groupDir) (made bool, err error)) error {
	janMu.Lock()
	defer janMu.Unlock()
	if err := startLocked(); err != nil {
		return err
	}
	paths := make([]string, len(dirs))
	for i, d := range dirs {
		paths[i] = d.dir
	}
	tellLocked("add", paths)
	for i, d := range dirs {
		if made, err := mk(d); err != nil {
			if !made {
				i-- // withdrawn with the rest
			}
			tellLocked("del", paths[i+1:])
			if janIn != nil {
				janPending += i + 1
			}
			return err
		}
	}
	tellLocked("made", paths)
	if janIn != nil {
		janPending += len(dirs)
	}
	return nil
}

// janitorDel tells the janitor that nsh removed dirs.
func janitorDel(dirs []string) {
	janMu.Lock()
	defer janMu.Unlock()
	if janIn != nil {
		tellLocked("del", dirs)
		janPending -= len(dirs)
	}
}

// tellLocked writes the line "word dir" for each of dirs, in one write:
// each write wakes the janitor.
func tellLocked(word string, dirs []string) {
	if janIn == nil || len(dirs) == 0 {
		return
	}
	// Sized first: one allocation, not one per line and per growth.
	n := 0
	for _, d := range dirs {
		n += len(word) + 1 + len(d) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, d := range dirs {
		b.WriteString(word)
		b.WriteByte(' ')
		b.WriteString(d)
		b.WriteByte('\n')
	}
	janIn.WriteString(b.String())
}

// noJanitor is set by tests that run on a fake cgroupfs.
var noJanitor bool

// startJanitor starts the janitor, once, and returns when it exists:
// whatever is announced from then on is undone if nsh dies.
func startJanitor() error {
	janMu.Lock()
	defer janMu.Unlock()
	return startLocked()
}

func startLocked() error {
	if janStatus >= 0 && !earlyStarted() {
		janIn.Close()
		janIn, janPid = nil, 0
	}
	if janIn != nil || noJanitor {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the cgroup janitor: %w", err)
	}
	// Away from the terminal's signals (its own group); it must outlive
	// nsh. stopJanitor reaps it.
	pid, err := forkexec.Start("/proc/self/exe", []string{"nsh:janitor"}, append(os.Environ(), "_NSH_STAGE=janitor"),
		[]*os.File{r, nil, nil}, &syscall.SysProcAttr{Setpgid: true})
	r.Close()
	if err != nil {
		w.Close()
		return fmt.Errorf("start the cgroup janitor: %w", err)
	}
	janIn, janPid = w, pid
	return nil
}

// janStatus is the status pipe of a janitor nsh's constructor started,
// until it has been read (earlyStarted).
var janStatus = -1

// AdoptJanitor takes over the janitor that nsh's constructor started for
// a script run (isolate/janitor_early.c): in is nsh's end of its pipe, status
// a pipe that ends once it runs, or carries the errno of a set-up that
// failed. It is read before the first cgroup (startLocked).
func AdoptJanitor(pid, in, status int) {
	janMu.Lock()
	defer janMu.Unlock()
	janIn, janPid, janStatus = os.NewFile(uintptr(in), "janitor pipe"), pid, status
}

// earlyStarted says whether the constructor's janitor runs; one whose
// set-up failed, or that has died since, is reaped, and startLocked starts one
// as it would have without it.
func earlyStarted() bool {
	st := janStatus
	janStatus = -1
	defer unix.Close(st)
	var b [4]byte
	n, err := unix.Read(st, b[:])
	for err == unix.EINTR {
		n, err = unix.Read(st, b[:])
	}
	var ws unix.WaitStatus
	if err == nil && n == 0 {
		// End of file: it runs, or died before it could say so.
		if dead, err := unix.Wait4(janPid, &ws, unix.WNOHANG, nil); dead == 0 && err == nil {
			return true
		}
		return false
	}
	for {
		if _, err := unix.Wait4(janPid, &ws, 0, nil); err != unix.EINTR {
			return false
		}
	}
}

// JanitorPid is the janitor's pid, 0 when there is none.
func JanitorPid() int { return janitorPid() }

// janitorPid is the janitor's pid, 0 when there is none.
func janitorPid() int {
	janMu.Lock()
	defer janMu.Unlock()
	return janPid
}

func janitorSay(words ...string) {
	janMu.Lock()
	defer janMu.Unlock()
	if janIn == nil {
		return
	}
	fmt.Fprintln(janIn, strings.Join(words, " "))
	switch words[0] {
	case "del":
		janPending--
	case "add", "subtree", "leaf", "tree":
		janPending++
	case "untree":
		janPending--
	}
}

// TrackTree tells the janitor of a directory tree nsh made outside the
// cgroup filesystem (a child's overlay layer), so that it is removed even
// if nsh is killed; UntrackTree, once nsh removed it itself.
func TrackTree(dir string) error {
	if err := startJanitor(); err != nil {
		return err
	}
	janitorSay("tree", dir)
	return nil
}

// UntrackTree: nsh removed dir itself.
func UntrackTree(dir string) { janitorSay("untree", dir) }

// stopJanitor closes the pipe and, when the janitor has something to
// undo, waits for it to finish. With nothing pending (nsh removed all it
// made) it only sees the end of its pipe and exits; it is reaped in the
// background.
func stopJanitor() {
	janMu.Lock()
	in, pid, pending := janIn, janPid, janPending
	janIn, janPid, janPending = nil, 0, 0
	if janStatus >= 0 {
		unix.Close(janStatus) // a janitor that was never needed
		janStatus = -1
	}
	janMu.Unlock()
	if in == nil {
		return
	}
	in.Close()
	reap := func() {
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				return
			}
		}
	}
	if pending <= 0 {
		go reap()
		return
	}
	reap()
}

// StartJanitor starts the janitor ahead of the first cgroup
// (isolate.Prepare); New starts it anyway.
func StartJanitor() error { return startJanitor() }
