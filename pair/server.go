package pair

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"nsh/docs/lessons"
	"nsh/pair/wire"
)

//go:embed assets
var assets embed.FS

// Limits: what one page may cost the session, whatever it does.
const (
	maxViewers   = 64
	maxMessage   = 4 << 10 // what a page may send at once: keys
	sendQueue    = 1024    // messages waiting for one page; more and it is dropped
	writeTimeout = 5 * time.Second
	maxHistory   = 4 << 20 // the output kept for a page that joins late
	keysPerSec   = 100     // a driver's messages per second, on average
	keysBurst    = 400
)

type server struct {
	o    options
	fw   *frameWriter
	tls  bool
	host string

	mu      sync.Mutex
	view    string // tokens: to watch, and (when not "") to drive
	drive   string
	viewers map[*viewer]struct{}
	history []byte
	trimmed bool   // history lost its start to maxHistory
	panel   []byte // the last panel message
	driver  string // who typed last
	ended   bool
	seq     int
}

type viewer struct {
	who   string
	drive bool
	since time.Time
	send  chan message
	conn  *websocket.Conn
	once  sync.Once
	gone  chan struct{}
}

type message struct {
	typ  websocket.MessageType
	data []byte
}

func newServer(o options, fw *frameWriter, tls bool) *server {
	s := &server{o: o, fw: fw, tls: tls, view: token(), viewers: map[*viewer]struct{}{}}
	if o.drive {
		s.drive = token()
	}
	return s
}

func (s *server) setAddr(bound, asked string) { s.host = urlHost(bound, asked) }

func (s *server) url(tok string) string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/?t=%s", scheme, s.host, tok)
}

func (s *server) sendURLs() {
	s.mu.Lock()
	doc := wire.URLDoc{View: s.url(s.view)}
	if s.drive != "" {
		doc.Drive = s.url(s.drive)
	}
	s.mu.Unlock()
	s.fw.json(wire.URLs, doc)
}

func (s *server) logf(format string, args ...any) {
	s.fw.write(wire.Log, []byte(time.Now().Format("15:04:05 ")+fmt.Sprintf(format, args...)))
}

// role says what a token lets its holder do: watch, drive, or nothing.
func (s *server) role(tok string) (ok, drive bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	eq := func(a, b string) bool { return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch {
	case eq(tok, s.drive):
		return true, true
	case eq(tok, s.view):
		return true, false
	}
	return false, false
}

// ServeHTTP serves the page, its files, the lessons and the socket, each
// only to a token holder. Nothing is shared with another origin: no CORS
// header, a socket only from this page's own origin.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the URL holds the token
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	ok, drive := s.role(r.URL.Query().Get("t"))
	if !ok {
		s.logf("refused %s %s from %s: no valid token (403)", r.Method, r.URL.Path, r.RemoteAddr)
		http.Error(w, "403 forbidden: this page needs the URL pair on printed, token included", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/":
		// The page's files carry the token too (a hex string: nothing
		// in it needs escaping).
		b, _ := assets.ReadFile("assets/index.html")
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(strings.ReplaceAll(string(b), "{{T}}", r.URL.Query().Get("t"))))
	case strings.HasPrefix(p, "/assets/"):
		s.file(w, "assets/"+path.Base(p))
	case p == "/lessons":
		names, _ := fs.Glob(lessons.Casts, "*.cast")
		sort.Strings(names)
		h.Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(names)
	case strings.HasPrefix(p, "/lessons/"):
		b, err := fs.ReadFile(lessons.Casts, path.Base(p))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", "application/x-asciicast")
		w.Write(b)
	case p == "/ws":
		s.socket(w, r, drive)
	default:
		http.NotFound(w, r)
	}
}

