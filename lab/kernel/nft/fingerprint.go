package nft

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A fingerprint of the kinn table: the ruleset generation moves on every
// commit in the namespace, also on other tables' (a kinn trace adds and
// removes one in every node it watches; a CNI plugin's portmap writes its
// own). Comparing the whole table with the wanted ruleset after each such
// move costs tens of milliseconds per node with a thousand rules, held
// under the lab process's lock. So Repair keeps a hash of the table's
// kernel messages as of the generation it last verified (chains, rules
// without their counters' values, sets, the elements of the sets kinn
// fills), and when the generation moved but the hash did not, the table
// is as it was: verified again by the dumps alone, nothing decoded or
// encoded. Any change to the table (a rule replaced in place keeps its
// handle but not its expressions) changes the hash, and then the full
// comparison runs as before.

// unchanged reports whether the table is as at the last verified
// generation, now at generation g, by its fingerprint; and if so makes g
// the verified one.
func (t *Table) unchanged(g uint32) bool {
	if t.verified == 0 || t.sum == nil {
		return false
	}
	if now := t.sumAt(g); now != nil && bytes.Equal(now, t.sum) {
		t.verified = g
		return true
	}
	return false
}

// sumAt is the table's fingerprint at generation g; nil when it cannot be
// told (the generation moved while the table was read).
func (t *Table) sumAt(g uint32) []byte {
	sum, err := t.fingerprint()
	if now, gerr := t.gen(); err != nil || gerr != nil || now != g {
		return nil
	}
	return sum
}

// fingerprint hashes the table as the kernel lists it now.
func (t *Table) fingerprint() ([]byte, error) {
	h := sha256.New()
	hashAll := func(msgType int, attrs []netlink.Attribute, each func(data []byte)) error {
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			return err
		}
		replies, err := t.dump(netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msgType), Flags: netlink.Request | netlink.Dump},
			Data:   append([]byte{unix.NFPROTO_IPV4, unix.NFNETLINK_V0, 0, 0}, b...),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%d:%d;", msgType, len(replies))
		for _, m := range replies {
			if len(m.Data) > 4 { // after the header, whose res_id is the generation
				each(m.Data[4:])
			}
		}
		return nil
	}
	table := []netlink.Attribute{{Type: unix.NFTA_TABLE_NAME, Data: []byte(t.table.Name + "\x00")}}
	raw := func(data []byte) { h.Write(data) }
	if err := hashAll(unix.NFT_MSG_GETCHAIN, table, func(data []byte) { h.Write(without(data, unix.NFTA_CHAIN_COUNTERS)) }); err != nil {
		return nil, err
	}
	if err := hashAll(unix.NFT_MSG_GETRULE, table, func(data []byte) { h.Write(rulesCounterless(data)) }); err != nil {
		return nil, err
	}
	var filled []string
	err := hashAll(unix.NFT_MSG_GETSET, table, func(data []byte) {
		h.Write(data)
		if name, flags := setNameFlags(data); flags&unix.NFT_SET_EVAL == 0 {
			filled = append(filled, name) // a dynamic set's elements are the kernel's
		}
	})
	if err != nil {
		return nil, err
	}
	for _, set := range filled {
		elems := []netlink.Attribute{
			{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(t.table.Name + "\x00")},
			{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(set + "\x00")},
		}
		if err := hashAll(unix.NFT_MSG_GETSETELEM, elems, raw); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// rulesCounterless is a rule's attributes with its counters' values left
// out: traffic moves them, not configuration.
func rulesCounterless(data []byte) []byte {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return data
	}
	var out []byte
	for ad.Next() {
		if ad.Type() != unix.NFTA_RULE_EXPRESSIONS {
			out = appendAttr(out, ad.Type(), ad.Bytes())
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				e := nad.Bytes()
				if name, _ := exprName(e); name == "counter" {
					e = []byte("counter")
				}
				out = appendAttr(out, 0xffff, e)
			}
			return nil
		})
	}
	return out
}

func exprName(b []byte) (string, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return "", err
	}
	for ad.Next() {
		if ad.Type() == unix.NFTA_EXPR_NAME {
			return ad.String(), nil
		}
	}
	return "", ad.Err()
}

// without is data with the attribute of type typ left out.
func without(data []byte, typ uint16) []byte {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return data
	}
	var out []byte
	for ad.Next() {
		if ad.Type() != typ {
			out = appendAttr(out, ad.Type(), ad.Bytes())
		}
	}
	return out
}

func setNameFlags(data []byte) (name string, flags uint32) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return "", 0
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_NAME:
			name = ad.String()
		case unix.NFTA_SET_FLAGS:
			flags = ad.Uint32()
		}
	}
	return name, flags
}

// appendAttr writes one attribute unambiguously: type, length, bytes.
func appendAttr(out []byte, typ uint16, b []byte) []byte {
	out = binary.BigEndian.AppendUint16(out, typ)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
	return append(out, b...)
}
