package isolate

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"nsh/internal/term"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"

	"golang.org/x/sys/unix"
)

// Options say how a child is attached to nsh.
type Options struct {
	Stdin, Stdout, Stderr *os.File
	// Foreground gives the child its own process group and makes it the
	// foreground group of the terminal on Stdin, so Ctrl-C and Ctrl-Z reach
	// the child and not nsh. Wait gives the terminal back.
	Foreground bool
	// Detached puts the child in a process group of its own, away from
	// the terminal's signals; nsh ends it when nsh ends.
	Detached bool
	// Session makes the child lead a session of its own whose
	// controlling terminal is Stdin (a terminal nsh lends it, as script(1)
	// does while it records): job control happens on that terminal.
	Session bool
	// Step, when set, is called before each kernel-facing step, in the
	// parent and in the child stage alike (explain).
	Step func(string)
	// Notice, when set, receives what the user should know while a
	// foreground child runs (why Ctrl-C did nothing, what nsh did).
	Notice func(string)
	// Verify, when set, runs once the namespace files to join are open
	// and before the child is made: it says whether they still belong to
	// the processes they were taken from.
	Verify func() error
	// Timing, when set, receives what each part of the spawn cost; the
	// last two parts arrive when Wait returns.
	Timing *Timing
	// Again says another spawn is coming (a script's later line): once
	// this child runs, the next one's cgroup is made meanwhile, with this
	// one's configuration (cgroup.MakeAhead), unless Step is set.
	Again bool

	// Args is the command; Args[0] is looked up in the child's PATH.
	Args []string
	// CopiedFilters, for an Enter of a process nsh did not start, are
	// its seccomp filters as CopySeccompFilters read them, oldest first:
	// what enters it runs under them too.
	CopiedFilters []*bpf.Filter
	// enter is set for a process that enters a running child: the
	// credentials and capabilities it takes on before its command;
	// filters are that child's, which hold for it too.
	enter   *Creds
	filters []*bpf.Filter
	// probe, when set, replaces the command: the child stage makes one
	// system call and reports what the kernel answered (seccomp test).
	probe *Probe
}

// ExecError is a failed execve of the command in the child stage.
type ExecError struct {
	Path string
	Err  error
}

func (e *ExecError) Error() string { return fmt.Sprintf("exec %q: %v", e.Path, e.Err) }
func (e *ExecError) Unwrap() error { return e.Err }

// Status is what a shell reports for a command that failed to start: 127
// when it was not found, 126 when it was found but could not be executed.
func (e *ExecError) Status() int {
	if errors.Is(e.Err, unix.ENOENT) {
		return 127
	}
	return 126
}

// noJobControlOnce: the note on a terminal nsh cannot hand over, once.
var noJobControlOnce sync.Once

// Child is a running child.
type Child struct {
	// Pid runs the command. It is nsh's own child, except after joining a
	// pid namespace: then nsh's child is a relay and Pid is the relay's.
	Pid    int
	direct int // nsh's child
	pidfd  int // of direct, from clone; -1 where the kernel has none

	foreground bool
	ownGroup   bool // leads a process group of its own
	tty        *os.File
	termios    *term.State
	pidInit    bool // PID 1 of a new pid namespace
	keyMu      sync.Mutex
	warned     time.Time // when Keyed last said Ctrl-C was ignored
	notice     func(string)
	step       func(string)

	group *cgroup.Group // the child's cgroup, removed once it is reaped
	// Layer is its overlay's writable layer, if its root is an overlay.
	// It outlives the child, so that what the child changed can still be
	// read: whoever holds the Child removes it (Layer.Remove).
	Layer *Layer
	links []hostLink // host ends of its veth pairs, removed likewise
	// OOMKills is how many of the child's processes the OOM killer
	// ended, known once Wait returns.
	OOMKills int
	// ForksRefused is how many forks its pids.max refused, known once
	// Wait returns.
	ForksRefused int

	// filters and rlimits are what the child was started with; a full
	// enter gives them to the entered process too, as runc exec does.
	filters []*bpf.Filter
	rlimits []plan.Rlimit
	// Probed is the kernel's answer to a probe (plan.Spec.Probe), if any.
	Probed *ProbeResult
	// foreign: a process nsh did not start, taken with Attach.
	foreign bool
	timing  *Timing
	// termSignal is the signal that ended the child, once Wait saw it:
	// a status of 128+N is also what an exit(128+N) gives.
	termSignal unix.Signal
}

func (o *Options) step(format string, args ...any) {
	if o.Step != nil {
		o.Step(fmt.Sprintf(format, args...))
	}
}

// setnsPlan is what the stage (stage.c) joins before its program.
type setnsPlan struct {
	files     []*os.File // namespace files or pidfds, each with its flags
	flags     []int
	root, cwd *os.File
	enter     bool // entering a running process: its cgroups too
	target    int  // the process entered
}

func (p *setnsPlan) close() {
	for _, f := range append(p.files, p.root, p.cwd) {
		if f != nil {
			f.Close()
		}
	}
}

