#!/bin/sh
# Where a one-shot's time goes, part by part, beside the Go-with-C-child
# floor's, without and with the four libraries the brief makes nsh link
# (bench/README.md has the floors): uprobes on the milestones both share (the runtime's schedinit,
# runtime.main, main.main, the call that clones) and tracepoints on the
# system calls around them (execve, clone3, exit_group), over RUNS
# alternating runs of each; it prints the median time of each milestone
# from the execve. A probe costs a trap, so the times run a little long;
# compare the two columns, not with bench/run.sh's figures. Run as root:
#   bench/phases.sh            # RUNS=40
# Needs perf (Debian: linux-perf) and tracefs (where it is not mounted,
# the script mounts it in a mount namespace of its own). It adds uprobes
# of its own (group nshphase) to the kernel's list and removes them, and
# only them, when it ends.
set -eu
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
command -v perf >/dev/null || { echo "phases.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
tr=/sys/kernel/tracing
[ -w "$tr/uprobe_events" ] || tr=/sys/kernel/debug/tracing
if [ ! -w "$tr/uprobe_events" ] && [ -z "${NSH_PHASES_OWN_MOUNTS:-}" ] && [ "$(id -u)" = 0 ] && grep -qw tracefs /proc/filesystems; then
	# tracefs is not mounted: mount it in a mount namespace of this
	# script's own, not on the host's mounts (perf would mount it there).
	NSH_PHASES_OWN_MOUNTS=1 exec unshare -m --propagation private sh -c 'mount -t tracefs nodev /sys/kernel/tracing && exec sh bench/phases.sh'
fi
[ -w "$tr/uprobe_events" ] || { echo "phases.sh: no writable uprobe_events under /sys/kernel/tracing (mount tracefs, run as root)" >&2; exit 2; }
./dev/build.sh
work=$(mktemp -d /tmp/nsh-phases.XXXXXX)
probes=""
cleanup() {
	for p in $probes; do echo "-:nshphase/$p" >> "$tr/uprobe_events" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
nsh=$PWD/bin/nsh
floor=$work/floor-cgo
floorlibs=$work/floor-cgo-libs
(. dev/toolchain.sh && go build -tags "floorcgo,$NSH_TAGS" -ldflags "$NSH_LDFLAGS" -o "$floor" ./bench/floor)
(. dev/toolchain.sh && go build -tags "floorcgo,floorlibs,$NSH_TAGS" -ldflags "$NSH_LDFLAGS" -o "$floorlibs" ./bench/floor)

# probe NAME BINARY SYMBOL: an uprobe at SYMBOL's entry (a static binary
# is loaded at its link address: the file offset is the address less the
# first segment's).
probe() {
	addr=$(go tool nm "$2" | awk -v s="$3" '$3 == s && ($2 == "T" || $2 == "t") && !a { a = $1 } END { print a }')
	[ -n "$addr" ] || { echo "phases.sh: no symbol $3 in $2" >&2; exit 1; }
	base=$(readelf -lW "$2" | awk '$1 == "LOAD" { print $3; exit }')
	echo "p:nshphase/$1 $2:$(printf '0x%x' $((0x$addr - base)))" >> "$tr/uprobe_events"
	probes="$probes $1"
}
for who in nsh floor floorlibs; do
	bin=$nsh
	clone=nsh/isolate.cloneStage
	[ $who = floor ] && { bin=$floor; clone=main.cClone; }
	[ $who = floorlibs ] && { bin=$floorlibs; clone=main.cClone; }
	probe ${who}_schedinit "$bin" runtime.schedinit
	probe ${who}_rtmain "$bin" runtime.main
	probe ${who}_main "$bin" main.main
	probe ${who}_clone "$bin" "$clone"
done
runs=${RUNS:-40}
perf record -q -a -o "$work/perf.data" -e 'nshphase:*' -e syscalls:sys_enter_execve \
	-e syscalls:sys_enter_clone3 -e syscalls:sys_enter_exit_group -- sh -c "
	i=0
	while [ \$i -lt $runs ]; do
		$floor cchild-oneshot /bin/true
		$floorlibs cchild-oneshot /bin/true
		$nsh -c 'unshare uts ipc mnt pid net cgroup; spawn /bin/true'
		i=\$((i + 1))
	done" >/dev/null 2>&1
perf script -i "$work/perf.data" -F comm,pid,tid,time,event 2>/dev/null > "$work/events.txt"
python3 - "$work/events.txt" <<'PY'
import collections, re, statistics, sys
# Per process: each event's first time, from its execve; a process is nsh's
# or the floor's by the probes it hit.
first = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    m = re.match(r'\s*(\S+)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):', line)
    if not m:
        continue
    comm, pid, tid, t, ev = m.groups()
    ev = ev.replace('syscalls:sys_enter_', '').replace('nshphase:', '')
    first[pid].setdefault(ev, float(t) * 1000)
names = ['execve', 'schedinit', 'rtmain', 'main', 'clone', 'clone3', 'exit_group']
whos = ('floor', 'floorlibs', 'nsh')
cols = {}
for who in whos:
    rows = []
    for ev in first.values():
        e = {k[len(who) + 1:]: v for k, v in ev.items() if k.startswith(who + '_')}
        e.update({k: v for k, v in ev.items() if '_' not in k or k in ('exit_group',)})
        if all(n in e for n in names):
            rows.append([e[n] - e['execve'] for n in names])
    cols[who] = [statistics.median(r[i] for r in rows) for i in range(len(names))] if rows else None
    print('%s: %d runs' % (who, len(rows)))
if not all(cols.values()):
    sys.exit('phases.sh: a milestone was missed in every run')
label = {'execve': 'execve', 'schedinit': 'Go runtime starts (schedinit)', 'rtmain': 'runtime.main',
         'main': 'main.main', 'clone': 'the clone is called', 'clone3': 'clone3', 'exit_group': 'exit_group'}
print('%-30s %7s %7s %7s   %-s' % ('ms from execve', 'floor', '+libs', 'nsh', 'nsh more than floor, +libs, in the step'))
for i, n in enumerate(names):
    f, fl, s = (cols[w][i] for w in whos)
    step = lambda w: cols[w][i] - (cols[w][i - 1] if i else 0)
    print('%-30s %7.2f %7.2f %7.2f   %+6.2f %+6.2f' % (label[n], f, fl, s, step('nsh') - step('floor'), step('nsh') - step('floorlibs')))
PY
