package draw

import (
	"strings"
	"testing"
)

// The same namespace gets the same letter wherever it appears, "new"
// only where it first does; nsh's own are "·" (text) and "nsh's" (SVG).
func TestNSLetters(t *testing.T) {
	nsh := map[string]uint64{"cgroup": 1, "ipc": 2, "mnt": 3, "net": 4, "pid": 5, "time": 6, "user": 7, "uts": 8}
	child := func(changes map[string]uint64) map[string]uint64 {
		m := map[string]uint64{}
		for k, v := range nsh {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	p := &NSPicture{Procs: []NSProc{
		{Label: "nsh", Inodes: nsh},
		{Label: "@1", Inodes: child(map[string]uint64{"uts": 100, "pid": 101})},
		{Label: "@2", Inodes: child(map[string]uint64{"uts": 100, "pid": 102, "net": 0})},
	}}
	var b strings.Builder
	if err := p.Text(&b, false); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"│ @1      │ ·      │ ·      │ ·      │ ·      │ A new  │ ·      │ ·      │ A new  │",
		"│ @2      │ ·      │ ·      │ ·      │ ?      │ B new  │ ·      │ ·      │ A      │",
		"uts A = uts:[100]: @1, @2",
		"pid B = pid:[102]: @2",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\033[") {
		t.Errorf("colour without a terminal:\n%q", text)
	}
	b.Reset()
	p.Text(&b, true)
	if !strings.Contains(b.String(), "\033[48;5;153m\033[30m A new") {
		t.Errorf("no colour for A:\n%q", b.String())
	}
	b.Reset()
	p.Title = `a <title> & "quotes"`
	if err := p.SVG(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "a &lt;title&gt; &amp; &quot;quotes&quot;") {
		t.Errorf("the title is not escaped:\n%s", b.String())
	}
}

// The five sets as a grid: a dropped capability is one nsh's bounding set
// holds and the process's does not.
func TestCapsGrid(t *testing.T) {
	p := &CapsPicture{Label: "@1", Names: []string{"cap_chown", "cap_kill", "cap_net_raw"},
		Sets: CapSets{Bounding: 0b011, Permitted: 0b001, Effective: 0b001, Ambient: 0b001},
		Ref:  CapSets{Bounding: 0b111, Permitted: 0b111, Effective: 0b111}}
	var b strings.Builder
	p.Text(&b, false)
	for _, want := range []string{
		"cap_chown     ●           ●           ●           ·           ●\n",
		"cap_kill      ●           ·           ·           ·           ·\n",
		"cap_net_raw   ·           ·           ·           ·           ·          dropped\n",
		"(of 3)        2           1           1           0           1\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the grid lacks %q:\n%s", want, b.String())
		}
	}
	if alt := p.Alt(); alt != "Capability sets of @1, of 3 capabilities: bounding 2, permitted 1, effective 1, inheritable 0, ambient 1; 1 dropped" {
		t.Errorf("alt %q", alt)
	}
	b.Reset()
	p.SVG(&b)
	if strings.Count(b.String(), "<title>") != 5 || !strings.Contains(b.String(), ">dropped</text>") {
		t.Errorf("the SVG:\n%s", b.String())
	}
}

// A cgroup's path from each root and its bars: filled as far as its use
// of a limit goes, empty where there is none.
func TestCgroupBars(t *testing.T) {
	p := &CgroupPicture{Label: "@1", Places: []CgroupPlace{{"unified", "/a/nsh-1"}},
		Bars: []Bar{{Name: "pids", Used: 5, Limit: 10, UsedText: "5", LimitText: "10", File: "pids.max"},
			{Name: "memory", Used: 100, Limit: -1, UsedText: "100", LimitText: "max", File: "memory.max"}}}
	var b strings.Builder
	p.Text(&b, false)
	for _, want := range []string{
		"  unified  / → a → nsh-1\n",
		"  pids    [" + strings.Repeat("█", 15) + strings.Repeat("·", 15) + "] 5 of 10   pids.max\n",
		"  memory  [" + strings.Repeat("·", 30) + "] 100 of max (no limit)   memory.max\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
	if p.Alt() != "The cgroup of @1 in /a/nsh-1: pids 5 of 10, memory 100 of max" {
		t.Errorf("alt %q", p.Alt())
	}
}
