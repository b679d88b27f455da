// Package podplan is what nsh hands its Kubernetes exporter (nsh-k8s):
// the plan, with what only nsh can know already worked out (capability
// names, the resolved seccomp profile). It depends on nothing, so nsh
// itself never links the Kubernetes types: they would double its
// start-up (k8s/README in docs/kubernetes.md has the figures).
package podplan

import "encoding/json"

// Request is one export k8s.
type Request struct {
	// What the user asked for.
	File    string   `json:"file,omitempty"` // "" is standard output
	Name    string   `json:"name,omitempty"`
	Image   string   `json:"image,omitempty"`
	Args    []string `json:"args,omitempty"` // CMD, else the plan's process args
	Lossy   bool     `json:"lossy,omitempty"`
	Force   bool     `json:"force,omitempty"` // replace files nsh did not write
	Explain bool     `json:"explain,omitempty"`
	// Kind is the workload: pod (""), job or deployment.
	Kind string `json:"kind,omitempty"`

	Namespaces []string `json:"namespaces"` // new ones
	Joins      []Join   `json:"joins,omitempty"`
	Hostname   string   `json:"hostname,omitempty"`
	// MapMode is the user namespace's id map: root, id or none.
	MapMode  string `json:"mapMode,omitempty"`
	MapUID   int    `json:"mapUID,omitempty"`
	MapGID   int    `json:"mapGID,omitempty"`
	TimeMono int64  `json:"timeMonotonic,omitempty"`
	TimeBoot int64  `json:"timeBoottime,omitempty"`

	// Caps is nil when the plan keeps nsh's own sets; the names are the
	// runtime spec's (CAP_NET_RAW).
	Caps *Caps `json:"caps,omitempty"`
	// Docker is the runtime's default set (containerd's and CRI-O's).
	Docker     []string `json:"docker"`
	User       *User    `json:"user,omitempty"`
	NoNewPrivs bool     `json:"noNewPrivs,omitempty"`

	Rootfs *Rootfs  `json:"rootfs,omitempty"`
	Mounts []Mount  `json:"mounts,omitempty"`
	Cgroup []KV     `json:"cgroup,omitempty"`
	Other  []string `json:"other,omitempty"` // cgroup parent/use/off, devices...
	// Shares is cpu.weight as cpu.shares, as runc converts it.
	Shares  uint64   `json:"shares,omitempty"`
	Sysctls []KV     `json:"sysctls,omitempty"`
	Seccomp *Seccomp `json:"seccomp,omitempty"`
	Rlimits []string `json:"rlimits,omitempty"`
	LoUp    bool     `json:"loUp,omitempty"`
	Veths   []string `json:"veths,omitempty"`

	Env      []string `json:"env"` // nil: nsh's own, which a Pod does not get
	Cwd      string   `json:"cwd,omitempty"`
	Terminal bool     `json:"terminal,omitempty"`
}

// Join is an existing namespace the plan enters.
type Join struct {
	Type string `json:"type"`
	Ref  string `json:"ref"`
}

// Caps are the five sets, by name.
type Caps struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Permitted   []string `json:"permitted"`
	Inheritable []string `json:"inheritable"`
	Ambient     []string `json:"ambient"`
}

// User is runAsUser/runAsGroup.
type User struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// Rootfs is the plan's root directory.
type Rootfs struct {
	Dir      string `json:"dir"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Mount is one of the plan's mounts.
type Mount struct {
	Type     string `json:"type"`
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	Options  string `json:"options,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// KV is a key and its value.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Seccomp is the plan's filter: Docker's own profile (RuntimeDefault)
// or a profile for the node (Localhost).
type Seccomp struct {
	RuntimeDefault bool            `json:"runtimeDefault,omitempty"`
	Profile        json.RawMessage `json:"profile,omitempty"`
}
