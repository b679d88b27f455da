package capability

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The security.capability xattr (linux/capability.h).
const (
	xattrName     = "security.capability"
	revisionMask  = 0xff000000
	flagEffective = 0x000001
	revision1     = 0x01000000
	revision2     = 0x02000000
	revision3     = 0x03000000
)

// FileCaps are a file's capabilities.
type FileCaps struct {
	Permitted   uint64
	Inheritable uint64
	Effective   bool   // all of them become effective at execve
	RootID      uint32 // v3: the user namespace's root they apply to
	Version     int    // 2 or 3 when read
}

// GetFile reads a file's capabilities; ok is false when it has none.
// Like getcap, it never follows a symlink, and what is not a regular
// file has none.
func GetFile(path string) (fc FileCaps, ok bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fc, false, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fc, false, nil
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, xattrName, buf)
	if errors.Is(err, unix.ENODATA) {
		return fc, false, nil
	}
	if err != nil {
		return fc, false, fmt.Errorf("getxattr %s %s: %w", path, xattrName, err)
	}
	fc, err = decodeXattr(buf[:n])
	if err != nil {
		return fc, false, fmt.Errorf("%s: %w", path, err)
	}
	return fc, true, nil
}

func decodeXattr(b []byte) (FileCaps, error) {
	if len(b) < 4 {
		return FileCaps{}, errors.New("security.capability is too short")
	}
	le := binary.LittleEndian
	magic := le.Uint32(b)
	fc := FileCaps{Effective: magic&flagEffective != 0}
	word := func(i int) uint64 { return uint64(le.Uint32(b[4+4*i:])) }
	switch magic & revisionMask {
	case revision1:
		if len(b) != 12 {
			return fc, errors.New("bad v1 security.capability")
		}
		fc.Permitted, fc.Inheritable, fc.Version = word(0), word(1), 1
	case revision2, revision3:
		want := 20
		if magic&revisionMask == revision3 {
			want = 24
		}
		if len(b) != want {
			return fc, fmt.Errorf("bad security.capability of %d bytes", len(b))
		}
		fc.Permitted = word(0) | word(2)<<32
		fc.Inheritable = word(1) | word(3)<<32
		fc.Version = 2
		if want == 24 {
			fc.RootID = le.Uint32(b[20:])
			fc.Version = 3
		}
	default:
		return fc, fmt.Errorf("unknown security.capability revision %#x", magic&revisionMask)
	}
	return fc, nil
}

func (fc FileCaps) encode() []byte {
	magic := uint32(revision2)
	size := 20
	if fc.RootID != 0 {
		magic, size = revision3, 24
	}
	if fc.Effective {
		magic |= flagEffective
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b, magic)
	le.PutUint32(b[4:], uint32(fc.Permitted))
	le.PutUint32(b[8:], uint32(fc.Inheritable))
	le.PutUint32(b[12:], uint32(fc.Permitted>>32))
	le.PutUint32(b[16:], uint32(fc.Inheritable>>32))
	if size == 24 {
		le.PutUint32(b[20:], fc.RootID)
	}
	return b
}

// regular refuses what setcap refuses: anything but a regular file, a
// symlink included (never followed, as setcap does not).
func regular(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file: file capabilities go on regular files only, never through a symlink (as setcap)", path)
	}
	return nil
}

// SetFile writes a file's capabilities: v2, or v3 when RootID is set.
func SetFile(path string, fc FileCaps) error {
	if err := regular(path); err != nil {
		return err
	}
	if err := unix.Lsetxattr(path, xattrName, fc.encode(), 0); err != nil {
		return fmt.Errorf("setxattr %s %s: %w", path, xattrName, err)
	}
	return nil
}

// RemoveFile removes a file's capabilities; a file without any is an
// error, as with setcap -r.
func RemoveFile(path string) error {
	if err := regular(path); err != nil {
		return err
	}
	if err := unix.Lremovexattr(path, xattrName); err != nil {
		if errors.Is(err, unix.ENODATA) {
			return fmt.Errorf("%s has no capabilities to remove", path)
		}
		return fmt.Errorf("removexattr %s %s: %w", path, xattrName, err)
	}
	return nil
}

