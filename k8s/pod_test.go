package k8s

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"nsh/k8s/podplan"
)

var docker = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}

func caps(b ...string) *podplan.Caps {
	return &podplan.Caps{Bounding: b, Effective: b, Permitted: b, Inheritable: []string{}, Ambient: []string{}}
}

func base() *podplan.Request {
	return &podplan.Request{Name: "t", Image: "localhost/t:1", Namespaces: []string{"uts", "pid", "mnt", "ipc", "net"},
		Docker: docker, Caps: caps(docker...), Args: []string{"true"}}
}

// corpus holds a request for each row of the mapping (docs/kubernetes.md).
func corpus() map[string]*podplan.Request {
	out := map[string]*podplan.Request{}
	r := base()
	out["docker-defaults"] = r
	r = base()
	r.Namespaces = []string{"mnt"}
	out["host-net-pid-ipc"] = r
	r = base()
	r.Namespaces = append(r.Namespaces, "user")
	r.MapMode = "root"
	r.Hostname = "web"
	out["userns-hostname"] = r
	r = base()
	r.Caps = caps(slices.DeleteFunc(slices.Clone(docker), func(c string) bool { return c == "CAP_NET_RAW" })...)
	out["drop-net-raw"] = r
	r = base()
	r.Caps = caps("CAP_NET_BIND_SERVICE")
	out["only-net-bind-service"] = r
	r = base()
	r.User, r.NoNewPrivs, r.Rootfs = &podplan.User{UID: 1000, GID: 1000}, true, &podplan.Rootfs{Dir: "/srv/r", ReadOnly: true}
	out["user-nnp-ro"] = r
	r = base()
	r.Cgroup = []podplan.KV{{Key: "memory.max", Value: "67108864"}, {Key: "cpu.max", Value: "50000 100000"}, {Key: "cpu.weight", Value: "50"}, {Key: "pids.max", Value: "20"}, {Key: "io.weight", Value: "300"}}
	r.Shares = 421
	out["resources"] = r
	r = base()
	r.Sysctls = []podplan.KV{{Key: "net.ipv4.ping_group_range", Value: "0 0"}, {Key: "net.core.somaxconn", Value: "1024"}}
	out["sysctls"] = r
	r = base()
	r.Seccomp = &podplan.Seccomp{RuntimeDefault: true}
	out["seccomp-docker"] = r
	r = base()
	r.File = "/tmp/nsh-k8s-test/pod.yaml"
	r.Seccomp = &podplan.Seccomp{Profile: json.RawMessage(`{"defaultAction":"SCMP_ACT_ALLOW"}`)}
	out["seccomp-localhost"] = r
	r = base()
	r.Mounts = []podplan.Mount{{Type: "tmpfs", Target: "/scratch", Options: "size=64m"}, {Type: "bind", Source: "/etc", Target: "/hostetc", ReadOnly: true}, {Type: "proc", Target: "/proc"}}
	out["mounts"] = r
	r = base()
	r.Rlimits, r.LoUp, r.Veths, r.Other = []string{"nofile 64"}, true, []string{"198.51.100.1/24 <-> 198.51.100.2/24"}, []string{"cgroup parent /x"}
	r.Env, r.Cwd, r.Terminal = []string{"A=1"}, "/srv", true
	out["unexpressed-and-process"] = r
	return out
}

