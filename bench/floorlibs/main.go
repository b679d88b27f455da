// Command floorlibs is the floor for `nsh --version` that the brief's
// choices set: a hello linked as nsh is (cgo, a constructor, static,
// musl) that also links the four libraries
// the brief makes nsh use (readline, shlex, x/sys/unix, tablewriter v1).
// Go runs every linked package's initializers at every start, used or
// not: what they cost, nsh cannot avoid while it links them.
package main

/*
__attribute__((constructor)) static void floorlibs_start(void) {}
*/
import "C"

import (
	"fmt"

	_ "github.com/chzyer/readline"
	_ "github.com/google/shlex"
	_ "github.com/olekukonko/tablewriter"
	_ "golang.org/x/sys/unix"
)

func main() { fmt.Println("hello") }
