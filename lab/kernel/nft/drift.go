package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// Drift detection. Someone may change a node's table behind kinn's back
// (`nft delete rule ip kinn ep-... handle 7`). Reading the whole table back
// every second would cost milliseconds per node with a thousand Services, so
// the table remembers the namespace's ruleset generation (NFT_MSG_GETGEN,
// moved by one on every commit by anyone) as of its last verified state:
// after its own commit when the generation moved by exactly one (nobody
// slipped in), and after a comparison that found the table as wanted. A
// check with an unchanged generation is one netlink round trip. When the
// generation moved, the namespace's notifications say whether the commits
// touched the kinn table (changes.go); if they did, or cannot tell, the
// table's fingerprint (fingerprint.go) says whether it is as verified; only
// a table that changed is read back (one dump of every rule, the maps'
// elements) and compared with the ruleset of the last Sync, rule by rule as
// netlink expressions.

// Repair compares the table with the ruleset the last Sync wrote and puts
// back what differs: drifted chains rewritten, elements re-added or
// deleted, or the whole table reloaded (full) when that is the only way.
// It first asks the ruleset generation and does nothing more when nobody
// committed since the table was last known to be right. It returns what it
// found (and repaired); with no Sync yet there is nothing to compare with.
func (t *Table) Repair() (d proxy.Drift, full bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return d, false, err
	}
	if t.synced == nil {
		return d, false, nil
	}
	g, err := t.gen()
	if err != nil {
		return d, false, err
	}
	if g == t.verified {
		return d, false, nil
	}
	if !t.changes.usable() {
		t.changes.close()
		t.changes, _ = openChanges(t.ns, t.table.Name, g) // without it, the table is read back
	}
	if t.changes.untouched(t.verified, g) {
		t.verified = g // only other tables' commits since
		return d, false, nil
	}
	if t.unchanged(g) {
		t.changes.clear(g)
		return d, false, nil
	}
	want := t.synced.want()
	have, err := t.observe()
	if err != nil {
		return d, false, err
	}
	if now, err := t.gen(); err != nil || now != g {
		return d, false, err // changed while read: compare next time
	}
	if d, err = compare(want, have); err != nil {
		return d, false, err
	}
	if d.Empty() {
		t.verified = g
		t.sum = t.sumAt(g)
		t.changes.clear(g)
		return d, false, nil
	}
	ops, reload := d.Repair(want)
	if !reload && t.commit(false, g, func() error { return t.flush(ops) }) == nil {
		return d, false, nil
	}
	// A reload, needed or because the kernel refused the repair (then
	// nothing of it was applied).
	if err := t.load(want); err != nil {
		return d, true, fmt.Errorf("repair table %s in %s: %w", t.table.Name, t.netns, err)
	}
	return d, true, nil
}

// Seen is what Inspect reads of the table besides its drift.
type Seen struct {
	// Counters: a chain's name maps to the counter first in its first
	// rule, "chain/comment" to a further commented rule's.
	Counters map[string]Counter
	// Elements is the number of elements of each set and map the kernel
	// has, dynamic sets (their elements the kernel's) aside.
	Elements map[string]int
	// Handles are each chain's rule handles in the chain's order, from the
	// same read as the comparison (kinn trace maps them to kinn's rules).
	Handles map[string][]uint64
}

// Inspect reads the table back once for `kinn rules` and the Rules screen:
// its counters and element counts, and how it differs from want.
func (t *Table) Inspect(want *proxy.Ruleset) (Seen, proxy.Drift, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	have, err := t.observe()
	if err != nil {
		return Seen{}, proxy.Drift{}, err
	}
	d, err := compare(want, have)
	return Seen{Counters: have.counters(), Elements: have.elements(), Handles: have.handles()}, d, err
}

// handles lists each chain's rule handles in order.
func (kt *kernelTable) handles() map[string][]uint64 {
	out := map[string][]uint64{}
	for name, c := range kt.chains {
		for _, r := range c.rules {
			out[name] = append(out[name], r.handle)
		}
	}
	return out
}

// commit runs one transaction and keeps track of the ruleset generation:
// the table is known-good after it if it was known-good at generation
// base (t.verified for an increment, the generation a comparison read for
// a repair) or the transaction replaced it in full, and if nobody
// committed but this transaction since.
func (t *Table) commit(full bool, base uint32, send func() error) error {
	g0, err := t.gen()
	if err != nil {
		return err
	}
	t.verified, t.sum = 0, nil
	if err := send(); err != nil {
		return err
	}
	g1, err := t.gen()
	if err == nil && (full || base == g0) && g1 == nextGen(g0) {
		t.verified = g1
		t.changes.clear(g1)
	}
	return nil
}

