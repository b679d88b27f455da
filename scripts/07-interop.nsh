#!/usr/bin/env nsh
# Interoperability: OCI bundles, Kubernetes Pods, any process, JSON
# Other tools' containers and nsh's: a plan leaves as an OCI bundle and
# comes back from one, becomes a Kubernetes Pod, and any process can be
# looked at; every report has a form for programs (--json).
# Run it as root:  nsh scripts/07-interop.nsh   (needs busybox-static)

goal "how a plan leaves nsh as an OCI bundle that runc runs, and comes back from one"
goal "what of a plan a Kubernetes Pod can hold, and what it cannot"
goal "how nsh looks at processes it did not start, and reports for programs as JSON"

needs root "it writes bundles with root-owned roots and reads a container as root"

note "A plan leaves nsh as an OCI bundle (runc run --bundle would run it) ..."
#: The bundle goes in a scratch directory of the lesson's own (nsh's working
#: directory from now on, removed when the lesson ends).
scratch
rootfs --busybox root
unshare uts pid ipc mnt
hostname box
cap preset docker
rlimit nofile 256
seccomp preset docker
export oci bundle sh -c 'hostname; ulimit -n; grep ^Seccomp: /proc/self/status'

note "... and comes back from one: runc spec's, a real container's, or this one"
reset
import oci bundle
show
spawn
expect status 0

note "The same plan as a Kubernetes Pod: what a Pod holds, and what it cannot"
export k8s --explain --image localhost/box:1

note "Any process, not only nsh's children: the shell you started nsh from, against a child, and a tree"
reset
unshare uts pid mnt
spawn -d --name sleeper sleep 60
#: ns takes any PID (ls -l /proc/PID/ns); parent is the shell nsh was
#: started from, a process nsh did not start and you may always read.
ns diff parent @sleeper
ps --tree
echo "For programs, the same reports as JSON:"
cgroup stat @sleeper --json
kill @sleeper KILL
wait @sleeper
expect status 137
reset

task "Import the lesson's OCI bundle (bundle) and start it detached, running sleep inf instead of its own command."
hint "import oci DIR reads config.json into the plan; spawn -d COMMAND overrides the bundle's process."
hint "reset, import oci bundle, spawn -d sleep inf."
solution reset
solution import oci bundle
solution spawn -d sleep inf
check hostname @last box
check ns @last differs uts pid ipc mnt
check cap @last bounding lacks sys_admin

task "Write a bundle, web, for a plan with the hostname web and a memory limit of 64M on the busybox tree (root), then import it and start it detached with sleep inf."
hint "export oci DIR COMMAND... writes the bundle; reset, then import oci DIR, brings it back."
hint "reset, unshare uts, hostname web, cgroup set memory.max 64M, rootfs root, export oci web sleep inf, reset, import oci web, spawn -d."
solution reset
solution unshare uts
solution hostname web
solution cgroup set memory.max 64M
solution rootfs root
solution export oci web sleep inf
solution reset
solution import oci web
solution spawn -d
check hostname @last web
check cgroup @last memory.max 64M

summary "export oci writes what runc run reads: namespaces, hostname, capabilities, limits, seccomp, mounts; import oci reads it back, and refuses what it cannot honour."
summary "export k8s writes a Pod and says what a Pod cannot express."
summary "ns, ps --tree and enter take any PID as well as a child; every report has a --json form."
