#!/usr/bin/env nsh
# Watching containers: top and cgroup stat
# Watching containers use what their cgroups allow, as docker stats and
# systemd-cgtop do: memory against memory.max, CPU against cpu.max, pids
# against pids.max. Run it as root:  nsh scripts/09-watch.nsh
# (Interactively, top refreshes in place until q.)

goal "how to watch what children use against their limits, as docker stats and systemd-cgtop do"
goal "what cpu.max does to a busy loop: throttled periods and throttled time"

needs root "it makes cgroups and sets their limits"

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
#: cgroup is making the child's cgroups, clone the clone3 with its
#: namespaces (the child runs nsh's stage at once), stage what that stage
#: does up to the command's execve, command the command itself, cleanup removing
#: the cgroups again. In a script that spawns again, the next child's cgroups
#: are made while the last child runs, and its cgroup part says so.
time on
spawn true
time off

task "Start a detached busy loop (sh -c 'while :; do :; done') held to a tenth of a CPU."
hint "cgroup set cpu.max 0.1 before the spawn; top --once shows it at about 10%."
hint "reset, cgroup set cpu.max 0.1, spawn -d sh -c 'while :; do :; done'."
solution reset
solution cgroup set cpu.max 0.1
solution spawn -d sh -c 'while :; do :; done'
check cgroup @last cpu.max 0.1

task "Start a detached child in a pid namespace of its own, with 32M of memory and at most 10 processes."
hint "Two cgroup set lines and an unshare, then spawn -d."
hint "reset, unshare pid, cgroup set memory.max 32M, cgroup set pids.max 10, spawn -d sleep inf."
solution reset
solution unshare pid
solution cgroup set memory.max 32M
solution cgroup set pids.max 10
solution spawn -d sleep inf
check cgroup @last memory.max 32M
check cgroup @last pids.max 10
check ns @last differs pid

summary "top and cgroup stat read each child's cgroup files: usage against memory.max, cpu.max and pids.max."
summary "cpu.max never kills: a loop over its quota waits out each period (nr_throttled, throttled time)."
summary "time on shows what each part of a spawn costs on this host."
