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
	[ "$(bin/nsh -c 'unshare uts pid mnt; hostname static-ok; spawn hostname')" = static-ok ]
fi
go test -count=1 ./... "$@"
# Each fuzz target briefly, on top of its committed seeds (testdata/fuzz).
for target in "FuzzParse ./commands" "FuzzSession ./commands" "FuzzParse ./isolate/cgroup" \
	"FuzzParseText ./isolate/capability" "FuzzParseList ./isolate/capability"; do
	set -- $target
	go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-4s}" "$2"
done
