package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"nsh/commands"
)

// TestLessonsCheckedIn keeps docs/lessons/ whole: every script has its
// rendered lesson and its recording there, listed in the index, and each
// recording is asciicast v2 (dev/lessons.sh renders them again).
func TestLessonsCheckedIn(t *testing.T) {
	scripts, _ := filepath.Glob("scripts/*.nsh")
	index, err := os.ReadFile("docs/lessons/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		name := strings.TrimSuffix(filepath.Base(s), ".nsh")
		md, err := os.ReadFile(filepath.Join("docs/lessons", name+".md"))
		if err != nil || !strings.Contains(string(md), "\n# ") || !strings.Contains(string(md), "```console\n") {
			t.Errorf("%s has no rendered lesson in docs/lessons (dev/lessons.sh): %v", s, err)
		}
		// Every picture the page shows is there, beside it, and nsh's.
		for _, m := range regexp.MustCompile(`!\[[^\]]*\]\(([^)]+\.svg)\)`).FindAllStringSubmatch(string(md), -1) {
			svg, err := os.ReadFile(filepath.Join("docs/lessons", m[1]))
			if err == nil {
				err = wellFormed(svg)
			}
			if err != nil || !strings.Contains(string(svg), "<svg ") {
				t.Errorf("%s shows %s, which is not a well-formed SVG beside it (dev/lessons.sh): %v", name, m[1], err)
			}
		}
		if !strings.Contains(string(index), "("+name+".md)") || !strings.Contains(string(index), "("+name+".cast)") {
			t.Errorf("docs/lessons/README.md does not list %s's lesson and recording", name)
		}
		checkCast(t, filepath.Join("docs/lessons", name+".cast"))
	}
}

func checkCast(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		t.Errorf("%s is empty", path)
		return
	}
	var h struct{ Version, Width, Height int }
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Version != 2 || h.Width <= 0 || h.Height <= 0 {
		t.Errorf("%s: header %s is not asciicast v2: %v", path, sc.Bytes(), err)
		return
	}
	last, n := 0.0, 0
	var text strings.Builder
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 || ev[1] != "o" {
			t.Errorf("%s: %q is not an output event: %v", path, sc.Bytes(), err)
			return
		}
		at, ok1 := ev[0].(float64)
		out, ok2 := ev[2].(string)
		text.WriteString(out)
		if !ok1 || !ok2 || at < last {
			t.Errorf("%s: event %q out of order or malformed", path, sc.Bytes())
			return
		}
		last, n = at, n+1
	}
	if n == 0 {
		t.Errorf("%s has no events", path)
	}
	// Watchable: typed and paused at a person's pace (commands/pace.go),
	// neither over in a blink nor longer than a lesson holds attention,
	// and the checks are not shown.
	if last < 30 || last > 180 {
		t.Errorf("%s plays for %.1f s: a lesson's recording plays for 30 s to 3 min (dev/lessons.sh records it again)", path, last)
	}
	if m := regexp.MustCompile(`# (expect|check|hint|needs|solution) `).FindString(text.String()); m != "" {
		t.Errorf("%s shows %q: a recording runs its checks without showing them, hides hints and what a lesson needs, and shows a solution's commands as typed", path, m)
	}
}

