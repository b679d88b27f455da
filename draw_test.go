package main

import (
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDrawNS draws the live state as people see it: the SVG parsed (no
// script, nothing external; the processes, the eight types, the child's
// uts and pid marked new), the same file rendered by Debian's Chromium
// into a screenshot that is not blank, and the text version in a real
// terminal, in colour.
func TestDrawNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("draws a child in new namespaces")
	}
	bin, dir := installNSH(t)
	svg := filepath.Join(dir, "ns.svg")
	out, err := exec.Command(bin, "-c", "unshare uts pid; spawn -d sleep 30; draw ns @1 -o "+svg).CombinedOutput()
	if err != nil {
		t.Fatalf("draw ns: %v\n%s", err, out)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	rectsByRow := 0
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "script", "image", "foreignObject", "style":
				t.Errorf("the SVG has a <%s>: a picture stands alone", el.Name.Local)
			case "rect":
				rectsByRow++
			}
			for _, a := range el.Attr {
				if strings.Contains(a.Value, "http") && a.Name.Local != "xmlns" || a.Name.Local == "href" {
					t.Errorf("the SVG refers outside itself: %s=%q", a.Name.Local, a.Value)
				}
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(el)); s != "" {
				texts = append(texts, s)
			}
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range append([]string{"nsh (pid", "@1 pid"}, "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts") {
		if !strings.Contains(all, want) {
			t.Errorf("the SVG lacks %q: %s", want, all)
		}
	}
	// Two rows of eight cells (and the background): the child's uts and
	// pid are new, the other six nsh's.
	if rectsByRow != 17 || strings.Count(all, "A new") != 2 || strings.Count(all, "nsh's") != 6+8 {
		t.Errorf("%d rects; cells %s", rectsByRow, all)
	}

	screenshotNotBlank(t, svg, filepath.Join(dir, "chromium"))

	// draw caps: every capability of the kernel, in a browser too.
	caps := filepath.Join(dir, "caps.svg")
	if out, err := exec.Command(bin, "-c", "cap preset docker; spawn -d sleep 30; draw caps @1 -o "+caps).CombinedOutput(); err != nil {
		t.Fatalf("draw caps: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(caps)
	for _, want := range []string{">cap_chown</text>", ">cap_sys_admin</text>", ">dropped</text>", ">bounding</text>", ">ambient</text>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the caps SVG lacks %s", want)
		}
	}
	if _, err := xml.NewDecoder(strings.NewReader(string(b))).Token(); err != nil {
		t.Errorf("the caps SVG does not parse: %v", err)
	}
	screenshotNotBlank(t, caps, filepath.Join(dir, "chromium"))

	// draw cgroup: the path and the bars.
	cg := filepath.Join(dir, "cgroup.svg")
	if out, err := exec.Command(bin, "-c", "cgroup set pids.max 20; cgroup set cpu.max 0.5; spawn -d sh -c \"while :; do :; done\"; spawn sleep 0.3; draw cgroup @1 -o "+cg).CombinedOutput(); err != nil {
		t.Fatalf("draw cgroup: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(cg)
	for _, want := range []string{">memory</text>", ">pids</text>", ">cpu</text>", "1 of 20</text>", "nsh-"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the cgroup SVG lacks %s", want)
		}
	}
	screenshotNotBlank(t, cg, filepath.Join(dir, "chromium"))

	// On a terminal: the text version, in colour.
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.start(bin, filepath.Join(dir, "state"))
	x.keys("unshare uts pid; spawn -d sleep 30; draw ns", "Enter")
	x.waitFor(`│ @1 pid \d+ +│ · +│ · +│ · +│ · +│ A new +│ · +│ · +│ A new +│`)
	if esc := x.cmd("capture-pane", "-e", "-p", "-t", "nsh"); !strings.Contains(esc, "\x1b[") || !strings.Contains(esc, "A new") {
		t.Errorf("no colour on the terminal:\n%q", esc)
	}
	x.keys("exit", "Enter")
}

// screenshotNotBlank has Debian's Chromium render an SVG, as a reader's
// browser would, and checks the picture is not blank: a good share of
// its pixels are inked, some in colour.
func screenshotNotBlank(t *testing.T, svg, profile string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is missing: dev/deps.sh installs it")
		}
		t.Log("chromium is not installed: the SVG is not rendered")
		return
	}
	shot := strings.TrimSuffix(svg, ".svg") + ".png"
	c := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--user-data-dir="+profile,
		"--screenshot="+shot, "--window-size=1000,900", "file://"+svg)
	// Chromium's singleton socket goes under TMPDIR: in the test's directory, not /tmp.
	c.Env = append(os.Environ(), "TMPDIR="+filepath.Dir(profile))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	inked, colour := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr < 0xf000 || cg < 0xf000 || cb < 0xf000 {
				inked++
			}
			if max(cr, cg, cb)-min(cr, cg, cb) > 0x3000 {
				colour++
			}
		}
	}
	if total := (r.Dx() / 2) * (r.Dy() / 2); inked < total/50 || colour < 200 {
		t.Errorf("Chromium's screenshot of %s looks blank: %d of %d pixels inked, %d in colour", filepath.Base(svg), inked, total, colour)
	}
}

