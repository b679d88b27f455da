// Package ownfile marks the files nsh writes, so that nsh replaces its
// own freely and any other file only when told (-f): `export sh demo.sh`
// in the project's directory once replaced the project's demo.sh.
package ownfile

import (
	"bufio"
	"encoding/json"
	"strings"

	"golang.org/x/sys/unix"
)

// Mark is what every file nsh writes says in its first lines.
const Mark = "written by nsh"

// Written says whether the mark is in path's first two lines (the first
// may be a #! line): a # comment, or, JSON having no comments, a "//"
// member, which the parsers of the files nsh writes ignore.
func Written(path string) bool { return writtenAt(unix.AT_FDCWD, path) }

// writtenAt is Written for name in the directory dirfd.
func writtenAt(dirfd int, name string) bool {
	f, err := openRegularAt(dirfd, name, name, unix.O_NOFOLLOW)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; n < 2 && sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		// An asciicast's header is one line of JSON: {"//":"written by nsh ...;
		// a Markdown lesson says it in an HTML comment.
		if (strings.HasPrefix(line, "#") || strings.HasPrefix(line, `"//"`) || strings.HasPrefix(line, `{"//":`) || strings.HasPrefix(line, "<!--")) && strings.Contains(line, Mark) {
			return true
		}
	}
	return false
}

// JSON is v as indented JSON whose first member is the mark with note.
func JSON(v any, note string) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return nil, err
	}
	head, err := json.Marshal(Mark + " (" + note + ")")
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return append(b, '\n'), nil
	}
	out := append([]byte("{\n\t\"//\": "), head...)
	if string(b) != "{}" {
		out = append(out, ',')
	}
	return append(append(out, b[1:]...), '\n'), nil
}
