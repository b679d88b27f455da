package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"nsh/internal/kfile"
)

// What nsh changed outside its children's own cgroups on v2, to undo.
var (
	undoMu   sync.Mutex
	enabled  []enabledCtrls // controllers nsh turned on in a parent
	selfLeaf *leafMove      // nsh moved itself out of the parent
)

type enabledCtrls struct {
	dir   string
	ctrls []string
}

type leafMove struct {
	leaf, parent string
	pids         []int
}

func readFields(file string) []string {
	b, _ := kfile.ReadFile(file)
	return strings.Fields(string(b))
}

// enableControllers makes ctrls available to the children of parent on a
// v2 hierarchy. A cgroup other than the root cannot pass controllers on
// while it holds processes (the no-internal-process rule), so when nsh
// (and its janitor) are all there is in the parent, they move into a leaf
// of their own first; anyone else there is an error.
func enableControllers(x *Hierarchy, parent string, ctrls []string, step Step) error {
	pdir := x.Dir(parent)
	b, err := kfile.ReadFile(filepath.Join(pdir, "cgroup.controllers"))
	if errors.Is(err, fs.ErrNotExist) {
		return missingParent(pdir)
	}
	avail := strings.Fields(string(b))
	on := readFields(filepath.Join(pdir, "cgroup.subtree_control"))
	var need []string
	for _, c := range ctrls {
		if !slices.Contains(avail, c) {
			return fmt.Errorf("controller %s is not delegated to %s: whoever owns its parent must enable it (echo +%s > %s)",
				c, pdir, c, filepath.Join(filepath.Dir(pdir), "cgroup.subtree_control"))
		}
		if !slices.Contains(on, c) {
			need = append(need, c)
		}
	}
	if len(need) == 0 {
		return nil
	}
	undoMu.Lock()
	defer undoMu.Unlock()
	if parent != "/" {
		if err := leaveParent(pdir, step); err != nil {
			return err
		}
	}
	var plus []string
	for _, c := range need {
		plus = append(plus, "+"+c)
	}
	if err := writeFile(step, filepath.Join(pdir, "cgroup.subtree_control"), strings.Join(plus, " ")); err != nil {
		return fmt.Errorf("enable controllers for children: %w", err)
	}
	if parent == "/" {
		// In the root cgroup they stay on: the no-internal-process rule
		// does not bind it, so nothing needs them off again, and turning
		// them off would race with every other nsh (or anyone) whose
		// children use them (systemd turns them all on there anyway).
		step.say("controllers %s stay on in the root cgroup when nsh ends", strings.Join(need, " "))
		return nil
	}
	enabled = append(enabled, enabledCtrls{pdir, need})
	janitorSay(append([]string{"subtree", pdir}, need...)...)
	return nil
}

// leaveParent moves nsh's own processes from pdir into a leaf cgroup.
func leaveParent(pdir string, step Step) error {
	ours := map[int]bool{os.Getpid(): true}
	if p := janitorPid(); p > 0 {
		ours[p] = true
	}
	var move []int
	for _, f := range readFields(filepath.Join(pdir, "cgroup.procs")) {
		pid, _ := strconv.Atoi(f)
		if !ours[pid] {
			return fmt.Errorf("cgroup %s also holds pid %d, so its children cannot be given controllers (the no-internal-process rule): `cgroup parent` a cgroup of your own", pdir, pid)
		}
		move = append(move, pid)
	}
	if len(move) == 0 || selfLeaf != nil {
		return nil
	}
	leaf := filepath.Join(pdir, NamePrefix()+"-self")
	step.say("mkdir %s (nsh leaves %s: a cgroup with processes cannot pass controllers on)", leaf, pdir)
	janitorSay("leaf", leaf, pdir)
	if err := mkdir(leaf); err != nil {
		return fmt.Errorf("mkdir %s: %w", leaf, err)
	}
	for _, pid := range move {
		if err := movePid(leaf, pid, step); err != nil {
			return err
		}
	}
	selfLeaf = &leafMove{leaf: leaf, parent: pdir, pids: move}
	return nil
}

// othersBelow says whether dir has a child cgroup other than nsh's own
// leaf (its children's are removed before this is asked).
func othersBelow(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	for _, e := range ents {
		if e.IsDir() && (selfLeaf == nil || filepath.Join(dir, e.Name()) != selfLeaf.leaf) {
			return true
		}
	}
	return false
}

// Cleanup undoes what nsh changed on v2 outside its children's cgroups:
// the controllers it enabled and its move into a leaf. Children's cgroups
// are removed before, with their children. The janitor is then told that
// nothing is left to do.
func Cleanup() {
	// First: a cgroup below the parent keeps its controllers on.
	DropAhead(nil)
	undoMu.Lock()
	defer undoMu.Unlock()
	for i := len(enabled) - 1; i >= 0; i-- {
		var minus []string
		for _, c := range enabled[i].ctrls {
			minus = append(minus, "-"+c)
		}
		// The kernel lets controllers be turned off while other children
		// of the parent (another nsh's, anyone's) use them, and their
		// files vanish under them (found on a pure v2 host: a second nsh
		// in the same cgroup lost memory.max mid-run). They stay on
		// while the parent has any child cgroup but nsh's own leaf.
		if othersBelow(enabled[i].dir) {
			continue
		}
		os.WriteFile(filepath.Join(enabled[i].dir, "cgroup.subtree_control"), []byte(strings.Join(minus, " ")), 0)
	}
	enabled = nil
	if selfLeaf != nil {
		movePid(selfLeaf.parent, os.Getpid(), nil)
		if p := janitorPid(); p > 0 {
			movePid(selfLeaf.parent, p, nil)
		}
		rmdirRetry(selfLeaf.leaf)
		selfLeaf = nil
	}
	stopJanitor()
}
