package cast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRecording(t *testing.T) {
	var b bytes.Buffer
	start := time.Unix(1700000000, 0)
	w, err := New(&b, 80, 24, "demo", start)
	if err != nil {
		t.Fatal(err)
	}
	w.Output(start.Add(250*time.Millisecond), []byte("nsh# hostname\nfoo"))
	w.Output(start.Add(time.Second), []byte("bar\n\xc3")) // é cut in two
	w.Output(start.Add(2*time.Second), []byte("\xa9\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&b)
	sc.Scan()
	var h Header
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Version != 2 || h.Width != 80 || h.Height != 24 || h.Timestamp != 1700000000 {
		t.Fatalf("header %s: %v", sc.Bytes(), err)
	}
	var got []string
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 || ev[1] != "o" {
			t.Fatalf("event %s: %v", sc.Bytes(), err)
		}
		got = append(got, strings.TrimRight(strings.TrimRight(sc.Text(), "]"), "\""))
		_ = ev[0].(float64)
	}
	want := []string{`[0.250000,"o","nsh# hostname\r\nfoo`, `[1.000000,"o","bar\r\n`, `[2.000000,"o","é\r\n`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}

// Type and Pause move the recording's clock, not the run's: a command
// typed at a person's pace, then a pause, then output that came at once.
func TestPacing(t *testing.T) {
	var b bytes.Buffer
	start := time.Unix(1700000000, 0)
	w, _ := New(&b, 80, 24, "", start)
	w.Type(start, "nsh# ", "spawn hostname")
	w.Pause(2 * time.Second)
	w.Output(start.Add(10*time.Millisecond), []byte("foo\n"))
	w.Close()
	var times []float64
	var text strings.Builder
	sc := bufio.NewScanner(&b)
	sc.Scan()
	for sc.Scan() {
		var ev []any
		json.Unmarshal(sc.Bytes(), &ev)
		times = append(times, ev[0].(float64))
		text.WriteString(ev[2].(string))
	}
	if text.String() != "nsh# spawn hostname\r\nfoo\r\n" {
		t.Errorf("text %q", text.String())
	}
	if len(times) < 6 {
		t.Fatalf("the command is typed in %d events: %v", len(times), times)
	}
	for i := 1; i < len(times); i++ {
		if times[i] < times[i-1] {
			t.Fatalf("out of order: %v", times)
		}
	}
	// 0.4 s before typing, 14 characters at 45 ms, Enter, 2 s of pause.
	if last := times[len(times)-1]; last < 2.9 || last > 3.5 {
		t.Errorf("the output comes at %.2f s, want about 3.2 s: %v", last, times)
	}
}
