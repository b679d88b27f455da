// Package k8s turns an nsh plan into a Kubernetes Pod, with the API's own
// types. It is nsh-k8s, a program of its own: linking these types into
// nsh would double every start of nsh (docs/kubernetes.md).
package k8s

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"nsh/k8s/podplan"
)

// Row is one line of the mapping: a setting of the plan, the Pod field
// it becomes, and what differs.
type Row struct {
	Setting string
	Field   string // "" when there is none
	Note    string
	// Refused: no Pod field can hold it, and dropping it changes what the
	// workload sees; exported only with --lossy.
	Refused bool
}

// Result is a Pod and the mapping that made it.
type Result struct {
	Pod  *corev1.Pod
	Rows []Row
	// SeccompFile is the profile to write beside the manifest (Localhost).
	SeccompFile string
	SeccompBody []byte
}

// Dropped lists the rows not exported.
func (r *Result) Dropped() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Field == "" {
			out = append(out, row)
		}
	}
	return out
}

// safeSysctls are Kubernetes' safe set (kubelet allows them by default).
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}

// Build maps the plan onto a Pod: one facet of the plan at a time, each
// adding its fields and its rows.
func Build(req *podplan.Request) (*Result, error) {
	b := &podBuild{req: req, res: &Result{}, sc: &corev1.SecurityContext{}, psc: &corev1.PodSecurityContext{}}
	b.name = podName(req)
	image, err := b.image()
	if err != nil {
		return nil, err
	}
	b.c = &corev1.Container{Name: b.name, Image: image, SecurityContext: b.sc, ImagePullPolicy: pullPolicy(image)}
	b.pod = &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: b.name, Labels: map[string]string{"app.kubernetes.io/created-by": "nsh"}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, SecurityContext: b.psc, AutomountServiceAccountToken: new(bool)},
	}
	b.add("no API credentials", "automountServiceAccountToken: false", "a child of nsh's holds no token for the cluster's API, and gets none")
	b.add("image "+image, "containers[0].imagePullPolicy: "+string(b.c.ImagePullPolicy), map[corev1.PullPolicy]string{
		corev1.PullNever:        "a localhost/ image is only on the node: a kubelet would try to pull it (:latest defaults to Always) and fail with ErrImagePull",
		corev1.PullIfNotPresent: "pulled once, not at every start",
	}[b.c.ImagePullPolicy])
	for _, facet := range []func() error{b.namespaces, b.caps, b.resources, b.sysctls, b.seccomp, b.mounts, b.process} {
		if err := facet(); err != nil {
			return nil, err
		}
	}
	b.pod.Spec.Containers = []corev1.Container{*b.c}
	if isEmpty(b.psc) {
		b.pod.Spec.SecurityContext = nil
	}
	b.annotateSeccomp()
	b.res.Pod = b.pod
	return b.res, nil
}

// podBuild is a Pod as Build makes it.
type podBuild struct {
	req  *podplan.Request
	res  *Result
	pod  *corev1.Pod
	c    *corev1.Container
	sc   *corev1.SecurityContext
	psc  *corev1.PodSecurityContext
	name string
}

func (b *podBuild) add(setting, field, note string) {
	b.res.Rows = append(b.res.Rows, Row{setting, field, note, false})
}

func (b *podBuild) refuse(setting, note string) {
	b.res.Rows = append(b.res.Rows, Row{setting, "", note, true})
}

func (b *podBuild) has(ns string) bool { return slices.Contains(b.req.Namespaces, ns) }

// pullPolicy: Never for a localhost/ image, which exists only on the node
// it was made on, else IfNotPresent.
func pullPolicy(image string) corev1.PullPolicy {
	if strings.HasPrefix(image, "localhost/") {
		return corev1.PullNever
	}
	return corev1.PullIfNotPresent
}

// podName is the Pod's and its container's name: the user's, else the
// hostname, else nsh.
func podName(req *podplan.Request) string {
	name := req.Name
	if name == "" {
		name = "nsh"
		if req.Hostname != "" {
			name = req.Hostname
		}
	}
	return dnsLabel(name)
}