// nextGen is the generation after g: the kernel skips 0.
func nextGen(g uint32) uint32 {
	if g+1 == 0 {
		return 1
	}
	return g + 1
}

// compare lists how the kernel's table differs from want. It is pure:
// rules are compared as the netlink expressions encode would write,
// counters' values and the order of unrelated chains aside.
func compare(want *proxy.Ruleset, have *kernelTable) (proxy.Drift, error) {
	var d proxy.Drift
	if !have.exists {
		d.NoTable = true
		return d, nil
	}
	// Every wanted rule's key first: a kernel rule kinn did not write
	// there may be one it wrote elsewhere, and is then described as such.
	keys := make(map[string][]string, len(want.Chains))
	described := map[string]proxy.Rule{}
	for _, c := range want.Chains {
		for _, r := range c.Rules {
			k, err := wantKey(c.Name, r)
			if err != nil {
				return d, err
			}
			keys[c.Name] = append(keys[c.Name], k)
			described[k] = r
		}
	}
	wanted := map[string]bool{}
	for _, c := range want.Chains {
		wanted[c.Name] = true
		cd := compareChain(c, keys[c.Name], have.chains[c.Name], described)
		if cd != nil {
			d.Chains = append(d.Chains, *cd)
		}
	}
	for _, name := range have.order {
		if !wanted[name] {
			kc := have.chains[name]
			cd := proxy.ChainDrift{Name: name, State: proxy.Extra, Have: len(kc.rules)}
			for _, r := range kc.rules {
				cd.Extra = append(cd.Extra, describe(r, ruleKey(r), described))
			}
			d.Chains = append(d.Chains, cd)
		}
	}
	wantedMaps := map[string]bool{}
	for _, m := range want.Maps {
		wantedMaps[m.Name] = true
		if md := compareMap(m, have.maps[m.Name]); md != nil {
			d.Maps = append(d.Maps, *md)
		}
	}
	for name := range have.maps {
		if !wantedMaps[name] {
			d.Maps = append(d.Maps, proxy.MapDrift{Name: name, State: proxy.Extra, Key: proxy.KeyAddr})
		}
	}
	d.Sort()
	return d, nil
}

// compareChain matches the chain's wanted rules with the kernel's, each
// to the first equal one not matched yet: what is left over on either side
// is missing or extra, and matches out of order mean the rules were
// reordered.
func compareChain(c *proxy.Chain, keys []string, kc *kernelChain, described map[string]proxy.Rule) *proxy.ChainDrift {
	cd := &proxy.ChainDrift{Name: c.Name, State: proxy.Changed, Want: len(c.Rules)}
	if kc == nil {
		cd.State, cd.Missing = proxy.Missing, c.Rules
		return cd
	}
	cd.Have = len(kc.rules)
	if want := hookDef(c.Hook); kc.hook != want {
		cd.Redefined = fmt.Sprintf("%q, want %q", kc.hook, want)
	}
	haveKeys := make([]string, len(kc.rules))
	for i, kr := range kc.rules {
		haveKeys[i] = ruleKey(kr)
	}
	used := make([]bool, len(kc.rules))
	last := -1
	for i, r := range c.Rules {
		k := keys[i]
		j := -1
		for n, hk := range haveKeys {
			if !used[n] && hk == k {
				j = n
				break
			}
		}
		if j < 0 {
			cd.Missing = append(cd.Missing, r)
			continue
		}
		used[j] = true
		if j < last {
			cd.Reordered = true
		}
		last = j
	}
	for n, kr := range kc.rules {
		if !used[n] {
			cd.Extra = append(cd.Extra, describe(kr, haveKeys[n], described))
		}
	}
	if len(cd.Missing) == 0 && len(cd.Extra) == 0 && !cd.Reordered && cd.Redefined == "" {
		return nil
	}
	return cd
}

