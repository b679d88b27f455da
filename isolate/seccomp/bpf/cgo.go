package bpf

// The package links C (fortify_musl.c): what Debian's libseccomp.a needs
// of glibc when nsh is linked with musl (dev/build.sh).

import "C"
