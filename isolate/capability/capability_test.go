package capability

import (
	"math/rand"
	"os/exec"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int{"net_raw": 13, "CAP_NET_RAW": 13, "cap_sys_admin": 21, "Sys_Admin": 21, "0": 0, "chown": 0} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"net_rawr", "cap_", "", "999", "-1", "all"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	m, err := ParseList([]string{"net_raw,chown", "CAP_KILL"})
	if err != nil || m != 1<<13|1<<0|1<<5 {
		t.Errorf("ParseList = %#x, %v", m, err)
	}
	if m, _ := ParseList([]string{"all"}); m != All() {
		t.Errorf("all = %#x, want %#x", m, All())
	}
}

// cap decode prints exactly what capsh --decode does, for many masks.
func TestDecodeMatchesCapsh(t *testing.T) {
	capsh, err := exec.LookPath("capsh")
	if err != nil {
		t.Skip("capsh is not installed (Debian: libcap2-bin)")
	}
	masks := []uint64{0, Docker, All(), ^uint64(0), 1, 1 << 40, 1 << 41, 0x1fffeffffff}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 60; i++ {
		masks = append(masks, r.Uint64()>>uint(r.Intn(64)))
	}
	for _, m := range masks {
		out, err := exec.Command(capsh, "--decode="+strings.TrimPrefix(Decode(m)[:18], "0x")).Output()
		if err != nil {
			t.Fatalf("capsh --decode=%x: %v", m, err)
		}
		if got, want := Decode(m), strings.TrimSpace(string(out)); got != want {
			t.Errorf("Decode(%#x):\n nsh:   %s\n capsh: %s", m, got, want)
		}
	}
}

func TestParseHex(t *testing.T) {
	for in, want := range map[string]uint64{"a80425fb": Docker, "0xa80425fb": Docker, "0x000001FFFFFFFFFF": 0x1ffffffffff} {
		if got, err := ParseHex(in); err != nil || got != want {
			t.Errorf("ParseHex(%q) = %#x, %v", in, got, err)
		}
	}
	if _, err := ParseHex("zz"); err == nil {
		t.Error("ParseHex(zz) accepted")
	}
}

func TestFileText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cap_net_raw+ep", "cap_net_raw=ep"},
		{"cap_net_admin,cap_net_raw=eip", "cap_net_admin,cap_net_raw=eip"},
		{"cap_net_raw=p cap_sys_admin=ip", "cap_sys_admin=ip cap_net_raw+p"},
		{"=ep", "=ep"},
		{"all=p", "=p"},
		{"=p cap_kill+i cap_chown-p", "=p cap_kill+i cap_chown-p"},
		{"CAP_NET_RAW+EP", ""},
	}
	for _, tt := range tests {
		fc, err := ParseText(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseText(%q) accepted", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseText(%q): %v", tt.in, err)
			continue
		}
		if got := fc.String(); got != tt.want {
			t.Errorf("ParseText(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		back, err := decodeXattr(fc.encode())
		if err != nil || back.String() != tt.want {
			t.Errorf("xattr round trip of %q: %q, %v", tt.in, back.String(), err)
		}
	}
	// "" is the empty set, as cap_from_text has it (TestSetcapParity).
	for _, bad := range []string{"cap_net_raw", "cap_net_raw+", "cap_net_raw+x", "nope+ep", "+ep", "a,,b+p"} {
		if _, err := ParseText(bad); err == nil {
			t.Errorf("ParseText(%q) accepted", bad)
		}
	}
	v3 := FileCaps{Permitted: 1 << 13, Effective: true, RootID: 1000}
	back, err := decodeXattr(v3.encode())
	if err != nil || back.Version != 3 || back.RootID != 1000 || back.String() != "cap_net_raw=ep" || back.RootIDText() != "cap_net_raw=ep [rootid=1000]" {
		t.Errorf("v3 round trip: %+v %v", back, err)
	}
}
