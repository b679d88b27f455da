package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// installNSH copies the nsh that testscript put on PATH into a directory
// everyone may read, so that other users and tmux can run it.
func installNSH(t *testing.T) (bin, dir string) {
	t.Helper()
	src, err := exec.LookPath("nsh")
	if err != nil {
		t.Fatalf("nsh is not on PATH: %v", err)
	}
	dir, err = os.MkdirTemp("", "nsh-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "nsh")
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin, dir
}

// TestRootless runs nsh as nobody: `unshare user` makes every other
// namespace possible, and without it the error names the privilege.
func TestRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	bin, dir := installNSH(t)
	run := func(script string) (stdout, stderr string, status int) {
		cmd := exec.Command(bin, "-c", script)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run nsh as nobody: %v", err)
		}
		return o.String(), e.String(), status
	}

	out, errOut, st := run(`unshare user uts pid mnt ipc; hostname rootless; spawn sh -c 'hostname; id -u; echo $$; ls /proc | grep -c "^[0-9]"'`)
	if st != 0 || !regexp.MustCompile(`^rootless\n0\n1\n[1-4]\n$`).MatchString(out) {
		t.Errorf("unshare user uts pid mnt as nobody: status %d, stdout %q, stderr %q", st, out, errOut)
	}

	out, errOut, st = run(`unshare user; map 5:5; spawn id -u`)
	if st != 0 || out != "5\n" {
		t.Errorf("map 5:5 as nobody: status %d, stdout %q, stderr %q", st, out, errOut)
	}

	out, errOut, st = run(`unshare user time; timens boottime +1d; spawn cut -d. -f1 /proc/uptime`)
	if up, _ := strconv.Atoi(strings.TrimSpace(out)); st != 0 || up < 86400 {
		t.Errorf("time offsets as nobody: status %d, stdout %q, stderr %q", st, out, errOut)
	}

	// enter, without root: through the child's user namespace.
	out, errOut, st = run(`unshare user uts pid mnt; hostname kid; spawn -d sleep 30; enter @1 sh -c 'hostname; echo $$'; enter --ns user,uts @1 hostname`)
	if st != 0 || !regexp.MustCompile(`^@1 pid [0-9]+\nkid\n[0-9]\nkid\n$`).MatchString(out) {
		t.Errorf("enter as nobody: status %d, stdout %q, stderr %q", st, out, errOut)
	}
	_, errOut, st = run(`unshare user uts; spawn -d sleep 30; enter --ns uts @1 hostname`)
	if st != 2 || !strings.Contains(errOut, "add user to --ns") {
		t.Errorf("enter --ns uts as nobody: status %d, stderr %q", st, errOut)
	}

	// Joining, without root: a child's user namespace with each other
	// type, and with a new namespace of each type besides. The pid is the
	// command's, as nsh numbers it (a relay's child behind a joined pid
	// namespace), never 1.
	for _, t2 := range []string{"uts", "ipc", "mnt", "net", "pid", "cgroup", "time"} {
		for _, t1 := range []string{"", "uts", "ipc", "mnt", "net", "pid", "cgroup", "time"} {
			if t1 == t2 {
				continue
			}
			plan := "unshare user uts ipc mnt net pid cgroup time; spawn -d --name a sleep 30; reset; join user @a; join " + t2 + " @a"
			if t1 != "" {
				plan += "; unshare " + t1
			}
			out, errOut, st := run(plan + "; spawn -d --name b sleep 30; ps; enter @b true; expect status 0")
			if t1 != "" && t1 != "cgroup" && t1 != "time" {
				// Made by clone, before the stage joins the user
				// namespace: the kernel refuses it to nobody.
				if st != 2 || !strings.Contains(errOut, "operation not permitted") {
					t.Errorf("as nobody, join user,%s, unshare %s: status %d, stderr %q", t2, t1, st, errOut)
				}
				continue
			}
			m := regexp.MustCompile(`(?m)^@2 +b +([0-9]+) +running`).FindStringSubmatch(out)
			if st != 0 || m == nil || m[1] == "1" {
				t.Errorf("as nobody, join user,%s, unshare %q: status %d\n%s%s", t2, t1, st, out, errOut)
			}
		}
	}

	// Nothing a non-root user types gains a privilege it did not have.
	for script, want := range map[string]string{
		"cap add sys_admin": "nsh holds no capabilities (it runs as uid 65534)",
		"cap preset privileged; spawn grep CapEff /proc/self/status":                         "children get none; unshare user gives them their own",
		"unshare user; cap preset privileged; map 1000; spawn grep CapEff /proc/self/status": "CapEff:\t000001ff",
		"cgroup parent /; spawn true":                                                        "permission denied",
		"ns 1":                                                                               "cannot read /proc/1/ns/",
		"cgroup set pids.max 5":                                                              "no child could get this limit: nsh (uid 65534) may not make cgroups under /sys/fs/cgroup/pids; run nsh as root, or cgroup parent a cgroup delegated to you",
		"user 1000; spawn id":                                                                "changing ids needs CAP_SETUID and CAP_SETGID, which nsh (uid 65534) lacks: run nsh as root, or unshare user first",
		"unshare user uts; spawn -d sleep 3; share uts; join uts @1; spawn hostname": "the namespace belongs to a user namespace in which the child holds no privilege",
		"join net /proc/1/ns/net":                                    "permission denied",
		"unshare user net; net veth 198.51.100.1/30 198.51.100.2/30": "net veth needs root: its host end lives in nsh's network namespace, which uid 65534 may not change",
		"unshare user uts; spawn -d sleep 9; ns pin uts p @1":        "ns pin needs root: a pin is a bind mount in nsh's mount namespace",
		"unshare user; join net /proc/1/ns/net; spawn true":          "permission denied",
	} {
		out, errOut, _ := run(script)
		if !strings.Contains(out+errOut, want) {
			t.Errorf("as nobody, %q: want %q in\n%s%s", script, want, out, errOut)
		}
	}

	// Without cgroups, said once per session, not at every spawn.
	if _, errOut, _ := run(`spawn true; spawn -d true; spawn true`); strings.Count(errOut, "no cgroups for children here") != 1 {
		t.Errorf("three spawns as nobody: want one notice of no cgroups, got\n%s", errOut)
	}

	// The whole walkthrough script, as nobody.
	script, err := os.ReadFile("scripts/01-namespaces.nsh")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, st = run(string(script))
	if st != 0 || !strings.Contains(out, "my pid: 1") {
		t.Errorf("scripts/01-namespaces.nsh as nobody: status %d\n%s%s", st, out, errOut)
	}

	_, errOut, st = run(`unshare uts; hostname x; spawn hostname`)
	want := "-c:1: spawn: creating namespaces uts: operation not permitted: it needs CAP_SYS_ADMIN; run nsh as root, or add `unshare user` to be root in a user namespace of your own\n"
	// Without cgroups, what children leave behind (a background and a
	// setsid grandchild, a ping whose file capabilities clear the
	// parent-death signal) ends with nsh, whether it exits, is terminated
	// or is killed outright (then the guard relay of each child does it).
	for _, how := range []string{"exit", "TERM", "KILL"} {
		marker := "NSH_ROOTLESS_ORPHANS=" + how
		// With SIGKILL, the shell is still there (the guard relay ends it
		// and what it started); an orphan whose parent had already exited
		// belongs to nsh, and no one is left to end it then.
		script := `spawn -d sh -c 'sleep 100 & setsid sleep 100 & exit 0'; spawn -d ping -q 127.0.0.1; spawn sleep 0.3`
		if how == "KILL" {
			script = `spawn -d sh -c 'sleep 100 & setsid sleep 100 & sleep 100'; spawn -d ping -q 127.0.0.1; spawn sleep 0.3`
		}
		if how != "exit" {
			script += "; spawn sleep 30"
		}
		cmd := exec.Command(bin, "-c", script)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", marker}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if how != "exit" {
			time.Sleep(time.Second)
			cmd.Process.Signal(map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL}[how])
		}
		cmd.Wait()
		if left := leftovers(marker, "nsh-none-", "/proc/self/ns/net"); len(left) > 0 {
			t.Errorf("as nobody, after %s: left %v", how, left)
		}
	}

	// Said once: no cgroups for a non-root nsh here.
	notice := "spawn: no cgroups for children here (permission denied): nsh ends them, and what they leave behind, as their subreaper\n"
	if st != 2 || errOut != notice+want {
		t.Errorf("unshare uts as nobody: status %d, stderr %q, want 2 and %q", st, errOut, notice+want)
	}
}

