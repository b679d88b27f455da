package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"nsh/isolate"
	"nsh/pair/wire"
)

func init() {
	later("pair", func() {
		register(&Command{
			Name: "pair", Group: "teaching",
			Subs: []Sub{
				{Name: "on", Usage: []string{"pair on [--listen ADDR:PORT] [--drive] [--tls CERT KEY | --insecure]"}, Run: pairOn,
					Complete: func(s *Session, args []string, partial string) []string {
						return []string{"--listen", "--drive", "--tls", "--insecure"}
					}},
				{Name: "off", Usage: []string{"pair off"}, Run: pairOff},
				{Name: "drive", Usage: []string{"pair drive off", "pair drive on"}, Run: pairDrive,
					Complete: func(s *Session, args []string, partial string) []string { return []string{"off", "on"} }},
			},
			Bare:    pairStatus,
			Summary: "share this session in the browser: its terminal, live, beside pictures of its namespaces and plan",
			Example: "pair on; spawn hostname; pair; pair off",
			Help: "pair on serves one page (nsh-pair, beside nsh) at a URL with a random token of 128 bits,\n" +
				"printed once, here only: the terminal as you see it (xterm.js), what came before for whoever\n" +
				"joins late, and beside it draw ns of nsh and its children, ps and show, updated as commands run\n" +
				"and children start and end; the lessons' casts replay there too. The token lets its holders\n" +
				"watch; --drive prints a second URL whose holders may type into the session (pair shows who\n" +
				"does; pair drive off takes it back, pair drive on makes a new one). It listens on 127.0.0.1 (a\n" +
				"free port) unless --listen says where; beyond loopback it needs --tls CERT KEY, or --insecure to\n" +
				"accept that tokens and keys cross the network readable. A wrong token gets 403 and a line in\n" +
				"pair; a socket from another origin is refused; a page that falls behind is dropped (it may\n" +
				"reload) and never slows the session. pair off, exit, and the end of nsh however it ends close\n" +
				"every connection and the port. The helper gives up root once it listens.",
		})
	})
}

// pairing is a running nsh-pair.
type pairing struct {
	in   io.WriteCloser
	mu   sync.Mutex // one frame at a time
	cmd  *exec.Cmd
	wait func() error
	// urls are where to watch and drive: read by the session, written by
	// readFrames (pair drive on makes a new one), under urlMu.
	urlMu   sync.Mutex
	urls    wire.URLDoc
	started bool // pair on started the transcript

	notes   chan string // joins, leaves, refusals: said at the next prompt
	keys    chan []byte // a driver's keys, for the line reader
	status  chan wire.ViewersDoc
	done    chan struct{}
	stderr  *bytes.Buffer
	plan    atomic.Pointer[string]
	lastDoc []byte
	driving atomic.Bool
}

func (p *pairing) send(kind byte, b []byte) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	wire.Write(p.in, kind, b)
}

// pairFlags turns pair on's words into nsh-pair's flags.
func pairFlags(c *Command, args []string) ([]string, error) {
	var flags []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--listen" && i+1 < len(args):
			flags = append(flags, "--listen", args[i+1])
			i++
		case a == "--tls" && i+2 < len(args):
			cert, err1 := filepath.Abs(args[i+1])
			key, err2 := filepath.Abs(args[i+2])
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			flags = append(flags, "--tls-cert", cert, "--tls-key", key)
			i += 2
		case a == "--drive" || a == "--insecure":
			flags = append(flags, a)
		case a == "--listen" || a == "--tls":
			return nil, usageError(c, a+" needs its value: --listen ADDR:PORT, --tls CERT KEY")
		default:
			return nil, usageError(c, "unknown word "+a)
		}
	}
	return flags, nil
}

func pairOn(s *Session, c *Command, args []string) error {
	if s.pair.Load() != nil {
		return errors.New("pair on: the session is shared already: pair shows where; pair off first")
	}
	flags, err := pairFlags(c, args)
	if err != nil {
		return err
	}
	bin, err := helperBinary("nsh-pair", "serves the page")
	if err != nil {
		return fmt.Errorf("pair on: %w", err)
	}
	p, err := startPairing(s, bin, flags)
	if err != nil {
		return fmt.Errorf("pair on: %w", err)
	}
	// The URLs go to the presenter's terminal only: not into what the
	// viewers see, where a drive token would be everyone's.
	u := p.where()
	s.Aside(fmt.Sprintf("pair: watch at  %s\n", u.View))
	if u.Drive != "" {
		s.Aside(fmt.Sprintf("pair: drive at  %s  (whoever holds it types into this session)\n", u.Drive))
	}
	s.Aside("pair: the tokens are shown once, here; pair off ends the sharing\n")
	s.pairPanel()
	return nil
}

