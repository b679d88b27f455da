package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterleaveSmoke keeps bench/interleave working in CI: every command
// timed once per round, quoted words kept whole, a failing command fatal.
func TestInterleaveSmoke(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "interleave")
	if out, err := exec.Command("go", "build", "-o", bin, "./interleave").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	js := filepath.Join(dir, "out.json")
	mark := filepath.Join(dir, "mark")
	out, err := exec.Command(bin, "-runs", "3", "-warmup", "1", "-o", js,
		"true=/bin/true", "quoted=/bin/sh -c 'echo x >> "+mark+"'").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var doc struct {
		Results []struct {
			Command string
			Median  float64
			Times   []float64
		}
	}
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != 2 || doc.Results[1].Command != "quoted" {
		t.Fatalf("results: %s", b)
	}
	for _, r := range doc.Results {
		if len(r.Times) != 3 || r.Median <= 0 {
			t.Errorf("%s: %d times, median %v; want 3 and more than 0", r.Command, len(r.Times), r.Median)
		}
	}
	if m, _ := os.ReadFile(mark); strings.Count(string(m), "x") != 4 {
		t.Errorf("the quoted command ran %d times, want 4 (a warm-up and 3)", strings.Count(string(m), "x"))
	}
	// Each round has an order of its own: over 12 rounds of two commands,
	// each comes first in some.
	seq := filepath.Join(dir, "seq")
	if out, err := exec.Command(bin, "-runs", "12", "-warmup", "0",
		"a=/bin/sh -c 'printf a >> "+seq+"'", "b=/bin/sh -c 'printf b >> "+seq+"'").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s, _ := os.ReadFile(seq)
	firsts := map[byte]int{}
	for i := 0; i+1 < len(s); i += 2 {
		firsts[s[i]]++
	}
	if len(s) != 24 || firsts['a'] == 0 || firsts['b'] == 0 {
		t.Errorf("rounds ran %q: want 12 rounds of a and b, each first in some", s)
	}
	if err := exec.Command(bin, "-runs", "1", "f=/bin/false").Run(); err == nil {
		t.Error("a failing command was timed instead of stopping the run")
	}
}
