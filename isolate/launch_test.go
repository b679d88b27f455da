package isolate

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"nsh/plan"
)

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create namespaces")
	}
}

// run launches spec with its output in a file and returns status, output
// and the explained steps.
func run(t *testing.T, spec *plan.Spec, args ...string) (int, string, []string, error) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var steps []string
	c, err := Launch(spec, Options{Args: args, Stdout: out, Stderr: out, Step: func(s string) { steps = append(steps, s) }})
	if err != nil {
		return 0, "", steps, err
	}
	status, err := c.Wait()
	b, _ := os.ReadFile(out.Name())
	return status, string(b), steps, err
}

func TestLaunchHostnameAndPID1(t *testing.T) {
	needRoot(t)
	spec := &plan.Spec{Namespaces: []string{"uts", "pid", "mnt"}, Hostname: "launch-test"}
	status, out, steps, err := run(t, spec, "sh", "-c", "hostname; echo $$; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if status != 3 || out != "launch-test\n1\n" {
		t.Errorf("status %d, output %q", status, out)
	}
	joined := strings.Join(steps, "\n")
	for _, want := range []string{"clone3(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS): the child runs nsh's stage", `sethostname("launch-test")`, "mount(proc, /proc", `execve("/usr/bin/sh"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("steps lack %q:\n%s", want, joined)
		}
	}
}

func TestLaunchSignalStatus(t *testing.T) {
	needRoot(t)
	status, _, _, err := run(t, &plan.Spec{}, []string{"sh", "-c", "kill -KILL $$"}...)
	if err != nil || status != 137 {
		t.Errorf("status %d, %v; want 137", status, err)
	}
}

// A failure in the child stage comes back as an error, never a silent exit.
func TestLaunchStageErrors(t *testing.T) {
	needRoot(t)
	_, _, _, err := run(t, &plan.Spec{}, []string{"/nonexistent"}...)
	var ee *ExecError
	if !errors.As(err, &ee) || ee.Status() != 127 || err.Error() != `exec "/nonexistent": no such file or directory` {
		t.Errorf("exec of a missing file: %v", err)
	}
	_, _, _, err = run(t, &plan.Spec{Namespaces: []string{"time"}, Time: plan.TimeOffsets{Monotonic: -50 * 365 * 86400}}, []string{"true"}...)
	if err == nil || !strings.Contains(err.Error(), "set clock offsets") || !strings.Contains(err.Error(), "below zero") {
		t.Errorf("an impossible clock offset: %v", err)
	}
}

func TestLaunchRefusesInvalidSpec(t *testing.T) {
	if _, err := Launch(&plan.Spec{Hostname: "x"}, Options{Args: []string{"true"}}); !errors.Is(err, plan.ErrHostnameNeedsUTS) {
		t.Errorf("Launch of an invalid spec: %v", err)
	}
	if _, err := Launch(&plan.Spec{}, Options{}); err == nil {
		t.Error("Launch without a command succeeded")
	}
}

// The program may be in the stage's socket before the stage exists
// (launch.sendAhead): one larger than the socket's buffer must neither
// block nsh before the clone (no reader yet) nor arrive cut short. Four
// variables of 100 KB each make a program of 400 KB, twice the default
// buffer (the last one a byte longer, so that its end shows); a plan with a limit of its own is sent after the clone as
// before. Either way the command gets every byte.
func TestLaunchProgramLargerThanSocket(t *testing.T) {
	needRoot(t)
	big := strings.Repeat("x", 100<<10)
	env := []string{"PATH=/usr/bin:/bin", "A=" + big, "B=" + big, "C=" + big, "D=" + big + "d"}
	for _, spec := range []*plan.Spec{
		{Namespaces: []string{"uts", "pid", "mnt"}, Env: env},
		{Namespaces: []string{"uts"}, Env: env, Rlimits: []plan.Rlimit{{Name: "core", Soft: 0, Hard: plan.Unlimited}}},
	} {
		done := make(chan struct{})
		var status int
		var out string
		var err error
		go func() {
			defer close(done)
			status, out, _, err = run(t, spec, "sh", "-c", `echo ${#A} ${#B} ${#C} ${#D}`)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("a 400 KB program (rlimits %v) still not run after 20 s", spec.Rlimits)
		}
		if want := "102400 102400 102400 102401\n"; err != nil || status != 0 || out != want {
			t.Errorf("rlimits %v: status %d, %v, output %q; want %q", spec.Rlimits, status, err, out, want)
		}
	}
}

// With the program sent ahead, the stage may carry it out and execve its
// command before nsh is back from clone3, closing its end: nothing nsh
// does after the clone may then need that end (an empty write of "the
// rest" once failed with EPIPE, about one spawn in thirty).
func TestLaunchStageDoneBeforeNsh(t *testing.T) {
	needRoot(t)
	// Without Step: explained, the stage waits for nsh before its execve.
	for i := 0; i < 200; i++ {
		c, err := Launch(&plan.Spec{Namespaces: []string{"uts"}}, Options{Args: []string{"true"}})
		if err != nil {
			t.Fatalf("spawn %d: %v", i+1, err)
		}
		if status, err := c.Wait(); err != nil || status != 0 {
			t.Fatalf("spawn %d: status %d, %v", i+1, status, err)
		}
	}
}
