package cgroup

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The program is a few dozen instructions of one shape, so nsh assembles
// it itself and loads it with bpf(2) directly: a general eBPF library
// brings the initializers of go/parser, debug/dwarf, encoding/xml and
// more into every start of nsh.
//
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

// insn is one eBPF instruction (struct bpf_insn). A jump names its
// target; assemble turns names into offsets.
type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
	label    string // this instruction's name, if a jump targets it
	target   string // a jump's target
}

// eBPF opcodes, as the kernel's uapi spells them.
const (
	bpfLdxMemW    = 0x61 // BPF_LDX | BPF_MEM | BPF_W
	bpfMov32Reg   = 0xbc // BPF_ALU | BPF_MOV | BPF_X
	bpfMov32Imm   = 0xb4 // BPF_ALU | BPF_MOV | BPF_K
	bpfAnd32Imm   = 0x54 // BPF_ALU | BPF_AND | BPF_K
	bpfRsh32Imm   = 0x74 // BPF_ALU | BPF_RSH | BPF_K
	bpfJne32Imm   = 0x56 // BPF_JMP32 | BPF_JNE | BPF_K
	bpfJeq32Imm   = 0x16 // BPF_JMP32 | BPF_JEQ | BPF_K
	bpfExit       = 0x95 // BPF_JMP | BPF_EXIT
	r0, r1, r2    = 0, 1, 2
	r3, r4, r5    = 3, 4, 5
	r6, r7        = 6, 7
	progTypeCgDev = 15 // BPF_PROG_TYPE_CGROUP_DEVICE
	attachCgDev   = 6  // BPF_CGROUP_DEVICE
)

func ldxW(dst, src uint8, off int16) insn {
	return insn{code: bpfLdxMemW, dst: dst, src: src, off: off}
}
func mov32(dst, src uint8) insn        { return insn{code: bpfMov32Reg, dst: dst, src: src} }
func movImm(dst uint8, imm int32) insn { return insn{code: bpfMov32Imm, dst: dst, imm: imm} }
func andImm(dst uint8, imm int32) insn { return insn{code: bpfAnd32Imm, dst: dst, imm: imm} }
func rshImm(dst uint8, imm int32) insn { return insn{code: bpfRsh32Imm, dst: dst, imm: imm} }
func jne(dst uint8, imm int32, to string) insn {
	return insn{code: bpfJne32Imm, dst: dst, imm: imm, target: to}
}
func jeq(dst uint8, imm int32, to string) insn {
	return insn{code: bpfJeq32Imm, dst: dst, imm: imm, target: to}
}
func exit() insn { return insn{code: bpfExit} }

// deviceProgram compiles rules into the program's instructions.
func deviceProgram(rules []DeviceRule) []insn {
	insns := []insn{
		ldxW(r2, r1, 0), // access_type
		mov32(r3, r2),
		andImm(r3, 0xffff), // type
		mov32(r4, r2),
		rshImm(r4, 16),  // access
		ldxW(r5, r1, 4), // major
		ldxW(r6, r1, 8), // minor
	}
	label := func(i int) string { return fmt.Sprintf("rule%d", i) }
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := "default"
		if i > 0 {
			next = label(i - 1)
		}
		var body []insn
		switch r.Type {
		case "b":
			body = append(body, jne(r3, devBlock, next))
		case "c":
			body = append(body, jne(r3, devChar, next))
		}
		if r.Major >= 0 {
			body = append(body, jne(r5, int32(r.Major), next))
		}
		if r.Minor >= 0 {
			body = append(body, jne(r6, int32(r.Minor), next))
		}
		acc := accessBits(r.Access)
		body = append(body, mov32(r7, r4))
		if r.Allow {
			// Every access asked for is in the rule: nothing is left.
			body = append(body, andImm(r7, accAllBits&^acc), jne(r7, 0, next), movImm(r0, 1), exit())
		} else {
			body = append(body, andImm(r7, acc), jeq(r7, 0, next), movImm(r0, 0), exit())
		}
		body[0].label = label(i)
		insns = append(insns, body...)
	}
	def := movImm(r0, 1)
	def.label = "default"
	return append(insns, def, exit())
}

// assemble encodes the instructions as the kernel takes them, each
// jump's offset counted from the instruction after it.
func assemble(insns []insn) ([]byte, error) {
	at := map[string]int{}
	for i, in := range insns {
		if in.label != "" {
			at[in.label] = i
		}
	}
	out := make([]byte, 0, 8*len(insns))
	for i, in := range insns {
		off := in.off
		if in.target != "" {
			t, ok := at[in.target]
			if !ok {
				return nil, fmt.Errorf("jump to unknown label %q", in.target)
			}
			off = int16(t - i - 1)
		}
		out = append(out, in.code, in.dst|in.src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(off))
		out = binary.LittleEndian.AppendUint32(out, uint32(in.imm))
	}
	return out, nil
}

// attachDeviceProgram loads the program for rules and attaches it to the
// v2 cgroup dir.
func attachDeviceProgram(dir string, rules []DeviceRule, step Step) error {
	step.say("bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE: %d rules); bpf(BPF_PROG_ATTACH, %s, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)", len(rules), dir)
	code, err := assemble(deviceProgram(rules))
	if err != nil {
		return fmt.Errorf("device allowlist: %w", err)
	}
	prog, err := loadProgram(code)
	if err != nil {
		return fmt.Errorf("device allowlist: load the eBPF program: %w", err)
	}
	defer unix.Close(prog)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device allowlist: %w", err)
	}
	defer unix.Close(fd)
	// union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd,
	// attach_type, attach_flags.
	attr := struct{ target, prog, typ, flags uint32 }{uint32(fd), uint32(prog), attachCgDev, unix.BPF_F_ALLOW_MULTI}
	if _, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); e != 0 {
		return fmt.Errorf("device allowlist: attach the eBPF program to %s: %w", dir, e)
	}
	return nil
}

// loadProgram is bpf(BPF_PROG_LOAD) of a cgroup device program; when the
// verifier refuses it, its log says why.
func loadProgram(code []byte) (int, error) {
	license := []byte("Apache-2.0\x00")
	log := make([]byte, 64<<10)
	// union bpf_attr for BPF_PROG_LOAD, up to log_buf (kern_version and
	// the rest stay zero).
	attr := struct {
		progType, insnCnt  uint32
		insns, license     uint64
		logLevel, logSize  uint32
		logBuf             uint64
		kernVersion, flags uint32
	}{
		progType: progTypeCgDev, insnCnt: uint32(len(code) / 8),
		insns: uint64(uintptr(unsafe.Pointer(&code[0]))), license: uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	load := func() (uintptr, unix.Errno) {
		// The verifier gives up with EAGAIN when a signal is pending,
		// and Go's scheduler signals its threads (SIGURG) to preempt
		// them: a busy process sees it now and then. Load again, as
		// cilium/ebpf and libbpf do, for as long as a person would not
		// notice rather than a count, which a burst of signals outlasts.
		deadline := time.Now().Add(time.Second)
		for {
			fd, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
			if e != unix.EAGAIN || time.Now().After(deadline) {
				return fd, e
			}
		}
	}
	fd, e := load()
	if e == unix.EACCES || e == unix.EINVAL {
		// Again with the verifier's log, to say what it refused.
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
		fd, e = load()
		if e != 0 {
			n := 0
			for n < len(log) && log[n] != 0 {
				n++
			}
			return -1, fmt.Errorf("%w: %s", e, log[:n])
		}
	}
	// The kernel read them through addresses in attr: keep them until
	// it is done.
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}
