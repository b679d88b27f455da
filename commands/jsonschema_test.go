package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/invopop/jsonschema"

	"nsh/isolate/layer"
)

// schemaOf is the JSON Schema of a document, from its Go type: a field
// without omitempty is required, and no other property is allowed.
func schemaOf(name string, v any) ([]byte, error) {
	r := &jsonschema.Reflector{
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			// A change's kind marshals as its letter (MarshalText).
			if t == reflect.TypeOf(layer.Kind(0)) {
				return &jsonschema.Schema{Type: "string", Enum: []any{"A", "C", "D"}}
			}
			return nil
		},
	}
	s := r.Reflect(v)
	s.ID = jsonschema.ID("https://nsh.invalid/json/" + name + ".schema.json")
	s.Title = "nsh --json: " + name
	b, err := json.MarshalIndent(s, "", "  ")
	return append(b, '\n'), err
}

// TestJSONSchemas keeps docs/json/NAME.schema.json equal to the schema of
// each document's type (NSH_UPDATE=1 rewrites them), so a changed type
// changes its published schema in the same commit.
func TestJSONSchemas(t *testing.T) {
	dir := filepath.Join("..", "docs", "json")
	var names []string
	for name := range Documents {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, err := schemaOf(name, Documents[name])
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name+".schema.json")
		if os.Getenv("NSH_UPDATE") != "" {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is not the schema of %T: NSH_UPDATE=1 go test ./commands -run TestJSONSchemas (%v)", file, Documents[name], err)
		}
	}
	// No schema of a document that is gone.
	files, _ := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if len(files) != len(names) && os.Getenv("NSH_UPDATE") == "" {
		t.Errorf("docs/json holds %d schemas for %d documents", len(files), len(names))
	}
}