// tmux drives the real binary in a real terminal.
type tmux struct {
	t    *testing.T
	sock string
	// exerciseBase: the exercises nsh --learn had done before this run.
	exerciseBase int
}

func (x *tmux) cmd(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (x *tmux) keys(keys ...string) { x.cmd(append([]string{"send-keys", "-t", "nsh"}, keys...)...) }

// screen is the pane without the blank rows below the cursor.
func (x *tmux) screen() string {
	return strings.TrimRight(x.cmd("capture-pane", "-p", "-t", "nsh"), " \n")
}

// waitFor polls the screen until re matches.
func (x *tmux) waitFor(re string) {
	x.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if rx.MatchString(x.screen()) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	x.t.Fatalf("screen never matched %q:\n%s", re, x.screen())
}

func (x *tmux) start(bin, state string) {
	x.cmd("new-session", "-d", "-s", "nsh", "-x", "120", "-y", "40",
		"env", "XDG_STATE_HOME="+state, "SHELL=/bin/sh", "PS1=inner$ ", bin)
	x.waitFor(`(?m)^nsh# ?$`)
}

// TestREPL is the end-to-end test of the interactive shell: the prompt
// with state, Tab completion, an interactive child shell, Ctrl-C reaching
// a foreground child and not nsh, and history across two runs.
func TestREPL(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the REPL test spawns children in new namespaces")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: .ci/run installs it")
		}
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	bin, dir := installNSH(t)
	state := filepath.Join(dir, "state")
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.start(bin, state)

	// One line on start points a newcomer at help and the tour.
	x.waitFor(`(?m)^nsh [0-9.]+: type help for the commands, help tour for a five-minute tour, exit to leave$`)

	// Tab completes a command name; the prompt shows the state.
	x.keys("unsh", "Tab")
	x.waitFor(`nsh# unshare ?$`)
	x.keys("uts mnt", "Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt\]# ?$`)
	x.keys("hostname foobar", "Enter")

	// An interactive shell inside, and back.
	x.keys("spawn", "Enter")
	x.waitFor(`(?m)^inner\$ ?$`)
	x.keys("echo inside-$(hostname)", "Enter")
	x.waitFor(`(?m)^inside-foobar$`)
	x.keys("exit", "Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt\]# ?$`)

	// record --cast in a real terminal: the screen looks as it did, and
	// the recording has each prompt with what was typed, and the output.
	castFile := filepath.Join(dir, "repl.cast")
	x.keys("record --cast "+castFile, "Enter")
	x.waitFor(`record: recording the session into .*repl.cast`)
	x.keys("spawn sh -c 'hostname; echo to-stderr >&2'", "Enter")
	x.waitFor(`(?m)^to-stderr$`)
	// An interactive child gets the recorded terminal: what is typed into
	// it is in the recording too, and Ctrl-C works inside it.
	x.keys("spawn", "Enter")
	x.waitFor(`(?m)^inner\$ ?$`)
	x.keys("echo typed-$((2+3))", "Enter")
	x.waitFor(`(?m)^typed-5$`)
	x.keys("sleep 60", "Enter")
	x.keys("C-c")
	x.waitFor(`\^C\s+inner\$ ?$`)
	x.keys("exit", "Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt rec\]# ?$`)
	// PID 1 of a pid namespace ignores Ctrl-C unless it handles it: on the
	// lent terminal too, nsh says so, and the next Ctrl-C kills it.
	x.keys("unshare pid; spawn sleep 60", "Enter")
	time.Sleep(300 * time.Millisecond)
	x.keys("C-c")
	x.waitFor(`has no SIGINT handler, so the kernel ignores it`)
	x.keys("C-c")
	// The terminal echoes ^C on its own time: before nsh's line or after.
	x.waitFor(`spawn: killing the child \(SIGKILL\)\s+(\^C)?\[status 137\]\s+nsh\[uts,mnt,pid rec\]# ?$`)
	x.keys("share pid", "Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt rec\]# ?$`)
	x.keys("record off", "Enter")
	x.waitFor(`record: .*repl.cast is complete: asciinema play`)
	cast, err := os.ReadFile(castFile)
	if err != nil {
		t.Fatal(err)
	}
	var played strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(string(cast)), "\n") {
		var ev []any
		if err := json.Unmarshal([]byte(line), &ev); i > 0 && (err != nil || len(ev) != 3) {
			t.Fatalf("cast line %d is not an event: %q", i+1, line)
		}
		if i > 0 {
			played.WriteString(ev[2].(string))
		}
	}
	for _, want := range []string{
		"nsh[uts,mnt rec]# spawn sh -c 'hostname; echo to-stderr >&2'\r\nfoobar\r\nto-stderr\r\nnsh[uts,mnt rec]# spawn\r\n",
		"inner$ echo typed-$((2+3))\r\ntyped-5\r\ninner$ sleep 60\r\n^C",
		"inner$ exit\r\n",
		"nsh[uts,mnt rec]# record off\r\n",
	} {
		if !strings.Contains(played.String(), want) {
			t.Errorf("the recording plays %q, without %q", played.String(), want)
		}
	}

	// A pasted 3,000-character line is drawn once, not once per
	// character (the line editor redraws the whole line for each).
	out := filepath.Join(dir, "pane.out")
	x.cmd("pipe-pane", "-o", "-t", "nsh", "cat >> "+out)
	x.keys("-l", "echo "+strings.Repeat("p", 3000))
	x.waitFor(`(?m)p{100}$`)
	time.Sleep(200 * time.Millisecond)
	x.cmd("pipe-pane", "-t", "nsh")
	if st, err := os.Stat(out); err != nil || st.Size() > 30000 {
		t.Errorf("pasting 3,000 characters wrote %v bytes to the terminal (%v)", st.Size(), err)
	}
	x.keys("Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt\]# ?$`)

	// Tab completes a program after spawn, from $PATH.
	x.keys("spawn sleep 0.0", "C-a", "C-k")
	x.keys("spawn slee", "Tab")
	x.waitFor(`nsh\[uts,mnt\]# spawn sleep ?$`)
	x.keys("C-a", "C-k")

	// Ctrl-C goes to the foreground child; nsh lives on.
	x.keys("spawn sleep 60", "Enter")
	time.Sleep(300 * time.Millisecond)
	x.keys("C-c")
	x.waitFor(`\[status 130\]\s+nsh\[uts,mnt\]# ?$`)
	// Ctrl-Z: nsh has no job control, so the stopped child is killed.
	x.keys("spawn sleep 60", "Enter")
	time.Sleep(300 * time.Millisecond)
	x.keys("C-z")
	x.waitFor(`spawn: the child was stopped \(Ctrl-Z\); nsh has no job control, so it was killed\s+\[status 148\]\s+nsh\[uts,mnt\]# ?$`)

	// PID 1 of a pid namespace ignores Ctrl-C; nsh explains, and a second
	// Ctrl-C kills it.
	x.keys("unshare pid", "Enter")
	x.keys("spawn sleep 60", "Enter")
	time.Sleep(300 * time.Millisecond)
	x.keys("C-c")
	x.waitFor(`has no SIGINT handler, so the kernel ignores it`)
	x.keys("C-c")
	x.waitFor(`spawn: killing the child \(SIGKILL\)\s+\[status 137\]\s+nsh\[uts,mnt,pid\]# ?$`)
	x.keys("share pid", "Enter")

	// top: a live table, refreshed in place on the alternate screen; q
	// gives the prompt back as it was, with the terminal's modes restored
	// (typed text echoes, a line is read whole), and so does Ctrl-C.
	x.keys("cgroup set cpu.max 0.5", "Enter")
	x.keys("spawn -d sh -c 'while :; do :; done'", "Enter")
	x.waitFor(`(?m)^@1 pid \d+`)
	x.keys("top", "Enter")
	x.waitFor(`nsh top — \d\d:\d\d:\d\d — 1 running; q or Ctrl-C returns to the prompt`)
	x.waitFor(`(?m)^@1 +\d+ .*(4[5-9]|5[0-5])\.\d% / 50% \[#########[#.]\]`)
	before := x.screen()
	x.waitFor(`nsh top`)
	time.Sleep(1200 * time.Millisecond)
	if after := x.screen(); after == before || strings.Count(after, "nsh top") != 1 {
		t.Errorf("top did not redraw in place:\n%s", after)
	}
	x.keys("q")
	x.waitFor(`(?m)^nsh\[uts,mnt cpu=0.5\]# ?$`)
	if strings.Contains(x.screen(), "nsh top") {
		t.Errorf("top's screen stayed after q:\n%s", x.screen())
	}
	x.keys("echo modes-back", "Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt cpu=0.5\]# echo modes-back\s+modes-back$`)
	x.keys("top", "Enter")
	x.waitFor(`nsh top`)
	x.keys("C-c")
	x.waitFor(`(?m)^nsh\[uts,mnt cpu=0.5\]# ?$`)
	x.keys("kill @1; cgroup unset cpu.max", "Enter")
	x.waitFor(`(?m)^nsh\[uts,mnt\]# ?$`)

	// Ctrl-C at the prompt clears the line.
	x.keys("garbage", "C-c")
	x.waitFor(`nsh\[uts,mnt\]# garbage\^C\s+nsh\[uts,mnt\]# ?$`)
	x.keys("echo history-marker", "Enter")
	x.waitFor(`(?m)^history-marker$`)
	x.keys("C-d")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-S", x.sock, "has-session", "-t", "nsh").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("nsh did not exit on Ctrl-D:\n%s", x.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// History survives into the next run.
	if _, err := os.Stat(filepath.Join(state, "nsh", "history")); err != nil {
		t.Fatalf("no history file: %v", err)
	}
	x.start(bin, state)
	x.keys("Up")
	x.waitFor(`nsh# echo history-marker$`)
	x.keys("C-u", "exit 0", "Enter")
}

// TestStep drives a demo with --step in a real terminal: each command is
// shown, Enter runs it, q stops and leaves the REPL with the state.
func TestStep(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the demo spawns a child in a new uts namespace")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: .ci/run installs it")
		}
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	bin, dir := installNSH(t)
	demo := filepath.Join(dir, "demo.nsh")
	// The expect is run, not shown or counted: a check, as on a page.
	os.WriteFile(demo, []byte("unshare uts\nhostname stepped\necho "+strings.Repeat("a", 150)+"\nspawn hostname\nexpect status 0\nunshare ipc\n"), 0o644)
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.cmd("new-session", "-d", "-s", "nsh", "-x", "120", "-y", "40",
		"env", "XDG_STATE_HOME="+filepath.Join(dir, "state"), bin, "--step", demo)
	x.waitFor(`nsh# unshare uts +\[1/5 Enter runs it, s skips, q stops\] ?$`)
	// Single keys, no Enter: Space runs, other keys get a hint.
	x.keys("x")
	x.waitFor(`\(Enter or Space runs it, s skips, q stops\) ?$`)
	x.keys("Space")
	x.waitFor(`nsh\[uts\]# hostname stepped +\[2/5`)
	x.keys("Enter")
	// A command wider than the terminal is drawn once.
	x.waitFor(`echo a{100}`)
	if n := strings.Count(x.screen(), "echo aaaa"); n != 1 {
		t.Errorf("the long command is drawn %d times:\n%s", n, x.screen())
	}
	x.keys("s")
	x.waitFor(`nsh\[uts\]# spawn hostname +\[4/5`)
	x.keys("Enter")
	x.waitFor(`(?m)^stepped$`)
	x.waitFor(`nsh\[uts\]# unshare ipc +\[5/5`)
	if strings.Contains(x.screen(), "expect") {
		t.Errorf("the expect line is shown:\n%s", x.screen())
	}
	x.keys("q")
	x.waitFor(`the demo is over; the session goes on`)
	x.waitFor(`nsh\[uts\]# ?$`)
	x.keys("hostname", "Enter")
	x.waitFor(`(?m)^stepped$`)
	x.keys("exit", "Enter")
}

// TestREPLRootless types the first steps of the walkthrough into the REPL
// as a non-root user in a real terminal. It is started by su -c, as a
// user switching to another account would, which gives nsh a new session
// without a controlling terminal: a foreground child then cannot own the
// terminal, and runs with it as its stdio.
func TestREPLRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	bin, dir := installNSH(t)
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.cmd("new-session", "-d", "-s", "nsh", "-x", "120", "-y", "40",
		"su", "nobody", "-s", "/bin/sh", "-c", "cd "+dir+" && HOME=/nonexistent TERM=xterm "+bin)
	x.waitFor(`(?m)^nsh\$ ?$`)
	x.keys("unshare user uts pid mnt", "Enter")
	x.keys("hostname walk", "Enter")
	x.keys("spawn sh -c 'hostname; echo pid $$'", "Enter")
	x.waitFor(`(?m)^walk\npid 1$`)
	x.keys("cgroup set pids.max 5", "Enter")
	x.waitFor(`may not make cgroups under /sys/fs/cgroup`)
	x.keys("exit", "Enter")
}

// As a non-root user, a filter needs no_new_privs (or a user namespace of
// the child's own, where it holds CAP_SYS_ADMIN), and nsh says so; limits
// go down, not above nsh's own.
func TestSeccompRlimitRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	bin, dir := installNSH(t)
	run := func(script string) (string, error) { return asNobody(bin, dir, script) }
	for _, c := range []struct {
		script string
		ok     bool
		want   []string
	}{
		{"seccomp preset docker; spawn true", false, []string{
			"seccomp: nsh runs as uid 65534: the kernel installs a filter for a process without CAP_SYS_ADMIN only with no_new_privs: nonewprivs on",
			"spawn: install the seccomp filter: permission denied: without no_new_privs a filter needs CAP_SYS_ADMIN, which nsh (uid 65534) lacks: nonewprivs on"}},
		{"nonewprivs on; seccomp preset docker; seccomp deny mkdir errno EACCES; spawn grep ^Seccomp: /proc/self/status; seccomp test mkdir; seccomp test keyctl", true, []string{
			"Seccomp:\t2", "mkdir() in a new child of the plan: -1 EACCES", "keyctl() in a new child of the plan: -1 EPERM"}},
		{"unshare user; seccomp preset docker; spawn grep ^Seccomp: /proc/self/status", true, []string{"Seccomp:\t2"}},
		{"rlimit nofile 64:100; spawn sh -c 'ulimit -Sn; ulimit -Hn'", true, []string{"64\n100\n"}},
	} {
		out, err := run(c.script)
		if (err == nil) != c.ok {
			t.Errorf("%q as nobody: %v\n%s", c.script, err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q as nobody: output lacks %q:\n%s", c.script, w, out)
			}
		}
	}
}

