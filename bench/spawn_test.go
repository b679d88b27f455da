// Package bench measures what nsh's spawn costs. Run as root:
//
//	go test -run x -bench . -benchtime 200x ./bench/
//
// Each case launches /bin/true through package isolate (the child stage
// included) and waits for it, so the numbers are whole spawns.
package bench

import (
	"os"
	"testing"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

func spawn(b *testing.B, spec *plan.Spec) {
	if os.Geteuid() != 0 {
		b.Skip("spawning into new namespaces and cgroups needs root")
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := isolate.Launch(spec, isolate.Options{Args: []string{"/bin/true"}, Stdin: devnull, Stdout: devnull, Stderr: devnull})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := c.Wait(); err != nil || st != 0 {
			b.Fatalf("status %d, %v", st, err)
		}
	}
	b.StopTimer()
	cgroup.Cleanup()
}

var namespaces = []string{"uts", "ipc", "mnt", "pid", "net", "cgroup"}

// The cost a cgroup adds to spawn: the same child without a cgroup of its
// own, with one, and with one that has limits written.
func BenchmarkSpawnNoCgroup(b *testing.B) {
	spawn(b, &plan.Spec{Cgroup: &cgroup.Config{Off: true}})
}

func BenchmarkSpawnCgroup(b *testing.B) {
	spawn(b, &plan.Spec{})
}

func BenchmarkSpawnCgroupLimits(b *testing.B) {
	spawn(b, &plan.Spec{Cgroup: &cgroup.Config{Settings: []cgroup.Setting{
		{Key: "memory.max", Value: "104857600"}, {Key: "pids.max", Value: "20"}, {Key: "cpu.max", Value: "50000 100000"},
	}}})
}

func BenchmarkSpawnNamespacesNoCgroup(b *testing.B) {
	spawn(b, &plan.Spec{Namespaces: namespaces, Cgroup: &cgroup.Config{Off: true}})
}

func BenchmarkSpawnNamespacesCgroupLimits(b *testing.B) {
	spawn(b, &plan.Spec{Namespaces: namespaces, Cgroup: &cgroup.Config{Settings: []cgroup.Setting{
		{Key: "memory.max", Value: "104857600"}, {Key: "pids.max", Value: "20"}, {Key: "cpu.max", Value: "50000 100000"},
	}}})
}

// What Docker's seccomp profile adds to a spawn: the same child (Docker's
// capabilities, no cgroup) without and with it. The filter is compiled
// once per plan, so a spawn pays for sending about 9 KB of BPF and one
// seccomp(2) in the child stage.
func dockerCaps() *plan.Caps {
	return &plan.Caps{Bounding: capability.Docker, Permitted: capability.Docker, Effective: capability.Docker, Preset: "docker"}
}

func BenchmarkSpawnDockerCaps(b *testing.B) {
	spawn(b, &plan.Spec{Namespaces: namespaces, Cgroup: &cgroup.Config{Off: true}, Caps: dockerCaps()})
}

func BenchmarkSpawnDockerCapsSeccomp(b *testing.B) {
	spawn(b, &plan.Spec{Namespaces: namespaces, Cgroup: &cgroup.Config{Off: true}, Caps: dockerCaps(), Seccomp: &seccomp.Plan{Preset: "docker"}})
}

// The part of a spawn that is nsh's work for the filter: finding the
// compiled program for the plan (after the first spawn, a lookup).
func BenchmarkSeccompFilterCached(b *testing.B) {
	spec := &plan.Spec{Namespaces: namespaces, Caps: dockerCaps(), Seccomp: &seccomp.Plan{Preset: "docker"}}
	for i := 0; i < b.N; i++ {
		if _, err := isolate.SeccompFilter(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// The first spawn of a new plan: Docker's profile resolved and compiled.
func BenchmarkSeccompCompileDocker(b *testing.B) {
	for i := 0; i < b.N; i++ {
		prof, err := seccomp.Resolve(&seccomp.Plan{Preset: "docker"}, capability.OCINames(capability.Docker))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bpf.Compile(prof); err != nil {
			b.Fatal(err)
		}
	}
}
