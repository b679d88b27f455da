#!/usr/bin/env python3
"""Where a VM's CPUs are when it stops answering (dev/vm.sh).

Usage: vm-probe.py MONITOR-SOCKET SECONDS

Waits SECONDS, then asks qemu's monitor whether the guest runs and for
each vCPU's instruction pointer (three samples a second apart), and
presses SysRq on the guest's keyboard: 9 (every message to the
console), l (a backtrace of every active CPU, through an NMI) and w
(blocked tasks). The kernel symbolises those
itself, on the console (Debian's System.map is a stub). A guest that
hangs with its console silent (no Go timeout, no hung-task report)
still shows here whether its CPUs idle, spin, or wait. dev/vm.sh kills
the probe when the VM ends first.
"""
import re
import socket
import sys
import time

sock, seconds = sys.argv[1], float(sys.argv[2])
time.sleep(seconds)
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.settimeout(2)


def ask(command):
    s.sendall((command + "\n").encode())
    out = b""
    try:
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    return out.decode(errors="replace")


print("== vm-probe: the VM still runs after %d s" % seconds, flush=True)
status = re.findall(r"VM status: .*", ask("info status"))
print("qemu: " + (status[-1].strip() if status else "no status"))
for n in range(3):
    regs = ask("info registers -a")
    for cpu, rip in re.findall(r"CPU#(\d+).*?RIP=([0-9a-f]+)", regs, re.S):
        print("sample %d: cpu %s at %s" % (n, cpu, rip))
    time.sleep(1)
print("SysRq 9, l and w on the guest's keyboard: the kernel's answer is in the console above", flush=True)
for key in ("9", "l", "w"):
    ask("sendkey alt-sysrq-" + key)
    time.sleep(3)
