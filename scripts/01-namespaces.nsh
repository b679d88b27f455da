#!/usr/bin/env nsh
# The namespace part of the container-internals walkthrough, step by step.
# Run it as root:  nsh scripts/01-namespaces.nsh   (nsh -x ... shows each syscall)
# It checks itself: a step that does not behave as described stops it with status 2.

note "1. Every process is in one namespace of each type (ls -l /proc/self/ns)"
echo "The number is the namespace's inode: the same number means the same namespace."
ns
# Remember what a child sharing all of nsh's namespaces sees, to compare later.
spawn sh -c 'for n in cgroup ipc mnt net pid time user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done > /tmp/nsh-01-ns.txt; hostname > /tmp/nsh-01-hostname.txt'
expect status 0

note "2. unshare -muipr --fork: new mnt, uts, ipc, pid and user namespaces"
unshare mnt uts ipc pid user
echo "Namespaces of a child that differ from nsh's:"
spawn sh -c 'for n in cgroup ipc mnt net pid time user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done | diff /tmp/nsh-01-ns.txt - | sed -n "s/^> /  /p"'
spawn sh -c 'same=$(for n in cgroup ipc mnt net pid time user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done | diff /tmp/nsh-01-ns.txt - | sed -n "s/^> \([a-z]*\) .*/\1/p" | tr "\n" " "); test "$same" = "ipc mnt pid user uts " && echo "cgroup, net and time stay the same: the child shares them with nsh"'
expect status 0

note "3. A hostname set in a new uts namespace stays there"
hostname foobar
spawn hostname
spawn sh -c 'test "$(hostname)" = foobar'
expect status 0

note "4. With new pid and mnt namespaces the child is PID 1 and /proc is fresh"
spawn sh -c 'echo "my pid: $$"; echo "processes in /proc:" $(ls /proc | grep "^[0-9]")'
spawn sh -c 'test $$ -eq 1 && test "$(ls /proc | grep -c "^[0-9]")" -le 4'
expect status 0

note "5. A time namespace shifts CLOCK_BOOTTIME (uptime) and CLOCK_MONOTONIC"
unshare time
timens boottime +1d
spawn cat /proc/uptime
spawn sh -c 'test "$(cut -d. -f1 /proc/uptime)" -ge 86400'
expect status 0

note "The whole plan, as nsh sees it"
show
reset
echo "Back in nsh's own namespaces, the host's name is unchanged:"
spawn sh -c 'hostname; test "$(hostname)" = "$(cat /tmp/nsh-01-hostname.txt)"'
expect status 0
spawn rm -f /tmp/nsh-01-ns.txt /tmp/nsh-01-hostname.txt
