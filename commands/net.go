package commands

import (
	"fmt"
	"os"
	"strconv"

	"nsh/isolate"
	"nsh/plan"
)

func init() {
	later("net", func() {
		register(&Command{
			Name: "net", Group: "namespaces",
			Summary: "the network of a child with a new net namespace: loopback, veth pairs",
			Example: "unshare net; net up lo; net veth 198.51.100.1/24 198.51.100.2/24",
			Help: "A new net namespace has only a loopback interface, and it is down: net up lo brings it up.\n" +
				"net veth makes a veth pair: one end stays in nsh's namespace with HOSTADDR, the other moves\n" +
				"into the child's as eth0 (eth1, ...) with CHILDADDR, both up, configured over netlink before\n" +
				"the child's command runs; the pair goes when the child does. Example:\n" +
				"  net veth 198.51.100.1/24 198.51.100.2/24",
			Subs: []Sub{
				{Name: "up", Usage: []string{"net up lo"}, Run: netLo(true), Complete: completeWords("lo")},
				{Name: "down", Usage: []string{"net down lo"}, Run: netLo(false), Complete: completeWords("lo")},
				{Name: "veth", Usage: []string{"net veth HOSTADDR/PFX CHILDADDR/PFX [--name NAME]"}, Run: netVeth,
					Complete: completeWords("198.51.100.1/24", "198.51.100.2/24", "--name")},
				{Name: "rm", Usage: []string{"net rm veth N"}, Run: netRm, Complete: completeWords("veth")},
				{Name: "off", Usage: []string{"net off"}, Run: netOff},
			},
			Bare: netList,
		})
	})
}

// completeWords offers word i for the subcommand's argument i.
func completeWords(words ...string) func(s *Session, args []string, partial string) []string {
	return func(s *Session, args []string, partial string) []string {
		if len(args) < len(words) {
			return words[len(args) : len(args)+1]
		}
		return nil
	}
}

func netList(s *Session) error {
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

// netPlan is the plan to change, once it has a new net namespace.
func netPlan(s *Session) (*plan.Spec, error) {
	next := s.Spec.Clone()
	if next.Net == nil {
		next.Net = &plan.Net{}
	}
	if !next.Has("net") {
		return nil, plan.ErrNetNeedsNet
	}
	return next, nil
}

func netLo(up bool) func(s *Session, c *Command, args []string) error {
	return func(s *Session, c *Command, args []string) error {
		if len(args) != 1 || args[0] != "lo" {
			return usageError(c, "only lo goes up or down: net up lo")
		}
		next, err := netPlan(s)
		if err != nil {
			return err
		}
		next.Net.LoUp = up
		return s.commit(next)
	}
}

func netVeth(s *Session, c *Command, args []string) error {
	if len(args) != 2 && (len(args) != 4 || args[2] != "--name") {
		return usageError(c, "say the host's and the child's address: net veth HOSTADDR/PFX CHILDADDR/PFX")
	}
	next, err := netPlan(s)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		// Said now, not at spawn: the pair's host end is made in nsh's
		// own network namespace, which only root may change.
		return fmt.Errorf("net veth needs root: its host end lives in nsh's network namespace, which uid %d may not change; without root, a child's network is its loopback (net up lo)", os.Geteuid())
	}
	v := plan.Veth{HostAddr: args[0], ChildAddr: args[1]}
	if len(args) == 4 {
		v.HostName = args[3]
	}
	next.Net.Veths = append(next.Net.Veths, v)
	if err := isolate.CheckVeths(next.Net.Veths); err != nil {
		return fmt.Errorf("net %w", err)
	}
	return s.commit(next)
}

func netRm(s *Session, c *Command, args []string) error {
	if len(args) != 2 || args[0] != "veth" {
		return usageError(c, "say which veth: net rm veth N")
	}
	next := s.Spec.Clone()
	var veths []plan.Veth
	if next.Net != nil {
		veths = next.Net.Veths
	}
	i, err := strconv.Atoi(args[1])
	if err != nil || i < 1 || i > len(veths) {
		return usageError(c, fmt.Sprintf("no veth %s planned: net lists them, from 1", args[1]))
	}
	next.Net.Veths = append(veths[:i-1:i-1], veths[i:]...)
	return s.commit(next)
}

func netOff(s *Session, c *Command, args []string) error {
	if len(args) != 0 {
		return usageError(c, "net off takes nothing")
	}
	next := s.Spec.Clone()
	next.Net = nil
	return s.commit(next)
}

func vethText(v plan.Veth, i int) string {
	s := fmt.Sprintf("host %s <-> child eth%d %s", v.HostAddr, i, v.ChildAddr)
	if v.HostName != "" {
		s += " (host end " + v.HostName + ")"
	}
	return s
}
