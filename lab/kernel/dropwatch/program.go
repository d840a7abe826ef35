package dropwatch

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// The program, in order, for every skb:kfree_skb:
//  1. reads the filter from the one-element config map;
//  2. keeps IPv4 packets only (skb->protocol) and reads their IP header at
//     skb->head + skb->network_header;
//  3. drops the event unless TOS (under the mask), protocol, addresses and
//     ports match the filter (zero fields match anything);
//  4. reads the namespace: skb->dev->nd_net, or skb->sk's when the packet
//     has no device yet (dropped in OUTPUT), then net->ns.inum;
//  5. sends an event to the ring buffer.
// Kernel memory is read with bpf_probe_read_kernel, which zeroes its
// destination on failure, so a field the kernel lacks reads as 0.

// config is the filter as the program reads it (little-endian, network
// byte order fields kept as bytes in memory order).
const (
	cfgTOS, cfgTOSMask, cfgProto       = 0, 1, 2
	cfgSrc, cfgDst, cfgSport, cfgDport = 4, 8, 12, 14
	configSize                         = 16
)

// event is what the program sends; see parseEvent.
const (
	evTime, evLocation, evNetns, evIfindex, evReason = 0, 8, 16, 20, 24
	evSrc, evDst, evSport, evDport, evProto, evTOS   = 28, 32, 36, 38, 40, 41
	eventSize                                        = 48
)

// Stack slots, relative to the frame pointer R10.
const (
	stEvent = -64 // eventSize bytes
	stIP    = -88 // 20 bytes of IPv4 header (24 reserved)
	stTmp   = -96 // 8 bytes scratch for pointers and small fields
	stPorts = -100
	stKey   = -104
)

// Registers kept across helper calls.
const (
	rCtx = asm.R6
	rSkb = asm.R7
	rPtr = asm.R8 // the IP header, later the device or the namespace
	rCfg = asm.R9
)

// read emits bpf_probe_read_kernel(R10+dst, size, src+off).
func read(dst int16, size int32, src asm.Register, off uint32) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R3, src),
		asm.Add.Imm(asm.R3, int32(off)),
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, int32(dst)),
		asm.Mov.Imm(asm.R2, size),
		asm.FnProbeReadKernel.Call(),
	}
}

// zero8 zeroes 8 bytes of stack (there is no 64-bit store of an immediate).
func zero8(off int16) asm.Instructions {
	return asm.Instructions{asm.StoreImm(asm.R10, off, 0, asm.Word), asm.StoreImm(asm.R10, off+4, 0, asm.Word)}
}

// readPtr reads a kernel pointer at src+off into rPtr.
func readPtr(src asm.Register, off uint32) asm.Instructions {
	return append(read(stTmp, 8, src, off), asm.LoadMem(rPtr, asm.R10, stTmp, asm.DWord))
}

// match emits: skip to "out" unless the packet's field equals the filter's,
// when the filter's is not zero.
func match(size asm.Size, cfgOff, pktOff int16, label string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, rCfg, cfgOff, size),
		asm.JEq.Imm(asm.R1, 0, label),
		asm.LoadMem(asm.R2, asm.R10, pktOff, size),
		asm.JNE.Reg(asm.R1, asm.R2, "out"),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(label),
	}
}

// labelled names the first instruction of is, as a jump target.
func labelled(name string, is asm.Instructions) asm.Instructions {
	is[0] = is[0].WithSymbol(name)
	return is
}