// image is the container's image: the one given, else Debian's when
// the plan has no rootfs.
func (b *podBuild) image() (string, error) {
	image := b.req.Image
	switch {
	case image == "" && b.req.Rootfs != nil && b.req.Explain:
		b.refuse("rootfs "+b.req.Rootfs.Dir, "Kubernetes runs images: make one from the directory (tar -C DIR -c . | podman import - NAME) and give --image")
	case image == "" && b.req.Rootfs != nil:
		return "", fmt.Errorf("a rootfs is planned (%s), and Kubernetes runs images, not directories: make one (tar -C %s -c . | podman import - localhost/%s:latest, or docker import) and give --image localhost/%s:latest", b.req.Rootfs.Dir, b.req.Rootfs.Dir, b.name, b.name)
	case image == "":
		image = "docker.io/library/debian:stable-slim"
		b.add("no rootfs (the host's files)", "containers[0].image: "+image, "a Pod runs an image; --image IMAGE chooses another")
	default:
		if b.req.Rootfs != nil {
			b.add("rootfs "+b.req.Rootfs.Dir, "containers[0].image: "+image, "the image made from the directory")
		}
	}
	return image, nil
}

// namespaces: a Pod has its own of each but where it shares the host's.
func (b *podBuild) namespaces() error {
	req := b.req
	res := b.res
	pod := b.pod
	name := b.name
	joined := map[string]string{}
	for _, j := range req.Joins {
		joined[j.Type] = j.Ref
		b.refuse("join "+j.Type+" "+j.Ref, "a Pod cannot enter an existing namespace; only the host's (hostNetwork, hostPID, hostIPC)")
	}
	for _, h := range []struct {
		ns, field string
		set       *bool
	}{{"net", "hostNetwork", &pod.Spec.HostNetwork}, {"pid", "hostPID", &pod.Spec.HostPID}, {"ipc", "hostIPC", &pod.Spec.HostIPC}} {
		if _, ok := joined[h.ns]; ok {
			continue
		}
		if b.has(h.ns) {
			b.add("unshare "+h.ns, "(default)", "every Pod gets its own "+h.ns+" namespace")
		} else {
			*h.set = true
			b.add("the host's "+h.ns+" namespace", h.field+": true", "")
		}
	}
	switch {
	case b.has("uts") && !pod.Spec.HostNetwork:
		if req.Hostname != "" {
			pod.Spec.Hostname = req.Hostname
			b.add("hostname "+req.Hostname, "spec.hostname", "")
		} else {
			b.add("unshare uts", "(default)", "the Pod's hostname is its name, "+name)
		}
	case b.has("uts"):
		b.refuse("unshare uts with the host's net namespace", "with hostNetwork a Pod has the node's uts namespace and hostname")
	case !pod.Spec.HostNetwork:
		b.refuse("the host's uts namespace", "a Pod without hostNetwork always has a uts namespace of its own (hostname: its name)")
	}
	if !b.has("mnt") {
		b.add("the host's mount namespace", "(none)", "a container always has a mount namespace of its own: it sees its image, not the host's files")
		res.Rows[len(res.Rows)-1].Field = ""
	}
	if b.has("user") {
		f := false
		pod.Spec.HostUsers = &f
		b.add("unshare user", "hostUsers: false", "the kubelet maps a range of ids, root inside")
		switch req.MapMode {
		case "id":
			b.refuse(fmt.Sprintf("map %d:%d", req.MapUID, req.MapGID), "no Pod field chooses the id inside a user namespace other than root (runAsUser sets the process's id)")
		case "none":
			b.refuse("map off", "a Pod's user namespace always has a map (root inside)")
		}
	}
	if b.has("time") {
		b.refuse(fmt.Sprintf("unshare time (monotonic %+ds, boottime %+ds)", req.TimeMono, req.TimeBoot), "no Pod field makes a time namespace or sets clock offsets")
	}
	if b.has("cgroup") {
		b.add("unshare cgroup", "(none)", "no Pod field: the runtime gives a private cgroup namespace on cgroup v2 nodes, the host's on v1")
		res.Rows[len(res.Rows)-1].Field = ""
	}

	return nil
}

