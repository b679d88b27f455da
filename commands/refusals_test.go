package commands

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"nsh/isolate"
	"nsh/plan"
)

// TestEveryRefusalNamesTheFix: each refusal a newcomer meets says what to
// do next: the nearest names, the form to use, or the fix. The fragment
// checked is the part that tells it.
func TestEveryRefusalNamesTheFix(t *testing.T) {
	for line, fix := range map[string]string{
		"spwan true":                               "did you mean spawn?",
		"Help":                                     "did you mean help?",
		"unshare ust":                              "did you mean uts?",
		"unshare":                                  "usage: unshare",
		"cap drop net_rwa":                         "did you mean net_raw?",
		"cap dorp net_raw":                         "did you mean drop?",
		"cap preset lax":                           "give docker, privileged or none",
		"cap add --set sideways net_raw":           "give one of",
		"cgroup sett memory.max 5M":                "did you mean set?",
		"cgroup set memroy.max 5M":                 "did you mean memory.max",
		"cgroup set memory.max lots":               "give bytes with an optional K, M, G or T",
		"cgroup set memory.max 0":                  "give 256K or more",
		"cgroup set cpu.max 2":                     "give 2.0 for 2 cores, or QUOTA PERIOD",
		"cgroup set memory.max":                    "usage: cgroup set KEY VALUE",
		"cgroup devices allow x 1:3":               "write it as devices.allow does",
		"cgroup show x":                            "@ID (or a PID) for a process's live values",
		"reset now":                                "takes no arguments",
		"hostname x":                               "unshare uts",
		"net veth 198.51.100.1/24 198.51.100.2/24": "`unshare net` first",
		"sysctl kernel.sysrq 1":                    "namespaced ones are net.*",
		"timens boottime soon":                     "give seconds with an optional sign and unit",
		"kill 4194305":                             "no process with pid 4194305: give a running PID, or a child's @ID (ps lists them)", // above any pid_max
		"kill @7":                                  "ps lists the children",
		"join uts /nonexistent":                    "give a namespace file (one pinned with ns pin, or /proc/PID/ns/TYPE) or a running child's @ID",
		"export":                                   "say what to do: sh, oci, docker, k8s",
		"export oci b":                             "rootfs DIR",
		"help nosuch":                              "`help` lists",
		"exit 999":                                 "give 0-255",
		"source /nonexistent/file":                 "give the path of a script",
		"map 1:x":                                  "usage: map",
		"user x":                                   "usage: user UID[:GID]",
		"seccomp deny mkdr":                        "did you mean mkdir?",
		"seccomp deny mkdir errno EACCESS":         "did you mean EACCES?",
		"seccomp deny mkdir allow":                 "use seccomp allow mkdir",
		"seccomp default sometimes":                "use errno NAME, kill, allow or log",
		"seccomp preset dockr":                     "did you mean docker?",
		"seccomp tset getpid":                      "did you mean test?",
		"seccomp test nosuchcall":                  "Tab lists them",
		"import oci":                               "usage: import oci",
		"import oci /nonexistent":                  "no such file or directory",
		"process env NOEQUALS":                     "is not KEY=VALUE",
		"process cwd relative":                     "give an absolute path",
		"process terminl on":                       "did you mean terminal?",
		"rlimit nofle 3":                           "did you mean nofile?",
		"rlimit nofile 10:5":                       "the soft limit may only go up to the hard one",
		"rlimit nofile lots":                       "give a number or unlimited",
	} {
		s, _, _, _ := newTestSession()
		err := s.RunScript("t", line)
		if err == nil {
			t.Errorf("%q was accepted", line)
			continue
		}
		msg := err.Error()
		if fix != "" && !strings.Contains(msg, fix) {
			t.Errorf("%q: %q does not say %q", line, msg, fix)
		}
		// Whatever it is, it says more than that something failed.
		if !strings.ContainsAny(msg, ":;") || len(msg) < 25 {
			t.Errorf("%q: %q names no cause or fix", line, msg)
		}
	}
}

// A hard limit above nsh's own is refused at once where the kernel would
// refuse it at spawn: nsh lacks CAP_SYS_RESOURCE.
func TestRlimitAboveOwnHard(t *testing.T) {
	if c, err := isolate.ReadCreds(os.Getpid(), false); err != nil || c.Effective&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		t.Skip("nsh holds CAP_SYS_RESOURCE here: any hard limit is allowed")
	}
	var own unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &own)
	if own.Max == plan.Unlimited {
		t.Skip("nsh's own nofile limit is unlimited")
	}
	s, _, _, _ := newTestSession()
	err := s.RunScript("t", fmt.Sprintf("rlimit nofile %d", own.Max+1))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("give at most %d", own.Max)) {
		t.Errorf("rlimit above nsh's own hard limit: %v", err)
	}
	if len(s.Spec.Rlimits) != 0 {
		t.Errorf("the refused rlimit changed the session: %v", s.Spec.Rlimits)
	}
}

// A thread's id is a pid to the kernel's /proc, but not a process nsh may
// take hold of: the refusal says so, aimed at a thread of the test's own.
func TestKillAThreadIsRefused(t *testing.T) {
	tids, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tids {
		if e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		s, _, _, _ := newTestSession()
		err := s.RunScript("t", "kill "+e.Name())
		if want := "pid " + e.Name() + " is a thread, not a process"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("kill %s: %v, want %q", e.Name(), err, want)
		}
		return
	}
	t.Skip("the test process has one thread")
}
