#!/usr/bin/env nsh
# cgroups: a child's own cgroup, its files and its limits
# The cgroup part of the walkthrough: where cgroups live, a child's own cgroup
# and its interface files, its processes, and memory, pids and CPU limits.
# Run it as root:  nsh scripts/03-cgroups.nsh   (nsh -x ... shows every mkdir and write)
# Keys are cgroup v2 names; on a v1 or hybrid host nsh writes the v1 files.

goal "where cgroups live, as files, on a v1, v2 or hybrid host"
goal "how every child gets a cgroup of its own, and what is in it"
goal "what memory.max, pids.max and cpu.max do to a child that reaches them"

needs root "it makes cgroups and sets their limits"

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
#: Its freezer stops every process in it where it stands (docker pause);
#: thaw resumes them. A frozen child still ends with kill, and with nsh.
cgroup freeze @box
ps
cgroup thaw @box

kill @box KILL
wait @box

note "9a. memory.max: a child that needs more is killed by the OOM killer"
cgroup set memory.max 32M
show
#: tail keeps what it reads until the last ten lines are known; /dev/zero has
#: none, so it keeps everything: one process that grows past the limit.
spawn tail /dev/zero
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

task "Start a detached child that may have at most 10 processes and 50M of memory."
hint "cgroup set KEY VALUE plans a limit; every child spawned after it gets it."
hint "reset, cgroup set pids.max 10, cgroup set memory.max 50M, spawn -d sleep inf."
solution reset
solution cgroup set pids.max 10
solution cgroup set memory.max 50M
solution spawn -d sleep inf
check cgroup @last pids.max 10
check cgroup @last memory.max 50M

task "Start a detached child with pids.max 5, then raise its limit to 50 while it runs, without starting another."
hint "cgroup set KEY VALUE @ID changes a running child's cgroup file."
hint "cgroup set pids.max 50 @last."
solution reset
solution cgroup set pids.max 5
solution spawn -d sleep inf
solution cgroup set pids.max 50 @last
check cgroup @last pids.max 50

summary "cgroups are directories of files in a mounted cgroupfs; on v2 one hierarchy holds every controller, on v1 each has its own."
summary "Each child gets a cgroup of its own under nsh's, removed when it ends: cgroup files, procs and stat look at it."
summary "At memory.max the OOM killer ends the child (status 137); at pids.max fork fails; at cpu.max the child is throttled, not killed."
