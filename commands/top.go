package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nsh/internal/term"
	"nsh/isolate"
	"nsh/isolate/cgroup"
)

func init() {
	later("top", func() {
		register(&Command{
			Name: "top", Group: "children",
			Usage:   []string{"top", "top --once [--json]", "top --json"},
			Summary: "a live table of every running child's usage against its limits, like docker stats",
			Example: "cgroup set cpu.max 0.5; spawn -d sh -c 'while :; do :; done'; top --once",
			Help: "Memory now and at its peak against memory.max, CPU over the last second against cpu.max\n" +
				"(100% is one core), pids against pids.max, OOM kills and time throttled by cpu.max, each read\n" +
				"from the child's cgroup files every second, with bars for usage against limits. On a terminal\n" +
				"it refreshes in place until q or Ctrl-C; elsewhere it prints a line per child each second until\n" +
				"Ctrl-C or no child runs (--json: a JSON document per line). --once samples for one second,\n" +
				"prints one table and returns, for scripts. cgroup stat --watch @ID is the same for one child.",
			JSON: func(args []string) bool { return true },
			Run:  runTop,
			Complete: func(s *Session, args []string, partial string) []string {
				return []string{"--once", "--json"}
			},
		})
	})
}

// topInterval is how often top reads the files.
const topInterval = time.Second

// topRow is one child's figures in a refresh; JSON for top --json.
type topRow struct {
	Ref           string   `json:"-"` // @1 (spin), as the table names it
	ID            int      `json:"id"`
	Name          string   `json:"name,omitempty"`
	Pid           int      `json:"pid"`
	Command       []string `json:"command"`
	MemCurrent    int64    `json:"memory_current_bytes"`
	MemPeak       int64    `json:"memory_peak_bytes"`
	MemLimit      int64    `json:"memory_max_bytes"` // -1: none
	CPUPercent    *float64 `json:"cpu_percent"`      // of one core, over the last interval; null on the first sample
	CPULimit      float64  `json:"cpu_max_percent"`  // -1: none
	PidsCurrent   int64    `json:"pids_current"`
	PidsLimit     int64    `json:"pids_max"`
	OOMKills      int64    `json:"oom_kills"`
	ThrottledUsec int64    `json:"throttled_usec"`
	NoCgroup      bool     `json:"no_cgroup,omitempty"`
}

// topSampler keeps the previous CPU reading of each child.
type topSampler struct {
	prev  map[*child]cpuMark
	watch map[*child]*cgroup.Watcher
	only  *child // cgroup stat --watch @ID
}

func (t *topSampler) close() {
	for c, w := range t.watch {
		w.Close()
		delete(t.watch, c)
	}
}

type cpuMark struct {
	usec int64
	at   time.Time
}

func (t *topSampler) sample(s *Session) []topRow {
	if t.prev == nil {
		t.prev, t.watch = map[*child]cpuMark{}, map[*child]*cgroup.Watcher{}
	}
	list := s.snapshot()
	var rows []topRow
	now := time.Now()
	seen := map[*child]bool{}
	for _, c := range list {
		if c.exited() || (t.only != nil && c != t.only) {
			continue
		}
		r := topRow{Ref: c.ref(), ID: c.id, Name: c.name, Pid: c.proc.Pid, Command: append([]string{}, c.args...), MemCurrent: -1, MemPeak: -1, MemLimit: -1,
			CPULimit: -1, PidsCurrent: -1, PidsLimit: -1, OOMKills: -1, ThrottledUsec: -1}
		g := c.proc.Cgroup()
		if g == nil {
			r.NoCgroup = true
			rows = append(rows, r)
			continue
		}
		w := t.watch[c]
		if w == nil {
			w = g.Watch()
			t.watch[c] = w
		}
		u := w.Usage()
		r.MemCurrent, r.MemPeak, r.MemLimit = u.MemCurrent, u.MemPeak, u.MemLimit
		r.PidsCurrent, r.PidsLimit, r.OOMKills, r.ThrottledUsec = u.PidsCurrent, u.PidsLimit, u.OOMKills, u.ThrottledUsec
		if u.CPULimit >= 0 {
			r.CPULimit = u.CPULimit * 100
		}
		if p, ok := t.prev[c]; ok && u.CPUUsec >= 0 && now.After(p.at) {
			pct := float64(u.CPUUsec-p.usec) / float64(now.Sub(p.at).Microseconds()) * 100
			r.CPUPercent = &pct
		}
		t.prev[c] = cpuMark{u.CPUUsec, now}
		seen[c] = true
		rows = append(rows, r)
	}
	for c := range t.prev {
		if !seen[c] {
			delete(t.prev, c)
			if w := t.watch[c]; w != nil {
				w.Close()
				delete(t.watch, c)
			}
		}
	}
	return rows
}

