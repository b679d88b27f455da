package bench

import (
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"nsh/commands"
	"nsh/plan"

	"nsh/isolate"
	"nsh/isolate/cgroup"
)

// What top costs with 100 children: the language itself (as the REPL
// runs it) with 100 detached children under limits, then top off a
// terminal, refreshing every second for 10 s (then a SIGINT, Ctrl-C,
// ends it); nsh's CPU time (getrusage) over top's wall time is its share
// of one core. The bound is 2 %.
//
//	go test -run x -bench Top100 -benchtime 1x ./bench/
func BenchmarkTop100(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("spawning needs root")
	}
	for i := 0; i < b.N; i++ {
		s := commands.NewSession()
		s.Out, s.Err = io.Discard, io.Discard
		for _, line := range [][]string{{"unshare", "uts", "pid", "mnt"}, {"cgroup", "set", "memory.max", "100M"},
			{"cgroup", "set", "pids.max", "20"}, {"cgroup", "set", "cpu.max", "0.5"}} {
			if err := s.Exec(line); err != nil {
				b.Fatal(err)
			}
		}
		for j := 0; j < 100; j++ {
			if err := s.Exec([]string{"spawn", "-d", "sleep", "1000"}); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond) // the spawns' own aftermath
		var before, after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		start := time.Now()
		stop := time.AfterFunc(10*time.Second, func() { syscall.Kill(os.Getpid(), syscall.SIGINT) })
		if err := s.Exec([]string{"top"}); err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		stop.Stop()
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		s.Close()
		b.ReportMetric(float64(cpu)/float64(wall)*100, "%-of-a-core")
		b.ReportMetric(wall.Seconds(), "top-s")
	}
}

// One child's figures, as top reads them each second (files kept open).
func BenchmarkUsage(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	spec := &plan.Spec{Cgroup: &cgroup.Config{Settings: []cgroup.Setting{
		{Key: "memory.max", Value: "104857600"}, {Key: "pids.max", Value: "20"}, {Key: "cpu.max", Value: "50000 100000"}}}}
	c, err := isolate.Launch(spec, isolate.Options{Args: []string{"sleep", "100"}, Detached: true})
	if err != nil {
		b.Fatal(err)
	}
	defer cgroup.Cleanup()
	defer c.Wait()
	defer c.KillAll()
	w := c.Cgroup().Watch()
	defer w.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Usage()
	}
}
