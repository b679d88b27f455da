package capability

import (
	"strings"
	"testing"
)

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"cap_net_raw+ep", "=ep", "cap_a,cap_b=eip cap_c-p", "all=p", "cap_kill+i cap_chown-p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fc, err := ParseText(text)
		if err != nil {
			return
		}
		back, err := decodeXattr(fc.encode())
		if err != nil || back.Permitted != fc.Permitted || back.Inheritable != fc.Inheritable || back.Effective != fc.Effective {
			t.Fatalf("xattr round trip of %q: %+v -> %+v, %v", text, fc, back, err)
		}
		// What String prints, ParseText reads back the same.
		if s := fc.String(); s != "" && !strings.Contains(s, "[") {
			again, err := ParseText(s)
			if err == nil && (again.Permitted != fc.Permitted || again.Inheritable != fc.Inheritable) {
				t.Fatalf("text round trip of %q via %q: %+v -> %+v", text, s, fc, again)
			}
		}
	})
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"net_raw", "CAP_SYS_ADMIN,kill", "all", "0", "40", "cap_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, words string) {
		m, err := ParseList(strings.Fields(words))
		if err == nil && m&^All() != 0 {
			t.Fatalf("ParseList(%q) = %#x, beyond the kernel's capabilities", words, m)
		}
		if h, err := ParseHex(words); err == nil {
			_ = Decode(h)
		}
	})
}
