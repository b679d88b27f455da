package commands

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"nsh/isolate"
)

func init() {
	register(&Command{
		Name: "net", Group: "namespaces",
		Usage:   []string{"net up lo", "net down lo", "net veth HOSTADDR/PFX CHILDADDR/PFX [--name NAME]", "net rm veth N", "net off", "net"},
		Summary: "the network of a child with a new net namespace: loopback, veth pairs",
		Example: "unshare net; net up lo; net veth 198.51.100.1/24 198.51.100.2/24",
		Help: "A new net namespace has only a loopback interface, and it is down: net up lo brings it up.\n" +
			"net veth makes a veth pair: one end stays in nsh's namespace with HOSTADDR, the other moves\n" +
			"into the child's as eth0 (eth1, ...) with CHILDADDR, both up, configured over netlink before\n" +
			"the child's command runs; the pair goes when the child does. Example:\n" +
			"  net veth 198.51.100.1/24 198.51.100.2/24",
		Run: runNet,
		Complete: func(s *Session, args []string, partial string) []string {
			switch {
			case len(args) == 0:
				return []string{"up", "down", "veth", "rm", "off"}
			case len(args) == 1 && (args[0] == "up" || args[0] == "down"):
				return []string{"lo"}
			case len(args) == 1 && args[0] == "veth":
				return []string{"198.51.100.1/24"}
			case len(args) == 2 && args[0] == "veth":
				return []string{"198.51.100.2/24"}
			case len(args) == 3 && args[0] == "veth":
				return []string{"--name"}
			}
			return nil
		},
	})
}

func runNet(s *Session, args []string) error {
	c, _ := Lookup("net")
	if len(args) == 0 {
		n := s.Spec.Net
		if n == nil || n.Empty() {
			fmt.Fprintln(s.Out, "no network planned")
			return nil
		}
		if n.LoUp {
			fmt.Fprintln(s.Out, "lo up")
		}
		// Numbered from 1, as the prompt counts them (veth=2).
		for i, v := range n.Veths {
			fmt.Fprintf(s.Out, "veth %d: %s\n", i+1, vethText(v, i))
		}
		return nil
	}
	next := s.Spec.Clone()
	if next.Net == nil {
		next.Net = &isolate.Net{}
	}
	if len(args) == 1 && args[0] == "off" {
		next.Net = nil
		return s.commit(next)
	}
	if !next.Has("net") && args[0] != "rm" {
		return errors.New("network settings are for a new net namespace: `unshare net` first (nsh never changes the host's links)")
	}
	switch {
	case len(args) == 2 && args[1] == "lo" && (args[0] == "up" || args[0] == "down"):
		next.Net.LoUp = args[0] == "up"
	case args[0] == "veth" && (len(args) == 3 || (len(args) == 5 && args[3] == "--name")):
		if os.Geteuid() != 0 {
			// Said now, not at spawn: the pair's host end is made in
			// nsh's own network namespace, which only root may change.
			return fmt.Errorf("net veth needs root: its host end lives in nsh's network namespace, which uid %d may not change; without root, a child's network is its loopback (net up lo)", os.Geteuid())
		}
		v := isolate.Veth{HostAddr: args[1], ChildAddr: args[2]}
		if len(args) == 5 {
			v.HostName = args[4]
		}
		next.Net.Veths = append(next.Net.Veths, v)
		if err := isolate.CheckVeths(next.Net.Veths); err != nil {
			return fmt.Errorf("net %w", err)
		}
	case args[0] == "rm" && len(args) == 3 && args[1] == "veth":
		i, err := strconv.Atoi(args[2])
		if err != nil || i < 1 || i > len(next.Net.Veths) {
			return usageError(c, fmt.Sprintf("no veth %s planned: net lists them, from 1", args[2]))
		}
		next.Net.Veths = append(next.Net.Veths[:i-1], next.Net.Veths[i:]...)
	default:
		return usageError(c, "say net up lo, or net veth HOSTADDR/PFX CHILDADDR/PFX")
	}
	return s.commit(next)
}

func vethText(v isolate.Veth, i int) string {
	s := fmt.Sprintf("host %s <-> child eth%d %s", v.HostAddr, i, v.ChildAddr)
	if v.HostName != "" {
		s += " (host end " + v.HostName + ")"
	}
	return s
}
