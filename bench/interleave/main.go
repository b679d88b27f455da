// Command interleave times commands in turn, one run of each per round,
// so that whatever the machine does meanwhile (on the development VM, the
// kernel's asynchronous cleanup of the network namespaces the previous
// runs made, and the hypervisor's neighbours) falls on all of them alike.
// hyperfine runs each command's runs back to back, and on this VM the same
// command's median moved by a quarter between two such runs minutes apart.
// Each round runs the commands in an order of its own (a shuffle, seeded
// by -seed): in one fixed order a command pays for what the one before it
// left the kernel to clean up (a network namespace's teardown runs after
// its last process has gone), and on this VM the first of four nsh
// builds, run after crun each round, came out 3.3 ms slower than the
// same build placed second.
//
//	interleave -runs N -warmup W -seed S -o FILE.json NAME=COMMAND...
//
// COMMAND is split as a shell would split words (no shell runs); the JSON
// has hyperfine's shape (results: command, median, times in seconds), so
// bench/report reads it beside hyperfine's.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/shlex"
)

type result struct {
	Command string    `json:"command"`
	Median  float64   `json:"median"`
	Times   []float64 `json:"times"`
}

func main() {
	runs := flag.Int("runs", 40, "rounds")
	warmup := flag.Int("warmup", 3, "rounds run first and not counted")
	out := flag.String("o", "", "write the results here as JSON")
	seed := flag.Int64("seed", 1, "the seed of each round's order")
	flag.Parse()
	type cmd struct {
		name string
		argv []string
	}
	var cmds []cmd
	for _, a := range flag.Args() {
		name, line, ok := strings.Cut(a, "=")
		argv, err := shlex.Split(line)
		if !ok || err != nil || len(argv) == 0 {
			fmt.Fprintf(os.Stderr, "interleave: %q: want NAME=COMMAND\n", a)
			os.Exit(2)
		}
		path, err := exec.LookPath(argv[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "interleave:", err)
			os.Exit(2)
		}
		argv[0] = path
		cmds = append(cmds, cmd{name, argv})
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interleave:", err)
		os.Exit(1)
	}
	times := make([][]float64, len(cmds))
	rng := rand.New(rand.NewSource(*seed))
	order := make([]int, len(cmds))
	for i := range order {
		order[i] = i
	}
	for round := 0; round < *warmup+*runs; round++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			c := cmds[i]
			start := time.Now()
			if err := run(c.argv, null); err != nil {
				fmt.Fprintf(os.Stderr, "interleave: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			if round >= *warmup {
				times[i] = append(times[i], time.Since(start).Seconds())
			}
		}
	}
	var doc struct {
		Results []result `json:"results"`
	}
	for i, c := range cmds {
		t := append([]float64(nil), times[i]...)
		sort.Float64s(t)
		doc.Results = append(doc.Results, result{Command: c.name, Median: t[len(t)/2], Times: times[i]})
		fmt.Printf("%-24s median %7.2f ms\n", c.name, t[len(t)/2]*1000)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(doc, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "interleave:", err)
			os.Exit(1)
		}
	}
}

// run runs argv to its end, its output dropped. syscall.ForkExec and
// wait4 rather than os/exec, whose extra work (pipes, a pidfd, a
// goroutine) would be timed with every command.
func run(argv []string, null *os.File) error {
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd()},
	})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("%s: status %v", argv[0], ws)
	}
	return nil
}