func (s *server) file(w http.ResponseWriter, name string) {
	b, err := assets.ReadFile(name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	w.Header().Set("Content-Type", types[path.Ext(name)])
	w.Write(b)
}

// socket takes a page's WebSocket: only from the page's own origin (a
// page elsewhere that learned the URL cannot script it), and only while
// there is room.
func (s *server) socket(w http.ResponseWriter, r *http.Request, drive bool) {
	// coder/websocket refuses an Origin whose host is not the request's
	// (403); said here too, so the refusal is in pair's log.
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
		s.logf("refused a socket from origin %s (%s): not this page's (403)", o, r.RemoteAddr)
		http.Error(w, "403 forbidden: another origin", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	full, ended := len(s.viewers) >= maxViewers, s.ended
	s.mu.Unlock()
	if full || ended {
		s.logf("refused %s: %d viewers already", r.RemoteAddr, maxViewers)
		http.Error(w, "503 too many viewers", http.StatusServiceUnavailable)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(maxMessage)
	v := &viewer{drive: drive, since: time.Now(), send: make(chan message, sendQueue), conn: c, gone: make(chan struct{})}
	s.join(v, r.RemoteAddr)
	go s.writeLoop(v)
	s.readLoop(v)
}

func sameOrigin(origin, host string) bool {
	for _, scheme := range []string{"http://", "https://"} {
		if rest, ok := strings.CutPrefix(origin, scheme); ok {
			return strings.EqualFold(rest, host)
		}
	}
	return false
}

// join adds a page: it gets what came before (the session so far), then
// the live output, in order, under one lock.
func (s *server) join(v *viewer, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	v.who = fmt.Sprintf("viewer %d (%s)", s.seq, addr)
	if v.drive {
		v.who = fmt.Sprintf("driver %d (%s)", s.seq, addr)
	}
	hello, _ := json.Marshal(map[string]any{"type": "hello", "drive": v.drive, "cols": s.o.cols, "rows": s.o.rows, "who": v.who, "trimmed": s.trimmed})
	v.send <- message{websocket.MessageText, hello}
	if len(s.history) > 0 {
		v.send <- message{websocket.MessageBinary, append([]byte(nil), s.history...)}
	}
	if s.panel != nil {
		v.send <- message{websocket.MessageText, s.panel}
	}
	if s.ended {
		// It joined as the session ended: told at once, like the rest.
		end, _ := json.Marshal(map[string]any{"type": "end"})
		v.send <- message{websocket.MessageText, end}
		v.send <- message{typ: closeAfter}
		return
	}
	s.viewers[v] = struct{}{}
	go s.logf("%s joined", v.who)
}

// broadcast queues m for every page; a page whose queue is full has
// fallen behind and is dropped (it may reconnect): the session never
// waits for a page.
func (s *server) broadcastLocked(m message) {
	for v := range s.viewers {
		select {
		case v.send <- m:
		default:
			delete(s.viewers, v)
			go s.drop(v, websocket.StatusPolicyViolation, "fell behind the session; reload to join again")
		}
	}
}

func (s *server) drop(v *viewer, code websocket.StatusCode, why string) {
	v.once.Do(func() {
		close(v.gone)
		v.conn.Close(code, why)
		s.logf("%s dropped: %s", v.who, why)
	})
}

func (s *server) leave(v *viewer) {
	s.mu.Lock()
	_, there := s.viewers[v]
	delete(s.viewers, v)
	s.mu.Unlock()
	v.once.Do(func() {
		close(v.gone)
		v.conn.CloseNow()
		if there {
			s.logf("%s left", v.who)
		}
	})
}

func (s *server) writeLoop(v *viewer) {
	for {
		select {
		case m := <-v.send:
			if m.typ == closeAfter {
				// Closed, then gone: end waits for gone, so the close
				// handshake is over before the helper exits.
				v.once.Do(func() {
					v.conn.Close(websocket.StatusNormalClosure, "the session ended")
					close(v.gone)
				})
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := v.conn.Write(ctx, m.typ, m.data)
			cancel()
			if err != nil {
				s.leave(v)
				return
			}
		case <-v.gone:
			return
		}
	}
}

// readLoop takes a page's keys: from a driver, at a bounded rate, to the
// session; from anyone else, nothing reaches it.
func (s *server) readLoop(v *viewer) {
	defer s.leave(v)
	tokens, last := float64(keysBurst), time.Now()
	warned := false
	for {
		_, b, err := v.conn.Read(context.Background())
		if err != nil {
			return
		}
		var m struct {
			Type string `json:"type"`
			Keys string `json:"keys"`
		}
		if json.Unmarshal(b, &m) != nil || m.Type != "in" {
			continue
		}
		now := time.Now()
		tokens = min(keysBurst, tokens+now.Sub(last).Seconds()*keysPerSec)
		last = now
		s.mu.Lock()
		drive := v.drive
		s.mu.Unlock()
		switch {
		case !drive:
			if !warned {
				s.logf("%s typed without the drive token: ignored", v.who)
				warned = true
			}
		case tokens < 1:
			if !warned {
				s.logf("%s typed faster than %d messages a second: keys dropped", v.who, keysPerSec)
				warned = true
			}
		default:
			tokens--
			s.mu.Lock()
			s.driver = v.who
			s.mu.Unlock()
			s.fw.json(wire.Input, wire.InputDoc{Who: v.who, Keys: m.Keys})
		}
	}
}

// output is the session's terminal output: kept for late joiners, and
// sent to every page.
func (s *server) output(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = append(s.history, b...)
	if len(s.history) > maxHistory {
		s.history = append([]byte(nil), s.history[len(s.history)-maxHistory/2:]...)
		s.trimmed = true
	}
	s.broadcastLocked(message{websocket.MessageBinary, append([]byte(nil), b...)})
}

func (s *server) setPanel(doc []byte) {
	var p wire.PanelDoc
	if json.Unmarshal(doc, &p) != nil {
		return
	}
	m, _ := json.Marshal(map[string]any{"type": "panel", "plan": p.Plan, "children": p.Children, "ns": p.NS, "cgroup": p.Cgroup, "caps": p.Caps})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.panel = m
	s.broadcastLocked(message{websocket.MessageText, m})
}

// driveOff takes the session back: the drive token stops working, and
// its holders watch.
func (s *server) driveOff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drive, s.driver = "", ""
	m, _ := json.Marshal(map[string]any{"type": "role", "drive": false})
	for v := range s.viewers {
		if v.drive {
			v.drive = false
			select {
			case v.send <- message{websocket.MessageText, m}:
			default:
			}
		}
	}
}

func (s *server) driveOn() {
	s.mu.Lock()
	s.drive = token()
	s.mu.Unlock()
}

func (s *server) viewersDoc() wire.ViewersDoc {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := wire.ViewersDoc{Driver: s.driver, Viewers: []wire.Viewer{}}
	for v := range s.viewers {
		doc.Viewers = append(doc.Viewers, wire.Viewer{Who: v.who, Drive: v.drive, Since: v.since.Format("15:04:05")})
	}
	sort.Slice(doc.Viewers, func(i, j int) bool { return doc.Viewers[i].Who < doc.Viewers[j].Who })
	return doc
}

// end tells every page the session ended and closes its connection: the
// page's writer sends what is queued, the end, then closes; one that
// does not within a moment is closed all the same.
func (s *server) end() {
	s.mu.Lock()
	s.ended = true
	m, _ := json.Marshal(map[string]any{"type": "end"})
	var all []*viewer
	for v := range s.viewers {
		all = append(all, v)
	}
	s.viewers = map[*viewer]struct{}{}
	s.mu.Unlock()
	for _, v := range all {
		select {
		case v.send <- message{websocket.MessageText, m}:
		default:
		}
		select {
		case v.send <- message{typ: closeAfter}:
		default:
		}
	}
	for _, v := range all {
		select {
		case <-v.gone:
		case <-time.After(2 * time.Second):
		}
		v.once.Do(func() {
			close(v.gone)
			v.conn.Close(websocket.StatusNormalClosure, "the session ended")
		})
	}
}

// closeAfter, as a message's type, tells a page's writer to close the
// connection once what came before it is sent.
const closeAfter websocket.MessageType = 0
