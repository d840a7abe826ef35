package service

// Usable are the endpoints kube-proxy uses among eps, on node (any node
// when node is ""): the ready ones or, when there are none, the serving
// and terminating ones (KEP-1669). The proxy, the load-balancer
// controller and kinn check all ask this one function.
func Usable(eps []Endpoint, node string) []Endpoint {
	var ready, serving []Endpoint
	for _, e := range eps {
		if node != "" && e.Node != node {
			continue
		}
		if e.Ready {
			ready = append(ready, e)
		} else if e.Serving && e.Terminating {
			serving = append(serving, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return serving
}
