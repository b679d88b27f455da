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
	# Not here: the device allowlist. On v2 it is an eBPF program (nsh attaches one;
	# a shell cannot): use nsh spawn, or export oci and runc.
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
	cg_devices=$(cgpath devices)
	mkcg "$cg_devices"
	echo 'a *:* rwm' > "$cg_devices/devices.deny"
	echo 'c *:* m' > "$cg_devices/devices.allow"
	echo 'b *:* m' > "$cg_devices/devices.allow"
	echo 'c 1:3 rwm' > "$cg_devices/devices.allow"
	echo 'c 1:8 rwm' > "$cg_devices/devices.allow"
	echo 'c 1:7 rwm' > "$cg_devices/devices.allow"
	echo 'c 5:0 rwm' > "$cg_devices/devices.allow"
	echo 'c 1:5 rwm' > "$cg_devices/devices.allow"
	echo 'c 1:9 rwm' > "$cg_devices/devices.allow"
	echo 'c 136:* rwm' > "$cg_devices/devices.allow"
	echo 'c 5:2 rwm' > "$cg_devices/devices.allow"
	echo 'c 10:200 rwm' > "$cg_devices/devices.allow"
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
