package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"nsh/commands"
)

// BenchmarkSpawnWithViewers is the row for pairing: what a spawn
// costs the presenter while 50 pages watch the session, beside the same
// spawn with none, in one interleaved run (rounds of 20 spawns, the
// viewers connected for every other round). It reports each median and
// their ratio (the target: at most 1.10).
func BenchmarkSpawnWithViewers(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("spawning needs root")
	}
	helperOnPath(b)
	s := commands.NewSession()
	var told bytes.Buffer
	devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer devnull.Close()
	s.Out, s.Err = &told, &told
	s.Stdin, s.Stdout, s.Stderr = devnull, devnull, devnull
	defer s.Close()
	s.Exec([]string{"unshare", "uts", "pid", "mnt"})
	if err := s.Exec([]string{"pair", "on"}); err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`watch at  (http://\S+)`).FindStringSubmatch(told.String())
	if m == nil {
		b.Fatalf("no URL: %s", told.String())
	}
	ws := strings.Replace(strings.Replace(m[1], "http://", "ws://", 1), "/?t=", "/ws?t=", 1)
	origin := strings.SplitN(m[1], "/?", 2)[0]
	var alone, watched []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var conns []*websocket.Conn
		if i%2 == 0 {
			for v := 0; v < 50; v++ {
				c, _, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {origin}}})
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for {
						if _, _, err := c.Read(context.Background()); err != nil {
							return
						}
					}
				}()
				conns = append(conns, c)
			}
		}
		b.StartTimer()
		for r := 0; r < 20; r++ {
			t := time.Now()
			if err := s.Exec([]string{"spawn", "/bin/true"}); err != nil {
				b.Fatal(err)
			}
			if i%2 == 0 {
				watched = append(watched, time.Since(t))
			} else {
				alone = append(alone, time.Since(t))
			}
		}
		b.StopTimer()
		for _, c := range conns {
			c.Close(websocket.StatusNormalClosure, "")
		}
		b.StartTimer()
	}
	if len(alone) > 0 && len(watched) > 0 {
		a, w := median(alone), median(watched)
		b.ReportMetric(float64(a.Microseconds())/1000, "ms/spawn-alone")
		b.ReportMetric(float64(w.Microseconds())/1000, "ms/spawn-50-viewers")
		b.ReportMetric(float64(w)/float64(a), "ratio")
	}
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// helperOnPath puts nsh-pair on PATH: this test binary under that name
// (TestMain runs pair.Main for it).
func helperOnPath(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "nsh-pair")); err != nil {
		b.Fatal(err)
	}
	b.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if _, err := exec.LookPath("nsh-pair"); err != nil {
		b.Fatal(fmt.Errorf("nsh-pair: %w", err))
	}
}
