package isolate

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Net is the network plan of a child with a new net namespace.
type Net struct {
	// LoUp brings the loopback interface up: a new net namespace's lo
	// starts down.
	LoUp  bool   `json:"loUp,omitempty"`
	Veths []Veth `json:"veths,omitempty"`
}

// Empty says whether the plan asks for nothing.
func (n *Net) Empty() bool { return !n.LoUp && len(n.Veths) == 0 }

// Veth is a veth pair between nsh's net namespace and the child's.
type Veth struct {
	HostAddr  string `json:"hostAddr"`  // CIDR on the host end
	ChildAddr string `json:"childAddr"` // CIDR on the child end (eth0, eth1, ...)
	HostName  string `json:"hostName,omitempty"`
}

// linkUp sets IFF_UP on an interface of the stage's net namespace.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	req, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, req); err != nil {
		return fmt.Errorf("ioctl(SIOCGIFFLAGS, %s): %w", name, err)
	}
	req.SetUint16(req.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, req); err != nil {
		return fmt.Errorf("ioctl(SIOCSIFFLAGS, %s, IFF_UP): %w", name, err)
	}
	return nil
}