// caps: against the runtime's default set.
func (b *podBuild) caps() error {
	req := b.req
	sc := b.sc
	if cp := req.Caps; cp != nil {
		short := func(n string) corev1.Capability { return corev1.Capability(strings.TrimPrefix(n, "CAP_")) }
		var drop, addCaps []corev1.Capability
		for _, d := range req.Docker {
			if !slices.Contains(cp.Bounding, d) {
				drop = append(drop, short(d))
			}
		}
		for _, b := range cp.Bounding {
			if !slices.Contains(req.Docker, b) {
				addCaps = append(addCaps, short(b))
			}
		}
		if len(drop)+len(addCaps) > 1+len(cp.Bounding) {
			drop, addCaps = []corev1.Capability{"ALL"}, nil
			for _, b := range cp.Bounding {
				addCaps = append(addCaps, short(b))
			}
		}
		if len(drop) > 0 || len(addCaps) > 0 {
			sc.Capabilities = &corev1.Capabilities{Drop: drop, Add: addCaps}
			b.add("capabilities ("+strconv.Itoa(len(cp.Bounding))+" in the bounding set)", "securityContext.capabilities.add/drop", "against the runtime's default set (Docker's 14)")
		} else {
			b.add("capabilities (Docker's 14)", "(default)", "the runtime's default set")
		}
		eq := func(a []string) bool { return slices.Equal(a, cp.Bounding) }
		if !eq(cp.Permitted) || !eq(cp.Effective) {
			b.add("permitted or effective sets other than the bounding set", "", "a container's permitted and effective sets follow its capability list (root), or are empty (non-root)")
		}
		if len(cp.Inheritable) > 0 || len(cp.Ambient) > 0 {
			b.add("inheritable or ambient capabilities", "", "no Pod field sets them")
		}
	}
	if u := req.User; u != nil {
		uid, gid := int64(u.UID), int64(u.GID)
		sc.RunAsUser, sc.RunAsGroup = &uid, &gid
		b.add(fmt.Sprintf("user %d:%d", u.UID, u.GID), "securityContext.runAsUser/runAsGroup", "")
	}
	if req.NoNewPrivs {
		f := false
		sc.AllowPrivilegeEscalation = &f
		b.add("nonewprivs on", "securityContext.allowPrivilegeEscalation: false", "")
	}
	if req.Rootfs != nil && req.Rootfs.ReadOnly {
		t := true
		sc.ReadOnlyRootFilesystem = &t
		b.add("rootfs ro", "securityContext.readOnlyRootFilesystem: true", "")
	}

	return nil
}

