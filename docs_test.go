package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsLinkInside: the repository's own docs link only to what is in
// the repository (or to the web), and every file they link exists.
func TestDocsLinkInside(t *testing.T) {
	root, _ := filepath.Abs(".")
	files := []string{"README.md", "scripts/README.md", "bench/README.md"}
	more, _ := filepath.Glob("docs/*.md")
	files = append(files, more...)
	link := regexp.MustCompile(`\]\(([^)#\s]+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			abs, _ := filepath.Abs(filepath.Join(filepath.Dir(f), target))
			if !strings.HasPrefix(abs, root+"/") {
				t.Errorf("%s links %s, outside the repository", f, target)
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links %s, which does not exist", f, target)
			}
		}
		if strings.Contains(string(b), "shared/spec") || strings.Contains(string(b), "shared/walkthrough") {
			t.Errorf("%s points at the developers' shared folder, which is not in the repository", f)
		}
	}
}
