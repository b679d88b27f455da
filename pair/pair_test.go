package pair

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"nsh/pair/wire"
)

// helper runs nsh-pair in this process, as nsh would: frames in, frames
// out. Root is not given up here (it would be this test's).
type helper struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Reader
	urls wire.URLDoc
	done chan int
	logs chan string
	keys chan wire.InputDoc
}

func startHelper(t *testing.T, args ...string) *helper {
	t.Helper()
	drop := dropPrivileges
	dropPrivileges = func() error { return nil }
	t.Cleanup(func() { dropPrivileges = drop })
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	h := &helper{t: t, in: inW, out: bufio.NewReader(outR), done: make(chan int, 1), logs: make(chan string, 100), keys: make(chan wire.InputDoc, 100)}
	go func() { h.done <- run(args, inR, outW); outW.Close() }()
	kind, b, err := wire.Read(h.out)
	if err != nil {
		t.Fatal(err)
	}
	if kind == wire.Failed {
		t.Fatalf("nsh-pair failed: %s", b)
	}
	json.Unmarshal(b, &h.urls)
	go func() {
		for {
			kind, b, err := wire.Read(h.out)
			if err != nil {
				return
			}
			switch kind {
			case wire.Log:
				h.logs <- string(b)
			case wire.Input:
				var in wire.InputDoc
				json.Unmarshal(b, &in)
				h.keys <- in
			}
		}
	}()
	t.Cleanup(func() { h.end() })
	return h
}

func (h *helper) send(kind byte, b []byte) { wire.Write(h.in, kind, b) }

func (h *helper) end() int {
	h.in.Close()
	select {
	case code := <-h.done:
		h.done <- code
		return code
	case <-time.After(5 * time.Second):
		h.t.Fatal("nsh-pair did not end when nsh's end closed")
	}
	return -1
}

// waitLog waits for a log line that matches re.
func (h *helper) waitLog(re string) string {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l := <-h.logs:
			if regexp.MustCompile(re).MatchString(l) {
				return l
			}
		case <-deadline:
			h.t.Fatalf("no log line matching %q", re)
		}
	}
}

func wsURL(page string) string {
	return strings.Replace(strings.Replace(page, "http://", "ws://", 1), "/?t=", "/ws?t=", 1)
}

func dial(t *testing.T, page string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if hdr == nil {
		hdr = http.Header{"Origin": {strings.SplitN(page, "/?", 2)[0]}}
	}
	return websocket.Dial(ctx, wsURL(page), &websocket.DialOptions{HTTPHeader: hdr})
}

// readUntil reads a page's messages until the terminal bytes hold want.
func readUntil(t *testing.T, c *websocket.Conn, want string) (text []map[string]any) {
	t.Helper()
	var term strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !strings.Contains(term.String(), want) {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading for %q (got %q): %v", want, term.String(), err)
		}
		if typ == websocket.MessageBinary {
			term.Write(b)
			continue
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		text = append(text, m)
	}
	return text
}

func TestTokens(t *testing.T) {
	h := startHelper(t, "--drive")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/\?t=[0-9a-f]{32}$`).MatchString(h.urls.View) || h.urls.Drive == "" || h.urls.Drive == h.urls.View {
		t.Fatalf("URLs: %+v", h.urls)
	}
	base := strings.SplitN(h.urls.View, "?", 2)[0]
	for _, u := range []string{base, base + "?t=", base + "?t=0123", base + "assets/xterm.js", base + "lessons", wsURL(h.urls.View)[:0] + base + "ws?t=nope"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", u, resp.StatusCode)
		}
		h.waitLog(`refused GET /\S* from 127\.0\.0\.1:\d+: no valid token \(403\)`)
	}
	resp, err := http.Get(h.urls.View)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/assets/xterm.js?t=") || resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("the page: %d %v", resp.StatusCode, resp.Header)
	}
}

// A page elsewhere that learned the URL cannot open the socket: the
// browser sends its own origin, and it is refused.
func TestOtherOriginRefused(t *testing.T) {
	h := startHelper(t)
	_, resp, err := dial(t, h.urls.View, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a socket from another origin: %v %v", resp, err)
	}
	h.waitLog(`refused a socket from origin http://evil\.example`)
}

