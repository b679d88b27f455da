package image

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/internal/beneath"
)

// User resolves an image config's User (uid, uid:gid, name, name:group)
// to numbers, reading a name from etc/passwd and etc/group of the top
// layer that has them: lowers are the unpacked layers, top first. The
// files are read beneath each layer, so a symlink etc/passwd -> /etc/passwd
// in an image reads nothing of the host's. "" is root.
func User(lowers []string, user string) (uid, gid int, err error) {
	if user == "" {
		return 0, 0, nil
	}
	name, group, hasGroup := strings.Cut(user, ":")
	uid, gid = -1, -1
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		uid = n
	} else if uid, gid, err = lookup(lowers, "etc/passwd", name, 2, 3); err != nil {
		return 0, 0, err
	}
	if !hasGroup {
		if gid < 0 {
			// A bare uid: its primary group, where passwd names it.
			if _, g, err := lookupUID(lowers, uid); err == nil {
				gid = g
			} else {
				gid = 0
			}
		}
		return uid, gid, nil
	}
	if n, err := strconv.Atoi(group); err == nil && n >= 0 {
		return uid, n, nil
	}
	if gid, _, err = lookup(lowers, "etc/group", group, 2, -1); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// lookup finds name in file (passwd or group form) and returns the fields
// at a and b.
func lookup(lowers []string, file, name string, a, b int) (int, int, error) {
	var x, y int
	found, err := scan(lowers, file, func(f []string) bool {
		if f[0] != name || len(f) <= max(a, b) {
			return false
		}
		var err1, err2 error
		x, err1 = strconv.Atoi(f[a])
		if b >= 0 {
			y, err2 = strconv.Atoi(f[b])
		}
		return err1 == nil && err2 == nil
	})
	if err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, fmt.Errorf("the image's user %q is not in its /%s", name, file)
	}
	return x, y, nil
}

func lookupUID(lowers []string, uid int) (int, int, error) {
	var gid int
	found, err := scan(lowers, "etc/passwd", func(f []string) bool {
		if len(f) < 4 || f[2] != strconv.Itoa(uid) {
			return false
		}
		g, err := strconv.Atoi(f[3])
		gid = g
		return err == nil
	})
	if err == nil && !found {
		err = fmt.Errorf("uid %d is not in the image's /etc/passwd", uid)
	}
	return uid, gid, err
}

// scan calls match on each line's fields of the top layer's file, until
// it says yes.
func scan(lowers []string, file string, match func([]string) bool) (bool, error) {
	for _, l := range lowers {
		d, err := beneath.Open(l)
		if err != nil {
			return false, err
		}
		st, err := d.Lstat(file)
		if err != nil {
			d.Close()
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR {
			d.Close()
			return false, nil // a whiteout: deleted in this layer
		}
		f, err := d.OpenFile(file)
		d.Close()
		if err != nil {
			return false, fmt.Errorf("read the image's /%s: %w", file, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
		for sc.Scan() {
			if match(strings.Split(sc.Text(), ":")) {
				return true, nil
			}
		}
		return false, sc.Err()
	}
	return false, nil
}