func (b *podBuild) resources() error {
	req := b.req
	c := b.c
	limits, requests := corev1.ResourceList{}, corev1.ResourceList{}
	for _, kv := range req.Cgroup {
		set := "cgroup set " + kv.Key + " " + kv.Value
		switch kv.Key {
		case "memory.max":
			if kv.Value == "max" {
				b.add(set, "(default)", "no memory limit")
				continue
			}
			n, err := strconv.ParseInt(kv.Value, 10, 64)
			if err != nil {
				return fmt.Errorf("memory.max %q: %w", kv.Value, err)
			}
			limits[corev1.ResourceMemory] = *resource.NewQuantity(n, resource.BinarySI)
			b.add(set, "resources.limits.memory: "+quantity(limits[corev1.ResourceMemory]), "")
		case "cpu.max":
			q, p, _ := strings.Cut(kv.Value, " ")
			if q == "max" {
				b.add(set, "(default)", "no cpu limit")
				continue
			}
			quota, err1 := strconv.ParseInt(q, 10, 64)
			period, err2 := strconv.ParseInt(p, 10, 64)
			if err1 != nil || err2 != nil || period == 0 {
				return fmt.Errorf("cpu.max %q: not QUOTA PERIOD", kv.Value)
			}
			limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(quota*1000/period, resource.DecimalSI)
			note := ""
			if period != 100000 {
				note = fmt.Sprintf("the kubelet's CFS period is 100ms; this plan's is %dµs (same share of a CPU)", period)
			}
			b.add(set, "resources.limits.cpu: "+quantity(limits[corev1.ResourceCPU]), note)
		case "cpu.weight":
			// The kubelet writes cpu.shares = milli*1024/1000.
			milli := int64(req.Shares) * 1000 / 1024
			if milli < 1 {
				milli = 1
			}
			requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
			b.add(set, "resources.requests.cpu: "+quantity(requests[corev1.ResourceCPU]), "the kubelet turns CPU requests into the same shares (weight)")
		case "pids.max":
			b.add(set, "", "no Pod field: the kubelet's podPidsLimit covers it, for every Pod of the node")
		default:
			b.add(set, "", "no Pod field for this cgroup key")
		}
	}
	if len(limits) > 0 || len(requests) > 0 {
		c.Resources = corev1.ResourceRequirements{Limits: limits, Requests: requests}
		if l, ok := limits[corev1.ResourceCPU]; ok {
			if r, ok := requests[corev1.ResourceCPU]; ok && r.Cmp(l) > 0 {
				requests[corev1.ResourceCPU] = l
				b.add("cpu.weight above cpu.max", "resources.requests.cpu", "a request may not exceed the limit: lowered to it")
			}
		}
		// Said outright, as the API server would default them: a request
		// is what the scheduler places the Pod by.
		for _, r := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceCPU} {
			if l, ok := limits[r]; ok {
				if _, ok := requests[r]; !ok {
					requests[r] = l
					b.add(string(r)+" limit", "resources.requests."+string(r)+": "+quantity(l), "the request equals the limit, as the API server would default it: the scheduler places the Pod by it")
				}
			}
		}
	}
	for _, o := range req.Other {
		b.add(o, "", "no Pod field: the runtime places and confines the container itself")
	}

	return nil
}

func (b *podBuild) sysctls() error {
	req := b.req
	psc := b.psc
	for _, kv := range req.Sysctls {
		psc.Sysctls = append(psc.Sysctls, corev1.Sysctl{Name: kv.Key, Value: kv.Value})
		note := "in Kubernetes' safe set"
		if !slices.Contains(safeSysctls, kv.Key) {
			note = "unsafe to Kubernetes: the kubelet must allow it (--allowed-unsafe-sysctls " + kv.Key + ")"
		}
		b.add("sysctl "+kv.Key+" "+kv.Value, "securityContext.sysctls", note)
	}

	return nil
}

func (b *podBuild) seccomp() error {
	req := b.req
	res := b.res
	sc := b.sc
	name := b.name
	switch s := req.Seccomp; {
	case s == nil:
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		b.add("no seccomp filter", "securityContext.seccompProfile: Unconfined", "said outright: a kubelet with seccompDefault would give RuntimeDefault")
	case s.RuntimeDefault:
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		b.add("seccomp preset docker", "securityContext.seccompProfile: RuntimeDefault", "the runtime's default profile, Docker's")
	default:
		if req.File == "" && !req.Explain {
			return fmt.Errorf("the seccomp plan is a profile for the node: give a FILE, and nsh writes the profile beside it")
		}
		base := name + "-seccomp.json"
		if req.File != "" {
			res.SeccompFile = filepath.Join(filepath.Dir(req.File), base)
		}
		res.SeccompBody = s.Profile
		local := "nsh/" + base
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &local}
		b.add("seccomp (a profile of the plan)", "securityContext.seccompProfile: Localhost "+local, "copy "+base+" to /var/lib/kubelet/seccomp/nsh/ on every node")
	}

	return nil
}

