package beneath

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// secret is a directory outside the tree, standing for the host's /etc.
func secret(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shadow"), []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The attack on commit and diff: while nsh walks the tree, the "child"
// renames a directory away and puts a symlink to a host directory in its
// place, again and again. Nothing of the host may be listed or read.
func TestWalkRaceNeverLeaves(t *testing.T) {
	host := secret(t)
	tree := t.TempDir()
	z := filepath.Join(tree, "z")
	os.MkdirAll(z, 0o755)
	os.WriteFile(filepath.Join(z, "shadow"), []byte("mine"), 0o644)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			os.Rename(z, z+".away")
			os.Symlink(host, z)
			os.Remove(z)
			os.Rename(z+".away", z)
		}
	}()
	d, err := Open(tree)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	deadline := time.Now().Add(2 * time.Second)
	walks, reads := 0, 0
	for time.Now().Before(deadline) {
		d.Walk(func(e *Entry) error {
			if e.IsRegular() {
				f, err := e.Open()
				if err != nil {
					return nil
				}
				b, _ := io.ReadAll(f)
				f.Close()
				reads++
				if strings.Contains(string(b), "SECRET") {
					t.Fatalf("read the host's file through %s", e.Rel)
				}
			}
			return nil
		})
		if f, err := d.OpenFile("z/shadow"); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			if string(b) == "SECRET" {
				t.Fatal("OpenFile followed the planted symlink")
			}
		}
		walks++
	}
	stop.Store(true)
	<-done
	if reads == 0 {
		t.Fatalf("%d walks read nothing: the test tested nothing", walks)
	}
	t.Logf("%d walks, %d files read, none of the host's", walks, reads)
}

// rootfs --busybox run again over a tree a child planted links in: the
// host file a link names stays as it was, the link is replaced.
func TestWriteFileReplacesPlantedLink(t *testing.T) {
	host := secret(t)
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.Symlink(filepath.Join(host, "shadow"), filepath.Join(tree, "etc", "passwd"))
	os.Symlink(host, filepath.Join(tree, "bin"))
	d, err := Open(tree)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteFile("etc/passwd", []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "shadow")); string(b) != "SECRET" {
		t.Fatalf("the host file became %q", b)
	}
	if st, err := os.Lstat(filepath.Join(tree, "etc", "passwd")); err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o644 {
		t.Fatalf("etc/passwd: %v %v", st, err)
	}
	if err := d.WriteFile("bin/busybox", []byte("x"), 0o755); err == nil {
		t.Fatal("wrote through the planted bin -> host link")
	}
	if err := d.MkdirAll("bin/sub", 0o755); err == nil {
		t.Fatal("MkdirAll went through the planted bin -> host link")
	}
	if _, err := os.Stat(filepath.Join(host, "busybox")); err == nil {
		t.Fatal("a file appeared in the host directory")
	}
	for _, bad := range []string{"../x", "/etc/passwd", "etc/../../x"} {
		if err := d.WriteFile(bad, []byte("x"), 0o644); err == nil {
			t.Errorf("WriteFile(%q) left the tree", bad)
		}
	}
}

// A FIFO or a device node is never opened: O_PATH first, then the type.
func TestOpenFileRefusesFIFOWithoutBlocking(t *testing.T) {
	tree := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(tree, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(tree)
	defer d.Close()
	done := make(chan error, 1)
	go func() {
		_, err := d.OpenFile("fifo")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file (FIFO)") {
			t.Fatalf("OpenFile(fifo): %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenFile blocked on a FIFO")
	}
}

// RemoveAll removes what a child left (a 000 directory, deep names)
// and never what a link in the tree names.
func TestRemoveAllNeverFollows(t *testing.T) {
	host := secret(t)
	tree := filepath.Join(t.TempDir(), "layer")
	os.MkdirAll(filepath.Join(tree, "work", "work"), 0o755)
	os.WriteFile(filepath.Join(tree, "work", "work", "f"), []byte("x"), 0o644)
	os.Chmod(filepath.Join(tree, "work", "work"), 0)
	os.Symlink(host, filepath.Join(tree, "to-host"))
	os.Symlink(filepath.Join(host, "shadow"), filepath.Join(tree, "to-file"))
	if err := RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Fatalf("the tree is still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "shadow")); err != nil || string(b) != "SECRET" {
		t.Fatalf("the host's file: %q %v", b, err)
	}
	if err := RemoveAll(tree); err != nil {
		t.Fatalf("a tree already gone: %v", err)
	}
}
