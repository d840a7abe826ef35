package lab

import (
	"fmt"
	"strings"
)

// hostPortDst adds to d the pods of node whose containers ask for
// d.addr's port as a hostPort (the portMappings capability a chain's
// portmap serves): the probe may end in them. A NodePort, when the same
// port is one, keeps its name.
func (s *State) hostPortDst(d *traceDst, node, proto string) {
	for _, p := range s.Plan.Pods {
		if p.Node != node {
			continue
		}
		for _, hp := range p.Ports {
			if hp.HostPort != int(d.addr.Port()) || !strings.EqualFold(hp.Protocol, proto) {
				continue
			}
			d.netns = append(d.netns, p.Netns)
			if d.service == nil {
				d.what = fmt.Sprintf("hostPort %d/%s of pod %s/%s on node %s %s", hp.HostPort, strings.ToUpper(proto), p.Namespace, p.Name, node, d.addr.Addr())
			}
		}
	}
}
