#!/usr/bin/env nsh
# A tour of nsh
# help tour at nsh's prompt (or nsh --learn tour): ten minutes, one step at
# a time; you type, nsh checks what you made. The whole tour as text:
# nsh -c 'help tour'.

goal "how nsh plans a child step by step, and spawn makes it"
goal "how to look at a child from outside and step into it"
goal "how to limit a child and take its privileges away"

needs root "it makes cgroups, and namespaces without a user namespace"

note "1. The prompt shows the plan; nothing happens until spawn"
#: unshare names the namespaces every child spawned from now on gets; the
#: host's hostname never changes, only the child's uts namespace gets one.
unshare uts pid mnt
hostname foobar
show

note "2. spawn applies the plan to a new child"
#: In its own pid and mount namespaces the child is PID 1 with a fresh /proc.
spawn hostname
spawn ps

task "Start a detached child named box (spawn -d --name box sleep inf) in the plan above: new uts, pid and mnt namespaces, the hostname foobar."
hint "spawn -d --name NAME COMMAND starts a child that stays; the plan is the prompt's."
hint "If you changed the plan: reset, unshare uts pid mnt, hostname foobar, then spawn -d --name box sleep inf."
solution reset
solution unshare uts pid mnt
solution hostname foobar
solution spawn -d --name box sleep inf
check hostname @box foobar
check ns @box differs uts pid mnt

note "3. Step into it, as nsenter and docker exec do"
enter @box hostname
ns diff self @box

note "4. Limit it: cgroups (keys are cgroup v2 names on any host)"
task "Give box, while it runs, a memory limit of 64M."
hint "cgroup set KEY VALUE @ID changes a running child's cgroup files."
hint "cgroup set memory.max 64M @box"
solution cgroup set memory.max 64M @box
check cgroup @box memory.max 64M
cgroup stat @box

note "5. Take privileges away: capabilities"
task "Plan children without cap_net_raw (the prompt shows -net_raw), and start one detached."
hint "cap drop CAP takes a capability out of every set, the bounding set included."
hint "cap drop net_raw, then spawn -d sleep inf."
solution cap drop net_raw
solution spawn -d sleep inf
check cap @last bounding lacks net_raw

note "6. Where next"
#: help lists the commands by topic, help CMD explains one; explain on shows
#: each system call as it happens; nsh --learn has the walkthrough's lessons,
#: each with exercises like these.
summary "A session is a plan: unshare, hostname, cgroup set, cap drop change it, the prompt shows it, spawn makes a child of it."
summary "ps, ns, cgroup stat and enter look at a running child; cgroup set @ID changes one live."
