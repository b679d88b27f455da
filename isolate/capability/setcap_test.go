package capability

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSetcapParity writes each text with setcap (libcap2-bin) on one file
// and with nsh's parser on another: both refuse it, or both write the
// same security.capability bytes and getcap prints for nsh's file what
// String prints. The only difference allowed is nsh's documented
// extension, names without cap_, which setcap refuses.
func TestSetcapParity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writing security.capability needs root")
	}
	if _, err := exec.LookPath("setcap"); err != nil {
		t.Skip("needs setcap (libcap2-bin; dev/deps.sh installs it)")
	}
	dir := t.TempDir()
	corpus := []string{
		"cap_net_raw+ep", "cap_net_raw=ep", "=ep", "=", "all=ep", "all=p", "=eip",
		"cap_net_raw,cap_sys_admin=eip", "cap_chown=p cap_setuid=ip", "cap_net_raw=p-p",
		"cap_net_raw+e", "cap_net_raw=ep cap_net_raw-e", "cap_net_bind_service=+ep",
		"41+ep", "40+p", "0+p", "63+i", "64+p", "cap_chown,41=ip",
		"+ep", "-ep", "+p", "cap_net_raw,,cap_sys_admin+p", ",cap_net_raw+p", "cap_net_raw,+p",
		"cap_net_raw=ep cap_sys_admin+i", "cap_net_raw+x", "cap_bogus+p", "cap_net_raw", "",
		"=ep cap_sys_admin-ep", "cap_setpcap,cap_sys_ptrace=p cap_sys_ptrace+e", "CAP_NET_RAW+ep",
		"cap_net_raw+ep cap_net_raw+ep", "=i cap_chown+p",
	}
	extension := map[string]bool{"net_raw+ep": true, "net_raw,sys_admin=eip": true}
	for t := range extension {
		corpus = append(corpus, t)
	}
	for i, text := range corpus {
		ref := filepath.Join(dir, "ref")
		ours := filepath.Join(dir, "ours")
		for _, f := range []string{ref, ours} {
			os.Remove(f)
			os.WriteFile(f, nil, 0o755)
		}
		refErr := exec.Command("setcap", text, ref).Run()
		fc, err := ParseText(text)
		if err == nil {
			err = SetFile(ours, fc)
		}
		switch {
		case extension[text]:
			if err != nil || refErr == nil {
				t.Errorf("%d %q: nsh's extension: nsh %v, setcap %v", i, text, err, refErr)
			}
			continue
		case (refErr == nil) != (err == nil):
			t.Errorf("%d %q: setcap %v, nsh %v", i, text, refErr, err)
			continue
		case err != nil:
			continue
		}
		a, b := xattr(ref), xattr(ours)
		if !bytes.Equal(a, b) {
			t.Errorf("%d %q: setcap wrote %x, nsh %x", i, text, a, b)
		}
		out, _ := exec.Command("getcap", ours).Output()
		want := strings.TrimSpace(strings.TrimPrefix(string(out), ours))
		got, ok, gerr := GetFile(ours)
		text := ""
		if ok {
			text = got.String()
		}
		if gerr != nil || strings.TrimSpace(text) != want {
			t.Errorf("%d: getcap prints %q, nsh %q (%v)", i, want, text, gerr)
		}
	}
	// A symlink, a directory and a file without capabilities, as setcap.
	os.Symlink(filepath.Join(dir, "ours"), filepath.Join(dir, "link"))
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	for _, p := range []string{"link", "d"} {
		if err := SetFile(filepath.Join(dir, p), FileCaps{Permitted: 1}); err == nil {
			t.Errorf("cap file set on a %s was accepted", p)
		}
	}
	bare := filepath.Join(dir, "bare")
	os.WriteFile(bare, nil, 0o755)
	if err := RemoveFile(bare); err == nil || exec.Command("setcap", "-r", bare).Run() == nil {
		t.Errorf("removing capabilities a file lacks: nsh %v, setcap agreed it was fine", err)
	}
}

func xattr(path string) []byte {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, xattrName, buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}
