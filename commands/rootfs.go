package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"nsh/isolate"
	"nsh/plan"
)

func init() {
	later("rootfs mount", func() {
		register(
			&Command{
				Name: "rootfs", Group: "filesystem",
				Usage: []string{"rootfs DIR [ro]", "rootfs DIR overlay [--upper DIR]", "rootfs overlay LOWER1:LOWER2... [--upper DIR]",
					"rootfs --image oci:DIR[:TAG]|FILE.tar [--cache DIR] [--upper DIR]", "rootfs --busybox DIR", "rootfs off", "rootfs"},
				Summary: "children pivot_root into DIR (a new mnt namespace comes with it)",
				Example: "rootfs --busybox /tmp/root; unshare pid; spawn ps",
				Help: "The child stage bind-mounts DIR on itself, mounts /proc and a minimal /dev (null, zero, full,\n" +
					"random, urandom, tty, pts, shm) where DIR has them, then pivot_root(\".\", \".\") and detaches the\n" +
					"old root: the host's files are gone from view, which chroot alone would not ensure.\n" +
					"ro makes the root read-only. overlay makes it an overlayfs, as an image becomes a container:\n" +
					"DIR (or LOWER1:LOWER2..., the first on top) is the read-only lower layer, never changed, and\n" +
					"each child gets an upper layer of its own that takes its changes (diff @ID and commit @ID\n" +
					"read it) and goes with the child; --upper DIR keeps it in DIR instead. The overlay is mounted\n" +
					"in the child's mount namespace only. --image makes the layers of an image the lowers: an OCI\n" +
					"image layout (oci:DIR, what commit @ID DIR and skopeo write; :TAG picks one of several) or\n" +
					"the tar podman save or docker save writes; each layer is checked against its digest and\n" +
					"unpacked once into a cache (this session's, removed when nsh ends, or --cache DIR, kept and\n" +
					"reused), deletions as overlayfs's whiteouts, and the image's Entrypoint and Cmd, Env,\n" +
					"WorkingDir and User become the process spawn runs by default. --busybox DIR builds a minimal rootfs from the host's static\n" +
					"busybox (apt-get install busybox-static). Richer ones: debootstrap stable DIR, or\n" +
					"docker export $(docker create debian) | tar -C DIR -x.",
				Run: runRootfs,
				Complete: func(s *Session, args []string, partial string) []string {
					switch len(args) {
					case 0:
						return append([]string{"--busybox", "--image", "off"}, completeFiles(nil, partial)...)
					case 1:
						if args[0] == "--image" {
							return append([]string{"oci:"}, completeFiles(nil, partial)...)
						}
						if args[0] == "--busybox" || args[0] == "overlay" {
							return completeFiles(nil, partial)
						}
						return []string{"ro", "overlay"}
					default:
						if args[0] == "--image" {
							if last := args[len(args)-1]; last == "--cache" || last == "--upper" {
								return completeFiles(nil, partial)
							}
							return []string{"--cache", "--upper"}
						}
						if args[len(args)-1] == "--upper" {
							return completeFiles(nil, partial)
						}
						if args[len(args)-1] == "overlay" || args[0] == "overlay" {
							return []string{"--upper"}
						}
					}
					return nil
				},
			},
			&Command{
				Name: "mount", Group: "filesystem",
				Subs: []Sub{
					{Name: "proc", Usage: []string{"mount proc [PATH]"}, Run: mountAdd(mountKernel("proc", "/proc")), Complete: completeFirstFile},
					{Name: "sysfs", Usage: []string{"mount sysfs [PATH]"}, Run: mountAdd(mountKernel("sysfs", "/sys")), Complete: completeFirstFile},
					{Name: "mqueue", Usage: []string{"mount mqueue [PATH]"}, Run: mountAdd(mountKernel("mqueue", "/dev/mqueue")), Complete: completeFirstFile},
					{Name: "tmpfs", Usage: []string{"mount tmpfs PATH [size=N]"}, Run: mountAdd(mountTmpfs),
						Complete: func(s *Session, args []string, partial string) []string {
							switch len(args) {
							case 0:
								return completeFiles(nil, partial)
							case 1:
								return []string{"size=64M"}
							}
							return nil
						}},
					{Name: "bind", Usage: []string{"mount bind SRC DST [ro]"}, Run: mountAdd(mountBind),
						Complete: func(s *Session, args []string, partial string) []string {
							switch len(args) {
							case 0, 1:
								return completeFiles(nil, partial)
							case 2:
								return []string{"ro"}
							}
							return nil
						}},
					{Name: "rm", Usage: []string{"mount rm DST"}, Run: mountRm,
						Complete: func(s *Session, args []string, partial string) []string {
							var out []string
							for _, m := range s.Spec.Mounts {
								out = append(out, m.Target)
							}
							return out
						}},
				},
				Bare: mountList, BareJSON: true,
				Summary: "extra mounts in the child's new mount namespace (inside the rootfs when there is one)",
				Example: "unshare mnt; mount tmpfs /mnt size=16m; spawn df -h /mnt",
				Help: "Made after mount propagation is private, so nothing reaches the host. Without a rootfs the\n" +
					"mount points must exist; inside a rootfs missing ones are made. proc, sysfs and mqueue are\n" +
					"the kernel's views of the child's own pid, net and ipc namespaces, mounted nosuid,nodev,noexec\n" +
					"as runc mounts them (sysfs read-only too); in a user namespace the kernel mounts sysfs and\n" +
					"mqueue only with a net, an ipc namespace of the child's own.",
			},
		)
	})
}

