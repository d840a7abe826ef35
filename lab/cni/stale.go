package cni

import (
	"bytes"
	"fmt"

	"kinn.dev/kinn/lab/plan"
)

// Stale lists the pods of node n that were attached with another network
// configuration than the one the chain renders for n now: an edited `cni`
// block (or .conflist) changes nothing for running pods, as a changed
// /etc/cni/net.d changes nothing for a running sandbox, until they are
// attached again. libcni's cache holds the configuration each ADD used.
func (r *Runtime) Stale(n plan.Node, pods []plan.Pod) ([]plan.Pod, error) {
	c, list, err := r.config(n)
	if err != nil {
		return nil, err
	}
	atts, err := c.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("node %s: CNI cache: %w", n.Name, err)
	}
	used := map[string][]byte{}
	for _, a := range atts {
		if a.IfName == plan.PodIface {
			used[a.ContainerID] = a.Config
		}
	}
	var out []plan.Pod
	for _, p := range pods {
		if conf, ok := used[p.ContainerID]; ok && !bytes.Equal(conf, list.Bytes) {
			out = append(out, p)
		}
	}
	return out, nil
}
