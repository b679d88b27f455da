package isolate

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The child stage is a copy of nsh made by clone3, not a new program: the
// attacks are a process that reads its memory, its descriptors and its
// signal handlers while it waits for its program. It holds no descriptor
// of nsh's but those passed (not even one without close-on-exec), no
// handler of Go's, and, as dev/build.sh links nsh (static), no copy of
// Go's heap: a secret in nsh's heap is found in nsh's memory and not in
// the stage's.
func TestStageHoldsNothingOfNsh(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads another process's memory: needs root")
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	secret := []byte("nsh-secret-" + hex.EncodeToString(raw))
	// Not close-on-exec, as a descriptor nsh inherited might be.
	leak, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(leak)
	pid, ours := startStage(t)
	defer ours.Close()
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		untrack(pid)
	}()
	// The stage waits for its program: asleep in a read of fd 3.
	dir := "/proc/" + strconv.Itoa(pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(dir + "/stat"); bytes.Contains(b, []byte(") S ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stage never waited for its program")
		}
	}

	ents, err := os.ReadDir(dir + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, e := range ents {
		held = append(held, e.Name())
	}
	sort.Strings(held)
	if strings.Join(held, " ") != "0 1 2 3" {
		t.Errorf("the stage holds descriptors %v, want 0 1 2 3 (nsh's %d among them?)", held, leak)
	}

	status, _ := os.ReadFile(dir + "/status")
	if !bytes.Contains(status, []byte("\nSigCgt:\t0000000000000000\n")) {
		t.Errorf("the stage has signal handlers of nsh's:\n%s", status)
	}

	if !stageForgetsGo() {
		t.Log("a dynamically linked test binary: the stage keeps a copy of Go's memory (clone.h says why); dev/build.sh's static nsh does not")
		return
	}
	if !memoryHolds(t, "self", secret) {
		t.Fatal("the secret is not in nsh's own memory: the test finds nothing")
	}
	if memoryHolds(t, strconv.Itoa(pid), secret) {
		t.Error("the stage's memory holds a secret from nsh's heap")
	}
	runtime.KeepAlive(secret)
}

// memoryHolds says whether what appears in the readable memory of process
// pid (a number or "self").
func memoryHolds(t *testing.T, pid string, what []byte) bool {
	maps, err := os.Open("/proc/" + pid + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer maps.Close()
	mem, err := os.Open("/proc/" + pid + "/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		var lo, hi uint64
		var perms string
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x %s", &lo, &hi, &perms); err != nil || perms[0] != 'r' || strings.Contains(sc.Text(), "[v") {
			continue
		}
		buf := make([]byte, hi-lo)
		n, _ := mem.ReadAt(buf, int64(lo))
		if bytes.Contains(buf[:n], what) {
			return true
		}
	}
	return false
}
