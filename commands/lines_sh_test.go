package commands

import (
	"os/exec"
	"strings"
	"testing"
)

// TestQuotingAsSh splits each line as nsh does and as sh does (printf
// prints each word it gets between < and >): the words are the same.
// Lines hold no $, backquotes or globs, which nsh does not expand.
func TestQuotingAsSh(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	corpus := []string{
		`a b  c`, `"a b" c`, `'a b' c`, `"a\b"`, `"\n"`, `"a\\b"`, `"a\"b"`, `a\ b`, `a\b`, `\n`,
		`'a\b'`, `'it'"'"'s'`, `"it's"`, `a"b"c`, `a'b'c`, `""`, `''`, `"" x`, `"a\\"`,
		`"tab\there"`, `"\'"`, `'\'`, `"a b"'c d'`, `x"\\\\"y`, `"\\\\n"`, `caf\é`, `"caf\é"`,
		`--name=web "hello world"`, `net.ipv4.ping_group_range "1 0"`, `"C:\Windows\n"`,
	}
	for _, line := range corpus {
		stmts, err := Parse("echo " + line)
		if err != nil {
			t.Errorf("nsh: %s: %v", line, err)
			continue
		}
		var got strings.Builder
		for _, w := range stmts[0].Words[1:] {
			got.WriteString("<" + w + ">")
		}
		out, err := exec.Command("sh", "-c", "printf '<%s>' "+line).Output()
		if err != nil {
			t.Errorf("sh: %s: %v", line, err)
			continue
		}
		if got.String() != string(out) {
			t.Errorf("%s: nsh %s, sh %s", line, got.String(), out)
		}
	}
}
