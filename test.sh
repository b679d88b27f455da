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
# The pair page's xterm.js is what the npm registry gives for the version
# web/package-lock.json pins (dev/web.sh takes it; pair's tests check the
# sums it wrote): asked again of the registry where npm is installed.
if command -v npm > /dev/null; then
	./dev/web.sh --check
fi
# The binary people run is the static one (dev/build.sh): build it and
# make sure its child stage works.
./dev/build.sh
if [ "$(id -u)" -eq 0 ]; then
	# Below a stand-in init, as every test runs (internal/standin).
	[ "$(unshare -pfm --mount-proc --propagation private bin/nsh -c 'unshare uts pid mnt; hostname static-ok; spawn hostname')" = static-ok ]
fi
# One package at a time: the soak test measures the cost of a spawn, and
# the kill-storm and 300-children tests of another package running beside
# it on a 2-core machine would be what it measured. Built as bin/nsh is
# (static, musl: dev/toolchain.sh), since the test binary stands for nsh.
(
	. dev/toolchain.sh
	go test -p 1 -count=1 -tags "$NSH_TAGS" -ldflags "$NSH_LDFLAGS" ./... "$@"
)
# Each fuzz target briefly, on top of its committed seeds (testdata/fuzz):
# the fast ones for a number of executions ("60000x", about 3 s here), the
# session ones, which spend seconds on their seeds first, for a time. On a
# loaded 2-core machine Go's fuzzing engine sometimes reports "context
# deadline exceeded" while stopping a worker after a timed run, with no
# failing input (a count ends the run without that race; it was 2 runs in 8
# of a timed one here): that is retried twice; a real finding (a failing
# input written to testdata/fuzz) fails at once.
fuzz() {
	for try in 1 2 3; do
		if out=$(go test -run '^$' -fuzz "^$1\$" -fuzztime "$3" -parallel 1 "$2" 2>&1); then
			printf '%s\n' "$out" | tail -n 2
			return 0
		fi
		printf '%s\n' "$out"
		if printf '%s' "$out" | grep -q 'Failing input written' || ! printf '%s' "$out" | grep -q 'context deadline exceeded'; then
			return 1
		fi
		echo "(the fuzzing engine timed out stopping a worker, with no failing input: again)"
	done
	return 1
}
fuzz FuzzParse ./commands "${FUZZTIME:-4s}"
fuzz FuzzSession ./commands "${FUZZTIME:-4s}"
fuzz FuzzParse ./isolate/cgroup "${FUZZCOUNT:-60000x}"
fuzz FuzzKeyName ./isolate/cgroup "${FUZZCOUNT:-60000x}"
fuzz FuzzParseText ./isolate/capability "${FUZZCOUNT:-60000x}"
fuzz FuzzParseList ./isolate/capability "${FUZZCOUNT:-5000x}"
# The kernels and cgroup layouts users run, booted for real in qemu
# (dev/vm.sh): Debian's LTS kernel with pure cgroup v2, then with pure v1.
# This host is the third row of the matrix (hybrid, above). NSH_VM=0 skips
# it (no root, or a machine without qemu's packages reachable).
if [ "$(id -u)" -eq 0 ] && [ "${NSH_VM:-1}" != 0 ]; then
	for layout in v2 v1; do
		echo "== dev/vm.sh $layout"
		./dev/vm.sh "$layout"
	done
	# The published lessons against a fresh render where they were
	# rendered (dev/lessons.sh): pure v2 on Debian's /usr, as a student's
	# root shell; a stale page fails.
	echo "== dev/vm.sh v2, the lessons as a student runs them"
	VM_HOSTUSR=1 ./dev/vm.sh v2 none TestRenderScripts
fi
