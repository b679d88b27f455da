package bpf

import (
	"testing"

	"nsh/isolate/seccomp"
)

func TestDockerCompiles(t *testing.T) {
	for _, caps := range [][]string{nil, {"CAP_SYS_ADMIN"}} {
		cfg, err := seccomp.Resolve(&seccomp.Plan{Preset: "docker"}, caps)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("caps %v: %d rules, %d instructions", caps, f.Rules, f.Instructions())
	}
}