// Run as PID 1 of a pid namespace of its own in a terminal (unshare -pf
// nsh), nsh's group is not the terminal's foreground group as its
// namespace numbers them: children run without taking the terminal, and
// the REPL is still there after one (it used to end at its next read).
func TestREPLAsPidNamespaceInit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare -p")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	bin, dir := installNSH(t)
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.cmd("new-session", "-d", "-s", "nsh", "-x", "120", "-y", "40",
		"sh", "-c", "cd "+dir+" && TERM=xterm unshare -pf --mount-proc "+bin+"; echo nsh-ended; sleep 60")
	x.waitFor(`(?m)^nsh# ?$`)
	x.keys("unshare uts pid mnt", "Enter")
	x.keys("spawn sh -c 'echo in-child'", "Enter")
	x.waitFor(`(?m)^in-child$`)
	x.keys("echo still-here", "Enter")
	x.waitFor(`(?m)^still-here$`)
	if strings.Contains(x.screen(), "nsh-ended") {
		t.Fatalf("the REPL ended:\n%s", x.screen())
	}
	x.keys("exit", "Enter")
}

// asNobody runs nsh -c script as uid and gid 65534 in dir, with a plain
// environment (and env on top).
func asNobody(bin, dir, script string, env ...string) (string, error) {
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-c", script)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// An overlay root without root: nsh as nobody, in a user namespace of the
// child's own (Linux 5.11 and later let it mount overlayfs). The lower is
// nobody's own, as a rootless user's image would be: files owned by ids
// the namespace does not map could be read but not copied up.
func TestOverlayRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox-static")
	}
	bin, dir := installNSH(t)
	low := filepath.Join(dir, "low")
	if out, err := exec.Command(bin, "-c", "rootfs --busybox "+low).CombinedOutput(); err != nil {
		t.Fatalf("rootfs --busybox: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(low, "etc", "old"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", "65534:65534", low).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	listing := func() string {
		out, err := exec.Command("sh", "-c", `cd "$1" && find . -printf "%p %m %s %T@ %u\n" | sort`, "sh", low).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	before := listing()
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out, err := asNobody(bin, dir, `rootfs low overlay; unshare user pid; spawn -d sh -c "echo new > /new; echo more >> /etc/passwd; rm /etc/old"; wait @1; logs @1; diff @1`,
		"TMPDIR="+tmp)
	if err != nil {
		t.Fatalf("overlay as nobody: %v\n%s", err, out)
	}
	for _, want := range []string{"C /etc\n", "D /etc/old\n", "C /etc/passwd\n", "A /new\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff as nobody lacks %q:\n%s", want, out)
		}
	}
	if after := listing(); after != before {
		t.Errorf("the lower layer changed:\n%s", diffLines(before, after))
	}
	if ents, _ := filepath.Glob(filepath.Join(tmp, ".nsh-layer-*")); len(ents) > 0 {
		t.Errorf("layer directories left behind: %v", ents)
	}
}

// A terminal nsh does not control (the console /init reads from, setsid
// nsh < /dev/ttyS0): children run without job control, with one note, and
// spawn works (it used to fail with "inappropriate ioctl for device").
func TestTerminalNotControlling(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("spawns children in new namespaces")
	}
	bin, _ := installNSH(t)
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no /dev/ptmx:", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	cmd := exec.Command(bin, "-c", "unshare pid uts; hostname console; spawn hostname; spawn -d sleep 0.2; wait @1; spawn echo again")
	cmd.Stdin = pts
	// A session of its own and no controlling terminal: stdin is a
	// terminal, but not nsh's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nsh on a terminal it does not control: %v\n%s", err, out)
	}
	for _, want := range []string{"console\n", "again\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if c := strings.Count(string(out), "children run without job control"); c != 1 {
		t.Errorf("the note came %d times, want once:\n%s", c, out)
	}
}
