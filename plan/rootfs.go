package plan

import "strings"

// Rootfs is the root filesystem children pivot into.
type Rootfs struct {
	// Dir is the root; for an overlay, its top lower layer.
	Dir      string `json:"dir"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// Overlay, when set, makes the root an overlayfs of read-only lower
	// layers and a writable upper one (overlay.go).
	Overlay *Overlay `json:"overlay,omitempty"`
	// Image, when set, is the image the overlay's lowers were unpacked
	// from (rootfs --image).
	Image *Image `json:"image,omitempty"`
}

// Image is an image a root is made of: its layers, unpacked, are the
// overlay's lowers.
type Image struct {
	Ref    string `json:"ref"`              // as the user named it: oci:DIR[:TAG], FILE.tar
	Digest string `json:"digest,omitempty"` // its manifest's
	// Cache is the directory the user named to keep unpacked layers in
	// (they outlive nsh); empty: this session's own, removed with it.
	Cache  string       `json:"cache,omitempty"`
	Layers []ImageLayer `json:"layers"` // bottom first, as the manifest lists them
	// Process is what the image's config gave the plan's process (its
	// Command, Env, Cwd and User), so that another root takes back
	// what the user has not changed since.
	Process ImageProcess `json:"process"`
}

// ImageProcess is an image config's process, as the plan holds it.
type ImageProcess struct {
	Command []string `json:"command,omitempty"`
	Env     []string `json:"env,omitempty"`
	Cwd     string   `json:"cwd,omitempty"`
	User    *User    `json:"user,omitempty"`
}

// ImageLayer is one unpacked layer of an image.
type ImageLayer struct {
	DiffID string `json:"diffID"` // the digest of its tar
	Dir    string `json:"dir"`
}

// Mount is an extra mount in the child's mount namespace. With a rootfs,
// Target is inside it; a bind's Source is on the host.
type Mount struct {
	Type     string `json:"type"` // proc, sysfs, mqueue, tmpfs, bind
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	Options  string `json:"options,omitempty"` // tmpfs: size=64M
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// String is the mount as the `mount` command takes it.
func (m Mount) String() string {
	switch m.Type {
	case "bind":
		s := "bind " + m.Source + " " + m.Target
		if m.ReadOnly {
			s += " ro"
		}
		return s
	case "tmpfs":
		return strings.TrimSpace("tmpfs " + m.Target + " " + m.Options)
	}
	return m.Type + " " + m.Target
}

// Overlay is a root made of layers, as an image becomes a container:
// read-only lower directories (the first is the top one) that nothing
// writes to, and an upper directory that takes every change.
type Overlay struct {
	Lowers []string `json:"lowers"`
	// Upper is a directory the user named to keep; empty: each child gets
	// an upper of its own that nsh removes with it.
	Upper string `json:"upper,omitempty"`
}

// String is the overlay as the rootfs command takes it.
func (o *Overlay) String() string {
	s := "overlay " + strings.Join(o.Lowers, ":")
	if o.Upper != "" {
		s += " --upper " + o.Upper
	}
	return s
}

// MountOptionIgnored says why a word of a mount's options is not applied,
// or "" when it is: nsh's tmpfs mounts are always nosuid and nodev, and
// the child's mounts are private (a propagation word changes nothing).
func MountOptionIgnored(word string) string {
	switch word {
	case "suid", "dev":
		return "nsh's tmpfs mounts are always nosuid,nodev"
	case "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable":
		return "the child's mounts are private to its mount namespace already"
	}
	return ""
}
