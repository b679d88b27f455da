#!/bin/sh
# Installs what building and testing nsh needs on a Debian machine, as root.
# Idempotent: it asks apt only for what is missing.
set -eu

missing=""
need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
export PATH="/usr/local/go/bin:$PATH"
need go golang-go        # go.mod's toolchain line fetches a newer Go through the module proxy
need tmux tmux           # the end-to-end REPL test drives nsh in a real terminal
need unshare util-linux  # unshare, setpriv: the reference tools the tests compare with
need awk mawk
need paste coreutils
need gcc gcc             # cgo: the constructor that joins namespaces before Go starts
need musl-gcc musl-tools # nsh is linked with musl (dev/toolchain.sh)
need ping iputils-ping   # the walkthrough's ping, copied into test folders
need capsh libcap2-bin   # capsh --decode and getcap, to compare cap decode and cap file with
need perl perl-base      # a fork storm that survives failed forks, for pids.max
need busybox busybox-static  # rootfs --busybox
need ip iproute2         # the network tests look at links and addresses
need runc runc           # export oci bundles are run with runc in the tests
need crun crun           # and with crun, which is stricter about what a config may say
need podman podman       # export k8s manifests are run with podman kube play in the tests
need jq jq               # the --json tests check each document with jq -e
need asciinema asciinema  # rendered casts are checked with asciinema cat
need pkg-config pkg-config  # cgo finds libseccomp through it
need strace strace           # enter refuses a process another tracer holds (enter_seccomp)
need setcap libcap2-bin      # a file capability survives commit and rootfs --image (image_commit)
need curl curl               # pair.txtar asks the pair page for its files, with and without a token
need chromium chromium       # pictures (draw -o FILE.svg) are tested as a browser shows them
# libseccomp compiles seccomp filters (isolate/seccomp/bpf), linked statically.
[ -f /usr/include/seccomp.h ] && [ -f /usr/lib/x86_64-linux-gnu/libseccomp.a -o -n "$(find /usr/lib -name libseccomp.a 2>/dev/null | head -n 1)" ] || missing="$missing libseccomp-dev"

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "dev/deps.sh: missing packages:$missing; run as root to install them" >&2
		exit 1
	fi
	echo "dev/deps.sh: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
fi