// String is the text form getcap prints, by libcap's cap_to_text rule:
// the flag combination most capabilities share becomes the base ("=ep",
// or "=" for none), and each other combination is written as names with
// the flags added (+) and removed (-) against it; the first clause after
// an empty base is written with "=" instead (cap_net_raw=ep).
// Capabilities this kernel does not know follow by number (41+ep), as
// getcap prints them. The rootid of a v3 xattr is not part of the text:
// RootIDText adds it as getcap -n does.
func (fc FileCaps) String() string {
	const eff, per, inh = 1, 2, 4 // libcap's flag bits
	n := Last() + 1
	state := make([]int, 64)
	var histo [8]int
	for c := 0; c < 64; c++ {
		bit := uint64(1) << uint(c)
		if fc.Permitted&bit != 0 {
			state[c] |= per
		}
		if fc.Inheritable&bit != 0 {
			state[c] |= inh
		}
		if fc.Effective && state[c] != 0 {
			state[c] |= eff
		}
		if c < n {
			histo[state[c]]++
		}
	}
	m := 7
	for t := 6; t >= 0; t-- {
		if histo[t] >= histo[m] {
			m = t
		}
	}
	flags := func(f int) string {
		s := ""
		if f&eff != 0 {
			s += "e"
		}
		if f&inh != 0 {
			s += "i"
		}
		if f&per != 0 {
			s += "p"
		}
		return s
	}
	text := "=" + flags(m)
	for t := 7; t >= 0; t-- {
		if t == m || histo[t] == 0 {
			continue
		}
		var names []string
		for c := 0; c < n; c++ {
			if state[c] == t {
				names = append(names, Name(c))
			}
		}
		clause := strings.Join(names, ",")
		if add := t &^ m; add != 0 {
			op := "+"
			if text == "=" {
				text, op = "", "="
			}
			clause += op + flags(add)
		}
		if drop := m &^ t; drop != 0 {
			clause += "-" + flags(drop)
		}
		if text != "" {
			text += " "
		}
		text += clause
	}
	for c := n; c < 64; c++ {
		if state[c] != 0 {
			text += fmt.Sprintf(" %d+%s", c, flags(state[c]))
		}
	}
	return text
}

// RootIDText is String with the rootid of a v3 xattr, as getcap -n
// prints it.
func (fc FileCaps) RootIDText() string {
	if fc.RootID != 0 {
		return fmt.Sprintf("%s [rootid=%d]", fc, fc.RootID)
	}
	return fc.String()
}

// parseTextNames reads the names of one clause as cap_from_text does:
// comma-separated, none empty, each a name or a number up to 63 (one this
// kernel may not know), or all. nsh also takes a name without cap_
// (net_raw), which setcap refuses.
func parseTextNames(list string) (uint64, error) {
	var m uint64
	for _, part := range strings.Split(list, ",") {
		if part == "" {
			return 0, fmt.Errorf("bad capability list %q: an empty name between commas", list)
		}
		if n, err := strconv.Atoi(part); err == nil {
			if n < 0 || n > 63 {
				return 0, fmt.Errorf("capability %d is out of range: numbers go from 0 to 63", n)
			}
			m |= 1 << uint(n)
			continue
		}
		c, err := ParseList([]string{part})
		if err != nil {
			return 0, err
		}
		m |= c
	}
	return m, nil
}

// ParseText reads setcap's text: clauses such as cap_net_raw+ep,
// cap_a,cap_b=eip or =ep (all), each NAMES followed by one or more
// operator and flags pairs (= sets, + adds, - removes; flags e, i, p).
func ParseText(text string) (FileCaps, error) {
	var fc FileCaps
	var eff uint64
	// An empty text is the empty set, as cap_from_text reads it.
	clauses := strings.Fields(text)
	for _, cl := range clauses {
		i := strings.IndexAny(cl, "=+-")
		if i < 0 {
			return fc, fmt.Errorf("bad capability text %q: each clause is NAMES, then =, + or -, then flags e, i, p (e.g. cap_net_raw+ep)", cl)
		}
		var mask uint64
		if i == 0 {
			// No names: every capability, and only with = (libcap's
			// cap_from_text refuses +ep and -ep).
			if cl[0] != '=' {
				return fc, fmt.Errorf("bad capability text %q: name the capabilities before %c (only =, alone, means all of them)", cl, cl[0])
			}
			mask = All()
		} else {
			m, err := parseTextNames(cl[:i])
			if err != nil {
				return fc, err
			}
			mask = m
		}
		rest := cl[i:]
		if len(rest) < 1 {
			return fc, fmt.Errorf("bad capability text %q", cl)
		}
		for len(rest) > 0 {
			op := rest[0]
			rest = rest[1:]
			j := strings.IndexAny(rest, "=+-")
			if j < 0 {
				j = len(rest)
			}
			fl := rest[:j]
			rest = rest[j:]
			if op != '=' && fl == "" {
				return fc, fmt.Errorf("bad capability text %q: %c needs flags (e, i, p)", cl, op)
			}
			var e, in, p bool
			for _, f := range fl {
				switch f {
				case 'e':
					e = true
				case 'i':
					in = true
				case 'p':
					p = true
				default:
					return fc, fmt.Errorf("bad flag %q in %q: flags are e, i and p", f, cl)
				}
			}
			apply := func(set *uint64, on bool) {
				switch {
				case op == '=' && on, op == '+' && on:
					*set |= mask
				case op == '=' && !on, op == '-' && on:
					*set &^= mask
				}
			}
			apply(&fc.Permitted, p)
			apply(&fc.Inheritable, in)
			apply(&eff, e)
		}
	}
	// A file has one effective bit for all its capabilities: libcap
	// refuses a partial effective set, and so does nsh.
	if eff != 0 {
		if eff&(fc.Permitted|fc.Inheritable) != fc.Permitted|fc.Inheritable {
			return fc, errors.New("a file's effective flag covers all its capabilities or none: give e to every one, or to none")
		}
		fc.Effective = true
	}
	return fc, nil
}
