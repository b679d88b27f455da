#!/bin/sh
# Builds nsh and runs an example script (default: the namespace walkthrough).
set -eu
cd "$(dirname "$0")"
. ./dev/deps.sh
export PATH="/usr/local/go/bin:$PATH"
./dev/build.sh
[ $# -gt 0 ] || set -- scripts/01-namespaces.nsh
exec bin/nsh "$@"
