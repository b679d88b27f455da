package commands

import (
	"os"
	"testing"
)

// docs/commands.md is the registry as Markdown: it never drifts from what
// help says. NSH_UPDATE=1 writes it again.
func TestReference(t *testing.T) {
	const file = "../docs/commands.md"
	want := Reference()
	if os.Getenv("NSH_UPDATE") == "1" {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s differs from the registry: NSH_UPDATE=1 go test ./commands -run TestReference writes it again", file)
	}
}
