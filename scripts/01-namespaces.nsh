#!/usr/bin/env nsh
# Namespaces, step by step
# The namespace part of the container-internals walkthrough.
# Run it as root:  nsh scripts/01-namespaces.nsh   (nsh -x ... shows each syscall;
# nsh --render md ... writes it as a lesson, docs/lessons/01-namespaces.md).
# It checks itself: a step that does not behave as described stops it with status 2.
# It leaves nothing behind, even when a --step demo of it is stopped early.

goal "what a namespace is, and how to tell whether two processes share one (ls -l /proc/PID/ns)"
goal "how unshare gives a child namespaces of its own: a hostname, its own pids, its own clock"
goal "why a child is PID 1 of a new pid namespace, and root in a new user namespace"

note "1. Every process is in one namespace of each type (ls -l /proc/self/ns)"
#: Each link in /proc/PID/ns names a namespace by its inode number:
#: two processes with the same number share that namespace.
ns

note "2. unshare -muipr --fork: new mnt, uts, ipc, pid and user namespaces"
#: unshare changes the plan, not nsh: every child spawned from now on gets
#: five namespaces of its own. A detached child shows them.
unshare mnt uts ipc pid user
spawn -d --name kid sleep inf
ns @kid
expect ns @kid differs mnt uts ipc pid user
expect ns @kid shares cgroup net
#: Five differ from nsh's; cgroup, net and time are still nsh's. The same,
#: drawn: grey where the child shares nsh's namespace, a colour where it has
#: one of its own.
draw ns
kill @kid KILL
wait @kid
#: Inside, the child is PID 1 of its pid namespace, and root through a user
#: namespace that maps one id: uid 0 inside is nsh's uid outside.
spawn sh -c 'echo "pid $$, uid $(id -u)"; cat /proc/self/uid_map'
expect output matches "^pid 1, uid 0\n +0 +[0-9]+ +1\n"

note "3. A hostname set in a new uts namespace stays there"
hostname foobar
spawn hostname
expect output contains foobar
#: The host's name did not change: the uts namespace holds the child's.

note "4. With new pid and mnt namespaces the child is PID 1 and /proc is fresh"
#: nsh mounts a new /proc in the child's mount namespace, so ps and ls /proc
#: show the child's own pid namespace: a handful of processes, not the host's.
spawn sh -c 'echo "my pid: $$"; echo "processes in /proc:" $(ls /proc | grep "^[0-9]")'
expect output matches "my pid: 1\nprocesses in /proc: 1( [0-9]+){0,3}\n"

note "5. A time namespace shifts CLOCK_BOOTTIME (uptime) and CLOCK_MONOTONIC"
#: cat /proc/uptime in the host's time namespace: seconds since boot.
spawn cat /proc/uptime
#: unshare -T --boottime 86400: the child's uptime is a day longer than the host's.
unshare time
timens boottime +1d
spawn cat /proc/uptime
expect output matches "^[0-9]{5,}\."

note "The whole plan, as nsh sees it"
show
reset
#: After reset, a child shares every namespace with nsh: the host's name is back.
spawn hostname
expect output not contains foobar

task "Give a child the hostname box and leave the host's as it is; keep it running (spawn -d) so nsh can look at it."
hint "A hostname belongs to a uts namespace: the child needs one of its own, or it would rename the host."
hint "unshare uts, then hostname box, then spawn -d sleep inf (not as root: unshare user uts, a user namespace of your own makes you root in it)."
solution reset
solution unshare user uts
solution hostname box
solution spawn -d sleep inf
check hostname @last box
check ns @last differs uts

task "Start a child (spawn -d) that is PID 1 of a pid namespace of its own, with a /proc that shows only its processes, and that still shares nsh's network."
hint "A fresh /proc needs a mount namespace of its own as well as a pid namespace."
hint "reset, unshare pid mnt, spawn -d sleep inf: net is shared unless you unshare it (not as root: unshare user pid mnt)."
solution reset
solution unshare user pid mnt
solution spawn -d sleep inf
check ns @last differs pid mnt
check ns @last shares net

summary "A process is in one namespace of each of eight types; /proc/PID/ns names each by its inode, and the same number means the same namespace."
summary "unshare changes nsh's plan, not nsh: each child spawned after it gets new namespaces of those types, and shares the rest with nsh."
summary "uts holds the hostname, pid the process numbers (the first child is PID 1), user the ids (root inside, an ordinary uid outside), time the boot and monotonic clocks."
