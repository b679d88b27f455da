package learn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinAndFind(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 9 {
		t.Fatalf("%d built-in lessons; scripts/ has nine", len(all))
	}
	for _, l := range all {
		if l.Tasks < 2 || l.Title == "" {
			t.Errorf("%s: %d exercises, title %q", l.Name, l.Tasks, l.Title)
		}
	}
	if l, err := Find(all, "03"); err != nil || l.Name != "03-cgroups" || l.Needs == "" {
		t.Errorf("Find 03 = %+v, %v", l.Name, err)
	}
	if _, err := Find(all, "42"); err == nil || !strings.Contains(err.Error(), "give one of 01 02") {
		t.Errorf("Find 42: %v", err)
	}
}

func TestProgressSurvives(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	l := Lesson{Name: "01-namespaces", Tasks: 2}
	st := p.Of(l)
	st.Pass(1)
	st.At = 2
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	q, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if st := q.Of(l); !st.Passed(1) || st.Passed(2) || st.At != 2 {
		t.Errorf("progress read back: %+v", st)
	}
	// A file at its name that nsh did not write is never replaced.
	path := filepath.Join(os.Getenv("XDG_STATE_HOME"), "nsh", "learn.json")
	os.WriteFile(path, []byte("{}\n"), 0o600)
	q.Lessons["x"] = &State{}
	if err := q.Save(); err == nil {
		t.Error("Save replaced a learn.json nsh did not write")
	}
	if b, _ := os.ReadFile(path); string(b) != "{}\n" {
		t.Errorf("learn.json became %q", b)
	}
}

func TestLoadRefusesNoExercises(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain.nsh")
	os.WriteFile(f, []byte("note hello\nspawn true\n"), 0o644)
	if _, err := Load(f); err == nil || !strings.Contains(err.Error(), "has no exercises") {
		t.Errorf("Load of a script without tasks: %v", err)
	}
}
