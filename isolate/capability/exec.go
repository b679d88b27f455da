package capability

import (
	"errors"
	"fmt"
	"strings"
)

// Sets are a process's five capability sets.
type Sets struct {
	Bounding, Permitted, Effective, Inheritable, Ambient uint64
}

// AfterExec is what execve makes of a process's sets, by the rules of
// capabilities(7) as the kernel applies them (security/commoncap.c,
// cap_bprm_creds_from_file), for a program without setuid bits:
//
//	root (uid 0): the program counts as having every file capability:
//	              P' = bounding | inheritable (as Linux does for root)
//	file caps F:  P' = (P.inheritable & F.inheritable) | (F.permitted & bounding)
//	ambient:      A' = A, cleared when the file has capabilities
//	              P' |= A'
//	no_new_privs: P' never exceeds what P was
//	effective:    E' = P' if root or F.effective, else A'
//	bounding and inheritable are kept.
//
// A program whose file capabilities carry the effective bit is refused
// (EPERM) when P' would lack one of them: it could not run as it expects.
// file is nil for a program with no file capabilities.
func AfterExec(s Sets, uid int, file *FileCaps, noNewPrivs bool) (Sets, error) {
	out := Sets{Bounding: s.Bounding, Inheritable: s.Inheritable, Ambient: s.Ambient}
	effective := false
	if file != nil {
		out.Permitted = (s.Inheritable & file.Inheritable) | (file.Permitted & s.Bounding)
		effective = file.Effective
		if effective && file.Permitted&^out.Permitted != 0 {
			return Sets{}, fmt.Errorf("%w: its file capabilities %s are not all in the bounding set or inheritable", ErrExecRefused, strings.Join(Names(file.Permitted&^out.Permitted), ","))
		}
	}
	if uid == 0 {
		out.Permitted = s.Bounding | s.Inheritable
		effective = true
	}
	if noNewPrivs && out.Permitted&^s.Permitted != 0 {
		out.Permitted &= s.Permitted
	}
	if file != nil {
		out.Ambient = 0
	}
	out.Permitted |= out.Ambient
	if effective {
		out.Effective = out.Permitted
	} else {
		out.Effective = out.Ambient
	}
	return out, nil
}

// ErrExecRefused says the kernel refuses to run the program (EPERM).
var ErrExecRefused = errors.New("execve is refused (EPERM)")
