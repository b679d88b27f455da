#!/bin/sh
# Runs every test of nsh. As root (as CI does) the tests create real
# namespaces; they never change the host and check that they did not.
set -eu
cd "$(dirname "$0")"
. ./dev/deps.sh
export PATH="/usr/local/go/bin:$PATH"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet ./...
# The binary people run is the static one (dev/build.sh): build it and
# make sure its child stage works.
./dev/build.sh
if [ "$(id -u)" -eq 0 ]; then
	# Below a stand-in init, as every test runs (internal/standin).
	[ "$(unshare -pfm --mount-proc --propagation private bin/nsh -c 'unshare uts pid mnt; hostname static-ok; spawn hostname')" = static-ok ]
fi
# One package at a time: the soak test measures the cost of a spawn, and
# the kill-storm and 300-children tests of another package running beside
# it on a 2-core machine would be what it measured.
go test -p 1 -count=1 ./... "$@"
# Each fuzz target briefly, on top of its committed seeds (testdata/fuzz).
# On a loaded 2-core machine Go's fuzzing engine sometimes reports
# "context deadline exceeded" while stopping a worker, with no failing
# input: that is retried once; a real finding (a failing input written to
# testdata/fuzz) fails at once.
fuzz() {
	if out=$(go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-4s}" -parallel 1 "$2" 2>&1); then
		printf '%s\n' "$out" | tail -n 2
		return 0
	fi
	printf '%s\n' "$out"
	if printf '%s' "$out" | grep -q 'Failing input written' || ! printf '%s' "$out" | grep -q 'context deadline exceeded'; then
		return 1
	fi
	echo "(the fuzzing engine timed out stopping a worker, with no failing input: once more)"
	go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-4s}" -parallel 1 "$2"
}
fuzz FuzzParse ./commands
fuzz FuzzSession ./commands
fuzz FuzzParse ./isolate/cgroup
fuzz FuzzParseText ./isolate/capability
fuzz FuzzParseList ./isolate/capability
# The kernels and cgroup layouts users run, booted for real in qemu
# (dev/vm.sh): Debian's LTS kernel with pure cgroup v2, then with pure v1.
# This host is the third row of the matrix (hybrid, above). NSH_VM=0 skips
# it (no root, or a machine without qemu's packages reachable).
if [ "$(id -u)" -eq 0 ] && [ "${NSH_VM:-1}" != 0 ]; then
	for layout in v2 v1; do
		echo "== dev/vm.sh $layout"
		./dev/vm.sh "$layout"
	done
fi