// Launch starts a child made from spec and returns once its command runs.
// A failure anywhere on the way, in nsh or in the child stage, is returned
// as an error and nothing is left running.
func Launch(spec *plan.Spec, opt Options) (*Child, error) {
	if err := Check(spec); err != nil {
		return nil, err
	}
	joins := &setnsPlan{}
	defer joins.close()
	for _, j := range spec.Join {
		f, err := OpenNamespace(j.Path, j.Type)
		if err != nil {
			return nil, fmt.Errorf("join %s %s: %w", j.Type, j.Ref, err)
		}
		if j.Ino != 0 {
			if _, ino, err := NamespaceOf(f); err != nil || ino != j.Ino {
				f.Close()
				return nil, fmt.Errorf("join %s %s: process %s is gone or is another one now (its %s namespace is no longer %s:[%d]): join it again", j.Type, j.Ref, j.Ref, j.Type, j.Type, j.Ino)
			}
		}
		joins.files = append(joins.files, f)
		joins.flags = append(joins.flags, int(cloneFlag[j.Type]))
	}
	if opt.Verify != nil {
		if err := opt.Verify(); err != nil {
			return nil, err
		}
	}
	return start(spec, opt, joins)
}

func start(spec *plan.Spec, opt Options, joins *setnsPlan) (_ *Child, err error) {
	if len(opt.Args) == 0 {
		return nil, errors.New("no command to run")
	}
	l := &launch{spec: spec, opt: &opt, joins: joins}
	defer l.close()
	if err := l.prepare(); err != nil {
		return nil, err
	}
	if err := l.stageFiles(); err != nil {
		return nil, err
	}
	if layer := l.c.Layer; layer != nil {
		defer func() {
			if err != nil {
				layer.Remove()
			}
		}()
	}
	l.terminal()
	l.sendAhead()
	if err := l.clone(); err != nil {
		return nil, err
	}
	return l.run()
}

type lateFile struct {
	f     *os.File
	value string
}

// lateFiles opens what the child stage writes last: its own pids.max, or
// for enter the cgroup.procs of each cgroup of the entered child.
func (c *Child) lateFiles(joins *setnsPlan) ([]lateFile, error) {
	var paths, values []string
	if joins.enter {
		dirs, err := cgroup.DirsToJoin(joins.target)
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			paths = append(paths, d+"/cgroup.procs")
			values = append(values, "0") // 0: the writing process
		}
	}
	if c.group != nil {
		for _, w := range c.group.Deferred() {
			paths = append(paths, w.Path)
			values = append(values, w.Value)
		}
	}
	var out []lateFile
	for i, p := range paths {
		f, err := openForStage(p)
		if err != nil {
			for _, o := range out {
				o.f.Close()
			}
			return nil, err
		}
		out = append(out, lateFile{f, values[i]})
	}
	return out, nil
}

// openForStage opens a file for the child stage to write to.
func openForStage(path string) (*os.File, error) {
	// Opened plainly: os.OpenFile would register it with Go's poller
	// (cgroup files are pollable) only for nsh to hand it on.
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

func setUserMaps(spec *plan.Spec, attr *syscall.SysProcAttr, opt *Options) {
	uid, gid := os.Getuid(), os.Getgid()
	m := spec.IDMapping()
	inside := map[string][2]int{"root": {0, 0}, "id": {m.UID, m.GID}}
	ids, ok := inside[m.Mode]
	if !ok { // "none": the child sees the overflow ids
		opt.step("user namespace without id maps: ids show as 65534 inside")
		return
	}
	// Whatever its uid inside, the stage keeps the capabilities a new
	// user namespace gives it: it is not an execve (clone.h), which
	// would drop them for a uid other than 0.
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: ids[0], HostID: uid, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: ids[1], HostID: gid, Size: 1}}
	// An unprivileged writer of gid_map must deny setgroups first (user_namespaces(7)).
	attr.GidMappingsEnableSetgroups = uid == 0
	if uid != 0 {
		opt.step("write /proc/CHILD/setgroups: deny")
	}
	opt.step("write /proc/CHILD/uid_map: %d %d 1", ids[0], uid)
	opt.step("write /proc/CHILD/gid_map: %d %d 1", ids[1], gid)
}

func cloneFlagNames(spec *plan.Spec) string {
	var names []string
	for _, n := range plan.Namespaces {
		if spec.Has(n) && n != "time" && n != "cgroup" {
			names = append(names, plan.CloneFlagName(n))
		}
	}
	if len(names) == 0 {
		return "no new namespaces"
	}
	return strings.Join(names, "|")
}

// startError explains a failed clone in terms of what the user can change.
func startError(spec *plan.Spec, err error) error {
	nsList := spec.Namespaces
	if errors.Is(err, unix.EPERM) && !spec.Has("user") && os.Geteuid() != 0 {
		return fmt.Errorf("creating namespaces %s: %w: it needs CAP_SYS_ADMIN; run nsh as root, or add `unshare user` to be root in a user namespace of your own",
			strings.Join(nsList, ","), unix.EPERM)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS) {
		return fmt.Errorf("creating namespaces %s: %w (see /proc/sys/user/max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns)",
			strings.Join(nsList, ","), err)
	}
	return fmt.Errorf("start child stage: %w", err)
}
