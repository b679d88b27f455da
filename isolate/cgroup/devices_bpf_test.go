package cgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDeviceProgram attaches a device list compiled to eBPF to a v2
// cgroup of its own (below this test's; on a hybrid host, the unified
// hierarchy, whose v1 devices controller allows everything here, so the
// program alone decides) and probes it from a process born in it.
func TestDeviceProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF programs needs root")
	}
	h, err := Detect()
	if err != nil || h.Unified() == nil {
		t.Skip("no cgroup v2 hierarchy")
	}
	u := h.Unified()
	dir := filepath.Join(u.Dir(u.Self), "nsh-devtest-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	rules := []DeviceRule{
		{Allow: false, Type: "a", Major: -1, Minor: -1, Access: "rwm"},
		{Allow: true, Type: "c", Major: -1, Minor: -1, Access: "m"},
		{Allow: true, Type: "c", Major: 1, Minor: 3, Access: "rwm"}, // null
		{Allow: true, Type: "c", Major: 1, Minor: 5, Access: "r"},   // zero, read only
		{Allow: false, Type: "c", Major: 1, Minor: 3, Access: "w"},  // then null's write taken back
	}
	if err := attachDeviceProgram(dir, rules, nil); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	tmp := t.TempDir()
	probe := func(script string) bool {
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = tmp
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		return cmd.Run() == nil
	}
	for script, want := range map[string]bool{
		"head -c 0 /dev/null":    true,  // read: allowed
		"echo > /dev/null":       false, // write: denied by the last rule
		"head -c 1 /dev/zero":    true,  // read: allowed
		"echo > /dev/zero":       false, // write: not in its rule
		"head -c 1 /dev/urandom": false, // not listed: denied
		"mknod u c 1 9":          true,  // mknod of any char node
		"mknod b b 8 0":          false, // block: not listed
	} {
		if got := probe(script); got != want {
			t.Errorf("%s: allowed %v, want %v", script, got, want)
		}
	}
}

// TestLoadProgramUnderSignals loads a device program over and over while
// the process's threads are signalled, as Go's own preemption does: the
// verifier's EAGAIN (a signal pending) must be retried, not reported.
func TestLoadProgramUnderSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF programs needs root")
	}
	rules := []DeviceRule{{Allow: false, Type: "a", Major: -1, Minor: -1, Access: "rwm"}}
	for i := 0; i < 40; i++ {
		rules = append(rules, DeviceRule{Allow: true, Type: "c", Major: i, Minor: -1, Access: "rwm"})
	}
	code, err := assemble(deviceProgram(rules))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pid := os.Getpid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tids, _ := os.ReadDir("/proc/self/task")
			for _, d := range tids {
				tid, _ := strconv.Atoi(d.Name())
				unix.Tgkill(pid, tid, unix.SIGURG)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	for i := 0; i < 1000; i++ {
		fd, err := loadProgram(code)
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		unix.Close(fd)
	}
}
