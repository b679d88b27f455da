package lesson

import (
	"strings"
	"testing"
)

func TestDoc(t *testing.T) {
	var b strings.Builder
	d := New(&b)
	d.Title("Namespaces", []string{"Rendered on Linux 6.1"})
	d.Heading("1. Hostname")
	d.Prose("A new uts namespace")
	d.Prose("has its own name.")
	d.Command("nsh[uts]# ", "hostname foobar", nil)
	d.Command("nsh[uts]# ", "spawn hostname", []byte("\x1b[1mfoobar\x1b[0m\r\n"))
	d.Prose("\n")
	d.Command("nsh# ", "spawn sh -c \\\n  'echo ```'", []byte("```\nprogress 10%\rprogress 100%\n"))
	d.Aside("With the standard tools:", "sh", "unshare --uts hostname\n")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	want := "# Namespaces\n\n> Rendered on Linux 6.1  \n\n## 1. Hostname\n\nA new uts namespace has its own name.\n\n" +
		"```console\nnsh[uts]# hostname foobar\nnsh[uts]# spawn hostname\nfoobar\n```\n\n" +
		"````console\nnsh# spawn sh -c \\\n  'echo ```'\n```\nprogress 100%\n````\n\n" +
		"With the standard tools:\n\n```sh\nunshare --uts hostname\n```\n\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
