#!/usr/bin/env nsh
# Watching containers: top and cgroup stat
# Watching containers use what their cgroups allow, as docker stats and
# systemd-cgtop do: memory against memory.max, CPU against cpu.max, pids
# against pids.max. Run it as root:  nsh scripts/09-watch.nsh
# (Interactively, top refreshes in place until q.)

note "Three children under the same limits: half a CPU, 64M of memory, 20 processes"
unshare pid uts mnt
cgroup set cpu.max 0.5
cgroup set memory.max 64M
cgroup set pids.max 20
spawn -d --name spin sh -c 'while :; do :; done'
spawn -d --name mem sh -c 'head -c 40m /dev/zero | tail > /dev/null; sleep 100'
spawn -d --name idle sleep 100

note "docker stats --no-stream: one table, CPU over one second, bars against each limit"
top --once

note "spin is pinned at its cpu.max: 50% of a core, and the throttled time grows"
cgroup stat @spin

note "Checked from inside: a loop under cpu.max 0.5 gets about 1 s of CPU in 2 s of wall time"
#: The shell's times builtin prints its own user and system time, then, on
#: the second line, its children's: the loop's, once timeout has ended it.
spawn sh -c 'timeout 2 sh -c "while :; do :; done"; times'
expect output matches "\n0m(0\.[89]|1\.[0-2])[0-9]*s"


note "Off a terminal, top prints a line per child each second until none runs"
kill @spin KILL
kill @mem KILL
spawn -d --name short sleep 1.5
kill @idle KILL
top

note "What isolation costs on this host: each part of a spawn (time on, or spawn --time)"
#: cgroup is making the child's cgroups, clone+exec the clone with its
#: namespaces and the exec of nsh's child stage, stage what that stage does
#: up to the command's execve, command the command itself, cleanup removing
#: the cgroups again. In a script that spawns again, the next child's cgroups
#: are made while the last child runs, and its cgroup part says so.
time on
spawn true
time off
