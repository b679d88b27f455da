// Command floor is the fastest Go program this machine runs for what
// bench/run.sh times nsh doing: the floor the spawn-speed targets are
// measured against where the kernel and Go, not nsh, set the cost.
//
//	floor hello          start the runtime, print, exit (nsh --version's floor)
//	floor oneshot CMD... six new namespaces, a cgroup of its own in every
//	                     hierarchy nsh uses, run CMD, wait, remove the cgroups
//	floor full CMD...    the same with memory.max 100M and pids.max 20
//	floor full -n N CMD  N such spawns one after another (a session's floor)
//	floor stage-oneshot|stage-full [-n N] CMD...
//	                     the same through a re-executed child stage (cgo.go)
//	floor cchild-oneshot|cchild-full [-n N] CMD...
//	                     the same with the child in C straight after clone3,
//	                     no re-exec (cgo.go): the Go-with-C-child floor
//
// It is built as nsh is (static) but without cgo, and it has no child stage
// (cgo.go adds both, as the brief's design has them: see there):
// Go's own fork and exec go straight from clone to the command's execve, so
// what a stage does in the child (a fresh /proc, dropping a capability,
// entering the cgroup namespace after placement) is left out. Those are a
// few system calls of microseconds each; the two execs a stage needs are not,
// and are what this floor does not pay.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const root = "/sys/fs/cgroup"

// stageAvailable: built with the C stage (cgo.go); the stage-* modes use it.
var stageAvailable, useStage, useCChild bool

