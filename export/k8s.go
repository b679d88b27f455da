package export

import (
	"fmt"
	"os"

	"nsh/internal/ownfile"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/k8s/podplan"
	"nsh/plan"
)

// K8sRequest is the plan as nsh-k8s takes it: everything it needs to
// build the Pod, with the host-specific parts (capability names, the
// resolved seccomp profile, cpu.weight's shares) worked out here.
func K8sRequest(sp *plan.Spec, h plan.Host) (*podplan.Request, error) {
	r := &podplan.Request{
		Namespaces: append([]string{}, sp.Namespaces...),
		Hostname:   sp.Hostname,
		TimeMono:   sp.Time.Monotonic,
		TimeBoot:   sp.Time.Boottime,
		NoNewPrivs: sp.NoNewPrivs,
		Docker:     capability.OCINames(capability.Docker),
		Args:       sp.Command,
		Env:        sp.Env,
		Cwd:        sp.Cwd,
		Terminal:   sp.Terminal,
	}
	for _, j := range sp.Join {
		r.Joins = append(r.Joins, podplan.Join{Type: j.Type, Ref: j.Ref})
	}
	if sp.Has("user") {
		m := sp.IDMapping()
		r.MapMode, r.MapUID, r.MapGID = m.Mode, m.UID, m.GID
	}
	uid := os.Getuid()
	if sp.User != nil {
		uid = sp.User.UID
	}
	f := sp.ChildCaps(h, uid)
	r.Caps = &podplan.Caps{
		Bounding: capability.OCINames(f.Bounding), Effective: capability.OCINames(f.Effective), Permitted: capability.OCINames(f.Permitted),
		Inheritable: capability.OCINames(f.Inheritable), Ambient: capability.OCINames(f.Ambient),
	}
	if u := sp.User; u != nil {
		r.User = &podplan.User{UID: u.UID, GID: u.GID}
	}
	if rf := sp.Rootfs; rf != nil {
		r.Rootfs = &podplan.Rootfs{Dir: rf.Dir, ReadOnly: rf.ReadOnly}
	}
	for _, m := range sp.Mounts {
		r.Mounts = append(r.Mounts, podplan.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options, ReadOnly: m.ReadOnly})
	}
	if c := sp.Cgroup; c != nil {
		for _, st := range c.Settings {
			r.Cgroup = append(r.Cgroup, podplan.KV{Key: st.Key, Value: st.Value})
			if st.Key == "cpu.weight" {
				var w uint64
				fmt.Sscan(st.Value, &w)
				r.Shares = cgroup.WeightToShares(w)
			}
		}
		if c.Parent != "" {
			r.Other = append(r.Other, "cgroup parent "+c.Parent)
		}
		if c.Use != "" {
			r.Other = append(r.Other, "cgroup use "+c.Use)
		}
		if c.Off {
			r.Other = append(r.Other, "cgroup off")
		}
		for _, d := range c.Devices {
			r.Other = append(r.Other, "cgroup devices "+d.Text())
		}
	}
	for _, sc := range sp.Sysctls {
		r.Sysctls = append(r.Sysctls, podplan.KV{Key: sc.Key, Value: sc.Value})
	}
	// The runtime masks runc's list itself (procMount: Default).
	r.Other = append(r.Other, sp.BeyondRunc()...)
	if p := sp.Seccomp; p != nil {
		if p.IsDockerDefault() {
			r.Seccomp = &podplan.Seccomp{RuntimeDefault: true}
		} else if prof, err := sp.SeccompProfile(h); err != nil {
			return nil, err
		} else if prof != nil {
			b, err := ownfile.JSON(prof, "export k8s): a seccomp profile for the kubelet (securityContext.seccompProfile: Localhost")
			if err != nil {
				return nil, err
			}
			r.Seccomp = &podplan.Seccomp{Profile: b}
		}
	}
	for _, rl := range sp.Rlimits {
		r.Rlimits = append(r.Rlimits, rl.String())
	}
	if n := sp.Net; n != nil {
		r.LoUp = n.LoUp
		for _, v := range n.Veths {
			r.Veths = append(r.Veths, v.HostAddr+" <-> "+v.ChildAddr)
		}
	}
	if len(r.Namespaces) == 0 {
		r.Namespaces = []string{}
	}
	return r, nil
}
