#!/usr/bin/env nsh
# cgroups: a child's own cgroup, its files and its limits
# The cgroup part of the walkthrough: where cgroups live, a child's own cgroup
# and its interface files, its processes, and memory, pids and CPU limits.
# Run it as root:  nsh scripts/03-cgroups.nsh   (nsh -x ... shows every mkdir and write)
# Keys are cgroup v2 names; on a v1 or hybrid host nsh writes the v1 files.

note "5. cgroups are files: each hierarchy is a mounted cgroupfs (mount -t cgroup2 shows them)"
cgroup ls

note "6. ls /sys/fs/cgroup: the root of the hierarchies, and what is in it"
#: On a cgroup v2 host: the root cgroup's interface files (cgroup.controllers,
#: cgroup.procs, cpu.stat, ...) and child groups such as system.slice; on a
#: v1 or hybrid host: one directory per hierarchy (cpu, memory, pids, unified).
spawn ls /sys/fs/cgroup

note "7. cgcreate: every child gets a cgroup of its own, nested under nsh's"
spawn -d --name box sleep 30
ps
echo "Its interface files (ls /sys/fs/cgroup/NAME):"
cgroup files @box

note "8. cgexec ... & cat cgroup.procs: the child's pid is in its cgroup"
cgroup procs @box
#: A process that enters the child (docker exec) joins its cgroup too:
enter @box cat /proc/self/cgroup
expect output matches "nsh-[0-9]+-[0-9]+-[0-9]+\n"

kill @box KILL
wait @box

note "9a. memory.max: a child that needs more is killed by the OOM killer"
cgroup set memory.max 32M
show
spawn sh -c 'head -c 200M /dev/zero | tail > /dev/null'
expect status 137
cgroup unset memory.max

note "9b. pids.max: a fork storm is held at the limit"
cgroup set pids.max 5
spawn sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'
expect status nonzero
cgroup unset pids.max

note "9c. cpu.max 0.2: a busy loop gets a fifth of a core"
cgroup set cpu.max 0.2
cgroup show
#: A busy loop for one second: the shell's times builtin prints, on its second
#: line, the CPU time its children had (user, then system): about a fifth.
spawn sh -c 'timeout 1 sh -c "while :; do :; done"; times'
expect output matches "\n0m0\.[0-3][0-9]*s"
#: Drawn, with a memory and a pids limit too: where the child's cgroup is in
#: each hierarchy, and its use of each limit (a busy loop held at 0.2 cores).
cgroup set memory.max 64M
cgroup set pids.max 20
spawn -d --name busy sh -c 'while :; do :; done'
spawn sleep 0.5
draw cgroup @busy
kill @busy KILL
wait @busy

reset
