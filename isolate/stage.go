package isolate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// The child stage runs from a package initialiser, before main, in any
// binary that links isolate (nsh itself and its test binaries), so that a
// re-executed /proc/self/exe never reaches nsh's flag parsing or a test
// runner. It is already inside the new namespaces; what is left here
// needs no other process.
func init() {
	switch os.Getenv(stageEnv) {
	case stageWatch:
		os.Exit(watchStage())
	case stageInit:
	default:
		return
	}
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafeCString("nsh:init")), 0, 0, 0)
	os.Exit(childStage())
}

type stage struct {
	conn *os.File
	enc  *json.Encoder
}

func (st *stage) step(format string, args ...any) {
	st.enc.Encode(message{Step: fmt.Sprintf(format, args...)})
}

// fail reports err to the parent; the parent turns it into the command's error.
func (st *stage) fail(err error) int {
	m := message{Error: err.Error()}
	var errno unix.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
		m.Error = strings.TrimSuffix(m.Error, ": "+errno.Error())
	}
	var ee *ExecError
	if errors.As(err, &ee) {
		m.Exec = ee.Path
	}
	st.enc.Encode(m)
	return 1
}

func childStage() int {
	conn := os.NewFile(stageFD, "nsh-stage")
	st := &stage{conn: conn, enc: json.NewEncoder(conn)}
	// The command must not inherit the channel; on a successful execve its
	// closing is what tells the parent that all went well.
	unix.CloseOnExec(stageFD)
	os.Unsetenv(stageEnv)

	r := bufio.NewReader(conn)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return st.fail(fmt.Errorf("read spec from nsh: %w", err))
	}
	var spec Spec
	if err := json.Unmarshal(line, &spec); err != nil {
		return st.fail(fmt.Errorf("decode spec: %w", err))
	}
	if err := st.setup(&spec); err != nil {
		return st.fail(err)
	}
	return st.exec(&spec)
}

// setup does, in order, what must happen inside the namespaces before the
// command runs.
func (st *stage) setup(spec *Spec) error {
	if spec.Has("cgroup") {
		// Now, in its own cgroup: that cgroup becomes the root it sees.
		st.step("unshare(CLONE_NEWCGROUP)")
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWCGROUP): %w", err)
		}
	}
	if spec.Has("mnt") {
		// Without this, mounts made below would propagate back to the
		// host's shared mounts (systemd makes / shared).
		st.step("mount(none, /, MS_REC|MS_PRIVATE)")
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make mounts private: mount(none, /, MS_REC|MS_PRIVATE): %w", err)
		}
	}
	if spec.Hostname != "" {
		st.step("sethostname(%q)", spec.Hostname)
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", spec.Hostname, err)
		}
	}
	switch {
	case spec.Rootfs != nil:
		if err := st.setupRootfs(spec); err != nil {
			return err
		}
	case spec.Has("mnt"):
		if spec.Has("pid") {
			// A fresh /proc shows the new pid namespace; the old one
			// would still list the host's processes.
			const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
			st.step("mount(proc, /proc, proc, MS_NOSUID|MS_NODEV|MS_NOEXEC)")
			if err := unix.Mount("proc", "/proc", "proc", flags, ""); err != nil {
				return fmt.Errorf("mount a fresh /proc: %w", err)
			}
		}
		if err := st.extraMounts(spec, ""); err != nil {
			return err
		}
	}
	if spec.Net != nil && spec.Net.LoUp {
		st.step("ioctl(SIOCSIFFLAGS, lo, IFF_UP)")
		if err := linkUp("lo"); err != nil {
			return fmt.Errorf("bring lo up: %w", err)
		}
	}
	if err := st.writeSysctls(spec); err != nil {
		return err
	}
	if spec.Has("time") {
		st.step("unshare(CLONE_NEWTIME)")
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWTIME): %w", err)
		}
		if spec.Time != (TimeOffsets{}) {
			offsets := fmt.Sprintf("monotonic %d 0\nboottime %d 0\n", spec.Time.Monotonic, spec.Time.Boottime)
			st.step("write /proc/self/timens_offsets: monotonic %+ds, boottime %+ds", spec.Time.Monotonic, spec.Time.Boottime)
			if err := os.WriteFile("/proc/self/timens_offsets", []byte(offsets), 0); err != nil {
				if errors.Is(err, unix.ERANGE) {
					var ts unix.Timespec
					unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
					return fmt.Errorf("set clock offsets: %w: a negative offset may not take a clock below zero, and this host's monotonic clock is at %ds", err, ts.Sec)
				}
				return fmt.Errorf("set clock offsets: %w", err)
			}
		}
	}
	return nil
}

