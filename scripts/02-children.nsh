#!/usr/bin/env nsh
# Children that keep running: nsenter, docker exec and a pinned namespace
# The second half of the walkthrough's namespace part.
# Run it as root:  nsh scripts/02-children.nsh   (nsh -x ... shows each syscall)
# Its pin lives in a scratch directory of the run's own, removed at the end.

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
