package commands

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

func init() {
	later("help", func() {
		register(&Command{
			Name: "help", Group: "session",
			Usage:   []string{"help", "help CMD", "help tour"},
			Summary: "list the commands, explain one, or take the guided tour",
			Example: "help cgroup",
			Run:     runHelp,
			Complete: func(s *Session, args []string, partial string) []string {
				if len(args) == 0 {
					return append(Names(), "tour")
				}
				return nil
			},
		})
	})
}

func runHelp(s *Session, c *Command, args []string) error {
	switch {
	case len(args) == 0:
		// One screen: a line per topic, in the order the walkthrough
		// teaches them; help TOPIC has each command's form.
		fmt.Fprintln(s.Out, "nsh plans a child step by step (the prompt shows the plan); spawn makes it.")
		fmt.Fprintln(s.Out)
		for _, g := range topics() {
			var names []string
			for _, name := range order {
				if registry[name].Group == g {
					names = append(names, name)
				}
			}
			if len(names) == 1 {
				// One command with many forms: its subcommands.
				names = subcommands(registry[names[0]])
			}
			fmt.Fprintf(s.Out, "  %-13s %s\n", g, fitWords(names, 62))
		}
		fmt.Fprintln(s.Out)
		fmt.Fprintln(s.Out, "help TOPIC   the topic's commands, each with its form (help namespaces)")
		fmt.Fprintln(s.Out, "help CMD     one command: its forms, what it does, an example (help cap)")
		fmt.Fprintln(s.Out, "help tour    a tour you type, one step at a time; nsh --learn: the lessons")
		fmt.Fprintln(s.Out, "Reports (ps, ns, cap show, cgroup show, show, ...) take --json.")
		return nil
	case len(args) == 1 && isTopic(args[0]):
		for _, name := range order {
			if c := registry[name]; c.Group == args[0] {
				fmt.Fprintf(s.Out, "%s: %s\n", c.Name, c.Summary)
				for _, u := range c.Usage {
					fmt.Fprintf(s.Out, "    %s\n", u)
				}
			}
		}
		fmt.Fprintf(s.Out, "\nhelp CMD says more of one, with an example.\n")
		return nil
	case len(args) == 1 && args[0] == "tour":
		if s.Learn != nil && s.Interactive && os.Geteuid() == 0 {
			// At the prompt: the tour done, one step at a time (as root:
			// it makes cgroups; without root, the text says what works).
			return s.Learn("tour")
		}
		fmt.Fprint(s.Out, tour)
		return nil
	case len(args) >= 1:
		// help cap drop: the command's help, which covers its forms.
		c, ok := Lookup(args[0])
		if !ok {
			return unknownCommand(args[0])
		}
		fmt.Fprintf(s.Out, "%s\n\n", c.Summary)
		for _, u := range c.Usage {
			fmt.Fprintf(s.Out, "  %s\n", u)
		}
		help := c.Help
		if c.HelpFunc != nil {
			help = c.HelpFunc()
		}
		if help != "" {
			fmt.Fprintf(s.Out, "\n%s\n", strings.TrimSpace(help))
		}
		if c.Example != "" {
			fmt.Fprintf(s.Out, "\nExample:\n  %s\n", c.Example)
		}
		return nil
	}
	return fmt.Errorf("help: name one command, or tour")
}

