package importer

// The config's mounts, beside the ones every OCI runtime makes anyway.

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"nsh/plan"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultMounts are what runtimes mount in every container and nsh's
// spawn makes itself in a rootfs (/proc, and its own minimal /dev).
var defaultMounts = []specs.Mount{
	{Destination: "/proc", Type: "proc", Source: "proc"},
	{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
	{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
	{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
	{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
}

// ownDev is what spawn mounts on /dev and /dev/pts in a rootfs.
var ownDev = map[string]string{
	"/dev":     "tmpfs, nosuid,strictatime,mode=755,size=65536k, with null, zero, full, random, urandom, tty",
	"/dev/pts": "devpts, newinstance,ptmxmode=0666,mode=0620",
}

func (im *importer) mounts() {
	sp := im.sp
	for i, m := range im.cfg.Mounts {
		path := fmt.Sprintf("mounts[%d]", i)
		if slices_containsMount(defaultMounts, m) {
			im.consume(path)
			continue
		}
		if !sp.Has("mnt") {
			im.skip(path, "mounts need a new mount namespace, which the config does not ask for")
			continue
		}
		// The runtime's /dev and its devpts, whatever their options: a
		// child with a rootfs gets nsh's own, as runc makes it (a tmpfs
		// with the usual devices on it, a private devpts). Mounted again
		// from the config, a tmpfs would hide those devices.
		if sp.Rootfs != nil && m.Destination == "/proc" && m.Type == "proc" {
			// podman's has nosuid,noexec,nodev: what spawn's own fresh
			// /proc in a rootfs has too. Mounted twice, it would be two.
			im.skip(path, fmt.Sprintf("/proc with options %s: spawn mounts its own in a rootfs (nosuid,noexec,nodev)", strings.Join(m.Options, ",")))
			continue
		}
		if sp.Rootfs != nil && ((m.Destination == "/dev" && m.Type == "tmpfs") || (m.Destination == "/dev/pts" && m.Type == "devpts")) {
			im.skip(path, fmt.Sprintf("%s with options %s: spawn makes its own %s as runc does (%s)", m.Destination, strings.Join(m.Options, ","), m.Destination, ownDev[m.Destination]))
			continue
		}
		opts := map[string]bool{}
		for _, o := range m.Options {
			opts[o] = true
		}
		switch {
		case m.Type == "overlay" && m.Destination == "/" && sp.Rootfs != nil:
			// export oci's overlay root: the lowers are the plan's; an
			// upper outside the bundle was one the user kept.
			o := &plan.Overlay{}
			for _, opt := range m.Options {
				if v, ok := strings.CutPrefix(opt, "lowerdir="); ok {
					o.Lowers = strings.Split(v, ":")
				} else if v, ok := strings.CutPrefix(opt, "upperdir="); ok && filepath.Dir(v) != filepath.Clean(im.bundle) {
					o.Upper = v
				}
			}
			if len(o.Lowers) == 0 {
				im.skip(path, "an overlay root without lowerdir")
				continue
			}
			sp.Rootfs = &plan.Rootfs{Dir: o.Lowers[0], Overlay: o}
		case m.Type == "proc":
			sp.Mounts = append(sp.Mounts, plan.Mount{Type: "proc", Target: m.Destination})
		case m.Type == "tmpfs":
			// Flags and the filesystem's data alike, as mount(8) takes
			// them: the mechanism tells them apart. nosuid and nodev are
			// what every tmpfs of nsh's has; what nsh ignores is listed.
			var rest []string
			for _, o := range m.Options {
				switch why := plan.MountOptionIgnored(o); {
				case o == "nosuid" || o == "nodev":
				case why != "":
					im.out = append(im.out, Unapplied{path + ".options", o + ": " + why})
				default:
					rest = append(rest, o)
				}
			}
			sp.Mounts = append(sp.Mounts, plan.Mount{Type: "tmpfs", Target: m.Destination, Options: strings.Join(rest, ",")})
		case m.Type == "bind" || opts["bind"] || opts["rbind"]:
			if !filepath.IsAbs(m.Source) {
				im.skip(path, fmt.Sprintf("a bind of %q: give binds absolute sources", m.Source))
				continue
			}
			sp.Mounts = append(sp.Mounts, plan.Mount{Type: "bind", Source: m.Source, Target: m.Destination, ReadOnly: opts["ro"]})
		case m.Type == "mqueue" || m.Type == "sysfs":
			// nsh mounts both nosuid,nodev,noexec, and sysfs read-only
			// too, as runc's template has it.
			if m.Type == "sysfs" && !opts["ro"] {
				im.out = append(im.out, Unapplied{path + ".options", "rw: nsh mounts sysfs read-only"})
			}
			sp.Mounts = append(sp.Mounts, plan.Mount{Type: m.Type, Target: m.Destination})
		default:
			im.skip(path, fmt.Sprintf("a %s mount on %s: nsh mounts proc, tmpfs and binds", m.Type, m.Destination))
			continue
		}
		im.consume(path)
	}
}

func slices_containsMount(list []specs.Mount, m specs.Mount) bool {
	for _, d := range list {
		if reflect.DeepEqual(d, m) {
			return true
		}
	}
	return false
}
