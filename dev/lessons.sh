#!/bin/sh
# Renders every scripts/*.nsh as a Markdown lesson (docs/lessons/NAME.md)
# and an asciinema recording (docs/lessons/NAME.cast), with the real output
# of this machine. As root; each script runs in pid, mount and net
# namespaces of its own, as the tests run them, so the host is untouched.
set -eu
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
./dev/build.sh
mkdir -p docs/lessons
for f in scripts/*.nsh; do
	n=$(basename "$f" .nsh)
	echo "== $f" >&2
	unshare -pfmn --mount-proc --propagation private bin/nsh --render md "$f" -o "docs/lessons/$n.md"
	unshare -pfmn --mount-proc --propagation private bin/nsh --cast "docs/lessons/$n.cast" "$f" >/dev/null
done