// A page that joins late gets the session so far; a driver's keys reach
// nsh, a watcher's do not.
func TestLateJoinerAndDriving(t *testing.T) {
	h := startHelper(t, "--drive")
	for i := 0; i < 10; i++ {
		h.send(wire.Output, []byte("nsh# command "+string(rune('0'+i))+"\r\n"))
	}
	view, _, err := dial(t, h.urls.View, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer view.CloseNow()
	msgs := readUntil(t, view, "command 9")
	if len(msgs) == 0 || msgs[0]["type"] != "hello" || msgs[0]["drive"] != false {
		t.Errorf("first message: %v", msgs)
	}
	drive, _, err := dial(t, h.urls.Drive, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer drive.CloseNow()
	readUntil(t, drive, "command 9")
	ctx := context.Background()
	view.Write(ctx, websocket.MessageText, []byte(`{"type":"in","keys":"rm -rf /\r"}`))
	h.waitLog(`viewer \d+ .* typed without the drive token: ignored`)
	drive.Write(ctx, websocket.MessageText, []byte(`{"type":"in","keys":"spawn hostname\r"}`))
	select {
	case k := <-h.keys:
		if k.Keys != "spawn hostname\r" || !strings.HasPrefix(k.Who, "driver") {
			t.Errorf("keys: %+v", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the driver's keys did not reach nsh")
	}
	select {
	case k := <-h.keys:
		t.Errorf("more keys reached nsh: %+v", k)
	case <-time.After(100 * time.Millisecond):
	}
	// pair drive off: the token stops working, its holder watches.
	h.send(wire.DriveOff, nil)
	time.Sleep(100 * time.Millisecond)
	drive.Write(ctx, websocket.MessageText, []byte(`{"type":"in","keys":"x"}`))
	h.waitLog(`driver \d+ .* typed without the drive token: ignored`)
	if _, _, err := dial(t, h.urls.Drive, nil); err == nil {
		t.Error("the drive token still opens a socket after pair drive off")
	}
}

// A page that stops reading is dropped; the session's output never
// waits for it, and the other pages go on.
func TestSlowViewerDropped(t *testing.T) {
	h := startHelper(t)
	slow, _, err := dial(t, h.urls.View, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	fast, _, err := dial(t, h.urls.View, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.CloseNow()
	go func() {
		for {
			if _, _, err := fast.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	chunk := []byte(strings.Repeat("x", 32<<10) + "\r\n")
	start := time.Now()
	for i := 0; i < 3000; i++ { // ~96 MiB: far more than the socket buffers hold
		h.send(wire.Output, chunk)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the session waited %v for its pages", d)
	}
	h.waitLog(`viewer \d+ .* dropped: fell behind the session`)
}

// Listening beyond loopback in clear text is refused, with the reason.
func TestExposureRefused(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "192.0.2.10:8022"} {
		err := checkExposure(options{listen: listen})
		if err == nil || !strings.Contains(err.Error(), "give --tls CERT KEY, or --insecure") {
			t.Errorf("--listen %s: %v", listen, err)
		}
		if checkExposure(options{listen: listen, insecure: true}) != nil || checkExposure(options{listen: listen, cert: "c", key: "k"}) != nil {
			t.Errorf("--listen %s with --insecure or --tls refused", listen)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", "localhost:8022"} {
		if err := checkExposure(options{listen: listen}); err != nil {
			t.Errorf("--listen %s: %v", listen, err)
		}
	}
}

// nsh's end closing is the end: every page is told, its socket closed.
func TestEndTellsPages(t *testing.T) {
	h := startHelper(t)
	c, _, err := dial(t, h.urls.View, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, b, err := c.Read(context.Background()); err != nil || !strings.Contains(string(b), `"hello"`) {
		t.Fatalf("first message: %s %v", b, err)
	}
	ran := make(chan int, 1)
	go func() { ran <- h.end() }()
	ended := false
	for {
		typ, b, err := c.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("closed with %v", err)
			}
			break
		}
		if typ == websocket.MessageText && strings.Contains(string(b), `"end"`) {
			ended = true
		}
	}
	if !ended {
		t.Error("the page was not told the session ended")
	}
	<-ran // nsh-pair has returned: as a process, it has exited
	if _, err := http.Get(h.urls.View); err == nil {
		t.Error("the port still answers after the end")
	}
}

// The page's xterm.js is what dev/web.sh took from the npm registry at
// the version web/package-lock.json pins: the sums it wrote match the
// files, and the version the lock's.
func TestXtermIsThePinnedOne(t *testing.T) {
	sum, err := assets.ReadFile("assets/xterm.sum")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(sum))
	lock, err := os.ReadFile("../web/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	json.Unmarshal(lock, &l)
	if want := "@xterm/xterm@" + l.Packages["node_modules/@xterm/xterm"].Version; len(f) != 5 || f[0] != want {
		t.Fatalf("xterm.sum says %q, the lock %s: run dev/web.sh", sum, want)
	}
	for i := 1; i < 5; i += 2 {
		b, _ := assets.ReadFile("assets/" + f[i])
		if s := sha256.Sum256(b); hex.EncodeToString(s[:]) != f[i+1] {
			t.Errorf("assets/%s is not the file npm gave (xterm.sum): run dev/web.sh", f[i])
		}
	}
}
