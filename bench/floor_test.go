package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The floor program bench/run.sh compares nsh with runs, and leaves no
// cgroup behind: a smoke test, so that a broken floor is not found only
// on the day someone benchmarks.
func TestFloorSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("new namespaces and cgroups need root")
	}
	bin := filepath.Join(t.TempDir(), "floor")
	build := exec.Command("go", "build", "-o", bin, "./floor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./floor: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"hello"}, {"oneshot", "/bin/true"}, {"full", "-n", "3", "/bin/true"}} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("floor %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Linked as nsh is, with the design's stage: the command runs as PID 1
	// of its pid namespace with a fresh /proc.
	cgo := filepath.Join(t.TempDir(), "floor-cgo")
	build = exec.Command("go", "build", "-tags", "floorcgo", "-ldflags", "-linkmode external -extldflags -static", "-o", cgo, "./floor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags floorcgo ./floor: %v\n%s", err, out)
	}
	out, err := exec.Command(cgo, "stage-full", "-n", "2", "/bin/sh", "-c", procProbe).CombinedOutput()
	if err != nil || !freshProc(string(out), 2) {
		t.Fatalf("floor-cgo stage-full: %v, %q (want PID 1 and a fresh /proc, twice)", err, out)
	}
	// The Go-with-C-child floor: the same, with no re-exec.
	out, err = exec.Command(cgo, "cchild-full", "-n", "2", "/bin/sh", "-c", procProbe).CombinedOutput()
	if err != nil || !freshProc(string(out), 2) {
		t.Fatalf("floor-cgo cchild-full: %v, %q (want PID 1 and a fresh /proc, twice)", err, out)
	}
	// The C floor, linked as nsh is (musl, static).
	cfloor := filepath.Join(t.TempDir(), "cfloor")
	if out, err := exec.Command("musl-gcc", "-static", "-O2", "-Wall", "-Werror", "-o", cfloor, "cfloor/cfloor.c").CombinedOutput(); err != nil {
		t.Fatalf("musl-gcc cfloor/cfloor.c (dev/deps.sh installs musl-tools): %v\n%s", err, out)
	}
	out, err = exec.Command(cfloor, "full", "-n", "2", "/bin/sh", "-c", procProbe).CombinedOutput()
	if err != nil || !freshProc(string(out), 2) {
		t.Fatalf("cfloor full: %v, %q (want PID 1 and a fresh /proc, twice)", err, out)
	}
	// The hello that also links the brief's four libraries.
	libs := filepath.Join(t.TempDir(), "floor-libs")
	build = exec.Command("go", "build", "-ldflags", "-linkmode external -extldflags -static", "-o", libs, "./floorlibs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./floorlibs: %v\n%s", err, out)
	}
	if out, err := exec.Command(libs).CombinedOutput(); err != nil || string(out) != "hello\n" {
		t.Fatalf("floor-libs: %v, %q", err, out)
	}
	out, err = exec.Command("find", "/sys/fs/cgroup", "-maxdepth", "4", "-type", "d", "(", "-name", "floor-*", "-o", "-name", "cfloor-*", ")").Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("floor left cgroups behind:\n%s", out)
	}
}

// procProbe prints the shell's pid and how many processes its /proc shows.
const procProbe = `echo "$$ $(ls /proc | grep -c '^[0-9]')"`

// freshProc reports whether each of n runs of procProbe was PID 1 and saw
// a /proc holding only its own few processes: sh, the subshell, ls and
// grep, or three of them when ls reads /proc before the subshell has
// forked grep (CI saw "1 3").
func freshProc(out string, n int) bool {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		return false
	}
	for _, l := range lines {
		if l != "1 3" && l != "1 4" {
			return false
		}
	}
	return true
}
