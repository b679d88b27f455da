// Package lessons holds the rendered lessons' casts, for the pair page,
// where a viewer replays them (nsh-pair embeds them; nsh does not).
package lessons

import "embed"

// Casts are the lessons' asciicast recordings, by file name.
//
//go:embed *.cast
var Casts embed.FS