// Every manifest decodes strictly into a Pod (an unknown field fails)
// and fits the schema client-go carries, the one an API server checks.
func TestManifestsDecodeAndFitTheSchema(t *testing.T) {
	tc := applyconfigurations.NewTypeConverter(scheme.Scheme)
	for name, req := range corpus() {
		res, err := Build(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for kind, obj := range map[string]runtime.Object{"": &corev1.Pod{}, "job": &batchv1.Job{}, "deployment": &appsv1.Deployment{}} {
			body, err := Manifest(res, kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict(body, obj); err != nil {
				t.Errorf("%s %s: not one: %v\n%s", name, kind, err, body)
				continue
			}
			if _, err := tc.ObjectToTyped(obj); err != nil {
				t.Errorf("%s %s: a cluster would reject it: %v\n%s", name, kind, err, body)
			}
		}
	}
	// The check has teeth: two containers of one name break the schema's
	// list-map key.
	res, _ := Build(base())
	bad := res.Pod.DeepCopy()
	bad.Spec.Containers = append(bad.Spec.Containers, bad.Spec.Containers[0])
	if _, err := tc.ObjectToTyped(bad); err == nil {
		t.Error("the schema check accepted two containers with one name")
	}
}

// A Deployment restarts its Pod and selects it by name; a Job runs it
// once.
func TestWorkloads(t *testing.T) {
	res, _ := Build(base())
	d, _ := Workload(res.Pod, "deployment")
	dep := d.(*appsv1.Deployment)
	if dep.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || dep.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "t" || dep.Spec.Template.Labels["app.kubernetes.io/name"] != "t" {
		t.Errorf("deployment: %+v", dep.Spec)
	}
	j, _ := Workload(res.Pod, "job")
	job := j.(*batchv1.Job)
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || *job.Spec.BackoffLimit != 0 {
		t.Errorf("job: %+v", job.Spec)
	}
	// What podman kube play runs as a Pod (export_k8s_podman.txtar) is
	// what a Job's Pods run: podman 4.3 takes no Jobs.
	if !reflect.DeepEqual(job.Spec.Template.Spec, res.Pod.Spec) {
		t.Errorf("the Job's Pod template is not the Pod's spec")
	}
	if res.Pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Error("the Deployment changed the Pod's own restart policy")
	}
}

func build(t *testing.T, r *podplan.Request) (*Result, *corev1.Pod) {
	t.Helper()
	res, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	return res, res.Pod
}

func TestMappingRows(t *testing.T) {
	c := corpus()
	_, p := build(t, c["docker-defaults"])
	if sc := p.Spec.Containers[0].SecurityContext; sc.Capabilities != nil {
		t.Errorf("Docker's set exports no add/drop: %+v", sc.Capabilities)
	}
	_, p = build(t, c["only-net-bind-service"])
	if cp := p.Spec.Containers[0].SecurityContext.Capabilities; cp == nil || !slices.Equal(cp.Drop, []corev1.Capability{"ALL"}) || !slices.Equal(cp.Add, []corev1.Capability{"NET_BIND_SERVICE"}) {
		t.Errorf("cap only net_bind_service: %+v", cp)
	}
	_, p = build(t, c["drop-net-raw"])
	if cp := p.Spec.Containers[0].SecurityContext.Capabilities; cp == nil || !slices.Equal(cp.Drop, []corev1.Capability{"NET_RAW"}) || cp.Add != nil {
		t.Errorf("cap drop net_raw: %+v", cp)
	}
	_, p = build(t, c["host-net-pid-ipc"])
	if !p.Spec.HostNetwork || !p.Spec.HostPID || !p.Spec.HostIPC {
		t.Errorf("the host's namespaces: %+v", p.Spec)
	}
	_, p = build(t, c["userns-hostname"])
	if p.Spec.HostUsers == nil || *p.Spec.HostUsers || p.Spec.Hostname != "web" {
		t.Errorf("unshare user, hostname: %+v", p.Spec)
	}
	_, p = build(t, c["user-nnp-ro"])
	sc := p.Spec.Containers[0].SecurityContext
	if *sc.RunAsUser != 1000 || *sc.RunAsGroup != 1000 || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("user, nonewprivs, rootfs ro: %+v", sc)
	}
	res, p := build(t, c["resources"])
	r := p.Spec.Containers[0].Resources
	if q := r.Limits[corev1.ResourceMemory]; q.String() != "64Mi" {
		t.Errorf("memory.max 64M: %s", q.String())
	}
	if q := r.Limits[corev1.ResourceCPU]; q.String() != "500m" {
		t.Errorf("cpu.max 0.5: %s", q.String())
	}
	if q := r.Requests[corev1.ResourceCPU]; q.String() != "411m" {
		t.Errorf("cpu.weight 50 (421 shares): %s", q.String())
	}
	// A limit comes with its request, as the API server would default it.
	if q := r.Requests[corev1.ResourceMemory]; q.String() != "64Mi" {
		t.Errorf("memory request: %s", q.String())
	}
	// A localhost/ image is never pulled; nothing gets an API token.
	if c := p.Spec.Containers[0]; c.ImagePullPolicy != corev1.PullNever || p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Errorf("pull policy %q, service account token %v", c.ImagePullPolicy, p.Spec.AutomountServiceAccountToken)
	}
	other := base()
	other.Image = "docker.io/library/debian:stable-slim"
	if _, p := build(t, other); p.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("a registry's image: pull policy %q", p.Spec.Containers[0].ImagePullPolicy)
	}
	if !dropped(res, "cgroup set pids.max 20", "podPidsLimit") || !dropped(res, "cgroup set io.weight 300", "no Pod field") {
		t.Errorf("pids.max and io.weight are listed: %+v", res.Dropped())
	}
	res, p = build(t, c["sysctls"])
	if len(p.Spec.SecurityContext.Sysctls) != 2 || !row(res, "sysctl net.core.somaxconn 1024", "allowed-unsafe-sysctls") || !row(res, "sysctl net.ipv4.ping_group_range 0 0", "safe set") {
		t.Errorf("sysctls: %+v", res.Rows)
	}
	_, p = build(t, c["seccomp-docker"])
	if sp := p.Spec.Containers[0].SecurityContext.SeccompProfile; sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp preset docker: %+v", sp)
	}
	res, p = build(t, c["seccomp-localhost"])
	if sp := p.Spec.Containers[0].SecurityContext.SeccompProfile; sp.Type != corev1.SeccompProfileTypeLocalhost || *sp.LocalhostProfile != "nsh/t-seccomp.json" || res.SeccompFile != "/tmp/nsh-k8s-test/t-seccomp.json" {
		t.Errorf("a profile: %+v, %s", sp, res.SeccompFile)
	}
	_, p = build(t, base())
	if sp := p.Spec.Containers[0].SecurityContext.SeccompProfile; sp.Type != corev1.SeccompProfileTypeUnconfined {
		t.Errorf("no filter: %+v", sp)
	}
	res, p = build(t, c["mounts"])
	if v := p.Spec.Volumes; len(v) != 2 || v[0].EmptyDir.Medium != corev1.StorageMediumMemory || v[0].EmptyDir.SizeLimit.String() != "64Mi" || v[1].HostPath.Path != "/etc" {
		t.Errorf("mounts: %+v", v)
	}
	if !row(res, "mount bind /etc /hostetc", "flagged") {
		t.Errorf("a hostPath is flagged: %+v", res.Rows)
	}
	res, p = build(t, c["unexpressed-and-process"])
	for _, s := range []string{"rlimit nofile 64", "net veth 198.51.100.1/24 <-> 198.51.100.2/24", "cgroup parent /x"} {
		if !dropped(res, s, "") {
			t.Errorf("%s is listed as not exported: %+v", s, res.Dropped())
		}
	}
	ct := p.Spec.Containers[0]
	if ct.WorkingDir != "/srv" || !ct.TTY || len(ct.Env) != 1 || ct.Env[0].Name != "A" {
		t.Errorf("the process: %+v", ct)
	}
}

