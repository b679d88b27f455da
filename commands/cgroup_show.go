package commands

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"nsh/isolate/cgroup"
)

func cgroupShow(s *Session) error {
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	cfg := cgroup.Config{}
	if s.Spec.Cgroup != nil {
		cfg = *s.Spec.Cgroup
	}
	where := "a cgroup of its own under nsh's"
	switch {
	case cfg.Off:
		where = "no cgroup of its own (cgroup off)"
	case cfg.Use != "":
		where = "the existing cgroup " + cfg.Use + " (cgroup use)"
	case cfg.Parent != "":
		where = "a cgroup of its own under " + cfg.Parent
	}
	if s.json {
		doc := cgroupShowJSON{Host: string(h.Mode), Placement: where, Settings: []cgroupSettingJSON{},
			Devices: len(cgroup.EffectiveDevices(s.Spec.Rootfs != nil, cfg.Devices))}
		files := h.Describe(cfg.Settings)
		for i, st := range cfg.Settings {
			doc.Settings = append(doc.Settings, cgroupSettingJSON{Key: st.Key, Value: st.Value, WrittenAs: files[i]})
		}
		return s.emit(doc)
	}
	fmt.Fprintf(s.Out, "host: cgroup %s; each child gets %s\n", h.Mode, where)
	if eff := cgroup.EffectiveDevices(s.Spec.Rootfs != nil, cfg.Devices); len(eff) > 0 && !cfg.Off && cfg.Use == "" {
		src := "the plan's"
		if s.Spec.Rootfs != nil {
			src = "runc's default (a rootfs is planned)"
			if len(cfg.Devices) > 0 {
				src += fmt.Sprintf(" and %d of the plan's", len(cfg.Devices))
			}
		}
		var how []string
		if h.V1For("devices") != nil {
			how = append(how, "devices.deny/devices.allow")
		}
		if h.Unified() != nil {
			how = append(how, "an eBPF device program on the v2 cgroup")
		}
		if len(how) == 0 {
			fmt.Fprintf(s.Out, "device allowlist: %s, not applied: neither the v1 devices controller nor cgroup v2 here\n", src)
		} else {
			fmt.Fprintf(s.Out, "device allowlist: %s, %d rules, as %s (cgroup devices lists them)\n", src, len(eff), strings.Join(how, " and "))
		}
	}
	if len(cfg.Settings) == 0 {
		fmt.Fprintln(s.Out, "no limits planned (cgroup set KEY VALUE plans one)")
		return nil
	}
	files := h.Describe(cfg.Settings)
	var rows [][]string
	for i, st := range cfg.Settings {
		rows = append(rows, []string{st.Key, displayValue(st), files[i]})
	}
	return printTable(s.Out, []string{"KEY", "VALUE", "WRITTEN AS"}, rows)
}

// displayValue shows sizes the way they are typed.
func displayValue(st cgroup.Setting) string {
	if strings.HasPrefix(st.Key, "memory.") {
		return cgroup.FormatSize(st.Value)
	}
	return st.Value
}

func cgroupLs(s *Session) error {
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	if s.json {
		doc := cgroupLsJSON{Host: string(h.Mode), Hierarchies: []hierarchyJSON{}}
		for _, x := range h.Hierarchies {
			v := 1
			if x.V2 {
				v = 2
			}
			doc.Hierarchies = append(doc.Hierarchies, hierarchyJSON{Controllers: nonNil(x.Controllers), Version: v, Mount: x.Mount, Self: x.Self})
		}
		return s.emit(doc)
	}
	fmt.Fprintf(s.Out, "host: cgroup %s\n", h.Mode)
	var rows [][]string
	for _, x := range h.Hierarchies {
		kind := "v1"
		if x.V2 {
			kind = "v2"
		}
		ctrls := strings.Join(x.Controllers, ",")
		if ctrls == "" {
			ctrls = "(no controllers)"
		}
		rows = append(rows, []string{ctrls, kind, x.Mount, x.Self})
	}
	return printTable(s.Out, []string{"CONTROLLERS", "VERSION", "MOUNTED AT", "NSH'S CGROUP"}, rows)
}

func cgroupInspect(s *Session, sub string, g *cgroup.Group) error {
	switch sub {
	case "procs":
		pids, err := g.Procs()
		if err != nil {
			return fmt.Errorf("cgroup procs: %w", err)
		}
		for _, p := range pids {
			fmt.Fprintln(s.Out, p)
		}
	case "stat":
		var rows [][]string
		for _, st := range g.Stats() {
			limit := st.Limit
			if limit == "" {
				limit = "-"
			}
			rows = append(rows, []string{st.Name, st.Value, limit, st.File})
		}
		return printTable(s.Out, []string{"STAT", "VALUE", "LIMIT", "FROM"}, rows)
	case "files":
		files, err := g.Files()
		if err != nil {
			return fmt.Errorf("cgroup files: %w", err)
		}
		for _, d := range g.Dirs() {
			names := files[d]
			sort.Strings(names)
			fmt.Fprintf(s.Out, "%s/ (%d files)\n", d, len(names))
			for _, n := range names {
				fmt.Fprintf(s.Out, "  %s\n", n)
			}
		}
	}
	return nil
}

// cgroupPrompt is the limits part of the prompt: mem=100M pids=20 cpu=0.5.
func cgroupPrompt(c *cgroup.Config) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, st := range c.Settings {
		switch st.Key {
		case "memory.max":
			out = append(out, "mem="+cgroup.FormatSize(st.Value))
		case "pids.max":
			out = append(out, "pids="+st.Value)
		case "cpu.max":
			q, p, _ := strings.Cut(st.Value, " ")
			qn, err1 := strconv.ParseFloat(q, 64)
			pn, err2 := strconv.ParseFloat(p, 64)
			if err1 == nil && err2 == nil && pn > 0 {
				out = append(out, "cpu="+strconv.FormatFloat(qn/pn, 'f', -1, 64))
			}
		}
	}
	if c.Use != "" {
		out = append(out, "cg="+c.Use)
	}
	if c.Off {
		out = append(out, "cg=off")
	}
	if n := len(c.Devices); n > 0 {
		out = append(out, fmt.Sprintf("dev+%d", n))
	}
	return out
}

// cgroupShowLive prints a running child's limits as its cgroup files hold
// them now: each known key's file (v1: the file it translates to) and its
// contents.
func cgroupShowLive(s *Session, ref string) error {
	t, g, err := s.procGroup("cgroup show", ref)
	if err != nil {
		return err
	}
	defer t.release()
	var rows [][]string
	doc := cgroupLiveJSON{Pid: t.pid, Values: []cgroupLiveValue{}}
	for _, l := range g.Live() {
		rows = append(rows, []string{l.Name, l.Value, l.File})
		// On v1 a key's file is another (cpu.shares for cpu.weight,
		// two for cpu.max): each value is labelled by the file it is.
		doc.Values = append(doc.Values, cgroupLiveValue{Key: filepath.Base(l.File), For: l.Name, Value: jsonValue(l.Value), File: l.File})
	}
	if s.json {
		return s.emit(doc)
	}
	return printTable(s.Out, []string{"KEY", "NOW", "FILE"}, rows)
}
