package isolate

// The parent/child protocol, all of it.
//
// Launch clone3s the child stage (clone.h) with one end of a socketpair as
// fd 3. The new process is born inside the new namespaces (clone flags) and
// runs the stage's C at once, no Go; the parent writes its id maps before
// it sends the program.
//
//	parent -> child   one byte, in a new user namespace only, once the
//	                  child's id maps are written: the stage waits for it
//	                  before it joins anything or makes itself
//	                  non-dumpable (clone.h)
//	child  -> parent  {"here": true}  when namespaces are joined (before
//	                              the program) or behind a guard relay
//	                              (after it): its sender runs the command
//	                              (the stage itself, or the child a relay
//	                              forked)
//	parent -> child   the program (plan.go): a length, an explain flag and
//	                  the steps, each a system call with its arguments;
//	                  written before the clone3 when nothing above or in
//	                  between comes first (launch.sendAhead), so the
//	                  stage reads it at once, else after
//	child  -> parent  JSON lines, each one message:
//	                  {"op": N}                   about to do step N (explain)
//	                  {"op": N, "exec": PATH}     about to execve PATH (explain;
//	                                              it waits for one byte
//	                                              from the parent, sent
//	                                              once the step is shown)
//	                  {"op": N, "errno": E}       step N failed; the child exits
//	                  {"op": N, "errno": E, "exec": NAME}  the command could
//	                                              not be executed
//	                  {"error": "...", "errno": E} the stage itself failed
//	                  {"step": "..."}             a joining step (explain)
//	                  {"probe": true, "ret": R, "perr": E}  what a probe's
//	                                              system call returned
//	                  {"probe": true, "blocked": true}  it had not in 2 s
//	                  (end of file)               execve succeeded: fd 3 is
//	                                              close-on-exec
//
// No message carries a pid. A pid is a number of one pid namespace, and
// the stage may live in another (getpid() is 1 in a new one); the parent
// sets SO_PASSCRED on its end, so every line comes with its sender's pid
// as the kernel translates it into nsh's pid namespace (SCM_CREDENTIALS),
// and a line from a process that is not the stage or its relay's own
// child is refused (own.go).
//
// The parent reads until end of file, so Launch returns only once the
// command is running or has failed with a reason, never on a silent exit.

const (
	stageEnv   = "_NSH_STAGE"
	stageFD    = 3
	maxMessage = 1 << 20
)

// message is one line from the child stage.
type message struct {
	Step  string `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
	Errno int    `json:"errno,omitempty"`
	// Exec is the path whose execve failed, when that was the failure.
	Exec string `json:"exec,omitempty"`
	// Here says that the sender runs the command: sent by the stage
	// (stage.c) after it joined namespaces, before it reads the program.
	Here bool `json:"here,omitempty"`
	// Op is the program step a message is about, 1-based.
	Op int `json:"op,omitempty"`
	// Probe carries a probe's answer: Ret, and Perr when it is -1.
	Probe bool  `json:"probe,omitempty"`
	Ret   int64 `json:"ret,omitempty"`
	Perr  int   `json:"perr,omitempty"`
	// Blocked: the probe's call had not returned after 2 seconds.
	Blocked bool `json:"blocked,omitempty"`
}
