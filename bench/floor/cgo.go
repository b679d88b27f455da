//go:build floorcgo

// The shape of nsh's constructor (isolate/stage.c): C that runs before
// the Go runtime and returns when no stage is asked for. Linking it makes
// this floor pay what the design's cgo start costs (glibc, static).

package main

// #include <stdlib.h>
// __attribute__((constructor)) static void floor_stage(void) { if (getenv("_FLOOR_STAGE")) exit(0); }
import "C"
