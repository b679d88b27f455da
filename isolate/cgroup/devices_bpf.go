package cgroup

import (
	"fmt"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices controller: the kernel asks an eBPF program of
// type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (and to each of
// its ancestors: all must allow). As runc does on v2, nsh compiles the
// device list into such a program and attaches it to the child's unified
// cgroup, before the child exists. It is attached with BPF_F_ALLOW_MULTI
// and no link, so it stays with the cgroup, whatever happens to nsh, and
// goes when the cgroup is removed. On a hybrid host it is attached as
// well as the v1 rules are written: the kernel checks both.
//
// The program reads struct bpf_cgroup_dev_ctx (access_type: the access
// in the high 16 bits, the type in the low; major; minor) and tries the
// rules from the last to the first, as writing them one by one to
// devices.allow and devices.deny would settle: the first that matches
// decides. An allow rule matches when it covers every access asked for;
// a deny rule when it covers any. When none matches, what the ancestors
// allow stands (return 1).

const (
	devBlock   = 1 // BPF_DEVCG_DEV_BLOCK
	devChar    = 2 // BPF_DEVCG_DEV_CHAR
	accMknod   = 1 // BPF_DEVCG_ACC_MKNOD
	accRead    = 2 // BPF_DEVCG_ACC_READ
	accWrite   = 4 // BPF_DEVCG_ACC_WRITE
	accAllBits = accMknod | accRead | accWrite
)

func accessBits(a string) int32 {
	var b int32
	for _, c := range a {
		switch c {
		case 'm':
			b |= accMknod
		case 'r':
			b |= accRead
		case 'w':
			b |= accWrite
		}
	}
	return b
}

// deviceProgram compiles rules into the program's instructions.
func deviceProgram(rules []DeviceRule) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // access_type
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, 0xffff), // type
		asm.Mov.Reg32(asm.R4, asm.R2),
		asm.RSh.Imm32(asm.R4, 16),                // access
		asm.LoadMem(asm.R5, asm.R1, 4, asm.Word), // major
		asm.LoadMem(asm.R6, asm.R1, 8, asm.Word), // minor
	}
	label := func(i int) string { return "rule" + strconv.Itoa(i) }
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := "default"
		if i > 0 {
			next = label(i - 1)
		}
		var body asm.Instructions
		switch r.Type {
		case "b":
			body = append(body, asm.JNE.Imm32(asm.R3, devBlock, next))
		case "c":
			body = append(body, asm.JNE.Imm32(asm.R3, devChar, next))
		}
		if r.Major >= 0 {
			body = append(body, asm.JNE.Imm32(asm.R5, int32(r.Major), next))
		}
		if r.Minor >= 0 {
			body = append(body, asm.JNE.Imm32(asm.R6, int32(r.Minor), next))
		}
		acc := accessBits(r.Access)
		body = append(body, asm.Mov.Reg32(asm.R7, asm.R4))
		if r.Allow {
			// Every access asked for is in the rule: nothing is left.
			body = append(body,
				asm.And.Imm32(asm.R7, accAllBits&^acc),
				asm.JNE.Imm32(asm.R7, 0, next),
				asm.Mov.Imm32(asm.R0, 1),
				asm.Return())
		} else {
			body = append(body,
				asm.And.Imm32(asm.R7, acc),
				asm.JEq.Imm32(asm.R7, 0, next),
				asm.Mov.Imm32(asm.R0, 0),
				asm.Return())
		}
		body[0] = body[0].WithSymbol(label(i))
		insns = append(insns, body...)
	}
	insns = append(insns, asm.Mov.Imm32(asm.R0, 1).WithSymbol("default"), asm.Return())
	return insns
}

// attachDeviceProgram loads the program for rules and attaches it to the
// v2 cgroup dir.
func attachDeviceProgram(dir string, rules []DeviceRule, step Step) error {
	step.say("bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE: %d rules); bpf(BPF_PROG_ATTACH, %s, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)", len(rules), dir)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.CGroupDevice,
		Instructions: deviceProgram(rules),
		License:      "Apache-2.0",
	})
	if err != nil {
		return fmt.Errorf("device allowlist: load the eBPF program: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device allowlist: %w", err)
	}
	defer unix.Close(fd)
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("device allowlist: attach the eBPF program to %s: %w", dir, err)
	}
	return nil
}
