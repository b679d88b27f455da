#!/usr/bin/env nsh
# Children that keep running: nsenter, docker exec and a pinned namespace
# The second half of the walkthrough's namespace part.
# Run it as root:  nsh scripts/02-children.nsh   (nsh -x ... shows each syscall)
# Its pin lives in a scratch directory of the run's own, removed at the end.

goal "how to run a command inside a running child's namespaces, as nsenter and docker exec do"
goal "how a bind mount of /proc/PID/ns/TYPE keeps a namespace alive after its last process ends"

needs root "it pins a namespace with a bind mount, and enters a child without a user namespace"

note "2. A child in new mnt, uts, ipc, pid and user namespaces, in the background (unshare -muipr --fork sh &)"
unshare mnt uts ipc pid user
hostname foobar
spawn -d --name box sh -c 'sleep 60'
ps
#: Its namespaces (ls -l /proc/PID/ns): mnt, uts, ipc, pid and user differ from nsh's.
ns diff self @box
expect ns @box differs mnt uts ipc pid user

note "3. nsenter -u -t PID hostname: step into the child's uts namespace (like docker exec)"
enter --ns uts @box hostname
expect output contains foobar
#: All of it at once (nsenter -a): the pid, user and mount namespaces too, so
#: the shell that enters is a low pid, root, in the child's /proc.
enter @box sh -c 'echo "inside: pid $$, uid $(id -u), hostname $(hostname)"'
expect output matches "^inside: pid [0-9], uid 0, hostname foobar"

note "4. A namespace outlives its last process when its file is bind-mounted (unshare --uts=FILE)"
#: The pin needs a file: scratch gives the lesson a directory of its own
#: (nsh's working directory from now on, removed when the lesson ends).
scratch
ns pin uts uts-pin @box
kill @box KILL
wait @box
#: The child is gone; the bind mount keeps its uts namespace alive.
ps
reset
spawn grep nsfs /proc/self/mountinfo
expect output contains /uts-pin
#: nsenter --uts=uts-pin hostname: a new child joins the pinned namespace.
join uts uts-pin
spawn hostname
expect output contains foobar
join uts off
ns unpin uts-pin

task "Start a detached child with the hostname web in uts and pid namespaces of its own, then run hostname inside it with enter."
hint "spawn -d keeps it running; enter @ID COMMAND runs COMMAND in its namespaces."
hint "reset, unshare uts pid, hostname web, spawn -d sleep inf, enter @last hostname."
solution reset
solution unshare uts pid
solution hostname web
solution spawn -d sleep inf
solution enter @last hostname
check hostname @last web
check ns @last differs uts pid
check output contains web

task "Keep a uts namespace with the hostname kept alive after its child ends: pin it to a file, kill the child, then start a new detached child that joins the pinned namespace."
hint "ns pin uts FILE @ID bind-mounts the namespace on FILE; join uts FILE makes new children enter it."
hint "After kill @ID KILL and wait @ID: reset, join uts FILE, spawn -d sleep inf."
solution reset
solution unshare uts
solution hostname kept
solution spawn -d --name first sleep inf
solution ns pin uts kept-uts @first
solution kill @first KILL
solution wait @first
solution reset
solution join uts kept-uts
solution spawn -d sleep inf
check hostname @last kept
check ns @last differs uts

summary "enter (nsenter, docker exec) joins a running child's namespaces: the command sees its hostname, its pids and its /proc."
summary "A namespace lives while a process is in it or a file holds it: ns pin bind-mounts it, join uses it, ns unpin lets it go."
