package commands

import (
	"fmt"

	"nsh/isolate"
)

func init() {
	register(&Command{
		Name: "net", Group: "namespaces",
		Usage:   []string{"net up lo", "net down lo", "net"},
		Summary: "the network of a child with a new net namespace",
		Help:    "A new net namespace has only a loopback interface, and it is down: net up lo brings it up.",
		Run:     runNet,
		Complete: func(s *Session, args []string, partial string) []string {
			switch len(args) {
			case 0:
				return []string{"up", "down"}
			case 1:
				return []string{"lo"}
			}
			return nil
		},
	})
}

func runNet(s *Session, args []string) error {
	c, _ := Lookup("net")
	if len(args) == 0 {
		if s.Spec.Net != nil && s.Spec.Net.LoUp {
			fmt.Fprintln(s.Out, "lo up")
		} else {
			fmt.Fprintln(s.Out, "no network planned")
		}
		return nil
	}
	if len(args) != 2 || args[1] != "lo" || (args[0] != "up" && args[0] != "down") {
		return usageError(c, "say net up lo")
	}
	next := s.Spec.Clone()
	if next.Net == nil {
		next.Net = &isolate.Net{}
	}
	next.Net.LoUp = args[0] == "up"
	return s.commit(next)
}
