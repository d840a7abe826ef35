package conformance

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
	"github.com/containernetworking/cni/pkg/version"
)

// wellKnown are the error codes of SPEC.md's table, and 8 (invalid netns),
// which libcni defines too. Codes 0-99 are reserved for them: a plugin's
// own codes start at 100.
var wellKnown = []uint{1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51}

// errorProblems judges what a failing call printed: an error object
// {code, msg, details} on stdout, a code that is well known or a plugin's
// own (100 and up), and a non-zero exit status.
func errorProblems(stdout []byte, exit int) []string {
	var p problems
	if exit == 0 {
		p.addf("exit status 0 with an error")
	}
	if len(strings.TrimSpace(string(stdout))) == 0 {
		p.addf("no error object on stdout")
		return p
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(stdout, &obj); err != nil {
		p.addf("stdout is not a JSON object: %q", clip(stdout))
		return p
	}
	var code uint
	if raw, ok := obj["code"]; !ok {
		p.addf(`no "code" in %s`, clip(stdout))
	} else if err := json.Unmarshal(raw, &code); err != nil {
		p.addf(`"code" is not a non-negative number: %s`, raw)
	} else if code < 100 && !slices.Contains(wellKnown, code) {
		p.addf("code %d is reserved (0-99) but not a well-known code", code)
	}
	var msg string
	if raw, ok := obj["msg"]; !ok || json.Unmarshal(raw, &msg) != nil || msg == "" {
		p.addf(`no "msg" string in %s`, clip(stdout))
	}
	if raw, ok := obj["details"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			p.addf(`"details" is not a string: %s`, raw)
		}
	}
	return p
}

// errorCode is the code of an error object, if stdout holds one.
func errorCode(stdout []byte) (uint, bool) {
	var e types.Error
	if json.Unmarshal(stdout, &e) != nil {
		return 0, false
	}
	var obj map[string]any
	json.Unmarshal(stdout, &obj)
	_, ok := obj["code"]
	return e.Code, ok
}

