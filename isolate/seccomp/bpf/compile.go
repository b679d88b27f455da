package bpf

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"nsh/internal/near"
	"nsh/isolate/seccomp"
)

// compile follows runc's libcontainer/seccomp: the same library, the same
// skipping of calls this libseccomp does not know and of rules whose
// action is the default, and the same handling of several conditions on
// one argument (each its own rule: libseccomp cannot AND them).
func compile(cfg *specs.LinuxSeccomp) (*Filter, error) {
	def, err := scmpAction(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("libseccomp: new filter: %w", err)
	}
	defer f.Release()
	// nsh's stage sets no_new_privs itself, when the plan asks for it.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("libseccomp: %w", err)
	}
	// A binary tree of syscall numbers instead of a list: the same
	// answers, in a fraction of the instructions per call.
	if err := f.SetOptimize(2); err != nil {
		return nil, fmt.Errorf("libseccomp: optimize: %w", err)
	}
	for _, a := range cfg.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(a))
		if err != nil {
			return nil, fmt.Errorf("architecture %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return nil, fmt.Errorf("add architecture %s: %w", a, err)
		}
	}
	rules := 0
	for _, sc := range cfg.Syscalls {
		act, err := scmpAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(sc.Names, ","), err)
		}
		if act == def {
			continue
		}
		conds, separate, err := conditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(sc.Names, ","), err)
		}
		for _, name := range sc.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // not a call of any architecture this library knows
			}
			switch {
			case len(conds) == 0:
				err = f.AddRule(nr, act)
			case separate:
				for _, c := range conds {
					if err = f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				err = f.AddRuleConditional(nr, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("add rule for %s: %w", name, err)
			}
			rules++
		}
	}
	bpf, err := exportBPF(f)
	if err != nil {
		return nil, fmt.Errorf("libseccomp: export BPF: %w", err)
	}
	return &Filter{BPF: bpf, Rules: rules, Default: seccomp.ActionText(cfg.DefaultAction, cfg.DefaultErrnoRet)}, nil
}

// exportBPF reads the program through a memfd: seccomp_export_bpf_mem
// is libseccomp 2.6's, and Debian 12 has 2.5.
func exportBPF(f *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("nsh-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	file := os.NewFile(uintptr(fd), "nsh-seccomp")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, err
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(file)
}

func archName(a specs.Arch) string {
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}

func scmpAction(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	ret := int16(1) // EPERM, as runc
	if errno != nil {
		ret = int16(*errno)
	}
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("action %s is not one nsh can install", a)
}

var ops = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// conditions converts argument conditions; separate says that one
// argument is named twice, so each condition must be a rule of its own.
func conditions(args []specs.LinuxSeccompArg) (conds []libseccomp.ScmpCondition, separate bool, err error) {
	seen := map[uint]bool{}
	for _, a := range args {
		op, ok := ops[a.Op]
		if !ok {
			return nil, false, fmt.Errorf("unknown comparison %q", a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, false, fmt.Errorf("condition on argument %d: %w", a.Index, err)
		}
		if seen[a.Index] {
			separate = true
		}
		seen[a.Index] = true
		conds = append(conds, c)
	}
	return conds, separate, nil
}

var (
	namesOnce sync.Once
	native    []string
)

// Names are this machine's system calls, sorted.
func Names() []string {
	namesOnce.Do(func() {
		for nr := 0; nr < 1024; nr++ {
			if n, err := libseccomp.ScmpSyscall(nr).GetName(); err == nil && n != "" {
				native = append(native, n)
			}
		}
		sort.Strings(native)
	})
	return native
}

// Number is a call's number on this machine.
func Number(name string) (int, bool) {
	nr, err := libseccomp.GetSyscallFromName(name)
	if err != nil || nr < 0 {
		return 0, false
	}
	return int(nr), true
}

// CheckNames refuses a name libseccomp does not know for any architecture
// the filter covers, with the nearest of this machine's names.
func CheckNames(names []string) error {
	for _, n := range names {
		if _, err := libseccomp.GetSyscallFromName(n); err != nil || n != strings.ToLower(n) {
			return fmt.Errorf("unknown system call %q%s: names as in man 2 syscalls (Tab lists them)", n, near.Hint(n, Names()))
		}
	}
	return nil
}