// cloneChild starts a command through a C child after clone3 (cgo.go);
// the cchild-* modes use it.
var cloneChild func(flags uintptr, cgfd int, place []*os.File, cmd []string) (int, error)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floor hello | oneshot CMD... | full CMD...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello")
	case "oneshot", "full", "stage-oneshot", "stage-full", "cchild-oneshot", "cchild-full":
		mode := os.Args[1]
		if m, ok := strings.CutPrefix(mode, "stage-"); ok {
			if !stageAvailable {
				fmt.Fprintln(os.Stderr, "floor: the stage needs the floorcgo build (cgo.go)")
				os.Exit(2)
			}
			useStage, mode = true, m
		}
		if m, ok := strings.CutPrefix(mode, "cchild-"); ok {
			if cloneChild == nil {
				fmt.Fprintln(os.Stderr, "floor: the C child needs the floorcgo build (cgo.go)")
				os.Exit(2)
			}
			useCChild, mode = true, m
		}
		cmd, n := os.Args[2:], 1
		if len(cmd) > 2 && cmd[0] == "-n" {
			n, _ = strconv.Atoi(cmd[1])
			cmd = cmd[2:]
		}
		for i := 0; i < n; i++ {
			if err := run(mode == "full", cmd, i); err != nil {
				fmt.Fprintln(os.Stderr, "floor:", err)
				os.Exit(1)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "floor: unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// run spawns cmd as nsh does on this host: a per-child cgroup in the
// memory, cpu and pids hierarchies (v1) and the unified one, entered with
// CLONE_INTO_CGROUP where that is a cgroup2 mount.
func run(limits bool, cmd []string, i int) error {
	name := "floor-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(i)
	var dirs []string
	defer func() {
		for _, d := range dirs {
			os.Remove(d)
		}
	}()
	var unified string
	for _, h := range []string{"memory", "cpu", "cpuacct", "pids", "unified"} {
		parent, err := own(h)
		if err != nil {
			continue
		}
		d := filepath.Join(root, h, parent, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		dirs = append(dirs, d)
		if h == "unified" {
			unified = d
		}
	}
	if limits {
		if err := write(filepath.Join(root, "memory", mustOwn("memory"), name, "memory.limit_in_bytes"), "104857600"); err != nil {
			return err
		}
		if err := write(filepath.Join(root, "pids", mustOwn("pids"), name, "pids.max"), "20"); err != nil {
			return err
		}
	}
	if useCChild {
		return runCChild(dirs, unified, cmd)
	}
	c := exec.Command(cmd[0], cmd[1:]...)
	if useStage {
		// The design's stage: /proc/self/exe again, which moves itself
		// into its v1 cgroups by writing 0 to each tasks file it is
		// given (fd 3 on), as nsh's stage does, then mounts /proc and
		// runs the command.
		c = exec.Command("/proc/self/exe", cmd...)
		c.Args[0] = "floor:[stage]"
		place, err := openTasks(dirs, unified)
		defer closeAll(place)
		if err != nil {
			return err
		}
		c.ExtraFiles = place
		c.Env = append(os.Environ(), "_FLOOR_STAGE="+strings.Join(cmd, "\x1f"), "_FLOOR_PLACE="+strconv.Itoa(len(c.ExtraFiles)))
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC |
		syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWCGROUP}
	if unified != "" {
		// O_PATH: the syscall package lacks the constant.
		fd, err := syscall.Open(unified, 0x200000|syscall.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		c.SysProcAttr.UseCgroupFD, c.SysProcAttr.CgroupFD = true, fd
	}
	if err := c.Start(); err != nil {
		return err
	}
	// v1 hierarchies have no CLONE_INTO_CGROUP: without a stage the pid
	// is written after the start, which a real tool must not do (the
	// command already runs) but which costs what a placement costs.
	if !useStage {
		for _, d := range dirs {
			if d != unified {
				write(filepath.Join(d, "cgroup.procs"), strconv.Itoa(c.Process.Pid))
			}
		}
	}
	return c.Wait()
}

// runCChild starts cmd through the C child (cloneChild) in the cgroups
// dirs, and waits for it.
func runCChild(dirs []string, unified string, cmd []string) error {
	place, err := openTasks(dirs, unified)
	defer closeAll(place)
	if err != nil {
		return err
	}
	cgfd := -1
	if unified != "" {
		fd, err := syscall.Open(unified, 0x200000|syscall.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		cgfd = fd
	}
	pid, err := cloneChild(syscall.CLONE_NEWUTS|syscall.CLONE_NEWIPC|syscall.CLONE_NEWNS|syscall.CLONE_NEWPID|syscall.CLONE_NEWNET|syscall.CLONE_NEWCGROUP, cgfd, place, cmd)
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	if ws.ExitStatus() != 0 {
		return fmt.Errorf("%s: %v", cmd[0], ws)
	}
	return nil
}

// openTasks opens the tasks file of each v1 cgroup in dirs, for the
// child to place itself by writing 0 to each.
func openTasks(dirs []string, unified string) ([]*os.File, error) {
	var place []*os.File
	for _, d := range dirs {
		if d == unified {
			continue
		}
		f, err := os.OpenFile(filepath.Join(d, "tasks"), os.O_WRONLY, 0)
		if err != nil {
			return place, err
		}
		place = append(place, f)
	}
	return place, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func own(h string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, h, "cgroup.procs")); err != nil {
		return "", err
	}
	want := h
	if h == "unified" {
		want = ""
	}
	for _, line := range splitLines(string(b)) {
		var id, ctrls, path string
		if n := sscan(line, &id, &ctrls, &path); n == 3 {
			for _, c := range splitComma(ctrls) {
				if c == want {
					return path, nil
				}
			}
			if want == "" && ctrls == "" {
				return path, nil
			}
		}
	}
	return "", fmt.Errorf("no %s hierarchy", h)
}

func mustOwn(h string) string {
	p, _ := own(h)
	return p
}

func write(path, v string) error {
	return os.WriteFile(path, []byte(v), 0)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// sscan splits "id:controllers:path"; the path may itself hold colons.
func sscan(line string, id, ctrls, path *string) int {
	a := -1
	for i := 0; i < len(line); i++ {
		if line[i] == ':' {
			if a < 0 {
				a = i
				continue
			}
			*id, *ctrls, *path = line[:a], line[a+1:i], line[i+1:]
			return 3
		}
	}
	return 0
}
