package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestPairInTheBrowser drives the pair page in Debian's Chromium, as a
// viewer sees it, while a presenter types into nsh in a real terminal
// (tmux): the page shows the prompt and the output of what the presenter
// runs, the namespaces picture changes when a child with new namespaces
// starts, a viewer who joins after ten commands sees all ten, keys typed
// in the page run in the session with the drive token and not with the
// view token, a wrong token gets 403, and pair off tells the page the
// session ended, with nothing of nsh-pair's left.
func TestPairInTheBrowser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the presenter spawns children in new namespaces")
	}
	for _, tool := range []string{"tmux", "chromium"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: dev/deps.sh installs it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	bin, dir := installNSH(t)
	// nsh finds nsh-pair beside itself, as dev/build.sh puts them.
	helper, err := exec.LookPath("nsh-pair")
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(helper, filepath.Join(dir, "nsh-pair")); err != nil {
		t.Fatal(err)
	}
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.start(bin, filepath.Join(dir, "state"))

	x.keys("pair on --drive", "Enter")
	x.waitFor(`pair: drive at  http://\S+`)
	scr := x.screen()
	view := regexp.MustCompile(`pair: watch at  (http://\S+)`).FindStringSubmatch(scr)[1]
	drive := regexp.MustCompile(`pair: drive at  (http://\S+)`).FindStringSubmatch(scr)[1]
	// One at a time: keys typed ahead are read (and the prompt drawn)
	// while the command before runs, and its output may then follow a
	// prompt on the screen, as a shell's would.
	for i := 1; i <= 10; i++ {
		c := "command-" + string(rune('a'+i-1))
		x.keys("echo "+c, "Enter")
		x.waitFor(`(?m)(^|# )` + c + `$`)
	}

	// A wrong token: 403.
	if resp, err := http.Get(strings.SplitN(view, "?", 2)[0] + "?t=" + strings.Repeat("0", 32)); err != nil || resp.StatusCode != 403 {
		t.Fatalf("a wrong token: %v %v", resp, err)
	}

	// Chromium's profile in the test's own directory, removed with it. Chromium's
	// helpers (zygote, GPU, crashpad) outlive the browser chromedp waits for and
	// write to the profile as they go, so the browser starts a process group of
	// its own; the group is killed and the directory removed once it has gone.
	profile, err := os.MkdirTemp("", "nsh-pair-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	var browser *exec.Cmd
	t.Cleanup(func() { endBrowser(t, browser, profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("chromium"), chromedp.NoSandbox, chromedp.WindowSize(1400, 900), chromedp.UserDataDir(profile),
		chromedp.Env("TMPDIR="+profile), // its singleton socket: not in /tmp
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			browser = cmd
		}))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	termText := func(ctx context.Context) string {
		var s string
		chromedp.Run(ctx, chromedp.Evaluate(`(document.querySelector('#term .xterm-rows')||{}).innerText||''`, &s))
		return s
	}
	waitText := func(ctx context.Context, what string, ok func(string) bool) string {
		t.Helper()
		var s string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s = termText(ctx); ok(s) {
				return s
			}
		}
		t.Fatalf("the page never showed %s; it shows:\n%s", what, s)
		return ""
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(view)); err != nil {
		t.Fatal(err)
	}
	// Joined after ten commands: all ten, and the prompt.
	waitText(ctx, "the ten commands", func(s string) bool {
		for c := 'a'; c <= 'j'; c++ {
			if !strings.Contains(s, "command-"+string(c)) {
				return false
			}
		}
		return strings.Contains(s, "nsh#")
	})
	var role string
	chromedp.Run(ctx, chromedp.Text("#role", &role))
	if !strings.HasPrefix(role, "watching") {
		t.Errorf("the view token's page says %q", role)
	}

	// What the presenter runs, live.
	svgBefore := nsSVG(ctx)
	x.keys("unshare uts pid mnt; hostname pairbox; spawn hostname", "Enter")
	// The child's output on the page, not only the command line that
	// names it; and the prompt back before the next command is typed.
	waitText(ctx, "the child's hostname", func(s string) bool { return regexp.MustCompile(`(?m)(^|# )pairbox\s*$`).MatchString(s) })
	x.waitFor(`(?s)(\n|# )pairbox\n.*\[uts,pid,mnt\]#\s*$`)
	x.keys("spawn -d --name web sleep 60", "Enter")
	x.waitFor(`@1 pid [0-9]+`)
	var svg string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if svg = nsSVG(ctx); strings.Contains(svg, "@1 (web)") {
			break
		}
	}
	if !strings.Contains(svg, "@1 (web)") || svg == svgBefore {
		t.Fatalf("the namespaces picture did not show the child:\n%s\nthe terminal:\n%s", svg, x.screen())
	}

	// Keys from the view token's page reach nothing.
	typeIn(t, ctx, "echo from-the-watcher\r")
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(x.screen(), "from-the-watcher") {
		t.Error("a watcher's keys reached the session")
	}
	// With the drive token they run in the session.
	dctx, dcancel := chromedp.NewContext(ctx)
	defer dcancel()
	if err := chromedp.Run(dctx, chromedp.Navigate(drive)); err != nil {
		t.Fatal(err)
	}
	waitText(dctx, "the prompt", func(s string) bool { return strings.Contains(s, "pairbox") })
	typeIn(t, dctx, "echo from-the-driver\r")
	// Its output on a line of its own, or after a prompt the editor drew
	// while echo ran (chromedp's Enter may come as two).
	x.waitFor(`(?m)(^|# )from-the-driver$`)
	// A page in a background tab does not draw (requestAnimationFrame
	// waits): the watcher's comes to the front, as a watcher looks at it.
	if err := chromedp.Run(ctx, page.BringToFront()); err != nil {
		t.Fatal(err)
	}
	waitText(ctx, "the driver's command on the watcher's page", func(s string) bool { return strings.Contains(s, "from-the-driver") })

	if os.Getenv("NSH_UPDATE") != "" {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile("docs/pair.png", png, 0o644)
	}

	// A finished lesson replays in the page, in a terminal of its own.
	if err := chromedp.Run(ctx, chromedp.Click(`#lessons button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	var replayed string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !strings.Contains(replayed, "nsh#"); time.Sleep(200 * time.Millisecond) {
		chromedp.Run(ctx, chromedp.Evaluate(`(document.querySelector('#replay .xterm-rows')||{}).innerText||''`, &replayed))
	}
	if !strings.Contains(replayed, "nsh#") {
		t.Errorf("the lesson's cast did not play: %q", replayed)
	}
	chromedp.Run(ctx, chromedp.Click(`#replay-close`, chromedp.ByQuery))

	// pair off: the page is told; nothing of nsh-pair's is left.
	x.keys("pair off", "Enter")
	x.waitFor(`pair: ended`)
	var status string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && status != "the session ended"; time.Sleep(100 * time.Millisecond) {
		chromedp.Run(ctx, chromedp.Text("#status", &status))
	}
	if status != "the session ended" {
		t.Errorf("after pair off the page says %q", status)
	}
	if _, err := http.Get(view); err == nil {
		t.Error("the port still answers after pair off")
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(dir, "nsh-pair")).Output(); len(out) > 0 {
		t.Errorf("nsh-pair still runs: %s", out)
	}
	x.keys("exit", "Enter")
}

// nsSVG is the namespaces picture the page shows.
func nsSVG(ctx context.Context) string {
	var s string
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('#ns').dataset.svg||''`, &s))
	return s
}

// typeIn types keys into the page's terminal, as a user at the page would.
func typeIn(t *testing.T, ctx context.Context, keys string) {
	t.Helper()
	// Text as an input event (what a paste or an input method gives
	// xterm.js), then Enter as a key.
	text := strings.TrimSuffix(keys, "\r")
	if err := chromedp.Run(ctx, chromedp.Focus(`#term .xterm-helper-textarea`, chromedp.ByQuery), input.InsertText(text)); err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(keys, "\r") {
		if err := chromedp.Run(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// endBrowser kills what is left of Chromium's process group and removes its
// profile, retrying while a helper that had not yet seen the kill still writes.
func endBrowser(t *testing.T, browser *exec.Cmd, profile string) {
	if browser != nil && browser.Process != nil {
		syscall.Kill(-browser.Process.Pid, syscall.SIGKILL)
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = os.RemoveAll(profile); err == nil {
			return
		}
	}
	t.Errorf("remove Chromium's profile: %v", err)
}
