package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/proxy"
)

// kernelTable is the kinn table as the kernel has it, read back for a
// comparison with the wanted ruleset (compare) and for counters.
type kernelTable struct {
	exists bool
	chains map[string]*kernelChain
	order  []string // chain names as the kernel lists them
	maps   map[string]*kernelMap
}

type kernelChain struct {
	hook  string // "" for a regular chain, else its type, hook and priority
	rules []kernelRule
}

type kernelRule struct {
	handle  uint64
	exprs   []expr.Any // counters keep their values
	comment string
}

type kernelMap struct {
	def     string // key type and flags, comparable with setDef of the wanted map
	elems   []nftables.SetElement
	dynamic bool // its elements are the kernel's, not read
}

// gen returns the namespace's nf_tables ruleset generation, which every
// committed transaction (anyone's, any table's) moves by one.
func (t *Table) gen() (uint32, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	msg := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	replies, err := t.nl.Execute(msg)
	if err != nil {
		return 0, fmt.Errorf("ruleset generation in %s: %w", t.netns, err)
	}
	for _, r := range replies {
		if len(r.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(r.Data[4:])
		if err != nil {
			return 0, err
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, fmt.Errorf("ruleset generation in %s: no answer", t.netns)
}

// observe reads the whole kinn table: its chains, every rule in one dump,
// its maps and their elements.
func (t *Table) observe() (*kernelTable, error) {
	kt := &kernelTable{chains: map[string]*kernelChain{}, maps: map[string]*kernelMap{}}
	ok, err := t.exists()
	if err != nil || !ok {
		return kt, err
	}
	kt.exists = true
	chains, err := t.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list chains in %s: %w", t.netns, err)
	}
	for _, c := range chains {
		if c.Table.Name == t.table.Name {
			kt.chains[c.Name] = &kernelChain{hook: chainDef(c)}
			kt.order = append(kt.order, c.Name)
		}
	}
	if err := t.dumpRules(kt); err != nil {
		return nil, err
	}
	sets, err := t.dumpSets()
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		if s.Anonymous {
			continue // belongs to a rule, and goes with it
		}
		km := &kernelMap{def: setDef(s), dynamic: s.Dynamic}
		if !s.Dynamic { // a dynamic set's elements are the kernel's (affinity clients)
			if km.elems, err = t.conn.GetSetElements(s); err != nil {
				return nil, fmt.Errorf("list elements of %s in %s: %w", s.Name, t.netns, err)
			}
		}
		kt.maps[s.Name] = km
	}
	return kt, nil
}

// dumpRules reads every rule of the table in one dump (the library asks
// chain by chain: thousands of round trips for a thousand Services).
func (t *Table) dumpRules(kt *kernelTable) error {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte(t.table.Name + "\x00")},
	})
	if err != nil {
		return err
	}
	msg := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{unix.NFPROTO_IPV4, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	replies, err := t.dump(msg)
	if err != nil {
		return fmt.Errorf("list rules in %s: %w", t.netns, err)
	}
	for _, m := range replies {
		chain, r, err := decodeRule(m.Data)
		if err != nil {
			return fmt.Errorf("read a rule in %s: %w", t.netns, err)
		}
		c := kt.chains[chain]
		if c == nil { // added since the chains were listed
			c = &kernelChain{}
			kt.chains[chain] = c
			kt.order = append(kt.order, chain)
		}
		c.rules = append(c.rules, r)
	}
	return nil
}

// dumpBuffer is how much one read of a dump takes. netlink.Conn reads a
// page at a time, and the kernel sizes each round of a dump to the reads
// it has seen (up to 32 KiB); each round of a rule dump walks the table
// from its first rule to where the last one stopped, so small rounds make
// a dump of 10,000 rules slow (57 ms in pages, 32 ms in 64 KiB reads).
const dumpBuffer = 64 << 10