// bar is usage against a limit in ten cells.
func bar(v, limit float64) string {
	if limit <= 0 || v < 0 {
		return ""
	}
	n := int(v/limit*10 + 0.5)
	n = min(max(n, 0), 10)
	return " [" + strings.Repeat("#", n) + strings.Repeat(".", 10-n) + "]"
}

func size(v int64) string {
	if v < 0 {
		return "-"
	}
	return cgroup.FormatSize(strconv.FormatInt(v, 10))
}

func (r topRow) cells() []string {
	if r.NoCgroup {
		return []string{r.Ref, strconv.Itoa(r.Pid), "(no cgroup)", "", "", "", "", "", clip(strings.Join(r.Command, " "), 28)}
	}
	mem := size(r.MemCurrent)
	if r.MemLimit >= 0 {
		mem += " / " + size(r.MemLimit) + bar(float64(r.MemCurrent), float64(r.MemLimit))
	}
	cpu := "…"
	if r.CPUPercent != nil {
		cpu = fmt.Sprintf("%.1f%%", *r.CPUPercent)
	}
	if r.CPULimit >= 0 {
		v := -1.0
		if r.CPUPercent != nil {
			v = *r.CPUPercent
		}
		cpu += fmt.Sprintf(" / %.0f%%", r.CPULimit) + bar(v, r.CPULimit)
	}
	pids := "-"
	if r.PidsCurrent >= 0 {
		pids = strconv.FormatInt(r.PidsCurrent, 10)
		if r.PidsLimit >= 0 {
			pids += " / " + strconv.FormatInt(r.PidsLimit, 10)
		}
	}
	num := func(v int64) string {
		if v < 0 {
			return "-"
		}
		return strconv.FormatInt(v, 10)
	}
	thr := "-"
	if r.ThrottledUsec >= 0 {
		thr = fmt.Sprintf("%.2fs", float64(r.ThrottledUsec)/1e6)
	}
	return []string{r.Ref, strconv.Itoa(r.Pid), mem, size(r.MemPeak), cpu, pids, num(r.OOMKills), thr, clip(strings.Join(r.Command, " "), 28)}
}

