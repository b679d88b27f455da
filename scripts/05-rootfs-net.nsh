#!/usr/bin/env nsh
# The walkthrough's next chapter: a root filesystem and a network of the
# container's own. Run it as root:  nsh scripts/05-rootfs-net.nsh
# Needs busybox-static (apt-get install busybox-static). The veth's host end
# lives while its child does, with addresses from 198.51.100.0/24 (TEST-NET-2, documentation).

spawn sh -c 'mkdir -p /tmp/nsh-05-data && echo from-the-host > /tmp/nsh-05-data/hello'

note "18a. A root filesystem of its own: pivot_root into a busybox tree"
rootfs --busybox /tmp/nsh-05-root
unshare pid uts
hostname box
spawn sh -c 'echo "/ holds:" $(ls /); echo "my pid: $$, processes: $(ps | tail -n +2 | wc -l)"'
spawn sh -c 'test $$ -eq 1 && test -x /bin/busybox && test ! -e /usr/local/go && test -c /dev/null'
expect status 0

note "A rootfs brings runc's device allowlist: mknod works, opening the host's disk does not"
cgroup devices
spawn sh -c 'mknod /tmp/disk b 8 0 && ! head -c 1 /tmp/disk 2>/dev/null && echo "the node is made, and the kernel refuses to open it"'
expect status 0

note "A read-only root, a read-only bind mount and a private tmpfs"
rootfs /tmp/nsh-05-root ro
mount bind /tmp/nsh-05-data /data ro
mount tmpfs /scratch size=1m
mount
spawn sh -c 'cat /data/hello; touch /x 2>/dev/null && echo "root writable?!"; touch /data/y 2>/dev/null && echo "bind writable?!"; touch /scratch/z && echo "tmpfs writable"'
spawn sh -c '! touch /x 2>/dev/null && ! touch /data/y 2>/dev/null && touch /scratch/z'
expect status 0

note "18b. A network of its own: loopback, and a veth pair to the host"
unshare net
net up lo
net veth 198.51.100.201/30 198.51.100.202/30
spawn sh -c 'ip -o -4 addr show eth0 2>/dev/null || ifconfig eth0; ping -c1 -W2 198.51.100.201'
expect status 0
show
reset
spawn rm -rf /tmp/nsh-05-root /tmp/nsh-05-data
