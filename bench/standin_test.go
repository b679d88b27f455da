package bench

import (
	"os"
	"path/filepath"
	"testing"

	"nsh/pair"

	"nsh/internal/standin"
)

// The tests run below a stand-in PID 1 of their own pid namespace, and
// fail if it changed (package standin).
// Run as nsh-pair (BenchmarkSpawnWithViewers puts this binary on PATH
// under that name), it is the pairing helper.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "nsh-pair" {
		pair.Main()
		return
	}
	standin.Main(m)
}
