package nft

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Rule text for the NetworkPolicy shapes: concatenated lookup keys, log,
// port ranges, conntrack labels; and the register bookkeeping a
// concatenation needs (its fields sit in consecutive 32-bit registers).

// reg32 is the 32-bit register a register number starts at: the 16-byte
// registers 1-4 overlay the 32-bit ones from 8 on.
func reg32(r uint32) uint32 {
	if r >= unix.NFT_REG_1 && r <= unix.NFT_REG_4 {
		return unix.NFT_REG32_00 + (r-unix.NFT_REG_1)*4
	}
	return r
}

func (r *textRenderer) put(reg uint32, f field) {
	r.writes++
	r.regs[reg32(reg)] = f
	r.written[reg32(reg)] = r.writes
}

func (r *textRenderer) get(reg uint32) field { return r.regs[reg32(reg)] }

// concat renders the key a lookup reads from reg on, when further
// registers were filled after it ("ip saddr . 0x00000011"), else "".
func (r *textRenderer) concat(reg uint32) string {
	first := reg32(reg)
	parts := []string{r.regs[first].name}
	for i := first + 1; i <= unix.NFT_REG32_15; i++ {
		f, ok := r.regs[i]
		if !ok || r.written[i] <= r.written[first] {
			break
		}
		if f.name == "" && len(f.data) == 4 { // an immediate id, typed mark
			parts = append(parts, fmt.Sprintf("0x%08x", binary.NativeEndian.Uint32(f.data)))
			continue
		}
		if f.name == "" {
			f.name = value(f, field{data: f.data})
		}
		parts = append(parts, f.name)
	}
	if len(parts) == 1 {
		return ""
	}
	return strings.Join(parts, " . ")
}

func (r *textRenderer) log(e *expr.Log) {
	w := "log"
	if e.Key&(1<<unix.NFTA_LOG_PREFIX) != 0 {
		w += fmt.Sprintf(" prefix %q", e.Data)
	}
	if e.Key&(1<<unix.NFTA_LOG_GROUP) != 0 {
		w += fmt.Sprintf(" group %d", e.Group)
	}
	r.say(w)
}

// rangeEnd folds `field <= b` after `field >= a` into `field a-b`, as
// nft writes a range.
func (r *textRenderer) rangeEnd(f field, e *expr.Cmp) bool {
	n := len(r.words)
	if e.Op != expr.CmpOpLte || n == 0 || f.name == "" {
		return false
	}
	lo, ok := strings.CutPrefix(r.words[n-1], f.name+" >= ")
	if !ok {
		return false
	}
	r.words[n-1] = f.name + " " + lo + "-" + value(f, field{data: e.Data})
	return true
}

func (r *textRenderer) rangeExpr(e *expr.Range) {
	f := r.get(e.Register)
	op := ""
	if e.Op == expr.CmpOpNeq {
		op = "!= "
	}
	r.say(fmt.Sprintf("%s %s%s-%s", f.name, op, value(f, field{data: e.FromData}), value(f, field{data: e.ToData})))
}

// labelNames lists the bits set in a label bitmap, as nft does without
// a connlabel.conf naming them.
func labelNames(b []byte) string {
	var out []string
	for i, c := range b {
		for bit := range 8 {
			if c&(1<<bit) != 0 {
				out = append(out, fmt.Sprint(i*8+bit))
			}
		}
	}
	return strings.Join(out, ",")
}
