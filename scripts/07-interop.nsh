#!/usr/bin/env nsh
# Interoperability: OCI bundles, Kubernetes Pods, any process, JSON
# Other tools' containers and nsh's: a plan leaves as an OCI bundle and
# comes back from one, becomes a Kubernetes Pod, and any process can be
# looked at; every report has a form for programs (--json).
# Run it as root:  nsh scripts/07-interop.nsh   (needs busybox-static)

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

note "Any process, not only nsh's children: PID 1's namespaces against nsh's, and a tree"
reset
unshare uts pid mnt
spawn -d --name sleeper sleep 60
ns 1
ps --tree
echo "For programs, the same reports as JSON:"
cgroup stat @sleeper --json
kill @sleeper KILL
wait @sleeper
expect status 137
reset
