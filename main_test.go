package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"nsh/image"
	"nsh/internal/standin"
	"nsh/k8s"
	"nsh/pair"
)

// The test binary answers to `nsh` in the scripts' PATH, so testdata/script
// runs the real program, child stage included.
//
// The tests run below a stand-in PID 1 of their own pid namespace, and
// fail if it changed (package standin): each script checks it too.
func TestMain(m *testing.M) {
	// Scripts run the binary as nsh with an environment of their own: it
	// is already below the stand-in then.
	if filepath.Base(os.Args[0]) != "nsh" {
		standin.Enter()
	}
	testscript.Main(standin.M{Tests: m}, map[string]func(){"nsh": main, "nsh-k8s": k8s.Main, "nsh-pair": pair.Main, "nsh-image": image.Main})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Condition:           condition,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"jsonschema": jsonschemaCmd},
		Setup: func(env *testscript.Env) error {
			before := hostSnapshot()
			env.Defer(func() {
				if after := hostSnapshot(); after != before {
					env.T().Fatal("the host changed:\n" + diffLines(before, after))
				}
				if left := processesOf(env.WorkDir); len(left) > 0 {
					env.T().Fatal("processes left behind: " + strings.Join(left, "; "))
				}
				if d := standin.Changed(); d != "" {
					env.T().Fatal(d)
				}
				if left := nshCgroups(); len(left) > 0 {
					env.T().Fatal("cgroups left behind: " + strings.Join(left, " "))
				}
			})
			// Registered last, so it runs first (env.Defer is last in,
			// first out): the checks above see what cleanup left.
			env.Defer(func() {
				// A script that runs podman says how to remove what
				// it made, even when it fails half-way.
				if _, err := os.Stat(filepath.Join(env.WorkDir, "podman-cleanup.sh")); err == nil {
					// In a mount namespace of its own: podman mounts
					// its storage wherever it runs. Under the lock the
					// scripts hold (podmanLock), so that what another
					// script made meanwhile is not taken for this one's.
					c := exec.Command("unshare", "-m", "--propagation", "private", "flock", podmanLock, "sh", "podman-cleanup.sh")
					c.Dir = env.WorkDir
					c.Run()
				}
			})
			return nil
		},
	})
}

// podmanLock is what the scripts that run podman hold while they do
// (flock): each removes the images it made by comparing podman's list
// before and after, which another script's run would mix up. podman's
// own storage directory: it exists once podman has run (the [podman]
// condition runs it), and nsh makes no lock file of its own on the host.
const podmanLock = "/var/lib/containers"

// condition answers the scripts' [root] and [timens].
func condition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "timens":
		_, err := os.Stat("/proc/self/ns/time")
		return err == nil, nil
	case "cgroup1":
		// v1 memory, cpu and pids: the v1 translation tests need them.
		for _, c := range []string{"memory", "cpu", "pids"} {
			if _, err := os.Stat("/sys/fs/cgroup/" + c + "/cgroup.procs"); err != nil {
				return false, nil
			}
		}
		return true, nil
	case "podman":
		// podman is there and runs a container here: an image from an
		// empty tar, in a mount namespace of its own (podman mounts its
		// storage wherever it runs). Asked once.
		podmanOnce.Do(func() { podmanWhy = podmanRuns() })
		if podmanWhy != "" {
			fmt.Fprintln(os.Stderr, "podman cannot run a container here:", podmanWhy)
		}
		return podmanWhy == "", nil
	case "vm":
		// A machine made for testing (dev/vm.sh boots it with nsh-vm=1):
		// a test may change its root cgroup, as it may not a real host's.
		b, _ := os.ReadFile("/proc/cmdline")
		return strings.Contains(" "+strings.TrimSpace(string(b))+" ", " nsh-vm=1 "), nil
	case "mixedroot":
		// This process is at the root of the v1 cpuset hierarchy and
		// below it in another: a process nsh must not write the root
		// of, though it is not at the root of all.
		b, _ := os.ReadFile("/proc/self/cgroup")
		atRoot, below := false, false
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.SplitN(l, ":", 3)
			if len(f) == 3 && f[1] == "cpuset" && f[2] == "/" {
				atRoot = true
			} else if len(f) == 3 && f[2] != "/" {
				below = true
			}
		}
		return atRoot && below, nil
	case "cgroup2":
		// A v2 hierarchy with memory, cpu and pids for nsh's children.
		b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		have := " " + string(b) + " "
		return err == nil && strings.Contains(have, " memory ") && strings.Contains(have, " pids "), nil
	}
	return false, os.ErrNotExist
}