func program(l *layout, config, events *ebpf.Map) asm.Instructions {
	var p asm.Instructions
	add := func(ins ...asm.Instruction) { p = append(p, ins...) }
	addAll := func(is asm.Instructions) { p = append(p, is...) }

	add(asm.Mov.Reg(rCtx, asm.R1))
	// 1. The filter.
	add(asm.StoreImm(asm.R10, stKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, config.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(rCfg, asm.R0),
		asm.LoadMem(rSkb, rCtx, int16(8*l.argSkb), asm.DWord),
	)
	// 2. IPv4 only; the header.
	add(zero8(stTmp)...)
	addAll(read(stTmp, 2, rSkb, l.skbProtocol))
	add(asm.LoadMem(asm.R1, asm.R10, stTmp, asm.Half),
		asm.JNE.Imm(asm.R1, 0x0008, "out")) // htons(ETH_P_IP) read little-endian
	addAll(read(stTmp, 2, rSkb, l.skbNetworkHeader))
	add(asm.LoadMem(asm.R1, asm.R10, stTmp, asm.Half),
		asm.JEq.Imm(asm.R1, 0xffff, "out"),               // network header not set
		asm.StoreMem(asm.R10, stPorts, asm.R1, asm.Word)) // kept for a moment
	addAll(readPtr(rSkb, l.skbHead))
	add(asm.JEq.Imm(rPtr, 0, "out"),
		asm.LoadMem(asm.R1, asm.R10, stPorts, asm.Word),
		asm.Add.Reg(rPtr, asm.R1))
	addAll(read(stIP, 20, rPtr, 0))
	add(asm.LoadMem(asm.R1, asm.R10, stIP, asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.JNE.Imm(asm.R1, 4, "out"))
	// 3. The filter: TOS under its mask, protocol, addresses.
	add(asm.LoadMem(asm.R1, rCfg, cfgTOSMask, asm.Byte),
		asm.JEq.Imm(asm.R1, 0, "tos_ok"),
		asm.LoadMem(asm.R2, asm.R10, stIP+1, asm.Byte),
		asm.And.Reg(asm.R2, asm.R1),
		asm.LoadMem(asm.R1, rCfg, cfgTOS, asm.Byte),
		asm.JNE.Reg(asm.R1, asm.R2, "out"),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("tos_ok"))
	addAll(match(asm.Byte, cfgProto, stIP+9, "proto_ok"))
	addAll(match(asm.Word, cfgSrc, stIP+12, "src_ok"))
	addAll(match(asm.Word, cfgDst, stIP+16, "dst_ok"))
	// Ports, for TCP, UDP and SCTP (all start with them).
	add(asm.StoreImm(asm.R10, stPorts, 0, asm.Word),
		asm.LoadMem(asm.R1, asm.R10, stIP+9, asm.Byte),
		asm.JEq.Imm(asm.R1, 6, "ports"),
		asm.JEq.Imm(asm.R1, 17, "ports"),
		asm.JEq.Imm(asm.R1, 132, "ports"),
		asm.Ja.Label("ports_read"),
		asm.LoadMem(asm.R1, asm.R10, stIP, asm.Byte).WithSymbol("ports"),
		asm.And.Imm(asm.R1, 0x0f),
		asm.LSh.Imm(asm.R1, 2),
		asm.Mov.Reg(asm.R3, rPtr),
		asm.Add.Reg(asm.R3, asm.R1),
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, stPorts),
		asm.Mov.Imm(asm.R2, 4),
		asm.FnProbeReadKernel.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("ports_read"))
	addAll(match(asm.Half, cfgSport, stPorts, "sport_ok"))
	addAll(match(asm.Half, cfgDport, stPorts+2, "dport_ok"))

	// 4. The event, zeroed first: the verifier wants it all written.
	for off := int16(0); off < eventSize; off += 8 {
		add(zero8(stEvent + off)...)
	}
	add(asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R10, stEvent+evTime, asm.R0, asm.DWord),
		asm.LoadMem(asm.R1, rCtx, int16(8*l.argLocation), asm.DWord),
		asm.StoreMem(asm.R10, stEvent+evLocation, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, rCtx, int16(8*l.argReason), asm.DWord),
		asm.StoreMem(asm.R10, stEvent+evReason, asm.R1, asm.Word))
	for _, f := range []struct {
		ev, ip int16
		size   asm.Size
	}{{evSrc, 12, asm.Word}, {evDst, 16, asm.Word}, {evProto, 9, asm.Byte}, {evTOS, 1, asm.Byte}} {
		add(asm.LoadMem(asm.R1, asm.R10, stIP+f.ip, f.size),
			asm.StoreMem(asm.R10, stEvent+f.ev, asm.R1, f.size))
	}
	add(asm.LoadMem(asm.R1, asm.R10, stPorts, asm.Word),
		asm.StoreMem(asm.R10, stEvent+evSport, asm.R1, asm.Word))
	// The namespace: the device's, else the socket's.
	addAll(readPtr(rSkb, l.skbDev))
	add(asm.JEq.Imm(rPtr, 0, "no_dev"))
	addAll(read(stEvent+evIfindex, 4, rPtr, l.devIfindex))
	addAll(readPtr(rPtr, l.devNet))
	add(asm.Ja.Label("have_net"))
	addAll(labelled("no_dev", readPtr(rSkb, l.skbSk)))
	add(asm.JEq.Imm(rPtr, 0, "send"))
	addAll(readPtr(rPtr, l.skNet))
	add(asm.JEq.Imm(rPtr, 0, "send").WithSymbol("have_net"))
	addAll(read(stEvent+evNetns, 4, rPtr, l.netInum))
	// 5. Out it goes.
	add(asm.LoadMapPtr(asm.R1, events.FD()).WithSymbol("send"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stEvent),
		asm.Mov.Imm(asm.R3, eventSize),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return())
	return p
}
