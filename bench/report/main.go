// Command report turns bench/run.sh's hyperfine results into the tables of
// bench/README.md: medians, per-spawn cost, ratios against the targets.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type result struct {
	Command string    `json:"command"`
	Median  float64   `json:"median"`
	Times   []float64 `json:"times"`
}

func load(dir, name string) map[string]float64 {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	var r struct{ Results []result }
	if err := json.Unmarshal(b, &r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	m := map[string]float64{}
	for _, x := range r.Results {
		m[x.Command] = x.Median * 1000 // ms
	}
	return m
}

func main() {
	dir := os.Args[1]
	host, v1 := load(dir, "host.json"), load(dir, "v1.json")
	if host == nil {
		fmt.Fprintln(os.Stderr, "no results in", dir)
		os.Exit(1)
	}
	host["nsh per spawn in a script"] = host["nsh-script-200"] / 200
	fmt.Println("Medians (hybrid host, one hyperfine run):")
	fmt.Println()
	fmt.Println("| case | median |")
	fmt.Println("|---|---|")
	var names []string
	for n := range host {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return host[names[i]] < host[names[j]] })
	for _, n := range names {
		fmt.Printf("| %s | %.2f ms |\n", n, host[n])
	}
	fmt.Println()
	fmt.Println("| ratio | measured | target |")
	fmt.Println("|---|---|---|")
	ratio := func(label string, a, b, target float64) {
		ok := "met"
		if a/b > target {
			ok = "not met"
		}
		fmt.Printf("| %s | %.2f× | ≤ %.2f× (%s) |\n", label, a/b, target, ok)
	}
	ratio("nsh one-shot / unshare", host["nsh-one-shot"], host["unshare"], 1.5)
	ratio("nsh full state / runc run", host["nsh-full"], host["runc"], 0.25)
	if v1 != nil {
		ratio("nsh full state / crun run (v1 view)", v1["nsh-full"], v1["crun"], 0.6)
		ratio("nsh full state / runc run (v1 view)", v1["nsh-full"], v1["runc"], 0.25)
	}
	ratio("nsh per spawn in a script / unshare", host["nsh per spawn in a script"], host["unshare"], 1.2)
	if b, err := os.ReadFile(filepath.Join(dir, "rss.txt")); err == nil {
		fmt.Println()
		fmt.Println("Peak RSS (KB):", strings.Join(strings.Fields(string(b)), " "))
	}
}
