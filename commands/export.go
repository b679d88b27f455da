package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"nsh/export"
	"nsh/isolate"
)

func init() {
	later("export", func() {
		register(&Command{
			Name: "export", Group: "teaching",
			Subs: []Sub{
				{Name: "sh", Usage: []string{"export sh [-f] [FILE]"}, Run: exportSh, Complete: completeFirstFile},
				{Name: "oci", Usage: []string{"export oci [-f] DIR [CMD ARG...]"}, Run: exportOCI, Complete: completeFirstFile},
				{Name: "docker", Usage: []string{"export docker [-f] [--seccomp FILE]"}, Run: exportDocker,
					Complete: func(s *Session, args []string, partial string) []string {
						if len(args) > 0 && args[len(args)-1] == "--seccomp" {
							return completeFiles(nil, partial)
						}
						return []string{"--seccomp", "-f"}
					}},
				{Name: "k8s", Usage: []string{"export k8s [-f] [FILE] [--kind pod|job|deployment] [--name NAME] [--image IMAGE] [--lossy] [--explain] [CMD ARG...]"}, Run: exportK8s,
					Complete: func(s *Session, args []string, partial string) []string {
						if strings.HasPrefix(partial, "-") {
							return []string{"--explain", "--image", "--kind", "--lossy", "--name", "-f"}
						}
						return completeFiles(nil, partial)
					}},
			},
			Summary: "the session as a POSIX sh script, an OCI bundle for runc/crun, or docker run flags",
			Help: "export sh prints a commented script that does what spawn would with unshare, nsenter,\n" +
				"setpriv, cgroup file writes, mount and ip; it runs its arguments (a shell when none).\n" +
				"export oci writes DIR/config.json (needs a rootfs): runc run --bundle DIR NAME runs it; it\n" +
				"replaces a config.json it wrote, and another only with -f (never through a symlink).\n" +
				"export docker prints the docker run flags for what Docker can express, and lists the rest;\n" +
				"--seccomp FILE writes the seccomp plan as a Docker profile (JSON) for --security-opt.\n" +
				"export k8s writes a Kubernetes Pod (YAML; --kind job or deployment wraps it in one) to FILE (a .yaml name, or a path that is not a\n" +
				"program; else standard output) for what\n" +
				"a Pod can express: --image is needed with a rootfs; what has no Pod field is listed at the top\n" +
				"and on stderr; time namespaces, id maps other than root and joins are refused unless --lossy;\n" +
				"--explain prints the mapping (docs/kubernetes.md has the whole table).\n" +
				"A FILE that exists is replaced only if nsh wrote it (its second line says so), or with -f.",
			Example: "export sh /tmp/demo.sh   # then, in a shell: sh /tmp/demo.sh hostname",
		})
	})
}

// completeFirstFile completes a file for the first argument.
func completeFirstFile(s *Session, args []string, partial string) []string {
	if len(args) == 0 {
		return completeFiles(nil, partial)
	}
	return nil
}

func exportSh(s *Session, c *Command, args []string) error {
	rest, force := takeFlagF(args)
	if len(rest) > 1 || (force && len(rest) == 0) {
		return usageError(c, "export sh takes at most a file to write (-f: replace a file nsh did not write)")
	}
	script, err := export.Shell(s.Spec)
	if err != nil {
		return fmt.Errorf("export sh: %w", err)
	}
	if r := s.Spec.Rootfs; r != nil && strings.Contains(script, "exec setpriv") && !isolate.RootfsHasSetpriv(r.Dir) {
		// Said now, not only by the script when it stops.
		fmt.Fprintf(s.Err, "export sh: note: %s has no util-linux setpriv, which the script needs inside it to apply the user and capabilities: it will stop there (status 126); install util-linux in the rootfs, or let nsh spawn apply them\n", r.Dir)
	}
	if len(rest) == 1 {
		if err := writeOwnFile("export sh", rest[0], []byte(script), 0o755, force); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "wrote %s; run it as root with: sh %s [CMD ARG...]\n", rest[0], rest[0])
		return nil
	}
	fmt.Fprint(s.Out, script)
	return nil
}

func exportOCI(s *Session, c *Command, args []string) error {
	ociArgs, force := takeFlagF(args)
	if len(ociArgs) < 1 {
		return usageError(c, "export oci needs a bundle directory")
	}
	dir := ociArgs[0]
	file := filepath.Join(dir, "config.json")
	if err := mayReplace("export oci", file, force); err != nil {
		return err
	}
	bundle, err := export.OCIBundle(s.Spec, isolate.HostCaps(), dir, ociArgs[1:])
	if err != nil {
		return fmt.Errorf("export oci: %w", err)
	}
	for _, d := range append([]string{dir}, bundle.Dirs...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("export oci: %w", err)
		}
	}
	notes := bundle.Notes
	if err := writeOwnFile("export oci", file, bundle.JSON, 0o644, force); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintf(s.Err, "export oci: note: %s\n", n)
	}
	fmt.Fprintf(s.Out, "wrote %s; run it with: runc run --bundle %s NAME\n", file, dir)
	return nil
}

