package capture

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMarkSeparatesCommands(t *testing.T) {
	var tee bytes.Buffer
	s, err := Open(&tee)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(s.File(), "nsh says")
	c := exec.Command("sh", "-c", "echo out; echo err >&2; printf 'no newline'")
	c.Stdout, c.Stderr = s.File(), s.File()
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Mark()); got != "nsh says\nout\nerr\nno newline" {
		t.Errorf("first segment %q", got)
	}
	if got := s.Mark(); len(got) != 0 {
		t.Errorf("empty segment %q", got)
	}
	fmt.Fprint(s.File(), "last")
	if got := string(s.Close()); got != "last" {
		t.Errorf("last segment %q", got)
	}
	if got := tee.String(); got != "nsh says\nout\nerr\nno newlinelast" || strings.Contains(got, "\x00") {
		t.Errorf("tee %q", got)
	}
}

func TestChildSeesATerminal(t *testing.T) {
	s, err := Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := exec.Command("sh", "-c", "test -t 1 && stty size <&1")
	c.Stdout, c.Stderr = s.File(), s.File()
	if err := c.Run(); err != nil {
		t.Skipf("no pseudo-terminal here (%v): the stream is a pipe", err)
	}
	if got := string(s.Mark()); got != fmt.Sprintf("%d %d\n", Height, Width) {
		t.Errorf("stty size: %q", got)
	}
}

func TestTokenSplitOverReads(t *testing.T) {
	s := &Stream{token: []byte("\x00tok\x00"), marks: make(chan struct{}, 4)}
	var got []string
	s.taps = append(s.taps, func(_ time.Time, b []byte) { got = append(got, string(b)) })
	carry := s.scan([]byte("ab\x00to"))
	carry = s.scan(append(carry, []byte("k\x00cd\x00x")...))
	carry = s.scan(append(carry, 'y'))
	if strings.Join(got, "|") != "ab|cd\x00x|y" || len(s.marks) != 1 || len(carry) != 0 {
		t.Errorf("pieces %q, marks %d, carry %q", got, len(s.marks), carry)
	}
}
