package dropwatch

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
)

// layout is what the BPF program must know about this kernel's structures.
// Without clang there is no CO-RE compiler, so the program is assembled at
// Start with the offsets read from the running kernel's BTF: the same
// answer CO-RE relocations would give, found by hand.
type layout struct {
	// Indexes of the raw tracepoint's arguments (the first argument of
	// btf_trace_kfree_skb, the tracepoint's private data, is not passed).
	argSkb, argLocation, argReason int

	skbHead, skbNetworkHeader, skbProtocol, skbDev, skbSk uint32
	devIfindex, devNet                                    uint32 // net_device.ifindex, .nd_net.net
	skNet                                                 uint32 // sock.__sk_common.skc_net.net
	netInum                                               uint32 // net.ns.inum

	reasons map[uint32]string // enum skb_drop_reason, without its prefix
}

// kernelLayout is loadLayout once per process: parsing the kernel's BTF
// takes about 25 ms, and the kernel does not change under us.
var kernelLayout = sync.OnceValues(loadLayout)

// loadLayout reads the layout from the kernel's BTF, or says why it cannot
// (wrapped in ErrUnsupported).
func loadLayout() (*layout, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("%w: kernel BTF: %v", ErrUnsupported, err)
	}
	l := &layout{}
	if err := l.args(spec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if l.reasons, err = reasonNames(spec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	fields := []struct {
		dst          *uint32
		struc, field string
	}{
		{&l.skbHead, "sk_buff", "head"},
		{&l.skbNetworkHeader, "sk_buff", "network_header"},
		{&l.skbProtocol, "sk_buff", "protocol"},
		{&l.skbDev, "sk_buff", "dev"},
		{&l.skbSk, "sk_buff", "sk"},
		{&l.devIfindex, "net_device", "ifindex"},
		{&l.devNet, "net_device", "nd_net.net"},
		{&l.skNet, "sock", "__sk_common.skc_net.net"},
		{&l.netInum, "net", "ns.inum"},
	}
	for _, f := range fields {
		var s *btf.Struct
		if err := spec.TypeByName(f.struc, &s); err != nil {
			return nil, fmt.Errorf("%w: struct %s in kernel BTF: %v", ErrUnsupported, f.struc, err)
		}
		off, ok := offsetOf(s, strings.Split(f.field, "."))
		if !ok {
			return nil, fmt.Errorf("%w: no field %s.%s in kernel BTF", ErrUnsupported, f.struc, f.field)
		}
		*f.dst = off
	}
	return l, nil
}

// args finds which raw tracepoint argument is the skb, the location and the
// reason, by type: their order has changed between kernel versions, and the
// prototype's parameters carry no names in BTF.
func (l *layout) args(spec *btf.Spec) error {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_kfree_skb", &td); err != nil {
		return fmt.Errorf("tracepoint skb:kfree_skb not in kernel BTF: %v", err)
	}
	ptr, ok := td.Type.(*btf.Pointer)
	proto, ok2 := (*btf.FuncProto)(nil), false
	if ok {
		proto, ok2 = ptr.Target.(*btf.FuncProto)
	}
	if !ok2 || len(proto.Params) < 2 {
		return errors.New("btf_trace_kfree_skb is not a function prototype")
	}
	l.argSkb, l.argLocation, l.argReason = -1, -1, -1
	for i, p := range proto.Params[1:] {
		switch t := btf.UnderlyingType(p.Type).(type) {
		case *btf.Pointer:
			switch target := btf.UnderlyingType(t.Target).(type) {
			case *btf.Struct:
				if target.Name == "sk_buff" && l.argSkb < 0 {
					l.argSkb = i
				}
			case *btf.Void:
				if l.argLocation < 0 {
					l.argLocation = i
				}
			}
		case *btf.Enum:
			if t.Name == "skb_drop_reason" {
				l.argReason = i
			}
		}
	}
	if l.argSkb < 0 || l.argLocation < 0 || l.argReason < 0 {
		return errors.New("skb:kfree_skb has no drop reason on this kernel (needs Linux 5.17 or later)")
	}
	return nil
}

// reasonNames maps enum skb_drop_reason to its names without the
// SKB_DROP_REASON_ prefix ("NO_SOCKET", "NETFILTER_DROP").
func reasonNames(spec *btf.Spec) (map[uint32]string, error) {
	var e *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &e); err != nil {
		return nil, fmt.Errorf("enum skb_drop_reason in kernel BTF: %v", err)
	}
	names := make(map[uint32]string, len(e.Values))
	for _, v := range e.Values {
		if _, dup := names[uint32(v.Value)]; !dup {
			names[uint32(v.Value)] = strings.TrimPrefix(v.Name, "SKB_DROP_REASON_")
		}
	}
	return names, nil
}

// offsetOf finds the byte offset of a member path, looking through the
// anonymous unions and structs the kernel nests its fields in.
func offsetOf(t btf.Type, path []string) (uint32, bool) {
	if len(path) == 0 {
		return 0, true
	}
	var members []btf.Member
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	default:
		return 0, false
	}
	for _, m := range members {
		if m.BitfieldSize != 0 {
			continue
		}
		if m.Name == path[0] {
			if off, ok := offsetOf(m.Type, path[1:]); ok {
				return m.Offset.Bytes() + off, true
			}
		}
		if m.Name == "" {
			if off, ok := offsetOf(m.Type, path); ok {
				return m.Offset.Bytes() + off, true
			}
		}
	}
	return 0, false
}
