package commands

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"nsh/isolate"
	"nsh/isolate/cgroup"
	"nsh/plan"
)

// The documents --json prints, one type per command; docs/json.md is
// their reference. Names follow lsns -J (ns, type) and runc where they
// cover the same data; numbers are numbers, and a list is [] when empty.

// Documents names every document --json prints by the form that prints
// it; docs/json/NAME.schema.json is its JSON Schema, generated from the
// type (TestJSONSchemas keeps them equal) and checked against the real
// output in the script tests (json.txtar's jsonschema lines).
var Documents = map[string]any{
	"ps": psJSON{}, "ps-tree": treeNode{}, "ns": nsJSON{}, "ns-diff": nsDiffJSON{},
	"cap-show": capShowJSON{}, "cap-decode": capDecodeJSON{},
	"cgroup-show": cgroupShowJSON{}, "cgroup-show-pid": cgroupLiveJSON{}, "cgroup-ls": cgroupLsJSON{},
	"cgroup-procs": cgroupProcsJSON{}, "cgroup-stat": cgroupStatJSON{}, "cgroup-files": cgroupFilesJSON{},
	"show": showJSON{}, "doctor": doctorJSON{}, "mount": mountJSON{}, "rlimit-show": rlimitJSON{},
	"seccomp-plan": seccompPlanDoc{}, "seccomp-show": seccompShowJSON{}, "diff": diffJSON{},
	"top": topDoc{}, "error": jsonError{},
}

type psJSON struct {
	Children []psChild `json:"children"`
}

type psChild struct {
	ID         int      `json:"id"`
	Name       string   `json:"name,omitempty"`
	Pid        int      `json:"pid"`
	State      string   `json:"state"`               // running or exited
	ExitCode   *int     `json:"exit_code,omitempty"` // once exited: 128+N for signal N, as docker's ExitCode
	Command    []string `json:"command"`
	Namespaces []string `json:"namespaces"`       // new ones, as unshare names them
	Cgroup     string   `json:"cgroup,omitempty"` // while running
}

func nsList(summary string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(summary, func(r rune) bool { return r == ',' || r == ' ' }) {
		if f != "-" {
			out = append(out, f)
		}
	}
	return out
}

type nsJSON struct {
	Pid        int       `json:"pid"`
	Namespaces []nsEntry `json:"namespaces"`
	Pins       []pinJSON `json:"pins,omitempty"`
}

type nsEntry struct {
	Type      string `json:"type"` // the /proc/PID/ns link: uts, pid_for_children...
	NS        uint64 `json:"ns"`   // inode, as lsns -J
	SameAsNsh bool   `json:"same_as_nsh"`
}

type pinJSON struct {
	Path string `json:"path"`
	Type string `json:"type"`
	NS   uint64 `json:"ns"`
	From string `json:"from"`
}

type nsDiffJSON struct {
	A          string        `json:"a"`
	B          string        `json:"b"`
	Namespaces []nsDiffEntry `json:"namespaces"`
}

type nsDiffEntry struct {
	Type   string `json:"type"`
	A      uint64 `json:"a"` // inode; 0 when unreadable
	B      uint64 `json:"b"`
	Shared bool   `json:"shared"`
}

type capSetJSON struct {
	Hex   string   `json:"hex"`
	Names []string `json:"names"`
}

type capShowJSON struct {
	Pid        int                   `json:"pid"`
	UID        int                   `json:"uid"`
	GID        int                   `json:"gid"`
	NoNewPrivs bool                  `json:"no_new_privs"`
	Sets       map[string]capSetJSON `json:"sets"`
}

type capDecodeJSON capSetJSON

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

type cgroupSettingJSON struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	WrittenAs string `json:"written_as"`
}

type cgroupShowJSON struct {
	Host      string              `json:"host"` // v1, v2 or hybrid
	Placement string              `json:"placement"`
	Devices   int                 `json:"device_rules"`
	Settings  []cgroupSettingJSON `json:"settings"`
}

type hierarchyJSON struct {
	Controllers []string `json:"controllers"`
	Version     int      `json:"version"`
	Mount       string   `json:"mount"`
	Self        string   `json:"nsh_cgroup"`
}

type cgroupLsJSON struct {
	Host        string          `json:"host"`
	Hierarchies []hierarchyJSON `json:"hierarchies"`
}

type cgroupLiveValue struct {
	Key   string `json:"key"`   // the file's own name: cpu.shares on v1
	For   string `json:"for"`   // the v2 key it holds: cpu.weight
	Value any    `json:"value"` // a number where the file holds one (-1: unlimited), else its text
	File  string `json:"file"`
}