// exec replaces the child stage with the command. Since Linux 6.2 an
// execve moves the task into its time_for_children namespace; older
// kernels only place forked children there, so the stage forks instead.
func (st *stage) exec(spec *Spec) int {
	// Capabilities raised only to get the stage through its own execve
	// must not reach the command.
	if spec.Enter == nil && spec.Has("user") && spec.IDMapping().Mode != "root" {
		if err := dropStageCaps(); err != nil {
			return st.fail(err)
		}
	}
	if spec.Enter != nil {
		if err := spec.Enter.apply(st.step); err != nil {
			return st.fail(err)
		}
	} else if err := st.applyPrivileges(spec); err != nil {
		return st.fail(err)
	}
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	path, err := lookPath(spec.Args[0], env)
	if err != nil {
		return st.fail(err)
	}
	if err := st.lateWrites(spec); err != nil {
		return st.fail(err)
	}
	if spec.Has("time") && !kernelAtLeast(6, 2) {
		return st.forkExec(path, spec, env)
	}
	st.step("execve(%q, %q)", path, spec.Args)
	err = unix.Exec(path, spec.Args, env)
	return st.fail(&ExecError{Path: spec.Args[0], Err: err})
}

// forkExec runs the command as a child of the stage and passes on signals
// and its status.
func (st *stage) forkExec(path string, spec *Spec, env []string) int {
	st.step("fork and execve(%q, %q) (kernel < 6.2: only children enter a new time namespace)", path, spec.Args)
	cmd := exec.Command(path, spec.Args[1:]...)
	cmd.Args[0] = spec.Args[0]
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	if err := cmd.Start(); err != nil {
		return st.fail(&ExecError{Path: spec.Args[0], Err: errors.Unwrap(err)})
	}
	st.conn.Close()
	go func() {
		for s := range sigs {
			if s != unix.SIGCHLD && s != unix.SIGURG {
				cmd.Process.Signal(s)
			}
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(unix.WaitStatus); ok && ws.Signaled() {
			signal.Reset()
			unix.Kill(os.Getpid(), ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 0
}

// lookPath finds the command in the PATH of the child's own environment.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, checkExecutable(file)
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	var firstErr error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, unix.ENOENT) {
			firstErr = &ExecError{Path: file, Err: err.(*ExecError).Err}
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", &ExecError{Path: file, Err: unix.ENOENT}
}

func checkExecutable(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return &ExecError{Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return &ExecError{Path: p, Err: unix.EISDIR}
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return &ExecError{Path: p, Err: err}
	}
	return nil
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return true
	}
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || (ma == major && mi >= minor)
}

// dropStageCaps undoes keepCapsThroughExec: no ambient capabilities and an
// empty inheritable set, as the caller had.
func dropStageCaps() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset(inh=0): %w", err)
	}
	return nil
}

// lateWrites are the cgroup writes that must come last, right before
// execve: pids.max (the stage's own Go threads count against it, and the
// kernel checks the limit only on fork, not on a move), and, for enter, the
// move into the entered child's cgroups. The parent opened the files; the
// descriptors are the stage's.
func (st *stage) lateWrites(spec *Spec) error {
	for _, w := range spec.Late {
		st.step("write %q to %s", w.Value, w.Path)
		f := os.NewFile(uintptr(w.FD), w.Path)
		_, err := f.Write([]byte(w.Value))
		f.Close()
		if err != nil {
			return fmt.Errorf("write %s: %w", w.Path, err)
		}
	}
	return nil
}