func runRootfs(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		if r := s.Spec.Rootfs; r != nil {
			fmt.Fprintln(s.Out, rootfsText(r))
		} else {
			fmt.Fprintln(s.Out, "no rootfs: children see the host's files")
		}
		return nil
	}
	next := s.Spec.Clone()
	dropImageProcess(next, s.Spec.Rootfs)
	switch {
	case args[0] == "--image":
		if err := rootfsImage(s, c, args[1:], next); err != nil {
			return err
		}
	case args[0] == "off" && len(args) == 1:
		next.Rootfs = nil
		withoutRuncHidden(next)
		return s.commit(next)
	case args[0] == "--busybox":
		if len(args) != 2 {
			return usageError(c, "rootfs --busybox needs a directory")
		}
		dir, err := filepath.Abs(args[1])
		if err != nil {
			return err
		}
		if err := isolate.BuildBusybox(dir, s.explain); err != nil {
			return fmt.Errorf("rootfs --busybox: %w", err)
		}
		fmt.Fprintf(s.Err, "rootfs: built a busybox rootfs in %s (bin, sbin, usr, etc, proc, dev, tmp; busybox and its applets)\n", dir)
		next.Rootfs = &plan.Rootfs{Dir: dir}
	case args[0] == "overlay" || (len(args) > 1 && args[1] == "overlay"):
		o, err := parseOverlay(c, args)
		if err != nil {
			return err
		}
		next.Rootfs = &plan.Rootfs{Dir: o.Lowers[0], Overlay: o}
	case len(args) == 1 || (len(args) == 2 && args[1] == "ro"):
		dir, err := filepath.Abs(args[0])
		if err != nil {
			return err
		}
		if err := isolate.CheckRootfs(dir); err != nil {
			return fmt.Errorf("rootfs %s: %w", args[0], err)
		}
		next.Rootfs = &plan.Rootfs{Dir: dir, ReadOnly: len(args) == 2}
	default:
		return usageError(c, "give a directory, and ro for a read-only root")
	}
	withRuncHidden(s, s.Spec, next)
	if !next.Has("mnt") {
		// pivot_root needs a mount namespace of the child's own.
		next.Namespaces = append(next.Namespaces, "mnt")
		fmt.Fprintln(s.Err, "rootfs: unshared mnt too: pivot_root needs a mount namespace of the child's own")
	}
	return s.commit(next)
}

// parseOverlay reads "DIR overlay [--upper DIR]" and "overlay L1:L2...
// [--upper DIR]".
func parseOverlay(c *Command, args []string) (*plan.Overlay, error) {
	var lowers string
	rest := args
	if args[0] == "overlay" {
		if len(args) < 2 || strings.HasPrefix(args[1], "--") {
			return nil, usageError(c, "rootfs overlay needs its lower layers: LOWER1:LOWER2..., the first on top")
		}
		lowers, rest = args[1], args[2:]
	} else {
		lowers, rest = args[0], args[2:]
	}
	o := &plan.Overlay{}
	switch {
	case len(rest) == 0:
	case len(rest) == 2 && rest[0] == "--upper":
		up, err := filepath.Abs(rest[1])
		if err != nil {
			return nil, err
		}
		o.Upper = up
	default:
		return nil, usageError(c, "after the lower layers only --upper DIR may come")
	}
	for _, l := range strings.Split(lowers, ":") {
		if l == "" {
			return nil, usageError(c, fmt.Sprintf("empty lower layer in %q: separate directories with single ':'", lowers))
		}
		abs, err := filepath.Abs(l)
		if err != nil {
			return nil, err
		}
		o.Lowers = append(o.Lowers, abs)
	}
	if err := isolate.CheckOverlay(o); err != nil {
		return nil, fmt.Errorf("rootfs overlay: %w", err)
	}
	return o, nil
}

