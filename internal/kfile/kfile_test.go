package kfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileWhole(t *testing.T) {
	// Larger than one read's buffer, so the loop must grow it.
	want := strings.Repeat("0123456789abcdef", 1000)
	f := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(f, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(f)
	if err != nil || string(got) != want {
		t.Fatalf("ReadFile: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	// A procfs file reports size 0 and must still be read to its end.
	st, err := ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(st), "\nCapBnd:") {
		t.Fatalf("/proc/self/status: %q, %v", st, err)
	}
}

func TestWriteFileTruncates(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pids.max")
	if err := os.WriteFile(f, []byte("max\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(f, []byte("20")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f); string(b) != "20" {
		t.Fatalf("after WriteFile: %q, want %q", b, "20")
	}
}

func TestErrorsAsOs(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope", "cgroup.procs")
	_, err := ReadFile(missing)
	_, osErr := os.ReadFile(missing)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != osErr.Error() {
		t.Fatalf("ReadFile error %q, os says %q", err, osErr)
	}
	err = WriteFile(missing, []byte("1"))
	osErr = os.WriteFile(missing, []byte("1"), 0)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != osErr.Error() {
		t.Fatalf("WriteFile error %q, os says %q", err, osErr)
	}
	// A kernel file that refuses the value: the write names the file.
	err = WriteFile("/proc/self/oom_score_adj", []byte("bogus"))
	if err == nil || !strings.HasPrefix(err.Error(), "write /proc/self/oom_score_adj: ") {
		t.Fatalf("bad value: %v", err)
	}
}
