package isolate

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"nsh/plan"

	"golang.org/x/sys/unix"
)

// Enter runs args inside a running child, like nsenter -a -t PID or
// docker exec: in its namespaces of the given types (all that differ
// from nsh's when types is empty), and, when types is empty, also in its
// cgroups, with its root, working directory, ids and capability sets.
// The namespaces are joined through a pidfd, so a recycled pid is never
// entered by mistake.
func Enter(t *Child, types []string, args []string, opt Options) (*Child, error) {
	opt.Args = args
	return enter(t, types, &plan.Spec{}, opt)
}

// ProbeIn makes one system call inside a running child, as a full enter
// would run a command there (with the child's filter), and returns the
// kernel's answer.
func ProbeIn(t *Child, pr *Probe, opt Options) (ProbeResult, error) {
	opt.Args, opt.probe = []string{pr.Name}, pr
	c, err := enter(t, nil, &plan.Spec{}, opt)
	if err != nil {
		return ProbeResult{}, err
	}
	return c.probeResult()
}

// Probe makes one system call in a new child of spec, in place of its
// command, and returns the kernel's answer.
func ProbeNew(spec *plan.Spec, pr *Probe, opt Options) (ProbeResult, error) {
	opt.Args, opt.probe = []string{pr.Name}, pr
	c, err := Launch(spec, opt)
	if err != nil {
		return ProbeResult{}, err
	}
	return c.probeResult()
}

func (c *Child) probeResult() (ProbeResult, error) {
	status, err := c.Wait()
	if c.Probed != nil {
		return *c.Probed, nil
	}
	if err != nil {
		return ProbeResult{}, err
	}
	if c.termSignal != 0 {
		return ProbeResult{Signal: c.termSignal}, nil
	}
	return ProbeResult{Status: status}, nil
}

func enter(t *Child, types []string, spec *plan.Spec, opt Options) (*Child, error) {
	full := len(types) == 0
	pidfd, err := t.openPidfd()
	if err != nil {
		return nil, err
	}
	joins := &setnsPlan{enter: full, target: t.Pid}
	defer joins.close()
	pf := os.NewFile(uintptr(pidfd), "pidfd")
	flags, err := differingNamespaces(t.Pid, types)
	if err != nil {
		pf.Close()
		return nil, err
	}
	if flags == 0 {
		pf.Close()
	} else {
		joins.files, joins.flags = []*os.File{pf}, []int{flags}
	}
	if full || flags&unix.CLONE_NEWNS != 0 {
		if joins.root, err = openDir(t.Pid, "root"); err != nil {
			return nil, err
		}
		if joins.cwd, err = openDir(t.Pid, "cwd"); err != nil {
			return nil, err
		}
	}
	if full {
		if opt.enter, err = ReadCreds(t.Pid, flags&unix.CLONE_NEWUSER != 0); err != nil {
			return nil, err
		}
		// As runc exec: the child's filter and limits hold for what
		// enters it, or entering would be a way around them.
		opt.filters, spec.Rlimits = t.filters, t.rlimits
		if opt.CopiedFilters != nil {
			opt.filters = opt.CopiedFilters
		}
	}
	// Everything above read /proc/PID: it was this child's only if the
	// child is still there now.
	if !t.Alive() {
		return nil, errors.New("the child has exited")
	}
	return start(spec, opt, joins)
}

// openPidfd returns a new pidfd for the process that runs the command.
func (c *Child) openPidfd() (int, error) {
	if c.Pid == c.direct && c.pidfd >= 0 {
		fd, err := unix.FcntlInt(uintptr(c.pidfd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("dup pidfd: %w", err)
		}
		return fd, nil
	}
	fd, err := unix.PidfdOpen(c.Pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open(%d): %w", c.Pid, err)
	}
	// Behind a relay the command is the relay's child; checked once the
	// pidfd is held, a recycled pid would have another parent.
	if err := c.own(c.Pid); err != nil {
		unix.Close(fd)
		if errors.Is(err, ErrNotOurs) {
			return -1, errors.New("the child has exited")
		}
		return -1, err
	}
	return fd, nil
}

func parentOf(pid int) int {
	n, _ := strconv.Atoi(statusField(pid, "PPid"))
	return n
}

// differingNamespaces is the CLONE_NEW* flags of the namespaces of pid
// (of the given types, or all) that are not nsh's own: joining one's own
// user namespace is an error, and joining the others again is pointless.
func differingNamespaces(pid int, types []string) (int, error) {
	theirs, err := ProcessNamespaces(pid)
	if err != nil {
		return 0, err
	}
	ours, err := ProcessNamespaces(0)
	if err != nil {
		return 0, err
	}
	mine := map[string]uint64{}
	for _, e := range ours {
		mine[e.Link] = e.Inode
	}
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	flags := 0
	for _, e := range theirs {
		f, ok := cloneFlag[e.Link]
		if !ok || (len(types) > 0 && !want[e.Link]) {
			continue
		}
		if e.Inode == 0 {
			return 0, fmt.Errorf("cannot read %s", NSPath(pid, e.Link))
		}
		if e.Inode != mine[e.Link] {
			flags |= int(f)
		}
	}
	return flags, nil
}

func openDir(pid int, which string) (*os.File, error) {
	p := "/proc/" + strconv.Itoa(pid) + "/" + which
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}