// Rows without a Pod field that change what the workload sees are
// refused, each with its reason; --lossy exports the rest.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *podplan.Request)
		says   string
	}{
		{"time", func(r *podplan.Request) { r.Namespaces = append(r.Namespaces, "time"); r.TimeBoot = 86400 }, "no Pod field makes a time namespace"},
		{"map id", func(r *podplan.Request) {
			r.Namespaces = append(r.Namespaces, "user")
			r.MapMode, r.MapUID = "id", 1000
		}, "other than root"},
		{"map off", func(r *podplan.Request) { r.Namespaces = append(r.Namespaces, "user"); r.MapMode = "none" }, "always has a map"},
		{"join", func(r *podplan.Request) { r.Joins = []podplan.Join{{Type: "net", Ref: "/run/netns/x"}} }, "cannot enter an existing namespace"},
		{"host uts", func(r *podplan.Request) { r.Namespaces = []string{"mnt", "net"} }, "always has a uts namespace of its own"},
	} {
		r := base()
		tc.change(r)
		res, err := Build(r)
		if err != nil {
			t.Fatal(err)
		}
		ref := res.Refusals()
		if len(ref) == 0 || !strings.Contains(ref[0].Note, tc.says) {
			t.Errorf("%s: refusals %+v, want %q", tc.name, ref, tc.says)
		}
		var out, errw strings.Builder
		body, _ := json.Marshal(r)
		if err := run(strings.NewReader(string(body)), &out, &errw); err == nil || !strings.Contains(err.Error(), "--lossy") {
			t.Errorf("%s: without --lossy: %v", tc.name, err)
		}
		r.Lossy = true
		body, _ = json.Marshal(r)
		out.Reset()
		if err := run(strings.NewReader(string(body)), &out, &errw); err != nil || !strings.Contains(out.String(), "#   ") {
			t.Errorf("%s: --lossy: %v\n%s", tc.name, err, out.String())
		}
	}
	r := base()
	r.Rootfs, r.Image = &podplan.Rootfs{Dir: "/srv/r"}, ""
	if _, err := Build(r); err == nil || !strings.Contains(err.Error(), "podman import") {
		t.Errorf("a rootfs without --image: %v", err)
	}
}

func row(res *Result, setting, note string) bool {
	for _, r := range res.Rows {
		if r.Setting == setting && strings.Contains(r.Note, note) {
			return true
		}
	}
	return false
}

func dropped(res *Result, setting, note string) bool {
	for _, r := range res.Dropped() {
		if r.Setting == setting && strings.Contains(r.Note, note) {
			return true
		}
	}
	return false
}
