package topology

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	defaultName       = "kinn"
	labelHostname     = "kubernetes.io/hostname"
	labelControlPlane = "node-role.kubernetes.io/control-plane"
	controlPlaneTaint = labelControlPlane // kubeadm taints control planes with the same key
)

// resolveCluster applies the cluster document's defaults and checks it. d
// and c are nil when the file has no cluster document: all defaults.
func resolveCluster(d *doc, c *clusterFile, r *report, lab *Lab) {
	if c == nil {
		c = &clusterFile{}
	}
	lab.Name = c.Name
	if lab.Name == "" {
		lab.Name = defaultName
	}
	if err := CheckLabName(lab.Name); err != nil {
		r.errorf(d.at("name"), "%v", err)
	}
	lab.Nodes = resolveNodes(d, c, r, lab.Name)
	lab.Networking = resolveNetworking(d, &c.Networking, r)
	lab.CNI = resolveCNI(d, c, r)
	checkCapacity(d, r, &lab.Networking, len(lab.Nodes))
	lab.LoadBalancer = resolveLoadBalancer(d, c.LoadBalancer, r, &lab.Networking, len(lab.Nodes))
}

// resolveNodes names the nodes the way kind does: <name>-control-plane,
// <name>-control-plane2, ..., then <name>-worker, <name>-worker2, ...
func resolveNodes(d *doc, c *clusterFile, r *report, name string) []Node {
	specs := c.Nodes
	if len(specs) == 0 {
		specs = []nodeFile{{Role: string(RoleControlPlane)}}
	}
	if len(specs) > MaxNodes {
		// Node names would outgrow what CheckLabName allowed for.
		r.errorf(d.keyAt("nodes"), "nodes: %d nodes; a lab has at most %d", len(specs), MaxNodes)
		specs = specs[:MaxNodes]
	}
	var cps, workers []Node
	for i, spec := range specs {
		role := Role(spec.Role)
		if role == "" {
			role = RoleControlPlane // kind's default
		}
		labels := nodeLabels(d, r, i, spec.Labels)
		switch role {
		case RoleControlPlane:
			labels[labelControlPlane] = ""
			cps = append(cps, Node{Name: nodeName(name, "control-plane", len(cps)), Role: role, Labels: labels})
		case RoleWorker:
			workers = append(workers, Node{Name: nodeName(name, "worker", len(workers)), Role: role, Labels: labels})
		default:
			r.errorf(d.at("nodes", i, "role"), "nodes[%d].role %q must be %q or %q", i, spec.Role, RoleControlPlane, RoleWorker)
		}
	}
	if len(cps) == 0 {
		r.errorf(d.keyAt("nodes"), "nodes: at least one control-plane node is required")
	}
	nodes := append(cps, workers...)
	for _, n := range nodes {
		n.Labels[labelHostname] = n.Name
	}
	return nodes
}

func nodeName(cluster, role string, index int) string {
	if index == 0 {
		return cluster + "-" + role
	}
	return fmt.Sprintf("%s-%s%d", cluster, role, index+1)
}

// nodeLabels copies and checks the labels the file gives node i.
func nodeLabels(d *doc, r *report, i int, in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+2)
	for k, v := range in {
		checkLabel(r, d.keyAt("nodes", i, "labels", k), k, v)
		out[k] = v
	}
	return out
}

func checkLabel(r *report, pos Pos, k, v string) {
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		r.errorf(pos, "label key %q is invalid: %s", k, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		r.errorf(pos, "label %s=%q has an invalid value: %s", k, v, strings.Join(errs, "; "))
	}
}
