#!/usr/bin/env nsh
# The namespace part of the container-internals walkthrough, step by step.
# Run it as root:  nsh scripts/01-namespaces.nsh   (nsh -x ... shows each syscall)
# It checks itself: a step that does not behave as described stops it with status 2.
# It leaves nothing behind, even when a --step demo of it is stopped early.

note "1. Every process is in one namespace of each type (ls -l /proc/self/ns)"
echo "The number is the namespace's inode: the same number means the same namespace."
ns

note "2. unshare -muipr --fork: new mnt, uts, ipc, pid and user namespaces"
unshare mnt uts ipc pid user
spawn -d --name kid sleep inf
echo "A child's namespaces against nsh's (ns @kid): five are its own, cgroup, net and time nsh's:"
ns @kid
kill @kid KILL
wait @kid
spawn sh -c 'test $$ -eq 1 && grep -q "^ *0 *[0-9]* *1$" /proc/self/uid_map && echo "inside: PID 1, and root through a one-id map"'
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
spawn sh -c 'hostname; test "$(hostname)" != foobar'
expect status 0
