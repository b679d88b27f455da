package isolate

import (
	"errors"
	"os"
	"strings"
	"testing"

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
