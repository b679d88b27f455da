package commands

import (
	"fmt"
	"strings"

	"nsh/plan"
)

func init() {
	later("sysctl", func() {
		register(&Command{
			Name: "sysctl", Group: "namespaces",
			Usage:   []string{"sysctl KEY VALUE", "sysctl KEY off", "sysctl"},
			Summary: "a namespaced sysctl, written inside the child's namespaces before its command runs",
			Example: "unshare net; sysctl net.ipv4.ping_group_range \"1 0\"",
			Help: "Refused unless the key's namespace is new for children: net.* needs unshare net, kernel.hostname\n" +
				"and kernel.domainname need uts, ipc's kernel.msg*/sem/shm* and fs.mqueue.* need ipc.\n" +
				"nsh never writes the host's sysctls. Example: sysctl net.ipv4.ping_group_range \"1 0\".",
			Run: runSysctl,
			Complete: func(s *Session, args []string, partial string) []string {
				if len(args) == 0 {
					return []string{"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_forward", "kernel.shmmax"}
				}
				return nil
			},
		})
	})
}

func runSysctl(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		for _, sc := range s.Spec.Sysctls {
			fmt.Fprintf(s.Out, "%s = %s\n", sc.Key, sc.Value)
		}
		return nil
	}
	if len(args) < 2 {
		return usageError(c, "give a key and a value")
	}
	key, value := args[0], strings.Join(args[1:], " ")
	if _, err := plan.SysctlNamespace(key); err != nil {
		return err
	}
	next := s.Spec.Clone()
	var keep []plan.Sysctl
	for _, sc := range next.Sysctls {
		if sc.Key != key {
			keep = append(keep, sc)
		}
	}
	if value != "off" {
		keep = append(keep, plan.Sysctl{Key: key, Value: value})
	}
	next.Sysctls = keep
	return s.commit(next)
}
