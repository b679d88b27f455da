// Package scripts holds nsh's example scripts, which are its lessons:
// built into nsh so that nsh --learn finds them wherever it runs.
package scripts

import "embed"

// FS holds every NN-name.nsh lesson.
//
//go:embed *.nsh
var FS embed.FS
