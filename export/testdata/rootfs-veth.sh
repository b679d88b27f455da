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

# Note: with a rootfs, the user and capabilities need util-linux's setpriv inside it (busybox's cannot set the bounding set); the script stops if it is missing
# 2. What nsh's child stage does inside the new namespaces before the command
#    ("$@") runs:
inner=$(cat <<'NSH_INNER'
read _ < "$NSH_FIFO"
hostname box
ip link set lo up
echo '0 0' > /proc/sys/net/ipv4/ping_group_range
mount --bind /srv/root /srv/root
if [ -d /srv/root/proc ]; then mount -t proc proc /srv/root/proc; fi
if [ -d /srv/root/dev ]; then mount -t tmpfs -o mode=755,size=65536k,nosuid tmpfs /srv/root/dev
  for n in null zero full random urandom tty; do touch /srv/root/dev/$n; mount --bind /dev/$n /srv/root/dev/$n; done
  mkdir /srv/root/dev/pts /srv/root/dev/shm; mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /srv/root/dev/pts
  ln -s pts/ptmx /srv/root/dev/ptmx; mount -t tmpfs -o mode=1777,nosuid,nodev,noexec shm /srv/root/dev/shm; fi
mkdir -p /srv/root/scratch
mount -t tmpfs -o nosuid,nodev,size=1m tmpfs /srv/root/scratch
mount -o remount,bind,ro /srv/root
cd /srv/root && pivot_root . . && umount -l . && cd /
setpriv --help 2>&1 | grep -q -e --bounding-set || { echo "this rootfs has no util-linux setpriv to apply the user and capabilities: use nsh spawn" >&2; exit 126; }
exec setpriv --reuid=1000 --regid=1000 --clear-groups --bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --inh-caps=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --ambient-caps=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --no-new-privs -- "$@"
NSH_INNER
)

# 3. New namespaces (unshare) with the inner script in them; it moves itself
#    into the cgroups first, so everything it starts is in them.
fifo=$(mktemp -u /tmp/nsh-export.XXXXXX)
mkfifo "$fifo"
# The child waits on $fifo until its network is ready.
NSH_FIFO=$fifo NSH_CGDIRS=$movedirs sh -c 'for d in $NSH_CGDIRS; do echo $$ > "$d/cgroup.procs"; done; exec "$@"' sh unshare --ipc --mount --net --pid --fork --user --uts --map-root-user sh -c "$inner" sh "$@" <&0 &
child=$!
# Should this script stop early, the waiting child must not wait forever.
trap 'kill "$child" 2>/dev/null || true; rm -f "$fifo"; cleanup 2>/dev/null || true' EXIT
# unshare makes the new net namespace first; wait for it before moving a link in.
while [ "$(readlink /proc/$child/ns/net 2>/dev/null)" = "$(readlink /proc/$$/ns/net)" ]; do sleep 0.01; done

# 4. A veth pair: one end moves into the child's net namespace.
ip link add nshx$$v0 type veth peer name nshx$$v0p
ip link set nshx$$v0p netns "$child"
ip addr add 198.51.100.1/24 dev nshx$$v0
ip link set nshx$$v0 up
nsenter --net -t "$child" sh -c "ip link set nshx$$v0p name eth0 && ip addr add 198.51.100.2/24 dev eth0 && ip link set eth0 up"
vethdel="${vethdel:-} nshx$$v0"
echo go > "$fifo"; rm -f "$fifo"
status=0; wait "$child" || status=$?
for l in ${vethdel:-}; do ip link del "$l" 2>/dev/null || true; done
exit "$status"
