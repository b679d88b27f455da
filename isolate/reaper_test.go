package isolate

import (
	"testing"
	"time"

	"nsh/plan"
)

// The scan for orphans after a SIGCHLD runs only once a process that
// shares nsh's pid namespace was started: nothing a child with a pid
// namespace of its own leaves behind can come to nsh.
func TestOrphanScanOnlyWhenShared(t *testing.T) {
	needRoot(t)
	reaper.shared.Store(false)
	before := reaper.scans.Load()
	status, _, _, err := run(t, &plan.Spec{Namespaces: []string{"pid", "mnt"}}, []string{"sh", "-c", "sleep 0.1 & exit 0"}...)
	if err != nil || status != 0 {
		t.Fatalf("spawn with a pid namespace: status %d, %v", status, err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := reaper.scans.Load() - before; n != 0 || reaper.shared.Load() {
		t.Fatalf("children all in pid namespaces of their own: %d scans, shared %v", n, reaper.shared.Load())
	}
	// Nor is anything looked for when the session ends.
	EndOrphans()
	if n := reaper.scans.Load() - before; n != 0 {
		t.Fatalf("the end of a session whose children all had pid namespaces of their own scanned %d times", n)
	}
	// Its background sleep went with it, to no one: without a pid
	// namespace, the same sleep comes to nsh and is reaped when it exits.
	status, _, _, err = run(t, &plan.Spec{Namespaces: []string{"uts"}}, []string{"sh", "-c", "sleep 0.1 & exit 0"}...)
	if err != nil || status != 0 {
		t.Fatalf("spawn without a pid namespace: status %d, %v", status, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for reaper.scans.Load() == before || len(orphansNow()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the orphan was not reaped: %d scans, orphans %v", reaper.scans.Load()-before, orphansNow())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !reaper.shared.Load() {
		t.Fatal("a child in nsh's pid namespace did not turn the scan on")
	}
}

func orphansNow() []int {
	reaper.Lock()
	defer reaper.Unlock()
	return orphans()
}
