package commands

import (
	"errors"
	"fmt"
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

func replaceFor(force bool) ownfile.Replace {
	if force {
		return ownfile.ReplaceAny
	}
	return ownfile.ReplaceOwn
}

// mayReplace says whether nsh may write path: it does not exist, nsh
// wrote it, or force. what is the command, for the refusal.
func mayReplace(what, path string, force bool) error {
	err := ownfile.Check(path, replaceFor(force))
	if errors.Is(err, ownfile.ErrNotOurs) {
		return fmt.Errorf("%s: %s exists and nsh did not write it: give another name, or `%s -f %s` to replace it", what, path, what, path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: give another name", what, err)
	}
	return nil
}

// writeOwnFile writes data to path, as package ownfile writes: whole or
// not at all, never through a link.
func writeOwnFile(what, path string, data []byte, perm os.FileMode, force bool) error {
	if err := mayReplace(what, path, force); err != nil {
		return err
	}
	if err := ownfile.WriteFile(path, data, perm, replaceFor(force)); err != nil {
		return fmt.Errorf("%s: %w (%s is as it was)", what, err, path)
	}
	return nil
}
