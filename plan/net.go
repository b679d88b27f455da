package plan

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
