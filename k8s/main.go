package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"nsh/internal/ownfile"
	"nsh/k8s/podplan"
)

// Main is nsh-k8s: a podplan.Request on standard input; the manifest
// (or, with explain, the mapping) on standard output or in req.File;
// what is not exported on standard error. Status 2 on a refusal.
func Main() {
	if err := run(os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "export k8s: %v\n", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func run(in io.Reader, out, errw io.Writer) error {
	var req podplan.Request
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("read the plan from nsh: %w (nsh-k8s is run by nsh's export k8s)", err)
	}
	res, err := Build(&req)
	if err != nil {
		return err
	}
	if req.Explain {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SETTING\tPOD FIELD\tNOTE")
		for _, r := range res.Rows {
			field := r.Field
			switch {
			case field == "" && r.Refused:
				field = "(none: refused without --lossy)"
			case field == "":
				field = "(none: not exported)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Setting, field, r.Note)
		}
		return tw.Flush()
	}
	if refused := res.Refusals(); len(refused) > 0 && !req.Lossy {
		var b strings.Builder
		for _, r := range refused {
			fmt.Fprintf(&b, "\n  %s: %s", r.Setting, r.Note)
		}
		return fmt.Errorf("a Pod cannot express %d of the plan's settings, and leaving them out changes what the workload sees:%s\n(--lossy exports the rest and lists them; --explain shows the whole mapping)", len(refused), b.String())
	}
	body, err := Manifest(res, req.Kind)
	if err != nil {
		return err
	}
	for _, r := range res.Dropped() {
		fmt.Fprintf(errw, "export k8s: not exported: %s: %s\n", r.Setting, r.Note)
	}
	if req.File == "" {
		_, err := out.Write(body)
		return err
	}
	if res.SeccompFile != "" {
		if !req.Force && !ours(res.SeccompFile) {
			return fmt.Errorf("%s exists and nsh did not write it: give another FILE or --name, or -f to replace it", res.SeccompFile)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, res.SeccompBody, "", "\t"); err != nil {
			return fmt.Errorf("the seccomp profile: %w", err)
		}
		if err := ownfile.WriteFile(res.SeccompFile, append(pretty.Bytes(), '\n'), 0o644, replace(req.Force)); err != nil {
			return err
		}
		fmt.Fprintf(errw, "export k8s: wrote %s, the seccomp profile: copy it to /var/lib/kubelet/seccomp/nsh/ on each node\n", res.SeccompFile)
	}
	if err := ownfile.WriteFile(req.File, body, 0o644, replace(req.Force)); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s; run it with: kubectl apply -f %s (or podman kube play %s)\n", req.File, req.File, req.File)
	return nil
}

// Manifest is the workload as YAML (a Pod, or a Job or Deployment of
// it), under a comment that lists what the plan holds and the Pod does
// not.
func Manifest(res *Result, kind string) ([]byte, error) {
	obj, what := Workload(res.Pod, kind)
	y, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# This file was " + ownfile.Mark + " (export k8s): " + what + " for the session's plan.\n")
	if d := res.Dropped(); len(d) > 0 {
		b.WriteString("# Not exported (no Pod field holds them; `export k8s --explain` shows the whole mapping):\n")
		for _, r := range d {
			fmt.Fprintf(&b, "#   %s: %s\n", r.Setting, r.Note)
		}
	}
	b.Write(y)
	return []byte(b.String()), nil
}

// replace is what -f lets nsh replace: package ownfile writes whole or
// not at all, and never through a link.
func replace(force bool) ownfile.Replace {
	if force {
		return ownfile.ReplaceAny
	}
	return ownfile.ReplaceOwn
}

// ours says whether path is missing or nsh wrote it, so it may be
// replaced.
func ours(path string) bool {
	_, err := os.Lstat(path)
	return os.IsNotExist(err) || ownfile.Written(path)
}