func compareMap(m *proxy.Map, km *kernelMap) *proxy.MapDrift {
	md := &proxy.MapDrift{Name: m.Name, Key: m.Key, State: proxy.Changed, Want: len(m.Elems)}
	if km == nil {
		md.State, md.Missing = proxy.Missing, m.Elems
		return md
	}
	if want := setDef(set(&nftables.Table{}, m)); km.def != want {
		md.Redefined = fmt.Sprintf("%s, want %s", km.def, want)
		return md
	}
	if m.IsDynamic() {
		return nil // its elements are the kernel's
	}
	// A set's elements have no verdict: the key alone identifies them.
	id := func(k, v []byte) string { return fmt.Sprintf("%x", k) }
	if !m.IsSet() {
		id = elemKey
	}
	have := map[string]bool{}
	// An interval's last key is part of its identity (nil elsewhere).
	for _, e := range km.elems {
		have[id(append(e.Key, e.KeyEnd...), e.Val)] = true
	}
	wanted := map[string]bool{}
	for _, e := range m.Elems {
		k := id(append(key(m.Key, e.Key), keyEnd(m.Key, e.Key)...), verdictBytes(e.Verdict))
		wanted[k] = true
		if !have[k] {
			md.Missing = append(md.Missing, e)
		}
	}
	for _, e := range km.elems {
		if wanted[id(append(e.Key, e.KeyEnd...), e.Val)] {
			continue
		}
		el, err := decodeElem(m.Key, e)
		if err != nil {
			md.Redefined = err.Error()
			continue
		}
		md.Extra = append(md.Extra, el)
	}
	if len(md.Missing) == 0 && len(md.Extra) == 0 && md.Redefined == "" {
		return nil
	}
	return md
}

// wantKey is the comparison key of a wanted rule: its comment and its
// expressions as the library marshals them.
func wantKey(chain string, r proxy.Rule) (string, error) {
	var exprs []expr.Any
	for _, e := range r.Exprs {
		es, err := encode(e)
		if err != nil {
			return "", fmt.Errorf("chain %s: %w", chain, err)
		}
		exprs = append(exprs, es...)
	}
	return exprsKey(r.Comment, exprs), nil
}

// ruleKey is the comparison key of a kernel rule, its counters' values
// left out.
func ruleKey(r kernelRule) string { return exprsKey(r.comment, r.exprs) }

func exprsKey(comment string, exprs []expr.Any) string {
	var sb strings.Builder
	sb.WriteString(comment)
	for _, e := range exprs {
		sb.WriteByte(0)
		if o, ok := e.(*opaque); ok {
			fmt.Fprintf(&sb, "opaque %s %x", o.name, o.data)
			continue
		}
		b, err := expr.Marshal(unix.NFPROTO_IPV4, normalize(e))
		if err != nil {
			fmt.Fprintf(&sb, "unmarshallable %T", e)
		}
		sb.Write(b)
	}
	return sb.String()
}

// normalize removes from an expression what the kernel adds or changes
// in a rule as it reads it back: counters' values (traffic, not
// configuration), and NAT's maximum registers, which default to the
// minimum ones.
func normalize(e expr.Any) expr.Any {
	switch e := e.(type) {
	case *expr.Counter:
		return &expr.Counter{}
	case *expr.NAT:
		n := *e
		if n.RegAddrMax == n.RegAddrMin {
			n.RegAddrMax = 0
		}
		if n.RegProtoMax == n.RegProtoMin {
			n.RegProtoMax = 0
		}
		return &n
	}
	return e
}

// describe renders a kernel rule kinn did not write there: as the rule it
// equals elsewhere in the ruleset if any (moved or duplicated), else by
// its handle and its expressions' kinds.
func describe(r kernelRule, key string, described map[string]proxy.Rule) string {
	if wr, ok := described[key]; ok {
		return fmt.Sprintf("%s (handle %d)", wr, r.handle)
	}
	var parts []string
	for _, e := range r.exprs {
		parts = append(parts, exprKind(e))
	}
	if r.comment != "" {
		parts = append(parts, fmt.Sprintf("comment %q", r.comment))
	}
	return fmt.Sprintf("handle %d: %s", r.handle, strings.Join(parts, " "))
}

func exprKind(e expr.Any) string {
	switch e := e.(type) {
	case *opaque:
		return e.name
	case *expr.Verdict:
		v := map[expr.VerdictKind]string{expr.VerdictAccept: "accept", expr.VerdictDrop: "drop", expr.VerdictReturn: "return",
			expr.VerdictJump: "jump", expr.VerdictGoto: "goto"}[e.Kind]
		return strings.TrimSpace(v + " " + e.Chain)
	case *expr.NAT:
		return "nat"
	case *expr.Lookup:
		return "lookup @" + e.SetName
	}
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr."))
}