func exportDocker(s *Session, c *Command, args []string) error {
	file := ""
	rest, force := takeFlag(args, "-f")
	if len(rest) == 2 && rest[0] == "--seccomp" {
		file = rest[1]
	} else if len(rest) != 0 {
		return usageError(c, "export docker takes only --seccomp FILE, where the seccomp plan goes (-f: replace a file nsh did not write)")
	}
	if file != "" {
		prof, err := export.DockerSeccomp(s.Spec, isolate.HostCaps())
		if err != nil {
			return fmt.Errorf("export docker: %w", err)
		}
		if prof == nil {
			fmt.Fprintf(s.Err, "export docker: note: no profile to write to %s: the flags say it all (seccomp=unconfined, or Docker's default)\n", file)
			file = ""
		} else if err := writeOwnFile("export docker --seccomp", file, prof, 0o644, force); err != nil {
			return err
		}
	}
	flags, cannot := export.Docker(s.givenCaps(s.Spec), file)
	fmt.Fprintf(s.Out, "docker run %s\n", strings.Join(flags, " "))
	if len(cannot) > 0 {
		fmt.Fprintln(s.Out, "\nDocker cannot express:")
		for _, c := range cannot {
			fmt.Fprintf(s.Out, "  - %s\n", c)
		}
	}
	return nil
}

// exportK8s runs nsh-k8s, which holds the Kubernetes types, with the plan.
func exportK8s(s *Session, c *Command, args []string) error {
	file, name, image, kind := "", "", "", ""
	lossy, explain, force := false, false, false
	var cmd []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case len(cmd) > 0:
			cmd = append(cmd, a)
		case a == "-f":
			force = true
		case a == "--lossy":
			lossy = true
		case a == "--explain":
			explain = true
		case (a == "--name" || a == "--image" || a == "--kind") && i+1 < len(args):
			*map[string]*string{"--name": &name, "--image": &image, "--kind": &kind}[a] = args[i+1]
			i++
		case a == "--name" || a == "--image" || a == "--kind":
			return usageError(c, a+" needs a value")
		case file == "" && len(cmd) == 0 && isManifestPath(a):
			file = a
		case strings.HasPrefix(a, "-") && a != "--":
			return usageError(c, "unknown flag "+a)
		case a == "--":
			cmd = append(cmd, args[i+1:]...)
			i = len(args)
		default:
			cmd = append(cmd, a)
		}
	}
	switch kind {
	case "", "pod", "job", "deployment":
	default:
		return usageError(c, fmt.Sprintf("--kind %s: give pod, job or deployment", kind))
	}
	if file != "" && !explain {
		if err := mayReplace("export k8s", file, force); err != nil {
			return err
		}
	}
	req, err := export.K8sRequest(s.Spec, isolate.HostCaps())
	if err != nil {
		return fmt.Errorf("export k8s: %w", err)
	}
	req.File, req.Name, req.Image, req.Lossy, req.Explain, req.Force, req.Kind = file, name, image, lossy, explain, force, kind
	if len(cmd) > 0 {
		req.Args = cmd
	}
	bin, err := k8sExporter()
	if err != nil {
		return fmt.Errorf("export k8s: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	run := exec.Command(bin)
	run.Stdin = bytes.NewReader(body)
	var errb bytes.Buffer
	run.Stdout, run.Stderr = s.Out, &errb
	if err := isolate.RunTracked(run); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			// A refusal: its words are nsh-k8s's.
			return errors.New(strings.TrimSpace(errb.String()))
		}
		return fmt.Errorf("export k8s: %s: %w: %s", bin, err, strings.TrimSpace(errb.String()))
	}
	s.Err.Write(errb.Bytes())
	return nil
}

// k8sExporter finds nsh-k8s.
func k8sExporter() (string, error) {
	return helperBinary("nsh-k8s", "writes Kubernetes manifests")
}

// helperBinary finds one of nsh's helper programs: beside nsh's own
// binary (dev/build.sh puts them there), else on PATH. what says what
// it does, for the error.
func helperBinary(name, what string) (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s, which %s, is not beside nsh nor on PATH: dev/build.sh builds it (go build -o bin/%s ./cmd/%s)", name, what, name, name)
}

// isManifestPath tells export k8s's FILE from its CMD: a .yaml, .yml or
// .json name, or a path with a / that is not a program.
func isManifestPath(w string) bool {
	for _, ext := range []string{".yaml", ".yml", ".json"} {
		if strings.HasSuffix(w, ext) {
			return true
		}
	}
	if !strings.Contains(w, "/") {
		return false
	}
	st, err := os.Stat(w)
	return err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0
}
