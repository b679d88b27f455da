package isolate

// The parent/child protocol, all of it.
//
// Launch re-executes /proc/self/exe with _NSH_STAGE=init in the environment
// and one end of a socketpair as fd 3. The new process is born inside the
// new namespaces (clone flags), with its id maps already written by the
// parent, so everything left to do happens in a single-process world.
//
//	parent -> child   one JSON line: the Spec.
//	child  -> parent  JSON lines, each one message:
//	                  {"step": "sethostname(\"foobar\")"}   about to do this
//	                  {"error": "...", "errno": N, "exec": P} setup failed;
//	                                                          the child exits
//	                  {"pid": N}  only when namespaces are joined (setns.c):
//	                              sent before the spec, which the parent
//	                              sends only after it; N runs the command
//	                  (end of file)                           execve succeeded:
//	                                                          fd 3 is close-on-exec
//
// The parent reads until end of file, so Launch returns only once the
// command is running or has failed with a reason, never on a silent exit.

const (
	stageEnv   = "_NSH_STAGE"
	stageInit  = "init"
	stageFD    = 3
	stageName  = "nsh:[init]"
	maxMessage = 1 << 20
)

// message is one line from the child stage.
type message struct {
	Step  string `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
	Errno int    `json:"errno,omitempty"`
	// Exec is the path whose execve failed, when that was the failure.
	Exec string `json:"exec,omitempty"`
	// Pid is the process that will run the command, sent by the setns
	// constructor (setns.c) before the spec is read.
	Pid int `json:"pid,omitempty"`
}
