// Package bpf compiles a seccomp plan into the classic BPF program the
// kernel runs, with libseccomp as runc does. It is the one part of
// seccomp that links C, so only the mechanism and the commands that name
// this machine's system calls import it.
package bpf

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"

	"nsh/isolate/seccomp"
)

// Filter is a compiled filter.
type Filter struct {
	// BPF is the program, struct sock_filter[] as the kernel takes it.
	BPF []byte
	// Rules counts the rules with an action other than the default.
	Rules int
	// Default is the default action, as the spec writes it.
	Default string
	// From, for a filter read from a running process rather than
	// compiled, says whose it is (Rules and Default are unknown then).
	From string
}

// Instructions is the length of the program.
func (f *Filter) Instructions() int { return len(f.BPF) / 8 }

// Summary is what explain says of the filter.
func (f *Filter) Summary() string {
	if f.From != "" {
		return fmt.Sprintf("%s, %d BPF instructions", f.From, f.Instructions())
	}
	return fmt.Sprintf("%d rules, default %s, %d BPF instructions", f.Rules, f.Default, f.Instructions())
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Filter{}
)

// Compile turns a resolved filter into BPF.
func Compile(cfg *specs.LinuxSeccomp) (*Filter, error) {
	return compile(cfg)
}

// For resolves and compiles a plan for a child whose bounding set holds
// caps. The result is kept by plan and capabilities, so a plan is
// resolved and compiled once however many children it starts: a spawn
// pays a map lookup. Nil: no filter.
func For(p *seccomp.Plan, caps []string) (*Filter, error) {
	if p.Empty() {
		return nil, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	key := string(b) + "|" + strings.Join(caps, ",")
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if f, ok := cache[key]; ok {
		return f, nil
	}
	prof, err := seccomp.Resolve(p, caps)
	if err != nil {
		return nil, err
	}
	f, err := compile(prof)
	if err != nil {
		return nil, err
	}
	if len(cache) > 64 {
		clear(cache)
	}
	cache[key] = f
	return f, nil
}