// startPairing starts nsh-pair and the session's stream to it.
func startPairing(s *Session, bin string, flags []string) (*pairing, error) {
	cols, rows := 100, 30
	if s.tr != nil {
		cols, rows = s.tr.stream.Size()
	}
	cmd := exec.Command(bin, append(flags, "--cols", fmt.Sprint(cols), "--rows", fmt.Sprint(rows))...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &pairing{in: in, cmd: cmd, notes: make(chan string, 64), keys: make(chan []byte, 256), status: make(chan wire.ViewersDoc, 1), done: make(chan struct{}), stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if p.wait, err = isolate.StartTracked(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	first := make(chan error, 1)
	go p.readFrames(out, first)
	select {
	case err = <-first:
	case <-time.After(10 * time.Second):
		err = errors.New("nsh-pair did not say where it listens within 10 s")
	}
	if err != nil {
		in.Close()
		p.wait()
		return nil, err
	}
	if s.tr == nil {
		if err := s.startTranscript(s.Stdout); err != nil {
			p.close()
			return nil, err
		}
		p.started = true
	}
	if !s.tr.paired {
		// Registered once per stream: it sends to whichever pairing runs.
		s.tr.paired = true
		s.tr.stream.Tap(func(at time.Time, b []byte) { s.pair.Load().send(wire.Output, b) })
	}
	s.pair.Store(p)
	go s.pairTicker(p)
	return p, nil
}

// readFrames takes nsh-pair's frames: first where it listens (or why it
// cannot), then keys, log lines and status.
func (p *pairing) readFrames(r io.Reader, first chan<- error) {
	defer close(p.done)
	told := false
	for {
		kind, b, err := wire.Read(r)
		if err != nil {
			if !told {
				first <- fmt.Errorf("nsh-pair ended: %s", strings.TrimSpace(p.stderr.String()))
			}
			return
		}
		switch kind {
		case wire.Failed:
			first <- errors.New(string(b))
			return
		case wire.URLs:
			var u wire.URLDoc
			json.Unmarshal(b, &u)
			p.urlMu.Lock()
			p.urls = u
			p.urlMu.Unlock()
			if !told {
				told = true
				first <- nil
			}
		case wire.Input:
			var in wire.InputDoc
			if json.Unmarshal(b, &in) == nil {
				if !p.driving.Swap(true) {
					p.note(in.Who + " is typing in this session")
				}
				select {
				case p.keys <- []byte(in.Keys):
				default: // the session is not reading: keys are dropped, as a full tty drops them
				}
			}
		case wire.Log:
			p.note(string(b))
		case wire.Viewers:
			var v wire.ViewersDoc
			if json.Unmarshal(b, &v) == nil {
				select {
				case p.status <- v:
				default:
				}
			}
		}
	}
}

func (p *pairing) note(line string) {
	select {
	case p.notes <- "pair: " + line:
	default:
	}
}

// close ends nsh-pair: it tells every page and closes every connection
// and its port, then exits; nsh waits for that.
func (p *pairing) close() {
	p.send('q', nil)
	p.in.Close()
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		// A helper that does not end when told is ended: nothing of the
		// sharing outlives it.
		p.cmd.Process.Kill()
	}
	p.wait()
}

// where is where to watch and drive, as nsh-pair last said.
func (p *pairing) where() wire.URLDoc {
	p.urlMu.Lock()
	defer p.urlMu.Unlock()
	return p.urls
}

func pairOff(s *Session, c *Command, args []string) error {
	if len(args) != 0 {
		return usageError(c, "pair off takes nothing")
	}
	if !s.endPairing() {
		return errors.New("pair off: the session is not shared (pair on shares it)")
	}
	fmt.Fprintln(s.Err, "pair: ended; every page was told, and the port is closed")
	return nil
}

// endPairing ends the sharing, if any; Close calls it too.
func (s *Session) endPairing() bool {
	p := s.pair.Swap(nil)
	if p == nil {
		return false
	}
	p.close()
	if p.started && !s.Casting() {
		s.stopTranscript()
	}
	return true
}

func pairDrive(s *Session, c *Command, args []string) error {
	p := s.pair.Load()
	if len(args) != 1 || (args[0] != "off" && args[0] != "on") {
		return usageError(c, "pair drive takes off or on")
	}
	if p == nil {
		return errors.New("pair drive: the session is not shared (pair on --drive shares it)")
	}
	if args[0] == "off" {
		p.send(wire.DriveOff, nil)
		p.driving.Store(false)
		fmt.Fprintln(s.Err, "pair: the drive token no longer works; its holders watch")
		return nil
	}
	old := p.where().Drive
	p.send(wire.DriveOn, nil)
	for i := 0; i < 100 && p.where().Drive == old; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	s.Aside(fmt.Sprintf("pair: drive at  %s\n", p.where().Drive))
	return nil
}

func pairStatus(s *Session) error {
	p := s.pair.Load()
	if p == nil {
		fmt.Fprintln(s.Out, "not shared: pair on serves this session in the browser")
		return nil
	}
	p.send(wire.Status, nil)
	var v wire.ViewersDoc
	select {
	case v = <-p.status:
	case <-time.After(2 * time.Second):
		return errors.New("pair: nsh-pair did not answer")
	}
	addr := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(p.where().View, "http://"), "https://"), "/", 2)[0]
	fmt.Fprintf(s.Out, "shared at %s (the URLs with their tokens were printed by pair on)\n", addr)
	fmt.Fprintf(s.Out, "%d watching\n", len(v.Viewers))
	for _, x := range v.Viewers {
		role := "watching"
		if x.Drive {
			role = "may drive"
		}
		fmt.Fprintf(s.Out, "  %s, since %s, %s\n", x.Who, x.Since, role)
	}
	if v.Driver != "" {
		fmt.Fprintf(s.Out, "last typed: %s (pair drive off takes the session back)\n", v.Driver)
	}
	return nil
}

