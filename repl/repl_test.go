package repl

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"nsh/commands"
)

// scripted is a LineReader that replays lines and errors.
type scripted struct {
	items   []any // string or error
	prompts []string
}

func (r *scripted) Readline(prompt string) (string, error) {
	r.prompts = append(r.prompts, prompt)
	if len(r.items) == 0 {
		return "", io.EOF
	}
	it := r.items[0]
	r.items = r.items[1:]
	if err, ok := it.(error); ok {
		return "", err
	}
	return it.(string), nil
}

func (r *scripted) Close() error { return nil }

func session() (*commands.Session, *bytes.Buffer, *bytes.Buffer) {
	s := commands.NewSession()
	var out, errOut bytes.Buffer
	s.Out, s.Err = &out, &errOut
	return s, &out, &errOut
}

func TestRunGoesOnAfterErrors(t *testing.T) {
	s, out, errOut := session()
	r := &scripted{items: []any{"bogus", "unshare uts \\", "  pid", ErrInterrupt, "echo done", "exit 4"}}
	if code := Run(s, r); code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
	if !strings.Contains(errOut.String(), `error: unknown command "bogus"`) {
		t.Errorf("stderr %q", errOut)
	}
	if out.String() != "done\n" {
		t.Errorf("stdout %q", out)
	}
	// The continuation asked with "> "; the prompt then showed the state.
	want := []string{"nsh# ", "nsh# ", "> ", "nsh[uts,pid]# ", "nsh[uts,pid]# ", "nsh[uts,pid]# "}
	for i, p := range want {
		p = strings.Replace(p, "#", signFor(), 1)
		if p == "> " {
			p = "> "
		}
		if i >= len(r.prompts) || r.prompts[i] != p {
			t.Errorf("prompts %q, want %q", r.prompts, want)
			break
		}
	}
}

func signFor() string {
	if strings.HasSuffix(commands.NewSession().Prompt(), "$ ") {
		return "$"
	}
	return "#"
}

func TestRunEOFExitsWithLastStatus(t *testing.T) {
	s, _, _ := session()
	if code := Run(s, &scripted{items: []any{"bogus"}}); code != 2 {
		t.Errorf("exit code after an error then EOF: %d, want 2", code)
	}
	s, _, _ = session()
	if code := Run(s, &scripted{items: []any{"bogus", "show"}}); code != 0 {
		t.Errorf("exit code after show then EOF: %d, want 0", code)
	}
}

func TestPlainReader(t *testing.T) {
	var prompts bytes.Buffer
	r := NewPlain(strings.NewReader("a\nb"), &prompts)
	for _, want := range []string{"a", "b"} {
		if got, err := r.Readline("p> "); err != nil || got != want {
			t.Errorf("Readline = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.Readline("p> "); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
	if prompts.String() != "p> p> p> " {
		t.Errorf("prompts %q", prompts.String())
	}
}

func TestHistoryFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	if got := HistoryFile(); got != dir+"/nsh/history" {
		t.Errorf("HistoryFile = %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/no-home/really")
	if got := HistoryFile(); got != "" {
		t.Errorf("without a usable home: %q, want none", got)
	}
}

func TestCompleterAdapter(t *testing.T) {
	c := completer(func(line string) ([]string, string) { return []string{"unshare", "dir/"}, "un" })
	got, n := c.Do([]rune("x un"), 4)
	if n != 2 || string(got[0]) != "share " || string(got[1]) != "dir/" {
		t.Errorf("Do = %q, %d", got, n)
	}
}

// A relative $XDG_STATE_HOME is invalid (XDG spec) and is ignored.
func TestHistoryFileRelativeXDG(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "relative/state")
	if got, want := HistoryFile(), filepath.Join(home, ".local", "state", "nsh", "history"); got != want {
		t.Errorf("HistoryFile() = %q, want %q", got, want)
	}
}
