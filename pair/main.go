// Package pair is nsh-pair, the helper that shares a session in the
// browser (pair on): a web server for one page, the session's terminal
// through xterm.js beside pictures of its live state, for viewers who
// hold a token. nsh starts it, writes the session's output and panel to
// its stdin and reads the keys of drivers from its stdout (package
// wire). It is a program of its own: the web server, TLS and the page do
// not slow every start of nsh, and it gives up root as soon as it
// listens, so nothing that faces the network runs as root.
package pair

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"nsh/pair/wire"
)

// Main runs nsh-pair: flags on the command line, frames on stdin and
// stdout. It returns when nsh ends the pairing or nsh's end of stdin
// closes (nsh ended, however it ended).
func Main() {
	if err := noNewPrivsEverywhere(); err != nil {
		wire.Write(os.Stdout, wire.Failed, []byte(err.Error()))
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout))
}

// noNewPrivsEverywhere gives the whole helper no_new_privs before it
// does anything. The bit belongs to a thread, and prctl sets it on the
// calling one only: set by a goroutine, the runtime's other threads (the
// process's first among them) never had it. Nor can the runtime set it
// on them all (AllThreadsSyscall refuses where cgo is linked, as in the
// tests' binary). So one locked thread sets it and execs the helper
// again: the new image starts with that thread alone, and every thread
// it makes inherits the bit.
func noNewPrivsEverywhere() error {
	on, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("prctl(PR_GET_NO_NEW_PRIVS): %w", err)
	}
	if on == 1 {
		return nil
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	// By its path, not /proc/self/exe: the process keeps its name
	// (nsh-pair in ps), not "exe".
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find nsh-pair to exec again with no_new_privs: %w", err)
	}
	if err := unix.Exec(self, os.Args, os.Environ()); err != nil {
		return fmt.Errorf("exec nsh-pair again with no_new_privs: %w", err)
	}
	return nil
}

// options are nsh-pair's flags, as pair on passes them.
type options struct {
	listen     string
	drive      bool
	cert, key  string
	insecure   bool
	cols, rows int
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("nsh-pair", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "")
	fs.BoolVar(&o.drive, "drive", false, "")
	fs.StringVar(&o.cert, "tls-cert", "", "")
	fs.StringVar(&o.key, "tls-key", "", "")
	fs.BoolVar(&o.insecure, "insecure", false, "")
	fs.IntVar(&o.cols, "cols", 100, "")
	fs.IntVar(&o.rows, "rows", 30, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if (o.cert == "") != (o.key == "") {
		return o, errors.New("--tls takes a certificate and its key: pair on --tls CERT KEY")
	}
	return o, nil
}

// checkExposure refuses to listen beyond loopback in clear text unless
// told to: tokens and every key typed would cross the network readable.
func checkExposure(o options) error {
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: give ADDR:PORT (127.0.0.1:8022, or 127.0.0.1:0 for any free port): %w", o.listen, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if o.cert != "" || o.insecure {
		return nil
	}
	where := host
	if where == "" || where == "0.0.0.0" || where == "::" {
		where = "every address of this machine"
	}
	return fmt.Errorf("listening on %s reaches other machines, and without TLS the tokens, the terminal and every key a driver types cross the network readable: give --tls CERT KEY, or --insecure to accept that", where)
}

func run(args []string, in io.Reader, out io.Writer) int {
	fw := &frameWriter{w: out}
	fail := func(err error) int {
		fw.write(wire.Failed, []byte(err.Error()))
		return 2
	}
	o, err := parse(args)
	if err != nil {
		return fail(err)
	}
	if err := checkExposure(o); err != nil {
		return fail(err)
	}
	var tlsCfg *tls.Config
	if o.cert != "" {
		c, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return fail(fmt.Errorf("--tls: %w", err))
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", o.listen, err))
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	if err := dropPrivileges(); err != nil {
		ln.Close()
		return fail(err)
	}
	s := newServer(o, fw, tlsCfg != nil)
	s.setAddr(ln.Addr().String(), o.listen)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	go srv.Serve(ln)
	s.sendURLs()
	s.readFrames(bufio.NewReaderSize(in, 64<<10))
	// nsh ended the pairing, or ended: every page is told, every
	// connection and the listening socket close.
	s.end()
	srv.Close()
	return 0
}

// dropPrivileges is dropRoot; the tests, which run the helper in their
// own process, do not give up theirs.
var dropPrivileges = dropRoot

// dropRoot gives up root once the socket is bound and the key read: the
// helper needs no privilege to serve, and the kernel's no_new_privs (set
// by Main on every thread) keeps it from getting any back.
func dropRoot() error {
	if os.Geteuid() != 0 {
		return nil
	}
	const nobody = 65534
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(nobody); err != nil {
		return fmt.Errorf("setgid(%d): %w", nobody, err)
	}
	if err := syscall.Setuid(nobody); err != nil {
		return fmt.Errorf("setuid(%d): %w", nobody, err)
	}
	return nil
}

// token is 128 random bits, hex: what a URL carries, as Jupyter's do.
func token() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the kernel's random source does not fail
	}
	return hex.EncodeToString(b)
}

// frameWriter writes frames to nsh from any goroutine.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) write(kind byte, payload []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wire.Write(f.w, kind, payload)
}

func (f *frameWriter) json(kind byte, v any) {
	b, _ := json.Marshal(v)
	f.write(kind, b)
}

// readFrames takes nsh's frames until it ends the pairing or its end
// closes.
func (s *server) readFrames(r io.Reader) {
	for {
		kind, p, err := wire.Read(r)
		if err != nil {
			return
		}
		switch kind {
		case wire.Output:
			s.output(p)
		case wire.Panel:
			s.setPanel(p)
		case wire.DriveOff:
			s.driveOff()
		case wire.DriveOn:
			s.driveOn()
			s.sendURLs()
		case wire.Status:
			s.fw.json(wire.Viewers, s.viewersDoc())
		case 'q':
			return
		}
	}
}

// urlHost is the host a URL names: the listening address, or this
// machine's name where it listens on every address.
func urlHost(bound, asked string) string {
	host, port, _ := net.SplitHostPort(bound)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	} else if h, _, err := net.SplitHostPort(asked); err == nil && h == "localhost" {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}
