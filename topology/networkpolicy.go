package topology

import (
	networkingv1 "k8s.io/api/networking/v1"

	"kinn.dev/kinn/lab/netpol"
)

// checkNetworkPolicy applies the API server's defaults to np and reports
// what it would refuse, each problem at the field lab/netpol names (the
// metadata checks are checkMeta's).
func checkNetworkPolicy(d *doc, r *report, np *networkingv1.NetworkPolicy) {
	netpol.Default(np)
	for _, e := range netpol.Validate(np) {
		if len(e.Path) > 0 && e.Path[0] == "metadata" {
			continue
		}
		r.errorf(d.at(e.Path...), "%s", e.Msg)
	}
}
