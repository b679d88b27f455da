package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"nsh/export"
	"nsh/importer"
	"nsh/isolate"
	"nsh/k8s"
	"nsh/plan"
)

// planCommands build a plan and touch nothing on the host.
var planCommands = map[string]bool{
	"unshare": true, "share": true, "hostname": true, "map": true, "timens": true, "user": true,
	"nonewprivs": true, "sysctl": true, "net": true, "mount": true, "reset": true, "rlimit": true,
	"process": true,
}

// scriptPlan is the plan a spawn of an example script runs.
type scriptPlan struct {
	file string
	line int
	spec *plan.Spec
}

// scriptPlans replays the example scripts' plan commands (and nothing
// that touches the host) and returns the plan at each spawn.
func scriptPlans(t *testing.T) []scriptPlan {
	files, _ := filepath.Glob("../scripts/*.nsh")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	var out []scriptPlan
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := Parse(string(src))
		if err != nil {
			t.Fatal(err)
		}
		s, _, _, _ := newTestSession()
		for _, st := range stmts {
			w := st.Words
			switch {
			case w[0] == "spawn":
				out = append(out, scriptPlan{f, st.Line, s.Spec.Clone()})
				continue
			case w[0] == "rootfs" && len(w) == 3 && w[1] == "--busybox":
				// Planned without building it: the round trip reads
				// no file of it.
				w = []string{"rootfs", "/nonexistent-rootfs"}
				next := s.Spec.Clone()
				if !next.Has("mnt") {
					next.Namespaces = append(next.Namespaces, "mnt")
				}
				next.Rootfs = &plan.Rootfs{Dir: w[1]}
				s.Spec = next
				continue
			case w[0] == "cap" && len(w) > 1 && (w[1] == "file" || w[1] == "show" || w[1] == "decode"):
				continue
			case w[0] == "cgroup" && len(w) > 1 && (w[1] == "set" || w[1] == "devices") && !strings.HasPrefix(w[len(w)-1], "@"):
			case w[0] == "seccomp" && len(w) > 1 && w[1] != "test" && w[1] != "show":
			case w[0] == "cap":
			case !planCommands[w[0]] || (len(w) > 1 && strings.HasPrefix(w[len(w)-1], "@")):
				continue
			}
			if err := s.Exec(w); err != nil {
				if len(w) >= 4 && w[0] == "mount" && w[1] == "bind" {
					// Its source is made by a spawn of the script.
					next := s.Spec.Clone()
					// Relative to nsh's directory, as the command takes it.
					src, _ := filepath.Abs(w[2])
					next.Mounts = append(next.Mounts, plan.Mount{Type: "bind", Source: src, Target: w[3], ReadOnly: len(w) > 4 && w[4] == "ro"})
					s.Spec = next
					continue
				}
				t.Fatalf("%s:%d: %v", f, st.Line, err)
			}
		}
	}
	if len(out) < 20 {
		t.Errorf("only %d spawns in the scripts' plans", len(out))
	}
	return out
}

// Every plan the example scripts spawn goes through export oci, import
// oci and export oci again unchanged: the round trip holds for the plans
// people actually build, not only for hand-made ones. Each also becomes
// a Pod a cluster would take.
func TestScriptPlansRoundTrip(t *testing.T) {
	for _, p := range scriptPlans(t) {
		roundTrip(t, p.file, p.line, p.spec)
	}
}

// bundlePlan is sp as an OCI bundle can hold it: a root (the script's
// own, or root when it has none), and joins only of namespaces a path
// names (a child's @ID is nsh's alone).
func bundlePlan(sp *plan.Spec, root string) *plan.Spec {
	sp = sp.Clone()
	if sp.Rootfs == nil {
		// An OCI bundle needs a root; the rest of the plan is the script's.
		sp.Rootfs = &plan.Rootfs{Dir: root}
		if !sp.Has("mnt") {
			sp.Namespaces = append(sp.Namespaces, "mnt")
		}
	}
	var joins []plan.Join
	for _, j := range sp.Join {
		if !strings.HasPrefix(j.Ref, "@") {
			joins = append(joins, j)
		}
	}
	sp.Join = joins
	return sp
}

func roundTrip(t *testing.T, file string, line int, sp *plan.Spec) {
	t.Helper()
	sp = bundlePlan(sp, "/nonexistent-rootfs")
	a, _, err := export.OCIJSON(sp, isolate.HostCaps(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := importer.OCI(a, "/")
	if err != nil {
		t.Fatalf("%s:%d: import: %v", file, line, err)
	}
	if b, _, _ := export.OCIJSON(res.Spec, isolate.HostCaps(), nil); string(a) != string(b) {
		t.Errorf("%s:%d: export, import, export changed the config:\n%s\n----\n%s", file, line, a, b)
	}
	podFits(t, file, line, sp)
}

// podFits exports the plan as a Pod (lossy: a script may plan what a Pod
// cannot hold) and checks it decodes strictly and fits the schema.
func podFits(t *testing.T, file string, line int, sp *plan.Spec) {
	req, err := export.K8sRequest(sp, isolate.HostCaps())
	if err != nil {
		t.Fatalf("%s:%d: %v", file, line, err)
	}
	req.Lossy, req.Image, req.File = true, "localhost/test:1", "/tmp/nsh-test-pod.yaml"
	res, err := k8s.Build(req)
	if err != nil {
		t.Fatalf("%s:%d: export k8s: %v", file, line, err)
	}
	body, err := k8s.Manifest(res, "")
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(body, &pod); err != nil {
		t.Fatalf("%s:%d: not a Pod: %v", file, line, err)
	}
	if _, err := podSchema.ObjectToTyped(&pod); err != nil {
		t.Errorf("%s:%d: a cluster would reject the Pod: %v\n%s", file, line, err, body)
	}
}

var podSchema = applyconfigurations.NewTypeConverter(scheme.Scheme)
