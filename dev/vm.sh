#!/bin/sh
# Runs nsh's tests on other kernels and cgroup layouts, booted for real in
# qemu (TCG: no KVM needed; offline: everything comes from this host's
# files and Debian's packages). As root, from anywhere:
#
#   dev/vm.sh v2 [SCRIPTS [GOTESTS]]   Debian's kernel, pure cgroup v2 (cgroup_no_v1=all)
#   dev/vm.sh v1 [SCRIPTS [GOTESTS]]   the same kernel, pure v1 (v1 controllers, no cgroup2)
#   VM_CMD='nsh -c ...' dev/vm.sh v2   a command of your own instead of the tests
#   VM_HOSTUSR=1 VM_OUT=DIR VM_CMD=... dev/vm.sh v2
#                                      the command on this host's own /usr
#                                      (read-only, through 9p: Debian's sh,
#                                      ping, ip, tar), as on a Debian machine,
#                                      writing what it makes to /out, which is
#                                      DIR here (dev/lessons.sh renders so)
#   VM_APPEND='loglevel=7 softlockup_panic=1' dev/vm.sh v1
#                                      more kernel arguments (here: a hung
#                                      kernel's backtraces on the console)
#   VM_TCG_THREAD=multi dev/vm.sh v1    one host thread per vCPU, as qemu's
#                                      default (it hangs: see below)
#
# SCRIPTS is a regular expression of script tests (testdata/script/NAME.txtar
# names), GOTESTS one of Go tests of the root package, to run inside; the
# defaults are those that concern what differs between kernels and layouts
# (VM_SCRIPTS and VM_GOTESTS below). The kernel is
# the one Debian's linux-image-amd64 depends on (6.1 on Debian 12), or
# KERNEL_PKG=linux-image-VERSION-amd64. The VM's console output is
# printed; the exit status is the tests' inside.
set -eu
cd "$(dirname "$0")/.."
layout=${1:-v2}
case "$layout" in v1 | v2) ;; *)
	echo "usage: dev/vm.sh v1|v2 [TEST-REGEX]" >&2
	exit 2
	;;
esac
. ./dev/deps.sh
for p in qemu-system-x86_64:qemu-system-x86 cpio:cpio; do
	command -v "${p%%:*}" >/dev/null 2>&1 || { apt-get install -y -qq "${p#*:}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${p#*:}" >/dev/null; }; }
done
export PATH="/usr/local/go/bin:$PATH"

# What differs between kernels and cgroup layouts: cgroup files and their
# translation, OOM and pids accounting, devices (eBPF on v2), time
# namespaces, capabilities, rootfs and overlay mounts, and the
# reliability checks (nothing left after exit, SIGKILL, many children).
VM_SCRIPTS='cgroup_v1|cgroup_freeze|attack_frozen|cgroup_v2|cgroup_v2_only|cgroup_live|cgroup_oom|cgroup_pids|cgroup_off|cgroup_errors|cgroup_devices|cgroup_ns|timens|pid|hostname|unshare|ns|cap_sets|cap_userns|rootfs|overlay|lifetime|orphans|spawn_detached|kill_wait_logs|doctor|lesson|expect|explain'
VM_GOTESTS='TestOverlayLayersKilled|TestTerminalNotControlling|TestTwoPidNamespaces'
scripts=${2:-$VM_SCRIPTS}
gotests=${3:-$VM_GOTESTS}

