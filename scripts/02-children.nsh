#!/usr/bin/env nsh
# The second half of the walkthrough's namespace part: children that keep
# running, stepping into them (nsenter, docker exec) and pinning a namespace.
# Run it as root:  nsh scripts/02-children.nsh   (nsh -x ... shows each syscall)
# It pins on /tmp/nsh-02-uts and removes the pin before it ends.

note "2. A child in new mnt, uts, ipc, pid and user namespaces, in the background (unshare -muipr --fork sh &)"
unshare mnt uts ipc pid user
hostname foobar
spawn -d --name box sh -c 'sleep 60'
ps
echo "Its namespaces (ls -l /proc/PID/ns): mnt, uts, ipc, pid and user differ from nsh's"
ns @box
ns diff self @box

note "3. nsenter -u -t PID hostname: step into the child's uts namespace (like docker exec)"
enter --ns uts @box hostname
enter --ns uts @box sh -c 'test "$(hostname)" = foobar'
expect status 0
echo "All of it at once (nsenter -a): pid, user and mount namespaces too"
enter @box sh -c 'echo "inside: pid $$, uid $(id -u), hostname $(hostname)"'
enter @box sh -c 'test $$ -lt 20 && test "$(id -u)" = 0'
expect status 0

note "4. A namespace outlives its last process when its file is bind-mounted (unshare --uts=FILE)"
ns pin uts /tmp/nsh-02-uts @box
kill @box KILL
wait @box
echo "The child is gone; the mount keeps its uts namespace alive:"
ps
reset
spawn sh -c 'grep nsfs /proc/self/mountinfo | grep -q /tmp/nsh-02-uts && echo "mount shows: nsfs on /tmp/nsh-02-uts"'
expect status 0
echo "nsenter --uts=/tmp/nsh-02-uts hostname:"
join uts /tmp/nsh-02-uts
spawn hostname
spawn sh -c 'test "$(hostname)" = foobar'
expect status 0
join uts off
ns
ns unpin /tmp/nsh-02-uts
