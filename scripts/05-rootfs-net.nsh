#!/usr/bin/env nsh
# A root filesystem and a network of the container's own
# The walkthrough's next chapter. Run it as root:  nsh scripts/05-rootfs-net.nsh
# Needs busybox-static (apt-get install busybox-static). The veth's host end
# lives while its child does, with addresses from 198.51.100.0/24 (TEST-NET-2, documentation).

goal "how pivot_root gives a child a root filesystem of its own, and how to mount into it"
goal "what runc's device allowlist and its masked and read-only paths protect"
goal "how a network namespace starts empty, and how a veth pair connects it to the host"

needs root "it pivots into a root filesystem, makes device nodes and a veth pair"

note "18a. A root filesystem of its own: pivot_root into a busybox tree"
#: The lesson's files (the tree, some data) go in a scratch directory of its
#: own, nsh's working directory from now on and removed when it ends.
scratch
spawn sh -c 'mkdir data && echo from-the-host > data/hello'
rootfs --busybox root
unshare pid uts
hostname box
#: After pivot_root the child's / is the busybox tree: the host's files are
#: out of reach, and with a pid namespace ps shows only the child's processes.
spawn sh -c 'echo "/ holds:" $(ls /); echo "my pid: $$"; ps'
expect output matches "/ holds: bin dev etc .*proc.*\nmy pid: 1\n"
spawn ls -l /dev
expect output contains null

note "A rootfs brings runc's device allowlist: mknod works, opening the host's disk does not"
cgroup devices
spawn sh -c 'mknod /tmp/disk b 8 0 && ls -l /tmp/disk && head -c 1 /tmp/disk'
expect status nonzero
expect output matches "(?m)^brw.* 8, +0 .*/tmp/disk\n.*Operation not permitted"

note "runc's masked and read-only paths: the kernel's keys hidden, its sysctls read-only"
#: A root child in a rootfs still reads /proc/keys and writes /proc/sys
#: (where kernel.core_pattern is a classic way out). runc, Docker and podman
#: hide the one and make the other read-only; so does nsh with mask and readonly.
mask runc
readonly runc
spawn sh -c 'echo "/proc/keys: $(wc -c < /proc/keys) bytes"; echo 300 > /proc/sys/kernel/ns_last_pid'
expect output matches "/proc/keys: 0 bytes\n.*Read-only file system"
mask off
readonly off

note "A read-only root, a read-only bind mount and a private tmpfs"
rootfs root ro
mount bind data /data ro
mount tmpfs /scratch size=1m
mount
spawn sh -c 'cat /data/hello; touch /x; touch /data/y; touch /scratch/z && echo "/scratch is writable"'
expect output matches "from-the-host\n.*/x.*Read-only file system\n.*/data/y.*Read-only file system\n/scratch is writable"

note "18b. A network of its own: loopback, and a veth pair to the host"
unshare net
net up lo
net veth 198.51.100.201/30 198.51.100.202/30
spawn ip -4 addr show eth0
expect output contains 198.51.100.202/30
spawn ping -c1 -W2 198.51.100.201
expect status 0
expect output contains "1 packets received"
show
reset

task "Make the lesson's busybox tree (root) a read-only root for children, and show that a child cannot create /x in it."
hint "rootfs DIR ro plans a read-only root; the next child's touch /x fails."
hint "reset, rootfs root ro, spawn touch /x."
solution reset
solution rootfs root ro
solution spawn touch /x
check status nonzero
check output contains "Read-only file system"

task "Start a detached child in a network namespace of its own whose loopback is up, after showing its lo with ip link show lo."
hint "unshare net gives an empty network namespace: lo is there, but down; net up lo brings it up."
hint "reset, unshare net, net up lo, spawn ip link show lo, spawn -d sleep inf."
solution reset
solution unshare net
solution net up lo
solution spawn ip link show lo
solution spawn -d sleep inf
check output contains LOOPBACK,UP
check ns @last differs net

summary "rootfs pivots a child into a directory of its own: /proc, /dev and the mounts you plan are made inside it."
summary "With a rootfs, runc's allowlist lets a child make device nodes but not open the host's disks, and hides or freezes the kernel's files in /proc."
summary "A new network namespace has only a loopback, down; net up lo and net veth give it a network."
