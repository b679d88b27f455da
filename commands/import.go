package commands

import (
	"fmt"
	"os"
	"path/filepath"

	"nsh/importer"
	"nsh/isolate"
)

func init() {
	later("import", func() {
		register(&Command{
			Name: "import", Group: "teaching",
			Usage:   []string{"import oci DIR|FILE [--strict]"},
			Summary: "an OCI config.json (runc spec, export oci, a real container's) becomes the session's plan",
			Example: "import oci /run/containerd/io.containerd.runtime.v2.task/default/web",
			Help: "Every field nsh has a command for becomes that command's setting: namespaces (a path joins),\n" +
				"hostname, id maps, user, the five capability sets, no_new_privileges, rlimits, seccomp, sysctls,\n" +
				"mounts, root, cgroup resources, clock offsets, and the process (args, env, cwd, terminal).\n" +
				"What nsh cannot apply is listed with its JSON path and why; --strict refuses the import then.\n" +
				"The plan replaces the session's; show, save and spawn work on it.",
			Run: runImport,
			Complete: func(s *Session, args []string, partial string) []string {
				switch len(args) {
				case 0:
					return []string{"oci"}
				case 1:
					return completeFiles(nil, partial)
				case 2:
					return []string{"--strict"}
				}
				return nil
			},
		})
	})
}

func runImport(s *Session, c *Command, args []string) error {
	rest, strict := takeFlag(args, "--strict")
	if len(rest) != 2 || rest[0] != "oci" {
		return usageError(c, "import oci takes a bundle directory or a config.json")
	}
	res, err := importer.ReadOCI(rest[1])
	if err != nil {
		return fmt.Errorf("import oci %s: %w", rest[1], err)
	}
	if _, err := isolate.SeccompFilter(res.Spec); err != nil {
		// Without it the child would have no filter at all.
		return fmt.Errorf("import oci %s: refused: the config asks for what nsh cannot apply and will not leave out, since the child would get more than the config gives it:\n  linux.seccomp: %v: nsh cannot compile the profile, and runs no child without the filter the config asks for", rest[1], err)
	}
	if strict && len(res.Unapplied) > 0 {
		msg := fmt.Sprintf("import oci %s: --strict, and %d fields cannot be applied:", rest[1], len(res.Unapplied))
		for _, u := range res.Unapplied {
			msg += "\n  " + u.String()
		}
		return fmt.Errorf("%s\n(without --strict the rest is imported)", msg)
	}
	if err := s.commit(res.Spec); err != nil {
		return fmt.Errorf("import oci %s: %w", rest[1], err)
	}
	for _, u := range res.Unapplied {
		fmt.Fprintf(s.Err, "import oci: not applied: %s\n", u)
	}
	if r := res.Spec.Rootfs; r != nil {
		if err := isolate.CheckRootfs(r.Dir); err != nil {
			fmt.Fprintf(s.Err, "import oci: note: the root %v; spawn needs it\n", err)
		}
	}
	file := rest[1]
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		file = filepath.Join(file, "config.json")
	}
	fields := "fields"
	if len(res.Unapplied) == 1 {
		fields = "field"
	}
	fmt.Fprintf(s.Err, "import oci: %s is the plan now (%d %s not applied); show lists it\n", file, len(res.Unapplied), fields)
	return nil
}
