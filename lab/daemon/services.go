package daemon

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// EnvProxyRepair, set to "manual" in the environment of the `kinn up`
// that starts the lab process, keeps the lab process from repairing the
// proxy tables on its own: a change by hand stays until the next `kinn
// up`, so a learner can watch `kinn rules` show it. The default, "auto",
// repairs within a second.
const EnvProxyRepair = "KINN_PROXY_REPAIR"

// proxies is kube-proxy for every node: one nftables table per node,
// synced incrementally and kept as wanted (see repair), plus the
// health-check node ports.
type proxies struct {
	auto bool // repair drift every second, not only on reload
	nodeTables
	serving map[string][]netip.Addr
	health  map[string]*healthServer // by node namespace + port
	// nodeHealth is kube-proxy's own health, by node namespace (healthKey).
	nodeHealth map[string]*nodeHealth
	// endpoints are the ready endpoints of each service port, as last
	// logged.
	endpoints map[string]string
	// lb is the switch's table (the load balancer of ipMode Proxy
	// addresses), opened in the namespace lbID names, last loaded with the
	// ruleset lbRules.
	lb      *nft.Table
	lbID    uint64
	lbRules string
}

func newProxies(repair string) *proxies {
	if repair != "" && repair != "auto" && repair != "manual" {
		log.Printf("%s=%q: want auto or manual; repairing automatically", EnvProxyRepair, repair)
	}
	return &proxies{auto: repair != "manual", nodeTables: newNodeTables(proxy.TableName, "proxy"),
		serving: map[string][]netip.Addr{}, health: map[string]*healthServer{}, nodeHealth: map[string]*nodeHealth{}}
}

func (p *proxies) close() {
	p.closeAll()
	p.dropLB()
	for key, h := range p.health {
		h.close()
		delete(p.health, key)
	}
	for key, n := range p.nodeHealth {
		n.close()
		delete(p.nodeHealth, key)
	}
}

// syncServices recomputes endpoints from the pods' readiness and brings
// every node's proxy to them.
func (w *world) syncServices() error {
	pods := w.st.PodStates(w.readiness)
	ports := service.Ports(w.st.Services, w.st.Topology.EndpointSlices, pods)
	w.updateZone(pods)
	w.proxy.logEndpoints(ports)
	lbErr := w.syncLoadBalancers(ports)
	if w.st.Topology.Networking.KubeProxyMode == "none" {
		w.proxy.removeAll() // the proxy was switched off
		return lbErr
	}
	errs := []error{lbErr}
	for _, n := range w.st.Plan.Nodes {
		node := w.st.ProxyNode(n)
		err := w.proxy.sync(n.Netns, node, ports)
		w.proxy.synced(n.Netns, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
			continue
		}
		w.proxy.syncHealth(n.Netns, n.Underlay.Addr(), proxy.HealthChecks(node, ports))
	}
	w.proxy.forget(w.st.Plan.Nodes)
	w.proxy.flushStale(w.st.Plan.Nodes, ports)
	return errors.Join(errs...)
}

// syncLoadBalancers routes every load-balancer address from the switch to
// the nodes that may take it (service.Routes) and loads the switch's own
// load balancer for ipMode Proxy addresses, logging each change for the
// Events screen.
func (w *world) syncLoadBalancers(ports []service.Port) error {
	addr := map[string]netip.Addr{}
	var names []string
	for _, n := range w.st.Plan.Nodes {
		addr[n.Name] = n.Underlay.Addr()
		names = append(names, n.Name)
	}
	var want []kernel.LBRoute
	for _, r := range service.Routes(ports, names) {
		lr := kernel.LBRoute{Addr: r.Addr}
		for _, n := range r.Nodes {
			lr.Via = append(lr.Via, addr[n])
		}
		slices.SortFunc(lr.Via, netip.Addr.Compare)
		want = append(want, lr)
	}
	netns := w.st.Plan.Switch.Netns
	changed, err := kernel.SyncLBRoutes(netns, want)
	for _, line := range changed {
		log.Printf("load balancer %s", line)
	}
	if err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	if err := w.proxy.loadLB(netns, proxy.BuildLoadBalancer(ports, names, addr)); err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	return nil
}

