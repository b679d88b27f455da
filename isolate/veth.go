package isolate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"nsh/plan"

	"golang.org/x/sys/unix"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// ParseCIDR reads ADDR/PREFIX for a veth end.
func ParseCIDR(s string) (*netlink.Addr, error) {
	a, err := netlink.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("bad address %q: give ADDR/PREFIX such as 192.0.2.1/24", s)
	}
	return a, nil
}

// CheckVeths validates veths against each other and against the
// addresses and routes nsh's own net namespace already has: a veth whose
// network holds the host's gateway, or any network the host already
// routes, would take the host's traffic while the child lives.
func CheckVeths(veths []plan.Veth) error {
	var nets []*net.IPNet
	have, _ := netlink.AddrList(nil, netlink.FAMILY_ALL)
	routes, _ := netlink.RouteList(nil, netlink.FAMILY_ALL)
	names := map[string]bool{}
	for _, v := range veths {
		h, err := ParseCIDR(v.HostAddr)
		if err != nil {
			return err
		}
		c, err := ParseCIDR(v.ChildAddr)
		if err != nil {
			return err
		}
		if h.IP.Equal(c.IP) {
			return fmt.Errorf("veth %s %s: both ends have the same address", v.HostAddr, v.ChildAddr)
		}
		if !h.Contains(c.IP) {
			return fmt.Errorf("veth %s %s: the child's address is outside the host end's network, so neither could reach the other: use one network, e.g. 198.51.100.1/24 198.51.100.2/24", v.HostAddr, v.ChildAddr)
		}
		for _, n := range nets {
			if n.Contains(h.IP) || h.Contains(n.IP) {
				network := net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask}
				return fmt.Errorf("veth %s: its network overlaps %s, another veth's", v.HostAddr, network.String())
			}
		}
		nets = append(nets, h.IPNet)
		if err := overlapsRoutes(v, h.IPNet, routes); err != nil {
			return err
		}
		for _, a := range have {
			if a.IP.Equal(h.IP) || a.IP.Equal(c.IP) {
				link := strconv.Itoa(a.LinkIndex)
				if l, err := netlink.LinkByIndex(a.LinkIndex); err == nil {
					link = l.Attrs().Name
				}
				return fmt.Errorf("veth %s %s: %s is already an address here, on %s: pick free addresses", v.HostAddr, v.ChildAddr, a.IP, link)
			}
		}
		if v.HostName != "" {
			if len(v.HostName) > 15 || names[v.HostName] {
				return fmt.Errorf("veth name %q: give a unique name of at most 15 characters", v.HostName)
			}
			if _, err := netlink.LinkByName(v.HostName); err == nil {
				return fmt.Errorf("veth name %q is taken by a link that exists: pick another", v.HostName)
			}
			names[v.HostName] = true
		}
	}
	return nil
}

// overlapsRoutes refuses a veth network that overlaps a route of nsh's
// namespace, naming the route as ip route shows it. The default route
// overlaps everything and is refused only when its gateway is inside.
func overlapsRoutes(v plan.Veth, n *net.IPNet, routes []netlink.Route) error {
	network := net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask}
	for _, r := range routes {
		dev := ""
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = " dev " + l.Attrs().Name
		}
		if r.Dst == nil || isDefault(r.Dst) {
			if r.Gw != nil && network.Contains(r.Gw) {
				return fmt.Errorf("veth %s %s: %s holds the host's gateway (default via %s%s): pick a network the host does not use, e.g. 198.51.100.1/24 198.51.100.2/24", v.HostAddr, v.ChildAddr, network.String(), r.Gw, dev)
			}
			continue
		}
		if r.Dst.Contains(network.IP) || network.Contains(r.Dst.IP) {
			return fmt.Errorf("veth %s %s: %s overlaps the host's route %s%s: pick a network the host does not use, e.g. 198.51.100.1/24 198.51.100.2/24", v.HostAddr, v.ChildAddr, network.String(), r.Dst, dev)
		}
	}
	return nil
}

func isDefault(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0
}

// hostVethName is the host end's name: given, or nsh<random>v<i> (13
// characters; a pid would collide between nsh processes in different pid
// namespaces sharing a network namespace).
func hostVethName(v plan.Veth, i int) string {
	if v.HostName != "" {
		return v.HostName
	}
	// getrandom(2) directly: crypto/rand would link the whole FIPS
	// module (29 packages, their initializers at every start) for four
	// bytes that need only be unlikely to repeat.
	var b [4]byte
	if _, err := unix.Getrandom(b[:], 0); err != nil {
		binary.LittleEndian.PutUint32(b[:], uint32(time.Now().UnixNano()))
	}
	return fmt.Sprintf("nsh%xv%d", b, i)
}

