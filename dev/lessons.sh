#!/bin/sh
# Renders every scripts/*.nsh as a Markdown lesson (docs/lessons/NAME.md,
# with its pictures NAME-N.svg) and an asciinema recording
# (docs/lessons/NAME.cast), as a student would run them: in an ordinary
# root shell (nsh is not PID 1; the machine's own network namespace) on
# Debian's kernel with pure cgroup v2, booted by dev/vm.sh on this host's
# own /usr (read-only). As root.
#
#   dev/lessons.sh           render them all again, in the VM
#   dev/lessons.sh scripts/09-watch.nsh ...
#                            render only these again, in the VM
#   dev/lessons.sh --here    render them on this machine instead, each in
#                            pid, mount and net namespaces of its own (what
#                            this machine shows, not what a student sees)
set -eu
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
mkdir -p docs/lessons
if [ "${1:-}" = --here ]; then
	./dev/build.sh
	for f in scripts/*.nsh; do
		n=$(basename "$f" .nsh)
		echo "== $f" >&2
		unshare -pfmn --mount-proc --propagation private bin/nsh --render md "$f" -o "docs/lessons/$n.md"
		unshare -pfmn --mount-proc --propagation private bin/nsh --cast "docs/lessons/$n.cast" "$f" >/dev/null
	done
	exit 0
fi
scripts=${*:-scripts/*.nsh}
out=$(mktemp -d /tmp/nsh-lessons.XXXXXX)
trap 'rm -rf "$out"' EXIT
# In the VM nsh writes in its own /tmp, then copies to /out (this host's
# $out through 9p); any failure stops it with the script's status.
VM_HOSTUSR=1 VM_OUT=$out VM_CMD='set -e; mkdir /tmp/l; cd /t
for f in '"$scripts"'; do
	n=$(basename "$f" .nsh); echo "== $f"
	nsh --render md "$f" -o "/tmp/l/$n.md"
	nsh --cast "/tmp/l/$n.cast" "$f" > /dev/null
done
cp /tmp/l/* /out/' ./dev/vm.sh v2
for f in $scripts; do
	n=$(basename "$f" .nsh)
	[ -s "$out/$n.md" ] && [ -s "$out/$n.cast" ] || { echo "dev/lessons.sh: the VM rendered no $n" >&2; exit 1; }
done
for f in $scripts; do
	n=$(basename "$f" .nsh)
	rm -f "docs/lessons/$n.md" "docs/lessons/$n.cast" "docs/lessons/$n"-[0-9]*.svg
done
cp "$out"/* docs/lessons/
echo "dev/lessons.sh: $(ls "$out" | wc -l) files in docs/lessons" >&2