// dump sends a dump request and reads its replies in large buffers.
func (t *Table) dump(req netlink.Message) ([]netlink.Message, error) {
	sent, err := t.nl.Send(req)
	if err != nil {
		return nil, err
	}
	raw, err := t.nl.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, dumpBuffer)
	var out []netlink.Message
	for {
		var n int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		})
		if err = errors.Join(err, rerr); err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != sent.Header.Sequence {
				continue // a late answer to an earlier request
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno < 0 {
						return nil, syscall.Errno(-errno)
					}
				}
				if m.Header.Type == unix.NLMSG_DONE {
					return out, nil
				}
				continue
			}
			out = append(out, netlink.Message{
				Header: netlink.Header{Length: m.Header.Len, Type: netlink.HeaderType(m.Header.Type),
					Flags: netlink.HeaderFlags(m.Header.Flags), Sequence: m.Header.Seq, PID: m.Header.Pid},
				Data: slices.Clone(m.Data),
			})
		}
	}
}

// dumpSets lists the table's sets and maps. (The library's GetSets
// overwrites a map's key type with its data type.)
func (t *Table) dumpSets() ([]*nftables.Set, error) {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_TABLE, Data: []byte(t.table.Name + "\x00")},
	})
	if err != nil {
		return nil, err
	}
	msg := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSET), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{unix.NFPROTO_IPV4, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	replies, err := t.dump(msg)
	if err != nil {
		return nil, fmt.Errorf("list maps in %s: %w", t.netns, err)
	}
	var out []*nftables.Set
	for _, m := range replies {
		s, err := decodeSet(m.Data)
		if err != nil {
			return nil, fmt.Errorf("read a map in %s: %w", t.netns, err)
		}
		s.Table = t.table
		out = append(out, s)
	}
	return out, nil
}

// decodeSet reads what setDef compares of one NFT_MSG_NEWSET message.
func decodeSet(data []byte) (*nftables.Set, error) {
	if len(data) < 4 {
		return nil, errors.New("short message")
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	s := &nftables.Set{}
	var keyType, keyLen uint32
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_NAME:
			s.Name = ad.String()
		case unix.NFTA_SET_FLAGS:
			flags := ad.Uint32()
			s.Anonymous = flags&unix.NFT_SET_ANONYMOUS != 0
			s.IsMap = flags&unix.NFT_SET_MAP != 0
			s.HasTimeout = flags&unix.NFT_SET_TIMEOUT != 0
			s.Dynamic = flags&unix.NFT_SET_EVAL != 0
			s.Interval = flags&unix.NFT_SET_INTERVAL != 0
		case unix.NFTA_SET_KEY_TYPE:
			keyType = ad.Uint32()
		case unix.NFTA_SET_KEY_LEN:
			keyLen = ad.Uint32()
		case unix.NFTA_SET_TIMEOUT:
			s.Timeout = time.Duration(ad.Uint64()) * time.Millisecond
		}
	}
	s.KeyType = nftables.SetDatatype{Name: fmt.Sprintf("%#x", keyType), Bytes: keyLen}
	return s, ad.Err()
}

// decodeRule reads one NFT_MSG_NEWRULE message of a dump.
func decodeRule(data []byte) (string, kernelRule, error) {
	var chain string
	var r kernelRule
	if len(data) < 4 {
		return "", r, errors.New("short message")
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return "", r, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_CHAIN:
			chain = ad.String()
		case unix.NFTA_RULE_HANDLE:
			r.handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			r.comment, _ = userdata.GetString(ad.Bytes(), userdata.TypeComment)
		case unix.NFTA_RULE_EXPRESSIONS:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					e, err := decodeExpr(nad.Bytes())
					if err != nil {
						return err
					}
					r.exprs = append(r.exprs, e)
				}
				return nil
			})
		}
	}
	return chain, r, ad.Err()
}

