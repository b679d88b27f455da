package ownfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// What is at the name decides; a link is replaced, never written
// through; an abandoned file leaves nothing; a name left by an earlier
// run's half-done write does not stop the next.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("theirs"), []byte("theirs\n"), 0o644)
	os.Symlink(p("theirs"), p("link"))
	if err := WriteFile(p("theirs"), []byte("# "+Mark+"\n"), 0o644, ReplaceOwn); !errors.Is(err, ErrNotOurs) {
		t.Errorf("a file nsh did not write: %v", err)
	}
	for _, r := range []Replace{ReplaceOwn, ReplaceAny} {
		if err := WriteFile(p("link"), []byte("x"), 0o644, r); err == nil {
			t.Errorf("replace %d wrote at a symlink", r)
		}
	}
	if b, _ := os.ReadFile(p("theirs")); string(b) != "theirs\n" {
		t.Fatalf("theirs became %q", b)
	}
	if err := WriteFile(p("mine"), []byte("# "+Mark+" one\n"), 0o640, ReplaceOwn); err != nil {
		t.Fatal(err)
	}
	// The name a crashed earlier write would have left.
	os.WriteFile(p(".mine.nsh-"+strconv.Itoa(os.Getpid())+"-0"), nil, 0o644)
	if err := WriteFile(p("mine"), []byte("# "+Mark+" two\n"), 0o640, ReplaceOwn); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p("mine")); string(b) != "# "+Mark+" two\n" {
		t.Errorf("mine is %q", b)
	}
	if st, _ := os.Stat(p("mine")); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := WriteFile(p("mine"), []byte("x"), 0o644, ReplaceNever); !errors.Is(err, ErrExists) {
		t.Errorf("ReplaceNever over a file: %v", err)
	}
	f, err := Create(p("abandoned"), 0o644, ReplaceOwn)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	if _, err := os.Lstat(p("abandoned")); !os.IsNotExist(err) {
		t.Errorf("an abandoned file has a name: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 4 { // theirs, link, mine, the planted name, nothing else
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in the directory: %v", names)
	}
}
