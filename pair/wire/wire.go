// Package wire is what nsh and its pairing helper (nsh-pair) say to each
// other over the helper's stdin and stdout: frames of a kind byte, a
// 32-bit big-endian length and that many bytes. It is all nsh links of
// pairing: the web server, TLS and the page live in the helper, which
// does not run as root and whose packages do not slow nsh's start.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Kinds of frame.
const (
	// nsh to the helper.
	Output   byte = 'o' // the session's terminal output, as it came
	Panel    byte = 'p' // the side panel, JSON (PanelDoc)
	DriveOff byte = 'd' // drivers become viewers; the drive token stops working
	DriveOn  byte = 'D' // a new drive token (sent back in URLs)
	Status   byte = 's' // ask for the viewers (answered with Viewers)
	// the helper to nsh.
	URLs    byte = 'u' // JSON (URLDoc): where to watch, and to drive
	Input   byte = 'i' // keys a driver typed, JSON (InputDoc)
	Log     byte = 'l' // a line for pair's log: a refused token, a dropped viewer
	Viewers byte = 'v' // JSON (ViewersDoc)
	Failed  byte = 'f' // the helper could not start: the reason, then it exits
)

// MaxFrame bounds a frame: a picture of the live state is the largest.
const MaxFrame = 8 << 20

// ErrTooLarge says a frame is larger than MaxFrame.
var ErrTooLarge = errors.New("frame larger than 8 MiB")

// Write writes one frame.
func Write(w io.Writer, kind byte, payload []byte) error {
	if len(payload) > MaxFrame {
		return ErrTooLarge
	}
	buf := make([]byte, 5+len(payload))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[1:], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// Read reads one frame.
func Read(r io.Reader) (kind byte, payload []byte, err error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("read a frame: %w", ErrTooLarge)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("read a frame: %w", err)
	}
	return head[0], payload, nil
}

// PanelDoc is the side panel: the plan as show prints it, and pictures
// of the live state as draw makes them (SVG without scripts).
type PanelDoc struct {
	Plan     string `json:"plan"`
	Children string `json:"children"` // ps
	NS       string `json:"ns"`       // draw ns: nsh and its children
	Cgroup   string `json:"cgroup,omitempty"`
	Caps     string `json:"caps,omitempty"`
}

// URLDoc is where the session can be watched and driven ("" when no
// drive token was asked for).
type URLDoc struct {
	View  string `json:"view"`
	Drive string `json:"drive,omitempty"`
}

// InputDoc is keys from a driver.
type InputDoc struct {
	Who  string `json:"who"`
	Keys string `json:"keys"`
}

// ViewersDoc is who is connected.
type ViewersDoc struct {
	Viewers []Viewer `json:"viewers"`
	Driver  string   `json:"driver,omitempty"` // who typed last
}

// Viewer is one connected page.
type Viewer struct {
	Who   string `json:"who"`
	Drive bool   `json:"drive"`
	Since string `json:"since"`
}