type cgroupLiveJSON struct {
	Pid    int               `json:"pid"`
	Values []cgroupLiveValue `json:"values"`
}

// jsonValue is a number when the text is one, and -1 when it says
// unlimited, as rlimit show, top and the runtime spec say it: v2's max,
// and v1's largest page-aligned value (what memory.limit_in_bytes reads
// with no limit).
func jsonValue(v string) any {
	v = strings.TrimSpace(v)
	if v == "max" {
		return int64(-1)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n >= math.MaxInt64-(1<<20) {
			return int64(-1)
		}
		return n
	}
	return v
}

type cgroupProcsJSON struct {
	Pid   int   `json:"pid"`
	Procs []int `json:"procs"`
}

type cgroupStatJSON struct {
	Pid   int              `json:"pid"`
	Stats map[string]int64 `json:"stats"`
}

type cgroupDirJSON struct {
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
}

type cgroupFilesJSON struct {
	Pid  int             `json:"pid"`
	Dirs []cgroupDirJSON `json:"dirs"`
}

func cgroupInspectJSON(s *Session, sub string, pid int, g *cgroup.Group) error {
	switch sub {
	case "procs":
		pids, err := g.Procs()
		if err != nil {
			return fmt.Errorf("cgroup procs: %w", err)
		}
		return s.emit(cgroupProcsJSON{pid, append([]int{}, pids...)})
	case "stat":
		stats := map[string]int64{}
		for _, st := range g.Stats() {
			stats[st.Key] = st.Raw
		}
		return s.emit(cgroupStatJSON{pid, stats})
	}
	files, err := g.Files()
	if err != nil {
		return fmt.Errorf("cgroup files: %w", err)
	}
	doc := cgroupFilesJSON{Pid: pid, Dirs: []cgroupDirJSON{}}
	for _, d := range g.Dirs() {
		names := append([]string{}, files[d]...)
		sort.Strings(names)
		doc.Dirs = append(doc.Dirs, cgroupDirJSON{d, names})
	}
	return s.emit(doc)
}

type showJSON struct {
	Plan    *plan.Spec `json:"plan"` // the session's plan, as save keeps it
	Explain bool       `json:"explain"`
	Time    bool       `json:"time"` // time on: every foreground spawn's costs
}

type doctorCheck struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok, warn or no
	Detail string `json:"detail"`
}

type doctorJSON struct {
	Checks []doctorCheck `json:"checks"`
}

type mountJSON struct {
	Mounts []plan.Mount `json:"mounts"`
}

type rlimitEntry struct {
	Resource    string `json:"resource"`
	Description string `json:"description"`
	Soft        int64  `json:"soft"` // -1: unlimited
	Hard        int64  `json:"hard"`
	Units       string `json:"units"`
}

type rlimitJSON struct {
	Pid    int           `json:"pid,omitempty"` // 0: what children of the plan get
	Limits []rlimitEntry `json:"limits"`
}

func limitJSON(v uint64) int64 {
	if v == plan.Unlimited {
		return -1
	}
	return int64(v)
}

type seccompPlanDoc struct {
	Preset        string   `json:"preset,omitempty"`
	LoadedProfile bool     `json:"loaded_profile,omitempty"`
	Rules         []string `json:"rules"`
	Default       string   `json:"default"`
	Filter        bool     `json:"filter"` // whether children get one
	CompiledRules int      `json:"compiled_rules,omitempty"`
	Instructions  int      `json:"instructions,omitempty"`
	Error         string   `json:"error,omitempty"`
}

func seccompPlanJSON(sp *plan.Spec) seccompPlanDoc {
	p := sp.Seccomp
	doc := seccompPlanDoc{Rules: []string{}, Default: "allow"}
	if p == nil {
		return doc
	}
	doc.Preset, doc.LoadedProfile, doc.Default = p.Preset, p.Profile != nil, p.DefaultAction().String()
	for _, r := range p.Rules {
		doc.Rules = append(doc.Rules, r.String())
	}
	f, err := isolate.SeccompFilter(sp)
	switch {
	case err != nil:
		doc.Error = err.Error()
	case f != nil:
		doc.Filter, doc.CompiledRules, doc.Instructions = true, f.Rules, f.Instructions()
	}
	return doc
}

type seccompShowJSON struct {
	Pid         int             `json:"pid"`
	Mode        int             `json:"mode"`
	ModeName    string          `json:"mode_name"`
	Filters     int             `json:"filters"`
	StartedWith *seccompPlanDoc `json:"started_with,omitempty"`
}
