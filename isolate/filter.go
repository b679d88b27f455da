package isolate

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate/capability"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

// SeccompFilter is the compiled filter for children of spec on this
// host; nil when there is none.
func SeccompFilter(spec *plan.Spec) (*bpf.Filter, error) {
	if spec.Seccomp.Empty() {
		return nil, nil
	}
	f, err := bpf.For(spec.Seccomp, capability.OCINames(spec.ChildBounding(HostCaps())))
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return f, nil
}

// Probe is a system call for the child stage to make instead of running
// a command.
type Probe struct {
	Name string    `json:"name"`
	Nr   int       `json:"nr"`
	Args [6]uint64 `json:"args"`
}

// ArgsText is the arguments as the probe's line shows them: hex, the
// trailing zeros left out.
func (p *Probe) ArgsText() string {
	n := 6
	for n > 0 && p.Args[n-1] == 0 {
		n--
	}
	var parts []string
	for _, a := range p.Args[:n] {
		parts = append(parts, fmt.Sprintf("%#x", a))
	}
	return strings.Join(parts, ", ")
}

// ProbeResult is what the kernel answered a probe.
type ProbeResult struct {
	// Answered: the call returned; Ret is its value (-1 with Errno).
	Answered bool
	Ret      int64
	Errno    unix.Errno
	// Blocked: the call had not returned within 2 seconds (allowed).
	Blocked bool
	// Signal ended the stage instead: SIGSYS from a filter's kill action.
	Signal unix.Signal
	// Status is the exit status when it neither answered nor was
	// signalled (a call such as exit).
	Status int
}

func (r ProbeResult) String() string {
	switch {
	case r.Answered && r.Ret == -1 && r.Errno != 0:
		return fmt.Sprintf("-1 %s (%v)", unix.ErrnoName(r.Errno), r.Errno)
	case r.Answered:
		return fmt.Sprintf("%d (allowed)", r.Ret)
	case r.Signal == unix.SIGSYS:
		return "killed by SIGSYS (the filter's kill action)"
	case r.Blocked:
		return "no answer within 2 s: the call was allowed and blocks"
	case r.Signal != 0:
		return "killed by " + unix.SignalName(r.Signal)
	}
	return fmt.Sprintf("the process exited with status %d (the call was allowed)", r.Status)
}

// SeccompStatus is what /proc/PID/status says of a process's filters.
type SeccompStatus struct {
	Mode    int // 0 disabled, 1 strict, 2 filter
	Filters int
}

// ModeName is the mode as seccomp(2) names it.
func (s SeccompStatus) ModeName() string {
	switch s.Mode {
	case 0:
		return "disabled"
	case 1:
		return "strict"
	case 2:
		return "filter"
	}
	return "unknown"
}

// ReadSeccompStatus reads the Seccomp and Seccomp_filters lines of pid.
func ReadSeccompStatus(pid int) (SeccompStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return SeccompStatus{}, err
	}
	var st SeccompStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		switch k {
		case "Seccomp":
			st.Mode = n
		case "Seccomp_filters":
			st.Filters = n
		}
	}
	return st, nil
}