const tour = `A five-minute tour of nsh. Type along; every step is a command.

1. Where am I?  Every process is in one namespace of each type.
     ns                       # like ls -l /proc/self/ns: type and inode
2. Plan a child.  Commands change the session; nothing runs yet.
     unshare uts pid mnt      # the prompt now shows [uts,pid,mnt]
     hostname foobar          # only possible with a new uts namespace
     show                     # the whole plan
3. Run it.  spawn applies the plan to a new child.
     spawn hostname           # foobar; the host's name is untouched
     spawn ps                 # a fresh /proc: the child is PID 1
4. Watch the kernel work.
     explain on
     spawn true               # clone flags, mounts, sethostname, execve
     explain off
     spawn --time true        # what each part of isolation cost, in ms
     time on; spawn true; time off   # every spawn timed, until time off
5. Keep one running and step into it (nsenter, docker exec).
     spawn -d --name box sleep 600
     ps
     enter @box hostname
     ns diff self @box
6. Limit it (cgroups; keys are cgroup v2 names on any host).
     cgroup set memory.max 32M
     spawn sh -c 'head -c 100M /dev/zero | tail'   # the OOM killer ends it
     cgroup set memory.max 64M @box; cgroup stat @box
7. Take privileges away (capabilities).
     cap drop net_raw         # the prompt shows -net_raw
     spawn grep Cap /proc/self/status
     cap decode a80425fb      # Docker's default set, as capsh --decode
     seccomp preset docker    # Docker's default system call filter
     seccomp test keyctl      # what the kernel answers a child: EPERM
     rlimit nofile 64         # ulimit -n, set with prlimit
8. A root and a network of its own.
     rootfs --busybox /tmp/root
     unshare net; net up lo
     rootfs /tmp/root overlay # an image below, a layer of its own on top
     spawn -d --name w sh -c 'echo hi > /new; rm /etc/group'
     wait @w                  # done writing: its layer holds still
     diff @w                  # A /new, D /etc/group: docker diff
     commit @w /tmp/w.tar     # the layer as a tar, with .wh.group
     top --once               # docker stats: usage against the limits
9. Take it with you, or take apart what others made.
     export sh /tmp/demo.sh   # unshare, setpriv, cgroup writes: sh /tmp/demo.sh
     export oci /tmp/bundle   # runc run --bundle /tmp/bundle demo
     export docker            # the docker run flags, and what Docker cannot do
     export k8s --explain     # what a Kubernetes Pod can hold of the plan
     save /tmp/demo.nsh       # nsh /tmp/demo.nsh replays the plan
     import oci /tmp/bundle   # any config.json becomes the plan again
     ps --tree 1              # any PID: enter, cgroup stat, ns take one too
     ps --tree; ps --json     # who is isolated from whom; output for programs
10. Teach with it.  A script checks itself and becomes a lesson or a recording.
     record --cast /tmp/demo.cast   # asciinema play /tmp/demo.cast replays what follows
     spawn hostname
     expect output contains foobar  # a script stops here if the child said otherwise
     record off
    nsh --render md FILE.nsh -o lesson.md  writes a script as a Markdown lesson with
    its real output (docs/lessons/ has the walkthrough's); nsh --cast F.cast FILE.nsh
    records one.
11. Without root:  unshare user  makes you root in a namespace of your own.
    doctor says what this host allows. help CMD explains each command.
`

// topicOrder is the walkthrough's order: namespaces, cgroups and
// capabilities first, then the rest.
var topicOrder = []string{"namespaces", "cgroups", "capabilities", "filesystem", "children", "teaching", "lessons", "session"}

// topics are the command groups, in topicOrder, then any other.
func topics() []string {
	commandsReady()
	out := append([]string(nil), topicOrder...)
	for _, g := range groups {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func isTopic(w string) bool { return slices.Contains(topics(), w) }

// fitWords joins words into at most width columns, saying how many more.
func fitWords(words []string, width int) string {
	line := ""
	for i, w := range words {
		next := line
		if next != "" {
			next += " "
		}
		next += w
		rest := ""
		if i < len(words)-1 {
			rest = fmt.Sprintf(" (+%d)", len(words)-1-i)
		}
		if len(next)+len(rest) > width && line != "" {
			return line + fmt.Sprintf(" (+%d)", len(words)-i)
		}
		line = next
	}
	return line
}

// subcommands are a command's second words across its forms: cgroup set,
// show, stat, ...
func subcommands(c *Command) []string {
	var out []string
	for _, u := range c.Usage {
		f := strings.Fields(u)
		if len(f) < 2 || strings.ContainsAny(f[1], "[]@|.") || strings.ToUpper(f[1]) == f[1] {
			continue
		}
		if len(out) == 0 {
			out = append(out, c.Name+" "+f[1])
		} else if !slices.Contains(out, f[1]) && out[0] != c.Name+" "+f[1] {
			out = append(out, f[1])
		}
	}
	if len(out) == 0 {
		return []string{c.Name}
	}
	return out
}
