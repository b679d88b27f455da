package bench

import (
	"io"
	"os"
	"testing"
	"time"

	"nsh/commands"
)

// The rows for a session holding 200 detached children: what ps
// costs, what a spawn costs beside them, and how long ending the session
// takes. Each runs the language itself (commands.Session), as the REPL
// does.
func session200(b *testing.B) *commands.Session {
	if os.Geteuid() != 0 {
		b.Skip("spawning needs root")
	}
	s := commands.NewSession()
	s.Out, s.Err = io.Discard, io.Discard
	if err := s.Exec([]string{"unshare", "uts", "pid", "mnt"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if err := s.Exec([]string{"spawn", "-d", "sleep", "1000"}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkPs200(b *testing.B) {
	s := session200(b)
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Exec([]string{"ps"}); err != nil {
			b.Fatal(err)
		}
	}
}

// A foreground spawn of true, beside 200 detached children and alone.
func spawnBeside(b *testing.B, s *commands.Session) {
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	s.Stdin, s.Stdout, s.Stderr = devnull, devnull, devnull
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Exec([]string{"spawn", "/bin/true"}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

func BenchmarkSpawnBeside200(b *testing.B) {
	s := session200(b)
	defer s.Close()
	spawnBeside(b, s)
}

func BenchmarkSpawnAlone(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("spawning needs root")
	}
	s := commands.NewSession()
	s.Out, s.Err = io.Discard, io.Discard
	s.Exec([]string{"unshare", "uts", "pid", "mnt"})
	defer s.Close()
	spawnBeside(b, s)
}

// Ending a session with 200 children: TERM to each, then reaping them
// and removing their cgroups.
func BenchmarkClose200(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := session200(b)
		b.StartTimer()
		t := time.Now()
		s.Close()
		b.ReportMetric(float64(time.Since(t).Milliseconds()), "ms/close")
	}
}