// hostSnapshot is what no test may change: the hostname, the mounts, the
// network links and the sysctls nsh's namespaces touch.
func hostSnapshot() string {
	var b strings.Builder
	name, _ := os.Hostname()
	b.WriteString("hostname " + name + "\n")
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(mi), "\n") {
			f := strings.Fields(l)
			if len(f) > 4 {
				b.WriteString("mount " + strings.Join(f[3:], " ") + "\n")
			}
		}
	}
	links, _ := filepath.Glob("/sys/class/net/*")
	b.WriteString("links " + strings.Join(links, " ") + "\n")
	for _, k := range []string{"kernel/hostname", "kernel/domainname", "net/ipv4/ping_group_range"} {
		v, _ := os.ReadFile("/proc/sys/" + k)
		b.WriteString(k + " " + strings.TrimSpace(string(v)) + "\n")
	}
	return b.String()
}

// processesOf lists the processes that still carry WORK=dir in their
// environment: everything a test script started inherits it, nsh's
// children included. Children killed by a parent-death signal take a
// moment to go, so it looks again for up to two seconds.
func processesOf(dir string) []string {
	marker := []byte("WORK=" + dir + "\x00")
	var left []string
	for try := 0; try < 40; try++ {
		left = nil
		pids, _ := filepath.Glob("/proc/[0-9]*")
		for _, p := range pids {
			env, err := os.ReadFile(p + "/environ")
			if err != nil || !bytes.Contains(env, marker) {
				continue
			}
			cmd, _ := os.ReadFile(p + "/cmdline")
			left = append(left, filepath.Base(p)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return left
}

// nshCgroups lists cgroup directories nsh makes (nsh-PID-PIDNS-N,
// nsh-PID-PIDNS-self) whose nsh has exited: leftovers. Those of a live nsh
// belong to a test still running in parallel, and those of another pid
// namespace to another package's tests (each runs below a stand-in init
// of its own). The janitor may take a moment after a SIGKILL.
func nshCgroups() []string {
	var st syscall.Stat_t
	syscall.Stat("/proc/self/ns/pid", &st)
	ns := strconv.FormatUint(st.Ino, 10)
	return waitNoCgroups(3*time.Second, func(name string) bool {
		f := strings.Split(name, "-")
		if len(f) < 4 || f[0] != "nsh" || f[2] != ns {
			return false
		}
		_, err := os.Stat("/proc/" + f[1])
		return err != nil
	})
}

// findCgroups lists the cgroup directories whose names match, without
// looking inside them.
func findCgroups(match func(name string) bool) []string {
	var found []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if match(d.Name()) {
			found = append(found, p)
			return filepath.SkipDir
		}
		if strings.Count(p, "/") > 8 {
			return filepath.SkipDir
		}
		return nil
	})
	return found
}

// waitNoCgroups gives the janitors up to d to remove the cgroups that
// match, and lists those still there.
func waitNoCgroups(d time.Duration, match func(name string) bool) []string {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		left := findCgroups(match)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestExampleScripts runs every scripts/*.nsh; they check themselves with
// expect, so a zero exit status is the assertion.
func TestExampleScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the example scripts use namespaces that need root")
	}
	files, _ := filepath.Glob("scripts/*.nsh")
	if len(files) == 0 {
		t.Fatal("no scripts/*.nsh found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			before := hostSnapshot()
			// Private mount and net namespaces: whatever a script mounts (a pin,
			// say) or changes in the network cannot reach the host, even if the
			// script failed midway.
			out, err := exec.Command("unshare", "-m", "-n", "--propagation", "private", "nsh", f).CombinedOutput()
			if err != nil {
				t.Fatalf("nsh %s: %v\n%s", f, err, out)
			}
			if after := hostSnapshot(); after != before {
				t.Fatalf("the host changed:\n%s", diffLines(before, after))
			}
		})
	}
}

// TestRenderScripts renders every scripts/*.nsh as a lesson, as CI must:
// a render that fails (an expect that does not hold) fails the test. The
// lessons are not compared byte for byte (pids and inodes differ from run
// to run); their structure is checked, and 01's steps show what they teach.
func TestRenderScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the example scripts use namespaces that need root")
	}
	files, _ := filepath.Glob("scripts/*.nsh")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			before := hostSnapshot()
			md := filepath.Join(t.TempDir(), "lesson.md")
			cmd := exec.Command("unshare", "-m", "-n", "--propagation", "private", "nsh", "--render", "md", f, "-o", md)
			if asStudent() {
				// As dev/lessons.sh renders them, in the disposable VM.
				cmd = exec.Command("nsh", "--render", "md", f, "-o", md)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("nsh --render md %s: %v\n%s", f, err, out)
			}
			if after := hostSnapshot(); after != before {
				t.Fatalf("the host changed:\n%s", diffLines(before, after))
			}
			b, err := os.ReadFile(md)
			if err != nil {
				t.Fatal(err)
			}
			lesson := string(b)
			// nsh's mark, an HTML comment a page does not show, then the title.
			if !strings.HasPrefix(lesson, "<!-- written by nsh (nsh --render md ") {
				t.Errorf("%s's lesson does not start with nsh's mark:\n%s", f, lesson)
			}
			_, lesson, _ = strings.Cut(lesson, "-->\n")
			if !strings.HasPrefix(lesson, "# ") || !strings.Contains(lesson, "\n## ") || !strings.Contains(lesson, "```console\nnsh") {
				t.Errorf("%s does not read as a lesson (a title, steps, console blocks):\n%s", f, lesson)
			}
			if strings.Contains(lesson, "\nnsh# expect ") || strings.Contains(lesson, "# expect ") {
				t.Errorf("%s shows its expect lines:\n%s", f, lesson)
			}
			checkPublished(t, f, string(b))
			if filepath.Base(f) != "01-namespaces.nsh" {
				return
			}
			step := func(prefix string) string {
				i := strings.Index(lesson, "\n## "+prefix)
				if i < 0 {
					t.Fatalf("no step %q in:\n%s", prefix, lesson)
				}
				rest := lesson[i+1:]
				if j := strings.Index(rest[3:], "\n## "); j >= 0 {
					rest = rest[:j+3]
				}
				return rest
			}
			if s := step("3."); !strings.Contains(s, "# spawn hostname\nfoobar\n") {
				t.Errorf("the hostname step does not show foobar under spawn hostname:\n%s", s)
			}
			if s := step("4."); !regexp.MustCompile(`my pid: 1\nprocesses in /proc: 1( [0-9]+){0,3}\n`).MatchString(s) {
				t.Errorf("the pid step does not show a fresh /proc:\n%s", s)
			}
		})
	}
}

// checkPublished fails when the published page of script f
// (docs/lessons/NAME.md) is stale against the page just rendered: its
// headings, prose and commands must be the same. Where the page was
// rendered on a machine like this one (the same kernel and cgroup layout:
// the pure-v2 VM of dev/lessons.sh), so must the outputs be, but for
// numbers (pids, inodes, times, sizes), usage bars and the spacing of
// columns.
func checkPublished(t *testing.T, f, fresh string) {
	name := strings.TrimSuffix(filepath.Base(f), ".nsh")
	b, err := os.ReadFile(filepath.Join("docs/lessons", name+".md"))
	if err != nil {
		t.Errorf("%s has no published page: %v (dev/lessons.sh renders them)", f, err)
		return
	}
	published := string(b)
	outputs := asStudent() && facts(published) == facts(fresh)
	want, got := skeleton(published, outputs), skeleton(fresh, outputs)
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("docs/lessons/%s.md is stale against %s (dev/lessons.sh renders it again); outputs compared: %v\nfirst difference, at item %d:\npublished: %q\nnow:       %q", name, f, outputs, i, w, g)
			return
		}
	}
}

// asStudent says the tests run where the lessons are published from, as
// a student runs them: dev/vm.sh's pure-v2 VM on Debian's /usr
// (VM_HOSTUSR), which sets NSH_AS_STUDENT. There nsh renders in the VM's
// own root shell, and outputs are compared too.
func asStudent() bool { return os.Getenv("NSH_AS_STUDENT") == "1" }

// facts are what a page says of the machine it was rendered on: the
// kernel and the cgroup layout.
func facts(page string) string {
	m := regexp.MustCompile(`(?m)^> Kernel: .*$`).FindString(page)
	return m
}

var (
	promptLine = regexp.MustCompile(`^nsh(\[[^\]]*\])?# `)
	// Numbers, and the hex of digests and ids (sha256:..., a token),
	// which differ from run to run as pids do.
	numbers = regexp.MustCompile(`[0-9a-f]{12,}|[0-9]+`)
	bars    = regexp.MustCompile(`\[[#.]+\]`) // top's usage bars
)

// skeleton is a page as a list of what must not change: headings, prose
// and commands, and with outputs, each output line with its numbers and
// the spacing of its columns made alike.
func skeleton(page string, outputs bool) []string {
	_, body, _ := strings.Cut(page, "\n\n## ") // past the title and the facts
	var out, outs []string
	// A command's output lines are compared as a set: a child's stderr
	// and nsh's own reach the page in whichever order they were written
	// (the shell's "Killed" and nsh's OOM line race).
	flush := func() {
		sort.Strings(outs)
		out = append(out, outs...)
		outs = nil
	}
	inBlock := false
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "```") || inBlock && promptLine.MatchString(l) {
			flush()
		}
		switch {
		case strings.HasPrefix(l, "```"):
			inBlock = !inBlock
		case !inBlock && strings.HasPrefix(l, "!["):
			// A picture: its text says what it shows, an output.
			if outputs {
				alt, _, _ := strings.Cut(l, "](")
				out = append(out, numbers.ReplaceAllString(alt, "N"))
			}
		case !inBlock && strings.TrimSpace(l) != "":
			out = append(out, l)
		case inBlock && promptLine.MatchString(l):
			// The prompt may count what the host lacks ("(26 more)").
			prompt := promptLine.FindString(l)
			out = append(out, numbers.ReplaceAllString(prompt, "N")+l[len(prompt):])
		case inBlock && outputs:
			l = bars.ReplaceAllString(numbers.ReplaceAllString(l, "N"), "[bar]")
			outs = append(outs, "  "+strings.Join(strings.Fields(l), " "))
		}
	}
	flush()
	return out
}

// TestTour runs every command of `help tour` as a script, so the tour a
// newcomer follows keeps working as written.
func TestTour(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tour spawns children in new namespaces")
	}
	out, err := exec.Command("nsh", "-c", "help tour").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var script []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "     ") || strings.TrimSpace(line) == "" {
			continue
		}
		cmd := strings.TrimSpace(line)
		if i := strings.Index(cmd, "   #"); i >= 0 {
			cmd = strings.TrimSpace(cmd[:i])
		}
		script = append(script, strings.ReplaceAll(cmd, "/tmp/", dir+"/"))
	}
	if len(script) < 20 {
		t.Fatalf("found only %d commands in the tour:\n%s", len(script), out)
	}
	file := filepath.Join(dir, "tour.nsh")
	os.WriteFile(file, []byte(strings.Join(script, "\n")+"\n"), 0o644)
	cmd := exec.Command("unshare", "-m", "-n", "--propagation", "private", "nsh", file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the tour as a script: %v\n%s", err, out)
	}
}

var (
	podmanOnce sync.Once
	podmanWhy  string
)

// podmanRuns says why podman cannot run a container on this machine, or
// "" when it can (with the limits the podman tests give it).
func podmanRuns() string {
	if _, err := exec.LookPath("podman"); err != nil {
		return "podman is not installed (dev/deps.sh installs it)"
	}
	dir, err := os.MkdirTemp("", "nsh-podman-check")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	script := `set -e
mkdir r; cp "$(command -v busybox)" r/true 2>/dev/null || exit 3
tar -C r -cf r.tar .
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]\n' > c.conf
id=$(podman --runtime runc import r.tar localhost/nsh-podman-check:1)
trap 'podman rmi -f localhost/nsh-podman-check:1 >/dev/null 2>&1' EXIT
CONTAINERS_CONF=$PWD/c.conf podman --runtime runc run --rm --network none localhost/nsh-podman-check:1 /true true`
	// podman leaves empty libpod_parent cgroups: those it makes now go.
	before, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
	defer func() {
		after, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
		for _, d := range after {
			if !slices.Contains(before, d) {
				exec.Command("find", d, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";").Run()
			}
		}
	}()
	c := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return ""
}

// jsonschemaCmd is the scripts' jsonschema NAME FILE: FILE is a document
// that docs/json/NAME.schema.json, the schema made from its Go type,
// accepts.
func jsonschemaCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonschema NAME FILE")
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join(repoRoot, "docs", "json", args[0]+".schema.json"))
	ts.Check(err)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(ts.ReadFile(args[1])))
	ts.Check(err)
	err = sch.Validate(doc)
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s is not a %s document: %v", args[1], args[0], err)
	case err == nil && neg:
		ts.Fatalf("%s is a %s document", args[1], args[0])
	}
}

// repoRoot is where the tests started: the repository's root.
var repoRoot, _ = os.Getwd()
