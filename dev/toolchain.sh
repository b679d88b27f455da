# Sourced by dev/build.sh, dev/vm.sh, test.sh and bench/run.sh (from the
# repository root): how nsh's static binary, and the tests that stand for
# it, are built.
#
# With musl, not glibc. Every start of nsh (and of its janitor, an exec
# of nsh; the child stage was one too before issue 35 made it a clone)
# with a static glibc spends about a millisecond asking the CPU what it is (cpuid, some hundred times, for
# its string functions and cache sizes: each one traps to the hypervisor
# on a virtual machine, 6 us here); musl asks nothing. Measured on the
# development VM: a static C program that only returns takes 2.7 ms with
# glibc and 1.6 ms with musl, per fork, exec and wait (bench/README.md).
#
# libseccomp comes from Debian's libseccomp-dev, built against glibc: its
# static library needs nothing of glibc's that musl lacks but one checked
# printf, which isolate/seccomp/bpf/fortify_musl.c supplies. It is reached
# through a directory of its own: -L/usr/lib/x86_64-linux-gnu would link
# glibc's libc.a too.
#
# musl gives a thread (and so each Go M's system stack, where cgo calls
# run) 128 KiB unless the program asks for more: nsh's constructor asks
# for 2 MiB (glibc gives 8 MiB), as the process that goes on to run Go
# (isolate/stage.c): libseccomp compiles filters there. Not with
# -z stack-size: musl would then write its default at every start, one
# page's copy-on-write fault in each child stage and janitor too.
export PATH="/usr/local/go/bin:$PATH"
nsh_seccomp_a=$(find /usr/lib -name libseccomp.a 2>/dev/null | head -n 1)
nsh_libdir=$PWD/bin/.musl-lib
mkdir -p "$nsh_libdir"
ln -sf "$nsh_seccomp_a" "$nsh_libdir/libseccomp.a"
export CC=musl-gcc
export CGO_CFLAGS="-O2 -g -idirafter /usr/include -idirafter /usr/include/$(gcc -dumpmachine)"
export CGO_LDFLAGS="-L$nsh_libdir"
NSH_TAGS=netgo,osusergo
NSH_LDFLAGS='-linkmode external -extldflags "-static"'