// loadLB loads the switch's table when it differs from the last one
// loaded, is gone, or the namespace is new.
func (p *proxies) loadLB(netns string, rs *proxy.Ruleset) error {
	if p.lb != nil && kernel.NetnsID(netns) != p.lbID {
		p.dropLB()
	}
	text := rs.String()
	if p.lb != nil && text == p.lbRules {
		if ok, err := p.lb.Exists(); err == nil && ok {
			return nil
		}
		// Deleted by hand: load it again.
	}
	if p.lb == nil {
		t, err := nft.Open(netns)
		if err != nil {
			return err
		}
		p.lb, p.lbID = t, kernel.NetnsID(netns)
	}
	if err := p.lb.Load(rs); err != nil {
		p.dropLB()
		return err
	}
	p.lbRules = text
	return nil
}

func (p *proxies) dropLB() {
	if p.lb != nil {
		p.lb.Close()
	}
	p.lb, p.lbID, p.lbRules = nil, 0, ""
}

// logEndpoints writes one event line per service port whose usable
// endpoints changed, for the terminal UI's Events screen.
func (p *proxies) logEndpoints(ports []service.Port) {
	now := map[string]string{}
	for _, port := range ports {
		var ready []string
		for _, e := range port.Endpoints {
			if e.Ready {
				ready = append(ready, e.IP.String())
			}
		}
		slices.Sort(ready)
		now[port.Key()] = strings.Join(ready, ",")
		if was, ok := p.endpoints[port.Key()]; ok && was != now[port.Key()] {
			log.Printf("endpoints %s: %d ready (%s)", port.Key(), len(ready), now[port.Key()])
		}
	}
	p.endpoints = now
}

// removeAll deletes every table and health-check port the proxy made.
func (p *proxies) removeAll() {
	for netns, t := range p.tables {
		t.Delete()
		p.drop(netns)
	}
	p.forget(nil)
}

// forget closes what the proxy held in nodes that left the lab: its table
// connection and health-check sockets keep their namespace alive, with the
// node's veth and addresses, until they are closed.
func (p *proxies) forget(nodes []plan.Node) {
	keep := map[string]bool{}
	for _, n := range nodes {
		keep[n.Netns] = true
	}
	for netns := range p.tables {
		if !keep[netns] {
			p.drop(netns)
		}
	}
	for key, h := range p.health {
		if netns, _, _ := strings.Cut(key, "#"); !keep[netns] {
			h.close()
			delete(p.health, key)
		}
	}
	for key, n := range p.nodeHealth {
		if netns, _, _ := strings.Cut(key, "#"); !keep[netns] || key != healthKey(netns) {
			n.close()
			delete(p.nodeHealth, key)
		}
	}
}

// sync brings a node's table to ports (nft.Table.Sync: incremental, or a
// full load when needed), reopening it when the node's namespace is new.
func (p *proxies) sync(netns string, node proxy.Node, ports []service.Port) error {
	t, err := p.open(netns)
	if err != nil {
		return err
	}
	full, err := t.Sync(node, ports)
	if err != nil {
		p.drop(netns)
		return err
	}
	if full {
		log.Printf("proxy %s: loaded %s", netns, proxy.TableName)
	}
	return nil
}

// flushStale deletes UDP conntrack entries to endpoints that stopped
// serving since the last sync, in every node, as kube-proxy does after
// each sync: otherwise a client that keeps its source port stays pinned to
// a dead endpoint.
func (p *proxies) flushStale(nodes []plan.Node, ports []service.Port) {
	for _, port := range ports {
		if port.Protocol != service.UDP {
			continue
		}
		var now []netip.Addr
		for _, e := range port.Endpoints {
			if e.Serving {
				now = append(now, e.IP)
			}
		}
		var stale []netip.Addr
		for _, ip := range p.serving[port.Key()] {
			if !slices.Contains(now, ip) {
				stale = append(stale, ip)
			}
		}
		p.serving[port.Key()] = now
		if len(stale) == 0 {
			continue
		}
		for _, n := range nodes {
			if err := nft.FlushStaleUDP(n.Netns, port.ClusterIP, port.Port, stale); err != nil {
				log.Printf("%v", err)
			}
			if port.NodePort != 0 {
				nft.FlushStaleUDP(n.Netns, netip.Addr{}, port.NodePort, stale)
			}
		}
	}
}

// readiness is a pod's Ready condition and whether it is terminating; the
// endpoint computation makes a terminating pod serving but not ready.
func (w *world) readiness(key string) (bool, bool) {
	_, term := w.marks.Terminating[key]
	return w.ready(key), term
}
