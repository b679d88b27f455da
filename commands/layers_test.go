package commands

import "testing"

func TestFileSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 512: "512", 10240: "10K", 404992: "395.5K", 1 << 20: "1M", 1288490189: "1.2G"} {
		if got := fileSize(n); got != want {
			t.Errorf("fileSize(%d) = %q, want %q", n, got, want)
		}
	}
}
