package cgroup

import (
	"testing"

	"nsh/internal/standin"
)

// The tests run below a stand-in PID 1 of their own pid namespace, and
// fail if it changed (package standin).
func TestMain(m *testing.M) { standin.Main(m) }