func (b *podBuild) mounts() error {
	req := b.req
	pod := b.pod
	c := b.c
	for i, m := range req.Mounts {
		vol := fmt.Sprintf("nsh-mount-%d", i)
		switch m.Type {
		case "tmpfs":
			ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
			for _, o := range strings.Split(m.Options, ",") {
				if v, ok := strings.CutPrefix(o, "size="); ok {
					q, err := resource.ParseQuantity(sizeQuantity(v))
					if err != nil {
						return fmt.Errorf("tmpfs size %q: %w", v, err)
					}
					ed.SizeLimit = &q
				}
			}
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{EmptyDir: ed}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: m.Target})
			b.add("mount tmpfs "+m.Target, "volumes: emptyDir {medium: Memory}", "")
		case "bind":
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m.Source}}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: m.Target, ReadOnly: m.ReadOnly})
			b.add("mount bind "+m.Source+" "+m.Target, "volumes: hostPath "+m.Source, "flagged: the node's own path, which many clusters' admission refuses")
		case "proc", "sysfs", "mqueue":
			if usual := map[string]string{"proc": "/proc", "sysfs": "/sys", "mqueue": "/dev/mqueue"}[m.Type]; m.Target == usual {
				b.add("mount "+m.Type+" "+usual, "(default)", "the runtime mounts "+usual)
			} else {
				b.add("mount "+m.Type+" "+m.Target, "", "no volume type mounts a second "+m.Type)
			}
		}
	}
	for _, r := range req.Rlimits {
		b.add("rlimit "+r, "", "no Pod field: the runtime's defaults apply (containerd's or CRI-O's configuration)")
	}
	if req.LoUp {
		b.add("net up lo", "(default)", "every Pod's lo is up")
	}
	for _, v := range req.Veths {
		b.add("net veth "+v, "", "no Pod field: the cluster's network plugin (CNI) gives the Pod its addresses")
	}

	return nil
}

func (b *podBuild) process() error {
	req := b.req
	c := b.c
	if len(req.Args) > 0 {
		c.Command = req.Args
		b.add("command", "containers[0].command", "")
	} else {
		b.add("no command", "(default)", "the image's entrypoint runs (nsh's spawn would run a shell)")
	}
	if req.Env != nil {
		for _, kv := range req.Env {
			k, v, _ := strings.Cut(kv, "=")
			c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
		}
		b.add("process env", "containers[0].env", "")
	} else {
		// A child of nsh inherits nsh's environment, which is not
		// exported; an image made with podman import has no PATH.
		c.Env = []corev1.EnvVar{{Name: "PATH", Value: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
		b.add("nsh's environment", "containers[0].env: PATH", "only PATH, the standard one: the rest of nsh's environment stays with nsh (process env sets the whole environment)")
	}
	if req.Cwd != "" {
		c.WorkingDir = req.Cwd
		b.add("process cwd "+req.Cwd, "containers[0].workingDir", "")
	}
	if req.Terminal {
		c.TTY, c.Stdin = true, true
		b.add("process terminal on", "containers[0].tty, stdin", "")
	}
	return nil
}

// annotateSeccomp says the profile again in the annotation engines read
// before the field (podman kube play 4.x).
func (b *podBuild) annotateSeccomp() {
	sc, pod, name := b.sc, b.pod, b.name
	if sp := sc.SeccompProfile; sp != nil {
		v := map[corev1.SeccompProfileType]string{corev1.SeccompProfileTypeUnconfined: "unconfined", corev1.SeccompProfileTypeRuntimeDefault: "runtime/default"}[sp.Type]
		if sp.LocalhostProfile != nil {
			v = "localhost/" + *sp.LocalhostProfile
		}
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations["container.seccomp.security.alpha.kubernetes.io/"+name] = v
	}
}

func isEmpty(p *corev1.PodSecurityContext) bool {
	return len(p.Sysctls) == 0 && p.RunAsUser == nil && p.SeccompProfile == nil
}

func quantity(q resource.Quantity) string { return q.String() }

// sizeQuantity turns tmpfs's sizes (64m, 1g, 65536k) into Kubernetes'.
func sizeQuantity(v string) string {
	if v == "" {
		return v
	}
	switch v[len(v)-1] {
	case 'k', 'K':
		return v[:len(v)-1] + "Ki"
	case 'm', 'M':
		return v[:len(v)-1] + "Mi"
	case 'g', 'G':
		return v[:len(v)-1] + "Gi"
	}
	return v
}

// dnsLabel makes a name Kubernetes takes: lower case, digits and '-'.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.Trim(out[:63], "-")
	}
	if out == "" {
		out = "nsh"
	}
	return out
}

// Refusals are the rows without a Pod field that change what the
// workload sees.
func (r *Result) Refusals() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Refused {
			out = append(out, row)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Setting < out[j].Setting })
	return out
}
