package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"nsh/commands"
)

// TestLearn drives nsh --learn NN through a real terminal (tmux) for
// every lesson: at each exercise it types a wrong answer first and sees a
// check fail, saying what it looked at, then types the lesson's reference
// solution and sees every check pass; the lesson then goes on by itself.
func TestLearn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the lessons spawn children in new namespaces")
	}
	needTmux(t)
	bin, dir := installNSH(t)
	lessons, _ := filepath.Glob("scripts/0*.nsh")
	for _, f := range lessons {
		name := strings.TrimSuffix(filepath.Base(f), ".nsh")
		t.Run(name, func(t *testing.T) {
			x := newTmux(t, filepath.Join(dir, "tmux-"+name+".sock"))
			x.learn(dir, filepath.Join(dir, "state-"+name), bin, "--learn", name[:2])
			sols := solutions(t, f)
			learnThrough(t, x, sols, true)
			x.waitFor(`Lesson done: ` + itoa(len(sols)) + ` of ` + itoa(len(sols)) + ` exercises`)
		})
	}
}

// TestLearnOwnLesson is a teacher's lesson file (the complete example of
// docs/lessons.md) under nsh --learn FILE.nsh, and progress that outlives
// an interrupted nsh: a new nsh resumes at the exercise it stopped at.
func TestLearnOwnLesson(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the lesson spawns children in new namespaces")
	}
	needTmux(t)
	bin, dir := installNSH(t)
	doc, err := os.ReadFile("docs/lessons.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## A complete example\n\n```sh\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/lessons.md has no complete example")
	}
	file := filepath.Join(dir, "hostname.nsh")
	if err := os.WriteFile(file, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	sols := solutions(t, file)
	if len(sols) != 2 {
		t.Fatalf("the example has %d exercises; it shows two", len(sols))
	}
	state := filepath.Join(dir, "state")
	x := newTmux(t, filepath.Join(dir, "tmux.sock"))
	x.learn(dir, state, bin, "--learn", file)
	// The first exercise, then nsh is killed at the second.
	learnThrough(t, x, sols[:1], false)
	x.waitFor(`== Exercise 2 of 2: `)
	x.waitFor(`(?m)^nsh\[uts\]# ?$`)
	exec.Command("tmux", "-S", x.sock, "kill-server").Run()

	// The list shows it half done; a new nsh resumes at exercise 2.
	out, err := exec.Command("env", "XDG_STATE_HOME="+state, bin, "--learn").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^… hostname\.nsh +1/2  A hostname of its own$`).Match(out) {
		t.Errorf("nsh --learn FILE after one exercise: %v\n%s", err, out)
	}
	y := newTmux(t, filepath.Join(dir, "tmux2.sock"))
	y.exerciseBase = 1
	y.learn(dir, state, bin, "--learn", file)
	y.waitFor(`Resuming at exercise 2 of 2`)
	learnThrough(t, y, sols[1:], true)
	y.waitFor(`Lesson done: 2 of 2 exercises`)
}

func needTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: .ci/run installs it")
		}
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
}

// solutions are a lesson's exercises' reference solutions, command by
// command, as a learner would type them.
func solutions(t *testing.T, file string) [][]string {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := commands.ParseLesson(string(src))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, st := range stmts {
		switch {
		case len(st.Words) > 0 && st.Words[0] == "task":
			out = append(out, nil)
		case len(st.Words) > 1 && st.Words[0] == "solution":
			_, text, _ := commands.Unwrap(st)
			out[len(out)-1] = append(out[len(out)-1], text)
		}
	}
	return out
}

var (
	promptEnd = regexp.MustCompile(`(?m)^nsh[^\n#$]*[#$] ?$`) // $ when not root
	notYet    = regexp.MustCompile(`(?m)^  not yet  [^:\n]+: \S.*$`)
)

// learnThrough does the exercises: Enter at each pause, and at each
// exercise (wrong first: a wrong answer, check, a failing check that
// says what it looked at) the solution typed and check.
func learnThrough(t *testing.T, x *tmux, sols [][]string, wrong bool) {
	t.Helper()
	done := 0
	deadline := time.Now().Add(3 * time.Minute)
	for done < len(sols) && time.Now().Before(deadline) {
		all := x.history()
		last := lastLine(all)
		switch {
		case strings.HasPrefix(last, "[Enter: next step"):
			x.keys("Enter")
			x.waitChange(all)
		case strings.Contains(all, "Exercise "+itoa(x.exerciseBase+done+1)+" of") && promptEnd.MatchString(last):
			if wrong {
				for _, l := range []string{"reset", "spawn -d sleep inf", "spawn true"} {
					x.typeLine(l)
				}
				before := len(notYet.FindAllString(x.history(), -1))
				x.typeLine("check")
				if n := notYet.FindAllString(x.history(), -1); len(n) <= before {
					t.Fatalf("exercise %d: a wrong answer passed its checks:\n%s", done+1, tail(x.history(), 30))
				}
			}
			for _, l := range sols[done] {
				x.typeLine(l)
			}
			x.typeLine("check")
			x.waitFor(`Exercise ` + itoa(x.exerciseBase+done+1) + ` done\.`)
			done++
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	if done < len(sols) {
		t.Fatalf("did %d of %d exercises in 3 minutes:\n%s", done, len(sols), tail(x.history(), 40))
	}
}

// newTmux is a tmux server of the test's own, killed when it ends.
func newTmux(t *testing.T, sock string) *tmux {
	x := &tmux{t: t, sock: sock}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	return x
}

// learn starts nsh (bin and its arguments) as root in private mount and
// net namespaces, keeping its state in state.
func (x *tmux) learn(dir, state string, nsh ...string) {
	x.run(dir, append([]string{"env", "XDG_STATE_HOME=" + state, "HOME=/nonexistent", "TERM=screen",
		"unshare", "-m", "-n", "--propagation", "private", "--"}, nsh...)...)
}

// run starts a command in a new tmux session, in dir.
func (x *tmux) run(dir string, args ...string) {
	// The pane stays after the command, with its status, for a failure
	// to show.
	sh := []string{"sh", "-c", `"$@"; echo "(exit status $?)"; sleep 600`, "sh"}
	x.cmd(append(append([]string{"new-session", "-d", "-s", "nsh", "-x", "150", "-y", "50", "-c", dir}, sh...), args...)...)
}

// history is the pane with all it scrolled past.
func (x *tmux) history() string {
	return strings.TrimRight(x.cmd("capture-pane", "-p", "-J", "-S", "-", "-t", "nsh"), " \n")
}

// waitChange waits until the pane shows more than before.
func (x *tmux) waitChange(before string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && x.history() == before {
		time.Sleep(50 * time.Millisecond)
	}
}

// typeLine types a line at the prompt and waits for the next prompt, so
// nothing typed ahead reaches a foreground child.
func (x *tmux) typeLine(l string) {
	x.t.Helper()
	typed := func(all string) int { return strings.Count(all, "# "+l) + strings.Count(all, "$ "+l) }
	before := typed(x.history())
	x.keys("-l", l)
	x.keys("Enter")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		all := x.history()
		last := lastLine(all)
		if typed(all) > before && (promptEnd.MatchString(last) || strings.HasPrefix(last, "[Enter") || strings.HasPrefix(last, "(exit status")) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	x.t.Fatalf("typed %q, and no prompt came back:\n%s", l, tail(x.history(), 30))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, " \n")
	return s[strings.LastIndex(s, "\n")+1:]
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestLearnRootless: a lesson that runs without root is done as nobody
// the same way; one that needs root says so at once.
func TestLearnRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody")
	}
	needTmux(t)
	bin, dir := installNSH(t)
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(state, 0o777)
	nobody := []string{"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "env", "XDG_STATE_HOME=" + state, "HOME=/nonexistent", "TERM=screen"}

	out, err := exec.Command(nobody[0], append(nobody[1:], bin, "--learn", "03")...).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "needs root (it makes cgroups and sets their limits), and nsh runs as uid 65534: start it as root") {
		t.Errorf("nsh --learn 03 as nobody: status %d\n%s", code, out)
	}
	out, err = exec.Command(nobody[0], append(nobody[1:], bin, "--learn")...).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^  03-cgroups .*\(needs root\)$`).Match(out) || regexp.MustCompile(`(?m)^  01-namespaces .*needs root`).Match(out) {
		t.Errorf("nsh --learn as nobody: %v\n%s", err, out)
	}

	x := newTmux(t, filepath.Join(dir, "tmux.sock"))
	x.run(dir, append(append([]string{"unshare", "-m", "-n", "--propagation", "private", "--"}, nobody...), bin, "--learn", "01")...)
	sols := solutions(t, "scripts/01-namespaces.nsh")
	learnThrough(t, x, sols, true)
	x.waitFor(`Lesson done: 2 of 2 exercises`)
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestLearnTour: help tour at the prompt is the tour done one step at a
// time on the same engine, and the REPL goes on after it.
func TestLearnTour(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tour makes cgroups and namespaces")
	}
	needTmux(t)
	bin, dir := installNSH(t)
	x := newTmux(t, filepath.Join(dir, "tmux.sock"))
	x.learn(dir, filepath.Join(dir, "state"), bin)
	x.waitFor(`(?m)^nsh# ?$`)
	x.typeLine("help tour")
	x.waitFor(`# A tour of nsh`)
	learnThrough(t, x, solutions(t, "learn/tour.nsh"), true)
	for i := 0; i < 50 && !strings.Contains(x.history(), "Lesson done:"); i++ {
		if strings.HasPrefix(lastLine(x.history()), "[Enter") {
			x.keys("Enter")
		}
		time.Sleep(100 * time.Millisecond)
	}
	x.waitFor(`Lesson done: 3 of 3 exercises`)
	x.typeLine("ps")
	x.waitFor(`@[0-9]+ +box +[0-9]+ +running +sleep inf`)
}
