package isolate

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"nsh/internal/beneath"
	"nsh/isolate/cgroup"
)

// MakeTrackedDir makes a directory of nsh's in parent, named prefix and
// a random number, with mode, that nsh removes when it is done with it
// (RemoveTrackedDir) and the janitor removes if nsh is killed. Its name is
// announced to the janitor before the mkdir, as a cgroup's is, so no
// moment exists when a killed nsh would leave it behind; a name taken
// meanwhile is withdrawn, so the janitor never removes what nsh did not
// make.
func MakeTrackedDir(parent, prefix string, mode os.FileMode) (string, error) {
	for try := 0; ; try++ {
		dir := filepath.Join(parent, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		if err := cgroup.TrackTree(dir); err != nil {
			return "", err
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			err = os.Chmod(dir, mode) // what the umask took
		}
		if err == nil {
			return dir, nil
		}
		os.Remove(dir)
		cgroup.UntrackTree(dir)
		if !errors.Is(err, os.ErrExist) || try > 100 {
			return "", err
		}
	}
}

// RemoveTrackedDir removes a directory MakeTrackedDir made and all that
// is in it (package beneath: never through a link, never onto a mount),
// and tells the janitor it is gone.
func RemoveTrackedDir(dir string) error {
	err := beneath.RemoveAll(dir)
	if err == nil {
		cgroup.UntrackTree(dir)
	}
	return err
}

// KeepTrackedDir gives a directory MakeTrackedDir made the name final,
// if nothing has it, and stops tracking it: from then on it is the
// user's (a layer in a cache they named), and outlives nsh.
func KeepTrackedDir(dir, final string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "rename", Old: dir, New: final, Err: err}
	}
	cgroup.UntrackTree(dir)
	return nil
}
