package capability

import (
	"errors"
	"testing"
)

// The cases capabilities(7) walks through, for Docker's 14 (0xa80425fb).
func TestAfterExec(t *testing.T) {
	const docker = 0xa80425fb
	const netRaw = 1 << 13
	full := Sets{Bounding: docker, Permitted: docker, Effective: docker}
	for _, c := range []struct {
		name string
		in   Sets
		uid  int
		file *FileCaps
		nnp  bool
		want Sets
	}{
		{"root keeps its bounding set as permitted and effective", full, 0, nil, false,
			Sets{Bounding: docker, Permitted: docker, Effective: docker}},
		{"a user without ambient loses everything", full, 1000, nil, false,
			Sets{Bounding: docker}},
		{"a user with ambient keeps them", Sets{Bounding: docker, Permitted: docker, Effective: docker, Inheritable: docker, Ambient: docker}, 1000, nil, false,
			Sets{Bounding: docker, Permitted: docker, Effective: docker, Inheritable: docker, Ambient: docker}},
		{"file capabilities clear ambient and grant theirs", Sets{Bounding: docker, Ambient: 0, Permitted: 0}, 1000, &FileCaps{Permitted: netRaw, Effective: true}, false,
			Sets{Bounding: docker, Permitted: netRaw, Effective: netRaw}},
		{"not beyond the bounding set (without fE it runs)", Sets{Bounding: docker &^ netRaw}, 1000, &FileCaps{Permitted: netRaw}, false,
			Sets{Bounding: docker &^ netRaw}},
		{"no_new_privs: no more than it had", Sets{Bounding: docker}, 1000, &FileCaps{Permitted: netRaw, Effective: true}, true,
			Sets{Bounding: docker}},
		{"file capabilities without the effective bit", Sets{Bounding: docker}, 1000, &FileCaps{Permitted: netRaw}, false,
			Sets{Bounding: docker, Permitted: netRaw}},
	} {
		if got, err := AfterExec(c.in, c.uid, c.file, c.nnp); got != c.want || err != nil {
			t.Errorf("%s: %+v (%v), want %+v", c.name, got, err, c.want)
		}
	}
	// fE with a capability the bounding set lacks: the kernel refuses.
	if _, err := AfterExec(Sets{Bounding: docker &^ netRaw}, 1000, &FileCaps{Permitted: netRaw, Effective: true}, false); !errors.Is(err, ErrExecRefused) {
		t.Errorf("a file capability out of the bounding set, with fE: %v", err)
	}
}
