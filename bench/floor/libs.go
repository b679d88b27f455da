//go:build floorlibs

// Built with this file too (go build -tags floorcgo,floorlibs), the floor
// also links the four libraries the brief makes nsh use, as
// bench/floorlibs does for a hello: Go runs their initializers at every
// start, used or not, so this is the floor of a one-shot for nsh as the
// brief specifies it (the design's stage, and the user's libraries).
package main

import (
	_ "github.com/chzyer/readline"
	_ "github.com/google/shlex"
	_ "github.com/olekukonko/tablewriter"
	_ "golang.org/x/sys/unix"
)
