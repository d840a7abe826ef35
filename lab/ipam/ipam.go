// Package ipam is kinn's address management, pure and on net/netip: node pod
// CIDRs carved from the cluster's podSubnet in node order (as
// kube-controller-manager's range allocator does), node underlay addresses from
// the nodeSubnet, and pod addresses from their node's CIDR, keeping a pod's
// address across runs. Persistence sits behind Store so the math stays pure.
package ipam

import (
	"fmt"
	"math/big"
	"net/netip"
)

// NodeCIDRs carves n node CIDRs of size maskSize out of podSubnet, in order:
// the i-th node gets the i-th subnet, so the assignment is stable as long as
// the node order is.
func NodeCIDRs(podSubnet netip.Prefix, maskSize, n int) ([]netip.Prefix, error) {
	podSubnet = podSubnet.Masked()
	bits := podSubnet.Bits()
	if maskSize < bits || maskSize > podSubnet.Addr().BitLen() {
		return nil, fmt.Errorf("node CIDR mask size /%d does not fit in pod subnet %s", maskSize, podSubnet)
	}
	if avail := Count(maskSize - bits); avail.Cmp(big.NewInt(int64(n))) < 0 {
		return nil, fmt.Errorf("pod subnet %s holds %s /%d node CIDRs, %d nodes need one each", podSubnet, avail, maskSize, n)
	}
	out := make([]netip.Prefix, n)
	step := Count(podSubnet.Addr().BitLen() - maskSize)
	base := toInt(podSubnet.Addr())
	for i := range n {
		off := new(big.Int).Mul(step, big.NewInt(int64(i)))
		a := fromInt(new(big.Int).Add(base, off), podSubnet.Addr().Is4())
		out[i] = netip.PrefixFrom(a, maskSize)
	}
	return out, nil
}

// NodeAddrs returns the switch's address and n node underlay addresses from
// nodeSubnet: the first host address is the lab's switch (it also stands for
// the outside world), nodes follow — kind's docker network looks the same.
func NodeAddrs(nodeSubnet netip.Prefix, n int) (sw netip.Prefix, nodes []netip.Prefix, err error) {
	nodeSubnet = nodeSubnet.Masked()
	if Count(nodeSubnet.Addr().BitLen()-nodeSubnet.Bits()).Cmp(big.NewInt(int64(n+3))) < 0 {
		return sw, nil, fmt.Errorf("node subnet %s is too small for the switch and %d nodes", nodeSubnet, n)
	}
	a := nodeSubnet.Addr().Next()
	sw = netip.PrefixFrom(a, nodeSubnet.Bits())
	for range n {
		a = a.Next()
		nodes = append(nodes, netip.PrefixFrom(a, nodeSubnet.Bits()))
	}
	return sw, nodes, nil
}

// Gateway is the node's address on its pod bridge: the CIDR's first host.
func Gateway(cidr netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(cidr.Masked().Addr().Next(), cidr.Bits())
}

// Count is 2^bits as a big integer (IPv6-sized ranges do not fit in 64 bits).
func Count(bits int) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(bits)) }

func toInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

func fromInt(i *big.Int, v4 bool) netip.Addr {
	n := 16
	if v4 {
		n = 4
	}
	b := make([]byte, n)
	i.FillBytes(b)
	a, _ := netip.AddrFromSlice(b)
	return a
}
