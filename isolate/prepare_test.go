package isolate

import (
	"testing"
	"time"

	"nsh/isolate/cgroup"
	"nsh/plan"
)

// A spawn waits for Prepare's work: the caller's set-up (nsh's signal
// handlers) is in place before any child exists, and so is the janitor.
func TestLaunchWaitsForPrepare(t *testing.T) {
	needRoot(t)
	release := make(chan struct{})
	Prepare(func() { <-release })
	launched := make(chan error, 1)
	go func() {
		_, _, _, err := run(t, &plan.Spec{Namespaces: []string{"uts"}}, []string{"true"}...)
		launched <- err
	}()
	select {
	case err := <-launched:
		t.Fatalf("the spawn ran before Prepare's set-up was done (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-launched:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the spawn did not run once Prepare was done")
	}
	if cgroup.JanitorPid() == 0 {
		t.Fatal("no janitor after Prepare")
	}
	// Once only: a second Prepare neither runs its function nor blocks.
	Prepare(func() { t.Error("Prepare ran twice") })
	Prepared()
}