// hostLink is a host end nsh made: its name and index, so that it is
// deleted only while both still match.
type hostLink struct {
	name  string
	index int
}

// setupVeths makes the child's veth pairs once it exists (it waits for
// its spec meanwhile). Each pair is created inside the child's network
// namespace and only then is the host end moved out: whenever nsh dies,
// the pair is either wholly in the child's namespace or split across,
// and either way the child's namespace takes it along when it goes. The
// ends are configured through netlink handles, so the child stage needs
// no network code. It returns the host ends, to delete when the child is
// reaped (if the namespace did not take them already).
func setupVeths(pid int, veths []plan.Veth, step func(string, ...any)) ([]hostLink, error) {
	if len(veths) == 0 {
		return nil, nil
	}
	if err := CheckVeths(veths); err != nil {
		return nil, err
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("open the child's net namespace: %w", err)
	}
	defer ns.Close()
	// Route only: with no family named, netlink also opens XFRM and
	// netfilter sockets, which fail (EPROTONOSUPPORT) on a kernel whose
	// xfrm_user is a module not loaded, as Debian's is in a VM.
	inside, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in the child's net namespace: %w", err)
	}
	defer inside.Close()
	self, err := netns.GetFromPid(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("open nsh's net namespace: %w", err)
	}
	defer self.Close()
	var made []hostLink
	fail := func(err error) ([]hostLink, error) {
		deleteLinks(made)
		return nil, err
	}
	for i, v := range veths {
		var host string
		var hl netlink.Link
		// A random name taken in nsh's namespace meanwhile: another one.
		for try := 0; ; try++ {
			host = hostVethName(v, i)
			peer := "eth" + strconv.Itoa(i)
			step("in the child: ip link add %s type veth peer name %s", host, peer)
			la := netlink.NewLinkAttrs()
			la.Name = host
			if err := inside.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peer}); err != nil {
				return fail(fmt.Errorf("ip link add %s type veth peer name %s in the child: %w", host, peer, err))
			}
			l, err := inside.LinkByName(host)
			if err != nil {
				return fail(err)
			}
			step("in the child: ip link set %s netns %d", host, os.Getpid())
			err = inside.LinkSetNsFd(l, int(self))
			if err == nil {
				break
			}
			inside.LinkDel(l)
			if !errors.Is(err, unix.EEXIST) || v.HostName != "" || try > 8 {
				return fail(fmt.Errorf("move %s out of the child's net namespace: %w", host, err))
			}
		}
		hl, err = netlink.LinkByName(host)
		if err != nil {
			return fail(err)
		}
		made = append(made, hostLink{host, hl.Attrs().Index})
		ha, _ := ParseCIDR(v.HostAddr)
		step("ip addr add %s dev %s; ip link set %s up", v.HostAddr, host, host)
		if err := netlink.AddrAdd(hl, ha); err != nil {
			return fail(fmt.Errorf("ip addr add %s dev %s: %w", v.HostAddr, host, err))
		}
		if err := netlink.LinkSetUp(hl); err != nil {
			return fail(fmt.Errorf("ip link set %s up: %w", host, err))
		}
		child := "eth" + strconv.Itoa(i)
		cl, err := inside.LinkByName(child)
		if err != nil {
			return fail(err)
		}
		ca, _ := ParseCIDR(v.ChildAddr)
		step("in the child: ip addr add %s dev %s; ip link set %s up", v.ChildAddr, child, child)
		if err := inside.AddrAdd(cl, ca); err != nil {
			return fail(fmt.Errorf("ip addr add %s dev %s in the child: %w", v.ChildAddr, child, err))
		}
		if err := inside.LinkSetUp(cl); err != nil {
			return fail(fmt.Errorf("ip link set %s up in the child: %w", child, err))
		}
	}
	return made, nil
}

// deleteLinks removes host veth ends that are still the ones nsh made;
// one that went with its namespace is already gone.
func deleteLinks(links []hostLink) {
	for _, h := range links {
		if l, err := netlink.LinkByIndex(h.index); err == nil && l.Attrs().Name == h.name {
			netlink.LinkDel(l)
		}
	}
}
