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
	il, ilv1 := load(dir, "interleaved.json"), load(dir, "interleaved-v1.json")
	if il != nil {
		perSpawn(il)
		fmt.Println("Targets, from the interleaved runs (one run of each per round, in an")
		fmt.Println("order of its own; the ratios the targets are read from):")
		fmt.Println()
		targets(il, ilv1)
		fmt.Println()
		fmt.Println("The same ratios from the hyperfine batches (each command's runs back to back):")
		fmt.Println()
	}
	perSpawn(host)
	targets(host, v1)
	fmt.Println()
	fmt.Println("nsh against the floor, same work (hyperfine batches):")
	for _, p := range [][2]string{{"nsh-startup", "floor-hello"}, {"nsh-startup", "floor-libs-hello"}, {"nsh-one-shot", "cfloor-one-shot"}, {"nsh-one-shot", "floor-cchild-one-shot"}, {"nsh-one-shot", "floor-stage-one-shot"}, {"nsh-full", "cfloor-full"}, {"nsh-full", "floor-cchild-full"}, {"nsh per spawn in a script", "cfloor per spawn"}, {"nsh per spawn in a script", "floor-cchild per spawn"}} {
		if host[p[0]] == 0 || host[p[1]] == 0 {
			continue
		}
		fmt.Printf("- %s %.2f ms, %s %.2f ms: %.2f×\n", p[0], host[p[0]], p[1], host[p[1]], host[p[0]]/host[p[1]])
	}
	if il != nil {
		// The same cases again, one run of each per round in a shuffled
		// order (bench/interleave): what the machine does meanwhile, and
		// what the run before left it to clean up, falls on all alike.
		fmt.Println()
		fmt.Println("Interleaved (one run of each per round, shuffled):")
		for _, p := range [][2]string{{"nsh-one-shot", "unshare"}, {"cfloor-one-shot", "unshare"}, {"floor-cchild-one-shot", "unshare"}, {"floor-stage-one-shot", "unshare"}, {"nsh-one-shot", "floor-cchild-one-shot"}, {"nsh-one-shot", "floor-libs-cchild-one-shot"}, {"nsh-full", "cfloor-full"}, {"nsh-full", "floor-cchild-full"}, {"nsh per spawn in a script", "cfloor per spawn"}, {"nsh per spawn in a script", "floor-cchild per spawn"}, {"nsh-startup", "floor-hello"}, {"floor-libs-hello", "floor-hello"}, {"nsh-startup", "floor-libs-hello"}} {
			if il[p[0]] > 0 && il[p[1]] > 0 {
				fmt.Printf("- %s %.2f ms, %s %.2f ms: %.2f×\n", p[0], il[p[0]], p[1], il[p[1]], il[p[0]]/il[p[1]])
			}
		}
		if ilv1 != nil {
			fmt.Println("- on the v1 view:")
			for _, p := range [][2]string{{"nsh-full", "crun"}, {"nsh-full", "runc"}, {"nsh-full", "cfloor-full"}, {"nsh-full", "floor-cchild-full"}} {
				if ilv1[p[0]] > 0 && ilv1[p[1]] > 0 {
					fmt.Printf("  - %s %.2f ms, %s %.2f ms: %.2f×\n", p[0], ilv1[p[0]], p[1], ilv1[p[1]], ilv1[p[0]]/ilv1[p[1]])
				}
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "rss.txt")); err == nil {
		fmt.Println()
		fmt.Println("Peak RSS (KB):", strings.Join(strings.Fields(string(b)), " "))
	}
}

// perSpawn adds the per-spawn cost of the runs of 200 spawns.
func perSpawn(m map[string]float64) {
	for k, n := range map[string]string{"nsh-script-200": "nsh per spawn in a script", "floor-full-200": "floor per spawn", "floor-stage-full-200": "floor-stage per spawn", "floor-cchild-full-200": "floor-cchild per spawn", "cfloor-full-200": "cfloor per spawn"} {
		if v, ok := m[k]; ok {
			m[n] = v / 200
		}
	}
}

// targets prints issue 35's targets: each of nsh's ratios beside the same
// ratio for the two floors, the C floor (bench/cfloor: the kernel's work
// with nothing around it) and the Go-with-C-child floor (bench/floor
// cchild-*: a Go program linked as nsh is whose child runs C straight
// after clone3). Where a floor itself misses a target, the kernel or Go
// set it on this machine, not nsh.
func targets(host, v1 map[string]float64) {
	fmt.Println("| ratio | nsh | C floor | Go-with-C-child floor | target |")
	fmt.Println("|---|---|---|---|---|")
	ratio := func(label string, m map[string]float64, a, cf, gf, b string, target float64) {
		if m[a] == 0 || m[b] == 0 {
			return
		}
		ok := "met"
		if m[a]/m[b] > target {
			ok = "not met"
		}
		cell := func(name string) string {
			if name == "" || m[name] == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f×", m[name]/m[b])
		}
		fmt.Printf("| %s | %.2f× | %s | %s | ≤ %.2f× (%s) |\n", label, m[a]/m[b], cell(cf), cell(gf), target, ok)
	}
	ratio("one-shot, 6 namespaces / unshare", host, "nsh-one-shot", "cfloor-one-shot", "floor-cchild-one-shot", "unshare", 1.6)
	ratio("one-shot / the Go-with-C-child floor's", host, "nsh-one-shot", "", "", "floor-cchild-one-shot", 1.1)
	ratio("one-shot / the same floor linking the four chosen libraries", host, "nsh-one-shot", "", "", "floor-libs-cchild-one-shot", 1.1)
	ratio("full state / runc run", host, "nsh-full", "cfloor-full", "floor-cchild-full", "runc", 0.15)
	if v1 != nil {
		ratio("full state / crun run (v1 view)", v1, "nsh-full", "cfloor-full", "floor-cchild-full", "crun", 0.4)
		ratio("full state / runc run (v1 view)", v1, "nsh-full", "cfloor-full", "floor-cchild-full", "runc", 0.15)
	}
	ratio("per spawn in a script, full state / the C floor's", host, "nsh per spawn in a script", "", "floor-cchild per spawn", "cfloor per spawn", 1.05)
	ratio("`nsh --version` / a hello with the four chosen libraries", host, "nsh-startup", "", "", "floor-libs-hello", 1.25)
	if host["floor-libs-hello"] > 0 && host["floor-hello"] > 0 {
		fmt.Printf("| the hello with the four libraries / a static Go hello | — | — | — | %.2f× (the start the brief's choices set) |\n", host["floor-libs-hello"]/host["floor-hello"])
	}
}
