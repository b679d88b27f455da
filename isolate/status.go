package isolate

import (
	"strconv"
	"strings"

	"nsh/internal/kfile"
)

// procStatus reads /proc/PID/status into its fields ("Uid" -> "0 0 0 0"):
// nsh's one reader of that file, for credentials, capabilities, the parent
// (own.go), the signals a process catches and its pids in each namespace.
func procStatus(pid int) (map[string]string, error) {
	b, err := kfile.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// statusField is one field of /proc/PID/status, "" when there is none.
func statusField(pid int, key string) string {
	m, err := procStatus(pid)
	if err != nil {
		return ""
	}
	return m[key]
}