// verdictBytes is a verdict as the kernel returns it in a map element:
// the nested code and chain attributes.
func verdictBytes(v proxy.Verdict) []byte {
	ve := verdict(v)
	attrs := []netlink.Attribute{{Type: unix.NFTA_VERDICT_CODE, Data: binary.BigEndian.AppendUint32(nil, uint32(ve.Kind))}}
	if ve.Chain != "" {
		attrs = append(attrs, netlink.Attribute{Type: unix.NFTA_VERDICT_CHAIN, Data: []byte(ve.Chain + "\x00")})
	}
	b, _ := netlink.MarshalAttributes(attrs)
	return b
}

// parseVerdict reads verdictBytes back.
func parseVerdict(b []byte) (proxy.Verdict, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return proxy.Verdict{}, err
	}
	ad.ByteOrder = binary.BigEndian
	var code int32
	var chain string
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code = int32(ad.Uint32())
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	if err := ad.Err(); err != nil {
		return proxy.Verdict{}, err
	}
	switch expr.VerdictKind(code) {
	case expr.VerdictAccept:
		return proxy.Verdict{Kind: proxy.Accept}, nil
	case expr.VerdictDrop:
		return proxy.Verdict{Kind: proxy.Drop}, nil
	case expr.VerdictReturn:
		return proxy.Verdict{Kind: proxy.Return}, nil
	case expr.VerdictJump:
		return proxy.Verdict{Kind: proxy.Jump, Chain: chain}, nil
	case expr.VerdictGoto:
		return proxy.Verdict{Kind: proxy.Goto, Chain: chain}, nil
	}
	return proxy.Verdict{}, fmt.Errorf("verdict code %d", code)
}

// elemKey identifies an element by its key and verdict as the kernel
// returns them; verdicts compare by meaning, attributes' order aside.
func elemKey(k, v []byte) string {
	pv, err := parseVerdict(v)
	if err != nil {
		return fmt.Sprintf("%x -> %x", k, v)
	}
	return fmt.Sprintf("%x -> %s", k, pv)
}

// decodeElem reads a kernel element of a map of the given kind, the
// inverse of key and verdictBytes.
func decodeElem(kind proxy.KeyKind, e nftables.SetElement) (proxy.Elem, error) {
	var v proxy.Verdict
	var err error
	if !(&proxy.Map{Key: kind}).IsSet() { // a set's elements have no verdict
		if v, err = parseVerdict(e.Val); err != nil {
			return proxy.Elem{}, fmt.Errorf("element %x: %w", e.Key, err)
		}
	}
	var k proxy.Key
	b := e.Key
	protoPort := func(b []byte) error {
		if len(b) < 8 || !bytes.Equal(b[1:4], []byte{0, 0, 0}) {
			return fmt.Errorf("element %x: not protocol . port", e.Key)
		}
		p, ok := protocols[b[0]]
		if !ok {
			return fmt.Errorf("element %x: protocol %d", e.Key, b[0])
		}
		k.Proto, k.Port = p, binary.BigEndian.Uint16(b[4:6])
		return nil
	}
	switch kind {
	case proxy.KeyServiceIP:
		if len(b) != 12 {
			return proxy.Elem{}, fmt.Errorf("element %x: not address . protocol . port", e.Key)
		}
		k.Addr = netip.AddrFrom4([4]byte(b[:4]))
		err = protoPort(b[4:])
	case proxy.KeyNodePort:
		err = protoPort(b)
	case proxy.KeyIndex:
		if len(b) != 4 {
			return proxy.Elem{}, fmt.Errorf("element %x: not an index", e.Key)
		}
		k.Index = binary.NativeEndian.Uint32(b)
	case proxy.KeyAddrGroup, proxy.KeyRangeGroup, proxy.KeyNamedPort:
		return decodeGroupElem(kind, e)
	default:
		if len(b) != 4 {
			return proxy.Elem{}, fmt.Errorf("element %x: not an address", e.Key)
		}
		k.Addr = netip.AddrFrom4([4]byte(b))
	}
	return proxy.Elem{Key: k, Verdict: v}, err
}

var protocols = map[byte]service.Protocol{6: service.TCP, 17: service.UDP, 132: service.SCTP}