cache=${NSH_VM_CACHE:-/var/cache/nsh-vm}
mkdir -p "$cache"
pkg=${KERNEL_PKG:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')}
if ! ls "$cache/$pkg"/boot/vmlinuz-* >/dev/null 2>&1; then
	(cd "$cache" && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg"; }; })
	dpkg-deb -x "$cache/${pkg}"_*.deb "$cache/$pkg"
fi
kernel=$(ls "$cache/$pkg"/boot/vmlinuz-* | head -n 1)

./dev/build.sh
work=$(mktemp -d /tmp/nsh-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The tests, linked statically as nsh is: the initramfs has no libraries.
. dev/toolchain.sh
go test -c -o "$work/nsh.test" -tags "$NSH_TAGS" -ldflags "$NSH_LDFLAGS" .

ir=$work/ir
mkdir -p "$ir/bin" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/tmp" "$ir/root" "$ir/t/testdata" "$ir/new"
bb=$(command -v busybox)
cp "$bb" "$ir/bin/busybox"
for a in $("$bb" --list); do [ -e "$ir/bin/$a" ] || ln -s busybox "$ir/bin/$a"; done
cp bin/nsh bin/nsh-k8s "$work/nsh.test" "$ir/bin/"
# Debian builds overlayfs and veth as modules; the initramfs loads them.
mkdir -p "$ir/modules"
for m in fs/overlayfs/overlay.ko drivers/net/veth.ko drivers/block/brd.ko; do
	cp "$cache/$pkg"/lib/modules/*/kernel/$m "$ir/modules/"
done
# 9p over virtio, for VM_HOSTUSR and VM_OUT, in the order they load.
ninep="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p"
if [ -n "${VM_HOSTUSR:-}${VM_OUT:-}" ]; then
	for m in $ninep; do
		cp "$(find "$cache/$pkg"/lib/modules/*/kernel -name "$m.ko" | head -n 1)" "$ir/modules/"
	done
	echo "$ninep" > "$ir/ninep"
fi
cp -r testdata/script "$ir/t/testdata/"
cp -r scripts "$ir/t/"
mkdir -p "$ir/t/docs" && cp -r docs/lessons "$ir/t/docs/"

# /init copies itself into a tmpfs and switches root to it: pivot_root
# (every rootfs test) is refused while / is the initramfs itself.
cat > "$ir/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=1536m nshvm /new
for d in bin t layout scripts.regex gotests.regex cmd watchdog modules ninep hostusr; do [ -e /$d ] && cp -a /$d /new/; done
# Named init there: doctor reads PID 1's name to tell a machine from a container.
cp /init2 /new/init
mkdir -p /new/proc /new/sys /new/dev /new/tmp /new/root /new/etc /new/run
echo 'root:x:0:0:root:/root:/bin/sh' > /new/etc/passwd
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >> /new/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > /new/etc/group
umount /proc
exec switch_root /new /init
EOF
cat > "$ir/init2" <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs tmp /tmp
hostname nsh-vm
insmod /modules/overlay.ko
insmod /modules/veth.ko
# brd: a small RAM disk, a real block device for io.max.
insmod /modules/brd.ko rd_nr=1 rd_size=16384
ip link set lo up 2>/dev/null
if [ -e /ninep ]; then
	for m in $(cat /ninep); do insmod /modules/$m.ko; done
	mkdir -p /out /host
	mount -t 9p -o trans=virtio,version=9p2000.L out /out 2>/dev/null
	if [ -e /hostusr ]; then
		# The host's /usr, read-only: what runs is Debian's, as on a
		# Debian machine (merged /usr: /lib and /lib64 are in it).
		mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host
		mkdir -p /usr /lib /lib64 /etc/alternatives /run/usr
		# 9p carries no security.capability: an overlay over it takes
		# the file capabilities Debian's packages set when installed.
		mount -t tmpfs usr /run/usr && mkdir /run/usr/up /run/usr/work
		mount -t overlay -o lowerdir=/host/usr,upperdir=/run/usr/up,workdir=/run/usr/work usr /usr
		mount --bind /usr/lib /lib
		mount --bind /usr/lib64 /lib64
		mount --bind /host/etc/alternatives /etc/alternatives
		/usr/sbin/setcap cap_net_raw+ep /usr/bin/ping
		export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		hostname "$(cat /hostusr)"
		# Where the lessons are published from: the tests render them
		# as a student would and compare outputs (TestRenderScripts).
		export NSH_AS_STUDENT=1
	fi
fi
layout=$(cat /layout)
if [ "$layout" = v2 ]; then
	mount -t cgroup2 none /sys/fs/cgroup
else
	mount -t tmpfs cgroup /sys/fs/cgroup
	for c in cpu,cpuacct memory pids devices freezer blkio cpuset hugetlb net_cls,net_prio perf_event; do
		mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
	done
	ln -s cpu,cpuacct /sys/fs/cgroup/cpu
	ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct
fi
echo "== kernel $(uname -r), cgroup layout $layout"
cd /tmp
nsh -c 'cgroup ls; doctor' < /dev/null
cd /t
# A hang must name itself in the log before the VM's timeout cuts it
# off: each test run's own timeout dumps Go's goroutines; the kernel
# reports a task blocked for a minute; and the watchdog, a minute
# before VM_TIMEOUT, shows every process's state and kernel stack
# (a process that cannot exit outlives Go's timeout). The tests'
# output goes to the console as it comes, so the log ends where
# they stopped.
echo 60 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo 1 > /proc/sys/kernel/sysrq
(
	sleep "$(cat /watchdog)"
	echo "== watchdog: still running after $(cat /watchdog) s; every process (kernel threads only when not asleep):"
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' < $p/cmdline 2>/dev/null | cut -c1-120)
		st=$(grep -E '^(Name|State|PPid)' $p/status 2>/dev/null | tr -s '\t\n' '  ')
		case "$cmd,$st" in ,*'(sleeping)'* | ,*'(idle)'*) continue ;; esac
		echo "-- ${p#/proc/} $st$cmd"
		head -n 12 $p/stack 2>/dev/null
	done
	# Blocked tasks' stacks, and what the kernel said below the console's level.
	echo w > /proc/sysrq-trigger
	sleep 2
	echo "== watchdog: the kernel's log"
	dmesg | sed -n '/Run \/init as init process/,$p' | tail -n 300
	echo "VM-STATUS=124"
	poweroff -f
) &
if [ -s /cmd ]; then
	echo "== command: $(cat /cmd)"
	shell=sh
	[ -e /hostusr ] && shell=/usr/bin/sh
	(cd /tmp && $shell /cmd) < /dev/null 2>&1
	echo $? > /tmp/status
else
	echo "== script tests: $(cat /scripts.regex); Go tests: $(cat /gotests.regex)"
	CI= nsh.test -test.v -test.timeout 10m -test.run "^TestScript\$/^($(cat /scripts.regex))\$" < /dev/null 2>&1
	s1=$?
	CI= nsh.test -test.v -test.timeout 10m -test.run "^($(cat /gotests.regex))\$" < /dev/null 2>&1
	s2=$?
	[ $s1 -eq 0 ] && [ $s2 -eq 0 ]
	echo $? > /tmp/status
fi
echo "VM-STATUS=$(cat /tmp/status 2>/dev/null || echo ?)"
poweroff -f
EOF
chmod +x "$ir/init" "$ir/init2"
echo "$layout" > "$ir/layout"
printf '%s' "$scripts" > "$ir/scripts.regex"
printf '%s' "$gotests" > "$ir/gotests.regex"
printf '%s' "${VM_CMD:-}" > "$ir/cmd"
echo $((${VM_TIMEOUT:-1500} - 60)) > "$ir/watchdog"
[ -n "${VM_HOSTUSR:-}" ] && printf '%s' "${VM_HOSTNAME:-debian}" > "$ir/hostusr"
virtfs=""
[ -n "${VM_HOSTUSR:-}" ] && virtfs="$virtfs -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on"
[ -n "${VM_OUT:-}" ] && virtfs="$virtfs -virtfs local,path=$VM_OUT,mount_tag=out,security_model=none"
(cd "$ir" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# nokaslr: the addresses the probe below prints are those of
# VM_CMD='cat /proc/kallsyms' dev/vm.sh, with no slide to guess.
append="console=ttyS0 quiet panic=-1 nokaslr nsh-vm=1"
[ "$layout" = v2 ] && append="$append cgroup_no_v1=all"
append="$append ${VM_APPEND:-}"
# The whole console goes to a log; on stdout, what the kernel and nsh
# say of the host, then each test's verdict (and a failing test's lines).
log=$cache/last-$layout.log
# Both vCPUs run on one host thread (thread=single), not one thread
# each: with multi-threaded TCG, qemu 7.2 sometimes kept running its
# translation of kernel code that the other vCPU had just patched. The
# v1 freezer flips a static key (freezer_active) at each freeze and
# thaw; both vCPUs then looped on an int3 at its site in get_signal
# that memory no longer held (the kernel backs up over a removed
# breakpoint and runs the instruction again), and the guest went silent
# until its timeout: in CI, and here in 1 of 20 runs of cgroup_freeze,
# attack_frozen and cgroup_oom. dev/vm-freezer-flip.sh hangs
# multi-threaded TCG within 500 flips; one thread, which sees each write
# to code before the next block runs, took all 4000.
# Where the CPUs are if the VM still runs 30 s before its timeout (with
# python3; the watchdog inside powers off a VM that still answers).
probe=
if command -v python3 >/dev/null 2>&1; then
	python3 dev/vm-probe.py "$work/monitor" $((${VM_TIMEOUT:-1500} - 30)) > "$work/probe" 2>&1 &
	probe=$!
fi
# shellcheck disable=SC2086
timeout "${VM_TIMEOUT:-1500}" qemu-system-x86_64 -accel "tcg,thread=${VM_TCG_THREAD:-single}" -cpu max -m 2048 -smp 2 -nographic -no-reboot $virtfs \
	-monitor "unix:$work/monitor,server,nowait" \
	-kernel "$kernel" -initrd "$work/initrd.gz" -append "$append" < /dev/null 2>&1 | tr -d '\r' > "$log" || true
if [ -n "$probe" ]; then
	kill "$probe" 2>/dev/null || true
	wait "$probe" 2>/dev/null || true
	cat "$work/probe" >> "$log"
fi
# Not anchored: the line starts with the BIOS's clear-screen sequence.
# A command's own line is the next sed's first.
sed -n '/== kernel/,/^== \(script tests\|command\)/{/^== command/!p}' "$log"
[ -n "${VM_CMD:-}" ] && sed -n '/^== command/,/^\(VM-STATUS\|== watchdog\|qemu-system\)/{/^VM-STATUS/!p}' "$log"
awk '/^=== RUN/ {next} /^--- (PASS|SKIP)/ {print; next} /^--- FAIL/ {print; fail=1; next} /^    --- / {print; fail=($2=="FAIL:"); next} fail {print} /^(PASS|FAIL|ok|VM-STATUS)/ {print}' "$log"
# A hang: the kernel's reports of blocked tasks and the watchdog's picture.
grep -A 24 'blocked for more than' "$log" | head -n 200 || true
sed -n '/^== watchdog/,$p' "$log" | head -n 400
if grep -q '^== vm-probe' "$log"; then
	# Where the console stood when the guest stopped: the kernel's
	# soft-lockup and RCU-stall reports land there even when quiet.
	echo "== the console's last lines before the probe"
	sed '/sysrq: /,$d; /^== vm-probe/,$d' "$log" | grep -v '^=== \(RUN\|PAUSE\|CONT\)' | tail -n 40
	sed -n '/^== vm-probe/,$p' "$log"
	grep -A 40 'sysrq: Show \(backtrace\|Blocked\)' "$log" | head -n 300 || true
fi
echo "(the whole console: $log)"
status=$(sed -n 's/^VM-STATUS=//p' "$log" | tail -n 1)
case "$status" in
'') echo "dev/vm.sh: the VM ended without reporting a status" >&2; exit 1 ;;
*[!0-9]*) echo "dev/vm.sh: the tests' status is unknown ($status)" >&2; exit 1 ;;
esac
exit "$status"
