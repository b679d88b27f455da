#!/bin/sh
# This file was written by nsh (export sh): what nsh's spawn does, with the standard tools.
# Run it as root:  sh THIS-FILE [CMD ARG...]   (a shell when no command is given)
set -eu
[ $# -gt 0 ] || set -- /bin/sh

# 1. A cgroup of its own (cgroup-tools is often missing, so: mkdir and echo).
#    This host is cgroup hybrid; the new cgroup nests under this shell's own.
self() { awk -F: -v c="$1" '$2 == c {print $3}' /proc/self/cgroup; }
cgdirs=''; movedirs=''
cleanup() {
	for d in $cgdirs; do
		for try in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
	done
}
trap cleanup EXIT
cg_cpu="/sys/fs/cgroup/cpu$(self 'cpu')/nsh-export-$$"
mkdir "$cg_cpu"; cgdirs="$cg_cpu $cgdirs"; movedirs="$movedirs $cg_cpu"
echo '100000' > "$cg_cpu/cpu.cfs_period_us"
echo '50000' > "$cg_cpu/cpu.cfs_quota_us"
cg_cpuacct="/sys/fs/cgroup/cpuacct$(self 'cpuacct')/nsh-export-$$"
mkdir "$cg_cpuacct"; cgdirs="$cg_cpuacct $cgdirs"; movedirs="$movedirs $cg_cpuacct"
cg_freezer="/sys/fs/cgroup/freezer$(self 'freezer')/nsh-export-$$"
mkdir "$cg_freezer"; cgdirs="$cg_freezer $cgdirs"; movedirs="$movedirs $cg_freezer"
cg_memory="/sys/fs/cgroup/memory$(self 'memory')/nsh-export-$$"
mkdir "$cg_memory"; cgdirs="$cg_memory $cgdirs"; movedirs="$movedirs $cg_memory"
echo '104857600' > "$cg_memory/memory.limit_in_bytes"
cg_pids="/sys/fs/cgroup/pids$(self 'pids')/nsh-export-$$"
mkdir "$cg_pids"; cgdirs="$cg_pids $cgdirs"; movedirs="$movedirs $cg_pids"
echo '20' > "$cg_pids/pids.max"
cg_unified="/sys/fs/cgroup/unified$(self '')/nsh-export-$$"
mkdir "$cg_unified"; cgdirs="$cg_unified $cgdirs"; movedirs="$movedirs $cg_unified"

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
