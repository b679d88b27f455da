package isolate

import (
	"os"
	"testing"
)

func TestIsStaticELF(t *testing.T) {
	if static, err := isStaticELF("/bin/sh"); err != nil || static {
		t.Errorf("/bin/sh (dynamic): static %v, %v", static, err)
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		if static, err := isStaticELF("/bin/busybox"); err != nil || !static {
			t.Errorf("/bin/busybox (busybox-static): static %v, %v", static, err)
		}
	}
	if _, err := isStaticELF("/etc/passwd"); err == nil {
		t.Error("/etc/passwd read as an ELF file")
	}
}
