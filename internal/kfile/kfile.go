// Package kfile reads and writes the kernel's small files (procfs,
// cgroupfs) with plain system calls. os.ReadFile and os.WriteFile also
// try to register each file with Go's poller (cgroupfs files can be
// polled, so they are added and removed again) and stat it first, which
// doubles the cost of the small reads and writes a spawn does some ten of
// each.
//
// Errors are *os.PathError, worded as os's are ("open FILE: ...",
// "write FILE: ...").
package kfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// ReadFile reads the whole of file.
func ReadFile(file string) ([]byte, error) {
	fd, err := open(file, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 4096)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: file, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
	}
}

// WriteFile writes data to file in one write, as the kernel's files want
// it (a cgroup file takes one value per write), with os.WriteFile's
// flags: a regular file (a fake cgroupfs in tests) is truncated first.
func WriteFile(file string, data []byte) error {
	fd, err := open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: file, Err: err}
		}
		data = data[n:]
	}
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "close", Path: file, Err: err}
	}
	return nil
}

func open(file string, flags int) (int, error) {
	for {
		fd, err := unix.Open(file, flags|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: file, Err: err}
		}
		return fd, nil
	}
}