var topHeader = []string{"CHILD", "PID", "MEMORY", "PEAK", "CPU", "PIDS", "OOM", "THROTTLED", "COMMAND"}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// line is a row on one line, for top off a terminal.
func (r topRow) line(at time.Time) string {
	c := r.cells()
	return fmt.Sprintf("%s %s pid %s mem %s peak %s cpu %s pids %s oom %s throttled %s",
		at.Format("15:04:05"), c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
}

type topDoc struct {
	Time     string   `json:"time"`
	Children []topRow `json:"children"`
}

func runTop(s *Session, c *Command, args []string) error {
	once := false
	for _, a := range args {
		if a != "--once" {
			return usageError(c, "unknown argument "+a+": top takes --once and --json")
		}
		once = true
	}
	return s.top(&topSampler{}, once)
}

// top runs top's three ways: --once, live on a terminal, lines elsewhere.
func (s *Session) top(t *topSampler, once bool) error {
	defer t.close()
	if len(t.sample(s)) == 0 && t.only == nil {
		fmt.Fprintln(s.Err, "top: no child is running: spawn -d starts one")
		if s.json {
			return s.emit(topDoc{Time: time.Now().Format(time.RFC3339), Children: []topRow{}})
		}
		return nil
	}
	intr := make(chan os.Signal, 1)
	signal.Notify(intr, os.Interrupt)
	defer signal.Stop(intr)
	if once {
		select {
		case <-time.After(topInterval):
		case <-intr:
			return fmt.Errorf("top: interrupted")
		}
		rows := t.sample(s)
		if s.json {
			return s.emit(topDoc{Time: time.Now().Format(time.RFC3339), Children: append([]topRow{}, rows...)})
		}
		return printTable(s.Out, topHeader, cellRows(rows))
	}
	// Live at the prompt only: a script, even on a terminal, goes on
	// when its children end rather than waiting for q.
	if !s.json && s.Interactive && s.Out == os.Stdout && isolate.IsTerminal(s.Stdin) && isolate.IsTerminal(os.Stdout) {
		return s.topLive(t, intr)
	}
	for {
		select {
		case <-time.After(topInterval):
		case <-intr:
			return nil
		}
		rows := t.sample(s)
		if len(rows) == 0 {
			if t.only != nil {
				fmt.Fprintf(s.Err, "cgroup stat --watch: %s has ended\n", t.only.ref())
			} else {
				fmt.Fprintln(s.Err, "top: no child is running any more")
			}
			return nil
		}
		now := time.Now()
		if s.json {
			b, err := json.Marshal(topDoc{Time: now.Format(time.RFC3339), Children: rows})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s\n", b)
			continue
		}
		for _, r := range rows {
			fmt.Fprintln(s.Out, r.line(now))
		}
	}
}

func cellRows(rows []topRow) [][]string {
	var out [][]string
	for _, r := range rows {
		out = append(out, r.cells())
	}
	return out
}

// topLive redraws the table in place on the terminal's alternate screen
// until q or Ctrl-C, with the terminal in a mode that hands over single
// keys; both are restored however it ends.
func (s *Session) topLive(t *topSampler, intr chan os.Signal) error {
	fd := int(s.Stdin.Fd())
	// Ctrl-C as a key, and a read returns within 0.1 s.
	old, err := term.Keys(fd, false, 0, 1)
	if err != nil {
		return fmt.Errorf("top: set the terminal's mode: %w", err)
	}
	out := os.Stdout
	fmt.Fprint(out, "\x1b[?1049h\x1b[?25l") // alternate screen, cursor hidden
	keys := make(chan byte, 1)
	stop, done := make(chan struct{}), make(chan struct{})
	defer func() {
		// The reader's last read must end before the terminal's mode
		// is restored: a read still waiting in canonical mode would
		// take the next line typed at the prompt.
		close(stop)
		<-done
		fmt.Fprint(out, "\x1b[?25h\x1b[?1049l")
		old.Restore()
	}()
	go func() {
		defer close(done)
		b := make([]byte, 1)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n, _ := unix.Read(fd, b); n == 1 {
				select {
				case keys <- b[0]:
				case <-stop:
					return
				}
			}
		}
	}()
	draw := func(rows []topRow) {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "\x1b[H\x1b[2Jnsh top — %s — %d running; q or Ctrl-C returns to the prompt\r\n\r\n", time.Now().Format("15:04:05"), len(rows))
		var tb bytes.Buffer
		printTable(&tb, topHeader, cellRows(rows))
		buf.Write(bytes.ReplaceAll(tb.Bytes(), []byte("\n"), []byte("\r\n")))
		out.Write(buf.Bytes())
	}
	draw(t.sample(s))
	tick := time.NewTicker(topInterval)
	defer tick.Stop()
	for {
		select {
		case k := <-keys:
			if k == 'q' || k == 'Q' || k == 3 {
				return nil
			}
		case <-intr:
			return nil
		case <-tick.C:
			draw(t.sample(s))
		}
	}
}
