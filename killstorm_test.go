package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKillStorm ends nsh at random moments early in its life (0-50 ms
// after it starts, where the windows are) with each signal it may get,
// while it makes cgroups, veths (in a network namespace of the test's
// own) and children that fork, one under setsid; then counts what is
// left of every kind. Every count must be zero. KILLS=N sets how many
// (60 in CI; docs/reliability.md has a run of 1000).
func TestKillStorm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes cgroups and network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	kills := 60
	if n, err := strconv.Atoi(os.Getenv("KILLS")); err == nil {
		kills = n
	}
	bin, dir := installNSH(t)
	// The veths' side of nsh: a network namespace held by a sleeping
	// process, entered by each nsh.
	holder := exec.Command("unshare", "-n", "sleep", "3600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	netns := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	time.Sleep(50 * time.Millisecond)
	script := filepath.Join(dir, "storm.nsh")
	os.WriteFile(script, []byte(`unshare uts pid net
net veth 198.51.100.1/30 198.51.100.2/30
cgroup set pids.max 50
spawn -d sh -c 'sleep 100 & setsid sleep 100 & sleep 100'
net rm veth 0
net veth 198.51.100.5/30 198.51.100.6/30
spawn -d sh -c 'sleep 100 & sleep 100'
reset
spawn -d sh -c 'sleep 100 & sleep 100'
spawn sleep 100
`), 0o644)
	signals := []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var failed, early, late int
	for i := 0; i < kills; i++ {
		sig := signals[i%len(signals)]
		delay := time.Duration(rng.Intn(121)) * time.Millisecond
		marker := fmt.Sprintf("NSH_STORM=%d-%d", os.Getpid(), i)
		cmd := exec.Command("nsenter", "--net="+netns, bin, script)
		cmd.Env = append(os.Environ(), marker)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		// nsenter execs nsh: the pid is nsh's.
		cmd.Process.Signal(sig)
		cmd.Wait()
		// Where the kill landed: before the first child, or once some
		// were there (then cgroups, veths and grandchildren were too).
		if strings.Contains(out.String(), "@1 pid") {
			late++
		} else {
			early++
		}
		prefix := fmt.Sprintf("nsh-%d-%s-", cmd.Process.Pid, pidNS())
		left := leftovers(marker, prefix, netns)
		if len(left) > 0 {
			failed++
			t.Errorf("kill %d (%v after %v): left %s\n%s", i, sig, delay, strings.Join(left, "; "), out.String())
			if failed > 3 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d kills (%d before the first child, %d after), nothing left", kills, early, late)
	if kills >= 20 && (early == 0 || late == 0) {
		t.Errorf("the kills did not land on both sides of the first spawn (%d before, %d after): the delays miss the windows", early, late)
	}
}

func pidNS() string {
	var st syscall.Stat_t
	syscall.Stat("/proc/self/ns/pid", &st)
	return strconv.FormatUint(st.Ino, 10)
}

// leftovers waits up to 5 s (the janitor sweeps after nsh is gone) for
// processes carrying marker, cgroups named with prefix and nsh's veths in
// netns to be gone, and lists what is still there.
func leftovers(marker, prefix, netns string) []string {
	var left []string
	for try := 0; try < 100; try++ {
		left = nil
		pids, _ := filepath.Glob("/proc/[0-9]*")
		for _, p := range pids {
			env, err := os.ReadFile(p + "/environ")
			if err == nil && bytes.Contains(env, []byte(marker+"\x00")) {
				cmd, _ := os.ReadFile(p + "/cmdline")
				left = append(left, "process "+filepath.Base(p)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
			}
		}
		for _, p := range findCgroups(func(name string) bool {
			return strings.HasPrefix(name, prefix) || name == strings.TrimSuffix(prefix, "-")+"-self"
		}) {
			left = append(left, "cgroup "+p)
		}
		links, _ := exec.Command("nsenter", "--net="+netns, "ip", "-br", "link").Output()
		for _, l := range strings.Split(string(links), "\n") {
			if strings.HasPrefix(l, "nsh") {
				left = append(left, "veth "+strings.Fields(l)[0])
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return left
}

// TestManyForkingDetachedKilled: 300 detached children that each fork,
// then SIGKILL of nsh. Nothing is left: no process, no cgroup (1500
// directories on a hybrid host, more than the janitor once could hold).
func TestManyForkingDetachedKilled(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes cgroups")
	}
	bin, dir := installNSH(t)
	var script strings.Builder
	script.WriteString("unshare uts ipc\n")
	for i := 0; i < 300; i++ {
		script.WriteString("spawn -d sh -c 'sleep 100 & sleep 100'\n")
	}
	script.WriteString("spawn sleep 100\n")
	file := filepath.Join(dir, "many.nsh")
	os.WriteFile(file, []byte(script.String()), 0o644)
	marker := fmt.Sprintf("NSH_MANY=%d", os.Getpid())
	cmd := exec.Command(bin, file)
	cmd.Env = append(os.Environ(), marker)
	r, w, _ := os.Pipe()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(out.String(), "@300 pid") && time.Now().Before(deadline); {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(out.String(), "@300 pid") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("nsh did not start 300 children:\n%s", out.String())
	}
	time.Sleep(200 * time.Millisecond) // their sleeps fork
	cmd.Process.Kill()
	cmd.Wait()
	prefix := fmt.Sprintf("nsh-%d-%s-", cmd.Process.Pid, pidNS())
	if left := leftovers(marker, prefix, "/proc/self/ns/net"); len(left) > 0 {
		t.Errorf("left after SIGKILL: %d things, e.g. %s", len(left), strings.Join(left[:min(5, len(left))], "; "))
	}
}

// TestTwoPidNamespaces: two nsh with the same pid, each in a pid
// namespace of its own, spawn at once under the same parent cgroup. Their
// cgroups' names differ (nsh-PID-PIDNS-N), both run, nothing is left.
func TestTwoPidNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes cgroups and pid namespaces")
	}
	bin, _ := installNSH(t)
	script := `unshare uts; cgroup set pids.max 20; spawn -d sleep 0.5; spawn -d sleep 0.5; spawn sh -c 'echo pid $PPID; cat /proc/self/cgroup'; wait @1; wait @2`
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		// nsh is pid 2 in each: sh is 1.
		cmd := exec.Command("unshare", "-pf", "--mount-proc", "sh", "-c", bin+` -c "$0"; echo status $?`, script)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		cmd.Wait()
		if !strings.Contains(outs[i].String(), "status 0") || !regexp.MustCompile(`(pids:|0::)/.*nsh-2-[0-9]+-3\n`).MatchString(outs[i].String()) {
			t.Errorf("nsh %d:\n%s", i, outs[i].String())
		}
	}
	if left := waitNoCgroups(2*time.Second, regexp.MustCompile(`^nsh-2-[0-9]+-[0-9]+$`).MatchString); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}

// A guarded command (no cgroup, no pid namespace: a relay stays its
// parent) says "here" just before its execve; a short one can run, end
// and be reaped by the relay before nsh reads that line. That is no
// error: it failed about one spawn in a hundred under load before.
func TestGuardedShortCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				out, err := exec.Command("nsh", "-c", "unshare user; cgroup off; spawn true").CombinedOutput()
				if err != nil {
					errs <- fmt.Sprintf("%v: %s", err, out)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A SIGKILLed nsh leaves no overlay layer: the janitor removes what nsh
// made for its children's roots (and never the lower, nor a kept upper).
func TestOverlayLayersKilled(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts overlays")
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox-static")
	}
	bin, dir := installNSH(t)
	low, kept, tmp := filepath.Join(dir, "low"), filepath.Join(dir, "kept"), filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	script := fmt.Sprintf("rootfs --busybox %s\nrootfs %s overlay\nunshare pid\nspawn -d sh -c 'echo x > /a; sleep 100'\nspawn -d sh -c 'echo y > /b; sleep 100'\n"+
		"rootfs %s overlay --upper %s\nspawn -d sh -c 'echo z > /c; sleep 100'\nrootfs off\nspawn sleep 100\n", low, low, low, kept)
	cmd := exec.Command(bin, "-c", strings.ReplaceAll(script, "\n", "; "))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	r, w, _ := os.Pipe()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), "@3 pid") && time.Now().Before(deadline); {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	layers, _ := filepath.Glob(filepath.Join(tmp, ".nsh-layer-*"))
	if len(layers) != 2 {
		t.Errorf("want 2 layers while the children run, have %v (output %q)", layers, out.String())
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(tmp, ".nsh-layer-*"))
		beside, _ := filepath.Glob(filepath.Join(dir, ".nsh-layer-*"))
		left = append(left, beside...)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("layers left after SIGKILL: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(kept, "c")); err != nil {
		t.Errorf("the kept upper lost the child's file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(low, "bin", "busybox")); err != nil {
		t.Errorf("the lower changed: %v", err)
	}
}