// draw caps --exec says what execve makes of the plan's sets: for each
// plan, what it predicts is what the kernel gives the child's command
// (as counts of the permitted, effective and ambient sets), a program
// with file capabilities and no_new_privs included.
func TestDrawCapsExecMatchesKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("plans children with capability sets")
	}
	bin, dir := installNSH(t)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox")
	}
	// A program with file capabilities that can print its own sets.
	// Named busybox: busybox takes its applet from argv[1] then.
	os.Mkdir(filepath.Join(dir, "fc"), 0o755)
	prog := filepath.Join(dir, "fc", "busybox")
	if out, err := exec.Command("sh", "-c", "cp "+bb+" "+prog+" && chmod 755 "+prog+" && setcap cap_net_raw,cap_net_admin+ep "+prog).CombinedOutput(); err != nil {
		t.Skipf("setcap: %v %s", err, out)
	}
	compared, refusals := 0, 0
	defer func() {
		t.Logf("%d predictions compared with the kernel's sets, %d refusals with its EPERM", compared, refusals)
		if compared < 8 || refusals < 1 {
			t.Errorf("too few cases reached the kernel: %d compared, %d refused", compared, refusals)
		}
	}()
	for _, plan := range []string{
		"cap preset docker",
		"cap preset docker; user 1000",
		"cap preset docker; user 1000; cap drop --set ambient all",
		"cap preset docker; user 1000; cap drop --set ambient all; cap add net_admin",
		"cap preset docker; user 1000; cap drop --set ambient all; nonewprivs on",
		"cap preset docker; user 1000; nonewprivs on",
		"unshare user; cap preset docker",
	} {
		for _, withFile := range []bool{false, true} {
			program, run := "", "grep"
			if withFile {
				program, run = " "+prog, prog+" grep"
			}
			// A refused execve is a spawn error (status 2): compared below.
			out, _ := exec.Command(bin, "-c", plan+"; draw caps --exec"+program+"; spawn "+run+" -E ^Cap(Prm|Eff|Amb) /proc/self/status").CombinedOutput()
			var predicted []string
			kernel := map[string]int{}
			for _, l := range strings.Split(string(out), "\n") {
				// (of 41) bnd prm eff inh amb │ bnd prm eff inh amb
				if f := strings.Fields(l); len(f) == 13 && f[0] == "(of" {
					predicted = []string{f[9], f[10], f[12]} // after: prm, eff, amb
				}
				if k, v, ok := strings.Cut(l, ":\t"); ok && strings.HasPrefix(k, "Cap") {
					var m uint64
					fmt.Sscanf(v, "%x", &m)
					kernel[k] = bits.OnesCount64(m)
				}
			}
			if refused := strings.Contains(string(out), "refused: its file capabilities"); refused || strings.Contains(string(out), "operation not permitted") {
				if !refused || !strings.Contains(string(out), "operation not permitted") {
					t.Errorf("%s (file caps %v): draw caps --exec and the kernel disagree on whether execve is refused:\n%s", plan, withFile, out)
				}
				refusals++
				continue
			}
			if len(kernel) != 3 {
				t.Errorf("%s (file caps %v): the child printed no sets:\n%s", plan, withFile, out)
				continue
			}
			got := []string{fmt.Sprint(kernel["CapPrm"]), fmt.Sprint(kernel["CapEff"]), fmt.Sprint(kernel["CapAmb"])}
			compared++
			if strings.Join(predicted, " ") != strings.Join(got, " ") {
				t.Errorf("%s (file caps %v): draw caps --exec says prm eff amb %v, the kernel gave %v\n%s", plan, withFile, predicted, got, out)
			}
		}
	}
}