func rootfsText(r *plan.Rootfs) string {
	if r.Image != nil {
		return imageWords(r, Quote)
	}
	if r.Overlay != nil {
		return r.Overlay.String()
	}
	if r.ReadOnly {
		return r.Dir + " ro"
	}
	return r.Dir
}

func mountList(s *Session) error {
	if s.json {
		return s.emit(mountJSON{Mounts: append([]plan.Mount{}, s.Spec.Mounts...)})
	}
	if len(s.Spec.Mounts) == 0 {
		fmt.Fprintln(s.Out, "no extra mounts planned")
	}
	for _, m := range s.Spec.Mounts {
		fmt.Fprintln(s.Out, m)
	}
	return nil
}

func mountRm(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "mount rm takes the mount point")
	}
	next := s.Spec.Clone()
	var keep []plan.Mount
	for _, x := range next.Mounts {
		if x.Target != args[0] {
			keep = append(keep, x)
		}
	}
	if len(keep) == len(next.Mounts) {
		return fmt.Errorf("mount rm: nothing is planned on %s (mount lists the plan)", args[0])
	}
	next.Mounts = keep
	return s.commit(next)
}

// mountKernel plans a filesystem of the kernel's own (proc, sysfs,
// mqueue), at its usual place unless a path is given.
func mountKernel(fstype, at string) func(c *Command, args []string) (plan.Mount, error) {
	return func(c *Command, args []string) (plan.Mount, error) {
		if len(args) > 1 {
			return plan.Mount{}, usageError(c, "mount "+fstype+" takes at most a path")
		}
		m := plan.Mount{Type: fstype, Target: at}
		if len(args) == 1 {
			m.Target = args[0]
		}
		return m, nil
	}
}

func mountTmpfs(c *Command, args []string) (plan.Mount, error) {
	if len(args) < 1 || len(args) > 2 {
		return plan.Mount{}, usageError(c, "mount tmpfs needs a path, and may take size=N")
	}
	m := plan.Mount{Type: "tmpfs", Target: args[0]}
	if len(args) == 2 {
		size, ok := strings.CutPrefix(args[1], "size=")
		if !ok || !validTmpfsSize(size) {
			return plan.Mount{}, usageError(c, fmt.Sprintf("bad option %q: give size=N with an optional k, m or g (or a %% of memory)", args[1]))
		}
		m.Options = "size=" + size
	}
	return m, nil
}

func mountBind(c *Command, args []string) (plan.Mount, error) {
	if len(args) < 2 || len(args) > 3 || (len(args) == 3 && args[2] != "ro") {
		return plan.Mount{}, usageError(c, "mount bind needs a source and a target, then optionally ro")
	}
	src, err := filepath.Abs(args[0])
	if err != nil {
		return plan.Mount{}, err
	}
	if _, err := os.Stat(src); err != nil {
		return plan.Mount{}, fmt.Errorf("mount bind: source %w", err)
	}
	return plan.Mount{Type: "bind", Source: src, Target: args[1], ReadOnly: len(args) == 3}, nil
}

// mountAdd plans the mount a subcommand makes of its words.
func mountAdd(parse func(c *Command, args []string) (plan.Mount, error)) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, args []string) error {
		m, err := parse(c, args)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(m.Target, "/") {
			return usageError(c, fmt.Sprintf("the mount point %q must be absolute", m.Target))
		}
		m.Target = filepath.Clean(m.Target)
		next := s.Spec.Clone()
		if next.Rootfs == nil {
			if _, err := os.Stat(m.Target); err != nil {
				return fmt.Errorf("mount %s: the mount point %w: create it first (nsh makes missing ones only inside a rootfs)", m, err)
			}
		}
		next.Mounts = append(next.Mounts, m)
		return s.commit(next)
	}
}

func validTmpfsSize(s string) bool {
	if strings.HasSuffix(s, "%") {
		s = strings.TrimSuffix(s, "%")
	} else if n := len(s); n > 0 && strings.ContainsAny(s[n-1:], "kmgKMG") {
		s = s[:n-1]
	}
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
