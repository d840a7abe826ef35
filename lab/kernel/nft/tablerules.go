package nft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/trace"
)

// RuleSeen is one rule of a namespace's ruleset, where the kernel lists it.
type RuleSeen struct {
	trace.TableRuleKey
	trace.TableRule // Text and NAT only for the tables asked for
}

// Rules lists the rules of the named namespace in one dump, in each
// chain's order: every table's of every family when table is "", else that
// IPv4 table's. text says of which tables the rules' text is rendered (the
// rest are read for their place and handle only).
func Rules(netnsName, table string, text func(table string) bool) ([]RuleSeen, error) {
	t, err := Open(netnsName)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	family := byte(unix.NFPROTO_UNSPEC)
	var attrs []byte
	if table != "" {
		family = unix.NFPROTO_IPV4
		if attrs, err = netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: []byte(table + "\x00")}}); err != nil {
			return nil, err
		}
	}
	replies, err := t.dump(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{family, unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, nil // no such table
	}
	if err != nil {
		return nil, fmt.Errorf("list rules in %s: %w", netnsName, err)
	}
	out := make([]RuleSeen, 0, len(replies))
	for _, m := range replies {
		r, err := decodeSeen(m.Data, text)
		if err != nil {
			return nil, fmt.Errorf("read a rule in %s: %w", netnsName, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// RuleHandles lists, per chain of kinn's IPv4 table, the kernel's rule
// handles in the chain's order, so that a traced handle can be mapped back
// to the rule kinn built at that position. One dump for the whole table.
func RuleHandles(netnsName, table string) (map[string][]uint64, error) {
	rules, err := Rules(netnsName, table, func(string) bool { return false })
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", table, err)
	}
	out := map[string][]uint64{}
	for _, r := range rules {
		out[r.Chain] = append(out[r.Chain], r.Handle)
	}
	return out, nil
}

var families = map[byte]string{unix.NFPROTO_INET: "inet", unix.NFPROTO_IPV4: "ip", unix.NFPROTO_ARP: "arp",
	unix.NFPROTO_NETDEV: "netdev", unix.NFPROTO_BRIDGE: "bridge", unix.NFPROTO_IPV6: "ip6"}

// decodeSeen reads one NFT_MSG_NEWRULE message; its expressions only when
// text wants its table.
func decodeSeen(data []byte, text func(string) bool) (RuleSeen, error) {
	var r RuleSeen
	if len(data) < 4 {
		return r, errors.New("short message")
	}
	r.Family = families[data[0]]
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return r, err
	}
	ad.ByteOrder = binary.BigEndian
	var exprs []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_TABLE:
			r.Table = ad.String()
		case unix.NFTA_RULE_CHAIN:
			r.Chain = ad.String()
		case unix.NFTA_RULE_HANDLE:
			r.Handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			r.Comment, _ = userdata.GetString(ad.Bytes(), userdata.TypeComment)
		case unix.NFTA_RULE_EXPRESSIONS:
			exprs = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil || exprs == nil || !text(r.Table) {
		return r, err
	}
	_, kr, err := decodeRule(data)
	if err != nil {
		return r, err
	}
	r.Text, r.NAT = ruleText(kr.exprs)
	if r.Comment != "" {
		r.Text += fmt.Sprintf(" comment %q", r.Comment)
	}
	return r, nil
}