// pairNotes are what happened on the page since the last prompt.
func (s *Session) pairNotes() []string {
	p := s.pair.Load()
	if p == nil {
		return nil
	}
	var out []string
	for {
		select {
		case n := <-p.notes:
			out = append(out, n)
		default:
			return out
		}
	}
}

// pairPanel sends the panel: the plan as show has it (read here, on the
// session's goroutine, after each command), the children and a picture
// of their namespaces (which the ticker renews as children come and go).
func (s *Session) pairPanel() {
	p := s.pair.Load()
	if p == nil {
		return
	}
	s.pairMu.Lock()
	defer s.pairMu.Unlock()
	var b strings.Builder
	for _, r := range showRows(s) {
		fmt.Fprintf(&b, "%-18s %s\n", r[0], strings.Join(r[1:], " "))
	}
	plan := b.String()
	p.plan.Store(&plan)
	s.pairPicture(p)
}

// pairPicture sends the panel if it changed.
func (s *Session) pairPicture(p *pairing) {
	doc := wire.PanelDoc{}
	if pl := p.plan.Load(); pl != nil {
		doc.Plan = *pl
	}
	var kids strings.Builder
	for _, c := range s.snapshot() {
		if !c.exited() {
			fmt.Fprintf(&kids, "%s pid %d %s: %s\n", c.ref(), c.proc.Pid, c.phase(), quoteWords(c.args))
		}
	}
	doc.Children = kids.String()
	if pic, err := s.nsPicture(nil); err == nil {
		var svg bytes.Buffer
		if pic.SVG(&svg) == nil {
			doc.NS = svg.String()
		}
	}
	body, _ := json.Marshal(doc)
	if bytes.Equal(body, p.lastDoc) {
		return
	}
	p.lastDoc = body
	p.send(wire.Panel, body)
}

// pairTicker renews the panel while children start and end between
// commands (a spawn -d that ends, a kill from elsewhere).
func (s *Session) pairTicker(p *pairing) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if s.pair.Load() != p {
				return
			}
			s.pairMu.Lock()
			s.pairPicture(p)
			s.pairMu.Unlock()
		case <-p.done:
			return
		}
	}
}
