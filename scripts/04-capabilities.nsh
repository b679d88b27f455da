#!/usr/bin/env nsh
# Capabilities: ping, file capabilities and the five sets
# The capability part of the walkthrough, inside namespaces nsh makes, so the
# host's ping and its net.ipv4.ping_group_range are never touched.
# Run it as root:  nsh scripts/04-capabilities.nsh   (needs ping: apt-get install iputils-ping)

goal "why ping needs cap_net_raw, and the three ways it gets it: a file capability, setuid root, or an ICMP socket a sysctl allows"
goal "the five capability sets of a process, and what happens to them across execve"
goal "how Docker's default set, --cap-drop and --privileged shape a child"

needs root "it sets file capabilities and a setuid copy of ping"

note "10-12. ping needs a raw socket; the system's ping carries the file capability cap_net_raw"
cap file get /usr/bin/ping
#: cp /usr/bin/ping ./ping: a copy loses it (getcap ./ping prints nothing).
#: The copy goes in a scratch directory of the lesson's own, nsh's working
#: directory from now on and removed when the lesson ends.
scratch
spawn cp /usr/bin/ping ping
cap file get ping
#: Step 11's copy too: chmod 4755 makes it setuid root (the original changes
#: the system's ping; the lesson changes only its own copy).
spawn sh -c 'cp /usr/bin/ping ping-suid && chmod 4755 ping-suid && ls -l ping-suid'
expect output matches "^-rwsr-xr-x"

echo "In a net namespace of its own, uid 1000, with ICMP sockets allowed to every group, the copy works:"
unshare net
net up lo
user 1000
sysctl net.ipv4.ping_group_range "0 2147483647"
spawn ./ping -c1 -W1 127.0.0.1
expect status 0
expect output contains "1 received"

note "13. sysctl net.ipv4.ping_group_range=\"1 0\" (an empty range): now it needs cap_net_raw"
sysctl net.ipv4.ping_group_range "1 0"
spawn ./ping -c1 -W1 127.0.0.1
expect status nonzero

note "11. chmod 4755 ./ping-suid: setuid root, so any user can ping without a capability of their own"
#: Still uid 1000, still the empty range: the setuid copy runs as root.
spawn ./ping-suid -c1 -W1 127.0.0.1
expect status 0
expect output contains "1 received"

note "14. setcap CAP_NET_RAW+ep ./ping: it works again"
cap file set ./ping cap_net_raw+ep
cap file get ./ping
spawn ./ping -c1 -W1 127.0.0.1
expect status 0
echo "...unless net_raw is out of the bounding set (docker --cap-drop NET_RAW):"
cap drop net_raw
spawn ./ping -c1 -W1 127.0.0.1
expect status nonzero
cap reset

note "15. The five sets of a process: permitted, inheritable, effective, ambient, bounding"
cap show self

note "16. Docker's default set, from CapEff: capsh --decode=00000000a80425fb"
cap decode 00000000a80425fb
reset
cap preset docker
spawn grep CapEff /proc/self/status
expect output contains 00000000a80425fb
#: Drawn: a child with Docker's set keeps 14 capabilities in every set but
#: inheritable and ambient, and has lost the rest from its bounding set for
#: good.
spawn -d --name docker-like sleep 30
draw caps @docker-like
kill @docker-like KILL
wait @docker-like

note "17. docker run --privileged: every capability nsh itself holds"
#: All of the kernel's on a host whose root holds them all; where nsh's own
#: bounding set lacks one, a child cannot get it either (nsh says which).
cap preset privileged
spawn grep CapEff /proc/self/status
#: In a user namespace of its own a child holds every one of the kernel's,
#: over what that namespace owns:
unshare user
spawn grep CapEff /proc/self/status
expect output matches "CapEff:\t0*1f+\n"
reset

task "Start a detached child as uid 1000, in a network namespace of its own, that lacks cap_net_raw even in its bounding set (docker --cap-drop NET_RAW)."
hint "user UID sets the child's uid; cap drop removes a capability from the bounding set (and so from every other)."
hint "reset, unshare net, user 1000, cap drop net_raw, spawn -d sleep inf."
solution reset
solution unshare net
solution user 1000
solution cap drop net_raw
solution spawn -d sleep inf
check uid @last 1000
check cap @last bounding lacks net_raw
check ns @last differs net

task "Start a detached root child with Docker's default capabilities, less chown."
hint "cap preset docker gives its 14; cap drop takes one away."
hint "reset, cap preset docker, cap drop chown, spawn -d sleep inf."
solution reset
solution cap preset docker
solution cap drop chown
solution spawn -d sleep inf
check cap @last bounding lacks chown sys_admin
check cap @last effective has net_bind_service kill setuid

summary "A copy of a file loses its file capabilities; setcap (cap file set) gives them back, setuid root gives everything."
summary "A process has five sets: bounding caps what it can ever gain, permitted what it may use, effective what it uses, inheritable and ambient what survives execve."
summary "Docker's default keeps 14 capabilities; --cap-drop takes one out of the bounding set for good; --privileged keeps all of them."
