package commands

import (
	"errors"
	"fmt"

	"nsh/isolate/cgroup"
	"nsh/plan"
)

// remedy is the one place where a refusal the plan or the mechanism made
// in its own terms gets what to type about it: they say what is wrong,
// the language says which command fixes it. The typed error is the last
// part of the message, so the remedy follows it.
func remedy(err error) error {
	var ns *plan.NeedsNamespace
	var perm *cgroup.NoPermission
	switch {
	case errors.As(err, &ns):
		fix := fmt.Sprintf(": run `unshare %s` first", ns.NS)
		if ns.Why != "" {
			fix += " (" + ns.Why + ")"
		}
		return &remedied{err, fix}
	case errors.As(err, &perm):
		return &remedied{err, fmt.Sprintf("; run nsh as root, or cgroup parent a cgroup delegated to you (%s), or plan no limits (cgroup unset KEY)", cgroup.Delegated)}
	}
	return err
}

// remedied is an error with what to type about it.
type remedied struct {
	err error
	fix string
}

func (r *remedied) Error() string { return r.err.Error() + r.fix }
func (r *remedied) Unwrap() error { return r.err }
