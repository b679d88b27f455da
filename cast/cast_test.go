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
