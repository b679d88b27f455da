package commands

import (
	"reflect"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"unshare uts pid; hostname foo", "a 'b c' \"d\\\"e\" # comment", "x \\\ny", "'open", "a;;b", "\\", "# only",
		"spawn sh -c 'echo $$'", "cgroup set memory.max 100M @1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Parse(src)
		if err != nil {
			return
		}
		for _, st := range stmts {
			if len(st.Words) == 0 || st.Line < 1 {
				t.Fatalf("Parse(%q) gave an empty or unplaced statement: %+v", src, st)
			}
			// Quote must read back as the same words.
			var q []string
			for _, w := range st.Words {
				q = append(q, Quote(w))
			}
			back, err := Parse(strings.Join(q, " "))
			if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0].Words, st.Words) {
				t.Fatalf("Quote round trip of %q: %v, %v", st.Words, back, err)
			}
		}
	})
}

// safeToFuzz says whether a command only reads the host: the fuzzer must
// not spawn, write files, mount or signal anything.
func safeToFuzz(words []string) bool {
	switch words[0] {
	case "unshare", "share", "hostname", "map", "timens", "user", "nonewprivs", "sysctl", "net",
		"mount", "join", "reset", "show", "explain", "echo", "note", "expect", "help", "cgroup":
		return !(words[0] == "cgroup" && len(words) > 1 && (words[1] == "procs" || words[1] == "stat" || words[1] == "files" || words[1] == "ls"))
	case "cap":
		return len(words) < 2 || (words[1] != "file" && words[1] != "show")
	case "rootfs":
		return len(words) < 2 || words[1] != "--busybox"
	case "seccomp":
		return len(words) < 2 || words[1] != "test"
	case "rlimit", "process", "import":
		return true
	}
	return false
}

// FuzzSession applies any sequence of commands to a session: no panic,
// and a command that is refused leaves the session as it was.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"unshare uts pid mnt; hostname box; cgroup set memory.max 100M; cap drop net_raw",
		"unshare user; map 1000:100; timens boottime +1d",
		"share uts; hostname x; unshare all; share all",
		"cgroup set cpu.max 0.5; cgroup set pids.max 0; cgroup unset cpu.max",
		"cap preset docker; cap add --set ambient net_raw; user 1000; nonewprivs on",
		"unshare net; net veth 198.51.100.1/24 198.51.100.2/24; sysctl net.ipv4.ip_forward 1; share net",
		"mount tmpfs /tmp; unshare mnt; mount tmpfs /tmp size=1m; mount rm /tmp",
		"join uts /proc/self/ns/uts; unshare uts; rootfs /; rootfs off",
		"seccomp preset docker; seccomp deny mkdir keyctl errno EACCES; seccomp allow keyctl; seccomp default kill; seccomp preset off",
		"seccomp deny mkdr; seccomp default errno EFOO; seccomp deny mkdir allow; seccomp reset",
		"process args /bin/sh -c 'echo hi'; process env A=1 B; process cwd tmp; process terminal on; process args off; import oci /nonexistent",
		"rlimit nofile 64:128; rlimit core unlimited; rlimit nofile :256; rlimit nofle 3; rlimit nofile 10:5; rlimit stack 1:x; rlimit reset",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Parse(src)
		if err != nil {
			return
		}
		s, _, _, _ := newTestSession()
		for _, st := range stmts {
			if !safeToFuzz(st.Words) {
				continue
			}
			before := s.Spec.Clone()
			if err := s.Exec(st.Words); err != nil {
				if !reflect.DeepEqual(before, s.Spec) {
					t.Fatalf("%q was refused (%v) but changed the session:\n%+v\n%+v", st.Words, err, before, s.Spec)
				}
				continue
			}
			if err := s.Spec.Validate(); err != nil {
				t.Fatalf("%q left an invalid session: %v", st.Words, err)
			}
		}
	})
}