// wellFormed says whether b is well-formed XML, as a browser asks before
// it draws an SVG (a "--" in a comment is enough for it to refuse).
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// TestLessonsTeach keeps each lesson a lesson: it opens with what the
// reader will learn, has two or more exercises, each with a hint, a
// solution and a check (which the script tests run), ends with a summary,
// and its rendered page shows all of it.
func TestLessonsTeach(t *testing.T) {
	scripts, _ := filepath.Glob("scripts/0*.nsh")
	if len(scripts) == 0 {
		t.Fatal("no lessons in scripts/")
	}
	drawn := map[string]bool{"01": true, "03": true, "04": true}
	for _, s := range scripts {
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := commands.ParseLesson(string(src))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		goals, summaries, draws, firstNote := 0, 0, 0, -1
		type task struct{ hints, solutions, checks int }
		var tasks []*task
		for i, st := range stmts {
			if len(st.Words) == 0 {
				continue
			}
			switch st.Words[0] {
			case "note":
				if firstNote < 0 {
					firstNote = i
				}
			case "goal":
				if firstNote >= 0 {
					t.Errorf("%s:%d: a goal after the first step: the lesson opens with its goals", s, st.Line)
				}
				goals++
			case "summary":
				summaries++
			case "draw":
				draws++
			case "task":
				tasks = append(tasks, &task{})
			case "hint", "solution", "check":
				if len(tasks) == 0 {
					t.Errorf("%s:%d: %s before any task", s, st.Line, st.Words[0])
					continue
				}
				k := tasks[len(tasks)-1]
				switch st.Words[0] {
				case "hint":
					k.hints++
				case "solution":
					k.solutions++
				case "check":
					k.checks++
				}
			}
		}
		if goals < 2 || summaries < 2 {
			t.Errorf("%s: %d goal and %d summary lines; a lesson says at least two things it teaches, and sums up in two or more", s, goals, summaries)
		}
		if len(tasks) < 2 {
			t.Errorf("%s: %d exercises; a lesson has two or more", s, len(tasks))
		}
		for i, k := range tasks {
			if k.hints == 0 || k.solutions == 0 || k.checks == 0 {
				t.Errorf("%s: exercise %d has %d hints, %d solution lines and %d checks: it needs each", s, i+1, k.hints, k.solutions, k.checks)
			}
		}
		name := strings.TrimSuffix(filepath.Base(s), ".nsh")
		if drawn[name[:2]] && draws == 0 {
			t.Errorf("%s draws no picture: this lesson's state is best seen drawn", s)
		}
		md, err := os.ReadFile(filepath.Join("docs/lessons", name+".md"))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, h := range []string{"\n## What you will learn\n", "\n## Exercises\n", "\n## In short\n", "<summary>Solution</summary>"} {
			if !bytes.Contains(md, []byte(h)) {
				t.Errorf("docs/lessons/%s.md lacks %q: render it again (dev/lessons.sh)", name, strings.TrimSpace(h))
			}
		}
	}
}

// TestLessonsTwice runs every lesson as root and then as another user
// (nobody): both runs pass (a lesson that needs root says so at its start
// and ends, passing), and neither leaves a file in the temporary
// directory, a cgroup or a process behind.
func TestLessonsTwice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as root and then as nobody")
	}
	bin, dir := installNSH(t)
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if k8s, err := exec.LookPath("nsh-k8s"); err == nil {
		path = filepath.Dir(k8s) + ":" + path // export k8s runs it
	}
	// A temporary directory of the test's own: the build of the next
	// package writes in /tmp meanwhile. /tmp is watched for nsh's names.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tmp, 0o1777)
	scripts, _ := filepath.Glob("scripts/0*.nsh")
	for _, s := range scripts {
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		lessonFile := filepath.Join(dir, filepath.Base(s))
		if err := os.WriteFile(lessonFile, src, 0o644); err != nil {
			t.Fatal(err)
		}
		needsRoot := regexp.MustCompile(`(?m)^needs root `).Match(src)
		t.Run(filepath.Base(s), func(t *testing.T) {
			before := tmpNames(t, tmp)
			for _, asRoot := range []bool{true, false} {
				// Private mount and net namespaces, made by root before
				// nsh starts: what a lesson mounts cannot reach the host.
				cmd := exec.Command("unshare", "-m", "-n", "--propagation", "private", "--", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", bin, lessonFile)
				who := "nobody"
				if asRoot {
					cmd = exec.Command("unshare", "-m", "-n", "--propagation", "private", "--", bin, lessonFile)
					who = "root"
				}
				cmd.Dir = dir
				cmd.Env = []string{"PATH=" + path, "HOME=/nonexistent", "TERM=dumb", "TMPDIR=" + tmp}
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("as %s: %v\n%s", who, err, out)
					continue
				}
				if (asRoot || !needsRoot) && !bytes.Contains(out, []byte("\n== In short\n")) {
					t.Errorf("as %s, %s did not run to its summary:\n%s", who, s, out)
				}
				if !asRoot && needsRoot && !bytes.Contains(out, []byte("this lesson needs root (")) {
					t.Errorf("as nobody, %s did not say it needs root:\n%s", s, out)
				}
				if after := tmpNames(t, tmp); after != before {
					t.Errorf("as %s, %s left files in its temporary directory or nsh's in /tmp:\n%s", who, s, diffLines(before, after))
				}
				if left := nshCgroups(); len(left) > 0 {
					t.Errorf("as %s, %s left cgroups: %s", who, s, strings.Join(left, " "))
				}
			}
		})
	}
}

// tmpNames lists a temporary directory's entries, and those of /tmp
// that nsh would name.
func tmpNames(t *testing.T, tmp string) string {
	var names []string
	for _, d := range []string{tmp, "/tmp"} {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if d == tmp || strings.HasPrefix(e.Name(), "nsh") {
				names = append(names, filepath.Join(d, e.Name()))
			}
		}
	}
	return strings.Join(names, "\n")
}