// resultProblems judges an ADD result printed for version want: libcni
// must parse it at that version, it must say that version, indices must
// point into interfaces, gateways and routes must be of their address's
// family, and (for a chain's final result, sandboxed) the container's
// interface must be listed with CNI_NETNS as its sandbox.
func resultProblems(raw []byte, want, ifName, netns string, final bool) []string {
	var p problems
	var head struct {
		CNIVersion string `json:"cniVersion"`
		IPs        []struct {
			Version string `json:"version"`
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		p.addf("not JSON: %q", clip(raw))
		return p
	}
	if head.CNIVersion != want {
		p.addf("cniVersion %q, not the %q of the request", head.CNIVersion, want)
	}
	res, err := create.Create(want, raw)
	if err != nil {
		p.addf("libcni cannot parse it as a %s result: %v", want, err)
		return p
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		p.addf("libcni cannot convert it: %v", err)
		return p
	}
	modern, _ := version.GreaterThanOrEqualTo(want, "1.0.0")
	for i, ip := range r.IPs {
		if ip.Interface != nil && (*ip.Interface < 0 || *ip.Interface >= len(r.Interfaces)) {
			p.addf("ips[%d].interface %d is not an index into the %d interfaces", i, *ip.Interface, len(r.Interfaces))
		}
		if ip.Address.IP == nil {
			p.addf("ips[%d] has no address", i)
			continue
		}
		if ip.Gateway != nil && family(ip.Gateway) != family(ip.Address.IP) {
			p.addf("ips[%d]: gateway %s is not of address %s's family", i, ip.Gateway, ip.Address.String())
		}
		if !modern && i < len(head.IPs) && head.IPs[i].Version != family(ip.Address.IP) {
			p.addf("ips[%d].version %q for IPv%s address %s", i, head.IPs[i].Version, family(ip.Address.IP), ip.Address.String())
		}
	}
	for i, rt := range r.Routes {
		if rt.GW != nil && family(rt.GW) != family(rt.Dst.IP) {
			p.addf("routes[%d]: gw %s is not of dst %s's family", i, rt.GW, rt.Dst.String())
		}
	}
	for i, in := range r.Interfaces {
		if in.Name == "" {
			p.addf("interfaces[%d] has no name", i)
		}
		if in.Mac != "" {
			if _, err := net.ParseMAC(in.Mac); err != nil {
				p.addf("interfaces[%d].mac %q: %v", i, in.Mac, err)
			}
		}
	}
	if final && len(r.Interfaces) > 0 && sandboxIface(r, ifName, netns) < 0 {
		p.addf("no interface %s with sandbox %s among %s", ifName, netns, ifaceNames(r))
	}
	return p
}

func family(ip net.IP) string {
	if ip.To4() != nil {
		return "4"
	}
	return "6"
}

// sandboxIface is the index of the container's interface in a result.
func sandboxIface(r *current.Result, ifName, netns string) int {
	for i, in := range r.Interfaces {
		if in.Name == ifName && in.Sandbox == netns {
			return i
		}
	}
	return -1
}

func ifaceNames(r *current.Result) string {
	var s []string
	for _, in := range r.Interfaces {
		s = append(s, fmt.Sprintf("%s(sandbox %q)", in.Name, in.Sandbox))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// sandboxAddrs are the addresses a result puts on the container's
// interface, as the namespace should show them ("10.0.0.2/24").
func sandboxAddrs(raw []byte, want, ifName, netns string) []string {
	res, err := create.Create(want, raw)
	if err != nil {
		return nil
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil
	}
	idx := sandboxIface(r, ifName, netns)
	var out []string
	for _, ip := range r.IPs {
		if ip.Interface != nil && *ip.Interface == idx {
			out = append(out, ip.Address.String())
		}
	}
	return out
}

// chainingProblems judges one chained ADD: given prevResult, a plugin
// must output it, with its own changes: nothing of it may be lost.
func chainingProblems(prev, out []byte, want string) []string {
	var p problems
	pr, err := parseCurrent(prev, want)
	if err != nil {
		p.addf("prevResult does not parse: %v", err)
		return p
	}
	or, err := parseCurrent(out, want)
	if err != nil {
		p.addf("result does not parse: %v", err)
		return p
	}
	for _, in := range pr.Interfaces {
		if !slices.ContainsFunc(or.Interfaces, func(o *current.Interface) bool { return o.Name == in.Name && o.Sandbox == in.Sandbox }) {
			p.addf("dropped interface %s of prevResult", in.Name)
		}
	}
	for _, ip := range pr.IPs {
		if !slices.ContainsFunc(or.IPs, func(o *current.IPConfig) bool { return o.Address.String() == ip.Address.String() }) {
			p.addf("dropped address %s of prevResult", ip.Address.String())
		}
	}
	for _, rt := range pr.Routes {
		if !slices.ContainsFunc(or.Routes, func(o *types.Route) bool { return o.Dst.String() == rt.Dst.String() }) {
			p.addf("dropped route %s of prevResult", rt.Dst.String())
		}
	}
	return p
}

func parseCurrent(raw []byte, want string) (*current.Result, error) {
	res, err := create.Create(want, raw)
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(res)
}

// versionProblems judges a VERSION answer: an object with a cniVersion
// and the supported versions, among them the one asked about.
func versionProblems(stdout []byte, asked string) ([]string, []string) {
	var p problems
	var v struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(stdout, &v); err != nil {
		p.addf("not a version object: %q", clip(stdout))
		return p, nil
	}
	if v.CNIVersion == "" {
		p.addf("no cniVersion")
	}
	if len(v.SupportedVersions) == 0 {
		p.addf("no supportedVersions")
	}
	if !slices.Contains(v.SupportedVersions, asked) {
		p.addf("supportedVersions %v lack the list's cniVersion %s", v.SupportedVersions, asked)
	}
	return p, v.SupportedVersions
}

// diffLines lists the lines of after that before lacks, each once per
// extra occurrence.
func diffLines(before, after []string) []string {
	count := map[string]int{}
	for _, l := range before {
		count[l]++
	}
	var out []string
	for _, l := range after {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

// clip shortens a plugin's output for a one-line reason.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
