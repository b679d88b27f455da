#!/bin/sh
# This file was written by nsh (export sh): what nsh's spawn does, with the standard tools.
# Run it as root:  sh THIS-FILE [CMD ARG...]   (a shell when no command is given)
set -eu
[ $# -gt 0 ] || set -- /bin/sh

# 1. A cgroup of its own (cgroup-tools is often missing, so: mkdir and echo),
#    nested under this shell's own. How this host mounts cgroups is found now:
#    one unified hierarchy (v2), or one per controller (v1; a hybrid host's
#    cgroup2 mount holds no controllers and is left alone).
cgdirs=''; movedirs=''
cleanup() {
	for d in $cgdirs; do
		for try in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
	done
}
trap cleanup EXIT
# mkcg DIR: make the cgroup DIR (once: v1 controllers may share a hierarchy).
mkcg() { case " $cgdirs " in *" $1 "*) return;; esac; mkdir "$1"; cgdirs="$1 $cgdirs"; movedirs="$movedirs $1"; }
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg="/sys/fs/cgroup$(awk -F: '$1 == 0 {print $3}' /proc/self/cgroup)/nsh-export-$$"
	mkcg "$cg"
	# v2: the parent must pass the controllers on (cgroup.subtree_control); a cgroup
	# that holds processes cannot, so run this from a cgroup of its own if that fails.
	echo '+memory +cpu +pids' > "$cg/../cgroup.subtree_control" 2>/dev/null || true
	echo '104857600' > "$cg/memory.max"
	echo '20' > "$cg/pids.max"
	echo '50000 100000' > "$cg/cpu.max"
else
	# v1: where the hierarchy of controller $1 is mounted, and this shell's cgroup in it.
	v1mount() { awk -v c="$1" '/ - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo; }
	v1self() { awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $3; exit } }' /proc/self/cgroup; }
	# cgpath C: the new cgroup's directory in controller C's hierarchy; a host
	# without that hierarchy stops the script (set -e), never a mkdir elsewhere.
	cgpath() { m=$(v1mount "$1"); [ -n "$m" ] || { echo "no cgroup v1 hierarchy has the $1 controller here" >&2; return 1; }; echo "$m$(v1self "$1")/nsh-export-$$"; }
	cg_cpu=$(cgpath cpu)
	mkcg "$cg_cpu"
	echo '100000' > "$cg_cpu/cpu.cfs_period_us"
	echo '50000' > "$cg_cpu/cpu.cfs_quota_us"
	if [ -n "$(v1mount cpuacct)" ]; then
		cg_cpuacct=$(cgpath cpuacct)
		mkcg "$cg_cpuacct"
	fi
	if [ -n "$(v1mount freezer)" ]; then
		cg_freezer=$(cgpath freezer)
		mkcg "$cg_freezer"
	fi
	cg_memory=$(cgpath memory)
	mkcg "$cg_memory"
	echo '104857600' > "$cg_memory/memory.limit_in_bytes"
	cg_pids=$(cgpath pids)
	mkcg "$cg_pids"
	echo '20' > "$cg_pids/pids.max"
fi

# 2. What nsh's child stage does inside the new namespaces before the command
#    ("$@") runs:
inner=$(cat <<'NSH_INNER'
hostname box
ip link set lo up
echo '0 0' > /proc/sys/net/ipv4/ping_group_range
mount -t tmpfs -o nosuid,nodev,size=1m tmpfs /scratch
exec setpriv --reuid=1000 --regid=1000 --clear-groups --bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --inh-caps=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --ambient-caps=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --no-new-privs -- "$@"
NSH_INNER
)

# 3. New namespaces (unshare) with the inner script in them; it moves itself
#    into the cgroups first, so everything it starts is in them.
status=0
NSH_CGDIRS=$movedirs sh -c 'for d in $NSH_CGDIRS; do echo $$ > "$d/cgroup.procs"; done; exec "$@"' sh unshare --ipc --mount --net --pid --fork --user --uts --map-root-user --mount-proc sh -c "$inner" sh "$@" || status=$?
exit "$status"
