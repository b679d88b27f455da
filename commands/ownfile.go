package commands

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Files nsh writes (export sh FILE, save FILE, record FILE, export docker
// --seccomp FILE) carry a mark
// in their first lines; nsh replaces such a file freely, but any other
// file only when told (-f): `export sh demo.sh` in the project's own
// directory once replaced the project's demo.sh.
const ownMark = "written by nsh"

// takeFlagF removes a leading -f from args.
func takeFlagF(args []string) ([]string, bool) {
	if len(args) > 0 && args[0] == "-f" {
		return args[1:], true
	}
	return args, false
}

// mayReplace says whether nsh may write path: it does not exist, nsh
// wrote it, or force. what is the command, for the refusal.
func mayReplace(what, path string, force bool) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file: give another name", what, path)
	}
	if force || writtenByNsh(path) {
		return nil
	}
	return fmt.Errorf("%s: %s exists and nsh did not write it: give another name, or `%s -f %s` to replace it", what, path, what, path)
}

// writtenByNsh looks for the mark in the first two lines (the first may
// be a #! line).
func writtenByNsh(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; n < 2 && sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		// JSON has no comments: a profile nsh writes carries the mark
		// as a "//" member, which Docker's parser ignores.
		if (strings.HasPrefix(line, "#") || strings.HasPrefix(line, `"//"`)) && strings.Contains(line, ownMark) {
			return true
		}
	}
	return false
}

// writeOwnFile writes data to path, which mayReplace allowed.
func writeOwnFile(what, path string, data []byte, perm os.FileMode, force bool) error {
	if err := mayReplace(what, path, force); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
