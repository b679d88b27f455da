package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"nsh/internal/ownfile"
)

// Files nsh writes (export sh FILE, save FILE, record FILE, export docker
// --seccomp FILE, export k8s FILE) carry package ownfile's mark.

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
	if force || ownfile.Written(path) {
		return nil
	}
	return fmt.Errorf("%s: %s exists and nsh did not write it: give another name, or `%s -f %s` to replace it", what, path, what, path)
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
