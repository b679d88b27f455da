#!/usr/bin/env nsh
# Seccomp and resource limits
# The two limits every container runtime adds on top of namespaces, cgroups
# and capabilities: a seccomp filter (Docker's default profile) and resource
# limits (ulimit, prlimit).
# Run it as root:  nsh scripts/06-seccomp-rlimits.nsh

goal "what a seccomp filter is, and how Docker's default profile answers system calls"
goal "how to test a call against a plan's filter, or a running child's, without writing a program"
goal "how resource limits (ulimit, prlimit) are planned and changed live"

needs root "it shapes capability sets and loads seccomp filters as runtimes do"

note "A process's filters: /proc/PID/status says Seccomp 0 (none) or 2 (filter), and how many"
seccomp show self

note "Docker's default profile: some calls closed for everyone, others opened by capability"
unshare uts pid mnt
cap preset docker
seccomp preset docker
seccomp
spawn grep ^Seccomp /proc/self/status
expect output matches "Seccomp:\s+2"
echo "keyctl is closed whatever the capabilities; unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN:"
seccomp test keyctl
seccomp test unshare 0x10000000
spawn unshare --user true
expect status nonzero

note "The same profile with every capability (docker run --privileged without the rest) opens them"
cap preset privileged
seccomp test unshare 0x10000000
spawn unshare --user true
expect status 0

note "A rule of your own on top of the preset: mkdir answers EACCES, everything else as before"
#: The children try in a scratch directory of the lesson's own (nsh's
#: working directory from now on, removed when the lesson ends).
scratch
cap preset docker
seccomp deny mkdir errno EACCES
seccomp test mkdir
spawn mkdir newdir
expect status nonzero

note "A running child keeps its filter, and what enters it gets the same one (as runc exec)"
spawn -d --name box sleep 60
seccomp show @box
enter @box mkdir newdir
expect status nonzero
kill @box KILL
wait @box
expect status 137
seccomp reset

note "Resource limits, as prlimit names them: open files, core size..."
rlimit nofile 64
rlimit core 0:unlimited
rlimit show
spawn sh -c 'ulimit -n'
expect output matches "^64\n"

note "Live: prlimit(2) on a running child, read back from its /proc/PID/limits"
spawn -d --name lim sleep 60
rlimit nofile 32 @lim
rlimit show @lim
enter @lim grep "Max open files" /proc/1/limits
expect output matches "Max open files +32 +32 "
kill @lim KILL
wait @lim
expect status 137

task "Give children a filter that refuses unshare, whatever its flags, and leaves every other call as it was."
hint "seccomp deny SYSCALL adds a rule; seccomp test SYSCALL tries it."
hint "reset, seccomp deny unshare."
solution reset
solution seccomp deny unshare
solution seccomp test unshare 0
check syscall unshare 0 refused
check syscall getpid allowed

task "Plan children that may open at most 100 files, and show it from inside with sh -c 'ulimit -n'."
hint "rlimit nofile N sets the soft and hard limit (prlimit --nofile)."
hint "reset, rlimit nofile 100, spawn sh -c 'ulimit -n'."
solution reset
solution rlimit nofile 100
solution spawn sh -c 'ulimit -n'
check output matches "^100\n"

summary "A seccomp filter answers each system call before the kernel runs it: allowed, an errno, or death by SIGSYS; children and whatever enters them inherit it."
summary "Docker's profile closes some calls for everyone and opens others only with a capability (unshare of a user namespace needs cap_sys_admin)."
summary "rlimit plans limits for children and changes a running child's with prlimit(2)."