// decodeExpr reads one expression (NFTA_LIST_ELEM) with the library's
// decoders; one it does not know stays opaque, and so never equals a rule
// kinn wrote.
func decodeExpr(b []byte) (expr.Any, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	var name string
	var data []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_EXPR_NAME:
			name = ad.String()
		case unix.NFTA_EXPR_DATA:
			data = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return nil, err
	}
	e := newExpr(name)
	if e == nil {
		return &opaque{name: name, data: data}, nil
	}
	if err := expr.Unmarshal(unix.NFPROTO_IPV4, data, e); err != nil {
		return nil, fmt.Errorf("expression %s: %w", name, err)
	}
	if ct, ok := e.(*expr.Ct); ok {
		ctSource(ct, data)
	}
	// A verdict is an immediate into the verdict register, as the
	// library reads it.
	if imm, ok := e.(*expr.Immediate); ok && imm.Register == unix.NFT_REG_VERDICT && len(imm.Data) == 0 {
		v := &expr.Verdict{}
		if err := expr.Unmarshal(unix.NFPROTO_IPV4, data, v); err != nil {
			return nil, fmt.Errorf("verdict: %w", err)
		}
		return v, nil
	}
	return e, nil
}

// newExpr returns an empty expression of the kinds kinn writes.
func newExpr(name string) expr.Any {
	switch name {
	case "counter":
		return &expr.Counter{}
	case "cmp":
		return &expr.Cmp{}
	case "payload":
		return &expr.Payload{}
	case "meta":
		return &expr.Meta{}
	case "bitwise":
		return &expr.Bitwise{}
	case "ct":
		return &expr.Ct{}
	case "immediate":
		return &expr.Immediate{}
	case "nat":
		return &expr.NAT{}
	case "lookup":
		return &expr.Lookup{}
	case "dynset":
		return &expr.Dynset{}
	case "masq":
		return &expr.Masq{}
	case "reject":
		return &expr.Reject{}
	case "numgen":
		return &expr.Numgen{}
	case "fib":
		return &expr.Fib{}
	case "log":
		return &expr.Log{}
	case "range":
		return &expr.Range{}
	}
	return nil
}

// opaque is an expression kinn never writes, kept by name and bytes.
type opaque struct {
	expr.Any // never called: compare renders an opaque itself
	name     string
	data     []byte
}

var hookNames = map[nftables.ChainHook]string{
	*nftables.ChainHookPrerouting: "prerouting", *nftables.ChainHookInput: "input",
	*nftables.ChainHookForward: "forward", *nftables.ChainHookOutput: "output",
	*nftables.ChainHookPostrouting: "postrouting",
}

// chainDef renders a chain's hook the way hookDef renders a wanted one.
func chainDef(c *nftables.Chain) string {
	if c.Hooknum == nil {
		return ""
	}
	var prio int32
	if c.Priority != nil {
		prio = int32(*c.Priority)
	}
	policy := "accept"
	if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
		policy = "drop"
	}
	hook, ok := hookNames[*c.Hooknum]
	if !ok {
		hook = fmt.Sprint(*c.Hooknum)
	}
	return fmt.Sprintf("type %s hook %s priority %d policy %s", c.Type, hook, prio, policy)
}

func hookDef(h *proxy.Hook) string {
	if h == nil {
		return ""
	}
	return fmt.Sprintf("type %s hook %s priority %d policy accept", h.Type, h.Hook, h.Priority)
}

// setDef renders what makes two sets interchangeable by element changes:
// key length, map or set, dynamic, timeout. (The key type's number is the
// library's to compute for the wanted set, and not worth a reload.)
func setDef(s *nftables.Set) string {
	var timeout time.Duration
	if s.HasTimeout {
		timeout = s.Timeout
	}
	def := fmt.Sprintf("key length %d map %v dynamic %v timeout %v", s.KeyType.Bytes, s.IsMap, s.Dynamic, timeout)
	if s.Interval {
		def += " interval"
	}
	return def
}
