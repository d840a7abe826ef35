package dropwatch

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// symbols resolves kernel text addresses to function+offset from
// /proc/kallsyms, read once per process (about 0.1 s for 120,000 symbols, started in the
// background by Start).
type symbols struct {
	addrs []uint64
	names []string
}

var kernelSymbols = sync.OnceValue(func() *symbols {
	s := &symbols{}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return s
	}
	defer f.Close()
	type sym struct {
		addr uint64
		name string
	}
	var all []sym
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || (fields[1] != "t" && fields[1] != "T") {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || addr == 0 { // zeros: addresses hidden (kptr_restrict)
			continue
		}
		all = append(all, sym{addr, fields[2]})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].addr < all[j].addr })
	for _, x := range all {
		s.addrs = append(s.addrs, x.addr)
		s.names = append(s.names, x.name)
	}
	return s
})

// lookup names the function holding addr, "" when unknown.
func (s *symbols) lookup(addr uint64) string {
	i := sort.Search(len(s.addrs), func(i int) bool { return s.addrs[i] > addr }) - 1
	if i < 0 || addr == 0 {
		return ""
	}
	return fmt.Sprintf("%s+0x%x", s.names[i], addr-s.addrs[i])
}
